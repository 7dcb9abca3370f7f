//! Standard scaler (scikit-learn's `StandardScaler`: population std, zero std treated as one).

use serde::{Deserialize, Serialize};

/// Per-column centring and scaling fitted on the reference clip vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column population standard deviations (1.0 where a column is constant).
    pub scale: Vec<f64>,
}

impl StandardScaler {
    /// Fits on rows of equal length (at least one row).
    pub fn fit(rows: &[Vec<f32>]) -> Self {
        let dim = rows.first().map_or(0, Vec::len);
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0.0f64; dim];
        for row in rows {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; dim];
        for row in rows {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        let scale = var
            .into_iter()
            .map(|v| {
                let s = (v / n).sqrt();
                if s > f64::EPSILON * 1e3 {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        Self { mean, scale }
    }

    /// Divides each block of consecutive columns by the square root of its `weight_len`, so a
    /// statistic spread over many columns (9 log-time windows of 64 bands) carries no more total
    /// variance into the PCA than one of 20 columns. `blocks` lists (columns, weight_len) pairs
    /// covering the vector in order.
    pub fn balance_blocks(mut self, blocks: &[(usize, usize)]) -> Self {
        let mut start = 0;
        for &(len, weight_len) in blocks {
            let factor = (weight_len.max(1) as f64).sqrt();
            let end = (start + len).min(self.scale.len());
            for s in &mut self.scale[start..end] {
                *s *= factor;
            }
            start += len;
        }
        self
    }

    /// Scales one vector.
    pub fn transform(&self, x: &[f32]) -> Vec<f64> {
        x.iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(&v, (m, s))| (f64::from(v) - m) / s)
            .collect()
    }
}
