//! Fitting a model's label-free monitoring profile ([`tympan_data::monitoring`]) at training
//! time, on the rows the training recipe held out; it is stored with the model:
//!
//! - [`Calibration`]: temperature scaling of the probabilities, so that the mean probability of
//!   the predicted labels estimates accuracy (and the per-class probabilities a macro F1, as
//!   NannyML's CBPE does). Logistic regression with a strong L2 penalty is under-confident, an
//!   unpenalised one over-confident; one temperature fitted by likelihood corrects either.
//! - [`NoveltyCalibration`]: where the training rows carry groups (speakers, kits), the same
//!   estimate made aware of novelty: a logistic map from a prediction's confidence and its
//!   distance past the unusual threshold to the probability it is right, fitted on rows held out
//!   at random and rows whose whole group was held out.
//! - [`UnusualDetector`]: how unlikely a vector is under the training data, modelled as one
//!   Gaussian per class with its covariance shrunk towards the pooled within-class one, flagged
//!   beyond a quantile of the training rows' cross-fitted scores. The pooled Mahalanobis distance
//!   alone (Lee et al. 2018) takes a snare hit for a fricative: it flagged 79-82 % of 462 drum
//!   samples for a model of FSDD speakers at the quantile this one flags 95-97 % at.

use linfa::prelude::*;
use linfa_linalg::cholesky::CholeskyInplace;
use linfa_linalg::eigh::{EigSort, EighInto};
use linfa_linalg::Order;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use tympan_data::monitoring::{
    Calibration, ClassDensity, Monitoring, NoveltyCalibration, UnusualDetector,
    MIN_CALIBRATION_GROUPS,
};
use tympan_data::LabeledRow;

use crate::folds::Folds;
use crate::model::{train, Model, ModelError, TrainConfig};

/// Quantile of the training rows' cross-fitted scores beyond which a clip is unusual: about 1 in
/// 40 clips like the training data gets flagged. Measured on FSDD (5 speakers,
/// `report/tests/live_drift.rs`): 3 % of held-out takes and 97 % of drum samples flagged; at
/// 0.99, 1 % and 61-67 %; at 0.95, 3-4 % and 99.8 %.
pub const UNUSUAL_QUANTILE: f64 = 0.975;

/// Fewest held-out rows (or cross-fitted scores) for a calibration or a threshold worth storing.
pub const MIN_HOLDOUT_ROWS: usize = 10;

/// Fits the profile of a model trained on `rows`: the calibration of `holdout_model` (the same
/// recipe trained without the `holdout` rows) on those rows, the unusual-clip detector on all of
/// `rows`. `None` when there are fewer than [`MIN_HOLDOUT_ROWS`] held-out rows.
pub fn fit_monitoring(
    holdout_model: &Model,
    holdout: &[&LabeledRow],
    rows: &[LabeledRow],
) -> Option<Monitoring> {
    if holdout.len() < MIN_HOLDOUT_ROWS {
        return None;
    }
    Some(Monitoring {
        calibration: fit_calibration(holdout_model, holdout),
        unusual: fit_unusual(rows, UNUSUAL_QUANTILE),
    })
}

/// The temperature that maximises the likelihood of `rows`' labels under `model`. The
/// negative log-likelihood is convex in `1 / temperature`, so a golden-section search over it
/// finds the optimum.
pub fn fit_calibration(model: &Model, rows: &[&LabeledRow]) -> Calibration {
    let scored: Vec<(Vec<f64>, Option<usize>)> = rows
        .iter()
        .filter(|r| r.vector.len() == model.dim())
        .map(|r| {
            let label = model.classes.iter().position(|c| *c == r.target);
            (model.scores(&r.vector), label)
        })
        .collect();
    let loss = |beta: f64| mean_log_loss(&scored, beta);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    // On a log scale, between temperatures of 1/50 and 50: 0.1 is as far from 1 as 10.
    let (mut a, mut b) = (-(50f64.ln()), 50f64.ln());
    for _ in 0..80 {
        let c = b - ratio * (b - a);
        let d = a + ratio * (b - a);
        if loss(c.exp()) <= loss(d.exp()) {
            b = d;
        } else {
            a = c;
        }
    }
    let beta = ((a + b) / 2.0).exp();
    Calibration {
        temperature: 1.0 / beta,
        rows: scored.len(),
        log_loss_before: loss(1.0),
        log_loss_after: loss(beta),
        novelty: None,
    }
}

/// Folds the groups are held out in (groups share a fold when there are more).
pub const CALIBRATION_GROUP_FOLDS: usize = 5;

/// Seed of those folds (fixed: two trainings on the same rows fit the same calibration).
const CALIBRATION_GROUP_SEED: u64 = 4_111;

/// A held-out prediction as the [`NoveltyCalibration`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOutPrediction {
    /// The logit of the predicted class's probability.
    pub confidence_logit: f64,
    /// [`UnusualDetector::novelty`] under a detector fitted without the row.
    pub novelty: f64,
    /// Whether the prediction was right.
    pub right: bool,
}

/// The predictions of `model` on held-out `rows`, with their novelty under `detector` (both
/// fitted without them). Rows of a class the model does not know are left out: the deployed
/// model knows every class, so their errors would teach the calibration a failure it never
/// makes.
pub fn held_out_predictions(
    model: &Model,
    detector: &UnusualDetector,
    rows: &[&LabeledRow],
) -> Vec<HeldOutPrediction> {
    rows.iter()
        .filter(|r| model.classes.contains(&r.target))
        .filter_map(|r| {
            let prediction = model.predict(&r.vector).ok()?;
            let top = prediction.probabilities[prediction.class_index];
            Some(HeldOutPrediction {
                confidence_logit: NoveltyCalibration::confidence_logit(top),
                novelty: detector.novelty(&r.vector)?,
                right: model.label(prediction.class_index) == r.target,
            })
        })
        .collect()
}

/// Rows held out with their whole group: grouped folds over the rows that have one (`groups`
/// covers the first rows; a row past it, or with an empty group, has none and always trains),
/// each fold predicted by the recipe trained, and a detector fitted, on everything else. Returns
/// the predictions and the number of groups, or `None` with fewer than
/// [`MIN_CALIBRATION_GROUPS`] groups.
pub fn out_of_group_predictions(
    rows: &[LabeledRow],
    groups: &[String],
    config: &TrainConfig,
) -> Result<Option<(Vec<HeldOutPrediction>, usize)>, ModelError> {
    if groups.len() > rows.len() {
        return Ok(None);
    }
    let grouped: Vec<usize> = (0..groups.len())
        .filter(|&i| !groups[i].is_empty())
        .collect();
    let names: Vec<&str> = grouped.iter().map(|&i| groups[i].as_str()).collect();
    let mut distinct = names.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_CALIBRATION_GROUPS {
        return Ok(None);
    }
    let Some(folds) = Folds::grouped(&names, CALIBRATION_GROUP_FOLDS, CALIBRATION_GROUP_SEED)
    else {
        return Ok(None);
    };
    let mut predictions = Vec::new();
    for fold in 0..folds.k() {
        let (_, test) = folds.split(fold);
        let mut held = vec![false; rows.len()];
        for &t in &test {
            held[grouped[t]] = true;
        }
        let training: Vec<LabeledRow> = (0..rows.len())
            .filter(|&i| !held[i])
            .map(|i| rows[i].clone())
            .collect();
        let model = match train(&training, config, None, "") {
            Ok(model) => model,
            // A fold that leaves a single class cannot be trained; the others still count.
            Err(ModelError::Data(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(detector) = fit_unusual(&training, UNUSUAL_QUANTILE) else {
            continue;
        };
        let test: Vec<&LabeledRow> = test.iter().map(|&t| &rows[grouped[t]]).collect();
        predictions.extend(held_out_predictions(&model, &detector, &test));
    }
    Ok(Some((predictions, distinct.len())))
}

/// The [`NoveltyCalibration`] of predictions held out at random and out of their group: a
/// binary logistic regression (linfa-logistic) of rightness on the confidence logit, the
/// novelty and their product. `None` with fewer than [`MIN_HOLDOUT_ROWS`] of either kind, or
/// when every prediction was right (or every one wrong): there is nothing to learn the slope
/// from.
pub fn fit_novelty_calibration(
    at_random: &[HeldOutPrediction],
    out_of_group: &[HeldOutPrediction],
    groups: usize,
) -> Option<NoveltyCalibration> {
    if at_random.len() < MIN_HOLDOUT_ROWS || out_of_group.len() < MIN_HOLDOUT_ROWS {
        return None;
    }
    let all: Vec<&HeldOutPrediction> = at_random.iter().chain(out_of_group).collect();
    let records = Array2::from_shape_fn((all.len(), 3), |(i, j)| {
        let p = all[i];
        match j {
            0 => p.confidence_logit,
            1 => p.novelty,
            _ => p.confidence_logit * p.novelty,
        }
    });
    let targets: Array1<bool> = all.iter().map(|p| p.right).collect();
    let fitted = LogisticRegression::default()
        .alpha(1e-3)
        .max_iterations(500)
        .fit(&Dataset::new(records, targets))
        .ok()?;
    let w = fitted.params();
    let mut weights = [w[0], w[1], w[2], fitted.intercept()];
    // linfa-logistic models the more frequent outcome; the calibration models rightness.
    if !fitted.labels().pos.class {
        weights = weights.map(|v| -v);
    }
    weights
        .iter()
        .all(|v| v.is_finite())
        .then_some(NoveltyCalibration {
            weights,
            rows_at_random: at_random.len(),
            rows_out_of_group: out_of_group.len(),
            groups,
        })
}

/// Mean negative log-likelihood of the labels under `softmax(beta * scores)`; a label the model
/// does not know costs nothing (it cannot be calibrated for).
fn mean_log_loss(scored: &[(Vec<f64>, Option<usize>)], beta: f64) -> f64 {
    let mut total = 0.0;
    let mut n = 0usize;
    for (scores, label) in scored {
        let Some(label) = *label else { continue };
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = scores
            .iter()
            .map(|s| (beta * (s - max)).exp())
            .sum::<f64>()
            .ln();
        total += log_sum - beta * (scores[label] - max);
        n += 1;
    }
    total / n.max(1) as f64
}

/// Fits the detector on `rows` (the rows the deployed model is trained on) and its threshold on
/// cross-fitted scores: each of [`THRESHOLD_FOLDS`] stratified folds scored by a detector fitted
/// on the others, so that every training row gives a score it did not shape, and a quantile of
/// thousands of scores is steadier than one of a holdout's hundreds (on FSDD a 20 % holdout's
/// 97.5th percentile moved the share of drum samples flagged between 74 and 95 % with the seed).
pub fn fit_unusual(rows: &[LabeledRow], quantile: f64) -> Option<UnusualDetector> {
    let all: Vec<&LabeledRow> = rows.iter().collect();
    let mut detector = fit_densities(&all)?;
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    let folds = Folds::stratified(&targets, THRESHOLD_FOLDS, THRESHOLD_SEED)?;
    let mut scores = Vec::with_capacity(rows.len());
    for fold in 0..folds.k() {
        let (train, test) = folds.split(fold);
        let train: Vec<&LabeledRow> = train.iter().map(|&i| &rows[i]).collect();
        // A fold that leaves too few rows to fit gives no scores; the others still do.
        if let Some(fitted) = fit_densities(&train) {
            scores.extend(test.iter().map(|&i| fitted.score(&rows[i].vector)));
        }
    }
    if scores.len() < MIN_HOLDOUT_ROWS {
        return None;
    }
    scores.sort_by(f64::total_cmp);
    detector.threshold = quantile_of_sorted(&scores, quantile);
    detector.median = Some(quantile_of_sorted(&scores, 0.5));
    detector.quantile = quantile;
    detector.rows = scores.len();
    Some(detector)
}

/// Folds the unusual-clip threshold is cross-fitted over.
pub const THRESHOLD_FOLDS: usize = 5;

/// Seed of those folds (any fixed value: the threshold must not change between two trainings on
/// the same rows).
const THRESHOLD_SEED: u64 = 2_975;

/// The pooled metric and the per-class Gaussians of `rows`, with no threshold yet. `None` when
/// the rows cannot support them (vectors of different lengths, no more rows than classes + 1).
fn fit_densities(rows: &[&LabeledRow]) -> Option<UnusualDetector> {
    let dim = rows.first()?.vector.len();
    if dim == 0 || rows.iter().any(|r| r.vector.len() != dim) {
        return None;
    }
    let mut classes: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    if rows.len() <= classes.len() + 1 {
        return None;
    }
    let class_of = |r: &LabeledRow| {
        classes
            .binary_search(&r.target.as_str())
            .expect("class listed")
    };
    let mut sums = vec![vec![0.0f64; dim]; classes.len()];
    let mut counts = vec![0usize; classes.len()];
    for r in rows {
        let k = class_of(r);
        counts[k] += 1;
        for (s, v) in sums[k].iter_mut().zip(&r.vector) {
            *s += f64::from(*v);
        }
    }
    let means: Vec<Vec<f64>> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &n)| s.iter().map(|v| v / n as f64).collect())
        .collect();
    // Each class's scatter (sum of outer products of centred rows), lower triangle.
    let mut scatters = vec![Array2::<f64>::zeros((dim, dim)); classes.len()];
    for r in rows {
        let k = class_of(r);
        let centred: Vec<f64> = r
            .vector
            .iter()
            .zip(&means[k])
            .map(|(v, m)| f64::from(*v) - m)
            .collect();
        let scatter = &mut scatters[k];
        for i in 0..dim {
            for j in 0..=i {
                scatter[[i, j]] += centred[i] * centred[j];
            }
        }
    }
    let mut pooled = Array2::<f64>::zeros((dim, dim));
    for scatter in &scatters {
        pooled += scatter;
    }
    pooled /= (rows.len() - classes.len()) as f64;
    symmetrise(&mut pooled);
    let trace: f64 = pooled.diag().sum();
    if !(trace.is_finite() && trace > 0.0) {
        return None;
    }
    // A direction in which the training rows do not vary (a constant column) must not make
    // every new clip infinitely unlikely.
    let ridge = 1e-6 * trace / dim as f64;
    let densities = scatters
        .into_iter()
        .zip(&counts)
        .zip(&means)
        .map(|((scatter, &n), mean)| class_density(scatter, n, &pooled, mean, ridge))
        .collect::<Option<Vec<_>>>()?;
    let whitening = whitening_matrix(pooled, ridge)?;
    let whiten = |x: &[f64]| -> Vec<f32> {
        whitening
            .iter()
            .map(|row| {
                row.iter()
                    .zip(x)
                    .map(|(w, v)| f64::from(*w) * v)
                    .sum::<f64>() as f32
            })
            .collect()
    };
    let centres = means.iter().map(|m| whiten(m)).collect();
    Some(UnusualDetector {
        whitening,
        centres,
        classes: densities,
        threshold: f64::INFINITY,
        quantile: 1.0,
        rows: 0,
        median: None,
    })
}

/// A class's Gaussian from its scatter over `n` rows, its covariance shrunk towards the pooled
/// one by `dim / (n + dim)`: a class with as many rows as dimensions takes half of each, one
/// with ten times as many a tenth of the pooled, one with a single row only the pooled.
fn class_density(
    scatter: Array2<f64>,
    n: usize,
    pooled: &Array2<f64>,
    mean: &[f64],
    ridge: f64,
) -> Option<ClassDensity> {
    let dim = pooled.nrows();
    let shrinkage = if n < 2 {
        1.0
    } else {
        dim as f64 / (n + dim) as f64
    };
    let mut covariance = scatter * ((1.0 - shrinkage) / (n.max(2) - 1) as f64);
    symmetrise(&mut covariance);
    covariance.scaled_add(shrinkage, pooled);
    for i in 0..dim {
        covariance[[i, i]] += ridge;
    }
    let lower = covariance.cholesky_into().ok()?;
    let log_det = 2.0 * lower.diag().iter().map(|v| v.ln()).sum::<f64>();
    Some(ClassDensity {
        mean: mean.iter().map(|&v| v as f32).collect(),
        cholesky: (0..dim)
            .map(|i| (0..=i).map(|j| lower[[i, j]] as f32).collect())
            .collect(),
        log_det,
    })
}

/// Copies a matrix's lower triangle to its upper one.
fn symmetrise(matrix: &mut Array2<f64>) {
    for i in 0..matrix.nrows() {
        for j in 0..i {
            matrix[[j, i]] = matrix[[i, j]];
        }
    }
}

/// `Λ^-1/2 Vᵀ` of a covariance matrix, `ridge` added to its diagonal.
fn whitening_matrix(covariance: Array2<f64>, ridge: f64) -> Option<Vec<Vec<f32>>> {
    let dim = covariance.nrows();
    let mut regularised = covariance;
    for i in 0..dim {
        regularised[[i, i]] += ridge;
    }
    let (values, vectors) = regularised.eigh_into().ok()?.sort_eig(Order::Largest);
    Some(
        (0..dim)
            .map(|k| {
                let scale = 1.0 / values[k].max(ridge).sqrt();
                vectors
                    .column(k)
                    .iter()
                    .map(|v| (v * scale) as f32)
                    .collect()
            })
            .collect(),
    )
}

/// The `q` quantile of sorted values, interpolated linearly (NumPy's default).
fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::INFINITY,
        1 => sorted[0],
        n => {
            let position = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let below = position.floor() as usize;
            let above = (below + 1).min(n - 1);
            let fraction = position - below as f64;
            sorted[below] + fraction * (sorted[above] - sorted[below])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::SplitMix64;
    use crate::model::{train, TrainConfig};

    fn refs(rows: &[LabeledRow]) -> Vec<&LabeledRow> {
        rows.iter().collect()
    }

    /// Box-Muller from two uniforms, the first in (0, 1].
    fn standard_normal(rng: &mut SplitMix64) -> f64 {
        let u = rng.next_f64() + 1e-12;
        let v = rng.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Three Gaussian classes in 4 dimensions, correlated, with a seeded generator.
    fn blobs(n: usize, seed: u64, spread: f64) -> Vec<LabeledRow> {
        let mut rng = SplitMix64::new(seed);
        let mut normal = move || standard_normal(&mut rng);
        (0..n)
            .map(|i| {
                let k = i % 3;
                let a = normal() * spread;
                let b = normal() * spread;
                let vector = [k as f64 * 2.0 + a, a + 0.3 * b, -(k as f64) + b, normal()]
                    .iter()
                    .map(|&v| v as f32)
                    .collect();
                LabeledRow {
                    vector,
                    target: format!("c{k}"),
                    prediction: None,
                }
            })
            .collect()
    }

    #[test]
    fn fresh_rows_are_unusual_at_about_the_quantile_and_far_rows_always() {
        let train_rows = blobs(900, 1, 1.0);
        let detector = fit_unusual(&train_rows, 0.95).unwrap();
        assert_eq!(detector.rows, 900);
        let fresh = blobs(3000, 3, 1.0);
        let flagged = fresh
            .iter()
            .filter(|r| detector.is_unusual(detector.score(&r.vector)))
            .count() as f64
            / fresh.len() as f64;
        assert!((0.02..0.09).contains(&flagged), "{flagged}");
        // Rows four times as spread out as the training data: mostly unusual.
        let wide = blobs(300, 4, 4.0);
        let flagged_wide = wide
            .iter()
            .filter(|r| detector.is_unusual(detector.score(&r.vector)))
            .count();
        assert!(flagged_wide > 200, "{flagged_wide}");
        assert!(detector.is_unusual(detector.score(&[40.0, 0.0, 0.0, 0.0])));
    }

    /// Two classes, one tight and one wide along the first axis: a vector a little off the tight
    /// class's mean is near it under the pooled covariance (which the wide class inflates) and
    /// unusual under its own.
    #[test]
    fn a_class_s_own_spread_decides_not_only_the_pooled_one() {
        let mut rng = SplitMix64::new(12);
        let mut normal = move || standard_normal(&mut rng) as f32;
        let rows: Vec<LabeledRow> = (0..1200)
            .map(|i| {
                let (target, spread, centre) = if i % 2 == 0 {
                    ("tight", 0.1, 0.0)
                } else {
                    ("wide", 3.0, 20.0)
                };
                LabeledRow {
                    vector: vec![normal() * spread, centre + normal(), normal()],
                    target: target.into(),
                    prediction: None,
                }
            })
            .collect();
        let detector = fit_unusual(&rows, 0.99).unwrap();
        let off_tight = [1.0f32, 0.0, 0.0];
        assert!(detector.is_unusual(detector.score(&off_tight)));
        let pooled_only = UnusualDetector {
            classes: Vec::new(),
            ..detector.clone()
        };
        // The pooled distance of the same vector: well within what the training rows reach.
        assert!(
            pooled_only.score(&off_tight) < 1.0,
            "{}",
            pooled_only.score(&off_tight)
        );
        assert!(!detector.is_unusual(detector.score(&[0.05, 0.0, 0.0])));
    }

    #[test]
    fn a_constant_column_does_not_make_every_clip_unusual() {
        let mut rows = blobs(400, 5, 1.0);
        for r in &mut rows {
            r.vector.push(0.5);
        }
        let (train_rows, fresh) = rows.split_at(300);
        let detector = fit_unusual(train_rows, 0.99).unwrap();
        assert!(detector.threshold.is_finite());
        assert!(!detector.is_unusual(detector.score(&fresh[0].vector)));
    }

    #[test]
    fn one_row_per_class_is_too_little_for_a_detector() {
        let rows = blobs(3, 6, 1.0);
        assert!(fit_unusual(&rows, 0.99).is_none());
    }

    #[test]
    fn temperature_scaling_makes_confidence_match_accuracy() {
        let train_rows = blobs(600, 7, 1.6);
        let holdout = blobs(600, 8, 1.6);
        let fresh = blobs(3000, 9, 1.6);
        // A heavy penalty: the model is far less confident than it is right.
        let model = train(
            &train_rows,
            &TrainConfig {
                alpha: 300.0,
                ..TrainConfig::default()
            },
            None,
            "",
        )
        .unwrap();
        let calibration = fit_calibration(&model, &refs(&holdout));
        assert!(calibration.temperature < 1.0, "{calibration:?}");
        assert!(calibration.log_loss_after < calibration.log_loss_before);
        let (mut raw, mut calibrated, mut correct) = (0.0, 0.0, 0.0);
        for r in &fresh {
            let p = model.predict(&r.vector).unwrap();
            raw += f64::from(p.probabilities[p.class_index]);
            calibrated += f64::from(calibration.calibrate(&p.probabilities)[p.class_index]);
            correct += f64::from(u8::from(model.label(p.class_index) == r.target));
        }
        let n = fresh.len() as f64;
        let (raw, calibrated, accuracy) = (raw / n, calibrated / n, correct / n);
        assert!(
            (calibrated - accuracy).abs() < 0.02 && (raw - accuracy).abs() > 0.05,
            "raw {raw:.3}, calibrated {calibrated:.3}, accuracy {accuracy:.3}"
        );
    }

    /// Rows of three classes from `sources` recording sources, each of which shifts each class
    /// its own way (a speaker's way of saying a word, a kit's snare): `(rows, their sources)`.
    fn sourced(n: usize, seed: u64, sources: &[usize]) -> (Vec<LabeledRow>, Vec<String>) {
        let mut rng = SplitMix64::new(seed);
        let mut normal = move || standard_normal(&mut rng);
        // A source's shift of a class: seeded by both, so it is the same in every call.
        let shift = |source: usize, class: usize| -> Vec<f64> {
            let mut rng = SplitMix64::new(1_000 + 7 * source as u64 + class as u64);
            (0..4).map(|_| (rng.next_f64() - 0.5) * 3.0).collect()
        };
        let (mut rows, mut groups) = (Vec::new(), Vec::new());
        for i in 0..n {
            let source = sources[i % sources.len()];
            let k = (i / sources.len()) % 3;
            let offset = shift(source, k);
            let centre = [k as f64 * 2.2, -(k as f64) * 1.1, 0.0, 0.0];
            let vector = (0..4)
                .map(|d| (centre[d] + offset[d] + 0.5 * normal()) as f32)
                .collect();
            rows.push(LabeledRow {
                vector,
                target: format!("c{k}"),
                prediction: None,
            });
            groups.push(format!("source{source}"));
        }
        (rows, groups)
    }

    /// Mean estimated and realised accuracy of `model` on `rows` under `monitoring`.
    fn estimated_and_realised(
        model: &Model,
        monitoring: &Monitoring,
        rows: &[LabeledRow],
    ) -> (f64, f64) {
        let (mut estimated, mut right) = (0.0, 0.0);
        for r in rows {
            let p = model.predict(&r.vector).unwrap();
            let q = monitoring.calibrate(&p.probabilities, &r.vector);
            estimated += f64::from(q[p.class_index]);
            right += f64::from(u8::from(model.label(p.class_index) == r.target));
        }
        let n = rows.len() as f64;
        (estimated / n, right / n)
    }

    #[test]
    fn holding_out_whole_sources_keeps_the_estimate_honest_on_a_new_source() {
        let known: Vec<usize> = (0..8).collect();
        let (rows, groups) = sourced(1_600, 1, &known);
        let config = TrainConfig::default();
        let with = crate::training::train_version(&rows, &config, None, "", Some(&groups))
            .unwrap()
            .meta
            .monitoring
            .unwrap();
        let trained = crate::training::train_version(&rows, &config, None, "", None).unwrap();
        let without = trained.meta.monitoring.unwrap();
        let novelty = with
            .calibration
            .novelty
            .expect("8 sources: a novelty calibration");
        assert_eq!(novelty.groups, 8);
        assert!(without.calibration.novelty.is_none());
        // New sources: the temperature, fitted on rows like the training data, is
        // over-confident there; the calibration that saw held-out sources is much less so.
        let (new, _) = sourced(1_500, 2, &[20, 21, 22, 23, 24]);
        let model = &trained.model;
        let (new_with, right) = estimated_and_realised(model, &with, &new);
        let (new_without, _) = estimated_and_realised(model, &without, &new);
        let figures = format!(
            "right {right:.3}, estimated {new_with:.3} (temperature only {new_without:.3})"
        );
        assert!(new_without - right > 0.05, "{figures}");
        assert!((new_with - right).abs() < 0.03, "{figures}");
    }

    /// Held-out predictions whose rightness follows `σ(c + shift)` for confidence logits `c`
    /// spread over 0.5-4.5 (deterministic: the share right at each `c` is its probability).
    fn predictions(novelty: f64, shift: f64) -> Vec<HeldOutPrediction> {
        let mut out = Vec::new();
        for step in 0..40 {
            let c = 0.5 + step as f64 * 0.1;
            let p = 1.0 / (1.0 + (-(c + shift)).exp());
            let right = (p * 50.0).round() as usize;
            out.extend((0..50).map(|i| HeldOutPrediction {
                confidence_logit: c,
                novelty,
                right: i < right,
            }));
        }
        out
    }

    #[test]
    fn the_novelty_calibration_learns_that_unfamiliar_clips_are_less_often_right() {
        // Familiar clips as right as their confidence says; clips of unseen groups 1.5 logits less.
        let familiar = predictions(-1.0, 0.0);
        let unfamiliar = predictions(0.8, -1.5);
        let calibration = fit_novelty_calibration(&familiar, &unfamiliar, 5).unwrap();
        assert_eq!(
            (calibration.rows_at_random, calibration.rows_out_of_group),
            (2_000, 2_000)
        );
        for (rows, novelty) in [(&familiar, -1.0), (&unfamiliar, 0.8)] {
            let top = |c: f64| (1.0 / (1.0 + (-c).exp())) as f32;
            let estimated: f64 = rows
                .iter()
                .map(|p| calibration.right(top(p.confidence_logit), novelty))
                .sum::<f64>()
                / rows.len() as f64;
            let right = rows.iter().filter(|p| p.right).count() as f64 / rows.len() as f64;
            assert!(
                (estimated - right).abs() < 0.01,
                "{novelty}: {estimated} vs {right}"
            );
        }
        let at = |novelty| calibration.right(0.9, novelty);
        assert!(at(0.8) < at(-1.0) - 0.1, "{} {}", at(0.8), at(-1.0));
    }

    #[test]
    fn too_few_groups_or_no_errors_give_no_novelty_calibration() {
        let (rows, _) = sourced(300, 4, &[0, 1]);
        let two: Vec<String> = (0..300).map(|i| format!("g{}", i % 2)).collect();
        assert!(
            out_of_group_predictions(&rows, &two, &TrainConfig::default())
                .unwrap()
                .is_none()
        );
        let right = HeldOutPrediction {
            confidence_logit: 3.0,
            novelty: -1.0,
            right: true,
        };
        assert!(fit_novelty_calibration(&[right; 20], &[right; 20], 3).is_none());
        assert!(fit_novelty_calibration(&[right; 5], &[right; 20], 3).is_none());
    }
}
