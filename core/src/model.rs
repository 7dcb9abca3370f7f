//! The classifier: multinomial logistic regression (linfa-logistic's objective, fitted by
//! the crate's own `solver` module), stored as plain weights so the artifact stays readable.

use ndarray::{s, Array2};
use serde::{Deserialize, Serialize};

use tympan_data::LabeledRow;

use crate::solver::SoftmaxProblem;

/// Why training or prediction failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not enough data to train.
    #[error("cannot train: {0}")]
    Data(String),
    /// The optimiser failed.
    #[error("training failed: {0}")]
    Fit(String),
    /// A vector of the wrong length.
    #[error("expected a vector of {expected} values, got {got}")]
    Dimension {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
}

/// Training hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// L2 penalty weight (linfa's `alpha`; scikit-learn's `C` is `1 / alpha`).
    pub alpha: f64,
    /// Iteration limit of the L-BFGS solver.
    pub max_iterations: u64,
    /// Stop when the gradient norm of the objective divided by the row count falls under this
    /// (scikit-learn's criterion, whose loss is a mean).
    pub gradient_tolerance: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            // Measured on FSDD (docs/benchmarks.md): 10 has the best leave-one-speaker-out mean
            // (85.6 % against 85.0-85.2 % for 1, 3 and 30); 3 is 0.2 points better on 80/20.
            alpha: 10.0,
            max_iterations: 200,
            gradient_tolerance: 1e-4,
        }
    }
}

/// A trained classifier: for class `k`, `score_k = weights[k] · x + intercept[k]`, probabilities
/// by softmax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Class labels, sorted.
    pub classes: Vec<String>,
    /// One weight row per class.
    pub weights: Vec<Vec<f32>>,
    /// One intercept per class.
    pub intercept: Vec<f32>,
    /// Fingerprint of the embedding whose vectors this model reads.
    pub embedding_fingerprint: String,
}

/// A prediction for one vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index of the most probable class.
    pub class_index: usize,
    /// Probability of each class, in [`Model::classes`] order.
    pub probabilities: Vec<f32>,
}

impl Model {
    /// Input vector length.
    pub fn dim(&self) -> usize {
        self.weights.first().map_or(0, Vec::len)
    }

    /// Label of class `index`.
    pub fn label(&self, index: usize) -> &str {
        &self.classes[index]
    }

    /// Class probabilities of one vector.
    pub fn predict(&self, x: &[f32]) -> Result<Prediction, ModelError> {
        if x.len() != self.dim() {
            return Err(ModelError::Dimension {
                expected: self.dim(),
                got: x.len(),
            });
        }
        let scores = self.scores(x);
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        let probabilities: Vec<f32> = exp.iter().map(|e| (e / total) as f32).collect();
        let class_index =
            scores
                .iter()
                .enumerate()
                .fold(0, |best, (i, s)| if *s > scores[best] { i } else { best });
        Ok(Prediction {
            class_index,
            probabilities,
        })
    }

    /// The class scores `weights[k] · x + intercept[k]` of a vector of [`Model::dim`] values.
    pub fn scores(&self, x: &[f32]) -> Vec<f64> {
        self.weights
            .iter()
            .zip(&self.intercept)
            .map(|(w, b)| {
                w.iter()
                    .zip(x)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum::<f64>()
                    + f64::from(*b)
            })
            .collect()
    }

    /// The predicted label of one vector.
    pub fn predict_label(&self, x: &[f32]) -> Result<&str, ModelError> {
        Ok(self.label(self.predict(x)?.class_index))
    }
}

/// How far the solver went.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// L-BFGS iterations.
    pub iterations: u64,
    /// Norm of the gradient of the mean objective at the result (under the tolerance when the
    /// solver converged).
    pub gradient_norm: f64,
    /// Whether the gradient norm is under the tolerance.
    pub converged: bool,
}

/// Trains on `rows` (reference, or reference + production). With `warm_start`, the solver starts
/// from that model's parameters (classes it does not know start at zero), which is how the
/// server fine-tunes the champion on new feedback.
pub fn train(
    rows: &[LabeledRow],
    config: &TrainConfig,
    warm_start: Option<&Model>,
    embedding_fingerprint: &str,
) -> Result<Model, ModelError> {
    train_with_convergence(rows, config, warm_start, embedding_fingerprint).map(|(m, _)| m)
}

/// [`train`], and how far the solver went.
pub fn train_with_convergence(
    rows: &[LabeledRow],
    config: &TrainConfig,
    warm_start: Option<&Model>,
    embedding_fingerprint: &str,
) -> Result<(Model, Convergence), ModelError> {
    let dim = rows.first().map_or(0, |r| r.vector.len());
    if rows.is_empty() || dim == 0 {
        return Err(ModelError::Data("no rows".into()));
    }
    if let Some(bad) = rows.iter().find(|r| r.vector.len() != dim) {
        return Err(ModelError::Dimension {
            expected: dim,
            got: bad.vector.len(),
        });
    }
    let mut classes: Vec<String> = rows.iter().map(|r| r.target.clone()).collect();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(ModelError::Data(format!(
            "need at least 2 classes, the data has {}",
            classes.len()
        )));
    }
    // The rows with a trailing 1, the intercepts' input.
    let x = Array2::from_shape_fn((rows.len(), dim + 1), |(i, j)| {
        rows[i].vector.get(j).copied().unwrap_or(1.0)
    });
    let y: Vec<usize> = rows
        .iter()
        .map(|r| classes.binary_search(&r.target).expect("class listed"))
        .collect();
    let start = match warm_start.filter(|m| m.dim() == dim) {
        Some(init) => initial_params(init, &classes, dim),
        None => Array2::zeros((dim + 1, classes.len())),
    };
    let fit = SoftmaxProblem::new(x.view(), &y, classes.len(), config.alpha)
        .fit(start, config.gradient_tolerance, config.max_iterations)
        .map_err(ModelError::Fit)?;
    let weights = (0..classes.len())
        .map(|k| {
            fit.params
                .slice(s![..dim, k])
                .iter()
                .map(|&w| w as f32)
                .collect()
        })
        .collect();
    let intercept = fit.params.row(dim).iter().map(|&b| b as f32).collect();
    let model = Model {
        classes,
        weights,
        intercept,
        embedding_fingerprint: embedding_fingerprint.to_string(),
    };
    let convergence = Convergence {
        iterations: fit.iterations,
        gradient_norm: fit.gradient_norm,
        converged: fit.gradient_norm < config.gradient_tolerance,
    };
    Ok((model, convergence))
}

/// The solver's parameter layout: `(dim + 1) x classes`, the intercepts in the last row.
fn initial_params(model: &Model, classes: &[String], dim: usize) -> Array2<f64> {
    let mut p = Array2::zeros((dim + 1, classes.len()));
    for (k, class) in classes.iter().enumerate() {
        if let Some(old) = model.classes.iter().position(|c| c == class) {
            for j in 0..dim {
                p[[j, k]] = f64::from(model.weights[old][j]);
            }
            p[[dim, k]] = f64::from(model.intercept[old]);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Vec<LabeledRow> {
        (0..90)
            .map(|i| {
                let c = i % 3;
                let jitter = ((i * 7919) % 13) as f32 / 13.0 - 0.5;
                LabeledRow {
                    vector: vec![c as f32 * 3.0 + jitter, (2 - c) as f32 * 2.0 - jitter],
                    target: ["cat", "dog", "owl"][c].into(),
                    prediction: None,
                }
            })
            .collect()
    }

    #[test]
    fn separates_blobs_and_probabilities_sum_to_one() {
        let rows = blobs();
        let m = train(&rows, &TrainConfig::default(), None, "fp").unwrap();
        assert_eq!(m.classes, vec!["cat", "dog", "owl"]);
        for r in &rows {
            let p = m.predict(&r.vector).unwrap();
            assert_eq!(m.label(p.class_index), r.target);
            let total: f32 = p.probabilities.iter().sum();
            assert!((total - 1.0).abs() < 1e-5);
        }
        assert!(m.predict(&[1.0]).is_err());
    }

    #[test]
    fn warm_start_from_a_good_model_converges_to_the_same_answers() {
        let rows = blobs();
        let base = train(&rows, &TrainConfig::default(), None, "fp").unwrap();
        let config = TrainConfig {
            max_iterations: 3,
            ..TrainConfig::default()
        };
        let tuned = train(&rows, &config, Some(&base), "fp").unwrap();
        let cold = train(&rows, &config, None, "fp").unwrap();
        let agree = |m: &Model| {
            rows.iter()
                .filter(|r| m.predict_label(&r.vector).unwrap() == r.target)
                .count()
        };
        // Three iterations are enough from the base model's parameters.
        assert_eq!(agree(&tuned), rows.len());
        assert!(agree(&tuned) >= agree(&cold));
    }

    #[test]
    fn one_class_is_refused() {
        let rows: Vec<_> = blobs().into_iter().filter(|r| r.target == "cat").collect();
        assert!(matches!(
            train(&rows, &TrainConfig::default(), None, "fp"),
            Err(ModelError::Data(_))
        ));
    }
}
