//! Fitting a model's label-free monitoring profile ([`tympan_data::monitoring`]) at training
//! time, on the rows the training recipe held out; it is stored with the model:
//!
//! - [`Calibration`]: temperature scaling of the probabilities, so that the mean probability of
//!   the predicted labels estimates accuracy (and the per-class probabilities a macro F1, as
//!   NannyML's CBPE does). Logistic regression with a strong L2 penalty is under-confident, an
//!   unpenalised one over-confident; one temperature fitted by likelihood corrects either.
//! - [`UnusualDetector`]: how unlikely a vector is under the training data, modelled as one
//!   Gaussian per class with its covariance shrunk towards the pooled within-class one, flagged
//!   beyond a quantile of the training rows' cross-fitted scores. The pooled Mahalanobis distance
//!   alone (Lee et al. 2018) takes a snare hit for a fricative: it flagged 79-82 % of 462 drum
//!   samples for a model of FSDD speakers at the quantile this one flags 95-97 % at.

use linfa_linalg::cholesky::CholeskyInplace;
use linfa_linalg::eigh::{EigSort, EighInto};
use linfa_linalg::Order;
use ndarray::Array2;
use tympan_data::monitoring::{Calibration, ClassDensity, Monitoring, UnusualDetector};
use tympan_data::LabeledRow;

use crate::folds::Folds;
use crate::model::Model;

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
    }
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

    /// Three Gaussian classes in 4 dimensions, correlated, with a seeded generator.
    fn blobs(n: usize, seed: u64, spread: f64) -> Vec<LabeledRow> {
        let mut rng = SplitMix64::new(seed);
        let mut normal = move || {
            // Box-Muller from two uniforms in (0, 1].
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 + 1e-12;
            let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
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
        let mut normal = move || {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 + 1e-12;
            let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        };
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
}
