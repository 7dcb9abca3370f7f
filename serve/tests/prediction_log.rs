//! The prediction log and feedback by id, end to end on real FSDD clips: every answer gets an id
//! and a row in `data/predictions.csv`; `POST /feedback {"prediction_id", "target"}` turns it into
//! exactly one feedback row holding the logged vector, across concurrent clients and restarts.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{csv_rows, fsdd_dir, post, TestServer};

const PREDICTIONS: usize = 1000;
const CLIENTS: usize = 32;

/// 50 real clips (10 per digit... as the sorted folder gives them) with their digit.
fn clips() -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(fsdd_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wav"))
        .collect();
    names.sort();
    names
        .iter()
        .step_by(names.len() / 50)
        .take(50)
        .map(|n| (n[..1].to_string(), common::clip(n)))
        .collect()
}

/// Runs `work(i)` for i in 0..n on `CLIENTS` threads; results in order of i.
fn on_clients<T: Send + 'static>(
    n: usize,
    work: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let work = Arc::new(work);
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let work = Arc::clone(&work);
            std::thread::spawn(move || {
                (c..n)
                    .step_by(CLIENTS)
                    .map(|i| (i, work(i)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut out: Vec<(usize, T)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// The prediction log's rows by id, once it holds `n` (the writer is behind the answers).
fn logged(server: &TestServer, n: usize) -> HashMap<String, csv::StringRecord> {
    let path = server.path("data/predictions.csv");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = csv_rows(&path);
        if rows.len() >= n || Instant::now() > deadline {
            return rows.into_iter().map(|r| (r[0].to_string(), r)).collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn feedback_by_id(server: &TestServer, id: &str, target: &str) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "prediction_id": id, "target": target });
    post(
        &server.url("/feedback"),
        "application/json",
        body.to_string().as_bytes(),
    )
}

#[test]
fn feedback_by_id_stores_each_logged_prediction_once() {
    let mut server = TestServer::start(&[]);
    let clips = Arc::new(clips());
    let url = server.url("/predict");
    let answers = {
        let clips = Arc::clone(&clips);
        on_clients(PREDICTIONS, move |i| {
            let (digit, audio) = &clips[i % clips.len()];
            let (status, body) = post(&url, "audio/wav", audio);
            assert_eq!(status, 200, "{body}");
            let id = body["prediction_id"].as_str().unwrap().to_string();
            (
                id,
                digit.clone(),
                body["label"].as_str().unwrap().to_string(),
            )
        })
    };
    let ids: HashSet<&str> = answers.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids.len(), PREDICTIONS, "prediction ids repeat");

    let log = logged(&server, PREDICTIONS);
    assert_eq!(log.len(), PREDICTIONS, "predictions missing from the log");
    for (id, _, label) in &answers {
        let row = &log[id];
        assert_eq!(
            &row[4], label,
            "the log holds another label than the answer"
        );
        let probabilities: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&row[6]).unwrap();
        assert_eq!(probabilities.len(), 10);
        assert!(
            row[3].parse::<f64>().unwrap() > 0.1,
            "clip duration {}",
            &row[3]
        );
    }

    // Every prediction gets its true label by id, from 32 clients at once.
    let answers = Arc::new(answers);
    let statuses = {
        let (answers, server_url) = (Arc::clone(&answers), server.url("/feedback"));
        on_clients(PREDICTIONS, move |i| {
            let (id, digit, _) = &answers[i];
            let body = serde_json::json!({ "prediction_id": id, "target": digit });
            post(&server_url, "application/json", body.to_string().as_bytes()).0
        })
    };
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");

    // Exactly one row per prediction, each holding the logged vector to the byte and the label
    // the client was given; the key ledger names which row is whose.
    let prod = csv_rows(&server.path("data/prod_data.csv"));
    assert_eq!(prod.len(), PREDICTIONS);
    let keys = csv_rows(&server.path("data/prod_data.keys.csv"));
    assert_eq!(keys.len(), PREDICTIONS);
    let targets: HashMap<&str, &str> = answers
        .iter()
        .map(|(id, digit, _)| (id.as_str(), digit.as_str()))
        .collect();
    for key in &keys {
        let (id, row) = (&key[0], key[1].parse::<usize>().unwrap());
        let stored = &prod[row - 1];
        let logged = &log[id];
        let dim = stored.len() - 2;
        let stored_vector: Vec<&str> = stored.iter().take(dim).collect();
        let logged_vector: Vec<&str> = logged.iter().skip(7).collect();
        assert_eq!(
            stored_vector, logged_vector,
            "row {row} is not {id}'s vector"
        );
        assert_eq!(&stored[dim], targets[id], "row {row}'s target");
        assert_eq!(&stored[dim + 1], &logged[4], "row {row}'s prediction");
    }

    // Retries and strangers: the same id and target again is a retry and gets the first
    // answer; another target for it is a conflict. Neither stores a row.
    let (id, digit, _) = &answers[7];
    let row_of_id = keys.iter().find(|k| &k[0] == id).unwrap()[1]
        .parse::<u64>()
        .unwrap();
    let (status, body) = feedback_by_id(&server, id, digit);
    assert_eq!(
        (status, &body["replayed"]),
        (200, &serde_json::json!(true)),
        "{body}"
    );
    assert_eq!(body["rows"], row_of_id, "{body}");
    assert_eq!(body["prediction"].as_str(), Some(&log[id.as_str()][4]));
    let other = if digit == "1" { "2" } else { "1" };
    let (status, body) = feedback_by_id(&server, id, other);
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("feedback_exists"))
    );
    let (status, body) = feedback_by_id(&server, &id.to_uppercase(), digit);
    assert_eq!(
        body["rows"], row_of_id,
        "the same id in capitals: {status} {body}"
    );
    let (status, body) = feedback_by_id(&server, "0193a5b2c3d47e8f9a0b1c2d3e4f5a6b", "1");
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_prediction"))
    );
    let body = serde_json::json!({ "prediction_id": id });
    let (status, _) = post(
        &server.url("/predict"),
        "application/json",
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 422, "/predict took a prediction id");
    assert_eq!(
        csv_rows(&server.path("data/prod_data.csv")).len(),
        PREDICTIONS
    );

    // The same id from 8 clients at once: one row, one first answer and 7 replays of it.
    let (_, once) = post(&server.url("/predict"), "audio/wav", &clips[5].1);
    let once = Arc::new((
        server.url("/feedback"),
        once["prediction_id"].as_str().unwrap().to_string(),
    ));
    let racing: Vec<(u16, serde_json::Value)> = (0..8)
        .map(|_| {
            let once = Arc::clone(&once);
            std::thread::spawn(move || {
                let body = serde_json::json!({ "prediction_id": once.1, "target": "0" });
                post(&once.0, "application/json", body.to_string().as_bytes())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(racing.iter().all(|(s, _)| *s == 200), "{racing:?}");
    assert_eq!(
        racing
            .iter()
            .filter(|(_, b)| b["replayed"] == false)
            .count(),
        1,
        "{racing:?}"
    );
    assert!(
        racing.iter().all(|(_, b)| b["rows"] == racing[0].1["rows"]),
        "{racing:?}"
    );

    // Any feedback with an Idempotency-Key: the retry returns the first answer, stores nothing;
    // the key with another target is refused.
    let keyed = |server: &TestServer, target: &str| {
        let response = ureq::post(&format!("{}?target={target}", server.url("/feedback")))
            .set("Content-Type", "audio/wav")
            .set("Idempotency-Key", "retry-me-7")
            .send_bytes(&clips[2].1);
        match response {
            Ok(r) => (r.status(), r.into_json::<serde_json::Value>().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    let (first, retry) = (keyed(&server, "3"), keyed(&server, "3"));
    assert_eq!((first.0, retry.0), (200, 200), "{first:?} {retry:?}");
    assert_eq!(
        (&first.1["replayed"], &retry.1["replayed"]),
        (&serde_json::json!(false), &serde_json::json!(true))
    );
    assert_eq!(first.1["rows"], retry.1["rows"]);
    assert_eq!(first.1["prediction"], retry.1["prediction"]);
    let (status, body) = keyed(&server, "4");
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    // Across a restart: an unused id is remembered from the log, a used one stays used.
    let (_, fresh) = post(&server.url("/predict"), "audio/wav", &clips[3].1);
    let fresh = fresh["prediction_id"].as_str().unwrap().to_string();
    assert_eq!(server.terminate(), Some(0));
    server.launch();
    assert_eq!(
        feedback_by_id(&server, &fresh, "2").0,
        200,
        "forgotten at restart"
    );
    assert_eq!(feedback_by_id(&server, &fresh, "2").1["replayed"], true);
    assert_eq!(
        feedback_by_id(&server, id, other).0,
        409,
        "reusable after restart"
    );
    assert_eq!(
        keyed(&server, "3").1["replayed"],
        true,
        "an Idempotency-Key forgotten at restart"
    );
    assert_eq!(
        csv_rows(&server.path("data/prod_data.csv")).len(),
        PREDICTIONS + 3
    );
}

#[test]
fn the_prediction_log_can_be_turned_off_and_sampled() {
    let server = TestServer::start(&[("TYMPAN_PREDICTION_LOG_SAMPLE", "0.25")]);
    let audio = common::clip("4_theo_10.wav");
    let ids: Vec<String> = (0..40)
        .map(|_| {
            let (_, body) = post(&server.url("/predict"), "audio/wav", &audio);
            body["prediction_id"].as_str().unwrap().to_string()
        })
        .collect();
    let log = logged(&server, 10);
    assert_eq!(log.len(), 10, "a quarter of 40 predictions");
    // Feedback by id does not depend on the log's sample: every answer is remembered.
    let unlogged = ids.iter().find(|id| !log.contains_key(*id)).unwrap();
    assert_eq!(feedback_by_id(&server, unlogged, "4").0, 200);

    let off = TestServer::start(&[("TYMPAN_PREDICTION_LOG", "off")]);
    let (status, body) = post(&off.url("/predict"), "audio/wav", &audio);
    assert_eq!(status, 200);
    let id = body["prediction_id"].as_str().unwrap();
    assert!(
        !off.path("data/predictions.csv").exists(),
        "logged while off"
    );
    assert_eq!(feedback_by_id(&off, id, "4").0, 200);
}

/// `GET /live` once it reports a window of `rows` predictions.
fn live_with(server: &TestServer, rows: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = ureq::get(&server.url("/live")).call() {
            let body: serde_json::Value = r.into_json().unwrap();
            if body["live"]["window_rows"] == rows {
                return body;
            }
        }
        assert!(Instant::now() < deadline, "no live report of {rows} rows");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_live_monitor_finds_drift_in_unlabelled_traffic() {
    let server = TestServer::start(&[("TYMPAN_LIVE_EVERY", "1s"), ("TYMPAN_LIVE_WINDOW", "40")]);
    match ureq::get(&server.url("/live")).call() {
        Err(ureq::Error::Status(409, r)) => {
            let body: serde_json::Value = r.into_json().unwrap();
            assert_eq!(body["error"], "no_live_report");
        }
        other => panic!("/live before any prediction: {other:?}"),
    }
    // Clips like the reference's (FSDD itself): no drift, and hardly any unusual clip.
    let mut unusual_fsdd = 0;
    let mut right = 0;
    for (i, (digit, audio)) in clips().iter().take(40).enumerate() {
        let (status, answer) = post(&server.url("/predict"), "audio/wav", audio);
        assert_eq!(status, 200, "{answer}");
        unusual_fsdd += usize::from(answer["unusual"] == true);
        // The true label of the first 10 comes back by id: the window's realised accuracy.
        if i < 10 {
            right += usize::from(answer["label"] == digit.as_str());
            let id = answer["prediction_id"].as_str().unwrap();
            assert_eq!(feedback_by_id(&server, id, digit).0, 200);
        }
    }
    assert!(unusual_fsdd <= 2, "{unusual_fsdd} of 40 FSDD clips unusual");
    let calm = live_with(&server, 40);
    let live = &calm["live"];
    assert_eq!(live["embedding"]["drift"], false, "{calm}");
    assert_eq!(live["estimate"]["calibrated"], true, "{calm}");
    assert!(
        live["estimate"]["accuracy"].as_f64().unwrap() > 0.8,
        "{calm}"
    );
    assert!(
        live["estimate"]["macro_f1"].as_f64().unwrap() > 0.8,
        "{calm}"
    );
    assert_eq!(live["realised"]["rows"], 10, "{calm}");
    assert_eq!(
        live["realised"]["accuracy"].as_f64().unwrap(),
        right as f64 / 10.0,
        "{calm}"
    );
    assert_eq!(
        live["unusual"]["unusual"].as_u64().unwrap() as usize,
        unusual_fsdd
    );
    // Then drums, which the model never heard: the window of the newest 40 drifts, and nearly
    // all of them are unusual clips.
    let drums: Vec<std::path::PathBuf> = std::fs::read_dir(tympan_testkit::drums::drum_set())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .take(40)
        .collect();
    assert_eq!(drums.len(), 40);
    let first_drum = std::time::SystemTime::now();
    let mut unusual_drums = 0;
    for drum in &drums {
        let (status, body) = post(
            &server.url("/predict"),
            "audio/wav",
            &std::fs::read(drum).unwrap(),
        );
        assert_eq!(status, 200, "{}: {body}", drum.display());
        let score = body["unusual_score"].as_f64().unwrap();
        let threshold = body["unusual_threshold"].as_f64().unwrap();
        assert_eq!(body["unusual"], score > threshold, "{body}");
        unusual_drums += usize::from(score > threshold);
    }
    println!("unusual: {unusual_fsdd} of 40 FSDD clips, {unusual_drums} of 40 drums");
    // The bar: 95 % of drum samples.
    assert!(
        unusual_drums >= 38,
        "only {unusual_drums} of 40 drums unusual"
    );
    assert_eq!(
        server.metric("tympan_unusual_predictions_total"),
        (unusual_fsdd + unusual_drums) as f64
    );
    // The monitor recomputes every second: wait for a window of drums only (its oldest
    // prediction answered after the first drum was sent).
    let deadline = Instant::now() + Duration::from_secs(60);
    let drifted = loop {
        let body = live_with(&server, 40);
        let from = humantime::parse_rfc3339(body["live"]["from"].as_str().unwrap()).unwrap();
        if from >= first_drum {
            break body;
        }
        assert!(Instant::now() < deadline, "no window of drums only: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let e = &drifted["live"]["embedding"];
    assert_eq!(e["drift"], true, "{drifted}");
    assert!(e["domain_auc"].as_f64().unwrap() > 0.75, "{drifted}");
    assert_eq!(server.metric("tympan_live{figure=\"drift\"}"), 1.0);
    let rate = unusual_drums as f64 / 40.0;
    assert_eq!(drifted["live"]["unusual"]["rate"].as_f64().unwrap(), rate);
    assert!(drifted["live"]["realised"].is_null(), "{drifted}");
    // The history plots the change: calm points first, the drifted one last.
    let history = drifted["history"].as_array().unwrap();
    assert!(history.len() >= 2, "{drifted}");
    assert_eq!(history.first().unwrap()["drift"], false);
    assert_eq!(history.last().unwrap()["drift"], true);
    assert_eq!(
        history.last().unwrap()["unusual_rate"].as_f64().unwrap(),
        rate
    );
    // The gauges may already be a newer computation's: the same window until more predictions.
    assert_eq!(server.metric("tympan_live{figure=\"unusual_rate\"}"), rate);
    // The dashboard shows the section (no labelled report needed), from the last computation.
    let page = ureq::get(&server.url("/dashboard"))
        .set("Accept", "text/html")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains("The live traffic has drifted"), "{page}");
    assert!(page.contains("unusual clips") && page.contains("estimated accuracy"));
    assert!(page.contains("realised accuracy") && page.contains("<svg"));
}
