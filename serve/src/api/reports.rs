//! `GET /report`, `/report.json` (computed on request from the data files) and `/dashboard`
//! (from the report history).

use std::sync::Arc;

use rocket::http::ContentType;
use rocket::{get, tokio};

use super::page::Page;
use super::State;
use crate::error::ApiError;
use crate::Service;

async fn compute(service: State<'_>) -> Result<tympan_report::Report, ApiError> {
    let service: Arc<Service> = Arc::clone(service.inner());
    tokio::task::spawn_blocking(move || service.report())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// Drift and classification-quality report of reference vs production data (HTML).
#[utoipa::path(get, path = "/report", tag = "reports", responses((status = 200, content_type = "text/html"), (status = 409, body = crate::error::ErrorBody)))]
#[get("/report")]
pub async fn report(service: State<'_>) -> Result<Page, ApiError> {
    Ok(Page::new(compute(service).await?.to_html()))
}

/// The same report as JSON.
#[utoipa::path(get, path = "/report.json", tag = "reports", responses((status = 200, content_type = "application/json")))]
#[get("/report.json")]
pub async fn report_json(service: State<'_>) -> Result<(ContentType, String), ApiError> {
    Ok((ContentType::JSON, compute(service).await?.to_json()))
}

/// Drift share, F1, rows and model versions over time.
#[utoipa::path(get, path = "/dashboard", tag = "reports", responses((status = 200, content_type = "text/html")))]
#[get("/dashboard")]
pub fn dashboard(service: State<'_>) -> Result<Page, ApiError> {
    let history = tympan_report::History::load(&service.config.reports)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Page::new(tympan_report::render_dashboard(&history)))
}
