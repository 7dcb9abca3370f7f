//! Pooling a variable number of frames (cepstra, log-mel bands or spectral descriptors) into one
//! fixed-length clip vector.

use realfft::RealFftPlanner;

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

    /// The values of coefficient `c` over all frames.
    fn column(&self, c: usize) -> impl Iterator<Item = f32> + '_ {
        self.data.iter().skip(c).step_by(self.n_coeffs).copied()
    }

    /// The matrix restricted to frames `range`.
    pub fn slice_frames(&self, range: std::ops::Range<usize>) -> FrameMatrix {
        FrameMatrix {
            n_coeffs: self.n_coeffs,
            data: self.rows(range.start, range.end).to_vec(),
        }
    }
}

/// Concatenates the statistics `stats` of `frames` (at least one frame) into `out`.
/// `frame_rate` (frames per second) places the bands of [`PoolStat::Modulation`].
pub fn pool(frames: &FrameMatrix, stats: &[PoolStat], frame_rate: f32, out: &mut Vec<f32>) {
    let n = frames.n_coeffs;
    let t = frames.n_frames();
    // Each derived matrix and its moments are computed once, whichever statistics ask for them.
    let mut moments: Option<Moments> = None;
    let mut delta_moments: Option<Moments> = None;
    let mut delta2_moments: Option<Moments> = None;
    for stat in stats {
        match *stat {
            PoolStat::Mean => out.extend(moments.get_or_insert_with(|| Moments::of(frames)).mean()),
            PoolStat::Std => out.extend(moments.get_or_insert_with(|| Moments::of(frames)).std()),
            PoolStat::Skewness => out.extend(
                moments
                    .get_or_insert_with(|| Moments::of(frames))
                    .skewness(),
            ),
            PoolStat::Kurtosis => out.extend(
                moments
                    .get_or_insert_with(|| Moments::of(frames))
                    .kurtosis(),
            ),
            PoolStat::DeltaMean => out.extend(
                delta_moments
                    .get_or_insert_with(|| Moments::of(&delta(frames)))
                    .mean(),
            ),
            PoolStat::DeltaStd => out.extend(
                delta_moments
                    .get_or_insert_with(|| Moments::of(&delta(frames)))
                    .std(),
            ),
            PoolStat::Delta2Mean => out.extend(
                delta2_moments
                    .get_or_insert_with(|| Moments::of(&delta2(frames)))
                    .mean(),
            ),
            PoolStat::Delta2Std => out.extend(
                delta2_moments
                    .get_or_insert_with(|| Moments::of(&delta2(frames)))
                    .std(),
            ),
            PoolStat::Min => {
                out.extend((0..n).map(|c| frames.column(c).fold(f32::INFINITY, f32::min)))
            }
            PoolStat::Max => {
                out.extend((0..n).map(|c| frames.column(c).fold(f32::NEG_INFINITY, f32::max)))
            }
            PoolStat::Percentile(p) => out.extend((0..n).map(|c| {
                let mut col: Vec<f32> = frames.column(c).collect();
                percentile(&mut col, f64::from(p))
            })),
            PoolStat::SegmentMeans(k) => {
                for j in 0..k {
                    // Segments cover the clip in equal parts; a clip shorter than k frames
                    // repeats frames rather than leaving a segment empty.
                    let start = (j * t / k).min(t - 1);
                    let end = ((j + 1) * t / k).max(start + 1);
                    out.extend(
                        row_means(frames.rows(start, end), n)
                            .iter()
                            .map(|&m| m as f32),
                    );
                }
            }
            PoolStat::Modulation(k) => modulation(frames, k, frame_rate, out),
            PoolStat::LogTimeMeans(k) => log_time_means(frames, k, frame_rate, out),
        }
    }
}

/// Per-coefficient means of frame-major `rows` (at least one frame), accumulated in f64.
fn row_means(rows: &[f32], n: usize) -> Vec<f64> {
    let count = (rows.len() / n).max(1) as f64;
    let mut sum = vec![0.0f64; n];
    for frame in rows.chunks_exact(n) {
        for (s, &v) in sum.iter_mut().zip(frame) {
            *s += f64::from(v);
        }
    }
    sum.iter_mut().for_each(|s| *s /= count);
    sum
}

/// Per-coefficient central moments of a frame matrix, accumulated in f64.
struct Moments {
    mean: Vec<f64>,
    m2: Vec<f64>,
    m3: Vec<f64>,
    m4: Vec<f64>,
}

impl Moments {
    fn of(frames: &FrameMatrix) -> Self {
        let n = frames.n_coeffs;
        let count = frames.n_frames().max(1) as f64;
        let mean = row_means(&frames.data, n);
        let (mut m2, mut m3, mut m4) = (vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]);
        for frame in frames.data.chunks_exact(n) {
            for c in 0..n {
                let d = f64::from(frame[c]) - mean[c];
                let d2 = d * d;
                m2[c] += d2;
                m3[c] += d2 * d;
                m4[c] += d2 * d2;
            }
        }
        for c in 0..n {
            m2[c] /= count;
            m3[c] /= count;
            m4[c] /= count;
        }
        Self { mean, m2, m3, m4 }
    }

    fn mean(&self) -> impl Iterator<Item = f32> + '_ {
        self.mean.iter().map(|&m| m as f32)
    }

    /// Population standard deviation (numpy's `std`, `ddof=0`).
    fn std(&self) -> impl Iterator<Item = f32> + '_ {
        self.m2.iter().map(|&v| v.max(0.0).sqrt() as f32)
    }

    /// Biased sample skewness (`scipy.stats.skew`); 0 for a constant coefficient.
    fn skewness(&self) -> impl Iterator<Item = f32> + '_ {
        self.m2.iter().zip(&self.m3).map(|(&m2, &m3)| {
            if m2 <= f64::EPSILON * self.scale() {
                0.0
            } else {
                (m3 / m2.powf(1.5)) as f32
            }
        })
    }

    /// Excess kurtosis (`scipy.stats.kurtosis`, Fisher, biased); 0 for a constant coefficient.
    fn kurtosis(&self) -> impl Iterator<Item = f32> + '_ {
        self.m2.iter().zip(&self.m4).map(|(&m2, &m4)| {
            if m2 <= f64::EPSILON * self.scale() {
                0.0
            } else {
                (m4 / (m2 * m2) - 3.0) as f32
            }
        })
    }

    /// A magnitude below which a variance is rounding noise.
    fn scale(&self) -> f64 {
        self.mean.iter().map(|m| m * m).fold(1e-30, f64::max)
    }
}

/// Linear-interpolated percentile (numpy's default), `p` in 0..=100; sorts `values`.
fn percentile(values: &mut [f32], p: f64) -> f32 {
    values.sort_unstable_by(f32::total_cmp);
    let pos = (p.clamp(0.0, 100.0) / 100.0) * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = (pos - lo as f64) as f32;
    values[lo] + (values[hi] - values[lo]) * frac
}

/// First-order deltas, librosa's `feature.delta(width=5, order=1, mode="interp")`: the
/// least-squares slope over ±2 frames; the first and last two frames take the slope of the line
/// fitted to the first (last) five frames. Clips shorter than five frames repeat border frames.
fn delta(frames: &FrameMatrix) -> FrameMatrix {
    savgol(
        frames,
        &[-2.0 / 10.0, -1.0 / 10.0, 0.0, 1.0 / 10.0, 2.0 / 10.0],
    )
}

/// Second-order deltas, librosa's `feature.delta(width=5, order=2, mode="interp")`: the second
/// derivative of the least-squares parabola over ±2 frames.
fn delta2(frames: &FrameMatrix) -> FrameMatrix {
    savgol(
        frames,
        &[2.0 / 7.0, -1.0 / 7.0, -2.0 / 7.0, -1.0 / 7.0, 2.0 / 7.0],
    )
}

/// A 5-tap Savitzky-Golay derivative filter along time. With `mode="interp"` and a derivative
/// of the fitted polynomial's own order, the edge frames get the value of the nearest full
/// window, which is what this does.
fn savgol(frames: &FrameMatrix, taps: &[f32; 5]) -> FrameMatrix {
    let n = frames.n_coeffs;
    let t = frames.n_frames();
    let at = |i: isize| frames.frame(i.clamp(0, t as isize - 1) as usize);
    let mut data = Vec::with_capacity(frames.data.len());
    for i in 0..t as isize {
        let centre = if t >= 5 {
            i.clamp(2, t as isize - 3)
        } else {
            i
        };
        let window = [
            at(centre - 2),
            at(centre - 1),
            at(centre),
            at(centre + 1),
            at(centre + 2),
        ];
        data.extend((0..n).map(|c| {
            window
                .iter()
                .zip(taps)
                .map(|(frame, w)| frame[c] * w)
                .sum::<f32>()
        }));
    }
    FrameMatrix { n_coeffs: n, data }
}

/// Means over windows of doubling length from the first frame (see [`PoolStat::LogTimeMeans`]).
fn log_time_means(frames: &FrameMatrix, k: usize, frame_rate: f32, out: &mut Vec<f32>) {
    let n = frames.n_coeffs;
    let t = frames.n_frames();
    let edge = |i: usize| -> usize {
        if i == 0 {
            0
        } else {
            (0.01 * 2f32.powi(i as i32 - 1) * frame_rate).round() as usize
        }
    };
    let floor: Vec<f32> = (0..n)
        .map(|c| frames.column(c).fold(f32::INFINITY, f32::min))
        .collect();
    let mut start = 0;
    for i in 0..k {
        let end = edge(i + 1).max(start + 1);
        if start >= t {
            out.extend_from_slice(&floor);
        } else {
            out.extend(
                row_means(frames.rows(start, end.min(t)), n)
                    .iter()
                    .map(|&m| m as f32),
            );
        }
        start = end;
    }
}

/// Modulation bands, in Hz: how fast a band's level moves (a ticking clock at a few Hz, speech
/// syllables at 2-8 Hz, rain and fire faster and noisier).
fn modulation_edges(k: usize, frame_rate: f32) -> Vec<f32> {
    // Octaves from 0.5 Hz up, the last band closed at the Nyquist rate of the frame sequence.
    let nyquist = frame_rate / 2.0;
    let mut edges: Vec<f32> = (0..=k).map(|i| 0.5 * 2f32.powi(i as i32)).collect();
    let last = edges.len() - 1;
    edges[last] = edges[last].min(nyquist).max(edges[last - 1]);
    edges
}

/// For each coefficient, the RMS of its (mean-removed) trajectory within each of `k` octave
/// modulation bands: `n_coeffs * k` values, coefficient-major.
fn modulation(frames: &FrameMatrix, k: usize, frame_rate: f32, out: &mut Vec<f32>) {
    let n = frames.n_coeffs;
    let t = frames.n_frames();
    // At least 4 s of frames, so the lowest band holds FFT bins even for a short clip.
    let len = t
        .max((4.0 * frame_rate) as usize)
        .next_power_of_two()
        .max(2);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(len);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let edges = modulation_edges(k, frame_rate);
    let bin_hz = frame_rate / len as f32;
    for c in 0..n {
        let mean = frames.column(c).map(f64::from).sum::<f64>() / t as f64;
        input.iter_mut().for_each(|x| *x = 0.0);
        for (x, v) in input.iter_mut().zip(frames.column(c)) {
            *x = (f64::from(v) - mean) as f32;
        }
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .expect("FFT buffers sized by the plan");
        for b in 0..k {
            let (lo, hi) = (edges[b], edges[b + 1]);
            let energy: f64 = spectrum
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    let f = *i as f32 * bin_hz;
                    f >= lo && f < hi
                })
                .map(|(_, z)| f64::from(z.re * z.re + z.im * z.im))
                .sum();
            // Parseval over the one-sided spectrum: twice each bin's power, divided by len * t,
            // is the band's share of the mean square of the trajectory.
            out.push((2.0 * energy / (len as f64 * t as f64)).sqrt() as f32);
        }
    }
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
            100.0,
            &mut out,
        );
        let std = (1.25f32).sqrt();
        assert_eq!(out.len(), 8);
        assert_eq!(&out[..2], &[1.5, 1.0]);
        assert!((out[2] - std).abs() < 1e-6 && out[3] == 0.0);
        assert_eq!(&out[4..], &[0.5, 1.0, 2.5, 1.0]);
    }

    #[test]
    fn deltas_of_a_ramp_are_one_everywhere_and_second_deltas_zero() {
        // mode="interp": the edges take the slope of the fitted line, which is exact for a ramp.
        let d = delta(&ramp(9));
        let d2 = delta2(&ramp(9));
        for t in 0..9 {
            assert!((d.frame(t)[0] - 1.0).abs() < 1e-6, "frame {t}");
            assert!(d.frame(t)[1].abs() < 1e-6);
            assert!(d2.frame(t)[0].abs() < 1e-6, "frame {t}");
        }
    }

    #[test]
    fn second_delta_of_a_parabola_is_its_curvature() {
        let frames = FrameMatrix {
            n_coeffs: 1,
            data: (0..10).map(|t| (t * t) as f32).collect(),
        };
        let d2 = delta2(&frames);
        assert!(d2.data.iter().all(|v| (v - 2.0).abs() < 1e-4), "{d2:?}");
    }

    #[test]
    fn min_max_percentiles_and_moments() {
        let frames = FrameMatrix {
            n_coeffs: 1,
            data: vec![1.0, 2.0, 3.0, 10.0],
        };
        let mut out = Vec::new();
        pool(
            &frames,
            &[
                PoolStat::Min,
                PoolStat::Max,
                PoolStat::Percentile(50),
                PoolStat::Percentile(90),
                PoolStat::Skewness,
                PoolStat::Kurtosis,
            ],
            100.0,
            &mut out,
        );
        assert_eq!(&out[..3], &[1.0, 10.0, 2.5]);
        // numpy.percentile([1, 2, 3, 10], 90) = 7.9
        assert!((out[3] - 7.9).abs() < 1e-5);
        // Central moments m2 = 12.5, m3 = 45, m4 = 348.5: scipy.stats.skew = 45 / 12.5^1.5,
        // scipy.stats.kurtosis = 348.5 / 12.5^2 - 3.
        assert!((out[4] - 1.018_234).abs() < 1e-5, "{}", out[4]);
        assert!((out[5] - (-0.769_6)).abs() < 1e-5, "{}", out[5]);
    }

    #[test]
    fn a_constant_coefficient_has_zero_higher_moments() {
        let mut out = Vec::new();
        pool(
            &ramp(6),
            &[PoolStat::Skewness, PoolStat::Kurtosis],
            100.0,
            &mut out,
        );
        assert_eq!((out[1], out[3]), (0.0, 0.0));
    }

    #[test]
    fn modulation_finds_the_rate_of_a_fluctuation() {
        // A band whose level swings at 3 Hz, sampled at 100 frames per second for 4 s.
        let frames = FrameMatrix {
            n_coeffs: 1,
            data: (0..400)
                .map(|t| (2.0 * std::f32::consts::PI * 3.0 * t as f32 / 100.0).sin())
                .collect(),
        };
        let mut out = Vec::new();
        pool(&frames, &[PoolStat::Modulation(5)], 100.0, &mut out);
        // Bands 0.5-1, 1-2, 2-4, 4-8, 8-16 Hz: the 2-4 Hz band holds the sine's RMS (0.707).
        let best = (0..5).max_by(|&a, &b| out[a].total_cmp(&out[b])).unwrap();
        assert_eq!(best, 2, "{out:?}");
        assert!(
            (out[2] - std::f32::consts::FRAC_1_SQRT_2).abs() < 0.1,
            "{out:?}"
        );
    }

    #[test]
    fn log_time_windows_double_and_fall_back_to_the_floor() {
        // 100 frames per second: windows of 1, 1, 2, 4 frames, then past the end of 6 frames.
        let frames = FrameMatrix {
            n_coeffs: 1,
            data: vec![6.0, 5.0, 4.0, 3.0, 2.0, 1.0],
        };
        let mut out = Vec::new();
        pool(&frames, &[PoolStat::LogTimeMeans(5)], 100.0, &mut out);
        assert_eq!(out, vec![6.0, 5.0, 3.5, 1.5, 1.0]);
    }

    #[test]
    fn short_clip_fills_every_segment() {
        let mut out = Vec::new();
        pool(&ramp(1), &[PoolStat::SegmentMeans(4)], 100.0, &mut out);
        assert_eq!(out, vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    }
}
