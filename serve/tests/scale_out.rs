//! Scale-out end to end: `tympan-serve` replicas on loopback ports sharing one throwaway
//! PostgreSQL cluster (docs/scale-out.md). Idempotent feedback from many clients, one trainer at a
//! time, promotions reaching every replica, a trainer killed mid-retraining, and an outage of
//! the database under load.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use tympan_core::registry::ModelStore;
use tympan_data::{FeedbackStore, LabeledRow};
use tympan_pg::{PgFeedback, PgModels, PgOptions, PgStore};
use tympan_testkit::poll::wait_for;
use tympan_testkit::postgres::TestPostgres;

/// A database holding an FSDD deployment (bootstrapped in a folder, then imported), and the
/// reference rows to send as feedback.
fn deployed() -> Option<(TestPostgres, PgStore, Vec<LabeledRow>)> {
    let pg = TestPostgres::start()?;
    let store = PgStore::connect(&PgOptions::new(pg.url())).unwrap();
    let folder = tempfile::tempdir().unwrap();
    common::bootstrap(folder.path());
    let done = store
        .import_deployment(
            &folder.path().join("data"),
            &folder.path().join("artifacts"),
        )
        .unwrap();
    let reference = tympan_data::read_table(&folder.path().join("data/ref_data.csv")).unwrap();
    // Import gives the same rows back.
    assert_eq!(store.reference().unwrap().rows, reference.rows);
    assert_eq!((done.versions, done.feedback_rows), (1, 0));
    Some((pg, store, reference.rows))
}

fn replicas(pg: &TestPostgres, n: usize, retrain_every: u64) -> Vec<TestServer> {
    let url = pg.url();
    let every = retrain_every.to_string();
    (0..n)
        .map(|i| {
            let name = format!("replica-{i}");
            TestServer::start_replica(&[
                ("TYMPAN_DATABASE_URL", url.as_str()),
                ("TYMPAN_REPLICA", name.as_str()),
                ("TYMPAN_RETRAIN_EVERY", every.as_str()),
                ("TYMPAN_CLUSTER_CHECK_EVERY", "1s"),
                ("TYMPAN_LIVE_EVERY", "1h"),
            ])
        })
        .collect()
}

/// A feedback's index, status and answer, and its retry's status and answer if it was retried.
type Answer = (
    usize,
    u16,
    serde_json::Value,
    Option<(u16, serde_json::Value)>,
);

/// POSTs feedback as JSON with an `Idempotency-Key`.
fn feedback(server: &TestServer, row: &LabeledRow, key: &str) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "vector": row.vector, "target": row.target });
    let sent = ureq::post(&server.url("/feedback"))
        .timeout(Duration::from_secs(30))
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", key)
        .send_string(&body.to_string());
    match sent {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or_default()),
        Err(e) => (0, serde_json::json!({ "transport": e.to_string() })),
    }
}

fn predict(server: &TestServer, row: &LabeledRow) -> u16 {
    let body = serde_json::json!({ "vector": row.vector });
    match ureq::post(&server.url("/predict"))
        .timeout(Duration::from_secs(30))
        .set("Content-Type", "application/json")
        .send_string(&body.to_string())
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(_) => 0,
    }
}

fn served_version(server: &TestServer) -> String {
    let model: serde_json::Value = ureq::get(&server.url("/model"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    model["version"].as_str().unwrap().to_string()
}

/// `/ready`'s store state (the request must succeed).
fn store_state(server: &TestServer) -> String {
    let ready: serde_json::Value = ureq::get(&server.url("/ready"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    ready["store"]["state"].as_str().unwrap().to_string()
}

/// Waits until no retraining is due or running anywhere.
fn settled(store: &PgStore, k: u64) -> bool {
    wait_for(Duration::from_secs(300), || {
        store.due_retraining(k).unwrap().is_none()
            && store
                .retrainings()
                .unwrap()
                .iter()
                .all(|r| r.finished_at.is_some())
    })
}

#[test]
fn a_thousand_feedbacks_over_three_replicas_one_trainer_at_a_time() {
    const FEEDBACKS: usize = 1000;
    const CLIENTS: usize = 32;
    const K: u64 = 250;
    let Some((pg, store, reference)) = deployed() else {
        return;
    };
    let servers = Arc::new(replicas(&pg, 3, K));
    let sent: Arc<Vec<LabeledRow>> = Arc::new(
        (0..FEEDBACKS)
            .map(|i| reference[(i * 7) % reference.len()].clone())
            .collect(),
    );
    // Each client takes every CLIENTS-th feedback, round-robin over the replicas; every tenth is
    // sent again with the same key, to the next replica.
    let answers: Vec<Answer> = (0..CLIENTS)
        .map(|c| {
            let (servers, sent) = (Arc::clone(&servers), Arc::clone(&sent));
            std::thread::spawn(move || {
                (c..FEEDBACKS)
                    .step_by(CLIENTS)
                    .map(|i| {
                        let key = format!("fb-{i}");
                        let (status, body) = feedback(&servers[i % 3], &sent[i], &key);
                        let retry =
                            (i % 10 == 0).then(|| feedback(&servers[(i + 1) % 3], &sent[i], &key));
                        (i, status, body, retry)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();

    // Every feedback acknowledged once, numbered 1..=1000 cluster-wide; every retry replayed
    // the first answer.
    let mut numbers = Vec::new();
    for (i, status, body, retry) in &answers {
        assert_eq!(*status, 200, "feedback {i}: {body}");
        assert_eq!(body["replayed"], false, "feedback {i}: {body}");
        numbers.push(body["rows"].as_u64().unwrap());
        if let Some((status, again)) = retry {
            assert_eq!(*status, 200, "retry of {i}: {again}");
            assert_eq!(again["replayed"], true, "retry of {i}: {again}");
            assert_eq!(again["rows"], body["rows"], "retry of {i}");
            assert_eq!(again["prediction"], body["prediction"], "retry of {i}");
        }
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=FEEDBACKS as u64).collect::<Vec<_>>());

    // Exactly 1,000 rows, each the one its key's request sent.
    let rows = PgFeedback::open(&store, reference[0].vector.len()).unwrap();
    assert_eq!(rows.refresh_rows().unwrap(), FEEDBACKS as u64);
    for (i, row) in sent.iter().enumerate() {
        let n = rows.keyed_row(&format!("idem:fb-{i}")).unwrap().unwrap();
        let stored = rows.row(n).unwrap().unwrap();
        assert_eq!(
            (&stored.vector, &stored.target),
            (&row.vector, &row.target),
            "row {n}"
        );
    }

    // Retrainings at multiples of k, one at a time, the last one covering every row.
    assert!(settled(&store, K), "retrainings did not settle");
    let retrainings = store.retrainings().unwrap();
    eprintln!("{retrainings:#?}");
    assert!(!retrainings.is_empty());
    for pair in retrainings.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            b.started_at >= a.finished_at.unwrap(),
            "two retrainings at once: {a:?} {b:?}"
        );
    }
    let trained: Vec<_> = retrainings
        .iter()
        .filter(|r| r.challenger.is_some())
        .collect();
    for r in &trained {
        assert!(r.boundary > 0 && r.boundary % K == 0, "{r:?}");
        assert!(r.rows_at_start >= r.boundary, "{r:?}");
    }
    assert!(trained.windows(2).all(|p| p[0].boundary < p[1].boundary));
    assert_eq!(trained.last().unwrap().boundary, FEEDBACKS as u64);

    // After the last promotion every replica serves the alias within a second.
    let current = PgModels::new(&store).current().unwrap().unwrap();
    let started = Instant::now();
    assert!(
        wait_for(Duration::from_secs(1), || servers
            .iter()
            .all(|s| served_version(s) == current)),
        "replicas serve {:?}, the alias is {current}",
        servers.iter().map(served_version).collect::<Vec<_>>()
    );
    eprintln!(
        "all replicas on {current} {:.0} ms after the retrainings settled",
        started.elapsed().as_secs_f64() * 1000.0
    );

    // Feedback by prediction_id on a replica that did not answer the prediction: the shared
    // prediction log has it (once the answering replica's writer has flushed, every 100 ms).
    let body = serde_json::json!({ "vector": reference[5].vector });
    let answer: serde_json::Value = ureq::post(&servers[0].url("/predict"))
        .send_json(body)
        .unwrap()
        .into_json()
        .unwrap();
    let id = answer["prediction_id"].as_str().unwrap().to_string();
    let logged = tympan_pg::PgPredictions::new(&store, "test");
    assert!(wait_for(Duration::from_secs(5), || logged.count().unwrap() >= 1));
    let by_id = |server: &TestServer| {
        let body = serde_json::json!({ "prediction_id": id, "target": reference[5].target });
        match ureq::post(&server.url("/feedback")).send_json(body) {
            Ok(r) => r.into_json::<serde_json::Value>().unwrap(),
            Err(e) => panic!("feedback by id: {e}"),
        }
    };
    let first = by_id(&servers[1]);
    assert_eq!(first["replayed"], false, "{first}");
    assert_eq!(first["prediction"], answer["label"], "{first}");
    let n = first["rows"].as_u64().unwrap();
    assert_eq!(rows.row(n).unwrap().unwrap().vector, reference[5].vector);
    assert_eq!(by_id(&servers[2])["replayed"], true);
}

#[test]
fn a_trainer_killed_mid_retraining_hands_the_rows_to_another_replica() {
    const K: u64 = 60;
    let Some((pg, store, reference)) = deployed() else {
        return;
    };
    let mut servers = replicas(&pg, 2, K);
    for (i, row) in reference.iter().take(K as usize).enumerate() {
        let (status, body) = feedback(&servers[i % 2], row, &format!("k-{i}"));
        assert_eq!(status, 200, "{body}");
    }
    // The replica that stored the k-th row trains; kill it while it holds the lock.
    let mut running = None;
    assert!(
        wait_for(Duration::from_secs(60), || {
            running = store
                .retrainings()
                .unwrap()
                .into_iter()
                .find(|r| r.finished_at.is_none());
            running.is_some()
        }),
        "no retraining started"
    );
    let running = running.unwrap();
    let victim = running
        .replica
        .trim_start_matches("replica-")
        .parse::<usize>()
        .unwrap();
    servers[victim].kill();
    let survivor = &servers[1 - victim];
    // The survivor's periodic check finds the rows uncovered once the lock is free.
    assert!(
        wait_for(Duration::from_secs(180), || store
            .retrainings()
            .unwrap()
            .iter()
            .any(|r| r.replica != running.replica
                && r.boundary == K
                && r.finished_at.is_some()
                && r.challenger.is_some())),
        "no other replica retrained: {:#?}",
        store.retrainings().unwrap()
    );
    let retrainings = store.retrainings().unwrap();
    let dead = retrainings.iter().find(|r| r.id == running.id).unwrap();
    assert!(dead.finished_at.is_none(), "{dead:?}");
    // No row lost, no version half-written: every stored version loads.
    let feedback = PgFeedback::open(&store, reference[0].vector.len()).unwrap();
    assert_eq!(feedback.refresh_rows().unwrap(), K);
    let models = PgModels::new(&store);
    for v in models.versions().unwrap() {
        models.load(&v).unwrap();
    }
    let current = models.current().unwrap().unwrap();
    assert!(wait_for(Duration::from_secs(2), || served_version(
        survivor
    ) == current));
    drop(servers);
}

#[test]
fn an_outage_of_the_database_costs_feedback_503s_only_and_no_acknowledged_row() {
    let Some((pg, store, reference)) = deployed() else {
        return;
    };
    let servers = Arc::new(replicas(&pg, 2, 0));
    let stop = Arc::new(AtomicBool::new(false));
    // (time, status) of every feedback, and the keys acknowledged.
    let outcomes: Arc<Mutex<Vec<(Instant, u16)>>> = Arc::default();
    let acknowledged: Arc<Mutex<HashMap<String, LabeledRow>>> = Arc::default();
    let predict_failures = Arc::new(Mutex::new(Vec::new()));
    let reference = Arc::new(reference);
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (servers, stop, outcomes, acknowledged, failures, reference) = (
                Arc::clone(&servers),
                Arc::clone(&stop),
                Arc::clone(&outcomes),
                Arc::clone(&acknowledged),
                Arc::clone(&predict_failures),
                Arc::clone(&reference),
            );
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let server = &servers[(c + i) % 2];
                    let row = &reference[(c * 997 + i * 13) % reference.len()];
                    let status = predict(server, row);
                    if status != 200 {
                        failures.lock().unwrap().push(status);
                    }
                    let key = format!("o-{c}-{i}");
                    let (status, _) = feedback(server, row, &key);
                    outcomes.lock().unwrap().push((Instant::now(), status));
                    if status == 200 {
                        acknowledged.lock().unwrap().insert(key, row.clone());
                    }
                    i += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let down = Instant::now();
    pg.stop_server();
    // Still ready (predictions are served), and saying feedback cannot be stored.
    assert_eq!(store_state(&servers[0]), "unavailable");
    std::thread::sleep(Duration::from_secs(5));
    pg.start_server();
    let up = Instant::now();
    assert!(wait_for(Duration::from_secs(10), || store_state(
        &servers[1]
    ) == "ok"));
    // Replicas recover by themselves: feedback succeeds on each again.
    assert!(wait_for(Duration::from_secs(20), || {
        let recent = outcomes.lock().unwrap();
        (0..2).all(|_| recent.iter().rev().take(8).all(|(_, s)| *s == 200))
    }));
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    assert!(
        predict_failures.lock().unwrap().is_empty(),
        "/predict failed: {:?}",
        predict_failures.lock().unwrap()
    );
    let outcomes = outcomes.lock().unwrap();
    let during = |t: &Instant| *t >= down && *t <= up + Duration::from_secs(3);
    for (t, status) in outcomes.iter() {
        match status {
            200 => {}
            503 => assert!(during(t), "a 503 outside the outage"),
            other => panic!("/feedback answered {other} during the outage"),
        }
    }
    let refused = outcomes.iter().filter(|(_, s)| *s == 503).count();
    assert!(refused > 0, "the outage was not seen");
    let feedback = PgFeedback::open(&store, reference[0].vector.len()).unwrap();
    let acknowledged = acknowledged.lock().unwrap();
    for (key, row) in acknowledged.iter() {
        let n = feedback
            .keyed_row(&format!("idem:{key}"))
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged {key} is lost"));
        assert_eq!(feedback.row(n).unwrap().unwrap().vector, row.vector);
    }
    assert_eq!(feedback.refresh_rows().unwrap(), acknowledged.len() as u64);
    eprintln!(
        "{} feedbacks acknowledged, {refused} refused with 503 during the outage",
        acknowledged.len()
    );
}
