//! `POST /predict` and `POST /feedback`, each accepting multipart, JSON or a raw audio body.

use std::sync::Arc;

use rocket::data::Data;
use rocket::form::{Errors, Form};
use rocket::http::ContentType;
use rocket::serde::json::Json;
use rocket::{post, tokio};

use super::docs::{FeedbackByIdErrors, UploadErrors};
use super::State;
use crate::embed_pool;
use crate::error::ApiError;
use crate::input::{from_form, from_json, from_raw, AudioForm, JsonClip, Submission};
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

/// The `Idempotency-Key` header of a request, if sent: a retried `/feedback` with the same key
/// returns the first answer and stores nothing.
pub struct IdempotencyKey(Option<String>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for IdempotencyKey {
    type Error = std::convert::Infallible;

    async fn from_request(
        request: &'r rocket::Request<'_>,
    ) -> rocket::request::Outcome<Self, Self::Error> {
        let key = request
            .headers()
            .get_one("Idempotency-Key")
            .map(str::to_owned);
        rocket::request::Outcome::Success(IdempotencyKey(key))
    }
}

async fn run_feedback(
    service: State<'_>,
    sub: Submission,
    key: IdempotencyKey,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let target = sub
        .target
        .clone()
        .ok_or_else(|| ApiError::unprocessable("feedback needs the true label in `target`"))?;
    // Labels first: a refused one costs no embedding.
    validate_label(&target).map_err(ServiceError::from)?;
    let clip = embed_pool::embed(service.inner(), sub.clip).await?;
    let service: Arc<Service> = Arc::clone(service.inner());
    // The append fsyncs: keep it off the async workers.
    tokio::task::spawn_blocking(move || service.feedback(&clip, &target, key.0.as_deref()))
        .await
        .map_err(|e| ApiError::internal(format!("feedback task failed: {e}")))?
        .map(Json)
        .map_err(ApiError::from)
}

/// `POST /predict` as multipart/form-data (documentation only: the route takes the `file` field
/// through [`AudioForm`]).
#[derive(utoipa::ToSchema)]
pub struct PredictForm {
    /// The audio file (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A, AIFF...).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// `POST /feedback` as multipart/form-data (documentation only).
#[derive(utoipa::ToSchema)]
pub struct FeedbackForm {
    /// The audio file.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// The true label: 1 to 128 bytes, no control characters, no leading space, no formula.
    pub target: String,
    /// The label the client was shown.
    pub prediction: Option<String>,
}

/// A raw audio body (documentation only).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct AudioBody(pub Vec<u8>);

/// Classify a clip: multipart/form-data (field `file`), JSON (`audio_base64` or an embedded
/// `vector`, exactly one), or the audio itself as the body (`audio/*`,
/// `application/octet-stream`, or no content type). The answer's `prediction_id` lets the
/// client send the true label later (`POST /feedback`) without the clip.
#[utoipa::path(post, path = "/predict", tag = "predict",
    request_body(description = "the clip, in one of four forms", content(
        (PredictForm = "multipart/form-data"),
        (JsonClip = "application/json"),
        (AudioBody = "audio/*"),
        (AudioBody = "application/octet-stream"),
    )),
    responses((status = 200, body = PredictResponse, description = "the prediction"), UploadErrors))]
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

/// Store a labelled clip as production feedback: multipart/form-data (`file`, `target`), JSON
/// (`audio_base64`, `vector` or the `prediction_id` of an earlier `/predict` answer, and
/// `target`), or the audio itself as the body with the label in the `target` query parameter.
/// By `prediction_id`, the row holds exactly that prediction's vector and label, once: the same
/// id again with the same `target` gets the first answer (`replayed`), with another `target` 409
/// `feedback_exists`; an id the server no longer keeps gets 404. An `Idempotency-Key` header
/// makes any feedback request safe to retry the same way: the same key again returns the first
/// answer and stores nothing (422 `idempotency_key_reused` with another `target`). The stored prediction is the served model's; a `prediction` field is
/// accepted and ignored. A `target` the reference data lacks is refused (422
/// `too_many_classes`) once the log holds `--max-new-classes` such classes.
#[utoipa::path(post, path = "/feedback", tag = "feedback",
    params(("target" = Option<String>, Query, description = "the true label, for a raw audio body (required there; multipart and JSON bodies carry it as a field)"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 123 ASCII letters, digits, '-', '_', '.' or ':'; a retry with the same key returns the first answer and stores nothing")),
    request_body(description = "the labelled clip, in one of four forms", content(
        (FeedbackForm = "multipart/form-data"),
        (JsonClip = "application/json"),
        (AudioBody = "audio/*"),
        (AudioBody = "application/octet-stream"),
    )),
    responses((status = 200, body = FeedbackResponse, description = "the row is stored (fsynced)"), UploadErrors, FeedbackByIdErrors))]
#[post("/feedback", format = "multipart/form-data", data = "<form>", rank = 1)]
pub async fn feedback_form(
    service: State<'_>,
    key: IdempotencyKey,
    form: Result<Form<AudioForm<'_>>, Errors<'_>>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let sub = from_form(form, service.config.upload_limit)?;
    run_feedback(service, sub, key).await
}

/// Feedback as JSON.
#[post("/feedback", format = "json", data = "<data>", rank = 2)]
pub async fn feedback_json(
    service: State<'_>,
    key: IdempotencyKey,
    data: Data<'_>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let sub = from_json(data, service.config.upload_limit).await?;
    run_feedback(service, sub, key).await
}

/// Feedback as a raw audio body with `?target=`.
#[post("/feedback?<target>", data = "<data>", rank = 3)]
pub async fn feedback_raw(
    service: State<'_>,
    key: IdempotencyKey,
    content_type: Option<&ContentType>,
    target: Option<String>,
    data: Data<'_>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let sub = from_raw(content_type, data, service.config.upload_limit, target).await?;
    run_feedback(service, sub, key).await
}
