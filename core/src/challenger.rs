//! Champion/challenger retraining: a retrained model is promoted only if it is not worse than the
//! served one on production feedback that neither of them trained on.
//!
//! Protocol. The champion was trained on the reference rows plus the first `p` production rows
//! (recorded in its metadata); the production rows after those are unseen by it. The challenger
//! recipe is scored on those same unseen rows by 2-fold cross-validation (train on everything
//! else plus one half, predict the other half), so every evaluation row is unseen by the model
//! that predicts it. The challenger is promoted when its macro F1 is at least the champion's
//! minus `margin`; the promoted model is then trained on all rows.

use serde::{Deserialize, Serialize};

use crate::metrics::ClassificationMetrics;
use crate::model::{train, Model, ModelError, TrainConfig};
use crate::registry::ModelVersion;
use crate::table::LabeledRow;
use crate::training::{train_version, TrainedModel};

/// Key in a model's metadata notes: production rows included in its training data.
pub const PROD_ROWS_NOTE: &str = "prod_rows";

/// How a retraining starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetrainMode {
    /// From zero.
    #[default]
    Scratch,
    /// From the champion's parameters.
    Finetune,
}

impl std::str::FromStr for RetrainMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "scratch" => Ok(Self::Scratch),
            "finetune" => Ok(Self::Finetune),
            other => Err(format!(
                "retrain mode {other:?}: expected scratch or finetune"
            )),
        }
    }
}

/// Promotion rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PromotionPolicy {
    /// Largest macro-F1 drop still accepted.
    pub margin: f64,
    /// Scratch or fine-tuning.
    pub mode: RetrainMode,
}

impl Default for PromotionPolicy {
    fn default() -> Self {
        Self {
            margin: 0.01,
            mode: RetrainMode::Scratch,
        }
    }
}

/// The recorded comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the challenger replaces the champion.
    pub promoted: bool,
    /// The champion's version.
    pub champion: String,
    /// Champion's macro F1 on the evaluation rows.
    pub champion_f1: f64,
    /// Challenger recipe's cross-validated macro F1 on the same rows.
    pub challenger_f1: f64,
    /// Number of evaluation rows (unseen production rows).
    pub eval_rows: usize,
    /// Training rows of the challenger.
    pub train_rows: usize,
    /// The margin applied.
    pub margin: f64,
    /// Why, in words.
    pub reason: String,
}

/// A challenger and the decision about it.
#[derive(Debug, Clone)]
pub struct RetrainOutcome {
    /// The challenger trained on all rows (with the decision in its metadata notes).
    pub challenger: TrainedModel,
    /// The comparison.
    pub decision: Decision,
}

/// Trains a challenger on `reference + production` and compares it with `champion`.
pub fn retrain(
    reference: &[LabeledRow],
    production: &[LabeledRow],
    champion: &ModelVersion,
    config: &TrainConfig,
    policy: &PromotionPolicy,
) -> Result<RetrainOutcome, ModelError> {
    let fingerprint = &champion.model.embedding_fingerprint;
    let warm = (policy.mode == RetrainMode::Finetune).then_some(&champion.model);
    let seen = champion
        .meta
        .notes
        .get(PROD_ROWS_NOTE)
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
        .min(production.len() as u64) as usize;
    let unseen = &production[seen..];
    let base: Vec<LabeledRow> = reference
        .iter()
        .chain(&production[..seen])
        .cloned()
        .collect();

    let (champion_f1, challenger_f1) = if unseen.is_empty() {
        (0.0, 0.0)
    } else {
        let champion_preds: Vec<String> = unseen
            .iter()
            .map(|r| Ok(champion.model.predict_label(&r.vector)?.to_string()))
            .collect::<Result<_, ModelError>>()?;
        let challenger_preds = cross_validated_predictions(&base, unseen, config, warm)?;
        let targets: Vec<&str> = unseen.iter().map(|r| r.target.as_str()).collect();
        let score = |preds: &[String]| {
            let p: Vec<&str> = preds.iter().map(String::as_str).collect();
            ClassificationMetrics::compute(&targets, &p).macro_f1
        };
        (score(&champion_preds), score(&challenger_preds))
    };
    let all: Vec<LabeledRow> = base.iter().chain(unseen).cloned().collect();
    let mut challenger = train_version(
        &all,
        config,
        warm.map(|m| (m, champion.meta.version.as_str())),
        fingerprint,
    )?;
    if warm.is_none() {
        challenger.meta.parent = Some(champion.meta.version.clone());
    }
    let promoted = !unseen.is_empty() && challenger_f1 >= champion_f1 - policy.margin;
    let reason = if unseen.is_empty() {
        "no production rows unseen by the champion: nothing to compare on".to_string()
    } else if promoted {
        format!(
            "challenger F1 {challenger_f1:.4} >= champion F1 {champion_f1:.4} - margin {}",
            policy.margin
        )
    } else {
        format!(
            "challenger F1 {challenger_f1:.4} < champion F1 {champion_f1:.4} - margin {}",
            policy.margin
        )
    };
    let decision = Decision {
        promoted,
        champion: champion.meta.version.clone(),
        champion_f1,
        challenger_f1,
        eval_rows: unseen.len(),
        train_rows: all.len(),
        margin: policy.margin,
        reason,
    };
    challenger
        .meta
        .notes
        .insert(PROD_ROWS_NOTE.into(), production.len().into());
    challenger.meta.notes.insert(
        "decision".into(),
        serde_json::to_value(&decision).expect("decision serialises"),
    );
    Ok(RetrainOutcome {
        challenger,
        decision,
    })
}

/// Predictions for `rows`, each made by a model that did not train on it (2 folds, alternating).
fn cross_validated_predictions(
    base: &[LabeledRow],
    rows: &[LabeledRow],
    config: &TrainConfig,
    warm: Option<&Model>,
) -> Result<Vec<String>, ModelError> {
    let mut preds = vec![String::new(); rows.len()];
    let folds = if rows.len() >= 2 { 2 } else { 1 };
    for fold in 0..folds {
        let train_rows: Vec<LabeledRow> = base
            .iter()
            .cloned()
            .chain(
                rows.iter()
                    .enumerate()
                    .filter(|(i, _)| folds == 2 && i % 2 != fold)
                    .map(|(_, r)| r.clone()),
            )
            .collect();
        let model = train(&train_rows, config, warm, "")?;
        for (i, r) in rows.iter().enumerate() {
            if folds == 1 || i % 2 == fold {
                preds[i] = model.predict_label(&r.vector)?.to_string();
            }
        }
    }
    Ok(preds)
}
