//! HTTP routes, one module per domain.

pub mod admin;
pub mod docs;
pub mod page;
pub mod predict;
pub mod reports;
pub mod status;

use std::sync::Arc;

use crate::Service;

/// The managed state type.
pub type State<'r> = &'r rocket::State<Arc<Service>>;

/// Every route of the server.
pub fn routes() -> Vec<rocket::Route> {
    let mut r = rocket::routes![
        predict::predict_form,
        predict::predict_json,
        predict::predict_raw,
        predict::feedback_form,
        predict::feedback_json,
        predict::feedback_raw,
        status::model,
        status::health,
        status::ready,
        status::metrics,
        admin::retrain,
        admin::retrain_job,
        admin::rollback,
        admin::reload,
        reports::report,
        reports::report_json,
        reports::dashboard,
        reports::live,
        page::index,
        docs::openapi_json,
    ];
    r.extend(docs::swagger_routes());
    r
}
