//! End-to-end tests of `tympan-serve` on a loopback port with real FSDD clips.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{
    clip, csv_rows, multipart, post, retrain_and_wait, start_retrain, wait_for_job, TestServer,
};
use tympan_testkit::poll::wait_for;

const SPEAKERS: [&str; 6] = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"];

#[test]
fn predicts_real_clips_through_every_input_form() {
    let server = TestServer::start(&[]);
    let mut right = 0;
    let mut total = 0;
    for (i, speaker) in SPEAKERS.iter().enumerate() {
        for digit in 0..10 {
            let audio = clip(&format!("{digit}_{speaker}_{}.wav", 40 + i));
            let (status, body) = match (digit + i) % 3 {
                0 => {
                    let (ct, b) = multipart(&audio, &[]);
                    post(&server.url("/predict"), &ct, &b)
                }
                1 => post(&server.url("/predict"), "audio/wav", &audio),
                _ => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&audio);
                    let json = serde_json::json!({ "audio_base64": b64 }).to_string();
                    post(&server.url("/predict"), "application/json", json.as_bytes())
                }
            };
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["model_version"], "v0001");
            let probs = body["probabilities"].as_object().unwrap();
            assert_eq!(probs.len(), 10);
            let total_p: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
            assert!((total_p - 1.0).abs() < 1e-4);
            assert!(body["duration_seconds"].as_f64().unwrap() > 0.1);
            total += 1;
            right += usize::from(body["label"].as_str() == Some(digit.to_string().as_str()));
        }
    }
    assert!(right * 100 >= total * 90, "only {right}/{total} right");

    // An already embedded vector is accepted too.
    let rows = csv_rows(&server.path("data/ref_data.csv"));
    let vector: Vec<f32> = rows[0]
        .iter()
        .take(64)
        .map(|v| v.parse().unwrap())
        .collect();
    let json = serde_json::json!({ "vector": vector }).to_string();
    let (status, body) = post(&server.url("/predict"), "application/json", json.as_bytes());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["label"], rows[0][64].to_string());
}

#[test]
fn feedback_rows_trigger_retraining_and_a_restart_resumes() {
    let mut server = TestServer::start(&[
        ("TYMPAN_RETRAIN_EVERY", "5"),
        ("TYMPAN_ADMIN_TOKEN", "t0ken"),
    ]);
    let probe = clip("8_lucas_44.wav");
    let answer =
        |s: &TestServer| post(&s.url("/predict"), "audio/wav", &probe).1["probabilities"].clone();
    let before = answer(&server);
    for (i, speaker) in SPEAKERS.iter().take(5).enumerate() {
        let (ct, body) = multipart(
            &clip(&format!("{i}_{speaker}_9.wav")),
            &[("target", &i.to_string())],
        );
        let (status, resp) = post(&server.url("/feedback"), &ct, &body);
        assert_eq!(status, 200, "{resp}");
        assert_eq!(resp["rows"], i as u64 + 1);
        assert_eq!(resp["retraining_started"], i == 4);
    }
    assert!(
        wait_for(Duration::from_secs(60), || server.version() != "v0001"),
        "the served version did not change after k feedback rows"
    );
    let rows = csv_rows(&server.path("data/prod_data.csv"));
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[2][64], "2");
    let model: serde_json::Value = ureq::get(&server.url("/model"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(model["meta"]["notes"]["decision"]["promoted"], true);
    assert_eq!(model["meta"]["parent"], "v0001");
    // The retrained model's monitoring profile, summarised: its matrices stay in the registry.
    let unusual = &model["meta"]["monitoring"]["unusual"];
    assert_eq!(unusual["class_densities"], 10, "{model}");
    assert!(
        unusual["threshold"].as_f64().unwrap().is_finite(),
        "{model}"
    );
    assert!(
        model.to_string().len() < 16_384,
        "{} bytes",
        model.to_string().len()
    );
    // The report is written just after the swap: poll for it.
    let dashboard_has_decision = || {
        let page = ureq::get(&server.url("/dashboard"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        page.contains("retraining v0002: promoted")
    };
    assert!(
        wait_for(Duration::from_secs(30), dashboard_has_decision),
        "decision missing from the dashboard"
    );
    let metrics = ureq::get(&server.url("/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    for series in [
        "tympan_retrainings_total{outcome=\"promoted\"} 1",
        "tympan_challenger_score{part=\"score\",side=\"challenger\"}",
        "tympan_challenger_eval_rows{part=\"production\"} 5",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }

    assert_ne!(
        answer(&server),
        before,
        "a new model gives new probabilities"
    );

    // Rollback restores the previous champion's exact answers, without a restart.
    let r = ureq::post(&server.url("/admin/rollback"))
        .set("Authorization", "Bearer t0ken")
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.version(), "v0001");
    assert_eq!(answer(&server), before);

    // SIGTERM drains and exits 0; a restart serves the same version and keeps counting rows.
    let version = server.version();
    assert_eq!(server.terminate(), Some(0));
    server.launch();
    assert_eq!(server.version(), version);
    let (ct, body) = multipart(&clip("7_theo_3.wav"), &[("target", "7")]);
    let (_, resp) = post(&server.url("/feedback"), &ct, &body);
    assert_eq!(resp["rows"], 6);
}

#[test]
fn concurrent_feedback_never_loses_or_tears_a_row_and_predictions_survive_retraining() {
    const ROWS: usize = 1000;
    const WRITERS: usize = 32;
    let server = TestServer::start(&[("TYMPAN_RETRAIN_EVERY", "100")]);
    let url = server.url("");
    let audio: Vec<(String, Vec<u8>)> = (0..10)
        .map(|d| (d.to_string(), clip(&format!("{d}_jackson_12.wav"))))
        .collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (predictions, failures) = std::thread::scope(|s| {
        // 8 clients predicting the whole time, through the retrainings the feedback triggers.
        let predictors: Vec<_> = (0..8)
            .map(|t| {
                let (url, audio, stop) = (&url, &audio, &stop);
                s.spawn(move || {
                    let (mut ok, mut bad) = (0, 0);
                    let mut i = t;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let (status, _) =
                            post(&format!("{url}/predict"), "audio/wav", &audio[i % 10].1);
                        if status == 200 {
                            ok += 1
                        } else {
                            bad += 1
                        }
                        i += 1;
                    }
                    (ok, bad)
                })
            })
            .collect();
        // 1,000 feedback rows from 32 concurrent clients: ten retrainings are triggered.
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (url, audio) = (&url, &audio);
                s.spawn(move || {
                    let mut counts = Vec::new();
                    for j in 0..(ROWS / WRITERS + usize::from(t < ROWS % WRITERS)) {
                        let (label, bytes) = &audio[(t + j) % 10];
                        let (ct, body) = multipart(bytes, &[("target", label)]);
                        let (status, resp) = post(&format!("{url}/feedback"), &ct, &body);
                        assert_eq!(status, 200, "{resp}");
                        counts.push(resp["rows"].as_u64().unwrap());
                    }
                    counts
                })
            })
            .collect();
        let mut counts: Vec<u64> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        counts.sort_unstable();
        assert_eq!(
            counts,
            (1..=ROWS as u64).collect::<Vec<u64>>(),
            "row counts must be unique"
        );
        // Let the last retraining finish while predictions continue.
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        predictors
            .into_iter()
            .map(|p| p.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    assert_eq!(failures, 0, "{failures} predictions failed");
    assert!(predictions > 100, "only {predictions} predictions ran");
    let rows = csv_rows(&server.path("data/prod_data.csv"));
    assert_eq!(rows.len(), ROWS);
    assert!(rows.iter().all(|r| r.len() == 66));
    let text = std::fs::read_to_string(server.path("data/prod_data.csv")).unwrap();
    assert!(text.ends_with('\n'));
    assert!(wait_for(Duration::from_secs(60), || server.version() != "v0001"));
    // Triggers that arrive during a retraining coalesce into one more run after it.
    let retrainings = || server.metric("tympan_retrainings_total{");
    assert!(
        wait_for(Duration::from_secs(60), || retrainings() >= 2.0),
        "{} retrainings ran",
        retrainings()
    );
    println!(
        "{ROWS} rows, {predictions} predictions, {} retrainings",
        retrainings()
    );
}

#[test]
fn bad_input_gets_clear_json_errors() {
    let server = TestServer::start(&[
        ("TYMPAN_UPLOAD_LIMIT", "100000"),
        ("TYMPAN_ADMIN_TOKEN", "let-me-in"),
    ]);
    let u = |p: &str| server.url(p);
    let audio = clip("0_george_0.wav");

    let big = vec![0u8; 200_000];
    let (status, body) = post(&u("/predict"), "audio/wav", &big);
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (ct, b) = multipart(&big, &[]);
    assert_eq!(post(&u("/predict"), &ct, &b).0, 413);

    let (status, body) = post(&u("/predict"), "text/plain", &audio);
    assert_eq!(status, 415, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("audio/"));

    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let (status, body) = post(&u("/predict"), "application/octet-stream", &garbage);
    assert_eq!(status, 422, "{body}");
    let mut truncated = audio.clone();
    truncated.truncate(100);
    assert_eq!(post(&u("/predict"), "audio/wav", &truncated).0, 422);
    assert_eq!(post(&u("/predict"), "audio/wav", &[]).0, 422);
    assert_eq!(
        post(
            &u("/predict"),
            "application/json",
            b"{\"audio_base64\": \"@@@\"}"
        )
        .0,
        422
    );
    assert_eq!(
        post(&u("/predict"), "application/json", b"{not json").0,
        422
    );
    assert_eq!(
        post(
            &u("/predict"),
            "application/json",
            b"{\"vector\": [1.0, 2.0]}"
        )
        .0,
        422
    );

    for label in ["", "=HYPERLINK(\"x\")", &"x".repeat(10_000), "a\nb"] {
        let (ct, b) = multipart(&audio, &[("target", label)]);
        let (status, body) = post(&u("/feedback"), &ct, &b);
        assert_eq!(status, 422, "label {label:?}: {body}");
    }
    let (ct, b) = multipart(&audio, &[]);
    assert_eq!(
        post(&u("/feedback"), &ct, &b).0,
        422,
        "feedback without target"
    );
    // A label never seen before is accepted (learnt at the next retraining), quoted in the CSV.
    let (ct, b) = multipart(&audio, &[("target", "zero, \"nul\" <script>")]);
    assert_eq!(post(&u("/feedback"), &ct, &b).0, 200);
    let rows = csv_rows(&server.path("data/prod_data.csv"));
    assert_eq!(rows.len(), 1, "rejected feedback must not be stored");
    assert_eq!(&rows[0][64], "zero, \"nul\" <script>");

    assert_eq!(post(&u("/admin/retrain"), "application/json", b"").0, 401);
    let r = ureq::post(&u("/admin/reload"))
        .set("Authorization", "Bearer wrong")
        .call();
    assert!(matches!(r, Err(ureq::Error::Status(401, _))));
    let r = ureq::post(&u("/admin/reload"))
        .set("Authorization", "Bearer let-me-in")
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = ureq::get(&u("/no/such/../path")).call();
    match r {
        Err(ureq::Error::Status(404, resp)) => {
            let body: serde_json::Value = resp.into_json().unwrap();
            assert_eq!(body["error"], "not_found");
        }
        other => panic!("expected 404, got {other:?}"),
    }
}

#[test]
fn docs_metrics_health_and_reports_are_served() {
    let server = TestServer::start(&[]);
    let get = |p: &str| {
        ureq::get(&server.url(p))
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    // Before any feedback there is nothing to report: a browser is told how to get it, other
    // clients keep the JSON error.
    for (page, heading) in [
        ("/report", "No report yet"),
        ("/dashboard", "No dashboard yet"),
    ] {
        let html = ureq::get(&server.url(page))
            .set("Accept", "text/html,*/*;q=0.8")
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert!(
            html.contains(heading) && html.contains("upload page"),
            "{page}: {html}"
        );
    }
    match ureq::get(&server.url("/report")).call() {
        Err(ureq::Error::Status(409, resp)) => {
            let body: serde_json::Value = resp.into_json().unwrap();
            assert_eq!(body["error"], "no_report");
        }
        other => panic!("expected 409, got {other:?}"),
    }
    let (ct, b) = multipart(&clip("4_nicolas_30.wav"), &[("target", "4")]);
    assert_eq!(post(&server.url("/feedback"), &ct, &b).0, 200);

    assert!(get("/docs/").contains("swagger"), "Swagger UI page");
    let spec: serde_json::Value = serde_json::from_str(&get("/api-docs/openapi.json")).unwrap();
    for path in [
        "/predict",
        "/feedback",
        "/model",
        "/metrics",
        "/admin/retrain",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(get("/health").contains("ok"));
    assert!(get("/ready").contains("v0001"));
    let metrics = get("/metrics");
    for name in [
        "tympan_http_requests_total{endpoint=\"/feedback\",status=\"200\"} 1",
        // Answered by the connection guard's thread, counted with Rocket's answers.
        "tympan_http_requests_total{endpoint=\"/health\",status=\"200\"} 1",
        "tympan_http_request_duration_seconds_bucket",
        "tympan_feedback_rows 1",
        "tympan_model_info{version=\"v0001\"} 1",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from /metrics:\n{metrics}"
        );
    }
    let report = get("/report");
    assert!(report.contains("<svg") && report.contains("</html>"));
    let report_json = get("/report.json");
    let json: serde_json::Value = serde_json::from_str(&report_json).unwrap();
    assert!(json.is_object());
    assert_eq!(json["production"]["path"], "prod_data.csv");
    // While no row or model comes, /report answers the last computation (same time stamp, even
    // a while later); a new row makes a new one.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again: serde_json::Value = serde_json::from_str(&get("/report.json")).unwrap();
    assert_eq!(again["generated_at"], json["generated_at"]);
    let (ct, b) = multipart(&clip("4_nicolas_31.wav"), &[("target", "4")]);
    assert_eq!(post(&server.url("/feedback"), &ct, &b).0, 200);
    let newer: serde_json::Value = serde_json::from_str(&get("/report.json")).unwrap();
    assert_eq!(
        (
            json["production"]["rows"].as_u64(),
            newer["production"]["rows"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert!(get("/dashboard").contains("</html>"));
    // Where the server keeps its data is not the client's to see, and the rendered pages carry
    // the same framing and script policy as the upload page.
    let data_dir = server.path("data").display().to_string();
    for (page, body) in [("/report", &report), ("/report.json", &report_json)] {
        assert!(!body.contains(&data_dir), "{page} shows {data_dir}");
    }
    for page in ["/report", "/dashboard"] {
        let resp = ureq::get(&server.url(page)).call().unwrap();
        let policy = resp.header("Content-Security-Policy").unwrap_or_default();
        assert!(
            policy.contains("frame-ancestors 'none'") && policy.contains("style-src 'sha256-"),
            "{page}: {policy:?}"
        );
    }
    let page = get("/");
    assert!(page.contains("id=\"predict\"") && page.contains("v0001"));
}

#[test]
fn admin_retraining_is_an_asynchronous_single_flight_job() {
    const TOKEN: &str = "job-token";
    let server = TestServer::start(&[("TYMPAN_ADMIN_TOKEN", TOKEN)]);
    let auth = format!("Bearer {TOKEN}");
    let (ct, b) = multipart(&clip("7_yweweler_3.wav"), &[("target", "7")]);
    assert_eq!(post(&server.url("/feedback"), &ct, &b).0, 200);
    let (location, job) = start_retrain(&server, TOKEN);
    let id = job["id"].as_str().unwrap();
    assert_eq!(location, format!("/admin/retrain/{id}"));
    assert_eq!(job["state"], "queued");
    assert_eq!(job["cause"], "admin");
    // While it runs (a retraining on FSDD takes far longer than one loopback request), another
    // is refused with the running job's id.
    match ureq::post(&server.url("/admin/retrain"))
        .set("Authorization", &auth)
        .call()
    {
        Err(ureq::Error::Status(409, resp)) => {
            let body: serde_json::Value = resp.into_json().unwrap();
            assert_eq!(body["error"], "retraining_running");
            assert_eq!(body["job"], id, "{body}");
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    // The job's state is the admin's to see only.
    assert!(matches!(
        ureq::get(&server.url(&location)).call(),
        Err(ureq::Error::Status(401, _))
    ));
    let job = wait_for_job(&server, &location, TOKEN);
    assert_eq!(job["state"], "succeeded", "{job}");
    let outcome = &job["outcome"];
    assert_eq!(outcome["challenger"], "v0002", "{job}");
    assert_eq!(outcome["serving"], server.version(), "{job}");
    assert!(outcome["decision"]["reason"].is_string(), "{job}");
    assert!(job["started_at"].is_string() && job["finished_at"].is_string());
    // The next one, once the first is seen finished, is accepted at once.
    assert_eq!(retrain_and_wait(&server, TOKEN)["state"], "succeeded");
    match ureq::get(&server.url("/admin/retrain/0-0"))
        .set("Authorization", &auth)
        .call()
    {
        Err(ureq::Error::Status(404, resp)) => {
            let body: serde_json::Value = resp.into_json().unwrap();
            assert_eq!(body["error"], "unknown_job");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
}

#[test]
fn falling_production_f1_triggers_a_retraining_when_enabled() {
    // k-row retraining is off; the F1 trigger alone must start one.
    let server = TestServer::start(&[
        ("TYMPAN_RETRAIN_BELOW_F1", "0.9"),
        ("TYMPAN_TRIGGER_CHECK_EVERY", "6"),
    ]);
    // Feedback the model gets wrong: clips labelled with a new word it cannot predict.
    for i in 0..6 {
        let (ct, body) = multipart(&clip(&format!("{i}_lucas_3.wav")), &[("target", "unknown")]);
        let (status, resp) = post(&server.url("/feedback"), &ct, &body);
        assert_eq!(status, 200, "{resp}");
        // The F1 check runs on the retraining thread after the answer, so the row that is due
        // reports a started check, and a retraining follows from it.
        assert_eq!(resp["trigger_check_started"], i == 5, "row {}", i + 1);
        assert_eq!(resp["retraining_started"], false, "row {}", i + 1);
    }
    let model_has_new_class = || {
        let m: serde_json::Value = ureq::get(&server.url("/model"))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        m["classes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "unknown")
    };
    assert!(wait_for(Duration::from_secs(60), model_has_new_class));
}

/// The log lines whose `message` is `message`.
fn events<'a>(lines: &'a [serde_json::Value], message: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["message"] == message).collect()
}

#[test]
fn json_log_has_one_line_per_request_refusal_and_retraining() {
    let server = TestServer::start_json_logged(&[("TYMPAN_ADMIN_TOKEN", "log-token")]);
    let (content_type, body) = multipart(&clip("3_theo_7.wav"), &[]);
    let resp = ureq::post(&server.url("/predict"))
        .set("Content-Type", &content_type)
        .set("X-Request-Id", "e2e-predict.1")
        .send_bytes(&body)
        .unwrap();
    assert_eq!(resp.header("X-Request-Id"), Some("e2e-predict.1"));
    // A refused upload: its bytes must stay out of the log.
    let payload = b"PAYLOAD-THAT-MUST-NOT-BE-LOGGED";
    let resp = match ureq::post(&server.url("/predict"))
        .set("Content-Type", "text/plain")
        .set("X-Request-Id", "not a sane id")
        .send_bytes(payload)
    {
        Err(ureq::Error::Status(415, r)) => r,
        other => panic!("expected a 415, got {other:?}"),
    };
    let refused_id = resp.header("X-Request-Id").unwrap().to_string();
    assert_ne!(refused_id, "not a sane id");
    let (content_type, body) = multipart(&clip("3_theo_8.wav"), &[("target", "3")]);
    assert_eq!(post(&server.url("/feedback"), &content_type, &body).0, 200);
    let job = retrain_and_wait(&server, "log-token");
    let report = &job["outcome"];

    let lines = server.log_lines();
    let startup = events(&lines, "serving");
    assert_eq!(startup.len(), 1, "{lines:#?}");
    assert_eq!(startup[0]["address"], format!("127.0.0.1:{}", server.port));
    assert_eq!(startup[0]["model_version"], "v0001");
    assert_eq!(startup[0]["reference"], "ref_data.csv");
    assert_eq!(startup[0]["production"], "prod_data.csv");

    let requests = events(&lines, "request");
    let predict: Vec<_> = requests
        .iter()
        .filter(|l| l["request_id"] == "e2e-predict.1")
        .collect();
    assert_eq!(predict.len(), 1, "{requests:#?}");
    assert_eq!(predict[0]["level"], "INFO");
    assert_eq!(predict[0]["method"], "POST");
    assert_eq!(predict[0]["route"], "/predict");
    assert_eq!(predict[0]["status"], 200);
    assert!(predict[0]["latency_ms"].as_f64().unwrap() > 0.0);

    let refused = events(&lines, "request refused");
    assert_eq!(refused.len(), 1, "{lines:#?}");
    assert_eq!(refused[0]["level"], "WARN");
    assert_eq!(refused[0]["request_id"], refused_id.as_str());
    assert_eq!(refused[0]["route"], "/predict");
    assert_eq!(refused[0]["status"], 415);
    assert_eq!(refused[0]["reason"], "unsupported_media_type");
    let text = std::fs::read_to_string(server.path(TestServer::LOG)).unwrap();
    assert!(!text.contains("PAYLOAD-THAT-MUST"), "{text}");
    // The refused request has its request line too, under the same id.
    let refused_line: Vec<_> = requests
        .iter()
        .filter(|l| l["request_id"] == refused_id.as_str())
        .collect();
    assert_eq!(refused_line.len(), 1);
    assert_eq!(refused_line[0]["status"], 415);

    let retrainings = events(&lines, "retraining");
    assert_eq!(retrainings.len(), 1, "{lines:#?}");
    let r = retrainings[0];
    assert_eq!(r["job"], job["id"]);
    let decision = &report["decision"];
    assert_eq!(r["challenger"], report["challenger"]);
    assert_eq!(r["serving"], report["serving"]);
    assert_eq!(r["champion"], "v0001");
    assert_eq!(r["promoted"], decision["promoted"]);
    assert_eq!(r["champion_score"], decision["champion_score"]["score"]);
    assert_eq!(r["challenger_score"], decision["challenger_score"]["score"]);
    assert_eq!(r["train_rows"], decision["train_rows"]);
    assert_eq!(r["production_rows"], 1);
    assert!(r["seconds"].as_f64().unwrap() > 0.0);
}
