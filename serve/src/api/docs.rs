//! `GET /openapi.json` and the Swagger UI at `/docs` (vendored: works offline).

use rocket::get;
use rocket::serde::json::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{admin, predict, reports, status};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tympan", description = "Audio classification: predict, feedback, continuous training, reports."),
    paths(
        predict::predict_form, predict::feedback_form,
        status::model, status::health, status::ready, status::metrics,
        admin::retrain, admin::rollback, admin::reload,
        reports::report, reports::report_json, reports::dashboard
    ),
    components(schemas(
        crate::service::PredictResponse, crate::service::FeedbackResponse, crate::service::RetrainReport,
        crate::error::ErrorBody, crate::input::JsonClip, status::ModelInfo
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The document as JSON.
#[get("/openapi.json")]
pub fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Swagger UI routes under `/docs`.
pub fn swagger_routes() -> Vec<rocket::Route> {
    SwaggerUi::new("/docs/<_..>")
        .url("/api-docs/openapi.json", ApiDoc::openapi())
        .into()
}
