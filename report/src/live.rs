//! The live-traffic section: drift of the latest predictions against the reference data, with no
//! label at all. The window is the last `rows` predictions of the prediction log, optionally
//! only those younger than `max_age`; it is compared with the reference rows by
//! [`embedding_drift`] (the vectors) and by a chi-square test of the predicted labels against the
//! reference labels (prediction drift).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;
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
    /// Accuracy estimated without labels: the mean probability of the predicted labels (what
    /// the model expects to get right, exact for a calibrated model).
    pub estimated_accuracy: f64,
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

/// A window as the live section reads it: the vectors and predicted labels, oldest first.
#[derive(Debug, Clone, Default)]
pub struct WindowView<'a> {
    /// The predictions' vectors.
    pub vectors: Vec<&'a [f32]>,
    /// Their predicted labels.
    pub predictions: Vec<&'a str>,
    /// The probability the model gave each predicted label.
    pub confidences: Vec<f32>,
    /// When the oldest and the newest were answered.
    pub span: Option<(SystemTime, SystemTime)>,
    /// Model versions that answered, in order of first appearance (empty when unknown).
    pub model_versions: Vec<String>,
}

impl<'a> WindowView<'a> {
    /// The view of records read from a prediction log.
    pub fn of_records(records: &'a [PredictionRecord]) -> Self {
        let mut model_versions: Vec<String> = Vec::new();
        for r in records {
            if !model_versions.iter().any(|v| **v == *r.model_version) {
                model_versions.push(r.model_version.to_string());
            }
        }
        Self {
            vectors: records.iter().map(|r| &r.vector[..]).collect(),
            predictions: records.iter().map(PredictionRecord::prediction).collect(),
            confidences: records.iter().map(PredictionRecord::confidence).collect(),
            span: records
                .first()
                .zip(records.last())
                .map(|(a, b)| (a.time, b.time)),
            model_versions,
        }
    }
}

/// Computes the live section for `window` against `reference`.
pub fn live_section(
    reference: &[LabeledRow],
    window: &WindowView<'_>,
    config: &LiveConfig,
) -> Result<LiveSection, ReportError> {
    let reference_vectors: Vec<&[f32]> = reference.iter().map(|r| r.vector.as_slice()).collect();
    let embedding = embedding_drift(&reference_vectors, &window.vectors, &config.drift)
        .map_err(|e| ReportError::Config(e.to_string()))?;
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in reference {
        counts.entry(r.target.clone()).or_default().0 += 1;
    }
    for p in &window.predictions {
        counts.entry(p.to_string()).or_default().1 += 1;
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
    let time = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
    Ok(LiveSection {
        window_rows: window.vectors.len(),
        from: window.span.map(|s| time(s.0)).unwrap_or_default(),
        to: window.span.map(|s| time(s.1)).unwrap_or_default(),
        model_versions: window.model_versions.clone(),
        embedding,
        predictions: PredictionDrift {
            counts,
            p_value,
            drift: p_value < config.drift.alpha,
        },
        estimated_accuracy: window
            .confidences
            .iter()
            .map(|&c| f64::from(c))
            .sum::<f64>()
            / window.confidences.len().max(1) as f64,
    })
}
