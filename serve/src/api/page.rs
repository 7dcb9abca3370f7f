//! `GET /`: the upload page (tera template compiled into the binary, no CDN).
//!
//! Served with a Content-Security-Policy that lets only the page's own inline `<script>` and
//! `<style>` run (by their SHA-256), so that markup which ever slipped into the page through a
//! label could not run script even if escaping failed.

use base64::Engine;
use rocket::get;
use rocket::response::content::RawHtml;
use rocket::response::{self, Responder, Response};
use rocket::Request;
use sha2::{Digest, Sha256};

use super::State;
use crate::error::ApiError;

const TEMPLATE: &str = include_str!("../../templates/index.html.tera");

/// The templates, parsed once (autoescaping on: they are registered as `.html` templates).
static TERA: std::sync::LazyLock<tera::Tera> = std::sync::LazyLock::new(|| {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates([
        ("index.html", TEMPLATE),
        (
            "missing.html",
            include_str!("../../templates/missing.html.tera"),
        ),
    ])
    .expect("the page templates compile (checked by the unit tests)");
    tera
});

/// The policy, computed once: the page's script and style blocks hold no template syntax (a unit
/// test checks it), so their hashes are those of the template's blocks.
static CSP: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| content_security_policy(TEMPLATE));

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
    TERA.render("index.html", &ctx)
}

/// `'sha256-…'` of the text of each `<tag>…</tag>` block (attribute-less tags only).
fn inline_hashes(html: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        hashes.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[end + close.len()..];
    }
    hashes
}

/// The policy for a rendered page: its own inline script and style, same-origin requests,
/// recorded clips played from `blob:` URLs, nothing else.
fn content_security_policy(html: &str) -> String {
    format!(
        "default-src 'self'; script-src {}; style-src {}; img-src 'self' data:; \
         media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        inline_hashes(html, "script").join(" "),
        inline_hashes(html, "style").join(" "),
    )
}

/// An HTML page with the Content-Security-Policy that admits its own inline blocks only.
pub struct Page {
    html: String,
    policy: std::borrow::Cow<'static, str>,
}

impl Page {
    /// A page rendered on request (a report, the dashboard): its policy is computed from it.
    pub fn new(html: String) -> Self {
        let policy = content_security_policy(&html).into();
        Self { html, policy }
    }

    fn index(html: String) -> Self {
        Self {
            html,
            policy: CSP.as_str().into(),
        }
    }
}

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        Response::build_from(RawHtml(self.html).respond_to(req)?)
            .raw_header("Content-Security-Policy", self.policy)
            .ok()
    }
}

fn template_error(e: tera::Error) -> ApiError {
    ApiError::internal(format!("page template: {e}"))
}

/// The web page to upload or record a clip, predict and send feedback.
#[get("/")]
pub fn index(service: State<'_>) -> Result<Page, ApiError> {
    render(service).map(Page::index).map_err(template_error)
}

/// A page that has nothing to draw yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `/report`: no production rows to compare with the reference.
    Report,
    /// `/dashboard`: no report in the history.
    Dashboard,
}

/// The page a browser gets instead of `what`: what is missing (`detail`) and how to get it,
/// which depends on whether the server retrains by itself (`retrain_every` > 0).
pub fn missing(what: Missing, detail: &str, retrain_every: u64) -> Result<Page, ApiError> {
    let mut ctx = tera::Context::new();
    let page = match what {
        Missing::Report => "report",
        Missing::Dashboard => "dashboard",
    };
    ctx.insert("page", page);
    ctx.insert("detail", detail);
    ctx.insert("retrain_every", &retrain_every);
    TERA.render("missing.html", &ctx)
        .map(Page::new)
        .map_err(template_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_covers_the_one_script_and_style_of_the_page() {
        let csp = content_security_policy(TEMPLATE);
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
        assert!(!csp.contains("unsafe-inline"));
        // The hashes are taken from the rendered page: the blocks must render verbatim.
        for tag in ["script", "style"] {
            let body = TEMPLATE
                .split(&format!("<{tag}>"))
                .nth(1)
                .and_then(|b| b.split(&format!("</{tag}>")).next())
                .unwrap_or_else(|| panic!("no attribute-less <{tag}> in the page"));
            assert!(
                !body.contains("{{") && !body.contains("{%") && !body.contains("{#"),
                "<{tag}> must hold no template syntax"
            );
        }
    }

    #[test]
    fn missing_pages_say_how_to_get_what_is_missing() {
        let report = missing(Missing::Report, "prod_data.csv: no rows <yet>", 0).unwrap();
        assert!(report.html.contains("<h2>No report yet</h2>"));
        assert!(report.html.contains("prod_data.csv: no rows &lt;yet&gt;"));
        assert!(report.html.contains("<a href=\"/\">upload page</a>"));
        assert!(report
            .html
            .contains("<code>tympan report --prod FILE</code>"));
        assert!(report.policy.contains("style-src 'sha256-"));
        let dashboard = missing(Missing::Dashboard, "", 50).unwrap();
        assert!(dashboard.html.contains("<h2>No dashboard yet</h2>"));
        assert!(dashboard
            .html
            .contains("every 50 feedback rows the server retrains"));
        let manual = missing(Missing::Dashboard, "", 0).unwrap();
        assert!(manual.html.contains("retraining is off on this server"));
    }

    #[test]
    fn hashes_are_base64_sha256_of_the_block() {
        // printf 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            inline_hashes("<p><script>alert(1)</script></p>", "script"),
            ["'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"]
        );
    }
}
