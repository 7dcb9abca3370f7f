//! Fitting a model's label-free monitoring profile ([`tympan_data::monitoring`]) at training
//! time, on the rows the training recipe held out; it is stored with the model:
//!
//! - [`Calibration`]: temperature scaling of the probabilities, so that the mean probability of
//!   the predicted labels estimates accuracy (and the per-class probabilities a macro F1, as
//!   NannyML's CBPE does). Logistic regression with a strong L2 penalty is under-confident, an
//!   unpenalised one over-confident; one temperature fitted by likelihood corrects either.
//! - [`UnusualDetector`]: how far a vector lies from the training data (the Mahalanobis distance
//!   to the nearest class mean under the pooled within-class covariance, as in Lee et al. 2018),
//!   flagged beyond a quantile of the distances of held-out rows.

use linfa_linalg::eigh::{EigSort, EighInto};
use linfa_linalg::Order;
use ndarray::Array2;
use tympan_data::monitoring::{Calibration, Monitoring, UnusualDetector};
use tympan_data::LabeledRow;

use crate::model::Model;

/// Quantile of the held-out rows' distances beyond which a clip is unusual: about 1 in 40 clips
/// like the training data gets flagged. Measured on FSDD (5 speakers, `report/tests/live_drift.rs`):
/// at 0.99 white noise sat just under the threshold; at 0.975 it is flagged, with 2-3 % of
/// held-out takes; at 0.95, 4-5 % of them for 10 points more of drum samples.
pub const UNUSUAL_QUANTILE: f64 = 0.975;

/// Fewest held-out rows for a calibration or a threshold worth storing.
pub const MIN_HOLDOUT_ROWS: usize = 10;

/// Fits the profile of `model`, trained on `train`, from the `holdout` rows it never saw.
/// `None` when there are fewer than [`MIN_HOLDOUT_ROWS`] held-out rows.
pub fn fit_monitoring(
    model: &Model,
    train: &[LabeledRow],
    holdout: &[&LabeledRow],
) -> Option<Monitoring> {
    if holdout.len() < MIN_HOLDOUT_ROWS {
        return None;
    }
    Some(Monitoring {
        calibration: fit_calibration(model, holdout),
        unusual: fit_unusual(train, holdout, UNUSUAL_QUANTILE),
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

/// Fits the class means and covariance on `train` and the threshold on the distances of
/// `holdout` (rows the fit never saw, so the threshold is not optimistic).
pub fn fit_unusual(
    train: &[LabeledRow],
    holdout: &[&LabeledRow],
    quantile: f64,
) -> Option<UnusualDetector> {
    let dim = train.first()?.vector.len();
    if dim == 0
        || train
            .iter()
            .chain(holdout.iter().copied())
            .any(|r| r.vector.len() != dim)
    {
        return None;
    }
    let mut classes: Vec<&str> = train.iter().map(|r| r.target.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    if train.len() <= classes.len() + 1 || holdout.is_empty() {
        return None;
    }
    let mut sums = vec![vec![0.0f64; dim]; classes.len()];
    let mut counts = vec![0usize; classes.len()];
    let class_of = |r: &LabeledRow| {
        classes
            .binary_search(&r.target.as_str())
            .expect("class listed")
    };
    for r in train {
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
    let mut covariance = Array2::<f64>::zeros((dim, dim));
    for r in train {
        let mean = &means[class_of(r)];
        let centred: Vec<f64> = r
            .vector
            .iter()
            .zip(mean)
            .map(|(v, m)| f64::from(*v) - m)
            .collect();
        for i in 0..dim {
            for j in 0..=i {
                covariance[[i, j]] += centred[i] * centred[j];
            }
        }
    }
    let denominator = (train.len() - classes.len()) as f64;
    for i in 0..dim {
        for j in 0..=i {
            let v = covariance[[i, j]] / denominator;
            covariance[[i, j]] = v;
            covariance[[j, i]] = v;
        }
    }
    let whitening = whitening_matrix(covariance)?;
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
    let mut detector = UnusualDetector {
        whitening,
        centres,
        threshold: f64::INFINITY,
        quantile,
        rows: holdout.len(),
    };
    let mut distances: Vec<f64> = holdout.iter().map(|r| detector.score(&r.vector)).collect();
    distances.sort_by(f64::total_cmp);
    detector.threshold = quantile_of_sorted(&distances, quantile);
    Some(detector)
}

/// `Λ^-1/2 Vᵀ` of a covariance matrix, with a small ridge so that a direction in which the
/// training rows do not vary (a constant column) does not make every new clip infinitely far.
fn whitening_matrix(covariance: Array2<f64>) -> Option<Vec<Vec<f32>>> {
    let dim = covariance.nrows();
    let trace: f64 = covariance.diag().sum();
    if !(trace.is_finite() && trace > 0.0) {
        return None;
    }
    let ridge = 1e-6 * trace / dim as f64;
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
    fn held_out_rows_are_unusual_at_about_the_quantile_and_far_rows_always() {
        let train_rows = blobs(900, 1, 1.0);
        let holdout = blobs(300, 2, 1.0);
        let detector = fit_unusual(&train_rows, &refs(&holdout), 0.95).unwrap();
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

    #[test]
    fn a_constant_column_does_not_make_every_clip_unusual() {
        let mut rows = blobs(400, 5, 1.0);
        for r in &mut rows {
            r.vector.push(0.5);
        }
        let (train_rows, holdout) = rows.split_at(300);
        let detector = fit_unusual(train_rows, &refs(holdout), 0.99).unwrap();
        assert!(detector.threshold.is_finite());
        assert!(!detector.is_unusual(detector.score(&holdout[0].vector)));
    }

    #[test]
    fn one_row_per_class_is_too_little_for_a_detector() {
        let rows = blobs(3, 6, 1.0);
        assert!(fit_unusual(&rows, &refs(&rows), 0.99).is_none());
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
