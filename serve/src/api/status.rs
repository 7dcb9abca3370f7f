//! `GET /model`, `/health`, `/ready`, `/metrics`.

use rocket::get;
use rocket::http::ContentType;
use rocket::serde::json::Json;
use serde::Serialize;

use super::State;

/// The served model.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelInfo {
    /// Version name.
    pub version: String,
    /// Class labels.
    pub classes: Vec<String>,
    /// Vector length.
    pub dim: usize,
    /// Embedding fingerprint.
    pub embedding_fingerprint: String,
    /// Registry metadata (metrics, parent, champion/challenger decision).
    #[schema(value_type = Object)]
    pub meta: serde_json::Value,
    /// Rows in prod_data.csv.
    pub feedback_rows: u64,
    /// Whether a retraining is running.
    pub retraining: bool,
}

/// Current model, classes, metrics.
#[utoipa::path(get, path = "/model", tag = "status", responses((status = 200, body = ModelInfo, description = "the served model")))]
#[get("/model")]
pub fn model(service: State<'_>) -> Json<ModelInfo> {
    let live = service.current();
    Json(ModelInfo {
        version: live.meta.version.clone(),
        classes: live.model.classes.clone(),
        dim: live.model.dim(),
        embedding_fingerprint: live.model.embedding_fingerprint.clone(),
        meta: live.meta.to_summary_json(),
        feedback_rows: service.feedback_rows(),
        retraining: service.is_retraining(),
    })
}

/// What `/health` answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// What `/ready` answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// `ready`.
    pub status: &'static str,
    /// The version served.
    pub model_version: String,
    /// Where feedback rows and models are kept, and whether it answers now.
    pub store: crate::service::StoreState,
}

/// Liveness. Behind the connection guard (the default) the guard's own thread answers it, so a
/// probe never waits behind uploads; it answers 503 `stalled` when the request workers have not
/// run for [`crate::guard::STALL_LIMIT`].
#[utoipa::path(get, path = "/health", tag = "status", responses(
    (status = 200, body = Health, description = "the server answers"),
    (status = 503, body = crate::error::ErrorBody, description = "`stalled`: the request workers have not run for 10 s (or `too_many_connections`)"),
))]
#[get("/health")]
pub fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: a model is loaded (the server only starts once it is). It stays 200 while the
/// database is down, since `/predict` still answers with the loaded model; `store` says whether
/// feedback can be stored now.
#[utoipa::path(get, path = "/ready", tag = "status", responses((status = 200, body = Ready, description = "a model is served")))]
#[get("/ready")]
pub async fn ready(service: State<'_>) -> Json<Ready> {
    let service = std::sync::Arc::clone(service.inner());
    let model_version = service.current().meta.version.clone();
    // A database check waits at most the pool's timeout: not on an async worker.
    let store = rocket::tokio::task::spawn_blocking(move || service.store_state())
        .await
        .unwrap_or_else(|e| crate::service::StoreState::unavailable("postgresql", e.to_string()));
    Json(Ready {
        status: "ready",
        model_version,
        store,
    })
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "status", responses((status = 200, body = String, content_type = "text/plain", description = "Prometheus text exposition format 0.0.4")))]
#[get("/metrics")]
pub fn metrics(service: State<'_>) -> (ContentType, String) {
    (
        ContentType::new("text", "plain").with_params(("version", "0.0.4")),
        service.metrics.render(),
    )
}
