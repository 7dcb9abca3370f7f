//! `tympan-tune` end to end on an FSDD subset (three digits, every speaker, four takes): tune
//! -> tuned.json -> embed with it -> train with its settings -> evaluate; the same seed gives the
//! same tuned.json twice.

use std::path::Path;
use std::process::Command;

use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_core::evaluation::{stratified_split, train_and_score};
use tympan_core::training::train_version;
use tympan_core::tuned::TunedConfig;
use tympan_data::read_table;
use tympan_embed::{
    embed_dataset, EmbedRequest, FilePattern, FrontEndChoice, LabelSource, DEFAULT_PATTERN,
};

fn tune(dir: &Path, out: &Path, report: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tympan-tune"))
        .arg(dir)
        .args(["--max-front-ends", "3", "--budget", "10m", "--seed", "5"])
        .arg("--out")
        .arg(out)
        .arg("--report")
        .arg(report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn tune_embed_train_evaluate_and_the_same_seed_gives_the_same_winner() {
    let t = tempfile::tempdir().unwrap();
    let dir = tympan_testkit::fsdd::link_subset(&t.path().join("clips"), |n| {
        n.starts_with(['0', '1', '2'])
            && ["_0.wav", "_1.wav", "_2.wav", "_3.wav"]
                .iter()
                .any(|take| n.ends_with(take))
    });
    let (first, second) = (t.path().join("a.json"), t.path().join("b.json"));
    let page = t.path().join("tune.html");
    let stdout = tune(&dir, &first, &page);
    // Grouped by the first field of FSDD's pattern: the speaker; six speakers, five folds.
    assert!(
        stdout.contains("72 clips, 5 folds grouped by speaker"),
        "{stdout}"
    );
    assert!(
        stdout.contains("stopped at the front-end count"),
        "{stdout}"
    );
    tune(&dir, &second, &t.path().join("again.html"));
    let bytes = std::fs::read(&first).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&second).unwrap(),
        "same seed, another winner"
    );

    let tuned = TunedConfig::read(&first).unwrap();
    let cv = &tuned.cross_validation;
    assert_eq!((cv.clips, cv.folds), (72, 5));
    assert!(cv.candidates >= 3, "{cv:?}");
    assert!(cv.score >= cv.default_score, "{cv:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<svg") && html.contains("Leaderboard"));

    let table = t.path().join("ref.csv");
    let artifacts = t.path().join("artifacts");
    let summary = embed_dataset(EmbedRequest {
        front_end: FrontEndChoice::Tuned(Box::new(tuned.clone())),
        ..EmbedRequest::new(
            dir.clone(),
            LabelSource::Pattern(FilePattern::new(DEFAULT_PATTERN).unwrap()),
            table.clone(),
            artifacts.clone(),
        )
    })
    .unwrap();
    assert_eq!(summary.rows, 72);
    assert_eq!(summary.dim, tuned.n_components.min(72));
    let embedder = Embedder::load(&artifacts, AudioLimits::default()).unwrap();
    assert_eq!(embedder.config(), &tuned.features);
    assert!(
        embedder.decisions()[0].starts_with("tuned on clips (72 clips)"),
        "{:?}",
        embedder.decisions()
    );

    let rows = read_table(&table).unwrap().rows;
    let trained = train_version(&rows, &tuned.train, None, embedder.fingerprint(), None).unwrap();
    assert_eq!(trained.meta.train_config.alpha, tuned.train.alpha);
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    let (train, test) = stratified_split(&targets, 0.25, 1);
    let m = train_and_score(&rows, &train, &test, &tuned.train).unwrap();
    // Three spoken digits, takes of the same speakers on both sides: well above chance (1/3).
    assert!(m.accuracy > 0.8, "{m:?}");
}
