//! Continuous training on FSDD, measured: a model trained on five speakers receives the held-out
//! speaker's clips as feedback (k rows at a time, each retraining judged by the champion/challenger
//! rule), and its accuracy on that speaker's other, never-fed clips is tracked.
//!
//! `cargo run --release -p tympan-cli --example stream_feedback -- [speaker] [k] [out.svg]`

use std::path::PathBuf;

use rayon::prelude::*;
use tympan_core::audio::AudioLimits;
use tympan_core::challenger::{retrain, PromotionPolicy, RetrainMode, PROD_ROWS_NOTE};
use tympan_core::embedding::{Embedder, Featurizer};
use tympan_core::evaluation::SplitMix64;
use tympan_core::features::FeatureConfig;
use tympan_core::model::{train, Model, TrainConfig};
use tympan_core::registry::{now_rfc3339, ModelMeta, ModelVersion};
use tympan_data::LabeledRow;

fn fsdd_dir() -> PathBuf {
    tympan_testkit::fsdd::recordings()
}

fn accuracy(model: &Model, rows: &[LabeledRow]) -> f64 {
    let right = rows
        .iter()
        .filter(|r| model.predict_label(&r.vector).unwrap() == r.target)
        .count();
    right as f64 / rows.len() as f64
}

fn version(model: Model, name: String, prod_rows: usize) -> ModelVersion {
    let mut notes = serde_json::Map::new();
    notes.insert(PROD_ROWS_NOTE.into(), prod_rows.into());
    ModelVersion {
        model,
        meta: ModelMeta {
            version: name,
            parent: None,
            created_at: now_rfc3339(),
            data_fingerprint: String::new(),
            embedding_fingerprint: String::new(),
            train_rows: 0,
            train_config: TrainConfig::default(),
            metrics: None,
            notes,
            monitoring: None,
        },
    }
}

/// One point of a curve: feedback rows so far, accuracy on the test clips, whether the last
/// retraining was promoted.
type Point = (usize, f64, bool);

/// Accuracy on the test clips after each batch of k feedback rows.
fn run(
    reference: &[LabeledRow],
    stream: &[LabeledRow],
    test: &[LabeledRow],
    k: usize,
    policy: PromotionPolicy,
) -> Vec<Point> {
    let config = TrainConfig::default();
    let mut champion = version(train(reference, &config, None, "").unwrap(), "v1".into(), 0);
    let mut curve = vec![(0, accuracy(&champion.model, test), true)];
    for end in (k..=stream.len()).step_by(k) {
        let out = retrain(reference, None, &stream[..end], &champion, &config, &policy).unwrap();
        if out.decision.promoted {
            let mut next = version(out.challenger.model, format!("v{}", end / k + 1), end);
            next.meta.notes = out.challenger.meta.notes;
            champion = next;
        }
        curve.push((end, accuracy(&champion.model, test), out.decision.promoted));
    }
    curve
}

fn svg(curves: &[(String, Vec<Point>)], target: f64) -> String {
    let (w, h, l, b) = (640.0, 360.0, 50.0, 40.0);
    let max_x = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.0))
        .max()
        .unwrap_or(1) as f64;
    let (lo, hi) = (0.8, 1.0);
    let x = |v: f64| l + v / max_x * (w - l - 20.0);
    let y = |v: f64| (h - b) - (v.clamp(lo, hi) - lo) / (hi - lo) * (h - b - 20.0);
    let colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n");
    for t in [0.8, 0.85, 0.9, 0.95, 1.0] {
        s += &format!("<line x1=\"{l}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>\n", w - 20.0, l - 6.0, y(t) + 4.0, t * 100.0, y = y(t));
    }
    s += &format!("<line x1=\"{l}\" x2=\"{}\" y1=\"{t:.1}\" y2=\"{t:.1}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">target {:.0}%</text>\n", w - 20.0, w - 22.0, y(target) - 4.0, target * 100.0, t = y(target));
    for step in (0..=max_x as usize).step_by(50) {
        s += &format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{step}</text>\n",
            x(step as f64),
            h - b + 16.0
        );
    }
    s += &format!("<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">feedback rows from the held-out speaker</text>\n", (w + l) / 2.0, h - 6.0);
    for (i, (name, curve)) in curves.iter().enumerate() {
        let c = colours[i % colours.len()];
        let pts: Vec<String> = curve
            .iter()
            .map(|(n, a, _)| format!("{:.1},{:.1}", x(*n as f64), y(*a)))
            .collect();
        s += &format!(
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\n",
            pts.join(" ")
        );
        s += &format!(
            "<text x=\"{}\" y=\"{}\" fill=\"{c}\">{}</text>\n",
            l + 10.0,
            20.0 + 16.0 * i as f64,
            name
        );
    }
    s + "</svg>\n"
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let speaker = args.get(1).cloned().unwrap_or_else(|| "yweweler".into());
    let k: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(10);
    let out = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| "docs/finetune.svg".into());

    let mut files: Vec<PathBuf> = std::fs::read_dir(fsdd_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let featurizer = Featurizer::new(FeatureConfig::default(), AudioLimits::default()).unwrap();
    let vectors: Vec<Vec<f32>> = files
        .par_iter()
        .map(|p| featurizer.from_file(p).unwrap().vector)
        .collect();
    let is_held = |p: &PathBuf| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .contains(&format!("_{speaker}_"))
    };
    // The embedding is fitted on the five reference speakers only, as a deployment would be.
    let known: Vec<Vec<f32>> = files
        .iter()
        .zip(&vectors)
        .filter(|(p, _)| !is_held(p))
        .map(|(_, v)| v.clone())
        .collect();
    let embedder = Embedder::fit(featurizer, &known, 64, false).unwrap();
    let row = |p: &PathBuf, v: &Vec<f32>| LabeledRow {
        vector: embedder.project(v).unwrap(),
        target: p.file_name().unwrap().to_string_lossy()[..1].to_string(),
        prediction: None,
    };
    let reference: Vec<LabeledRow> = files
        .iter()
        .zip(&vectors)
        .filter(|(p, _)| !is_held(p))
        .map(|(p, v)| row(p, v))
        .collect();
    // Held-out speaker: takes 0-24 are streamed as feedback (shuffled), takes 25-49 are the test.
    let take = |p: &PathBuf| -> usize {
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        stem.rsplit('_').next().unwrap().parse().unwrap()
    };
    let mut stream: Vec<LabeledRow> = files
        .iter()
        .zip(&vectors)
        .filter(|(p, _)| is_held(p) && take(p) < 25)
        .map(|(p, v)| row(p, v))
        .collect();
    SplitMix64::new(5).shuffle(&mut stream);
    let test: Vec<LabeledRow> = files
        .iter()
        .zip(&vectors)
        .filter(|(p, _)| is_held(p) && take(p) >= 25)
        .map(|(p, v)| row(p, v))
        .collect();

    let mut curves = Vec::new();
    for (mode, weight) in [
        (RetrainMode::Scratch, 1),
        (RetrainMode::Finetune, 1),
        (RetrainMode::Scratch, 5),
        (RetrainMode::Finetune, 5),
    ] {
        let policy = PromotionPolicy {
            mode,
            production_weight: weight,
            ..PromotionPolicy::default()
        };
        let start = std::time::Instant::now();
        let curve = run(&reference, &stream, &test, k, policy);
        let name = format!("{mode:?}, production weight {weight}").to_lowercase();
        let last = curve.last().unwrap();
        let promoted = curve.iter().skip(1).filter(|p| p.2).count();
        println!(
            "{name:<32} start {:.1}%  after 50 rows {:.1}%  after 100 {:.1}%  after {} {:.1}%  ({promoted}/{} promoted, {:.1} s)",
            curve[0].1 * 100.0,
            curve.iter().find(|p| p.0 == 50).map_or(f64::NAN, |p| p.1 * 100.0),
            curve.iter().find(|p| p.0 == 100).map_or(f64::NAN, |p| p.1 * 100.0),
            last.0,
            last.1 * 100.0,
            curve.len() - 1,
            start.elapsed().as_secs_f64()
        );
        curves.push((name, curve));
    }
    std::fs::write(&out, svg(&curves, 0.95)).unwrap();
    println!("plot: {out}");
}
