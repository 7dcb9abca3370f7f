//! The serializable definition of the front end: every parameter that changes a feature value.

use serde::{Deserialize, Serialize};

/// Reference level of the decibel scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbReference {
    /// `10 log10(power / 1.0)`, librosa's `ref=1.0`: depends on the recording level.
    Absolute,
    /// `10 log10(power / max power of the clip)`, librosa's `ref=np.max`: a clip played louder or
    /// quieter gives the same features.
    ClipMax,
}

/// One statistic pooled over the frames of a clip, each giving `n_mfcc` values (or
/// `n_mfcc * k` for segment means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolStat {
    /// Mean of each coefficient over the frames.
    Mean,
    /// Population standard deviation of each coefficient.
    Std,
    /// Mean of the first-order deltas (regression over ±2 frames).
    DeltaMean,
    /// Standard deviation of the first-order deltas.
    DeltaStd,
    /// Means over `k` equal consecutive parts of the clip, which keeps the order of the sounds
    /// that global statistics lose (the vowel of "six" comes before its "s").
    SegmentMeans(usize),
}

/// Complete front-end configuration: rates, STFT, mel filterbank, decibel scale, trimming and
/// pooling. It is stored inside the fitted embedding and fingerprinted with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Pipeline sample rate in Hz: every clip is resampled to it.
    pub sample_rate: u32,
    /// FFT size and window length (periodic Hann).
    pub n_fft: usize,
    /// Hop between frames, in samples.
    pub hop_length: usize,
    /// Number of mel bands (Slaney scale, Slaney area normalisation).
    pub n_mels: usize,
    /// Number of cepstral coefficients kept (DCT-II, orthonormal).
    pub n_mfcc: usize,
    /// Lowest frequency of the filterbank, Hz.
    pub fmin: f32,
    /// Highest frequency of the filterbank, Hz: the analysis band.
    pub fmax: f32,
    /// Floor of the log-mel spectrogram, in dB under its maximum (librosa's `top_db`).
    pub top_db: Option<f32>,
    /// Reference level of the decibel scale.
    pub db_reference: DbReference,
    /// Leading and trailing frames whose band energy is more than this many dB under the loudest
    /// frame are trimmed away; `None` keeps every frame.
    pub trim_db: Option<f32>,
    /// Statistics concatenated into the clip vector, in this order.
    pub pooling: Vec<PoolStat>,
}

impl Default for FeatureConfig {
    /// The configuration Tympan embeds with, chosen by measurement (see `docs/benchmarks.md`).
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 512,
            hop_length: 160,
            n_mels: 40,
            n_mfcc: 20,
            fmin: 0.0,
            fmax: 4_000.0,
            top_db: Some(50.0),
            db_reference: DbReference::ClipMax,
            trim_db: Some(25.0),
            pooling: vec![
                PoolStat::Mean,
                PoolStat::Std,
                PoolStat::DeltaStd,
                PoolStat::SegmentMeans(6),
            ],
        }
    }
}

impl FeatureConfig {
    /// librosa's MFCC configuration of the shared parity references: 16 kHz, `n_fft=512`,
    /// `hop=160`, 40 Slaney mels over 0-8 kHz, 20 coefficients, `ref=1.0`, `top_db=80`, no
    /// trimming, mean and standard deviation pooling.
    pub fn librosa_reference() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 512,
            hop_length: 160,
            n_mels: 40,
            n_mfcc: 20,
            fmin: 0.0,
            fmax: 8_000.0,
            top_db: Some(80.0),
            db_reference: DbReference::Absolute,
            trim_db: None,
            pooling: vec![PoolStat::Mean, PoolStat::Std],
        }
    }

    /// Length of the clip vector this configuration produces.
    pub fn clip_vector_len(&self) -> usize {
        self.pooling
            .iter()
            .map(|s| match s {
                PoolStat::SegmentMeans(k) => self.n_mfcc * k,
                _ => self.n_mfcc,
            })
            .sum()
    }

    /// Checks that the parameters describe a computable front end.
    pub fn validate(&self) -> Result<(), String> {
        let nyquist = self.sample_rate as f32 / 2.0;
        let checks = [
            (
                self.sample_rate >= 1_000,
                "sample_rate must be at least 1000 Hz",
            ),
            (
                self.n_fft >= 16 && self.n_fft.is_multiple_of(2),
                "n_fft must be even and at least 16",
            ),
            (self.hop_length >= 1, "hop_length must be positive"),
            (self.n_mels >= 1, "n_mels must be positive"),
            (
                self.n_mfcc >= 1 && self.n_mfcc <= self.n_mels,
                "n_mfcc must be between 1 and n_mels",
            ),
            (
                self.fmin >= 0.0 && self.fmin < self.fmax && self.fmax <= nyquist,
                "need 0 <= fmin < fmax <= sample_rate / 2",
            ),
            (
                self.top_db.is_none_or(|t| t > 0.0),
                "top_db must be positive",
            ),
            (
                self.trim_db.is_none_or(|t| t > 0.0),
                "trim_db must be positive",
            ),
            (
                !self.pooling.is_empty(),
                "pooling needs at least one statistic",
            ),
            (
                self.pooling
                    .iter()
                    .all(|s| !matches!(s, PoolStat::SegmentMeans(0))),
                "segment_means needs at least one segment",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err((*msg).to_string()),
            None => Ok(()),
        }
    }
}
