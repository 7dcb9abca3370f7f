//! The service in process, without HTTP, a port or FSDD: a small deployment made from synthetic
//! tones (`tympan_testkit::deployment`) served by `Service::from_parts`.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_serve::input::ClipInput;
use tympan_serve::jobs::{JobCause, JobState};
use tympan_serve::service::ServiceError;
use tympan_serve::{ServeConfig, Service};
use tympan_testkit::deployment::{clip, Deployment, CLASSES};
use tympan_testkit::poll::wait_for;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: ServeConfig,
}

fn service(d: &Deployment, extra: &[&str]) -> Arc<Service> {
    let mut args = vec![
        "tympan-serve".to_string(),
        "--retrain-every".into(),
        "0".into(),
        "--data".into(),
        d.data().display().to_string(),
        "--artifacts".into(),
        d.artifacts().display().to_string(),
        "--reports".into(),
        d.path().join("reports").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let config = Cli::parse_from(args).config;
    // The embedding as the deployment saved it: what a server loads.
    let embedder = Embedder::load(&d.artifacts(), AudioLimits::default()).unwrap();
    assert_eq!(embedder.fingerprint(), d.embedder.fingerprint());
    let service = Service::from_parts(config, embedder, d.reference.clone()).unwrap();
    Arc::new(service)
}

#[test]
fn predicts_the_classes_it_was_trained_on_and_refuses_a_wrong_vector() {
    let d = Deployment::new(4);
    let s = service(&d, &[]);
    for &(label, pitch) in &CLASSES {
        // Clip 9 is detuned past every training clip: unseen audio.
        let p = s.predict(&ClipInput::Audio(clip(pitch, 9))).unwrap();
        assert_eq!(p.label, label);
        assert_eq!(&*p.model_version, s.current().meta.version);
    }
    let err = s.predict(&ClipInput::Vector(vec![0.0; 3])).unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::VectorLength {
                got: 3,
                expected: 4
            }
        ),
        "{err}"
    );
}

#[test]
fn feedback_is_stored_and_a_report_names_files_only() {
    let d = Deployment::new(4);
    let s = service(&d, &[]);
    // No production row yet: the report says so, naming the file and not where it lives.
    let err = s.report().unwrap_err();
    let ServiceError::NoReport(detail) = &err else {
        panic!("{err}")
    };
    assert!(detail.contains("prod_data.csv"), "{detail}");
    assert!(
        !detail.contains(&d.path().display().to_string()),
        "{detail}"
    );
    let err = s
        .feedback(&ClipInput::Audio(clip(220.0, 3)), "=cmd", None)
        .unwrap_err();
    assert!(matches!(err, ServiceError::Data(_)), "{err}");
    assert_eq!(s.feedback_rows(), 0, "a refused label was stored");
    for (i, &(label, pitch)) in CLASSES.iter().enumerate() {
        let r = s
            .feedback(&ClipInput::Audio(clip(pitch, 2)), label, None)
            .unwrap();
        assert_eq!(r.rows, i as u64 + 1);
        assert_eq!(r.prediction, label);
        assert!(!r.retraining_started && !r.trigger_check_started);
    }
    let stored = tympan_data::read_table(&d.data().join("prod_data.csv")).unwrap();
    assert_eq!(stored.rows.len(), 3);
    let report = s.report().unwrap();
    assert_eq!(report.reference.path, "ref_data.csv");
    assert_eq!(report.production.path, "prod_data.csv");
    assert_eq!(report.classification.accuracy, 1.0);
}

#[test]
fn the_f1_trigger_is_checked_on_the_retraining_thread_and_retrains() {
    let d = Deployment::new(4);
    let s = service(
        &d,
        &["--retrain-below-f1", "0.9", "--trigger-check-every", "3"],
    );
    let first = s.current().meta.version.clone();
    // Rows the model gets wrong: a class it has never seen.
    let mut answers = Vec::new();
    for i in 0..3 {
        let r = s
            .feedback(&ClipInput::Audio(clip(5_000.0, i)), "whistle", None)
            .unwrap();
        answers.push((r.retraining_started, r.trigger_check_started));
    }
    assert_eq!(answers, [(false, false), (false, false), (false, true)]);
    let retrained = wait_for(Duration::from_secs(60), || {
        !s.is_retraining() && s.registry().versions().unwrap().len() == 2
    });
    assert!(retrained, "the trigger check did not retrain");
    let classes = &s
        .registry()
        .load(&s.registry().versions().unwrap()[1])
        .unwrap();
    assert!(classes.model.classes.iter().any(|c| c == "whistle"));
    // Promoted or not, the service still answers with a registered version.
    let serving = s.current().meta.version.clone();
    assert!(serving == first || serving == classes.meta.version);
}

#[test]
fn an_admin_retraining_is_a_job_and_leaves_the_flag_clear() {
    let d = Deployment::new(4);
    let s = service(&d, &[]);
    for i in 0..4 {
        s.feedback(&ClipInput::Audio(clip(5_000.0, i)), "whistle", None)
            .unwrap();
    }
    let finished = |id: &str| {
        let job = s.retrain_job(id).expect("the job is kept");
        assert!(wait_for(Duration::from_secs(60), || !s
            .retrain_job(id)
            .unwrap()
            .is_active()));
        assert_eq!(job.cause, JobCause::Admin);
        s.retrain_job(id).unwrap()
    };
    let job = s.request_retraining().unwrap();
    assert_eq!(job.state, JobState::Queued);
    let done = finished(&job.id);
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    let outcome = done.outcome.expect("a finished job has its outcome");
    assert_eq!(outcome.challenger, s.registry().versions().unwrap()[1]);
    assert!(!s.is_retraining(), "the flag stayed set");
    // A second one right after its predecessor is seen finished is a run of its own, not refused.
    let second = s.request_retraining().unwrap();
    assert_ne!(second.id, job.id);
    assert_eq!(finished(&second.id).state, JobState::Succeeded);
    assert_eq!(s.registry().versions().unwrap().len(), 3);
    assert!(s.retrain_job("no-such-job").is_none());
}

/// A vector the model classifies: a reference row's, so no clip needs embedding.
fn vector_of(d: &Deployment, class: &str) -> Vec<f32> {
    let row = d.reference.rows.iter().find(|r| r.target == class);
    row.expect("a reference row of the class").vector.clone()
}

fn stored(d: &Deployment) -> Vec<tympan_data::LabeledRow> {
    tympan_data::read_table(&d.data().join("prod_data.csv"))
        .unwrap()
        .rows
}

#[test]
fn new_classes_are_capped_at_32_concurrently_and_across_restarts() {
    let d = Deployment::new(4);
    let s = service(&d, &[]);
    let v = vector_of(&d, "low");
    // 40 clients, each with a class of its own, at once: exactly 32 get in.
    let accepted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let (s, v) = (&s, v.clone());
                scope.spawn(move || s.feedback(&ClipInput::Vector(v), &format!("new{i}"), None))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|r| match r {
                Ok(_) => true,
                Err(ServiceError::TooManyClasses(_)) => false,
                Err(e) => panic!("{e}"),
            })
            .count()
    });
    assert_eq!(accepted, 32);
    assert_eq!((s.feedback_rows(), s.new_classes()), (32, 32));
    let held: std::collections::HashSet<String> =
        stored(&d).into_iter().map(|r| r.target).collect();
    assert_eq!(held.len(), 32);

    // The 33rd class: a 422 naming the cap, and nothing appended.
    let before = std::fs::read(d.data().join("prod_data.csv")).unwrap();
    let missing = (0..40)
        .map(|i| format!("new{i}"))
        .find(|l| !held.contains(l));
    let err = s
        .feedback(&ClipInput::Vector(v.clone()), &missing.unwrap(), None)
        .unwrap_err();
    let api = tympan_serve::error::ApiError::from(err);
    assert_eq!(api.status.code, 422);
    assert_eq!(api.error, "too_many_classes");
    assert!(
        api.detail.contains("at most 32") && api.detail.contains("--max-new-classes"),
        "{}",
        api.detail
    );
    assert_eq!(
        std::fs::read(d.data().join("prod_data.csv")).unwrap(),
        before
    );
    // Known classes still get in: the reference's, and a new one the log holds.
    let held_new = held.iter().next().unwrap().clone();
    for known in ["low", "high", held_new.as_str()] {
        s.feedback(&ClipInput::Vector(v.clone()), known, None)
            .unwrap();
    }
    drop(s);

    // After a restart the log's classes count: still full.
    let s = service(&d, &[]);
    assert_eq!(s.new_classes(), 32);
    let err = s
        .feedback(&ClipInput::Vector(v.clone()), "brand-new", None)
        .unwrap_err();
    assert!(matches!(err, ServiceError::TooManyClasses(_)), "{err}");
    s.feedback(&ClipInput::Vector(v.clone()), &held_new, None)
        .unwrap();
    assert_eq!(stored(&d).len(), 36);
    drop(s);

    // A larger cap (flag or TYMPAN_MAX_NEW_CLASSES) lets more in.
    let s = service(&d, &["--max-new-classes", "33"]);
    s.feedback(&ClipInput::Vector(v), "brand-new", None)
        .unwrap();
    assert_eq!(s.new_classes(), 33);
}

#[test]
fn a_client_prediction_is_never_stored() {
    use rocket::http::{ContentType, Status};
    use rocket::local::blocking::Client;

    let d = Deployment::new(4);
    let s = service(&d, &[]);
    let v = vector_of(&d, "mid");
    let served = s.predict(&ClipInput::Vector(v.clone())).unwrap().label;
    assert_eq!(served, "mid");
    let client = Client::untracked(tympan_serve::rocket(
        Arc::clone(&s),
        "127.0.0.1:0".parse().unwrap(),
    ))
    .unwrap();
    // JSON and multipart, each claiming a prediction of its own (a label nobody trained on).
    let json = serde_json::json!({"vector": v, "target": "low", "prediction": "evil-json"});
    let multipart = {
        let clip = clip(880.0, 3);
        let mut body = Vec::new();
        for (name, value) in [("target", &b"low"[..]), ("prediction", b"evil-form")] {
            body.extend_from_slice(
                format!("--XX\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(
            b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\
              Content-Type: audio/wav\r\n\r\n",
        );
        body.extend_from_slice(&clip);
        body.extend_from_slice(b"\r\n--XX--\r\n");
        body
    };
    let form = ContentType::new("multipart", "form-data").with_params(("boundary", "XX"));
    for (content_type, body) in [
        (ContentType::JSON, serde_json::to_vec(&json).unwrap()),
        (form, multipart),
    ] {
        let response = client
            .post("/feedback")
            .header(content_type)
            .body(body)
            .dispatch();
        assert_eq!(response.status(), Status::Ok);
        let answer: serde_json::Value = response.into_json().unwrap();
        assert_eq!(answer["prediction"], "mid", "{answer}");
    }
    let rows = stored(&d);
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row.prediction.as_deref(), Some("mid"));
    }
    // Neither claimed label reaches a report.
    let report = s.report().unwrap();
    assert_eq!(report.classification.labels, ["low", "mid"]);
}
