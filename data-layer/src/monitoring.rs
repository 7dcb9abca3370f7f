//! A model's label-free monitoring profile, as stored with the model and applied to every
//! prediction: [`Calibration`] (temperature scaling, so that the mean probability of the
//! predicted labels estimates accuracy, and where the training rows had groups a
//! [`NoveltyCalibration`] that also weighs how unlike the training data a clip is) and
//! [`UnusualDetector`] (how unlike the training data a vector is). `tympan_core::monitoring`
//! fits them at training time: the calibration on held-out rows, the detector on the training
//! rows.

use serde::{Deserialize, Serialize};

use crate::dot::{dot, squared_distance};

/// The label-free monitoring profile of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitoring {
    /// Probability calibration.
    pub calibration: Calibration,
    /// Out-of-distribution detector; `None` when the data cannot support one (a class with a
    /// single row, fewer rows than classes).
    pub unusual: Option<UnusualDetector>,
}

impl Monitoring {
    /// The profile without its matrices, for people and status pages: the calibration, and the
    /// detector's threshold, quantile, rows and number of class densities. The full profile
    /// (tens of thousands of values) stays in the registry's `meta.json`.
    pub fn summary(&self) -> MonitoringSummary {
        MonitoringSummary {
            calibration: self.calibration,
            unusual: self.unusual.as_ref().map(|d| UnusualSummary {
                threshold: d.threshold,
                quantile: d.quantile,
                rows: d.rows,
                class_densities: d.classes.len(),
            }),
        }
    }

    /// The calibrated probabilities of a prediction of `vector`: by the [`NoveltyCalibration`]
    /// where the profile has one (and a detector with its median), else by the temperature.
    pub fn calibrate(&self, probabilities: &[f32], vector: &[f32]) -> Vec<f32> {
        let score = self.unusual.as_ref().map(|d| d.score(vector));
        self.calibrate_scored(probabilities, score)
    }

    /// [`Monitoring::calibrate`] for a caller that has the vector's score under `self.unusual`
    /// already (the live section scores every row for its unusual share).
    pub fn calibrate_scored(&self, probabilities: &[f32], score: Option<f64>) -> Vec<f32> {
        let novelty = self.unusual.as_ref().zip(score);
        match (self.calibration.novelty, novelty) {
            (Some(calibration), Some((detector, score))) => {
                match detector.novelty_of_score(score) {
                    Some(novelty) => calibration.calibrate(probabilities, novelty),
                    None => self.calibration.calibrate(probabilities),
                }
            }
            _ => self.calibration.calibrate(probabilities),
        }
    }

    /// Whether [`Monitoring::calibrate`] weighs novelty: a [`NoveltyCalibration`] and a detector
    /// with its median.
    pub fn novelty_aware(&self) -> bool {
        self.calibration.novelty.is_some()
            && self.unusual.as_ref().is_some_and(|d| d.median.is_some())
    }
}

/// [`Monitoring::summary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringSummary {
    /// The calibration as stored.
    pub calibration: Calibration,
    /// The detector's figures, if there is one.
    pub unusual: Option<UnusualSummary>,
}

/// What [`MonitoringSummary`] says of an [`UnusualDetector`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnusualSummary {
    /// Scores above this are unusual.
    pub threshold: f64,
    /// The quantile it is.
    pub quantile: f64,
    /// Rows it was taken from.
    pub rows: usize,
    /// Class Gaussians (0 for a profile with the pooled distance only).
    pub class_densities: usize,
}

/// Temperature scaling: calibrated probabilities are `softmax(scores / temperature)`, i.e. the
/// model's probabilities raised to `1 / temperature` and renormalised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The fitted temperature (1 leaves the probabilities as they are).
    pub temperature: f64,
    /// Held-out rows it was fitted on.
    pub rows: usize,
    /// Mean negative log-likelihood of the held-out labels before calibration.
    pub log_loss_before: f64,
    /// The same after calibration.
    pub log_loss_after: f64,
    /// The calibration that also weighs novelty, fitted where the training rows had groups;
    /// when present, [`Monitoring::calibrate`] uses it instead of the temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novelty: Option<NoveltyCalibration>,
}

impl Calibration {
    /// No change to the probabilities.
    pub const IDENTITY: Self = Self {
        temperature: 1.0,
        rows: 0,
        log_loss_before: 0.0,
        log_loss_after: 0.0,
        novelty: None,
    };

    /// Calibrated probabilities from the model's.
    pub fn calibrate(&self, probabilities: &[f32]) -> Vec<f32> {
        let beta = 1.0 / self.temperature;
        let powered: Vec<f64> = probabilities
            .iter()
            .map(|&p| f64::from(p.max(0.0)).powf(beta))
            .collect();
        let total: f64 = powered.iter().sum();
        if total <= 0.0 || !total.is_finite() {
            return probabilities.to_vec();
        }
        powered.iter().map(|p| (p / total) as f32).collect()
    }
}

/// Fewest groups for a [`NoveltyCalibration`]: with two, each held-out group's model knows a
/// single one.
pub const MIN_CALIBRATION_GROUPS: usize = 3;

/// The probability that a prediction is right, from its confidence and its novelty:
/// `P(right) = σ(a·c + b·u + d·c·u + e)`, with `c` the logit of the predicted class's
/// probability and `u` the clip's [`UnusualDetector::novelty`] (−1 for a typical training clip, 0
/// at the unusual threshold). Temperature scaling fitted on a random holdout learns how right
/// the model is on clips like its training data, and is over-confident on a new speaker or kit
/// (on FSDD, 95.5 % estimated for 89.0 % realised); this map is fitted on held-out rows of two
/// kinds, at random and with their whole group held out (a speaker or a kit the model did not
/// see), so it learns how confidence translates into accuracy as clips get less familiar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoveltyCalibration {
    /// `[a, b, d, e]`: the weights of the confidence logit, the novelty, their product, and the
    /// intercept.
    pub weights: [f64; 4],
    /// Held-out rows at random (the training holdout).
    pub rows_at_random: usize,
    /// Held-out rows scored by a model that did not see their group.
    pub rows_out_of_group: usize,
    /// Groups held out.
    pub groups: usize,
}

impl NoveltyCalibration {
    /// The logit of a probability, kept finite.
    pub fn confidence_logit(p: f32) -> f64 {
        let p = f64::from(p).clamp(1e-6, 1.0 - 1e-6);
        (p / (1.0 - p)).ln()
    }

    /// The probability that a prediction whose top probability is `top` is right, at `novelty`.
    pub fn right(&self, top: f32, novelty: f64) -> f64 {
        let c = Self::confidence_logit(top);
        let [a, b, d, e] = self.weights;
        let z = a * c + b * novelty + d * c * novelty + e;
        1.0 / (1.0 + (-z).exp())
    }

    /// `probabilities` with the predicted class's set to [`NoveltyCalibration::right`] and the
    /// rest shared by the other classes in their proportions.
    pub fn calibrate(&self, probabilities: &[f32], novelty: f64) -> Vec<f32> {
        let Some((top_index, &top)) = probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
        else {
            return Vec::new();
        };
        let right = self.right(top, novelty);
        let rest = f64::from(1.0 - top);
        probabilities
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                if k == top_index {
                    right as f32
                } else if rest > 0.0 {
                    (f64::from(p) / rest * (1.0 - right)) as f32
                } else {
                    ((1.0 - right) / (probabilities.len() - 1) as f64) as f32
                }
            })
            .collect()
    }
}

/// How unlike the training data a vector is: the negative log-density of the most likely class
/// under a Gaussian per class (class covariances shrunk towards the pooled one, as in regularised
/// discriminant analysis). The class means and the pooled within-class covariance, whitened,
/// pick the few nearest classes first (Lee et al. 2018's Mahalanobis distance), so that a score
/// costs at most [`UnusualDetector::NEAREST_CLASSES`] triangular solves however many classes
/// there are. Profiles written before the per-class Gaussians have no `classes`: their score is
/// that pooled distance, and their threshold was taken on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnusualDetector {
    /// `W`, whitening the pooled within-class covariance, one row per output value.
    pub whitening: Vec<Vec<f32>>,
    /// The class means, whitened.
    pub centres: Vec<Vec<f32>>,
    /// One Gaussian per class, in the order of `centres`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassDensity>,
    /// Scores above this are unusual.
    pub threshold: f64,
    /// The quantile of the cross-fitted scores of training rows the threshold is.
    pub quantile: f64,
    /// Rows the threshold was taken from.
    pub rows: usize,
    /// The median of the same cross-fitted scores (profiles before the novelty calibration have
    /// none): with the threshold, the scale of [`UnusualDetector::novelty`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median: Option<f64>,
}

/// A class's Gaussian: `N(mean, L Lᵀ)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassDensity {
    /// The class mean.
    pub mean: Vec<f32>,
    /// `L`, the lower-triangular Cholesky factor of the covariance: row `i` holds its `i + 1`
    /// entries up to the diagonal.
    pub cholesky: Vec<Vec<f32>>,
    /// `ln det(L Lᵀ)`.
    pub log_det: f64,
}

impl ClassDensity {
    /// `−ln N(x | mean, L Lᵀ)`, infinite when `x` has another length. `L⁻¹(x − mean)` by
    /// forward substitution: half the work of a full whitening product.
    pub fn negative_log_density(&self, x: &[f32]) -> f64 {
        self.negative_log_density_with(x, &mut Vec::new())
    }

    /// [`ClassDensity::negative_log_density`] with `z`'s allocation reused: a score evaluates
    /// several classes, on every prediction.
    fn negative_log_density_with(&self, x: &[f32], z: &mut Vec<f32>) -> f64 {
        let dim = self.mean.len();
        if x.len() != dim || self.cholesky.len() != dim {
            return f64::INFINITY;
        }
        z.clear();
        for (i, row) in self.cholesky.iter().enumerate() {
            let zi = (x[i] - self.mean[i] - dot(&row[..i], z)) / row[i];
            z.push(zi);
        }
        0.5 * (f64::from(dot(z, z)) + self.log_det + dim as f64 * std::f64::consts::TAU.ln())
    }
}

impl UnusualDetector {
    /// Classes whose Gaussians a score evaluates: the nearest under the pooled metric. Their
    /// densities decide; a class far under the pooled metric would need a covariance many times
    /// wider than the pooled one to win.
    pub const NEAREST_CLASSES: usize = 3;

    /// How unlike the training data `x` is: the negative log-density of the most likely of the
    /// nearest classes, or for older profiles the pooled distance to the nearest class mean.
    pub fn score(&self, x: &[f32]) -> f64 {
        let white: Vec<f32> = self.whitening.iter().map(|row| dot(row, x)).collect();
        let mut distances: Vec<(f32, usize)> = self
            .centres
            .iter()
            .map(|c| squared_distance(c, &white))
            .zip(0..)
            .collect();
        if self.classes.len() != self.centres.len() {
            let nearest = distances.iter().map(|d| d.0).fold(f32::INFINITY, f32::min);
            return f64::from(nearest).sqrt();
        }
        let nearest = Self::NEAREST_CLASSES.min(distances.len());
        if nearest < distances.len() {
            distances.select_nth_unstable_by(nearest, |a, b| a.0.total_cmp(&b.0));
        }
        let mut z = Vec::with_capacity(x.len());
        distances[..nearest]
            .iter()
            .map(|&(_, k)| self.classes[k].negative_log_density_with(x, &mut z))
            .fold(f64::INFINITY, f64::min)
    }

    /// The limits of [`UnusualDetector::novelty`]: far beyond the threshold a clip is simply
    /// unfamiliar, and a few extreme scores must not decide a calibration's slope.
    pub const NOVELTY_RANGE: (f64, f64) = (-2.0, 2.0);

    /// How far `x`'s score lies past the threshold, in units of the distance from the median
    /// training score to the threshold: about −1 for a typical training clip, 0 at the threshold,
    /// clamped to [`UnusualDetector::NOVELTY_RANGE`]. A ratio of score differences, so it means
    /// the same for any dimension and any spread of the scores. `None` without a median.
    pub fn novelty(&self, x: &[f32]) -> Option<f64> {
        self.novelty_of_score(self.score(x))
    }

    /// [`UnusualDetector::novelty`] of a vector whose [`UnusualDetector::score`] is `score`.
    pub fn novelty_of_score(&self, score: f64) -> Option<f64> {
        let median = self.median?;
        let scale = self.threshold - median;
        if !(scale > 0.0 && score.is_finite()) {
            return None;
        }
        let (low, high) = Self::NOVELTY_RANGE;
        Some(((score - self.threshold) / scale).clamp(low, high))
    }

    /// Whether a score is beyond the threshold.
    pub fn is_unusual(&self, score: f64) -> bool {
        score > self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_leaves_probabilities_alone() {
        let p = [0.7f32, 0.2, 0.1];
        assert_eq!(Calibration::IDENTITY.calibrate(&p), p.to_vec());
    }

    #[test]
    fn a_low_temperature_sharpens_and_a_high_one_flattens() {
        let p = [0.6f32, 0.3, 0.1];
        let sharp = Calibration {
            temperature: 0.5,
            ..Calibration::IDENTITY
        }
        .calibrate(&p);
        let flat = Calibration {
            temperature: 2.0,
            ..Calibration::IDENTITY
        }
        .calibrate(&p);
        // 0.6² / (0.36 + 0.09 + 0.01)
        assert!((sharp[0] - 0.36 / 0.46).abs() < 1e-6, "{sharp:?}");
        assert!(flat[0] < 0.6 && flat[2] > 0.1, "{flat:?}");
        assert!((flat.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_novelty_calibration_sets_the_top_class_and_shares_the_rest_in_proportion() {
        // Right with probability σ(c − u): 0.9 at the threshold (u = 0) becomes 0.5.
        let calibration = NoveltyCalibration {
            weights: [1.0, -(9f64.ln()), 0.0, 0.0],
            rows_at_random: 0,
            rows_out_of_group: 0,
            groups: 3,
        };
        let q = calibration.calibrate(&[0.1, 0.9, 0.0], 1.0);
        assert!(
            (q[1] - 0.5).abs() < 1e-6 && (q[0] - 0.5).abs() < 1e-6,
            "{q:?}"
        );
        assert_eq!(q[2], 0.0);
        let q = calibration.calibrate(&[0.2, 0.6, 0.2], 0.0);
        assert!(
            (q[1] - 0.6).abs() < 1e-6 && (q[0] - q[2]).abs() < 1e-7,
            "{q:?}"
        );
        assert!((q.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    /// A profile saved before the novelty calibration has no median: the temperature decides.
    #[test]
    fn without_a_median_the_temperature_decides() {
        let json =
            r#"{"whitening":[[1.0]],"centres":[[0.0]],"threshold":3.0,"quantile":0.975,"rows":40}"#;
        let unusual: UnusualDetector = serde_json::from_str(json).unwrap();
        assert_eq!(unusual.novelty(&[1.0]), None);
        let monitoring = Monitoring {
            calibration: Calibration {
                temperature: 0.5,
                novelty: Some(NoveltyCalibration {
                    weights: [0.0, 0.0, 0.0, 0.0],
                    rows_at_random: 0,
                    rows_out_of_group: 0,
                    groups: 3,
                }),
                ..Calibration::IDENTITY
            },
            unusual: Some(unusual.clone()),
        };
        let p = [0.6f32, 0.4];
        assert_eq!(
            monitoring.calibrate(&p, &[1.0]),
            monitoring.calibration.calibrate(&p)
        );
        let with_median = Monitoring {
            unusual: Some(UnusualDetector {
                median: Some(1.0),
                ..unusual
            }),
            ..monitoring
        };
        // Distance 5 from the only centre: (5 − 3) / (3 − 1) = 1; σ(0) = 0.5 for the top class.
        assert_eq!(
            with_median.unusual.as_ref().unwrap().novelty(&[5.0]),
            Some(1.0)
        );
        let q = with_median.calibrate(&p, &[5.0]);
        assert!(q.iter().all(|v| (v - 0.5).abs() < 1e-6), "{q:?}");
    }

    /// A profile saved before the per-class Gaussians still loads, and scores the pooled
    /// distance its threshold was taken on.
    #[test]
    fn a_profile_without_class_densities_scores_the_pooled_distance() {
        let json = r#"{"whitening":[[0.5,0.0],[0.0,2.0]],"centres":[[0.0,0.0],[5.0,0.0]],
            "threshold":3.0,"quantile":0.975,"rows":40}"#;
        let detector: UnusualDetector = serde_json::from_str(json).unwrap();
        assert!(detector.classes.is_empty());
        // Whitened (1.5, 2): 2.5 from the first centre.
        assert!((detector.score(&[3.0, 1.0]) - 2.5).abs() < 1e-9);
    }

    #[test]
    fn a_class_density_is_the_gaussian_negative_log_density() {
        // N(0, diag(4, 1)): L = diag(2, 1), ln det = ln 4.
        let density = ClassDensity {
            mean: vec![0.0, 0.0],
            cholesky: vec![vec![2.0], vec![0.0, 1.0]],
            log_det: 4f64.ln(),
        };
        let x = [2.0f32, 1.0];
        let expected = 0.5 * (1.0 + 1.0) + 0.5 * 4f64.ln() + std::f64::consts::TAU.ln();
        assert!((density.negative_log_density(&x) - expected).abs() < 1e-9);
        assert_eq!(density.negative_log_density(&[1.0]), f64::INFINITY);
    }
}
