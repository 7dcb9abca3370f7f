//! Pooling a variable number of cepstral frames into one fixed-length clip vector.

use super::config::PoolStat;

/// Frame-major matrix of `n_frames x n_coeffs` values.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameMatrix {
    /// Number of coefficients per frame.
    pub n_coeffs: usize,
    /// Values, frame after frame.
    pub data: Vec<f32>,
}

impl FrameMatrix {
    /// Number of frames.
    pub fn n_frames(&self) -> usize {
        self.data.len().checked_div(self.n_coeffs).unwrap_or(0)
    }

    /// The coefficients of frame `t`.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * self.n_coeffs..(t + 1) * self.n_coeffs]
    }

    /// Frames `range`, as a matrix view over the same layout.
    fn rows(&self, start: usize, end: usize) -> &[f32] {
        &self.data[start * self.n_coeffs..end * self.n_coeffs]
    }
}

/// Concatenates the statistics `stats` of `frames` (at least one frame) into `out`.
pub fn pool(frames: &FrameMatrix, stats: &[PoolStat], out: &mut Vec<f32>) {
    let n = frames.n_coeffs;
    let t = frames.n_frames();
    let mut deltas: Option<FrameMatrix> = None;
    for stat in stats {
        match *stat {
            PoolStat::Mean => out.extend(mean_std(frames.rows(0, t), n).0),
            PoolStat::Std => out.extend(mean_std(frames.rows(0, t), n).1),
            PoolStat::DeltaMean | PoolStat::DeltaStd => {
                let d = deltas.get_or_insert_with(|| delta(frames));
                let (m, s) = mean_std(&d.data, n);
                out.extend(if *stat == PoolStat::DeltaMean { m } else { s });
            }
            PoolStat::SegmentMeans(k) => {
                for j in 0..k {
                    // Segments cover the clip in equal parts; a clip shorter than k frames
                    // repeats frames rather than leaving a segment empty.
                    let start = (j * t / k).min(t - 1);
                    let end = ((j + 1) * t / k).max(start + 1);
                    out.extend(mean_std(frames.rows(start, end), n).0);
                }
            }
        }
    }
}

/// Per-coefficient mean and population standard deviation of frame-major `rows`.
fn mean_std(rows: &[f32], n: usize) -> (Vec<f32>, Vec<f32>) {
    let count = (rows.len() / n).max(1) as f64;
    let mut sum = vec![0.0f64; n];
    let mut sum_sq = vec![0.0f64; n];
    for frame in rows.chunks_exact(n) {
        for ((s, q), &v) in sum.iter_mut().zip(sum_sq.iter_mut()).zip(frame) {
            let v = f64::from(v);
            *s += v;
            *q += v * v;
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
    let std = sum_sq
        .iter()
        .zip(&mean)
        .map(|(q, m)| ((q / count - m * m).max(0.0)).sqrt() as f32)
        .collect();
    (mean.into_iter().map(|m| m as f32).collect(), std)
}

/// First-order deltas by linear regression over ±2 frames (edges repeat the border frame).
fn delta(frames: &FrameMatrix) -> FrameMatrix {
    let n = frames.n_coeffs;
    let t = frames.n_frames();
    let at = |i: isize| frames.frame(i.clamp(0, t as isize - 1) as usize);
    let mut data = Vec::with_capacity(frames.data.len());
    for i in 0..t as isize {
        let (p1, m1, p2, m2) = (at(i + 1), at(i - 1), at(i + 2), at(i - 2));
        data.extend((0..n).map(|c| ((p1[c] - m1[c]) + 2.0 * (p2[c] - m2[c])) / 10.0));
    }
    FrameMatrix { n_coeffs: n, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(frames: usize) -> FrameMatrix {
        FrameMatrix {
            n_coeffs: 2,
            data: (0..frames).flat_map(|t| [t as f32, 1.0]).collect(),
        }
    }

    #[test]
    fn mean_std_and_segments() {
        let mut out = Vec::new();
        pool(
            &ramp(4),
            &[PoolStat::Mean, PoolStat::Std, PoolStat::SegmentMeans(2)],
            &mut out,
        );
        let std = (1.25f32).sqrt();
        assert_eq!(out.len(), 8);
        assert_eq!(&out[..2], &[1.5, 1.0]);
        assert!((out[2] - std).abs() < 1e-6 && out[3] == 0.0);
        assert_eq!(&out[4..], &[0.5, 1.0, 2.5, 1.0]);
    }

    #[test]
    fn deltas_of_a_ramp_are_one_inside() {
        let d = delta(&ramp(9));
        assert_eq!(d.frame(4)[0], 1.0);
        assert_eq!(d.frame(4)[1], 0.0);
    }

    #[test]
    fn short_clip_fills_every_segment() {
        let mut out = Vec::new();
        pool(&ramp(1), &[PoolStat::SegmentMeans(4)], &mut out);
        assert_eq!(out, vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    }
}
