//! PCA fitted with linfa-reduction, stored as plain numbers so the artifact stays readable.

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_reduction::Pca;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// A fitted linear projection: `y = components · (x - mean)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// Mean subtracted before projecting (of the scaled vectors).
    pub mean: Vec<f64>,
    /// One row per component, strongest first.
    pub components: Vec<Vec<f64>>,
    /// Share of the total variance each component explains.
    pub explained_variance_ratio: Vec<f64>,
    /// Factor applied to each output: `1 / std` of the component when whitened, else 1. Unit
    /// variance columns make the classifier's L2 penalty act evenly and its solver converge
    /// reliably.
    pub output_scale: Vec<f64>,
}

impl Projection {
    /// Fits `n_components` principal components on scaled rows; `whiten` rescales each output to
    /// unit variance (scikit-learn's `whiten=True`).
    pub fn fit(rows: &[Vec<f64>], n_components: usize, whiten: bool) -> Result<Self, String> {
        let n = rows.len();
        let dim = rows.first().map_or(0, Vec::len);
        if n < 2 {
            return Err(format!("PCA needs at least 2 clips, got {n}"));
        }
        if n_components == 0 || n_components > dim.min(n) {
            return Err(format!(
                "n_components must be between 1 and {} (clip vector length and clip count), got {n_components}",
                dim.min(n)
            ));
        }
        let x = Array2::from_shape_fn((n, dim), |(i, j)| rows[i][j]);
        let pca = Pca::params(n_components)
            .fit(&DatasetBase::from(x.clone()))
            .map_err(|e| e.to_string())?;
        let mean = pca.mean().to_vec();
        let total_variance: f64 = (0..dim)
            .map(|j| {
                let col = x.column(j);
                col.iter().map(|v| (v - mean[j]).powi(2)).sum::<f64>() / (n as f64 - 1.0)
            })
            .sum();
        let explained_variance_ratio = pca
            .singular_values()
            .iter()
            .map(|s| s * s / (n as f64 - 1.0) / total_variance)
            .collect();
        // The sign of a principal axis is arbitrary; fix it (largest loading positive, as
        // scikit-learn's svd_flip does) so refits on the same data give the same columns.
        let components = pca
            .components()
            .rows()
            .into_iter()
            .map(|row| {
                let pivot =
                    row.iter()
                        .copied()
                        .fold(0.0f64, |acc, v| if v.abs() > acc.abs() { v } else { acc });
                let sign = if pivot < 0.0 { -1.0 } else { 1.0 };
                row.iter().map(|v| v * sign).collect()
            })
            .collect();
        let output_scale = pca
            .singular_values()
            .iter()
            .map(|s| {
                let std = s / (n as f64 - 1.0).sqrt();
                if whiten && std > 1e-12 {
                    1.0 / std
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Self {
            mean,
            components,
            explained_variance_ratio,
            output_scale,
        })
    }

    /// Number of output values.
    pub fn n_components(&self) -> usize {
        self.components.len()
    }

    /// Projects one scaled vector.
    pub fn transform(&self, x: &[f64]) -> Vec<f32> {
        self.components
            .iter()
            .zip(&self.output_scale)
            .map(|(c, scale)| {
                let dot: f64 = c
                    .iter()
                    .zip(x.iter().zip(&self.mean))
                    .map(|(w, (v, m))| w * (v - m))
                    .sum();
                (dot * scale) as f32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_main_axis_and_variance_share() {
        // Points along (1, 1) with small noise on (1, -1).
        let rows: Vec<Vec<f64>> = (0..200)
            .map(|i| {
                let t = i as f64 / 20.0 - 5.0;
                let e = ((i * 37 % 11) as f64 - 5.0) / 100.0;
                vec![t + e, t - e]
            })
            .collect();
        let p = Projection::fit(&rows, 2, false).unwrap();
        let c = &p.components[0];
        assert!((c[0] - c[1]).abs() < 1e-3 && c[0] > 0.0, "{c:?}");
        assert!(p.explained_variance_ratio[0] > 0.99);
        let total: f64 = p.explained_variance_ratio.iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
    }
}
