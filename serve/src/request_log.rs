//! One log line per request (method, route, status, latency, request id) and the request id
//! itself: a client's sane `X-Request-Id` is kept, any other request gets a new one, and the
//! response carries it back so a client's report can be matched to the server's lines.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Data, Request, Response};

use crate::metrics;

/// The header read from requests and set on every response.
pub const HEADER: &str = "X-Request-Id";

/// Longest incoming id kept: an id is for searching logs, not a place to store data.
const MAX_LEN: usize = 64;

/// A request's id, cached on the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The id of `req`: the client's `X-Request-Id` when it is sane, else a new one; the same
    /// value for every caller during the request.
    pub fn of<'r>(req: &'r Request<'_>) -> &'r str {
        &req.local_cache(|| {
            let given = req.headers().get_one(HEADER).filter(|h| is_sane(h));
            RequestId(given.map_or_else(generate, str::to_string))
        })
        .0
    }
}

/// 1 to [`MAX_LEN`] HTTP token characters (RFC 9110 `tchar`): nothing that could split a log
/// line, open a quote or a field, or echo a payload back.
fn is_sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// 16 hex digits, unique within the process (a counter) and not guessable across processes
/// (hashed with a random key), without a UUID dependency.
fn generate() -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}", KEY.get_or_init(RandomState::new).hash_one(n))
}

/// The fairing: fixes the id on arrival, logs the line and sets the header on the way out.
pub struct RequestLog;

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "request log",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        RequestId::of(req);
        metrics::started(req);
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let id = RequestId::of(req);
        res.set_raw_header(HEADER, id.to_string());
        let latency_ms = metrics::started(req).elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            method = %req.method(),
            route = %metrics::endpoint(req),
            status = res.status().code,
            latency_ms = (latency_ms * 1000.0).round() / 1000.0,
            request_id = id,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use rocket::local::blocking::Client;

    use super::*;

    #[rocket::get("/")]
    fn index() -> &'static str {
        "ok"
    }

    fn client() -> Client {
        let rocket = rocket::build()
            .mount("/", rocket::routes![index])
            .attach(RequestLog);
        Client::tracked(rocket).unwrap()
    }

    #[test]
    fn a_sane_incoming_id_is_returned_as_is() {
        let client = client();
        let resp = client
            .get("/")
            .header(rocket::http::Header::new(HEADER, "req-42.a_b"))
            .dispatch();
        assert_eq!(resp.headers().get_one(HEADER), Some("req-42.a_b"));
    }

    #[test]
    fn other_requests_get_a_new_id_each() {
        let client = client();
        let long = "a".repeat(MAX_LEN + 1);
        let mut seen = Vec::new();
        for given in [
            None,
            Some("two words"),
            Some("\"quoted\""),
            Some(long.as_str()),
        ] {
            let mut req = client.get("/");
            if let Some(g) = given {
                req = req.header(rocket::http::Header::new(HEADER, g.to_string()));
            }
            let resp = req.dispatch();
            let id = resp.headers().get_one(HEADER).unwrap().to_string();
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert!(!seen.contains(&id), "{id} twice");
            seen.push(id);
        }
        // Unknown routes (answered by a catcher) carry one too.
        assert!(client
            .get("/nope")
            .dispatch()
            .headers()
            .get_one(HEADER)
            .is_some());
    }
}
