//! Hostile input through `/predict` and `/feedback`: every case gets a clear 4xx (or a 200 where
//! the audio is legitimate), never a 5xx, a crash or a damaged `prod_data.csv`. The corpus is
//! generated here, not downloaded.

mod common;

use common::{clip, csv_rows, fsdd_dir, multipart, post, TestServer};
use tympan_testkit::hostile::{audio_corpus, refused_labels, Expected, NON_UTF8, STORED_LABELS};

#[test]
fn hostile_audio_gets_4xx_never_5xx() {
    let server = TestServer::start(&[]);
    let mut report = Vec::new();
    let corpus = audio_corpus(&fsdd_dir());
    for case in &corpus {
        let (name, body) = (case.name, &case.bytes);
        let class = match case.expected {
            Expected::Accepted => 2,
            Expected::Refused => 4,
        };
        let (status, json) = post(&server.url("/predict"), "audio/wav", body);
        report.push(format!(
            "{name}: {status} {}",
            json["error"].as_str().unwrap_or("")
        ));
        assert!(status < 500, "{name}: {status} {json}");
        assert_eq!(status / 100, class, "{name}: {status} {json}");
        if status >= 400 {
            assert!(
                json["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}: no detail"
            );
        }
        let (ct, b) = multipart(body, &[("target", "7")]);
        let (status, json) = post(&server.url("/feedback"), &ct, &b);
        assert!(status < 500, "feedback {name}: {status} {json}");
    }
    println!("{}", report.join("\n"));
    // The server is still answering and the feedback log holds exactly the accepted rows, intact.
    assert_eq!(
        post(&server.url("/predict"), "audio/wav", &clip("3_theo_21.wav")).0,
        200
    );
    let accepted = corpus
        .iter()
        .filter(|c| c.expected == Expected::Accepted)
        .count();
    let rows = csv_rows(&server.path("data/prod_data.csv"));
    assert_eq!(rows.len(), accepted);
    assert!(rows.iter().all(|r| r.len() == 66 && &r[64] == "7"));
}

#[test]
fn hostile_labels_are_refused_or_stored_verbatim() {
    let server = TestServer::start(&[]);
    let audio = clip("1_nicolas_2.wav");
    for &label in STORED_LABELS {
        let (ct, b) = multipart(&audio, &[("target", label)]);
        let (status, json) = post(&server.url("/feedback"), &ct, &b);
        assert_eq!(status, 200, "{label:?}: {json}");
    }
    for label in refused_labels() {
        let (ct, b) = multipart(&audio, &[("target", &label)]);
        let (status, json) = post(&server.url("/feedback"), &ct, &b);
        assert_eq!(status, 422, "{label:?}: {json}");
    }
    // Non-UTF-8 bytes in the label field.
    let (ct, mut b) = multipart(&audio, &[("target", "XX")]);
    let pos = b.windows(2).position(|w| w == b"XX").unwrap();
    b[pos..pos + 2].copy_from_slice(NON_UTF8);
    let (status, json) = post(&server.url("/feedback"), &ct, &b);
    assert!((400..500).contains(&status), "non-UTF-8: {status} {json}");

    let rows = csv_rows(&server.path("data/prod_data.csv"));
    let labels: Vec<&str> = rows.iter().map(|r| &r[64]).collect();
    assert_eq!(labels, STORED_LABELS);
}
