//! The one training entry point used by `tympan train` and by the server's retraining: train on
//! any rows, measure on a stratified holdout, and describe the result for the registry.

use crate::evaluation::{stratified_split, train_and_measure};
use crate::model::{train_with_convergence, Model, ModelError, TrainConfig};
use crate::monitoring::{
    fit_monitoring, fit_novelty_calibration, fit_unusual, held_out_predictions,
    out_of_group_predictions, UNUSUAL_QUANTILE,
};
use crate::registry::{data_fingerprint, now_rfc3339, ModelMeta};
use tympan_data::metrics::ClassificationMetrics;
use tympan_data::monitoring::Monitoring;
use tympan_data::LabeledRow;

/// Share of rows held out to measure a new model.
pub const HOLDOUT_SHARE: f64 = 0.2;
/// Seed of the holdout split (fixed so figures are reproducible).
pub const HOLDOUT_SEED: u64 = 42;

/// A trained model and its registry metadata (version not yet assigned).
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// The model, trained on all rows.
    pub model: Model,
    /// Metadata, with the holdout metrics.
    pub meta: ModelMeta,
}

/// Trains on all `rows` and measures the same recipe on a stratified 80/20 holdout, where it also
/// fits the model's [`Monitoring`] profile (calibration, unusual-clip threshold).
/// `warm_start` (with its version as the parent) starts the solver from an existing model.
/// `groups` (one per row of a prefix of `rows`: the rows past it, and rows with an empty one,
/// have none), where the rows have them, adds the novelty-aware calibration ([`tympan_data::monitoring::NoveltyCalibration`]).
pub fn train_version(
    rows: &[LabeledRow],
    config: &TrainConfig,
    warm_start: Option<(&Model, &str)>,
    embedding_fingerprint: &str,
    groups: Option<&[String]>,
) -> Result<TrainedModel, ModelError> {
    let (metrics, monitoring) = match holdout_fit(rows, groups, config)? {
        Some((metrics, monitoring)) => (Some(metrics), monitoring),
        None => (None, None),
    };
    let (model, convergence) = train_with_convergence(
        rows,
        config,
        warm_start.map(|(m, _)| m),
        embedding_fingerprint,
    )?;
    let mut notes = serde_json::Map::new();
    notes.insert(
        "mode".into(),
        if warm_start.is_some() {
            "finetune"
        } else {
            "scratch"
        }
        .into(),
    );
    notes.insert(
        "solver".into(),
        serde_json::to_value(convergence).expect("plain numbers serialise"),
    );
    Ok(TrainedModel {
        model,
        meta: ModelMeta {
            version: String::new(),
            parent: warm_start.map(|(_, v)| v.to_string()),
            created_at: now_rfc3339(),
            data_fingerprint: data_fingerprint(rows),
            embedding_fingerprint: embedding_fingerprint.to_string(),
            train_rows: rows.len(),
            train_config: *config,
            metrics,
            notes,
            monitoring,
        },
    })
}

/// Holdout quality of the training recipe and the monitoring profile fitted on the holdout, or
/// `None` when there are too few rows to hold any out.
fn holdout_fit(
    rows: &[LabeledRow],
    groups: Option<&[String]>,
    config: &TrainConfig,
) -> Result<Option<(ClassificationMetrics, Option<Monitoring>)>, ModelError> {
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    let (train_idx, test_idx) = stratified_split(&targets, HOLDOUT_SHARE, HOLDOUT_SEED);
    if test_idx.is_empty() {
        return Ok(None);
    }
    let train_rows: Vec<LabeledRow> = train_idx.iter().map(|&i| rows[i].clone()).collect();
    let test_rows: Vec<&LabeledRow> = test_idx.iter().map(|&i| &rows[i]).collect();
    match train_and_measure(&train_rows, &test_rows, config) {
        Ok((model, metrics)) => {
            let mut monitoring = fit_monitoring(&model, &test_rows, rows);
            if let (Some(monitoring), Some(groups)) = (monitoring.as_mut(), groups) {
                monitoring.calibration.novelty =
                    novelty_calibration(&model, &train_rows, &test_rows, rows, groups, config)?;
            }
            Ok(Some((metrics, monitoring)))
        }
        // A split that leaves one class in training cannot be measured; the full fit may still work.
        Err(ModelError::Data(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The [`tympan_data::monitoring::NoveltyCalibration`] of the recipe: the holdout predicted by
/// `holdout_model` (trained on `holdout_train`) and the rows of each group predicted by the
/// recipe trained without that group.
fn novelty_calibration(
    holdout_model: &Model,
    holdout_train: &[LabeledRow],
    holdout: &[&LabeledRow],
    rows: &[LabeledRow],
    groups: &[String],
    config: &TrainConfig,
) -> Result<Option<tympan_data::monitoring::NoveltyCalibration>, ModelError> {
    let Some((out_of_group, group_count)) = out_of_group_predictions(rows, groups, config)? else {
        return Ok(None);
    };
    let Some(detector) = fit_unusual(holdout_train, UNUSUAL_QUANTILE) else {
        return Ok(None);
    };
    let at_random = held_out_predictions(holdout_model, &detector, holdout);
    Ok(fit_novelty_calibration(
        &at_random,
        &out_of_group,
        group_count,
    ))
}
