//! `GET /`: the upload page (tera template compiled into the binary, no CDN).

use rocket::get;
use rocket::response::content::RawHtml;

use super::State;
use crate::error::ApiError;

const TEMPLATE: &str = include_str!("../../templates/index.html.tera");

fn render(service: State<'_>) -> Result<String, tera::Error> {
    let live = service.current();
    let mut ctx = tera::Context::new();
    ctx.insert("version", &live.meta.version);
    ctx.insert("classes", &live.model.classes);
    ctx.insert("feedback_rows", &service.feedback_rows());
    ctx.insert("retrain_every", &service.config.retrain_every);
    ctx.insert(
        "upload_limit_mb",
        &(service.config.upload_limit / (1024 * 1024)),
    );
    // One-off render: autoescaping is on for .html templates.
    tera::Tera::one_off(TEMPLATE, &ctx, true)
}

/// The web page to upload or record a clip, predict and send feedback.
#[get("/")]
pub fn index(service: State<'_>) -> Result<RawHtml<String>, ApiError> {
    render(service)
        .map(RawHtml)
        .map_err(|e| ApiError::internal(format!("page template: {e}")))
}
