//! `POST /predict` and `POST /feedback`, each accepting multipart, JSON or a raw audio body.

use std::sync::Arc;

use rocket::data::Data;
use rocket::form::{Errors, Form};
use rocket::http::ContentType;
use rocket::serde::json::Json;
use rocket::{post, tokio};

use super::State;
use crate::embed_pool;
use crate::error::ApiError;
use crate::input::{from_form, from_json, from_raw, AudioForm, Submission};
use crate::service::{FeedbackResponse, PredictResponse, ServiceError};
use crate::Service;
use tympan_data::validate_label;

async fn run_predict(
    service: State<'_>,
    sub: Submission,
) -> Result<Json<PredictResponse>, ApiError> {
    let clip = embed_pool::embed(service.inner(), sub.clip).await?;
    // What is left is the model: microseconds.
    Ok(Json(service.predict(&clip)?))
}

async fn run_feedback(
    service: State<'_>,
    sub: Submission,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let target = sub
        .target
        .clone()
        .ok_or_else(|| ApiError::unprocessable("feedback needs the true label in `target`"))?;
    // Labels first: a refused one costs no embedding.
    validate_label(&target).map_err(ServiceError::from)?;
    if let Some(p) = &sub.prediction {
        validate_label(p).map_err(ServiceError::from)?;
    }
    let clip = embed_pool::embed(service.inner(), sub.clip).await?;
    let service: Arc<Service> = Arc::clone(service.inner());
    // The append fsyncs: keep it off the async workers.
    tokio::task::spawn_blocking(move || service.feedback(&clip, &target, sub.prediction.as_deref()))
        .await
        .map_err(|e| ApiError::internal(format!("feedback task failed: {e}")))?
        .map(Json)
        .map_err(ApiError::from)
}

/// Classify a clip sent as multipart/form-data (field `file`).
#[utoipa::path(post, path = "/predict", tag = "predict",
    request_body(content = String, description = "multipart/form-data with field `file` (audio), or a raw audio/* or application/octet-stream body, or JSON {\"audio_base64\": ...} / {\"vector\": [...]}", content_type = "multipart/form-data"),
    responses((status = 200, body = PredictResponse), (status = 413, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody, description = "too many long clips waiting to be embedded; retry after `Retry-After` seconds")))]
#[post("/predict", format = "multipart/form-data", data = "<form>", rank = 1)]
pub async fn predict_form(
    service: State<'_>,
    form: Result<Form<AudioForm<'_>>, Errors<'_>>,
) -> Result<Json<PredictResponse>, ApiError> {
    let sub = from_form(form, service.config.upload_limit)?;
    run_predict(service, sub).await
}

/// Classify a clip sent as JSON.
#[post("/predict", format = "json", data = "<data>", rank = 2)]
pub async fn predict_json(
    service: State<'_>,
    data: Data<'_>,
) -> Result<Json<PredictResponse>, ApiError> {
    let sub = from_json(data, service.config.upload_limit).await?;
    run_predict(service, sub).await
}

/// Classify a clip sent as the raw body.
#[post("/predict", data = "<data>", rank = 3)]
pub async fn predict_raw(
    service: State<'_>,
    content_type: Option<&ContentType>,
    data: Data<'_>,
) -> Result<Json<PredictResponse>, ApiError> {
    let sub = from_raw(content_type, data, service.config.upload_limit, None).await?;
    run_predict(service, sub).await
}

/// Store a labelled clip as production feedback (multipart: `file`, `target`, optional `prediction`).
#[utoipa::path(post, path = "/feedback", tag = "feedback",
    request_body(content = String, description = "multipart/form-data with fields `file`, `target` and optional `prediction`; or JSON {\"audio_base64\"|\"vector\", \"target\", \"prediction\"?}; or a raw audio body with `?target=`", content_type = "multipart/form-data"),
    responses((status = 200, body = FeedbackResponse), (status = 413, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody, description = "too many long clips waiting to be embedded; retry after `Retry-After` seconds")))]
#[post("/feedback", format = "multipart/form-data", data = "<form>", rank = 1)]
pub async fn feedback_form(
    service: State<'_>,
    form: Result<Form<AudioForm<'_>>, Errors<'_>>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let sub = from_form(form, service.config.upload_limit)?;
    run_feedback(service, sub).await
}

/// Feedback as JSON.
#[post("/feedback", format = "json", data = "<data>", rank = 2)]
pub async fn feedback_json(
    service: State<'_>,
    data: Data<'_>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let sub = from_json(data, service.config.upload_limit).await?;
    run_feedback(service, sub).await
}

/// Feedback as a raw audio body with `?target=`.
#[post("/feedback?<target>", data = "<data>", rank = 3)]
pub async fn feedback_raw(
    service: State<'_>,
    content_type: Option<&ContentType>,
    target: Option<String>,
    data: Data<'_>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let sub = from_raw(content_type, data, service.config.upload_limit, target).await?;
    run_feedback(service, sub).await
}
