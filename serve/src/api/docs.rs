//! `GET /openapi.json` and the Swagger UI at `/docs` (vendored: works offline).
//!
//! The document is the API's contract, checked against the running server by schemathesis
//! (`serve/tests/contract.rs`): every accepted body form and every status a route can answer is
//! in it. Statuses shared by many routes are defined here once ([`UploadErrors`],
//! [`AdminErrors`], [`Internal`]); those of the connection guard, which any route can get, are
//! added to every operation by `GuardResponses`.

use rocket::get;
use rocket::serde::json::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{admin, predict, reports, status};
use crate::error::ErrorBody;

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

/// What the connection guard (`serve/src/guard.rs`) may answer instead of any route, when it is
/// on (the default).
const GUARD_STATUSES: [(&str, &str); 2] = [
    (
        "408",
        "`request_timeout`: the request was not received and answered within the request timeout",
    ),
    (
        "503",
        "`too_many_connections`: the server holds as many connections as it allows",
    ),
];

/// Adds [`GUARD_STATUSES`] to every operation.
struct GuardResponses;

impl Modify for GuardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, description) in GUARD_STATUSES {
                    let response = ResponseBuilder::new()
                        .description(description)
                        .content("application/json", error.clone())
                        .build();
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert(response.into());
                }
            }
        }
    }
}

/// The errors of `POST /predict` and `POST /feedback`, whatever the form of the body.
#[derive(utoipa::IntoResponses)]
pub enum UploadErrors {
    /// `bad_request`: the body could not be read.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `payload_too_large`: over the upload limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `unsupported_media_type`: a content type other than multipart/form-data,
    /// application/json, audio/* or application/octet-stream.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// `undecodable_audio`, `unsupported_audio`, `invalid_label` or `unprocessable`: audio that
    /// cannot be decoded or is too long, a bad label, a missing field, a vector of the wrong
    /// length, invalid JSON or base64.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// `internal`: the server failed (details in its log only).
    #[response(status = 500)]
    Internal(ErrorBody),
}

/// What `POST /feedback` may answer beyond [`UploadErrors`], for a `prediction_id`.
#[derive(utoipa::IntoResponses)]
pub enum FeedbackByIdErrors {
    /// `unknown_prediction`: no prediction with this id is kept (never answered, or older than
    /// the server's prediction memory).
    #[response(status = 404)]
    Unknown(ErrorBody),
    /// `feedback_exists`: that prediction has its feedback row already.
    #[response(status = 409)]
    Exists(ErrorBody),
}

/// The refusals of every `/admin` route.
#[derive(utoipa::IntoResponses)]
pub enum AdminErrors {
    /// `unauthorized`: no bearer token, or a wrong one.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `admin_disabled`: the server has no admin token (`TYMPAN_ADMIN_TOKEN`).
    #[response(status = 403)]
    Disabled(ErrorBody),
}

/// `internal`: the server failed (details in its log only).
#[derive(utoipa::IntoResponses)]
#[response(status = 500)]
pub struct Internal(pub ErrorBody);

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tympan", description = "Audio classification: predict, feedback, continuous training, reports."),
    paths(
        predict::predict_form, predict::feedback_form,
        status::model, status::health, status::ready, status::metrics,
        admin::retrain, admin::retrain_job, admin::rollback, admin::reload,
        reports::report, reports::report_json, reports::dashboard, reports::live
    ),
    components(schemas(
        crate::service::PredictResponse, crate::service::FeedbackResponse, crate::service::RetrainReport,
        crate::jobs::RetrainJob, crate::jobs::JobState, crate::jobs::JobCause, admin::Serving,
        crate::error::ErrorBody, crate::input::JsonClip, predict::PredictForm, predict::FeedbackForm,
        predict::AudioBody, status::ModelInfo, status::Health, status::Ready, crate::service::StoreState
    )),
    modifiers(&BearerAuth, &GuardResponses)
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
