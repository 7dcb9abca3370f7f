//! Crash consistency: `kill -9` the server at random moments while feedback is appended and
//! retrainings write artifacts, restart it, and check that it starts, that `prod_data.csv` has no
//! torn row and holds every acknowledged row, at the position and with the content the server
//! answered, and that `current` names a complete model that is not older than any acknowledged
//! promotion.
//!
//! Nothing here depends on how fast the machine is:
//! - every round sends at most [`SENDS_PER_ROUND`] feedback rows, so the table (and with it the
//!   retraining time) stays bounded however long the rounds take;
//! - retrainings are asked for with `POST /admin/retrain` and followed at the job it answers
//!   until the job has finished: each retraining round first waits for one to finish (so versions
//!   are saved by construction), then keeps retraining back to back and kills at a random moment
//!   within the measured duration of one retraining, i.e. during the next retraining or its
//!   artifact writes.
//!
//! Every answer is either a 2xx or a transport error after the kill: an HTTP error status, or a
//! transport error while the server was alive, fails the test.

mod common;
mod faults;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{clip, multipart, retrain_and_wait, TestServer};
use faults::Tmpfs;
use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_core::evaluation::SplitMix64;
use tympan_core::registry::ModelRegistry;

/// Kills, alternately among appends only and during retrainings (with appends going on). Each
/// retraining round waits for a whole retraining and then dies inside the next one, so it lasts
/// about two retrainings (about 4 s each in the test profile on 2 busy cores): 30 kills took 110 s,
/// 12 keep the whole file under a minute. Torn rows, failed writes and syncs, and a full disk are
/// produced on purpose by the fault tests below, not left to the luck of a kill.
const KILLS: usize = 12;
/// Feedback requests per round (all senders together): bounds the table at about
/// `KILLS * SENDS_PER_ROUND` rows, so a retraining takes about as long in the last round as in the
/// first.
const SENDS_PER_ROUND: usize = 40;
const SENDERS: usize = 4;
const TOKEN: &str = "crash-test-admin-token";
/// Longer than the server's own request timeout (60 s): a request only ends in a timeout if the
/// server hangs, and that fails the test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// A recording sent as feedback, with its true digit and the vector the server must store for it.
struct Clip {
    bytes: Vec<u8>,
    target: String,
    vector: Vec<String>,
}

/// The clips the tests send, with the width of the embedding.
struct Clips {
    list: Vec<Clip>,
    dim: usize,
}

impl Clips {
    /// Twenty FSDD recordings (the ten digits by two speakers), each with the vector the server
    /// must store for it: the embedding is fitted at the server's first start and never changes.
    fn new(server: &TestServer) -> Self {
        let embedder = Embedder::load(&server.path("artifacts"), AudioLimits::default()).unwrap();
        let list = ["george", "jackson"]
            .iter()
            .flat_map(|speaker| (0..10).map(move |d| (d, format!("{d}_{speaker}_20.wav"))))
            .map(|(d, name)| {
                let bytes = clip(&name);
                let vector = embedder
                    .embed_bytes(&bytes, None)
                    .unwrap()
                    .vector
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                Clip {
                    bytes,
                    target: d.to_string(),
                    vector,
                }
            })
            .collect();
        Self {
            list,
            dim: embedder.dim(),
        }
    }
}

/// Which clip a stored vector belongs to.
fn index_of(clips: &[Clip]) -> HashMap<&[String], usize> {
    let clip_of: HashMap<&[String], usize> = clips
        .iter()
        .enumerate()
        .map(|(i, c)| (c.vector.as_slice(), i))
        .collect();
    assert_eq!(clip_of.len(), clips.len(), "two clips embed alike");
    clip_of
}

/// What the server answered to one feedback request.
struct Ack {
    round: usize,
    /// 0-based data row (the answer's `rows` counts the rows after this one).
    row: usize,
    clip: usize,
    prediction: String,
}

/// How a request ended.
enum Sent {
    Answered(serde_json::Value),
    /// A transport error after the kill: `in_flight` when the connection was already up.
    Killed {
        in_flight: bool,
    },
}

/// A fresh connection per request (no pool): a pooled connection closed by the server between
/// requests could otherwise pass for a kill or for a server fault.
fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .max_idle_connections(0)
        .timeout(REQUEST_TIMEOUT)
        .build()
}

/// How a request ended; only a 2xx or a transport error after `killing` was set are accepted.
fn send(what: &str, killing: &AtomicBool, result: Result<ureq::Response, ureq::Error>) -> Sent {
    match result {
        Ok(resp) if (200..300).contains(&resp.status()) => Sent::Answered(
            resp.into_json()
                .unwrap_or_else(|e| panic!("{what}: unreadable 200 answer: {e}")),
        ),
        Ok(resp) => panic!("{what}: status {}", resp.status()),
        Err(ureq::Error::Status(code, resp)) => {
            let body = resp.into_string().unwrap_or_default();
            panic!("{what}: the server answered HTTP {code}: {body}")
        }
        Err(ureq::Error::Transport(t)) => {
            assert!(
                killing.load(Ordering::SeqCst),
                "{what}: transport error while the server was alive: {t}"
            );
            Sent::Killed {
                in_flight: t.kind() != ureq::ErrorKind::ConnectionFailed,
            }
        }
    }
}

/// Starts a retraining and follows its job until it has finished: its outcome, or `Killed` when
/// the server died meanwhile (`in_flight` once the job was accepted).
fn retrain(what: &str, killing: &AtomicBool, server_url: &str) -> Sent {
    let agent = agent();
    let auth = format!("Bearer {TOKEN}");
    let start = agent
        .post(&format!("{server_url}/admin/retrain"))
        .set("Authorization", &auth)
        .call();
    let job = match send(what, killing, start) {
        Sent::Answered(job) => job,
        killed => return killed,
    };
    let id = job["id"].as_str().expect("a job id");
    let job_url = format!("{server_url}/admin/retrain/{id}");
    loop {
        let state = agent.get(&job_url).set("Authorization", &auth).call();
        let Sent::Answered(job) = send(what, killing, state) else {
            return Sent::Killed { in_flight: true };
        };
        match job["state"].as_str() {
            Some("succeeded") => return Sent::Answered(job["outcome"].clone()),
            Some("queued" | "running") => std::thread::sleep(Duration::from_millis(20)),
            _ => panic!("{what}: {job}"),
        }
    }
}

/// The header and data rows of `prod_data.csv`, rows of any length (checked by the caller).
fn read_log(path: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let header = r.headers().unwrap().clone();
    let rows = r.records().map(|r| r.unwrap()).collect();
    (header, rows)
}

#[test]
fn kill_9_at_random_moments_loses_nothing_acknowledged() {
    let test_start = Instant::now();
    let mut server = TestServer::start(&[("TYMPAN_ADMIN_TOKEN", TOKEN)]);
    let Clips { list: clips, dim } = Clips::new(&server);
    let clip_of = index_of(&clips);

    let acks: Mutex<Vec<Ack>> = Mutex::new(Vec::new());
    // Retrainings the server answered: (challenger, serving).
    let retrained: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let mut retrain_seconds: Vec<f64> = Vec::new();
    let mut kills_inside_retraining = 0;
    let mut rng = SplitMix64::new(99);
    for round in 0..KILLS {
        let retraining_round = round % 2 == 1;
        let killing = AtomicBool::new(false);
        let budget = AtomicUsize::new(SENDS_PER_ROUND);
        let feedback_url = server.url("/feedback");
        let server_url = server.url("");
        // Appends are paced more slowly in retraining rounds so they go on during the retraining.
        let pace = Duration::from_millis(if retraining_round { 150 } else { 40 });
        std::thread::scope(|s| {
            for t in 0..SENDERS {
                let (url, clips, killing, budget, acks) =
                    (&feedback_url, &clips, &killing, &budget, &acks);
                s.spawn(move || {
                    let agent = agent();
                    let mut i = t;
                    while budget
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                        .is_ok()
                    {
                        let c = i % clips.len();
                        let (ct, body) =
                            multipart(&clips[c].bytes, &[("target", &clips[c].target)]);
                        let what = format!("round {round}: feedback");
                        let answer = match send(
                            &what,
                            killing,
                            agent.post(url).set("Content-Type", &ct).send_bytes(&body),
                        ) {
                            Sent::Answered(a) => a,
                            Sent::Killed { .. } => break,
                        };
                        let rows = answer["rows"].as_u64().expect("`rows` in the answer");
                        let prediction = answer["prediction"].as_str().expect("`prediction`");
                        acks.lock().unwrap().push(Ack {
                            round,
                            row: usize::try_from(rows).unwrap() - 1,
                            clip: c,
                            prediction: prediction.to_string(),
                        });
                        i += SENDERS;
                        std::thread::sleep(pace);
                    }
                });
            }
            if retraining_round {
                // One whole retraining first (its version is on disk once it answers), timed.
                let started = Instant::now();
                let what = format!("round {round}: retraining");
                let Sent::Answered(report) = retrain(&what, &killing, &server_url) else {
                    unreachable!("not killed yet")
                };
                let seconds = started.elapsed();
                retrain_seconds.push(seconds.as_secs_f64());
                record_retraining(&retrained, &report);
                // Then retrainings back to back, killed at a random moment of one retraining's
                // duration: inside the next retraining, or its artifact and report writes.
                let (url, killing, retrained) = (&server_url, &killing, &retrained);
                let looper = s.spawn(move || loop {
                    let what = format!("round {round}: retraining");
                    match retrain(&what, killing, url) {
                        Sent::Answered(report) => record_retraining(retrained, &report),
                        Sent::Killed { in_flight } => return in_flight,
                    }
                });
                let lifetime = seconds.mul_f64((rng.next_u64() % 1000) as f64 / 1000.0);
                std::thread::sleep(lifetime);
                killing.store(true, Ordering::SeqCst);
                server.kill();
                if looper.join().unwrap() {
                    kills_inside_retraining += 1;
                }
            } else {
                // Among appends only.
                std::thread::sleep(Duration::from_millis(50 + rng.next_u64() % 450));
                killing.store(true, Ordering::SeqCst);
                server.kill();
            }
        });

        // Before any restart can tidy up: `current` names a version that loads completely, and so
        // does every version directory in place, among them every retraining that was answered.
        let registry = ModelRegistry::new(&server.path("artifacts"));
        let current = registry.current().unwrap().expect("a current model");
        registry
            .load(&current)
            .unwrap_or_else(|e| panic!("round {round}: current {current} is incomplete: {e}"));
        let versions = registry.versions().unwrap();
        for version in &versions {
            registry
                .load(version)
                .unwrap_or_else(|e| panic!("round {round}: {version} is incomplete: {e}"));
        }
        for (challenger, serving) in retrained.lock().unwrap().iter() {
            assert!(
                versions.contains(challenger),
                "round {round}: acknowledged challenger {challenger} is not in the registry"
            );
            // Versions are numbered in order and nothing here rolls back: `current` can be newer
            // than an answered promotion (a later one not yet answered), never older.
            assert!(
                current >= *serving,
                "round {round}: current is {current}, but {serving} was served before the kill"
            );
        }

        server.launch();
        check_log(
            &server.path("data/prod_data.csv"),
            dim,
            &clips,
            &clip_of,
            &acks.lock().unwrap(),
            round,
        );
        // The restarted server counts the rows that are on disk.
        let on_disk = read_log(&server.path("data/prod_data.csv")).1.len() as u64;
        let model: serde_json::Value = agent()
            .get(&server.url("/model"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        assert_eq!(
            model["feedback_rows"].as_u64(),
            Some(on_disk),
            "round {round}: the restarted server miscounts the log"
        );
        // Prediction works with whatever `current` names after the crash.
        let (status, body) = common::post(&server.url("/predict"), "audio/wav", &clips[3].bytes);
        assert_eq!(status, 200, "round {round}: {body}");
    }

    let versions = ModelRegistry::new(&server.path("artifacts"))
        .versions()
        .unwrap();
    let retrained = retrained.into_inner().unwrap();
    let acks = acks.into_inner().unwrap();
    let mean = retrain_seconds.iter().sum::<f64>() / retrain_seconds.len() as f64;
    println!(
        "{KILLS} kills survived in {:.0} s: {} rows acknowledged, {} on disk; {} retrainings \
         answered (mean {mean:.2} s), {} versions; {kills_inside_retraining} of {} retraining \
         rounds killed with a retraining request in flight",
        test_start.elapsed().as_secs_f64(),
        acks.len(),
        read_log(&server.path("data/prod_data.csv")).1.len(),
        retrained.len(),
        versions.len(),
        KILLS / 2,
    );
    // Each retraining round waited for one answered retraining, whose version is checked above.
    let distinct: HashSet<&String> = retrained.iter().map(|(c, _)| c).collect();
    assert!(
        distinct.len() >= KILLS / 2,
        "{} retrainings answered",
        distinct.len()
    );
    assert!(
        versions.len() > distinct.len(),
        "the initial model and every challenger"
    );
}

fn record_retraining(retrained: &Mutex<Vec<(String, String)>>, report: &serde_json::Value) {
    let field = |k: &str| {
        report[k]
            .as_str()
            .unwrap_or_else(|| panic!("retraining answer without `{k}`: {report}"))
            .to_string()
    };
    retrained
        .lock()
        .unwrap()
        .push((field("challenger"), field("serving")));
}

/// Every row on disk is whole and is one that was sent (a known clip's vector with its digit as
/// target); every acknowledged row sits at the position the server answered, with the clip, target
/// and prediction of that request. Rows written but not answered (killed in between) are fine.
fn check_log(
    path: &Path,
    dim: usize,
    clips: &[Clip],
    clip_of: &HashMap<&[String], usize>,
    acks: &[Ack],
    round: usize,
) {
    let (header, rows) = read_log(path);
    let width = header.len();
    assert_eq!(width, dim + 2, "round {round}: header {header:?}");
    assert!(
        header
            .iter()
            .take(dim)
            .enumerate()
            .all(|(i, h)| h == format!("PCA_{}", i + 1))
            && &header[dim] == "target"
            && &header[dim + 1] == "prediction",
        "round {round}: header {header:?}"
    );
    let mut sent_clip = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            r.len(),
            width,
            "round {round}: row {i} has {} fields, the header {width} (torn row survived a restart?)",
            r.len()
        );
        let vector: Vec<String> = r.iter().take(dim).map(str::to_string).collect();
        let c = *clip_of
            .get(vector.as_slice())
            .unwrap_or_else(|| panic!("round {round}: row {i} holds a vector no request sent"));
        assert_eq!(
            &r[dim], clips[c].target,
            "round {round}: row {i} has clip {c}'s vector with another target"
        );
        sent_clip.push(c);
    }
    let mut seen = HashSet::new();
    for a in acks {
        assert!(
            seen.insert(a.row),
            "round {round}: row {} acknowledged twice",
            a.row
        );
        assert!(
            a.row < rows.len(),
            "round {round}: row {} (acknowledged in round {}) is missing: {} rows on disk",
            a.row,
            a.round,
            rows.len()
        );
        assert_eq!(
            sent_clip[a.row], a.clip,
            "round {round}: row {} (acknowledged in round {}) holds clip {}, the request sent clip {}",
            a.row, a.round, sent_clip[a.row], a.clip
        );
        assert_eq!(
            &rows[a.row][dim + 1],
            a.prediction,
            "round {round}: row {} (acknowledged in round {}) stores another prediction",
            a.row,
            a.round
        );
    }
}

/// Sends clip `c` as feedback. A 200 is recorded as acknowledged, at the row it names; a 503 must
/// be the storage error, telling the client nothing of the server's files; any other answer, or a
/// transport error, fails the test.
fn feed(server: &TestServer, clips: &[Clip], c: usize, acks: &mut Vec<Ack>) -> u16 {
    let (ct, body) = multipart(&clips[c].bytes, &[("target", &clips[c].target)]);
    let (status, answer) = common::post(&server.url("/feedback"), &ct, &body);
    match status {
        200 => acks.push(Ack {
            round: 0,
            row: usize::try_from(answer["rows"].as_u64().expect("`rows`")).unwrap() - 1,
            clip: c,
            prediction: answer["prediction"].as_str().expect("`prediction`").into(),
        }),
        503 => {
            assert_eq!(answer["error"], "storage_unavailable", "{answer}");
            let detail = answer["detail"].as_str().unwrap();
            assert!(
                !detail.contains('/') && !detail.contains("prod_data"),
                "{detail}"
            );
        }
        _ => panic!("feedback of clip {c} answered {status}: {answer}"),
    }
    status
}

/// The log holds exactly the acknowledged rows, each whole, at the row number and with the content
/// of its request, and ends with a whole line (one client: nothing is written unacknowledged).
fn check_exact(log: &Path, clips: &Clips, acks: &[Ack]) {
    check_log(log, clips.dim, &clips.list, &index_of(&clips.list), acks, 0);
    assert_eq!(
        read_log(log).1.len(),
        acks.len(),
        "rows on disk, rows acknowledged"
    );
    assert!(ends_with_newline(log), "the log ends inside a row");
}

fn ends_with_newline(path: &Path) -> bool {
    std::fs::read(path).unwrap().last() == Some(&b'\n')
}

/// Relaunches the server with the fault plan of `inject.c` (or none), counted from this start.
fn relaunch_injecting(server: &mut TestServer, plan: Option<&str>) {
    server.kill();
    for (key, value) in faults::inject_env("prod_data.csv", plan.unwrap_or_default()) {
        server.set_env(key, plan.map(|_| value.as_str()));
    }
    server.launch();
}

/// EIO on a write, on an fdatasync, and torn writes (half a row written, then EIO) whose cut back
/// fails in turn (ftruncate, or fsync): each is a 503, the next append repairs the log, the file
/// holds exactly the acknowledged rows, reads never see a partial row, and a kill while the log
/// is damaged restarts to the same rows.
#[test]
fn io_errors_and_torn_writes_store_exactly_the_acknowledged_rows() {
    let mut server = TestServer::start_json_logged(&[]);
    let clips = Clips::new(&server);
    let log = server.path("data/prod_data.csv");
    let mut acks = Vec::new();
    let feed_next = |server: &TestServer, acks: &mut Vec<Ack>| {
        let c = acks.len() % clips.list.len();
        feed(server, &clips.list, c, acks)
    };

    // Calls on prod_data.csv from this start (its header is written already): an append is one
    // write and one fdatasync; a torn write is a short write, then the write of the rest (EIO);
    // a cut back is one ftruncate and one fsync, and so is a repair.
    //   feedback 1-3: writes 1-3, fdatasyncs 1-3                      200 200 200
    //   4: write 4 EIO; cut back (ftruncate 1, fsync 1)              503
    //   5: write 5, fdatasync 4 EIO; cut back (ftruncate 2, fsync 2) 503
    //   6: writes 6-7 torn; ftruncate 3 EIO: damaged                 503
    //   7: repair (ftruncate 4, fsync 3); write 8, fdatasync 5       200
    //   8: writes 9-10 torn; ftruncate 5, fsync 4 EIO: damaged       503
    //   9: repair (ftruncate 6, fsync 5); write 11, fdatasync 6      200
    //  10: write 12, fdatasync 7                                     200
    relaunch_injecting(
        &mut server,
        Some("write@4=eio,fdatasync@4=eio,write@6=short,ftruncate@3=eio,write@9=short,fsync@4=eio"),
    );
    let mut statuses = Vec::new();
    for i in 0..10 {
        statuses.push(feed_next(&server, &mut acks));
        if i == 5 {
            // Half a row past the stored rows, and the log could not be cut back: reads still
            // see the stored rows only.
            assert!(!ends_with_newline(&log), "the torn write did not happen");
            let (status, report) = get_json(&server.url("/report.json"));
            assert_eq!(status, 200, "{report}");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 503, 503, 503, 200, 503, 200, 200]);
    check_exact(&log, &clips, &acks);

    // Killed while damaged (a torn write whose cut back failed): the restart cuts the torn row.
    relaunch_injecting(&mut server, Some("write@1=short,ftruncate@1=eio"));
    assert_eq!(feed_next(&server, &mut acks), 503);
    assert!(!ends_with_newline(&log), "the torn write did not happen");
    relaunch_injecting(&mut server, None);
    check_exact(&log, &clips, &acks);
    assert_eq!(feed_next(&server, &mut acks), 200);
    check_exact(&log, &clips, &acks);
    assert_eq!(server.metric("tympan_feedback_rows"), acks.len() as f64);

    // The operator's log names the file and the error; the client was told neither.
    let text = std::fs::read_to_string(server.path(TestServer::LOG)).unwrap();
    assert!(
        text.contains("data/prod_data.csv: the row was not stored: Input/output error"),
        "the server log does not say which file failed how"
    );
}

/// The data disk (a small tmpfs) fills during feedback: 503s, never a partial row; the rows
/// acknowledged are exactly those on disk; a retraining on full disks leaves the report files and
/// the registry as they were; appends resume once space is freed; the server restarts on a full
/// disk.
#[test]
fn a_full_disk_stores_exactly_the_acknowledged_rows_and_resumes() {
    // Data and reports on one disk, artifacts on another, to fill them one at a time.
    let (Some(data_disk), Some(model_disk)) = (Tmpfs::mount(64 << 20), Tmpfs::mount(64 << 20))
    else {
        return;
    };
    let mut server = TestServer::start_json_logged(&[("TYMPAN_ADMIN_TOKEN", TOKEN)]);
    let clips = Clips::new(&server);
    server.kill();
    let data = data_disk.copy_in(&server.path("data"));
    let artifacts = model_disk.copy_in(&server.path("artifacts"));
    let reports = data_disk.path().join("reports");
    let log = data.join("prod_data.csv");
    for (key, folder) in [
        ("TYMPAN_DATA", &data),
        ("TYMPAN_ARTIFACTS", &artifacts),
        ("TYMPAN_REPORTS", &reports),
    ] {
        server.set_env(key, Some(folder.to_str().unwrap()));
    }
    server.launch();
    let mut acks = Vec::new();
    for c in 0..3 {
        assert_eq!(feed(&server, &clips.list, c, &mut acks), 200);
    }
    // With room: a retraining writes the report files.
    assert_eq!(retrain_and_wait(&server, TOKEN)["state"], "succeeded");
    let reports_before = faults::contents(&reports);
    assert!(!reports_before.is_empty());

    data_disk.fill_leaving(16 << 10);
    let mut refused_in_a_row = 0;
    for i in 3..200 {
        refused_in_a_row = match feed(&server, &clips.list, i % clips.list.len(), &mut acks) {
            503 => refused_in_a_row + 1,
            _ => 0,
        };
        if refused_in_a_row == 3 {
            break;
        }
    }
    assert_eq!(refused_in_a_row, 3, "the disk never filled");
    check_exact(&log, &clips, &acks);
    println!(
        "data disk full with 16 KiB left: {} rows acknowledged, then 3 refused with a 503",
        acks.len() - 3
    );
    let (status, report) = get_json(&server.url("/report.json"));
    assert_eq!(status, 200, "{report}");

    // A retraining with the reports' disk full: the model is saved, the report files are not
    // replaced and nothing half-written is left.
    let registry = ModelRegistry::new(&artifacts);
    let job = retrain_and_wait(&server, TOKEN);
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(faults::contents(&reports), reports_before);
    assert!(faults::leftovers(&reports).is_empty());
    // Then with the models' disk full too: the job fails, and the registry is as it was.
    model_disk.fill_leaving(0);
    let versions = registry.versions().unwrap();
    let current = std::fs::read(artifacts.join("current")).unwrap();
    let job = retrain_and_wait(&server, TOKEN);
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(registry.versions().unwrap(), versions);
    assert_eq!(std::fs::read(artifacts.join("current")).unwrap(), current);
    for dir in [artifacts.clone(), artifacts.join("models")] {
        assert_eq!(
            faults::leftovers(&dir),
            Vec::<String>::new(),
            "{}",
            dir.display()
        );
    }
    let (status, body) = common::post(&server.url("/predict"), "audio/wav", &clips.list[0].bytes);
    assert_eq!(status, 200, "{body}");

    // Space comes back: appends resume at the next row.
    data_disk.free();
    model_disk.free();
    let stored = acks.len();
    for c in 0..5 {
        assert_eq!(feed(&server, &clips.list, c, &mut acks), 200);
    }
    assert_eq!(
        acks[stored].row, stored,
        "appends did not resume at the next row"
    );
    check_exact(&log, &clips, &acks);

    // A restart on full disks.
    data_disk.fill_leaving(0);
    model_disk.fill_leaving(0);
    server.kill();
    server.launch();
    check_exact(&log, &clips, &acks);
    assert_eq!(server.metric("tympan_feedback_rows"), acks.len() as f64);
    // Rows go on into what is left of the log's last page, then are refused.
    assert!(
        (0..20).any(|c| feed(&server, &clips.list, c, &mut acks) == 503),
        "appends go on on a full disk"
    );
    check_exact(&log, &clips, &acks);
    server.kill();
}

/// `GET`: status and JSON body.
fn get_json(url: &str) -> (u16, serde_json::Value) {
    answer_of(agent().get(url).call())
}

/// Status and JSON body of an answer; a transport error fails the test.
fn answer_of(result: Result<ureq::Response, ureq::Error>) -> (u16, serde_json::Value) {
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("no answer: {e}"),
    };
    let status = resp.status();
    (status, resp.into_json().unwrap_or(serde_json::Value::Null))
}
