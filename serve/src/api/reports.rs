//! `GET /report`, `/report.json` (computed on request from the data files), `/dashboard`
//! (from the report history) and `/live` (the live-traffic monitor's latest result).
//!
//! While there is nothing to draw yet, a browser (`Accept: text/html`) gets a page saying what is
//! missing and how to get it; other clients keep the JSON error of `/report`.

use std::sync::Arc;

use rocket::http::ContentType;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{get, tokio};
use tympan_report::html::LiveView;

use super::docs::Internal;
use super::page::{self, Missing, Page};
use super::State;
use crate::error::{ApiError, ErrorBody};
use crate::Service;

/// Whether the client asked for a page: its `Accept` header lists `text/html`, as browsers' do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WantsHtml(pub bool);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for WantsHtml {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let html = req.accept().is_some_and(|accept| {
            accept
                .media_types()
                .any(|m| m.top() == "text" && m.sub() == "html")
        });
        Outcome::Success(WantsHtml(html))
    }
}

async fn compute(service: State<'_>) -> Result<Arc<tympan_report::Report>, ApiError> {
    let service: Arc<Service> = Arc::clone(service.inner());
    tokio::task::spawn_blocking(move || service.latest_report())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// The report page, or for a browser the page that says why there is none yet (no production
/// rows: [`Service::report`] answers `no_report`); any other failure stays an error.
fn report_page(
    report: Result<Arc<tympan_report::Report>, ApiError>,
    live: Option<LiveView>,
    client: WantsHtml,
    retrain_every: u64,
) -> Result<Page, ApiError> {
    match report {
        Ok(report) => Ok(Page::new(match &live {
            Some(live) => report.to_html_with_live(live),
            None => report.to_html(),
        })),
        Err(e) if client.0 && e.error == "no_report" => {
            page::missing(Missing::Report, &e.detail, retrain_every)
        }
        Err(e) => Err(e),
    }
}

/// Drift and classification-quality report of reference vs production data (HTML).
#[utoipa::path(get, path = "/report", tag = "reports", responses(
    (status = 200, body = String, content_type = "text/html", description = "the report, or for an `Accept: text/html` client without production rows a page saying how to get them"),
    (status = 409, body = ErrorBody, description = "`no_report`: no production rows yet (clients that do not accept text/html)"),
    Internal))]
#[get("/report")]
pub async fn report(service: State<'_>, client: WantsHtml) -> Result<Page, ApiError> {
    let retrain_every = service.config.retrain_every;
    let live = live_view(service);
    report_page(compute(service).await, live, client, retrain_every)
}

/// The same report as JSON.
#[utoipa::path(get, path = "/report.json", tag = "reports", responses(
    (status = 200, body = Object, content_type = "application/json", description = "the report: drift per feature, classification quality, rows"),
    (status = 409, body = ErrorBody, description = "`no_report`: no production rows yet"),
    Internal))]
#[get("/report.json")]
pub async fn report_json(service: State<'_>) -> Result<(ContentType, String), ApiError> {
    Ok((ContentType::JSON, compute(service).await?.to_json()))
}

/// The latest drift of the live traffic (no label needed): the newest `--live-window`
/// predictions against the reference rows, recomputed every `--live-every` off the request path.
#[utoipa::path(get, path = "/live", tag = "reports", responses(
    (status = 200, body = Object, content_type = "application/json", description = "`computed_at`, `seconds` and `live`: the window, the domain classifier's ROC AUC, the MMD p-value, the share of drifted components, their verdicts, the prediction drift, accuracy and macro F1 estimated without labels, the unusual share and the realised accuracy; `history`: the headline figures of the last computations"),
    (status = 409, body = ErrorBody, description = "`no_live_report`: not computed yet (fewer than 10 predictions so far, or the first period has not passed)")))]
#[get("/live")]
pub fn live(service: State<'_>) -> Result<Json<crate::live::LiveAnswer>, ApiError> {
    match service.live_status() {
        Some(status) => Ok(Json(crate::live::LiveAnswer {
            latest: (*status).clone(),
            history: service.live_history(),
        })),
        None => Err(ApiError::new(
            rocket::http::Status::Conflict,
            "no_live_report",
            format!(
                "the live-traffic drift is computed every {} once {} predictions are remembered; \
                 none yet",
                humantime::format_duration(service.config.live_every),
                tympan_report::embedding_drift::MIN_ROWS
            ),
        )),
    }
}

/// The live monitor's latest section and history as the pages show them (the last computation:
/// a page never waits for one).
fn live_view(service: &Service) -> Option<LiveView> {
    let status = service.live_status()?;
    Some(LiveView::new(
        &status.live,
        &humantime::format_rfc3339_seconds(status.computed).to_string(),
        &service.live_history(),
    ))
}

/// The dashboard of `history` (and the live traffic), or for a browser while both are empty the
/// page that says how to fill it.
fn dashboard_page(
    history: &tympan_report::History,
    live: Option<LiveView>,
    client: WantsHtml,
    retrain_every: u64,
) -> Result<Page, ApiError> {
    if client.0 && history.snapshots.is_empty() && live.is_none() {
        return page::missing(Missing::Dashboard, "", retrain_every);
    }
    Ok(Page::new(tympan_report::html::render_dashboard_with_live(
        history,
        live.as_ref(),
    )))
}

/// Drift share, F1, rows and model versions over time.
#[utoipa::path(get, path = "/dashboard", tag = "reports", responses(
    (status = 200, body = String, content_type = "text/html", description = "the dashboard, or for an `Accept: text/html` client before the first report a page saying how to get one"),
    Internal))]
#[get("/dashboard")]
pub fn dashboard(service: State<'_>, client: WantsHtml) -> Result<Page, ApiError> {
    let history = tympan_report::History::load(&service.config.reports)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    dashboard_page(
        &history,
        live_view(service),
        client,
        service.config.retrain_every,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::{Accept, Status};
    use rocket::local::blocking::Client;

    const NO_ROWS: &str = "prod_data.csv: no data rows";

    /// `/report` as it answers before any feedback, without a server's data.
    #[rocket::get("/report")]
    fn empty_report(client: WantsHtml) -> Result<Page, ApiError> {
        let none = ApiError::new(Status::Conflict, "no_report", NO_ROWS);
        report_page(Err(none), None, client, 0)
    }

    #[rocket::get("/dashboard")]
    fn empty_dashboard(client: WantsHtml) -> Result<Page, ApiError> {
        dashboard_page(&tympan_report::History::default(), None, client, 25)
    }

    #[rocket::get("/broken")]
    fn broken(client: WantsHtml) -> Result<Page, ApiError> {
        report_page(Err(ApiError::internal("disk")), None, client, 0)
    }

    fn client() -> Client {
        let routes = rocket::routes![empty_report, empty_dashboard, broken];
        Client::tracked(rocket::build().mount("/", routes)).unwrap()
    }

    const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    #[test]
    fn a_browser_is_told_how_to_get_the_missing_report() {
        let client = client();
        let resp = client
            .get("/report")
            .header(BROWSER.parse::<Accept>().unwrap())
            .dispatch();
        assert_eq!(resp.status(), Status::Ok);
        assert_eq!(resp.content_type(), Some(ContentType::HTML));
        assert!(resp.headers().get_one("Content-Security-Policy").is_some());
        let html = resp.into_string().unwrap();
        assert!(
            html.contains("No report yet") && html.contains(NO_ROWS),
            "{html}"
        );
        assert!(html.contains("tympan report --prod FILE"));
    }

    #[test]
    fn other_clients_keep_the_json_error() {
        let client = client();
        for accept in [None, Some("application/json"), Some("*/*")] {
            let mut req = client.get("/report");
            if let Some(a) = accept {
                req = req.header(a.parse::<Accept>().unwrap());
            }
            let resp = req.dispatch();
            assert_eq!(resp.status(), Status::Conflict, "{accept:?}");
            let body: serde_json::Value = resp.into_json().unwrap();
            assert_eq!(body["error"], "no_report");
            assert_eq!(body["detail"], NO_ROWS);
        }
    }

    #[test]
    fn a_server_failure_is_no_missing_page() {
        let client = client();
        let resp = client.get("/broken").header(Accept::HTML).dispatch();
        assert_eq!(resp.status(), Status::InternalServerError);
    }

    #[test]
    fn an_empty_dashboard_explains_itself_to_a_browser_only() {
        let client = client();
        let page = client
            .get("/dashboard")
            .header(Accept::HTML)
            .dispatch()
            .into_string()
            .unwrap();
        assert!(page.contains("No dashboard yet") && page.contains("every 25 feedback rows"));
        let plain = client.get("/dashboard").dispatch().into_string().unwrap();
        assert!(plain.contains("No report yet.") && !plain.contains("No dashboard yet"));
    }
}
