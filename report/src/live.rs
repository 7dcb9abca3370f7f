//! The live-traffic section: drift of the latest predictions against the reference data, with no
//! label at all. The window is the last `rows` predictions of the prediction log, optionally
//! only those younger than `max_age`; it is compared with the reference rows by
//! [`embedding_drift`] (the vectors) and by a chi-square test of the predicted labels against the
//! reference labels (prediction drift).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tympan_data::monitoring::Monitoring;
use tympan_data::{read_predictions, LabeledRow, PredictionRecord};

use crate::embedding_drift::{embedding_drift, EmbeddingDrift, EmbeddingDriftConfig};
use crate::stattest::chi_square_drift;
use crate::ReportError;

/// Which predictions make the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveWindow {
    /// The last this many predictions.
    pub rows: usize,
    /// Only those younger than this (none: any age).
    pub max_age: Option<Duration>,
}

impl Default for LiveWindow {
    fn default() -> Self {
        Self {
            rows: 500,
            max_age: None,
        }
    }
}

/// Settings of the live section.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LiveConfig {
    /// The window.
    pub window: LiveWindow,
    /// The embedding drift methods.
    pub drift: EmbeddingDriftConfig,
}

/// The predicted labels of the window against the reference labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionDrift {
    /// Reference rows per label, window predictions per label (every label of either side).
    pub counts: BTreeMap<String, (u64, u64)>,
    /// Chi-square p-value (expected counts: the reference shares).
    pub p_value: f64,
    /// Whether the p-value is under the significance level.
    pub drift: bool,
}

/// The live-traffic section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSection {
    /// Predictions in the window.
    pub window_rows: usize,
    /// The oldest and newest prediction of the window (RFC 3339).
    pub from: String,
    /// See `from`.
    pub to: String,
    /// Model versions that answered in the window, in order of first appearance.
    pub model_versions: Vec<String>,
    /// Drift of the vectors.
    pub embedding: EmbeddingDrift,
    /// Drift of the predicted labels.
    pub predictions: PredictionDrift,
    /// Accuracy estimated without labels ([`Estimate::accuracy`], kept at the top level for
    /// the readers of the first format).
    pub estimated_accuracy: f64,
    /// Accuracy and macro F1 estimated without labels.
    pub estimate: Estimate,
    /// Unusual clips in the window (absent when the model has no detector).
    pub unusual: Option<UnusualShare>,
    /// Accuracy on the predictions whose true label came back (absent when none did).
    pub realised: Option<Realised>,
}

/// Reads the window from a prediction log (`data/predictions.csv`).
pub fn read_window(
    log: &Path,
    window: &LiveWindow,
    now: SystemTime,
) -> Result<Vec<PredictionRecord>, ReportError> {
    let mut kept: VecDeque<PredictionRecord> = VecDeque::new();
    let young = |r: &PredictionRecord| {
        window
            .max_age
            .is_none_or(|age| now.duration_since(r.time).map_or(true, |a| a <= age))
    };
    read_predictions(log, |r| {
        if window.rows > 0 && young(&r) {
            if kept.len() == window.rows {
                kept.pop_front();
            }
            kept.push_back(r);
        }
    })?;
    Ok(kept.into())
}

/// One prediction of the window.
#[derive(Debug, Clone, Copy)]
pub struct WindowRow<'a> {
    /// Its vector.
    pub vector: &'a [f32],
    /// The answering model's classes.
    pub classes: &'a [String],
    /// Index of the predicted class.
    pub predicted: usize,
    /// The model's probabilities, in `classes` order.
    pub probabilities: &'a [f32],
    /// When it was answered.
    pub time: SystemTime,
    /// The answering model's version, when known.
    pub model_version: Option<&'a str>,
    /// The true label, once a client has sent it (feedback by id).
    pub target: Option<&'a str>,
}

impl<'a> WindowRow<'a> {
    /// The row of a record read from a prediction log (no true label).
    pub fn of_record(r: &'a PredictionRecord) -> Self {
        Self {
            vector: &r.vector,
            classes: &r.classes,
            predicted: r.predicted,
            probabilities: &r.probabilities,
            time: r.time,
            model_version: Some(&r.model_version),
            target: None,
        }
    }

    /// The predicted label.
    pub fn prediction(&self) -> &'a str {
        self.classes.get(self.predicted).map_or("", String::as_str)
    }
}

/// A window as the live section reads it, oldest first.
#[derive(Debug, Clone, Default)]
pub struct WindowView<'a> {
    /// The predictions.
    pub rows: Vec<WindowRow<'a>>,
    /// Their vectors (the drift tests' input).
    pub vectors: Vec<&'a [f32]>,
}

impl<'a> WindowView<'a> {
    /// The view of records read from a prediction log.
    pub fn of_records(records: &'a [PredictionRecord]) -> Self {
        Self::of_rows(records.iter().map(WindowRow::of_record).collect())
    }

    /// The view of rows.
    pub fn of_rows(rows: Vec<WindowRow<'a>>) -> Self {
        Self {
            vectors: rows.iter().map(|r| r.vector).collect(),
            rows,
        }
    }

    /// Model versions that answered, in order of first appearance.
    pub fn model_versions(&self) -> Vec<String> {
        let mut versions: Vec<String> = Vec::new();
        for v in self.rows.iter().filter_map(|r| r.model_version) {
            if !versions.iter().any(|seen| seen == v) {
                versions.push(v.to_string());
            }
        }
        versions
    }
}

/// How many predictions of the window are unusual clips.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UnusualShare {
    /// Unusual predictions.
    pub unusual: usize,
    /// Their share of the window.
    pub rate: f64,
}

/// Accuracy on the predictions of the window whose true label came back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Realised {
    /// Predictions with a true label.
    pub rows: usize,
    /// The share of them predicted right.
    pub accuracy: f64,
}

/// Quality estimated without labels (confidence-based performance estimation, as NannyML's
/// CBPE): with calibrated probabilities `q`, a prediction of class `k` is right with probability
/// `q_k`, so the expected confusion matrix, and from it accuracy and macro F1, follow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Expected accuracy: the mean calibrated probability of the predicted labels.
    pub accuracy: f64,
    /// Expected macro F1 over the classes predicted or expected in the window.
    pub macro_f1: f64,
    /// Whether the probabilities were calibrated (the model has a stored calibration); if not,
    /// the model's own probabilities were used.
    pub calibrated: bool,
    /// Whether the calibration also weighed each clip's novelty (a model trained on rows with
    /// groups, see [`tympan_data::monitoring::NoveltyCalibration`]), which keeps the estimate
    /// close under a new speaker or kit; if not, it assumes clips like the training data.
    pub novelty_aware: bool,
}

/// Computes the live section for `window` against `reference`. `monitoring` is the serving
/// model's profile: its calibration for the estimates, its detector for the unusual share.
pub fn live_section(
    reference: &[LabeledRow],
    window: &WindowView<'_>,
    config: &LiveConfig,
    monitoring: Option<&Monitoring>,
) -> Result<LiveSection, ReportError> {
    let reference_vectors: Vec<&[f32]> = reference.iter().map(|r| r.vector.as_slice()).collect();
    let embedding = embedding_drift(&reference_vectors, &window.vectors, &config.drift)
        .map_err(|e| ReportError::Config(e.to_string()))?;
    let predictions = prediction_drift(reference, window, config.drift.alpha);
    let time = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
    let span = window.rows.first().zip(window.rows.last());
    // Each row scored once: for the unusual share and for the novelty-aware estimate.
    let scores = scores(window, monitoring);
    let unusual = monitoring
        .and_then(|m| m.unusual.as_ref())
        .zip(scores.as_deref())
        .map(|(detector, scores)| {
            let unusual = scores.iter().filter(|&&s| detector.is_unusual(s)).count();
            UnusualShare {
                unusual,
                rate: unusual as f64 / window.rows.len().max(1) as f64,
            }
        });
    let estimate = estimate_scored(window, monitoring, scores.as_deref());
    Ok(LiveSection {
        window_rows: window.rows.len(),
        from: span.map(|s| time(s.0.time)).unwrap_or_default(),
        to: span.map(|s| time(s.1.time)).unwrap_or_default(),
        model_versions: window.model_versions(),
        embedding,
        predictions,
        estimated_accuracy: estimate.accuracy,
        estimate,
        unusual,
        realised: realised(window),
    })
}

/// Chi-square test of the window's predicted labels against the reference labels.
fn prediction_drift(
    reference: &[LabeledRow],
    window: &WindowView<'_>,
    alpha: f64,
) -> PredictionDrift {
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in reference {
        counts.entry(r.target.clone()).or_default().0 += 1;
    }
    for r in &window.rows {
        counts.entry(r.prediction().to_string()).or_default().1 += 1;
    }
    let (reference_counts, window_counts): (Vec<u64>, Vec<u64>) = counts.values().copied().unzip();
    // A label the reference lacks has no expected count: it is drift by itself.
    let unseen = reference_counts
        .iter()
        .zip(&window_counts)
        .any(|(&r, &w)| r == 0 && w > 0);
    let p_value = if unseen {
        0.0
    } else {
        chi_square_drift(&reference_counts, &window_counts).1
    };
    PredictionDrift {
        counts,
        p_value,
        drift: p_value < alpha,
    }
}

/// Each row's score under the profile's unusual-clip detector, if it has one.
fn scores(window: &WindowView<'_>, monitoring: Option<&Monitoring>) -> Option<Vec<f64>> {
    let detector = monitoring?.unusual.as_ref()?;
    Some(
        window
            .rows
            .iter()
            .map(|r| detector.score(r.vector))
            .collect(),
    )
}

/// The expected accuracy and macro F1 of the window (see [`Estimate`]).
pub fn estimate(window: &WindowView<'_>, monitoring: Option<&Monitoring>) -> Estimate {
    estimate_scored(window, monitoring, scores(window, monitoring).as_deref())
}

/// [`estimate`] with the rows' scores under the profile's detector, when it has one.
fn estimate_scored(
    window: &WindowView<'_>,
    monitoring: Option<&Monitoring>,
    scores: Option<&[f64]>,
) -> Estimate {
    // Per class: expected true positives, false positives, false negatives.
    let mut expected: BTreeMap<&str, [f64; 3]> = BTreeMap::new();
    let mut accuracy = 0.0;
    for (i, r) in window.rows.iter().enumerate() {
        let q = match monitoring {
            Some(m) => m.calibrate_scored(r.probabilities, scores.map(|s| s[i])),
            None => r.probabilities.to_vec(),
        };
        for (k, (class, &p)) in r.classes.iter().zip(&q).enumerate() {
            let p = f64::from(p);
            let e = expected.entry(class.as_str()).or_default();
            if k == r.predicted {
                e[0] += p;
                e[1] += 1.0 - p;
                accuracy += p;
            } else {
                e[2] += p;
            }
        }
    }
    let f1s: Vec<f64> = expected
        .values()
        // The classes the realised macro F1 would average over: those predicted, and those
        // expected at least half a time among the true labels (not every class the model knows,
        // whose tiny leftover probabilities would count as F1 0).
        .filter(|[tp, fp, fn_]| tp + fp > 0.5 || tp + fn_ >= 0.5)
        .map(|[tp, fp, fn_]| 2.0 * tp / (2.0 * tp + fp + fn_))
        .collect();
    Estimate {
        accuracy: accuracy / window.rows.len().max(1) as f64,
        macro_f1: f1s.iter().sum::<f64>() / f1s.len().max(1) as f64,
        calibrated: monitoring.is_some(),
        novelty_aware: monitoring.is_some_and(Monitoring::novelty_aware),
    }
}

/// Accuracy on the labelled predictions of the window, if any.
fn realised(window: &WindowView<'_>) -> Option<Realised> {
    let labelled: Vec<bool> = window
        .rows
        .iter()
        .filter_map(|r| r.target.map(|t| t == r.prediction()))
        .collect();
    (!labelled.is_empty()).then(|| Realised {
        rows: labelled.len(),
        accuracy: labelled.iter().filter(|&&right| right).count() as f64 / labelled.len() as f64,
    })
}

/// One computation of the live section, in brief: a point of the plot over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePoint {
    /// When it was computed (RFC 3339).
    pub time: String,
    /// The same, in milliseconds since the Unix epoch (the plot's x).
    pub unix_ms: i64,
    /// Predictions in the window.
    pub window_rows: usize,
    /// The embedding drift verdict.
    pub drift: bool,
    /// The domain classifier's ROC AUC.
    pub domain_auc: f64,
    /// Accuracy estimated without labels.
    pub estimated_accuracy: f64,
    /// Macro F1 estimated without labels.
    pub estimated_macro_f1: f64,
    /// Share of unusual clips (absent when the model has no detector).
    pub unusual_rate: Option<f64>,
    /// Accuracy on the window's predictions whose true label came back (absent when none).
    pub realised_accuracy: Option<f64>,
    /// How many that is.
    pub realised_rows: usize,
}

impl LivePoint {
    /// The point of `section`, computed at `time`.
    pub fn of(section: &LiveSection, time: SystemTime) -> Self {
        let unix_ms = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Self {
            time: humantime::format_rfc3339_seconds(time).to_string(),
            unix_ms,
            window_rows: section.window_rows,
            drift: section.embedding.drift,
            domain_auc: section.embedding.domain_auc,
            estimated_accuracy: section.estimate.accuracy,
            estimated_macro_f1: section.estimate.macro_f1,
            unusual_rate: section.unusual.map(|u| u.rate),
            realised_accuracy: section.realised.map(|r| r.accuracy),
            realised_rows: section.realised.map_or(0, |r| r.rows),
        }
    }
}

/// File name of the live history inside the output directory (`tympan report --live`).
pub const LIVE_HISTORY_FILE: &str = "live_history.jsonl";

/// Appends `point` to `out_dir/live_history.jsonl` (synced; a torn line stays a line of its own).
pub fn append_live_point(out_dir: &Path, point: &LivePoint) -> Result<(), ReportError> {
    let line = serde_json::to_string(point).expect("a point of numbers and strings serialises");
    crate::snapshot::append_line(&out_dir.join(LIVE_HISTORY_FILE), &line)
}

/// The points of `out_dir/live_history.jsonl`, oldest first; unreadable lines are skipped.
pub fn load_live_points(out_dir: &Path) -> Result<Vec<LivePoint>, ReportError> {
    let text = crate::snapshot::read_lines(&out_dir.join(LIVE_HISTORY_FILE))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}
