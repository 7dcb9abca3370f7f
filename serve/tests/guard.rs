//! The connection guard's timeouts against an upstream the test controls: the upstream holds a
//! request until the test releases it, so "the server is still working" lasts exactly as long as
//! the test says, with margins of whole idle timeouts rather than tuned sleeps.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{IntCounterVec, Opts};
use rocket::tokio::runtime::{Handle, Runtime};
use tympan_serve::guard::{self, GuardLimits};
use tympan_serve::metrics::Metrics;
use tympan_testkit::poll::wait_for;

const IDLE: Duration = Duration::from_secs(1);

/// The guard's body budget in these tests.
const BUDGET: u64 = 100_000;

/// An upstream that reads one request head, reports it, and answers `200 ok` once released.
struct Upstream {
    address: SocketAddr,
    received: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

impl Upstream {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (received_tx, received) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            received_tx.send(()).unwrap();
            if release_rx.recv().is_ok() {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            }
        });
        Self {
            address,
            received,
            release,
        }
    }
}

/// A guard in front of `upstream` relaying on `workers`: its address, what it counts, and the
/// running guard (stopped when dropped).
struct Running {
    address: SocketAddr,
    closed: IntCounterVec,
    metrics: Metrics,
    _thread: guard::GuardThread,
}

fn guard_with(upstream: SocketAddr, request: Duration, workers: Handle) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let closed = IntCounterVec::new(Opts::new("closed", "closed"), &["reason"]).unwrap();
    let metrics = Metrics::new();
    let thread = guard::start(
        listener,
        guard::Guard {
            upstream,
            limits: GuardLimits {
                max_connections: 16,
                idle: IDLE,
                request,
                body_budget: BUDGET,
            },
            closed: closed.clone(),
            http: metrics.http.clone(),
            workers,
            heartbeat: guard::Heartbeat::new(),
        },
    )
    .unwrap();
    Running {
        address,
        closed,
        metrics,
        _thread: thread,
    }
}

/// Rocket's runtime in these tests: one worker.
fn workers() -> Runtime {
    rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// The guard in front of `upstream`, relaying on a runtime kept for the test process's life;
/// its address and closure counter.
fn guard(upstream: SocketAddr, request: Duration) -> (SocketAddr, IntCounterVec) {
    let workers: &'static Runtime = Box::leak(Box::new(workers()));
    let running = guard_with(upstream, request, workers.handle().clone());
    let out = (running.address, running.closed.clone());
    std::mem::forget(running);
    out
}

/// Whether the guard counts one connection closed for `reason` (it counts once the connection's
/// linger, after the close the client sees, is over).
fn counted_once(closed: &IntCounterVec, reason: &str) -> bool {
    wait_for(Duration::from_secs(10), || {
        closed.with_label_values(&[reason]).get() == 1
    })
}

/// Everything the guard sends until it closes (or `limit` passes).
fn read_all(stream: &mut TcpStream, limit: Duration) -> String {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_request_the_server_is_working_on_is_never_cut_for_idling() {
    let upstream = Upstream::start();
    let (address, closed) = guard(upstream.address, Duration::from_secs(60));
    let mut client = TcpStream::connect(address).unwrap();
    client
        .write_all(b"POST /admin/retrain HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody")
        .unwrap();
    upstream.received.recv().unwrap();
    // Three idle timeouts with no byte either way while the upstream works.
    std::thread::sleep(IDLE * 3);
    assert_eq!(closed.with_label_values(&["idle"]).get(), 0, "cut as idle");
    upstream.release.send(()).unwrap();
    let answer = read_all(&mut client, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
    assert!(answer.ends_with("ok"), "{answer:?}");
}

#[test]
fn a_request_still_arriving_is_cut_for_idling() {
    let upstream = Upstream::start();
    let (address, closed) = guard(upstream.address, Duration::from_secs(60));
    let mut client = TcpStream::connect(address).unwrap();
    // The head and 3 of the 10 body bytes announced, then silence.
    client
        .write_all(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    upstream.received.recv().unwrap();
    let started = Instant::now();
    let answer = read_all(&mut client, Duration::from_secs(30));
    assert_eq!(answer, "", "closed without an answer");
    assert!(started.elapsed() < Duration::from_secs(30), "never closed");
    assert!(counted_once(&closed, "idle"));
}

#[test]
fn a_request_served_too_long_gets_the_408_of_the_request_timeout() {
    let upstream = Upstream::start();
    let (address, closed) = guard(upstream.address, IDLE * 2);
    let mut client = TcpStream::connect(address).unwrap();
    client
        .write_all(b"GET /report HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    upstream.received.recv().unwrap();
    let answer = read_all(&mut client, Duration::from_secs(30));
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(answer.contains("request_timeout"), "{answer:?}");
    drop(client);
    assert!(counted_once(&closed, "request_timeout"));
    assert_eq!(closed.with_label_values(&["idle"]).get(), 0);
    drop(upstream.release);
}

/// An upstream that accepts every connection, reads all it is sent and never answers (a server
/// holding uploads in progress); the bytes each connection delivered, in accept order.
fn holding_upstream() -> (SocketAddr, Arc<Mutex<Vec<usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let counts = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let index = {
                let mut c = counts.lock().unwrap();
                c.push(0);
                c.len() - 1
            };
            let counts = Arc::clone(&counts);
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    counts.lock().unwrap()[index] += n;
                }
            });
        }
    });
    (address, received)
}

/// The head and all but the last byte of a `len`-byte raw upload.
fn stalled_upload(len: usize) -> Vec<u8> {
    let mut bytes = format!(
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: {len}\r\n\r\n"
    )
    .into_bytes();
    bytes.resize(bytes.len() + len - 1, b'a');
    bytes
}

#[test]
fn uploads_in_progress_beyond_the_body_budget_get_503_and_the_budget_comes_back() {
    let (upstream, received) = holding_upstream();
    let (address, closed) = guard(upstream, Duration::from_secs(60));
    let delivered = |i: usize| received.lock().unwrap().get(i).copied().unwrap_or(0);
    let upload = stalled_upload(60_000);

    let mut first = TcpStream::connect(address).unwrap();
    first.write_all(&upload).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || delivered(0) == upload.len()),
        "the first upload was not relayed whole"
    );
    // 60 kB held, 40 kB left: the second upload cannot fit.
    let mut second = TcpStream::connect(address).unwrap();
    let _ = second.write_all(&upload);
    let answer = read_all(&mut second, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    assert!(answer.contains("retry-after: 1"), "{answer:?}");
    assert!(answer.contains("\"busy\""), "{answer:?}");
    assert!(counted_once(&closed, "body_budget"));

    // The first client gives up; once the guard ends its relay (the upload can no longer
    // complete: idle), its share comes back and a third upload fits.
    drop(first);
    assert!(counted_once(&closed, "idle"));
    let mut third = TcpStream::connect(address).unwrap();
    third.write_all(&upload).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || delivered(2) == upload.len()),
        "the budget was not given back: the third upload got {} of {} bytes through",
        delivered(2),
        upload.len()
    );
    assert_eq!(closed.with_label_values(&["body_budget"]).get(), 1);
}

/// Health probes are answered on the guard's thread while Rocket's runtime is stuck, and say so
/// only once its heartbeat is silent; a request for the server waits for the runtime and goes
/// through once it runs again. Relayed like any request, the probe got no answer at all.
#[test]
fn health_is_answered_while_the_request_workers_are_stuck() {
    let upstream = Upstream::start();
    let workers = workers();
    let (unstick, stuck) = mpsc::channel::<()>();
    // Blocks the only worker thread, as a runaway task would.
    workers.spawn(async move {
        let _ = stuck.recv();
    });
    let running = guard_with(
        upstream.address,
        Duration::from_secs(60),
        workers.handle().clone(),
    );
    let address = running.address;
    for _ in 0..3 {
        let mut probe = TcpStream::connect(address).unwrap();
        probe
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let answer = read_all(&mut probe, Duration::from_secs(5));
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
        assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer:?}");
    }
    let waiting = std::thread::spawn(move || {
        let mut client = TcpStream::connect(address).unwrap();
        client
            .write_all(b"GET /model HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        read_all(&mut client, Duration::from_secs(30))
    });
    assert!(
        upstream.received.recv_timeout(IDLE / 2).is_err(),
        "relayed while the workers were stuck"
    );
    unstick.send(()).unwrap();
    upstream
        .received
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    upstream.release.send(()).unwrap();
    let answer = waiting.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
    let counted = running.metrics.render();
    assert!(
        counted.contains(r#"tympan_http_requests_total{endpoint="/health",status="200"} 3"#),
        "{counted}"
    );
}
