//! Slaney mel filterbank (librosa `filters.mel(htk=False, norm="slaney")`), stored sparsely:
//! each triangle touches a handful of FFT bins, so a dense 40 x 257 product would be ~95 % zeros.

/// Hz per mel below the log break of the Slaney scale.
const F_SP: f64 = 200.0 / 3.0;
/// Where the Slaney scale turns logarithmic.
const MIN_LOG_HZ: f64 = 1000.0;
/// The mel value at [`MIN_LOG_HZ`].
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

/// Log step of the Slaney scale above [`MIN_LOG_HZ`] (`ln` is not const).
fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz to mel on the Slaney (Auditory Toolbox) scale: linear below 1 kHz, logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// One triangular band: weights for the consecutive FFT bins starting at `first_bin`.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBand {
    /// Index of the first FFT bin with a non-zero weight.
    pub first_bin: usize,
    /// Weights of bins `first_bin..first_bin + weights.len()`.
    pub weights: Vec<f32>,
}

/// A sparse Slaney-normalised mel filterbank.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilterbank {
    bands: Vec<MelBand>,
    n_bins: usize,
}

impl MelFilterbank {
    /// Builds the filterbank exactly as librosa does (float64 construction, float32 weights).
    pub fn new(sample_rate: u32, n_fft: usize, n_mels: usize, fmin: f32, fmax: f32) -> Self {
        let n_bins = n_fft / 2 + 1;
        let mel_min = hz_to_mel(f64::from(fmin));
        let mel_max = hz_to_mel(f64::from(fmax));
        let hz_points: Vec<f64> = (0..n_mels + 2)
            .map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (n_mels + 1) as f64))
            .collect();
        let bin_hz = |k: usize| k as f64 * f64::from(sample_rate) / n_fft as f64;
        let bands = (0..n_mels)
            .map(|i| {
                let (lo, mid, hi) = (hz_points[i], hz_points[i + 1], hz_points[i + 2]);
                let enorm = 2.0 / (hi - lo);
                let dense: Vec<f32> = (0..n_bins)
                    .map(|k| {
                        let f = bin_hz(k);
                        let lower = (f - lo) / (mid - lo);
                        let upper = (hi - f) / (hi - mid);
                        (lower.min(upper).max(0.0) * enorm) as f32
                    })
                    .collect();
                let first = dense.iter().position(|&w| w != 0.0).unwrap_or(0);
                let last = dense.iter().rposition(|&w| w != 0.0).unwrap_or(0);
                MelBand {
                    first_bin: first,
                    weights: if dense[first] == 0.0 {
                        Vec::new()
                    } else {
                        dense[first..=last].to_vec()
                    },
                }
            })
            .collect();
        Self { bands, n_bins }
    }

    /// The bands, lowest first.
    pub fn bands(&self) -> &[MelBand] {
        &self.bands
    }

    /// The dense `n_mels x (n_fft/2 + 1)` matrix, row-major (for tests and inspection).
    pub fn to_dense(&self) -> Vec<Vec<f32>> {
        self.bands
            .iter()
            .map(|b| {
                let mut row = vec![0.0; self.n_bins];
                row[b.first_bin..b.first_bin + b.weights.len()].copy_from_slice(&b.weights);
                row
            })
            .collect()
    }

    /// Highest FFT bin any band reads, plus one: bins above it need not be computed.
    pub fn bins_used(&self) -> usize {
        self.bands
            .iter()
            .map(|b| b.first_bin + b.weights.len())
            .max()
            .unwrap_or(0)
    }

    /// Applies the filterbank to one power spectrum, writing one value per band.
    #[inline]
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        for (band, o) in self.bands.iter().zip(out.iter_mut()) {
            let bins = &power[band.first_bin..band.first_bin + band.weights.len()];
            *o = tympan_data::dot::dot(bins, &band.weights);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips_and_is_linear_below_1khz() {
        for hz in [0.0, 200.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn matches_mel_spec_crate_filterbank() {
        // mel_spec implements librosa's filterbank independently; agreement cross-checks ours.
        let ours = MelFilterbank::new(16_000, 512, 40, 0.0, 8_000.0).to_dense();
        let theirs = mel_spec::mel::mel(16_000.0, 512, 40, None, None, false, true);
        for (i, row) in ours.iter().enumerate() {
            for (k, w) in row.iter().enumerate() {
                let t = theirs[[i, k]] as f32;
                assert!(
                    (w - t).abs() <= 1e-6 * t.abs().max(1e-3),
                    "band {i} bin {k}: {w} vs {t}"
                );
            }
        }
    }
}
