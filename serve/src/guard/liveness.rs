//! `GET /health` answered on the guard's own thread, with the request workers' heartbeat.
//!
//! Relayed to Rocket, a liveness probe waited behind the request workers' other tasks: under
//! four clients uploading 60 s clips, `/health` took up to 17 ms where a bare thread answering
//! the same probe took 6.4 ms at most (`docs/reliability.md`). The guard's thread answers it
//! instead, without the loopback hop to Rocket. So that a probe still sees a server whose request
//! workers are stuck, they beat a [`Heartbeat`] every [`BEAT`]; silent for [`STALL_LIMIT`], the
//! answer is a 503.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use super::error_response;

/// How often the request workers beat.
pub const BEAT: Duration = Duration::from_millis(500);

/// Silent this long, the request workers count as stuck: `/health` answers 503. Far above any
/// wait a busy but working runtime shows (tens of milliseconds), so load alone never trips it.
pub const STALL_LIMIT: Duration = Duration::from_secs(10);

/// The last time the request workers ran a timer task.
#[derive(Debug)]
pub struct Heartbeat {
    start: Instant,
    /// Milliseconds from `start` to the last beat.
    last: AtomicU64,
}

impl Heartbeat {
    /// A heartbeat that has just beaten.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    /// Records a beat now.
    pub fn beat(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    /// Time since the last beat.
    pub fn silence(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Beats every [`BEAT`] from a task on the current runtime, for as long as it runs.
    pub fn keep_beating(self: &Arc<Self>) {
        let heart = Arc::clone(self);
        rocket::tokio::spawn(async move {
            let mut every = rocket::tokio::time::interval(BEAT);
            every.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                heart.beat();
            }
        });
    }
}

/// Whether `bytes` are exactly one whole `GET /health` request without a body. Anything else,
/// including a probe with more requests pipelined after it, is relayed to Rocket, so that nothing
/// a client sent is dropped when the guard answers and closes.
pub(super) fn is_health_probe(bytes: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = request.parse(bytes) else {
        return false;
    };
    let bodyless = request.headers.iter().all(|h| {
        !h.name.eq_ignore_ascii_case("content-length")
            && !h.name.eq_ignore_ascii_case("transfer-encoding")
    });
    len == bytes.len()
        && bodyless
        && request.method == Some("GET")
        && request.path == Some("/health")
}

/// The answer to a health probe: 200 `{"status":"ok"}` as Rocket's route gives it, or a 503
/// JSON error when the request workers have been silent for [`STALL_LIMIT`]. It closes the
/// connection, as a probe opens one per check.
pub(super) fn health_answer(heartbeat: &Heartbeat) -> (u16, Cow<'static, [u8]>) {
    let silence = heartbeat.silence();
    if silence >= STALL_LIMIT {
        let detail = format!(
            "the request workers have not run for {} s",
            silence.as_secs()
        );
        return (
            503,
            Cow::Owned(error_response(
                "503 Service Unavailable",
                "stalled",
                &detail,
            )),
        );
    }
    (200, Cow::Borrowed(HEALTHY.as_slice()))
}

/// The 200 answer, made once: every probe of a working server gets the same bytes.
static HEALTHY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = r#"{"status":"ok"}"#;
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_whole_bodyless_get_of_health_is_a_probe() {
        let probe = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(is_health_probe(probe));
        let mut pipelined = probe.to_vec();
        pipelined.extend_from_slice(b"GET /model HTTP/1.1\r\n\r\n");
        for other in [
            &pipelined[..],
            b"GET /health HTTP/1.1\r\nHost: x\r\n",
            b"GET /healthz HTTP/1.1\r\n\r\n",
            b"GET /health?x=1 HTTP/1.1\r\n\r\n",
            b"HEAD /health HTTP/1.1\r\n\r\n",
            b"POST /health HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}",
            b"GET /health HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            b"GET /model HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01 not http",
        ] {
            assert!(!is_health_probe(other), "{other:?}");
        }
    }

    #[test]
    fn a_silent_heartbeat_turns_the_answer_into_a_503() {
        let heart = Heartbeat::new();
        let (status, ok) = health_answer(&heart);
        let ok = String::from_utf8(ok.into_owned()).unwrap();
        assert_eq!(status, 200);
        let (head, body) = ok.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).unwrap()["status"],
            "ok"
        );
        let stalled = Heartbeat {
            start: Instant::now() - STALL_LIMIT - Duration::from_secs(1),
            last: AtomicU64::new(0),
        };
        let (status, answer) = health_answer(&stalled);
        let answer = String::from_utf8(answer.into_owned()).unwrap();
        assert_eq!(status, 503);
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains(r#""error":"stalled""#), "{answer}");
        stalled.beat();
        assert_eq!(health_answer(&stalled).0, 200);
    }
}
