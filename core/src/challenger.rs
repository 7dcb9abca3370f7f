//! Champion/challenger retraining: a retrained model is promoted only if it is not worse than the
//! served one on data that neither of them trained on.
//!
//! Protocol. A retraining changes the data, not the recipe, so the rule compares the two data sets
//! with the same recipe. A fixed stratified 20 % of the reference rows (`H`) is held out of both
//! sides, and the production rows the champion never saw (`U`, those after the `prod_rows` it
//! recorded) are the new evidence:
//! - champion side: trained on the rest of the reference plus the production rows the champion
//!   had seen; it predicts `H` and `U`;
//! - challenger side: the same plus `U`; it predicts `H`, and `U` by 2-fold cross-validation
//!   (trained on the other half of `U`), so no row is predicted by a model that trained on it.
//!
//! The score of a side is the mean of its macro F1 on `H` (did it forget what it knew?) and on `U`
//! (did it learn the new population?). The challenger is promoted when its score is at least the
//! champion's minus `margin`. The promoted model is then trained on every row. Feedback with
//! scrambled labels cannot fool the rule: it drags the challenger down on `H`.

use serde::{Deserialize, Serialize};

use crate::evaluation::stratified_split;
use crate::model::{train, Model, ModelError, TrainConfig};
use crate::registry::ModelVersion;
use crate::training::{train_version, TrainedModel, HOLDOUT_SEED, HOLDOUT_SHARE};
use tympan_data::metrics::ClassificationMetrics;
use tympan_data::LabeledRow;

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
    /// Largest score drop still accepted.
    pub margin: f64,
    /// Scratch or fine-tuning.
    pub mode: RetrainMode,
    /// Each production row counts this many times in training (1 = as much as a reference row):
    /// a few hundred rows of a new population are otherwise outvoted by thousands of reference
    /// rows.
    pub production_weight: usize,
}

impl Default for PromotionPolicy {
    fn default() -> Self {
        Self {
            margin: 0.01,
            mode: RetrainMode::Scratch,
            production_weight: 1,
        }
    }
}

/// Macro F1 of one side on the two evaluation sets, and their mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SideScore {
    /// On the reference holdout `H`.
    pub reference_f1: f64,
    /// On the unseen production rows `U`.
    pub production_f1: f64,
    /// The mean of the two (the decision score).
    pub score: f64,
}

/// The recorded comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the challenger replaces the champion.
    pub promoted: bool,
    /// The champion's version.
    pub champion: String,
    /// Champion side's scores.
    pub champion_score: SideScore,
    /// Challenger side's scores.
    pub challenger_score: SideScore,
    /// Rows of the reference holdout.
    pub reference_eval_rows: usize,
    /// Unseen production rows.
    pub production_eval_rows: usize,
    /// Training rows of the promoted-or-not challenger.
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

/// Macro F1 over the classes the rows hold. A class that is only predicted (a new one the
/// challenger learnt from production rows, predicted once on the reference holdout) counts as the
/// miss of the true class, not as a whole class scored 0: with 11 classes that zero alone cost
/// 1/11 of the score and kept out challengers that had learnt the new class.
fn macro_f1(rows: &[&LabeledRow], predictions: &[String]) -> f64 {
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    let p: Vec<&str> = predictions.iter().map(String::as_str).collect();
    let metrics = ClassificationMetrics::compute(&targets, &p);
    let held: Vec<f64> = metrics
        .per_class
        .iter()
        .filter(|c| c.support > 0)
        .map(|c| c.f1)
        .collect();
    held.iter().sum::<f64>() / held.len().max(1) as f64
}

fn predict_all(model: &Model, rows: &[&LabeledRow]) -> Result<Vec<String>, ModelError> {
    rows.iter()
        .map(|r| Ok(model.predict_label(&r.vector)?.to_string()))
        .collect()
}

/// Each row repeated `weight` times.
fn weighted<'a>(rows: impl IntoIterator<Item = &'a LabeledRow>, weight: usize) -> Vec<LabeledRow> {
    rows.into_iter()
        .flat_map(|r| std::iter::repeat_n(r.clone(), weight.max(1)))
        .collect()
}

fn side(reference_f1: f64, production_f1: Option<f64>) -> SideScore {
    let score = match production_f1 {
        Some(p) => (reference_f1 + p) / 2.0,
        None => reference_f1,
    };
    SideScore {
        reference_f1,
        production_f1: production_f1.unwrap_or(0.0),
        score,
    }
}

/// Trains a challenger on `reference + production` and compares it with `champion`.
/// `reference_groups` (one per reference row), where the reference has them, keeps the
/// challenger's accuracy estimate novelty-aware, as the first model's was (production rows have
/// no group: they always train).
pub fn retrain(
    reference: &[LabeledRow],
    reference_groups: Option<&[String]>,
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
    let unseen: Vec<&LabeledRow> = production[seen..].iter().collect();

    let targets: Vec<&str> = reference.iter().map(|r| r.target.as_str()).collect();
    let (ref_train, ref_hold) = stratified_split(&targets, HOLDOUT_SHARE, HOLDOUT_SEED);
    let holdout: Vec<&LabeledRow> = ref_hold.iter().map(|&i| &reference[i]).collect();
    let base: Vec<LabeledRow> = ref_train
        .iter()
        .map(|&i| reference[i].clone())
        .chain(weighted(&production[..seen], policy.production_weight))
        .collect();

    let champion_side = train(&base, config, warm, "")?;
    let with_unseen: Vec<LabeledRow> = base
        .iter()
        .cloned()
        .chain(weighted(unseen.iter().copied(), policy.production_weight))
        .collect();
    let challenger_side = train(&with_unseen, config, warm, "")?;
    let (champion_score, challenger_score) = if holdout.is_empty() {
        (side(0.0, None), side(0.0, None))
    } else {
        let champion_prod = (!unseen.is_empty())
            .then(|| predict_all(&champion_side, &unseen).map(|p| macro_f1(&unseen, &p)))
            .transpose()?;
        let challenger_prod = (!unseen.is_empty())
            .then(|| {
                cross_validated_predictions(&base, &unseen, config, warm, policy.production_weight)
                    .map(|p| macro_f1(&unseen, &p))
            })
            .transpose()?;
        (
            side(
                macro_f1(&holdout, &predict_all(&champion_side, &holdout)?),
                champion_prod,
            ),
            side(
                macro_f1(&holdout, &predict_all(&challenger_side, &holdout)?),
                challenger_prod,
            ),
        )
    };

    let all: Vec<LabeledRow> = reference
        .iter()
        .cloned()
        .chain(weighted(production, policy.production_weight))
        .collect();
    let mut challenger = train_version(
        &all,
        config,
        warm.map(|m| (m, champion.meta.version.as_str())),
        fingerprint,
        reference_groups,
    )?;
    if warm.is_none() {
        challenger.meta.parent = Some(champion.meta.version.clone());
    }
    let promoted =
        !unseen.is_empty() && challenger_score.score >= champion_score.score - policy.margin;
    let reason = if unseen.is_empty() {
        "no production rows unseen by the champion: nothing to compare on".to_string()
    } else {
        format!(
            "challenger score {:.4} {} champion score {:.4} - margin {}",
            challenger_score.score,
            if promoted { ">=" } else { "<" },
            champion_score.score,
            policy.margin
        )
    };
    let decision = Decision {
        promoted,
        champion: champion.meta.version.clone(),
        champion_score,
        challenger_score,
        reference_eval_rows: holdout.len(),
        production_eval_rows: unseen.len(),
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
    rows: &[&LabeledRow],
    config: &TrainConfig,
    warm: Option<&Model>,
    weight: usize,
) -> Result<Vec<String>, ModelError> {
    let mut preds = vec![String::new(); rows.len()];
    let folds = if rows.len() >= 2 { 2 } else { 1 };
    for fold in 0..folds {
        let train_rows: Vec<LabeledRow> = base
            .iter()
            .cloned()
            .chain(weighted(
                rows.iter()
                    .enumerate()
                    .filter(|(i, _)| folds == 2 && i % 2 != fold)
                    .map(|(_, r)| *r),
                weight,
            ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::SplitMix64;
    use crate::registry::{now_rfc3339, ModelMeta};

    /// Three classes in 4-D whose centres move by `shift` (a new speaker, say).
    fn rows(n: usize, shift: f32, seed: u64) -> Vec<LabeledRow> {
        let mut rng = SplitMix64::new(seed);
        let mut noise = move || ((rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32 - 0.5) * 1.6;
        (0..n)
            .map(|i| {
                let c = i % 3;
                let centre = [c as f32 * 2.0, (2 - c) as f32 * 1.5, 1.0, -(c as f32)];
                LabeledRow {
                    vector: centre
                        .iter()
                        .enumerate()
                        .map(|(j, x)| x + noise() + if j == 2 { shift * c as f32 } else { shift })
                        .collect(),
                    target: ["a", "b", "c"][c].into(),
                    prediction: None,
                }
            })
            .collect()
    }

    fn champion(reference: &[LabeledRow]) -> ModelVersion {
        let model = train(reference, &TrainConfig::default(), None, "fp").unwrap();
        ModelVersion {
            model,
            meta: ModelMeta {
                version: "v0001".into(),
                parent: None,
                created_at: now_rfc3339(),
                data_fingerprint: String::new(),
                embedding_fingerprint: "fp".into(),
                train_rows: reference.len(),
                train_config: TrainConfig::default(),
                metrics: None,
                notes: Default::default(),
                monitoring: None,
            },
        }
    }

    #[test]
    fn a_challenger_trained_on_shuffled_labels_is_rejected() {
        let reference = rows(300, 0.0, 1);
        let champ = champion(&reference);
        // Production feedback whose labels were scrambled (a broken labelling client), in such
        // numbers that a model trained on it would learn the noise.
        let mut production = rows(600, 0.0, 2);
        let mut labels: Vec<String> = production.iter().map(|r| r.target.clone()).collect();
        SplitMix64::new(3).shuffle(&mut labels);
        for (r, l) in production.iter_mut().zip(labels) {
            r.target = l;
        }
        let out = retrain(
            &reference,
            None,
            &production,
            &champ,
            &TrainConfig::default(),
            &PromotionPolicy::default(),
        )
        .unwrap();
        assert!(!out.decision.promoted, "{:?}", out.decision);
        assert_eq!(out.decision.production_eval_rows, 600);
        assert!(
            out.decision.challenger_score.reference_f1 < out.decision.champion_score.reference_f1
        );
    }

    #[test]
    fn a_challenger_that_learns_the_new_population_is_promoted() {
        let reference = rows(300, 0.0, 1);
        let champ = champion(&reference);
        let production = rows(120, 2.5, 4);
        for mode in [RetrainMode::Scratch, RetrainMode::Finetune] {
            let policy = PromotionPolicy {
                mode,
                ..PromotionPolicy::default()
            };
            let out = retrain(
                &reference,
                None,
                &production,
                &champ,
                &TrainConfig::default(),
                &policy,
            )
            .unwrap();
            assert!(out.decision.promoted, "{mode:?}: {:?}", out.decision);
            let (ch, cp) = (out.decision.challenger_score, out.decision.champion_score);
            assert!(ch.production_f1 > cp.production_f1, "{:?}", out.decision);
            assert_eq!(out.challenger.meta.parent.as_deref(), Some("v0001"));
            assert_eq!(out.challenger.meta.notes[PROD_ROWS_NOTE], 120);
        }
    }

    #[test]
    fn rows_the_champion_already_trained_on_are_not_evaluation_rows() {
        let reference = rows(300, 0.0, 1);
        let mut champ = champion(&reference);
        champ.meta.notes.insert(PROD_ROWS_NOTE.into(), 100.into());
        let production = rows(130, 2.5, 4);
        let out = retrain(
            &reference,
            None,
            &production,
            &champ,
            &TrainConfig::default(),
            &PromotionPolicy::default(),
        )
        .unwrap();
        assert_eq!(out.decision.production_eval_rows, 30);
        assert_eq!(out.decision.reference_eval_rows, 60);
        assert_eq!(out.decision.train_rows, 430);
    }

    #[test]
    fn a_class_only_predicted_does_not_count_as_a_class_scored_zero() {
        let rows: Vec<LabeledRow> = ["a", "a", "b", "b"]
            .iter()
            .map(|t| LabeledRow {
                vector: vec![0.0],
                target: t.to_string(),
                prediction: None,
            })
            .collect();
        let refs: Vec<&LabeledRow> = rows.iter().collect();
        let predicted: Vec<String> = ["a", "new", "b", "b"].map(String::from).to_vec();
        // a: precision 1, recall 1/2, F1 2/3; b: F1 1. Over all three labels it would be 0.56.
        let f1 = macro_f1(&refs, &predicted);
        assert!((f1 - (2.0 / 3.0 + 1.0) / 2.0).abs() < 1e-12, "{f1}");
    }
}
