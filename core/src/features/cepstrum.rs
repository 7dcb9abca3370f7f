//! Decibel scaling (librosa `power_to_db`) and the orthonormal DCT-II that turns log-mel frames
//! into cepstral coefficients.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2};

use super::config::DbReference;

/// Smallest power before taking the logarithm (librosa's `amin`).
pub const AMIN: f32 = 1e-10;

/// Converts a mel power matrix (any layout) to decibels in place, like librosa's
/// `power_to_db(S, ref, amin=1e-10, top_db)`: the floor is `top_db` under the maximum of the
/// whole matrix.
pub fn power_to_db(values: &mut [f32], reference: DbReference, top_db: Option<f32>) {
    let max_power = values.iter().copied().fold(0.0f32, f32::max);
    let ref_db = match reference {
        DbReference::Absolute => 0.0,
        DbReference::ClipMax => 10.0 * max_power.max(AMIN).log10(),
    };
    let mut max_db = f32::NEG_INFINITY;
    for v in values.iter_mut() {
        *v = 10.0 * v.max(AMIN).log10() - ref_db;
        max_db = max_db.max(*v);
    }
    if let Some(top_db) = top_db {
        let floor = max_db - top_db;
        for v in values.iter_mut() {
            *v = v.max(floor);
        }
    }
}

/// Orthonormal DCT-II (`scipy.fft.dct(type=2, norm="ortho")`) from `n_in` values to the first
/// `n_out` coefficients, as a precomputed matrix: with 40 inputs a matrix product is faster than
/// an FFT-based DCT and exact to float rounding.
#[derive(Debug, Clone, PartialEq)]
pub struct Dct {
    n_in: usize,
    n_out: usize,
    matrix: Vec<f32>,
}

impl Dct {
    /// Precomputes the `n_out x n_in` basis.
    pub fn new(n_in: usize, n_out: usize) -> Self {
        let n = n_in as f64;
        let mut matrix = Vec::with_capacity(n_in * n_out);
        for k in 0..n_out {
            let scale = if k == 0 {
                (1.0 / (4.0 * n)).sqrt()
            } else {
                (1.0 / (2.0 * n)).sqrt()
            };
            for i in 0..n_in {
                let angle = std::f64::consts::PI * k as f64 * (2.0 * i as f64 + 1.0) / (2.0 * n);
                matrix.push((2.0 * scale * angle.cos()) as f32);
            }
        }
        Self {
            n_in,
            n_out,
            matrix,
        }
    }

    /// Transforms one frame of `n_in` values into `n_out` coefficients.
    #[inline]
    pub fn apply(&self, input: &[f32], out: &mut [f32]) {
        debug_assert_eq!(input.len(), self.n_in);
        for (o, row) in out
            .iter_mut()
            .zip(self.matrix.chunks_exact(self.n_in))
            .take(self.n_out)
        {
            *o = row.iter().zip(input).map(|(a, b)| a * b).sum();
        }
    }

    /// Transforms frame-major `frames` (`n_frames x n_in`) into `n_frames x n_out` coefficients
    /// in one matrix product: ndarray's kernel vectorises it, where a dot product per frame and
    /// coefficient summed in order cannot be (a tenth of an embedding's time at 39 inputs).
    pub fn apply_frames(&self, frames: &[f32]) -> Vec<f32> {
        let n_frames = frames.len() / self.n_in;
        let input = ArrayView2::from_shape((n_frames, self.n_in), &frames[..n_frames * self.n_in])
            .expect("whole frames");
        let basis = ArrayView2::from_shape((self.n_out, self.n_in), &self.matrix)
            .expect("the basis is n_out x n_in");
        let mut out = Array2::<f32>::zeros((n_frames, self.n_out));
        general_mat_mul(1.0, &input, &basis.t(), 0.0, &mut out);
        out.into_raw_vec_and_offset().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_product_of_all_frames_matches_frame_by_frame() {
        let dct = Dct::new(39, 19);
        let frames: Vec<f32> = (0..39 * 50)
            .map(|i| ((i * 7919) % 113) as f32 - 60.0)
            .collect();
        let all = dct.apply_frames(&frames);
        assert_eq!(all.len(), 50 * 19);
        let mut one = vec![0.0; 19];
        for (frame, expected) in frames.chunks_exact(39).zip(all.chunks_exact(19)) {
            dct.apply(frame, &mut one);
            for (a, b) in one.iter().zip(expected) {
                assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{a} vs {b}");
            }
        }
        assert!(dct.apply_frames(&[]).is_empty());
    }

    #[test]
    fn dct_of_constant_has_only_dc() {
        let dct = Dct::new(40, 20);
        let mut out = vec![0.0; 20];
        dct.apply(&[1.0; 40], &mut out);
        // Orthonormal: a constant vector of norm sqrt(40) maps to c0 = sqrt(40).
        assert!((out[0] - 40f32.sqrt()).abs() < 1e-5);
        assert!(out[1..].iter().all(|c| c.abs() < 1e-5));
    }

    #[test]
    fn dct_basis_is_orthonormal() {
        let dct = Dct::new(40, 40);
        for a in 0..40 {
            for b in 0..40 {
                let dot: f32 = (0..40)
                    .map(|i| dct.matrix[a * 40 + i] * dct.matrix[b * 40 + i])
                    .sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-5, "rows {a},{b}: {dot}");
            }
        }
    }

    #[test]
    fn db_floor_is_relative_to_the_whole_matrix() {
        let mut v = vec![1.0, 1e-3, 1e-12];
        power_to_db(&mut v, DbReference::Absolute, Some(20.0));
        assert_eq!(v, vec![0.0, -20.0, -20.0]);
        let mut w = vec![100.0, 1.0];
        power_to_db(&mut w, DbReference::ClipMax, None);
        assert!((w[0]).abs() < 1e-6 && (w[1] + 20.0).abs() < 1e-5);
    }
}
