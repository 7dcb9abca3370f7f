//! The whole offline pipeline on FSDD: embed a reference population (five speakers), train,
//! collect "production" rows, and check that the report flags drift for an unseen speaker and not
//! for more clips of the known ones.

use std::path::Path;

use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_core::evaluation::SplitMix64;
use tympan_core::model::{train, TrainConfig};
use tympan_data::{read_table, write_table, LabeledRow, TableKind};
use tympan_embed::{embed_dataset, EmbedRequest, FilePattern, LabelSource, DEFAULT_PATTERN};

fn embed(dir: &Path, out: &Path, artifacts: &Path, reuse: Option<Embedder>) {
    let summary = embed_dataset(EmbedRequest {
        reuse,
        n_components: Some(64),
        ..EmbedRequest::new(
            dir.to_path_buf(),
            LabelSource::Pattern(FilePattern::new(DEFAULT_PATTERN).unwrap()),
            out.to_path_buf(),
            artifacts.to_path_buf(),
        )
    })
    .unwrap();
    assert!(summary.skipped.is_empty());
}

fn with_predictions(rows: &[LabeledRow], reference: &[LabeledRow]) -> Vec<LabeledRow> {
    let model = train(reference, &TrainConfig::default(), None, "").unwrap();
    rows.iter()
        .map(|r| LabeledRow {
            prediction: Some(model.predict_label(&r.vector).unwrap().to_string()),
            ..r.clone()
        })
        .collect()
}

fn dataset_drift(
    dir: &Path,
    reference: &[LabeledRow],
    production: &[LabeledRow],
) -> (bool, f64, f64) {
    let (ref_path, prod_path) = (dir.join("ref.csv"), dir.join("prod.csv"));
    write_table(&ref_path, TableKind::Reference, 64, reference).unwrap();
    write_table(&prod_path, TableKind::Production, 64, production).unwrap();
    let report =
        tympan_report::Report::compute(&Default::default(), &ref_path, &prod_path).unwrap();
    let s = report.snapshot();
    (s.dataset_drift, s.drift_share, s.accuracy)
}

#[test]
fn unseen_speaker_drifts_and_known_speakers_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let known = tympan_testkit::fsdd::link_subset(&t.join("known"), |n| {
        n.ends_with(".wav") && !n.contains("yweweler")
    });
    let unseen = tympan_testkit::fsdd::link_subset(&t.join("unseen"), |n| n.contains("yweweler"));
    embed(&known, &t.join("ref_data.csv"), &t.join("artifacts"), None);
    let embedder = Embedder::load(&t.join("artifacts"), AudioLimits::default()).unwrap();
    embed(
        &unseen,
        &t.join("unseen.csv"),
        &t.join("unused"),
        Some(embedder),
    );
    let known_rows = read_table(&t.join("ref_data.csv")).unwrap().rows;
    let unseen_rows = read_table(&t.join("unseen.csv")).unwrap().rows;
    assert_eq!((known_rows.len(), unseen_rows.len()), (2500, 500));

    // Production = the held-out speaker.
    let production = with_predictions(&unseen_rows, &known_rows);
    let (drift, share, accuracy) = dataset_drift(t, &known_rows, &production);
    assert!(drift, "held-out speaker: drift share {share}");
    println!("held-out speaker: drift share {share:.2}, accuracy {accuracy:.3}");

    // Production = a random sample of the known speakers, kept out of the reference.
    let mut idx: Vec<usize> = (0..known_rows.len()).collect();
    SplitMix64::new(11).shuffle(&mut idx);
    let (prod_idx, ref_idx) = idx.split_at(500);
    let reference: Vec<LabeledRow> = ref_idx.iter().map(|&i| known_rows[i].clone()).collect();
    let sample: Vec<LabeledRow> = prod_idx.iter().map(|&i| known_rows[i].clone()).collect();
    let production = with_predictions(&sample, &reference);
    let (drift, share, accuracy) = dataset_drift(t, &reference, &production);
    assert!(!drift, "same speakers: drift share {share}");
    println!("same speakers: drift share {share:.2}, accuracy {accuracy:.3}");
}
