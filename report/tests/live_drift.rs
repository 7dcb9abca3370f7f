//! Live drift on real audio with no label: an embedding and a model fitted on five FSDD speakers
//! (44 of each speaker's 50 takes of each digit), then two windows of 300 predictions written to
//! a prediction log as the server writes it: the sixth speaker, never seen (drift), and the 6
//! held-out takes of the five (no drift, where Evidently's per-column default raises a false
//! alarm on small windows).
//!
//! The held-out takes are spread over the recording sessions: FSDD's takes were recorded in
//! order, and holding out the *last* takes (40-45) is a real change of recording conditions,
//! which every method here detects (domain classifier AUC 0.63, p 1e-12).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tympan_core::audio::AudioLimits;
use tympan_core::embedding::Embedder;
use tympan_core::model::{Model, TrainConfig};
use tympan_core::registry::ModelRegistry;
use tympan_core::training::train_version;
use tympan_data::metrics::ClassificationMetrics;
use tympan_data::monitoring::Monitoring;
use tympan_data::{
    read_table, FeedbackLog, PredictionFile, PredictionId, PredictionRecord, Rotation,
};
use tympan_embed::{embed_dataset, EmbedRequest, LabelSource};
use tympan_report::live::{
    live_section, read_window, LiveConfig, LiveSection, LiveWindow, WindowView,
};

const KNOWN: [&str; 5] = ["george", "jackson", "lucas", "nicolas", "theo"];
const NEW: &str = "yweweler";

fn clip(speaker: &str, digit: usize, take: usize) -> PathBuf {
    tympan_testkit::fsdd::recordings().join(format!("{digit}_{speaker}_{take}.wav"))
}

/// Whether take `t` of `digit` by the `speaker`-th speaker is held out: 6 of 50, spread over
/// the takes by a fixed stride.
fn held_out(speaker: usize, digit: usize, t: usize) -> bool {
    (t * 17 + digit * 7 + speaker * 3) % 50 < 6
}

/// Every digit by `speakers`, the takes `keep` selects.
fn clips(speakers: &[&str], keep: impl Fn(usize, usize, usize) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (i, s) in speakers.iter().enumerate() {
        for d in 0..10 {
            out.extend((0..50).filter(|&t| keep(i, d, t)).map(|t| clip(s, d, t)));
        }
    }
    out
}

/// Predicts `files` with the model and writes them to a new prediction log; returns its path and
/// the accuracy of the predictions (the labels are in the file names).
fn predict_to_log(
    dir: &Path,
    name: &str,
    files: &[PathBuf],
    embedder: &Embedder,
    model: &Model,
) -> (PathBuf, Quality) {
    let path = dir.join(name);
    let rotation = Rotation {
        max_bytes: 1 << 30,
        keep: 0,
    };
    let mut log = PredictionFile::open(&path, embedder.dim(), rotation).unwrap();
    let classes: std::sync::Arc<[String]> = model.classes.clone().into();
    // Traffic in no particular order (a fixed permutation: 7,919 is a prime), so that the last
    // 100 predictions are a mix of speakers, digits and sessions like the rest.
    assert_ne!(files.len() % 7919, 0);
    let records: Vec<PredictionRecord> = (0..files.len())
        .map(|k| &files[k * 7919 % files.len()])
        .enumerate()
        .map(|(i, f)| {
            let e = embedder.embed_file(f).unwrap();
            let p = model.predict(&e.vector).unwrap();
            PredictionRecord {
                id: PredictionId(i as u128),
                time: SystemTime::now(),
                model_version: "v0001".into(),
                duration_seconds: Some(e.duration_seconds),
                classes: classes.clone(),
                probabilities: p.probabilities.into(),
                predicted: p.class_index,
                vector: e.vector.into(),
            }
        })
        .collect();
    log.append(&records).unwrap();
    let order = (0..files.len()).map(|k| &files[k * 7919 % files.len()]);
    let truth: Vec<String> = order.map(|f| labelled(f.clone()).1).collect();
    let predicted: Vec<&str> = records.iter().map(PredictionRecord::prediction).collect();
    let truth: Vec<&str> = truth.iter().map(String::as_str).collect();
    let metrics = ClassificationMetrics::compute(&truth, &predicted);
    let quality = Quality {
        accuracy: metrics.accuracy,
        macro_f1: metrics.macro_f1,
    };
    (path, quality)
}

/// What a window's true labels give.
#[derive(Debug, Clone, Copy)]
struct Quality {
    accuracy: f64,
    macro_f1: f64,
}

/// The live section's estimates (no label) against what the true labels give: accuracy within
/// 3 points and macro F1 within 5 on traffic like the training data; under drift (a new speaker
/// or kit) accuracy within 5 points, which the novelty-aware calibration gives and temperature
/// scaling alone did not (FSDD's new speaker: 95.5 % estimated, 89.0 % realised).
fn check_estimate(
    name: &str,
    section: &LiveSection,
    uncalibrated: f64,
    realised: Quality,
    like_training: bool,
) {
    let e = section.estimate;
    println!(
        "{name}: accuracy {:.3}, estimated {:.3} (uncalibrated {uncalibrated:.3}); macro F1 {:.3}, estimated {:.3}",
        realised.accuracy, e.accuracy, realised.macro_f1, e.macro_f1
    );
    assert!(e.calibrated && e.novelty_aware, "{e:?}");
    let tolerance = if like_training { 0.03 } else { 0.05 };
    assert!(
        (e.accuracy - realised.accuracy).abs() <= tolerance,
        "{name}: estimated accuracy {:.3}, realised {:.3}",
        e.accuracy,
        realised.accuracy
    );
    if like_training {
        assert!(
            (e.macro_f1 - realised.macro_f1).abs() <= 0.05,
            "{name}: estimated macro F1 {:.3}, realised {:.3}",
            e.macro_f1,
            realised.macro_f1
        );
    }
}

/// The live section of the `rows` predictions of `log`, with the model's monitoring profile, and
/// the accuracy estimate without calibration.
fn section(
    reference: &[tympan_data::LabeledRow],
    log: &Path,
    rows: usize,
    monitoring: Option<&Monitoring>,
) -> (LiveSection, f64) {
    let config = LiveConfig::default();
    let window = read_window(log, &config.window, SystemTime::now()).unwrap();
    assert_eq!(window.len(), rows);
    let view = WindowView::of_records(&window);
    let uncalibrated = tympan_report::live::estimate(&view, None).accuracy;
    let section = live_section(reference, &view, &config, monitoring).unwrap();
    (section, uncalibrated)
}

/// Embeds the `(path, label)` clips into `dir` (fitting the embedding on them, as `tympan embed`
/// does) and trains a model with the clips' sources (the speaker or kit of `{label}_{source}_{n}`
/// file names) as calibration groups, as `tympan train` takes them from the embedding's side
/// file; returns the reference rows, the embedding, the model and its monitoring profile.
fn deploy(
    dir: &Path,
    clips: &[(PathBuf, String)],
) -> (
    Vec<tympan_data::LabeledRow>,
    Embedder,
    Model,
    Option<Monitoring>,
) {
    let manifest = dir.join("manifest.csv");
    let mut rows = String::from("path,label\n");
    for (path, label) in clips {
        rows.push_str(&format!("{},{label}\n", path.display()));
    }
    std::fs::write(&manifest, rows).unwrap();
    let (out, artifacts) = (dir.join("ref_data.csv"), dir.join("artifacts"));
    embed_dataset(EmbedRequest::new(
        dir.to_path_buf(),
        LabelSource::Manifest(manifest),
        out.clone(),
        artifacts.clone(),
    ))
    .unwrap();
    let reference = read_table(&out).unwrap().rows;
    assert_eq!(reference.len(), clips.len());
    // The table lists the clips in file name order.
    let mut names: Vec<String> = clips
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(reference
        .iter()
        .zip(&names)
        .all(|(r, n)| n.starts_with(&format!("{}_", r.target))));
    let groups: Vec<String> = names
        .iter()
        .map(|n| n.split('_').nth(1).unwrap().to_string())
        .collect();
    let embedder = Embedder::load(&artifacts, AudioLimits::default()).unwrap();
    // As `tympan train` does: the calibration and the detector come from its holdout.
    let trained = train_version(
        &reference,
        &TrainConfig::default(),
        None,
        embedder.fingerprint(),
        Some(&groups),
    )
    .unwrap();
    // Saved as v0001, the version the prediction logs name.
    let version = ModelRegistry::new(&artifacts)
        .save(&trained.model, trained.meta.clone())
        .unwrap();
    assert_eq!(version, "v0001");
    (reference, embedder, trained.model, trained.meta.monitoring)
}

/// The label of an FSDD or drum file: the name up to its first `_`.
fn labelled(path: PathBuf) -> (PathBuf, String) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let label = name.split('_').next().unwrap().to_string();
    (path, label)
}

/// The FSDD deployment of the live test in `dir`: the reference rows of the five known speakers'
/// training takes, the embedding, and the prediction logs (with their accuracies) of the new
/// speaker's 300 takes and of the 300 held-out takes of the five.
#[allow(clippy::type_complexity)]
fn fsdd_deployment(
    dir: &Path,
) -> (
    Vec<tympan_data::LabeledRow>,
    Embedder,
    Option<Monitoring>,
    (PathBuf, Quality),
    (PathBuf, Quality),
) {
    let training: Vec<(PathBuf, String)> = clips(&KNOWN, |s, d, t| !held_out(s, d, t))
        .into_iter()
        .map(labelled)
        .collect();
    let (reference, embedder, model, monitoring) = deploy(dir, &training);
    let new_speaker = predict_to_log(
        dir,
        "new.csv",
        &clips(&[NEW], |_, _, t| t < 30),
        &embedder,
        &model,
    );
    let known = predict_to_log(
        dir,
        "known.csv",
        &clips(&KNOWN, held_out),
        &embedder,
        &model,
    );
    (reference, embedder, monitoring, new_speaker, known)
}

#[test]
fn a_new_speaker_drifts_and_new_takes_of_known_speakers_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (reference, embedder, monitoring, (new_speaker, new_quality), (known, known_quality)) =
        fsdd_deployment(tmp.path());
    let monitoring = monitoring.as_ref();
    let out = tmp.path().join("ref_data.csv");

    let (drifted, uncalibrated) = section(&reference, &new_speaker, 300, monitoring);
    check_estimate("new speaker", &drifted, uncalibrated, new_quality, false);
    let (calm, uncalibrated) = section(&reference, &known, 300, monitoring);
    check_estimate("held-out takes", &calm, uncalibrated, known_quality, true);
    println!("new speaker: {:?}", drifted.embedding);
    println!("known speakers, new takes: {:?}", calm.embedding);
    let e = &drifted.embedding;
    assert!(e.drift && e.domain_drift && e.share_drift, "{e:?}");
    let e = &calm.embedding;
    assert!(!e.drift && !e.domain_drift && !e.share_drift, "{e:?}");

    // A window of 100: the per-column default of the labelled report (normed Wasserstein > 0.1
    // once the reference has more than 1,000 rows) raises the false alarm the live section must
    // not raise.
    let small = LiveWindow {
        rows: 100,
        max_age: None,
    };
    let hundred = read_window(&known, &small, SystemTime::now()).unwrap();
    let flagged = (0..embedder.dim())
        .filter(|&c| {
            let sorted = |v: Vec<f64>| {
                let mut v = v;
                v.sort_by(f64::total_cmp);
                v
            };
            let r = sorted(reference.iter().map(|r| f64::from(r.vector[c])).collect());
            let w = sorted(hundred.iter().map(|r| f64::from(r.vector[c])).collect());
            tympan_report::stattest::wasserstein_normed(&r, &w) > 0.1
        })
        .count();
    let config = LiveConfig {
        window: small,
        ..LiveConfig::default()
    };
    let live = live_section(&reference, &WindowView::of_records(&hundred), &config, None)
        .unwrap()
        .embedding;
    println!(
        "100 held-out takes: the per-column default flags {flagged} of {} components; live: {live:?}",
        embedder.dim()
    );
    assert!(
        !live.drift && !live.domain_drift && !live.share_drift,
        "{live:?}"
    );
    assert!(
        flagged * 2 > embedder.dim(),
        "the per-column default flags {flagged}: this window no longer shows the false alarm"
    );

    // The command line: the same window through `tympan-report --live`, with the model's
    // calibration from the registry, and 30 of the predictions labelled by id in the feedback
    // log: 20 with the label the model gave, 10 with another.
    let prod = tmp.path().join("prod_data.csv");
    let feedback = FeedbackLog::open(&prod, embedder.dim()).unwrap();
    let logged = read_window(
        &new_speaker,
        &LiveConfig::default().window,
        SystemTime::now(),
    )
    .unwrap();
    for (i, r) in logged.iter().take(30).enumerate() {
        let predicted = r.prediction();
        let target = if i < 20 {
            predicted.to_string()
        } else {
            format!("not-{predicted}")
        };
        let row = tympan_data::LabeledRow {
            vector: r.vector.to_vec(),
            target,
            prediction: Some(predicted.to_string()),
        };
        feedback.append_keyed(&row, &r.id.to_string()).unwrap();
    }
    drop(feedback);
    let reports = tmp.path().join("reports");
    for run in 1..=2 {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_tympan-report"))
            .args(["--ref", out.to_str().unwrap()])
            .args(["--prod", prod.to_str().unwrap()])
            .args(["--out", reports.to_str().unwrap()])
            .args([
                "--artifacts",
                tmp.path().join("artifacts").to_str().unwrap(),
            ])
            .args(["--live", new_speaker.to_str().unwrap(), "--window", "300"])
            .status()
            .unwrap();
        assert!(status.success());
        let history = std::fs::read_to_string(reports.join("live_history.jsonl")).unwrap();
        assert_eq!(history.lines().count(), run, "{history}");
    }
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("live.json")).unwrap()).unwrap();
    assert_eq!(written["embedding"]["drift"], true, "{written}");
    assert_eq!(written["window_rows"], 300);
    assert_eq!(written["estimate"]["calibrated"], true, "{written}");
    assert_eq!(
        written["estimate"]["accuracy"].as_f64().unwrap(),
        drifted.estimate.accuracy
    );
    assert_eq!(written["realised"]["rows"], 30, "{written}");
    assert_eq!(
        written["realised"]["accuracy"].as_f64().unwrap(),
        20.0 / 30.0
    );
    let page = std::fs::read_to_string(reports.join("live.html")).unwrap();
    assert!(page.contains("The live traffic has drifted") && page.contains("<svg"));
}

/// The second domain: drum one-shots. A model of eleven kits; traffic from two kits it never saw
/// drifts, a fifth of the eleven kits' samples held out from training does not.
#[test]
fn unseen_drum_kits_drift_and_held_out_samples_of_known_kits_do_not() {
    // Two kits with every kind of drum between them (78 samples).
    const UNSEEN: [&str; 2] = ["MilloMultiLayered2", "MilloMultiLayered3"];
    let mut files: Vec<PathBuf> = std::fs::read_dir(tympan_testkit::drums::drum_set())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "txt"))
        .collect();
    files.sort();
    let kit = |p: &PathBuf| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.split('_').nth(1).unwrap_or_default().to_string()
    };
    let (unseen, known): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|p| UNSEEN.contains(&kit(p).as_str()));
    // Every fifth sample of the known kits (sorted by class, kit and number) is held out.
    let held: Vec<PathBuf> = known.iter().step_by(5).cloned().collect();
    let training: Vec<(PathBuf, String)> = known
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 5 != 0)
        .map(|(_, p)| labelled(p))
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let (reference, embedder, model, monitoring) = deploy(tmp.path(), &training);
    let monitoring = monitoring.as_ref();
    let (new_kits, new_quality) = predict_to_log(tmp.path(), "new.csv", &unseen, &embedder, &model);
    let (known_kits, known_quality) =
        predict_to_log(tmp.path(), "known.csv", &held, &embedder, &model);
    let (drifted, uncalibrated) = section(&reference, &new_kits, unseen.len(), monitoring);
    check_estimate("unseen kits", &drifted, uncalibrated, new_quality, false);
    let (calm, uncalibrated) = section(&reference, &known_kits, held.len(), monitoring);
    check_estimate("held-out samples", &calm, uncalibrated, known_quality, true);
    let (drifted, calm) = (drifted.embedding, calm.embedding);
    println!("unseen kits ({} samples): {drifted:?}", unseen.len());
    println!("held-out samples of known kits ({}): {calm:?}", held.len());
    assert!(
        drifted.drift && drifted.domain_drift && drifted.share_drift,
        "{drifted:?}"
    );
    assert!(
        !calm.drift && !calm.domain_drift && !calm.share_drift,
        "{calm:?}"
    );
}

/// A 16-bit mono WAV of `samples` (in [-1, 1]) at `rate` in `dir`.
fn synthetic_clip(dir: &Path, name: &str, rate: u32, samples: &[f32]) -> PathBuf {
    let pcm: Vec<u8> = samples
        .iter()
        .flat_map(|v| ((v.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    let path = dir.join(name);
    let spec = tympan_testkit::wav::WavSpec::pcm16(1, rate);
    std::fs::write(&path, tympan_testkit::wav::wav(spec, &pcm, None)).unwrap();
    path
}

/// Unusual clips for a model of five FSDD speakers: few of the held-out takes, every white
/// noise, click train and tone, most drum samples.
#[test]
fn sounds_unlike_speech_are_unusual_for_a_speech_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, embedder, monitoring, (new_speaker, _), (known, _)) = fsdd_deployment(tmp.path());
    let detector = monitoring.unwrap().unusual.unwrap();
    let unusual = |v: &[f32]| detector.is_unusual(detector.score(v));
    let share = |log: &Path| {
        let window = LiveWindow {
            rows: 300,
            max_age: None,
        };
        let records = read_window(log, &window, SystemTime::now()).unwrap();
        records.iter().filter(|r| unusual(&r.vector)).count() as f64 / records.len() as f64
    };
    let (known_share, new_share) = (share(&known), share(&new_speaker));

    let mut rng = tympan_testkit::synth::Rng::new(11);
    let mut odd = Vec::new();
    for (rate, seconds) in [(8_000u32, 1usize), (44_100, 2)] {
        let n = rate as usize * seconds;
        for level in [0.003f32, 0.03, 0.3] {
            let noise: Vec<f32> = (0..n)
                .map(|_| (rng.uniform() as f32 * 2.0 - 1.0) * level)
                .collect();
            odd.push(synthetic_clip(
                tmp.path(),
                &format!("noise_{rate}_{level}.wav"),
                rate,
                &noise,
            ));
        }
        for spacing in [0.05f32, 0.13, 0.31] {
            let step = (spacing * rate as f32) as usize;
            let clicks: Vec<f32> = (0..n)
                .map(|i| match i % step {
                    0 => 0.9,
                    1 => -0.7,
                    _ => (rng.uniform() as f32 - 0.5) * 1e-4,
                })
                .collect();
            odd.push(synthetic_clip(
                tmp.path(),
                &format!("clicks_{rate}_{spacing}.wav"),
                rate,
                &clicks,
            ));
        }
        let tone: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.3)
            .collect();
        odd.push(synthetic_clip(
            tmp.path(),
            &format!("tone_{rate}.wav"),
            rate,
            &tone,
        ));
    }
    let missed: Vec<String> = odd
        .iter()
        .filter(|p| {
            let e = embedder.embed_file(p).unwrap();
            !unusual(&e.vector)
        })
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();

    let drums: Vec<PathBuf> = std::fs::read_dir(tympan_testkit::drums::drum_set())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "txt"))
        .collect();
    let flagged = drums
        .iter()
        .filter(|p| unusual(&embedder.embed_file(p).unwrap().vector))
        .count();
    let drum_share = flagged as f64 / drums.len() as f64;
    println!(
        "unusual (threshold {:.2}): held-out takes {:.1} %, new speaker {:.1} %, drums {flagged} of {} ({:.1} %), synthetic {} of {} (missed {missed:?})",
        detector.threshold,
        known_share * 100.0,
        new_share * 100.0,
        drums.len(),
        drum_share * 100.0,
        odd.len() - missed.len(),
        odd.len()
    );
    assert!(known_share <= 0.05, "{known_share}");
    assert!(missed.is_empty(), "not unusual: {missed:?}");
    assert!(drum_share >= 0.95, "{drum_share}");
}

/// Reference rows written for the Evidently cross-check (a seeded draw of the 2,200).
const EVIDENTLY_REFERENCE_ROWS: usize = 600;

/// Writes the vectors of the FSDD live test to `tests/evidently/` for
/// `tests/evidently/gen_embedding_drift.py` (Evidently's embedding-drift methods on the same
/// vectors) and `tests/evidently_embeddings.rs`: a seeded draw of 600 reference rows, the new
/// speaker's window (300), the held-out takes' window (300) and its last 100.
#[test]
#[ignore = "rewrites tests/evidently/*.csv"]
fn write_evidently_vectors() {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;

    let tmp = tempfile::tempdir().unwrap();
    let (reference, embedder, _, (new_speaker, _), (known, _)) = fsdd_deployment(tmp.path());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/evidently");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, rows: &[&[f32]]| {
        let mut text = (1..=embedder.dim())
            .map(|i| format!("PCA_{i}"))
            .collect::<Vec<_>>()
            .join(",");
        text.push('\n');
        for row in rows {
            assert_eq!(row.len(), embedder.dim());
            // 4 decimals: under 1e-4 of every component's spread (0.6 to 5), and small files.
            let values: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
            text.push_str(&values.join(","));
            text.push('\n');
        }
        std::fs::write(dir.join(name), text).unwrap();
        println!("{name}: {} rows of {}", rows.len(), embedder.dim());
    };
    let mut drawn: Vec<usize> = (0..reference.len()).collect();
    drawn.shuffle(&mut rand::rngs::StdRng::seed_from_u64(0));
    drawn.truncate(EVIDENTLY_REFERENCE_ROWS);
    drawn.sort_unstable();
    let rows: Vec<&[f32]> = drawn.iter().map(|&i| &reference[i].vector[..]).collect();
    write("reference.csv", &rows);
    let now = SystemTime::now();
    for (name, log, rows) in [
        ("new_speaker.csv", &new_speaker, 300),
        ("held_out.csv", &known, 300),
        ("held_out_small.csv", &known, 100),
    ] {
        let window = LiveWindow {
            rows,
            max_age: None,
        };
        let records = read_window(log, &window, now).unwrap();
        assert_eq!(records.len(), rows);
        write(name, &WindowView::of_records(&records).vectors);
    }
}
