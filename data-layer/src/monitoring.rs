//! A model's label-free monitoring profile, as stored with the model and applied to every
//! prediction: [`Calibration`] (temperature scaling, so that the mean probability of the
//! predicted labels estimates accuracy) and [`UnusualDetector`] (how far a vector lies from the
//! training data). `tympan_core::monitoring` fits them at training time on held-out rows.

use serde::{Deserialize, Serialize};

/// The label-free monitoring profile of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitoring {
    /// Probability calibration.
    pub calibration: Calibration,
    /// Out-of-distribution detector; `None` when the data cannot support one (a class with a
    /// single row, fewer rows than classes).
    pub unusual: Option<UnusualDetector>,
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
}

impl Calibration {
    /// No change to the probabilities.
    pub const IDENTITY: Self = Self {
        temperature: 1.0,
        rows: 0,
        log_loss_before: 0.0,
        log_loss_after: 0.0,
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

/// The distance of a vector to the training data: `min_k ‖W (x − μ_k)‖`, where `μ_k` are the
/// class means and `W` whitens the pooled within-class covariance (the Mahalanobis distance to
/// the nearest class, as in Lee et al. 2018). Stored whitened: `centres` are `W μ_k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnusualDetector {
    /// `W`, one row per output value.
    pub whitening: Vec<Vec<f32>>,
    /// The class means, whitened.
    pub centres: Vec<Vec<f32>>,
    /// Distances above this are unusual.
    pub threshold: f64,
    /// The quantile of the held-out rows' distances the threshold is.
    pub quantile: f64,
    /// Held-out rows the threshold was taken from.
    pub rows: usize,
}

impl UnusualDetector {
    /// The distance of `x` to the nearest class mean, in within-class standard deviations.
    pub fn score(&self, x: &[f32]) -> f64 {
        let white: Vec<f64> = self
            .whitening
            .iter()
            .map(|row| {
                row.iter()
                    .zip(x)
                    .map(|(w, v)| f64::from(*w) * f64::from(*v))
                    .sum()
            })
            .collect();
        self.centres
            .iter()
            .map(|c| {
                c.iter()
                    .zip(&white)
                    .map(|(m, v)| (v - f64::from(*m)).powi(2))
                    .sum::<f64>()
            })
            .fold(f64::INFINITY, f64::min)
            .sqrt()
    }

    /// Whether a distance is beyond the threshold.
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
}
