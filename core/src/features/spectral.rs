//! Per-frame spectral descriptors (librosa 0.11 `spectral_centroid`, `spectral_bandwidth`,
//! `spectral_rolloff`, `spectral_flatness`, `spectral_contrast`, `rms` from a spectrogram) and
//! the time-domain `zero_crossing_rate`.
//!
//! The spectral ones read one frame's power spectrum `|X|^2` (bins `0..=n_fft/2`, as the front
//! end's frame loop produces it), so they can share its STFT. librosa takes the *magnitude*
//! `S = |X|` for centroid, bandwidth, rolloff and contrast, and `S^2` for flatness; this module
//! takes the square root where librosa does. Values are returned as `f32`, sums are taken in
//! `f64`.
//!
//! One librosa detail is not per frame: `spectral_contrast` converts the band peaks and valleys
//! with `power_to_db`'s default `top_db=80`, whose floor is 80 dB under the largest peak (and
//! valley) of the *whole clip*. [`SpectralDescriptors::spectral_matrix`] reproduces that;
//! [`SpectralDescriptors::frame`], which sees one frame, gives the contrast without the floor
//! (librosa with `top_db=None`).

use super::pool::FrameMatrix;

/// Lowest contrast band edge in Hz (librosa's `fmin`).
const CONTRAST_FMIN: f64 = 200.0;
/// Number of contrast octave bands above `CONTRAST_FMIN` (librosa's `n_bands`).
const CONTRAST_BANDS: usize = 6;
/// Fraction of each band's bins averaged for its peak and its valley (librosa's `quantile`).
const CONTRAST_QUANTILE: f64 = 0.02;
/// Floor of the contrast peaks and valleys under their clip maximum, dB (`power_to_db`'s
/// default `top_db`).
const CONTRAST_TOP_DB: f64 = 80.0;
/// Largest number of bins averaged at either end of a contrast band; bounds the stack buffers
/// that replace librosa's sort.
const MAX_QUANTILE_BINS: usize = 256;
/// Fraction of the spectral energy under the rolloff frequency (librosa's `roll_percent`).
const ROLL_PERCENT: f64 = 0.85;
/// Smallest value before a logarithm (librosa's `amin` of `spectral_flatness` and
/// `power_to_db`).
const AMIN: f64 = 1e-10;
/// Amplitudes within this of zero count as positive for zero crossings (librosa's
/// `zero_crossings` threshold, applied to float32 samples).
const ZC_THRESHOLD: f32 = 1e-10;

/// Values per frame before the contrast bands.
const N_SCALAR: usize = 4;
/// Power values multiplied before one logarithm in the flatness (see `frame_levels`).
const FLATNESS_BLOCK: usize = 16;
/// Contrast values per frame at most: the bands plus the one below `CONTRAST_FMIN`.
const N_CONTRAST: usize = CONTRAST_BANDS + 1;

/// Octave contrast bands at `sample_rate`: librosa's 6, or fewer when the rate is too low for
/// them (librosa's `n_bands` argument), so that the lowest edge of the top band stays under
/// Nyquist: 5 at 8-12.8 kHz, 4 at 4-6.4 kHz... At least 1 from 800 Hz up.
pub fn contrast_bands(sample_rate: u32) -> usize {
    let nyquist = f64::from(sample_rate) / 2.0;
    (1..=CONTRAST_BANDS)
        .rev()
        .find(|&n| CONTRAST_FMIN * 2f64.powi(n as i32 - 1) < nyquist)
        .unwrap_or(0)
}

/// Values per frame that [`SpectralDescriptors::len`] gives at `sample_rate`.
pub fn descriptor_count(sample_rate: u32) -> usize {
    N_SCALAR + contrast_bands(sample_rate) + 1
}

/// One contrast band: its peak and valley are means over the `q` largest and smallest
/// magnitudes of bins `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContrastBand {
    start: usize,
    end: usize,
    q: usize,
}

/// The spectral descriptors of one STFT configuration, computed frame by frame from power
/// spectra, in this fixed order: centroid (Hz), bandwidth (Hz), rolloff (Hz), flatness, then the
/// 7 contrast values (dB) of the bands `0-200, 200-400, ..., 6400 Hz-Nyquist`: 11 values.
///
/// Built once per `(sample_rate, n_fft)` with librosa's defaults (`p=2`, `norm=True`,
/// `roll_percent=0.85`, flatness `power=2`, `amin=1e-10`, contrast `fmin=200`, `n_bands=6`,
/// `quantile=0.02`, `linear=False`). Immutable and `Sync`; computing a frame does not
/// allocate.
///
/// A silent (all-zero) frame gives what librosa gives: centroid, bandwidth and rolloff 0 Hz,
/// flatness 1, contrast 0 dB from [`frame`](Self::frame) (in a clip, the difference of the two
/// clip floors, as librosa).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralDescriptors {
    n_fft: usize,
    /// Bin centre frequencies, `numpy.fft.rfftfreq(n_fft, 1 / sample_rate)`.
    freqs: Vec<f64>,
    bands: Vec<ContrastBand>,
}

impl SpectralDescriptors {
    /// Precomputes bin frequencies and contrast bands for power spectra of `n_fft / 2 + 1` bins.
    ///
    /// # Panics
    ///
    /// When [`try_new`](Self::try_new) fails: librosa refuses the same configurations.
    pub fn new(sample_rate: u32, n_fft: usize) -> Self {
        Self::try_new(sample_rate, n_fft).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`new`](Self::new), with a message instead of a panic when the configuration has no
    /// contrast bands: a rate under which not even one octave band fits (see
    /// [`contrast_bands`]; librosa's "Frequency band exceeds Nyquist" for its 6), or a band
    /// without bins (`n_fft` too small).
    pub fn try_new(sample_rate: u32, n_fft: usize) -> Result<Self, String> {
        if n_fft < 2 {
            return Err("n_fft must be at least 2".to_string());
        }
        let sr = f64::from(sample_rate);
        let n_bins = n_fft / 2 + 1;
        // numpy's rfftfreq: k * (1 / (n * d)) with d = 1 / sr, bit for bit.
        let step = 1.0 / (n_fft as f64 * (1.0 / sr));
        let freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * step).collect();

        // Octave edges 0, fmin, 2 fmin, ..., fmin 2^n_bands.
        let n_bands = contrast_bands(sample_rate);
        if n_bands == 0 {
            return Err(format!(
                "no spectral contrast band fits under Nyquist at {sample_rate} Hz"
            ));
        }
        let mut octaves = [0.0f64; CONTRAST_BANDS + 2];
        for (i, edge) in octaves.iter_mut().enumerate().skip(1) {
            *edge = CONTRAST_FMIN * 2f64.powi(i as i32 - 1);
        }
        let mut bands = Vec::with_capacity(n_bands + 1);
        for k in 0..=n_bands {
            let (low, high) = (octaves[k], octaves[k + 1]);
            let inside = || (0..n_bins).filter(|&i| freqs[i] >= low && freqs[i] <= high);
            let (Some(first), Some(last)) = (inside().next(), inside().next_back()) else {
                return Err(format!(
                    "no FFT bin in spectral contrast band {low}-{high} Hz (n_fft {n_fft} too small)"
                ));
            };
            // librosa adds the bin under each band but the first, extends the last band to
            // Nyquist, and drops the top bin of every band but the last from the sub-band.
            let start = if k > 0 { first - 1 } else { first };
            let top = if k == n_bands { n_bins - 1 } else { last };
            let end = if k == n_bands { top + 1 } else { top };
            // The quantile counts the band's bins before the top one is dropped; `round_ties_even`
            // is numpy's `rint`.
            let q =
                ((CONTRAST_QUANTILE * (top - start + 1) as f64).round_ties_even() as usize).max(1);
            if end <= start || q > end - start {
                return Err(format!(
                    "spectral contrast band {low}-{high} Hz has too few bins (n_fft {n_fft} too small)"
                ));
            }
            if q > MAX_QUANTILE_BINS {
                return Err(format!(
                    "spectral contrast band {low}-{high} Hz averages {q} bins, more than {MAX_QUANTILE_BINS} (n_fft {n_fft} too large)"
                ));
            }
            bands.push(ContrastBand { start, end, q });
        }
        Ok(Self {
            n_fft,
            freqs,
            bands,
        })
    }

    /// Number of power-spectrum bins expected per frame, `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.freqs.len()
    }

    /// Values per frame: 4 scalar descriptors and the contrast bands (7 from 12.8 kHz up, 11
    /// values; see [`contrast_bands`]).
    #[allow(clippy::len_without_is_empty)] // a fixed, non-zero count, not a collection
    pub fn len(&self) -> usize {
        N_SCALAR + self.bands.len()
    }

    /// The names of the values of a frame, in order (librosa's function names, contrast bands
    /// suffixed `_0` to `_6` from low to high).
    pub fn names(&self) -> Vec<String> {
        [
            "spectral_centroid",
            "spectral_bandwidth",
            "spectral_rolloff",
            "spectral_flatness",
        ]
        .into_iter()
        .map(String::from)
        .chain((0..self.bands.len()).map(|k| format!("spectral_contrast_{k}")))
        .collect()
    }

    /// Writes the [`len`](Self::len) descriptors of one frame's power spectrum `power`
    /// ([`n_bins`](Self::n_bins) values) into `out`. The contrast is in dB without librosa's
    /// clip-wide 80 dB floor (see the module documentation); use
    /// [`spectral_matrix`](Self::spectral_matrix) for librosa's values over a clip.
    ///
    /// # Panics
    ///
    /// When `power` or `out` has the wrong length.
    pub fn frame(&self, power: &[f32], out: &mut [f32]) {
        let levels = self.frame_levels(power, out);
        for (o, (peak, valley)) in out[N_SCALAR..].iter_mut().zip(levels) {
            *o = (peak - valley) as f32;
        }
    }

    /// The descriptors of every frame of a frame-major power spectrogram
    /// ([`n_bins`](Self::n_bins) values per frame, e.g. `FrontEnd::power_spectrogram`), as a
    /// frame-major matrix of [`len`](Self::len) values per frame. Equal to librosa's functions
    /// on the same STFT, the contrast included (its floors are taken over these frames).
    ///
    /// # Panics
    ///
    /// When `power_frames` does not hold [`n_bins`](Self::n_bins) values per frame.
    pub fn spectral_matrix(&self, power_frames: &FrameMatrix) -> FrameMatrix {
        assert_eq!(
            power_frames.n_coeffs,
            self.n_bins(),
            "power spectrogram bins vs n_fft / 2 + 1"
        );
        let n = self.len();
        let n_frames = power_frames.n_frames();
        let mut data = vec![0.0f32; n_frames * n];
        let mut levels = Vec::with_capacity(n_frames);
        for (power, out) in power_frames
            .data
            .chunks_exact(power_frames.n_coeffs)
            .zip(data.chunks_exact_mut(n))
        {
            levels.push(self.frame_levels(power, out));
        }
        // power_to_db(peak) and power_to_db(valley), each floored at its clip maximum - 80 dB.
        let all = || levels.iter().flatten();
        let peak_floor = all().map(|l| l.0).fold(f64::NEG_INFINITY, f64::max) - CONTRAST_TOP_DB;
        let valley_floor = all().map(|l| l.1).fold(f64::NEG_INFINITY, f64::max) - CONTRAST_TOP_DB;
        for (out, frame_levels) in data.chunks_exact_mut(n).zip(&levels) {
            for (o, &(peak, valley)) in out[N_SCALAR..].iter_mut().zip(frame_levels) {
                *o = (peak.max(peak_floor) - valley.max(valley_floor)) as f32;
            }
        }
        FrameMatrix { n_coeffs: n, data }
    }

    /// Writes the scalar descriptors of `power` into `out[..N_SCALAR]` and returns each contrast
    /// band's peak and valley in dB (`10 log10(max(amin, mean))`, no floor).
    fn frame_levels(&self, power: &[f32], out: &mut [f32]) -> [(f64, f64); N_CONTRAST] {
        assert_eq!(power.len(), self.n_bins(), "power bins vs n_fft / 2 + 1");
        assert_eq!(
            out.len(),
            self.len(),
            "output length vs SpectralDescriptors::len"
        );
        // S = |X| once per bin (f32 square roots vectorise); every descriptor but the flatness
        // reads it.
        let magnitude: Vec<f32> = power.iter().map(|p| p.sqrt()).collect();

        // Centroid and bandwidth over S in one pass: sum s (f - c)^2 expands to
        // sum s f^2 - 2 c sum s f + c^2 sum s, exact enough in f64 for bandwidths many orders
        // under the centroid. librosa's normalize leaves a column whose L1 norm is under
        // float32's `tiny` unnormalised (so silence gives 0 Hz).
        let (mut total, mut weighted, mut weighted_sq) = (0.0f64, 0.0f64, 0.0f64);
        for (&s, &f) in magnitude.iter().zip(&self.freqs) {
            let s = f64::from(s);
            total += s;
            weighted += f * s;
            weighted_sq += f * f * s;
        }
        let norm = if total < f64::from(f32::MIN_POSITIVE) {
            1.0
        } else {
            total
        };
        let centroid = weighted / norm;
        let spread = ((weighted_sq - 2.0 * centroid * weighted + centroid * centroid * total)
            / norm)
            .max(0.0);
        // The rolloff is the first bin whose cumulative energy reaches 85 % of the total; the
        // running sum repeats the sum above in the same order, so the last bin always qualifies.
        let threshold = ROLL_PERCENT * total;
        let mut cumulative = 0.0f64;
        let rolloff = magnitude
            .iter()
            .zip(&self.freqs)
            .find(|(&s, _)| {
                cumulative += f64::from(s);
                cumulative >= threshold
            })
            .map(|(_, &f)| f);

        // Flatness over S^2 = power, floored at amin: geometric over arithmetic mean. The sum of
        // logs is taken as the log of products of FLATNESS_BLOCK values (one logarithm per
        // block instead of per bin): AMIN^FLATNESS_BLOCK stays a normal f64, and so does the
        // largest power (under 1e12 for any float32 frame of full-scale samples) to that power.
        let (mut log_sum, mut sum) = (0.0f64, 0.0f64);
        for block in power.chunks(FLATNESS_BLOCK) {
            let mut product = 1.0f64;
            for &p in block {
                let p = f64::from(p).max(AMIN);
                product *= p;
                sum += p;
            }
            log_sum += product.ln();
        }
        let n = power.len() as f64;
        let flatness = (log_sum / n).exp() / (sum / n);

        out[0] = centroid as f32;
        out[1] = spread.sqrt() as f32;
        out[2] = rolloff.unwrap_or(0.0) as f32;
        out[3] = flatness as f32;

        let db = |v: f64| 10.0 * v.max(AMIN).log10();
        let mut levels = [(0.0, 0.0); N_CONTRAST];
        for (level, band) in levels.iter_mut().zip(&self.bands) {
            let (valley, peak) =
                extreme_means(magnitude[band.start..band.end].iter().copied(), band.q);
            *level = (db(peak), db(valley));
        }
        levels
    }
}

/// Means of the `q` smallest and the `q` largest of `values` (librosa sorts and slices), with
/// two sorted stack buffers instead of a sort: `q` is a few bins.
fn extreme_means(values: impl Iterator<Item = f32>, q: usize) -> (f64, f64) {
    debug_assert!((1..=MAX_QUANTILE_BINS).contains(&q));
    // low: ascending, the q smallest so far; high: descending, the q largest so far.
    let mut low = [0.0f32; MAX_QUANTILE_BINS];
    let mut high = [0.0f32; MAX_QUANTILE_BINS];
    let mut filled = 0;
    for v in values {
        if filled < q {
            insert_sorted(&mut low[..=filled], v, |a, b| a < b);
            insert_sorted(&mut high[..=filled], v, |a, b| a > b);
            filled += 1;
            continue;
        }
        if v < low[q - 1] {
            insert_sorted(&mut low[..q], v, |a, b| a < b);
        }
        if v > high[q - 1] {
            insert_sorted(&mut high[..q], v, |a, b| a > b);
        }
    }
    let mean = |xs: &[f32]| xs.iter().map(|&x| f64::from(x)).sum::<f64>() / xs.len() as f64;
    (mean(&low[..filled]), mean(&high[..filled]))
}

/// Inserts `v` into `buf` kept ordered by `before`, overwriting its last slot (the one falling
/// off, or the free one being filled).
fn insert_sorted(buf: &mut [f32], v: f32, before: impl Fn(f32, f32) -> bool) {
    let mut i = buf.len() - 1;
    while i > 0 && before(v, buf[i - 1]) {
        buf[i] = buf[i - 1];
        i -= 1;
    }
    buf[i] = v;
}

/// librosa's `rms(S=|X|, frame_length=n_fft)` of one frame from its power spectrum `|X|^2`:
/// `sqrt(2 * sum(|X|^2) / n_fft^2)` with the DC bin (and, for an even `n_fft`, the Nyquist
/// bin) counted half, Parseval's energy of the windowed frame.
///
/// # Panics
///
/// When `power` does not hold `n_fft / 2 + 1` bins.
pub fn rms_frame(power: &[f32], n_fft: usize) -> f32 {
    assert_eq!(power.len(), n_fft / 2 + 1, "power bins vs n_fft / 2 + 1");
    let last = power.len() - 1;
    let energy: f64 = power
        .iter()
        .enumerate()
        .map(|(k, &p)| {
            let halved = k == 0 || (k == last && n_fft.is_multiple_of(2));
            f64::from(p) * if halved { 0.5 } else { 1.0 }
        })
        .sum();
    (2.0 * energy / (n_fft as f64 * n_fft as f64)).sqrt() as f32
}

/// librosa's `zero_crossing_rate(y, frame_length, hop_length, center=True)`: the signal is padded
/// by `frame_length / 2` copies of its first and last samples (`mode='edge'`, unlike the STFT's
/// zeros), cut into frames of `frame_length` every `hop`, and each frame gives the fraction of
/// its `frame_length` samples that differ in sign from the previous sample *of the same frame*
/// (the first sample of a frame never counts). Samples within 1e-10 of zero count as positive.
///
/// There are `1 + (len + 2 (frame_length / 2) - frame_length) / hop` frames (`1 + len / hop` for
/// an even `frame_length`); an empty signal gives none (librosa raises).
///
/// # Panics
///
/// When `frame_length` or `hop` is zero.
pub fn zero_crossing_rate(signal: &[f32], frame_length: usize, hop: usize) -> Vec<f32> {
    assert!(
        frame_length > 0 && hop > 0,
        "frame_length and hop must be positive"
    );
    let pad = frame_length / 2;
    let padded_len = signal.len() + 2 * pad;
    if signal.is_empty() || padded_len < frame_length {
        return Vec::new();
    }
    let negative = |i: usize| {
        let x = signal[i.saturating_sub(pad).min(signal.len() - 1)];
        !(-ZC_THRESHOLD..=ZC_THRESHOLD).contains(&x) && x.is_sign_negative()
    };
    let n_frames = 1 + (padded_len - frame_length) / hop;
    (0..n_frames)
        .map(|t| {
            let start = t * hop;
            let mut previous = negative(start);
            let mut crossings = 0u32;
            for i in start + 1..start + frame_length {
                let current = negative(i);
                crossings += u32::from(current != previous);
                previous = current;
            }
            (f64::from(crossings) / frame_length as f64) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{FeatureConfig, FrontEnd};
    use super::*;

    fn power_frames(signal: &[f32], sample_rate: u32, n_fft: usize) -> FrameMatrix {
        let config = FeatureConfig {
            sample_rate,
            n_fft,
            hop_length: n_fft / 4,
            ..FeatureConfig::librosa_reference()
        };
        FrontEnd::new(config).unwrap().power_spectrogram(signal)
    }

    fn tone(freq: f64, sample_rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(sample_rate)).sin() as f32
            })
            .collect()
    }

    /// Deterministic uniform noise in [-1, 1) (64-bit LCG, top bits).
    fn noise(len: usize) -> Vec<f32> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f64 / (1u64 << 23) as f64 - 1.0) as f32
            })
            .collect()
    }

    /// Descriptors of a frame in the middle of `signal`, away from the zero padding.
    fn middle_frame(
        d: &SpectralDescriptors,
        signal: &[f32],
        sample_rate: u32,
        n_fft: usize,
    ) -> Vec<f32> {
        let frames = power_frames(signal, sample_rate, n_fft);
        let mut out = vec![0.0; d.len()];
        d.frame(frames.frame(frames.n_frames() / 2), &mut out);
        out
    }

    #[test]
    fn layout_and_names() {
        fn shared_across_threads<T: Send + Sync>() {}
        shared_across_threads::<SpectralDescriptors>();
        let d = SpectralDescriptors::new(16_000, 512);
        assert_eq!(d.len(), 11);
        assert_eq!(d.n_bins(), 257);
        let names = d.names();
        assert_eq!(names.len(), d.len());
        assert_eq!(names[2], "spectral_rolloff");
        assert_eq!(names[10], "spectral_contrast_6");
        // Bins of 31.25 Hz: [0, 200] holds bins 0-6, [200, 400] bins 7-12 plus bin 6 below,
        // ..., the last band runs from bin 204 (6375 Hz) to Nyquist; top bins dropped but there.
        let bands: Vec<_> = d.bands.iter().map(|b| (b.start, b.end, b.q)).collect();
        assert_eq!(
            bands,
            [
                (0, 6, 1),
                (6, 12, 1),
                (12, 25, 1),
                (25, 51, 1),
                (51, 102, 1),
                (102, 204, 2),
                (204, 257, 1)
            ]
        );
    }

    #[test]
    fn configurations_librosa_refuses() {
        // At 8 kHz the 6400 Hz edge is above Nyquist: 5 bands instead of 6.
        assert_eq!(SpectralDescriptors::try_new(8_000, 256).unwrap().len(), 10);
        assert_eq!(descriptor_count(8_000), 10);
        assert!(SpectralDescriptors::try_new(300, 16).is_err());
        assert!(SpectralDescriptors::try_new(16_000, 32).is_err()); // 500 Hz bins
        assert!(SpectralDescriptors::try_new(44_100, 2048).is_ok());
    }

    #[test]
    fn tone_centroid_is_its_frequency() {
        let d = SpectralDescriptors::new(16_000, 512);
        // 1000 Hz is bin 32: the Hann window spreads it over bins 31-33 symmetrically.
        let out = middle_frame(&d, &tone(1000.0, 16_000, 8000), 16_000, 512);
        assert!((out[0] - 1000.0).abs() < 0.5, "centroid {}", out[0]);
        // Magnitudes 1/4, 1/2, 1/4 of the sum: 85 % is reached at bin 33, and the spread of
        // three bins 31.25 Hz apart is 31.25 / sqrt(2).
        assert!(
            (out[1] - 31.25 / 2f32.sqrt()).abs() < 0.5,
            "bandwidth {}",
            out[1]
        );
        assert_eq!(out[2], 1031.25);
        // Off a bin centre the centroid still sits on the tone (within a bin).
        let out = middle_frame(&d, &tone(2345.0, 16_000, 8000), 16_000, 512);
        assert!((out[0] - 2345.0).abs() < 31.25, "centroid {}", out[0]);
        // Another rate and size: bin 200 of 2048 at 44.1 kHz.
        let d = SpectralDescriptors::new(44_100, 2048);
        let f = 200.0 * 44_100.0 / 2048.0;
        let out = middle_frame(&d, &tone(f, 44_100, 44_100), 44_100, 2048);
        assert!((f64::from(out[0]) - f).abs() < 0.5, "centroid {}", out[0]);
    }

    #[test]
    fn noise_is_flat_and_a_tone_is_not() {
        let d = SpectralDescriptors::new(16_000, 512);
        let noisy = middle_frame(&d, &noise(8000), 16_000, 512);
        let tonal = middle_frame(&d, &tone(1000.0, 16_000, 8000), 16_000, 512);
        // The power of white noise is about exponentially distributed over bins: flatness near
        // exp(-Euler's gamma) = 0.56, and its contrast is small.
        assert!(
            noisy[3] > 0.4 && noisy[3] <= 1.0,
            "noise flatness {}",
            noisy[3]
        );
        assert!(tonal[3] < 1e-3, "tone flatness {}", tonal[3]);
        // The tone's band (800-1600 Hz) has a peak far above its valley.
        assert!(
            tonal[N_SCALAR + 3] > 60.0,
            "tone contrast {}",
            tonal[N_SCALAR + 3]
        );
        assert!(
            noisy[N_SCALAR + 3] < 40.0,
            "noise contrast {}",
            noisy[N_SCALAR + 3]
        );
        // White noise has its centroid near the middle of the band.
        assert!(
            (noisy[0] - 4000.0).abs() < 400.0,
            "noise centroid {}",
            noisy[0]
        );
    }

    #[test]
    fn silent_frame_is_finite() {
        let d = SpectralDescriptors::new(16_000, 512);
        let mut out = vec![f32::NAN; d.len()];
        d.frame(&[0.0; 257], &mut out);
        assert_eq!(&out[..4], &[0.0, 0.0, 0.0, 1.0]);
        assert!(out[4..].iter().all(|&c| c == 0.0), "{out:?}");
        assert_eq!(rms_frame(&[0.0; 257], 512), 0.0);
    }

    #[test]
    fn matrix_agrees_with_frames() {
        let d = SpectralDescriptors::new(16_000, 512);
        let mut signal = vec![0.0; 2000];
        signal.extend(noise(4000));
        let frames = power_frames(&signal, 16_000, 512);
        let matrix = d.spectral_matrix(&frames);
        assert_eq!(
            (matrix.n_coeffs, matrix.n_frames()),
            (11, frames.n_frames())
        );
        let mut out = vec![0.0; d.len()];
        let mut floored = 0;
        for t in 0..frames.n_frames() {
            d.frame(frames.frame(t), &mut out);
            assert_eq!(&out[..4], &matrix.frame(t)[..4]);
            // Without the clip floors a silent frame's contrast is 0 dB; with them it is the
            // difference between the floors.
            floored += usize::from(out[4..] != matrix.frame(t)[4..]);
        }
        assert!(floored > 0, "the silent frames meet the contrast floor");
    }

    #[test]
    fn rms_is_the_windowed_frame_rms() {
        // Parseval: sqrt(mean(x^2)) of a frame equals rms_frame of its DFT power, for even and
        // odd sizes.
        for n in [16usize, 15] {
            let x = noise(n);
            let power: Vec<f32> = (0..n / 2 + 1)
                .map(|k| {
                    let (mut re, mut im) = (0.0f64, 0.0f64);
                    for (i, &v) in x.iter().enumerate() {
                        let a = -2.0 * std::f64::consts::PI * (k * i) as f64 / n as f64;
                        re += f64::from(v) * a.cos();
                        im += f64::from(v) * a.sin();
                    }
                    (re * re + im * im) as f32
                })
                .collect();
            let want = (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n as f64).sqrt();
            let got = f64::from(rms_frame(&power, n));
            if n % 2 == 0 {
                assert!((got - want).abs() < 1e-6, "n={n}: {got} vs {want}");
            } else {
                // With an odd size the highest bin is not Nyquist and counts double.
                assert!(got > 0.0 && got.is_finite());
            }
        }
    }

    #[test]
    fn zero_crossings_by_hand() {
        // Edge padding [1 1 | 1 -1 0 -1 | -1 -1]: frames [1 1 1 -1], [1 -1 0 -1], [0 -1 -1 -1];
        // zero counts as positive and a frame's first sample never crosses.
        assert_eq!(
            zero_crossing_rate(&[1.0, -1.0, 0.0, -1.0], 4, 2),
            [0.25, 0.75, 0.25]
        );
        // -0.0 and tiny values are zero, hence positive.
        assert_eq!(
            zero_crossing_rate(&[1.0, -0.0, 1e-11, -1e-11], 4, 4),
            [0.0, 0.0]
        );
        // Odd frame length: pad 1, 1 + (len - 1) / hop frames.
        assert_eq!(
            zero_crossing_rate(&[1.0, -1.0, 1.0], 3, 1),
            [1.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0]
        );
        assert!(zero_crossing_rate(&[], 4, 2).is_empty());
    }

    #[test]
    fn square_wave_crosses_twice_a_period() {
        // Period 16 samples, 8 up then 8 down: a sign change every 8 samples, so 63 or 64 of a
        // 512-sample frame's 511 sample pairs cross; the edge-padded border frames fewer.
        let square: Vec<f32> = (0..16_000)
            .map(|i| if (i / 8) % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let zcr = zero_crossing_rate(&square, 512, 160);
        assert_eq!(zcr.len(), 1 + 16_000 / 160);
        for &z in &zcr[2..zcr.len() - 2] {
            assert!(z == 63.0 / 512.0 || z == 64.0 / 512.0, "{z}");
        }
        assert!(zcr[0] < 63.0 / 512.0);
    }
}
