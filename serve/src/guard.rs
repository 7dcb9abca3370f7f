//! The connection guard: the public socket, in front of Rocket.
//!
//! Rocket 0.5 turns hyper's header-read timeout off and has no idle timeout, so a client that
//! connects and sends nothing, or sends a byte a second, holds its connection and a file
//! descriptor for ever; enough of them exhaust the descriptor limit and nobody else gets in
//! (measured in `docs/reliability.md`). Rocket 0.5 cannot be handed a listener, so the guard
//! owns the public port and relays each connection to Rocket on a loopback port, enforcing:
//!
//! - a cap on open connections: over it, a new client gets a 503 JSON answer at once;
//! - an idle timeout: a connection with no byte either way for that long, while the guard waits
//!   for the client (between requests or in the middle of one), is closed; a request received
//!   whole and not answered yet is the server's work, never idle (`framing` tells them apart);
//! - a request timeout: a client whose bytes have gone unanswered for that long (it is still
//!   sending its request, or the server is still working on it) gets a 408 and is closed;
//! - a body budget: the request bytes relayed and not yet answered, summed over every
//!   connection, stay under a bound (the server holds an upload in memory until it answers, so
//!   200 clients each stalling before the last byte of a 10 MB body would otherwise hold 2 GB);
//!   the request that would pass it gets a 503 and is closed.
//!
//! The guard accepts on a thread of its own and answers liveness probes (`GET /health`) there
//! (`liveness`), so that a probe never waits behind the request workers relaying uploads; every
//! other connection is relayed on Rocket's runtime.

mod framing;
mod liveness;

pub use liveness::{Heartbeat, BEAT, STALL_LIMIT};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::IntCounterVec;
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::{TcpListener, TcpStream};
use rocket::tokio::runtime::Handle;
use rocket::tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use rocket::tokio::time::{sleep_until, timeout, Instant};

use crate::error::ErrorBody;
use crate::metrics::HttpMetrics;
use liveness::{health_answer, is_health_probe};

/// Limits applied to every client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardLimits {
    /// Open client connections at most.
    pub max_connections: usize,
    /// Close a connection with no traffic for this long.
    pub idle: Duration,
    /// Answer 408 and close when a client's bytes stay unanswered for this long.
    pub request: Duration,
    /// Request bytes relayed and not yet answered, over all connections, at most.
    pub body_budget: u64,
}

/// The request bytes relayed to the server and not yet answered, over all connections.
#[derive(Debug)]
pub struct BodyBudget {
    limit: u64,
    in_flight: AtomicU64,
}

impl BodyBudget {
    /// A budget of `limit` bytes, none in use.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            in_flight: AtomicU64::new(0),
        }
    }

    /// Bytes in use now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    fn try_take(&self, n: u64) -> bool {
        self.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(n).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, n: u64) {
        self.in_flight.fetch_sub(n, Ordering::SeqCst);
    }
}

/// One connection's part of the [`BodyBudget`], given back when its request is answered and,
/// whatever way the relay ends, on drop.
struct BudgetShare<'a> {
    budget: &'a BodyBudget,
    held: u64,
}

impl BudgetShare<'_> {
    fn take(&mut self, n: usize) -> bool {
        let taken = self.budget.try_take(n as u64);
        if taken {
            self.held += n as u64;
        }
        taken
    }

    fn release(&mut self) {
        self.budget.give_back(std::mem::take(&mut self.held));
    }
}

impl Drop for BudgetShare<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Why a relay ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Closed,
    Idle,
    RequestTimeout,
    BodyBudget,
}

impl Ending {
    /// The `reason` label of `tympan_connections_closed_total`, for endings the guard caused.
    fn reason(&self) -> Option<&'static str> {
        match self {
            Ending::Closed => None,
            Ending::Idle => Some("idle"),
            Ending::RequestTimeout => Some("request_timeout"),
            Ending::BodyBudget => Some("body_budget"),
        }
    }
}

/// Descriptors a relayed connection costs once it has sent a byte: the client's, the guard's
/// upstream end, Rocket's (a silent one costs only the first).
pub const DESCRIPTORS_PER_CONNECTION: u64 = 3;

/// How long a closing connection keeps draining what the client still sends.
const LINGER: Duration = Duration::from_secs(2);

/// The same for a client refused over the cap.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// Descriptors kept free for files, the listeners and the runtime.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft descriptor limit towards the hard one as far as `wanted` connections need,
/// and returns how many connections the resulting limit allows (at most `wanted`).
pub fn fit_connection_cap(wanted: usize) -> usize {
    let need = wanted as u64 * DESCRIPTORS_PER_CONNECTION + RESERVED_DESCRIPTORS;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read or write the struct passed by pointer.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return wanted;
        }
        if limit.rlim_cur < need {
            let raised = libc::rlimit {
                rlim_cur: need.min(limit.rlim_max),
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = raised.rlim_cur;
            }
        }
        limit.rlim_cur
    };
    let fits = soft.saturating_sub(RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_CONNECTION;
    wanted.min(fits as usize).max(1)
}

/// What the guard needs besides its listener.
pub struct Guard {
    /// Rocket's loopback address.
    pub upstream: SocketAddr,
    /// Limits applied to every client connection.
    pub limits: GuardLimits,
    /// Connections refused or cut, by reason (`tympan_connections_closed_total`).
    pub closed: IntCounterVec,
    /// The health probes the guard answers are counted with Rocket's requests.
    pub http: HttpMetrics,
    /// Rocket's runtime: relayed connections run on its workers.
    pub workers: Handle,
    /// Beaten by Rocket's runtime ([`Heartbeat::keep_beating`]).
    pub heartbeat: Arc<Heartbeat>,
}

/// The guard's thread; dropping it stops accepting and frees the public port.
pub struct GuardThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for GuardThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts clients on `listener` on a thread of its own until the returned [`GuardThread`] is
/// dropped. Health probes are answered there; every other connection is relayed to Rocket on
/// Rocket's runtime. Accepting apart from the request workers keeps the probes' answer time
/// that of a bare thread while the workers relay uploads (`docs/reliability.md`).
pub fn start(listener: std::net::TcpListener, guard: Guard) -> std::io::Result<GuardThread> {
    listener.set_nonblocking(true)?;
    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("tympan-guard".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else {
                    tracing::error!("the connection guard could not take its listener");
                    return;
                };
                rocket::tokio::select! {
                    _ = accept(listener, Arc::new(guard)) => {}
                    _ = stopped => {}
                }
            });
        })?;
    Ok(GuardThread {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Accepts clients for ever; counts what it refuses or cuts in `closed` (labelled by reason).
async fn accept(listener: TcpListener, guard: Arc<Guard>) {
    let slots = Arc::new(Semaphore::new(guard.limits.max_connections));
    let budget = Arc::new(BodyBudget::new(guard.limits.body_budget));
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            // Out of descriptors or a connection reset before accept: wait a little, go on.
            Err(_) => {
                rocket::tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            guard.closed.with_label_values(&["connection_cap"]).inc();
            rocket::tokio::spawn(refuse(client));
            continue;
        };
        let guard = Arc::clone(&guard);
        let budget = Arc::clone(&budget);
        rocket::tokio::spawn(serve_client(client, guard, budget, permit));
    }
}

impl Guard {
    fn count(&self, ending: std::io::Result<Ending>) {
        if let Ok(Some(reason)) = ending.map(|e| e.reason()) {
            self.closed.with_label_values(&[reason]).inc();
        }
    }
}

/// Waits for a client's first bytes: a health probe is answered here, anything else is relayed
/// on Rocket's runtime, which then holds the connection's slot (`permit`) until the relay ends.
async fn serve_client(
    client: TcpStream,
    guard: Arc<Guard>,
    budget: Arc<BodyBudget>,
    permit: OwnedSemaphorePermit,
) {
    // Until its first byte a client costs one descriptor and no buffers or upstream connection,
    // so silent connections are cheap while they wait for the idle timeout.
    // (`readable()` reports a fresh socket ready at once; `peek` waits for a byte.)
    let mut head = [0u8; 1024];
    let n = match timeout(guard.limits.idle, client.peek(&mut head)).await {
        Err(_) => return guard.count(Ok(Ending::Idle)),
        Ok(Ok(n)) if n > 0 => n,
        Ok(_) => return,
    };
    if is_health_probe(&head[..n]) {
        return answer_health(client, &mut head[..n], &guard).await;
    }
    let Ok(client) = client.into_std() else {
        return;
    };
    let workers = guard.workers.clone();
    // Rocket's runtime gone (shutting down) drops the relay, and the connection with it.
    workers.spawn(async move {
        let ending = match TcpStream::from_std(client) {
            Ok(client) => relay(client, &guard, &budget).await,
            Err(e) => Err(e),
        };
        guard.count(ending);
        drop(permit);
    });
}

/// Answers the health probe whose head, as long as `head`, the client has sent (`head` is
/// overwritten), and closes.
async fn answer_health(mut client: TcpStream, head: &mut [u8], guard: &Guard) {
    let started = Instant::now();
    let (status, answer) = health_answer(&guard.heartbeat);
    let (mut rx, mut tx) = client.split();
    // The head is taken off the socket first: closing with it unread would reset the answer.
    if rx.read_exact(head).await.is_err()
        || write_within(&mut tx, &answer, guard.limits.idle)
            .await
            .is_err()
    {
        return;
    }
    guard
        .http
        .observe("/health", status, started.elapsed().as_secs_f64());
    linger(&mut tx, &mut rx, head, REFUSAL_LINGER).await;
}

/// A complete HTTP/1.1 answer with the API's JSON error body, closing the connection. A 503
/// tells the client when to retry.
fn error_response(status: &str, error: &str, detail: &str) -> Vec<u8> {
    let retry = if status.starts_with("503") {
        "retry-after: 1\r\n"
    } else {
        ""
    };
    let body = serde_json::to_string(&ErrorBody {
        error: error.into(),
        detail: detail.into(),
        job: None,
    })
    .expect("a struct of strings serialises");
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         {retry}connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn refuse(mut client: TcpStream) {
    let answer = error_response(
        "503 Service Unavailable",
        "too_many_connections",
        "the server holds as many connections as it allows; retry shortly",
    );
    let (mut rx, mut tx) = client.split();
    if timeout(Duration::from_secs(1), tx.write_all(&answer))
        .await
        .is_ok()
    {
        // Short: refused clients are not counted against the cap while they linger.
        linger(&mut tx, &mut rx, &mut [0u8; 1024], REFUSAL_LINGER).await;
    }
}

/// Relays a client that has sent its first bytes to Rocket, under the guard's limits.
async fn relay(
    mut client: TcpStream,
    guard: &Guard,
    budget: &BodyBudget,
) -> std::io::Result<Ending> {
    let limits = guard.limits;
    let server = TcpStream::connect(guard.upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client_rx, mut client_tx) = client.split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    let mut last_traffic = Instant::now();
    let mut unanswered_since: Option<Instant> = None;
    let mut request = framing::RequestFraming::default();
    let mut share = BudgetShare { budget, held: 0 };
    let mut client_done = false;
    loop {
        // A request received whole and not answered is being served: no idle timeout then.
        let serving = unanswered_since.is_some() && request.received();
        let idle_at = last_traffic + limits.idle;
        let request_at = unanswered_since.map(|t| t + limits.request);
        let deadline = match request_at {
            Some(at) if serving => at,
            Some(at) => at.min(idle_at),
            None => idle_at,
        };
        rocket::tokio::select! {
            read = client_rx.read(&mut from_client), if !client_done => {
                let n = read?;
                if n == 0 {
                    // The client finished sending; let the server finish answering.
                    client_done = true;
                    server_tx.shutdown().await?;
                    continue;
                }
                if !share.take(n) {
                    let answer = error_response(
                        "503 Service Unavailable",
                        "busy",
                        "the server holds as many uploads in progress as it allows; retry shortly",
                    );
                    let _ = timeout(Duration::from_secs(1), client_tx.write_all(&answer)).await;
                    // The server's end closes at once, so it drops the part it holds.
                    drop((server_rx, server_tx));
                    share.release();
                    linger(&mut client_tx, &mut client_rx, &mut from_client, LINGER).await;
                    return Ok(Ending::BodyBudget);
                }
                if write_within(&mut server_tx, &from_client[..n], limits.idle).await.is_err() {
                    // The server stopped reading (it answered early, e.g. 413 on an oversized
                    // upload): stop forwarding, but still deliver what it answered.
                    client_done = true;
                    continue;
                }
                request.feed(&from_client[..n]);
                last_traffic = Instant::now();
                unanswered_since.get_or_insert(last_traffic);
            }
            read = server_rx.read(&mut from_server) => {
                // A reset after the answer ends the exchange like a close does.
                let n = read.unwrap_or(0);
                if n == 0 {
                    linger(&mut client_tx, &mut client_rx, &mut from_client, LINGER).await;
                    return Ok(Ending::Closed);
                }
                write_within(&mut client_tx, &from_server[..n], limits.idle).await?;
                last_traffic = Instant::now();
                unanswered_since = None;
                // An answer means the server is done with the request it held.
                share.release();
            }
            _ = sleep_until(deadline) => {
                if request_at.is_some_and(|at| at <= Instant::now()) {
                    let answer = error_response(
                        "408 Request Timeout",
                        "request_timeout",
                        "the request was not received and answered in time",
                    );
                    let _ = timeout(Duration::from_secs(1), client_tx.write_all(&answer)).await;
                    linger(&mut client_tx, &mut client_rx, &mut from_client, LINGER).await;
                    return Ok(Ending::RequestTimeout);
                }
                if !serving {
                    return Ok(Ending::Idle);
                }
            }
        }
    }
}

/// Ends a connection without destroying the answer just sent. Closing with unread client bytes
/// makes the kernel send a reset, which can discard the answer in flight (a 413 while the upload
/// is still arriving): send FIN, then drain what the client still sends for a bounded time.
async fn linger<W, R>(tx: &mut W, rx: &mut R, buf: &mut [u8], limit: Duration)
where
    W: AsyncWriteExt + Unpin,
    R: AsyncReadExt + Unpin,
{
    let _ = timeout(limit, async {
        let _ = tx.shutdown().await;
        while matches!(rx.read(buf).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Writes all of `bytes`, or fails when the peer does not take them within `limit`.
async fn write_within<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    bytes: &[u8],
    limit: Duration,
) -> std::io::Result<()> {
    timeout(limit, w.write_all(bytes))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "peer stopped reading"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_are_complete_http() {
        let a = String::from_utf8(error_response("408 Request Timeout", "e", "d")).unwrap();
        let (head, body) = a.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "e");
    }

    #[test]
    fn the_cap_fits_the_descriptor_limit() {
        let cap = fit_connection_cap(usize::MAX / 8);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert!(cap as u64 * DESCRIPTORS_PER_CONNECTION + RESERVED_DESCRIPTORS <= limit.rlim_cur);
        assert_eq!(fit_connection_cap(10), 10);
    }
}
