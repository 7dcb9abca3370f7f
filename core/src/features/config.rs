//! The serializable definition of the front end: every parameter that changes a feature value.

use serde::{Deserialize, Serialize};

use super::spectral::descriptor_count;

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

/// One statistic pooled over the frames of a clip, each giving one value per coefficient of the
/// stream it pools (or `k` per coefficient for segment means and modulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolStat {
    /// Mean of each coefficient over the frames.
    Mean,
    /// Population standard deviation of each coefficient.
    Std,
    /// Mean of the first-order deltas (librosa `delta(width=5)`).
    DeltaMean,
    /// Standard deviation of the first-order deltas.
    DeltaStd,
    /// Mean of the second-order deltas (librosa `delta(width=5, order=2)`).
    Delta2Mean,
    /// Standard deviation of the second-order deltas.
    Delta2Std,
    /// Smallest value over the frames.
    Min,
    /// Largest value over the frames.
    Max,
    /// The given percentile (0-100, linear interpolation as numpy's default).
    Percentile(u8),
    /// Skewness (biased, as `scipy.stats.skew`).
    Skewness,
    /// Excess kurtosis (biased, Fisher, as `scipy.stats.kurtosis`).
    Kurtosis,
    /// Means over `k` equal consecutive parts of the clip, which keeps the order of the sounds
    /// that global statistics lose (the vowel of "six" comes before its "s").
    SegmentMeans(usize),
    /// Means over `k` windows anchored at the first kept frame whose lengths double from 10 ms
    /// (0-10, 10-20, 20-40 ms...): the attack and decay of a one-shot sound in absolute time,
    /// which [`PoolStat::SegmentMeans`] stretches away. A window past the clip's end takes each
    /// coefficient's minimum over the clip (its floor).
    LogTimeMeans(usize),
    /// RMS of each coefficient's trajectory in `k` octave bands of modulation rate from 0.5 Hz
    /// up: how fast each band fluctuates (rain vs. fire vs. a ticking clock).
    Modulation(usize),
}

impl PoolStat {
    /// Values this statistic gives per coefficient.
    pub fn width(self) -> usize {
        match self {
            PoolStat::SegmentMeans(k) | PoolStat::Modulation(k) | PoolStat::LogTimeMeans(k) => k,
            _ => 1,
        }
    }
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
    /// With trimming: leading and trailing frames less than this many dB above the clip's noise
    /// floor (its quietest tenth of frames) are trimmed too, so hiss around a sound goes like
    /// silence does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim_noise_margin_db: Option<f32>,
    /// Statistics of the MFCC frames, first in the clip vector, in this order.
    pub pooling: Vec<PoolStat>,
    /// Statistics of the log-mel band energies (dB), next in the clip vector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_mel_pooling: Vec<PoolStat>,
    /// When set, each mel band's noise floor, this percentile of its power over the clip's
    /// frames, is subtracted from the band before trimming and the dB scale (spectral
    /// subtraction): a recording's steady background hiss, or the quantisation noise of 8-bit
    /// audio, then no longer shapes the quiet bands. Meant for clips with silence around their
    /// sound (a texture would subtract itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_floor_percentile: Option<u8>,
    /// When set, the fitted scaler divides each statistic's columns by the square root of the
    /// statistic's width (`k` for segment, log-time and modulation bands), so a statistic spread
    /// over many windows weighs in the PCA like one global statistic. Measured: it helps
    /// one-shot material (drums) and hurts words (FSDD), so the derivation sets it per family.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub balance_statistics: bool,
    /// Statistics of the spectral descriptors, last: centroid, bandwidth, roll-off, flatness, the
    /// contrast bands (7 from 12.8 kHz up, fewer below), zero-crossing rate and RMS level (dB
    /// under the clip's loudest frame); [`FeatureConfig::spectral_stream_len`] per frame.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spectral_pooling: Vec<PoolStat>,
}

impl Default for FeatureConfig {
    /// The front end used when nothing is known of the data: what the data-aware derivation
    /// ([`crate::features::DatasetProfile::derive`]) gives for 16 kHz clips, 0-8 kHz.
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 512,
            hop_length: 160,
            n_mels: 52,
            n_mfcc: 20,
            fmin: 0.0,
            fmax: 8_000.0,
            top_db: Some(50.0),
            db_reference: DbReference::ClipMax,
            trim_db: Some(25.0),
            trim_noise_margin_db: None,
            pooling: vec![
                PoolStat::Mean,
                PoolStat::Std,
                PoolStat::DeltaStd,
                PoolStat::Min,
                PoolStat::Max,
                PoolStat::SegmentMeans(6),
            ],
            log_mel_pooling: vec![],
            spectral_pooling: vec![],
            noise_floor_percentile: None,
            balance_statistics: false,
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
            trim_noise_margin_db: None,
            pooling: vec![PoolStat::Mean, PoolStat::Std],
            log_mel_pooling: Vec::new(),
            spectral_pooling: Vec::new(),
            noise_floor_percentile: None,
            balance_statistics: false,
        }
    }

    /// The pooled streams: (values per frame, statistics), in clip-vector order.
    pub fn streams(&self) -> [(usize, &[PoolStat]); 3] {
        [
            (self.n_mfcc, &self.pooling),
            (self.n_mels, &self.log_mel_pooling),
            (self.spectral_stream_len(), &self.spectral_pooling),
        ]
    }

    /// The clip vector's blocks in order, one per pooled statistic of each stream: (values,
    /// values per frame of the stream, the statistic's width).
    pub fn blocks(&self) -> Vec<(usize, usize, usize)> {
        self.streams()
            .iter()
            .flat_map(|&(n, stats)| stats.iter().map(move |s| (n * s.width(), n, s.width())))
            .collect()
    }

    /// Values per frame of the spectral-descriptor stream at this rate.
    pub fn spectral_stream_len(&self) -> usize {
        descriptor_count(self.sample_rate) + 2
    }

    /// Frames per second of the analysis.
    pub fn frame_rate(&self) -> f32 {
        self.sample_rate as f32 / self.hop_length as f32
    }

    /// Length of the clip vector this configuration produces.
    pub fn clip_vector_len(&self) -> usize {
        self.streams()
            .iter()
            .map(|(n, stats)| stats.iter().map(|s| n * s.width()).sum::<usize>())
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
                self.noise_floor_percentile.is_none_or(|p| p < 100),
                "noise_floor_percentile must be under 100",
            ),
            (
                self.trim_noise_margin_db.is_none_or(|m| m >= 0.0),
                "trim_noise_margin_db must not be negative",
            ),
            (
                self.trim_db.is_none_or(|t| t > 0.0),
                "trim_db must be positive",
            ),
            (
                self.streams().iter().any(|(_, s)| !s.is_empty()),
                "pooling needs at least one statistic",
            ),
            (
                self.streams()
                    .iter()
                    .flat_map(|(_, s)| s.iter())
                    .all(|s| s.width() > 0),
                "segment_means and modulation need at least one band",
            ),
            (
                self.streams().iter().flat_map(|(_, s)| s.iter()).all(|s| {
                    !matches!(s, PoolStat::Percentile(p) if *p > 100)
                        && !matches!(s, PoolStat::Modulation(k) if *k > 8)
                        && !matches!(s, PoolStat::LogTimeMeans(k) if *k > 16)
                }),
                "percentile must be 0-100, modulation at most 8 and log_time_means at most 16 bands",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, msg)) => Err((*msg).to_string()),
            None => Ok(()),
        }
    }
}
