//! Data-aware defaults: a [`FeatureConfig`] derived from a scan of the user's own dataset
//! (sample rates from every header, band and levels from a sample of decoded clips), with every
//! decision and its reason kept for the embedding file and the embed summary.
//!
//! Nothing here names a dataset: each rule reads a measured quantity (see `docs/architecture.md`
//! for the table of what is derived from what).

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use realfft::RealFftPlanner;
use serde::{Deserialize, Serialize};

use super::config::{DbReference, FeatureConfig, PoolStat};
use super::frontend::hann_window;
use super::mel::hz_to_mel;
use crate::audio::{decode_file, probe_sample_rate, AudioLimits, DecodedAudio};

/// Pipeline rates the derivation picks from (the common ones, so resampling ratios stay simple).
const STANDARD_RATES: [u32; 8] = [
    8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];
/// Highest analysis band edge: above it lossy encoders cut and little sound that tells classes
/// apart lives, while the FFT work grows with the rate.
const MAX_BAND_HZ: f32 = 16_000.0;
/// Share of clips whose rate must cover a band (a few low-rate clips do not narrow it for all).
const RATE_COVERAGE: f64 = 0.9;
/// Share of a clip's spectral energy that its band edge keeps.
const ENERGY_SHARE: f64 = 0.995;
/// Share of the covered Nyquist frequency the band may reach.
const NYQUIST_SHARE: f32 = 0.95;
/// Mel bands per unit of Slaney mel (40 bands over 0-4 kHz, 64 over 0-16 kHz).
const MELS_PER_MEL: f64 = 1.0 / 0.875;

/// What one decoded clip contributes to the scan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClipProfile {
    /// Source sample rate, Hz.
    pub sample_rate: u32,
    /// Decoded duration, seconds.
    pub duration_seconds: f64,
    /// Frequency under which 99.5 % of the clip's spectral energy lies, Hz.
    pub energy_edge_hz: f32,
    /// Level of the clip's quietest frames (5th percentile) under its loudest frame, dB: how
    /// far its own noise floor or digital silence lies.
    pub dynamic_range_db: f32,
    /// Time from the first to the last frame within 25 dB of the loudest, seconds.
    pub active_seconds: f64,
    /// Time from the first frame within 25 dB of the loudest to the loudest, seconds: near 0
    /// for a struck or plucked sound that starts at its peak and decays.
    pub attack_seconds: f64,
}

impl ClipProfile {
    /// Measures a mono clip at its source rate: ~32 ms Hann frames with a 50 % hop.
    pub fn measure(samples: &[f32], sample_rate: u32) -> Self {
        let n_fft = nearest_power_of_two(0.032 * sample_rate as f64).max(16);
        let hop = n_fft / 2;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let window = hann_window(n_fft);
        let mut input = fft.make_input_vec();
        let mut spectrum = fft.make_output_vec();
        let mut scratch = fft.make_scratch_vec();
        let mut mean_power = vec![0.0f64; n_fft / 2 + 1];
        let mut frame_energy = Vec::new();
        let mut start = 0;
        loop {
            let end = (start + n_fft).min(samples.len());
            input.iter_mut().for_each(|x| *x = 0.0);
            for ((x, &s), &w) in input.iter_mut().zip(&samples[start..end]).zip(&window) {
                *x = s * w;
            }
            fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .expect("FFT buffers sized by the plan");
            let mut energy = 0.0f64;
            for (m, z) in mean_power.iter_mut().zip(&spectrum) {
                let p = f64::from(z.re * z.re + z.im * z.im);
                *m += p;
                energy += p;
            }
            frame_energy.push(energy);
            if end >= samples.len() {
                break;
            }
            start += hop;
        }
        let total: f64 = mean_power.iter().sum();
        let bin_hz = sample_rate as f32 / n_fft as f32;
        let edge_bin = if total > 0.0 {
            let mut acc = 0.0;
            mean_power
                .iter()
                .position(|p| {
                    acc += p;
                    acc >= ENERGY_SHARE * total
                })
                .unwrap_or(mean_power.len() - 1)
        } else {
            mean_power.len() - 1
        };
        let peak = frame_energy.iter().copied().fold(0.0f64, f64::max);
        let db = |e: f64| 10.0 * (e.max(1e-20) / peak.max(1e-20)).log10();
        let mut sorted = frame_energy.clone();
        sorted.sort_by(f64::total_cmp);
        let quiet = sorted[(sorted.len() - 1) * 5 / 100];
        let loud: Vec<usize> = (0..frame_energy.len())
            .filter(|&i| db(frame_energy[i]) >= -25.0)
            .collect();
        let active_frames = match (loud.first(), loud.last()) {
            (Some(a), Some(b)) => b - a + 1,
            _ => 0,
        };
        let peak_frame = frame_energy.iter().position(|&e| e >= peak).unwrap_or(0);
        let attack_frames = peak_frame.saturating_sub(loud.first().copied().unwrap_or(0));
        Self {
            sample_rate,
            duration_seconds: samples.len() as f64 / f64::from(sample_rate),
            energy_edge_hz: (edge_bin as f32 + 1.0) * bin_hz,
            dynamic_range_db: if peak > 0.0 { -db(quiet) as f32 } else { 0.0 },
            active_seconds: active_frames as f64 * hop as f64 / f64::from(sample_rate),
            attack_seconds: attack_frames as f64 * hop as f64 / f64::from(sample_rate),
        }
    }
}

/// The scan of a dataset: the rate of every clip (headers) and the profiles of a sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetProfile {
    /// Clips per source sample rate, over every readable header.
    pub rates: BTreeMap<u32, usize>,
    /// Profiles of the decoded sample.
    pub sampled: Vec<ClipProfile>,
}

/// Up to [`SCAN_SAMPLE`] items evenly spread over `items`.
fn sample<T: Sync>(items: &[T]) -> impl ParallelIterator<Item = &T> {
    let step = items.len().div_ceil(SCAN_SAMPLE).max(1);
    items.par_iter().step_by(step)
}

/// A derived configuration and the reasons for it, one line per decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedConfig {
    /// The front end.
    pub config: FeatureConfig,
    /// PCA components for the clip vectors of this front end.
    pub n_components: usize,
    /// `"band 0-4000 Hz: 100 % of clips are 8 kHz"`, ...
    pub decisions: Vec<String>,
}

/// Clips decoded for a scan: enough for stable medians and 90th percentiles, few enough that
/// the scan costs a fraction of the embedding itself.
pub const SCAN_SAMPLE: usize = 256;

impl DatasetProfile {
    /// Scans a dataset: the header of every file for its sample rate, and up to
    /// [`SCAN_SAMPLE`] evenly spread files decoded and measured. Files that cannot be read are
    /// left out here; embedding them reports them.
    pub fn scan(paths: &[&Path], limits: &AudioLimits) -> Self {
        let mut profile = Self::default();
        let rates: Vec<u32> = paths
            .par_iter()
            .filter_map(|p| probe_sample_rate(p).ok())
            .collect();
        for rate in rates {
            *profile.rates.entry(rate).or_default() += 1;
        }
        profile.sampled = sample(paths)
            .filter_map(|p| decode_file(p, limits).ok())
            .map(|audio| ClipProfile::measure(&audio.samples, audio.sample_rate))
            .collect();
        profile
    }

    /// The same scan of clips already decoded (every one of them readable), without reading a
    /// file again: the rates are the decoded ones, the sample the same spread of clips.
    pub fn of_decoded(clips: &[&DecodedAudio]) -> Self {
        let mut profile = Self::default();
        for audio in clips {
            *profile.rates.entry(audio.sample_rate).or_default() += 1;
        }
        profile.sampled = sample(clips)
            .map(|audio| ClipProfile::measure(&audio.samples, audio.sample_rate))
            .collect();
        profile
    }

    /// Number of clips whose header was read.
    pub fn clips(&self) -> usize {
        self.rates.values().sum()
    }

    /// The highest rate that at least [`RATE_COVERAGE`] of the clips reach, and that share.
    fn covered_rate(&self) -> (u32, f64) {
        let total = self.clips().max(1) as f64;
        let mut at_or_above = total;
        for (&rate, &count) in &self.rates {
            // Rates ascend: `at_or_above` counts the clips at this rate or higher.
            if at_or_above / total >= RATE_COVERAGE {
                let next = at_or_above - count as f64;
                if next / total < RATE_COVERAGE {
                    return (rate, at_or_above / total);
                }
            }
            at_or_above -= count as f64;
        }
        (self.rates.keys().next().copied().unwrap_or(16_000), 1.0)
    }

    /// Quantile `q` (0..=1, linear interpolation) of a measure over the sampled clips (at least
    /// one).
    fn sampled_quantile(&self, q: f64, measure: impl Fn(&ClipProfile) -> f64) -> f64 {
        let mut v: Vec<f64> = self.sampled.iter().map(measure).collect();
        v.sort_by(f64::total_cmp);
        let pos = q * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    }

    /// The most common rate and its share of the clips.
    fn dominant_rate(&self) -> (u32, f64) {
        let total = self.clips().max(1) as f64;
        self.rates
            .iter()
            .max_by_key(|(_, &c)| c)
            .map_or((16_000, 0.0), |(&r, &c)| (r, c as f64 / total))
    }

    /// Derives the front end for this dataset. A profile with no readable clip gives Tympan's
    /// fallback configuration (16 kHz, 0-8 kHz), with that said in the decisions.
    pub fn derive(&self) -> DerivedConfig {
        let mut decisions = Vec::new();
        if self.sampled.is_empty() || self.rates.is_empty() {
            decisions
                .push("no clip could be scanned: the fallback 16 kHz, 0-8 kHz front end".into());
            return DerivedConfig {
                config: FeatureConfig::default(),
                n_components: 64,
                decisions,
            };
        }
        let (covered, share) = self.covered_rate();
        let energy_edge = self.sampled_quantile(0.9, |c| f64::from(c.energy_edge_hz)) as f32;
        let nyquist = covered as f32 / 2.0;
        // Resamplers' and converters' transition bands attenuate the top few % under Nyquist
        // differently: the band stops short of it, so the same sound at another rate embeds
        // the same.
        let fmax = (NYQUIST_SHARE * nyquist)
            .min(round_up_khz(energy_edge))
            .min(MAX_BAND_HZ);
        let reason = if fmax >= NYQUIST_SHARE * nyquist {
            format!(
                "{:.0} % of clips are sampled at {} kHz or more",
                share * 100.0,
                khz(covered)
            )
        } else if fmax >= MAX_BAND_HZ {
            format!("capped at {} kHz", MAX_BAND_HZ / 1000.0)
        } else {
            format!(
                "90 % of sampled clips keep {:.1} % of their energy under {:.0} Hz",
                ENERGY_SHARE * 100.0,
                energy_edge
            )
        };
        decisions.push(format!("band 0-{fmax:.0} Hz: {reason}"));

        let (dominant, dominant_share) = self.dominant_rate();
        let sample_rate = if dominant_share >= RATE_COVERAGE
            && dominant as f32 / 2.0 >= fmax
            && (dominant as f32) <= 2.5 * fmax
        {
            decisions.push(format!(
                "pipeline {} kHz: {:.0} % of clips are {} kHz, so they are not resampled",
                khz(dominant),
                dominant_share * 100.0,
                khz(dominant)
            ));
            dominant
        } else {
            let rate = STANDARD_RATES
                .iter()
                .copied()
                .find(|&r| r as f32 >= 2.0 * fmax)
                .unwrap_or(48_000);
            decisions.push(format!(
                "pipeline {} kHz: the lowest common rate that holds the band",
                khz(rate)
            ));
            rate
        };

        let mel_span = hz_to_mel(f64::from(fmax)) - hz_to_mel(0.0);
        let n_mels = ((mel_span * MELS_PER_MEL).round() as usize).clamp(24, 128);
        let n_mfcc = 20.min(n_mels / 2);
        decisions.push(format!(
            "{n_mels} mel bands, {n_mfcc} MFCC: {mel_span:.1} mel of band at {:.3} mel per band",
            1.0 / MELS_PER_MEL
        ));

        let range = self.sampled_quantile(0.5, |c| f64::from(c.dynamic_range_db)) as f32;
        // Trim 15 dB above the typical noise floor: background noise and the last frames of a
        // decay, where reverb and noise dominate, are cut, the tail above them is kept. The dB
        // floor sits at least 10 dB under the trim level, and no higher than the family allows.
        let trim_db = (range - 15.0).clamp(25.0, 45.0).round();

        let active = self.sampled_quantile(0.5, |c| c.active_seconds);
        // About one segment per 55 ms of typical activity: a syllable-sized step for words.
        let segments = ((active / 0.055).round() as usize).clamp(3, 8);
        let struck = self
            .sampled
            .iter()
            .filter(|c| c.attack_seconds <= STRUCK_ATTACK_SECONDS)
            .count() as f64
            / self.sampled.len() as f64;
        let duration = self.sampled_quantile(0.5, |c| c.duration_seconds);
        let family = if struck >= STRUCK_SHARE {
            decisions.push(format!(
                "one-shot descriptors (log-time envelope, log-mel, spectral shape): {:.0} % of sampled clips reach their peak within {:.0} ms of their onset",
                struck * 100.0,
                STRUCK_ATTACK_SECONDS * 1000.0
            ));
            DescriptorFamily::OneShot
        } else if duration >= TEXTURE_SECONDS {
            decisions.push(format!(
                "texture descriptors (modulation, log-mel, spectral shape): the median clip lasts {duration:.1} s"
            ));
            DescriptorFamily::Texture
        } else {
            decisions.push(format!(
                "event descriptors ({segments} segment means of the MFCC): {:.0} % of clips start at their peak, the median lasts {duration:.1} s and is active for {:.0} ms",
                struck * 100.0,
                active * 1000.0
            ));
            DescriptorFamily::Event
        };
        let recipe = family.recipe(segments);
        let top_db = (trim_db + 10.0).max(recipe.min_floor_db);
        decisions.push(format!(
            "trim {trim_db:.0} dB, floor {top_db:.0} dB under the peak: the median clip's quietest frames lie {range:.0} dB under its loudest"
        ));
        let n_fft = nearest_power_of_two(recipe.window_seconds * f64::from(sample_rate));
        let hop_length = (f64::from(sample_rate) * 0.010).round() as usize;
        decisions.push(format!(
            "frames {n_fft} samples ({:.0} ms), hop {hop_length} ({:.0} ms)",
            n_fft as f64 * 1000.0 / f64::from(sample_rate),
            hop_length as f64 * 1000.0 / f64::from(sample_rate)
        ));
        let n_components = recipe.n_components;
        decisions.push(format!(
            "{n_components} PCA components{}",
            if recipe.balance_statistics {
                ", each statistic weighted as one block in the scaler"
            } else {
                ""
            }
        ));

        DerivedConfig {
            config: FeatureConfig {
                sample_rate,
                n_fft,
                hop_length,
                n_mels,
                n_mfcc,
                fmin: 0.0,
                fmax,
                top_db: Some(top_db),
                db_reference: DbReference::ClipMax,
                trim_db: Some(trim_db),
                trim_noise_margin_db: None,
                pooling: recipe.pooling,
                log_mel_pooling: recipe.log_mel_pooling,
                spectral_pooling: recipe.spectral_pooling,
                noise_floor_percentile: recipe.noise_floor_percentile,
                balance_statistics: recipe.balance_statistics,
            },
            n_components,
            decisions,
        }
    }
}

/// Clips whose peak comes this soon after their onset are struck or plucked sounds.
const STRUCK_ATTACK_SECONDS: f64 = 0.05;
/// Share of struck clips that makes a dataset one of one-shots.
const STRUCK_SHARE: f64 = 0.7;
/// Median duration from which clips are textures and scenes rather than single events.
const TEXTURE_SECONDS: f64 = 2.5;

/// The kinds of material the descriptor sets were measured for.
enum DescriptorFamily {
    /// Words, calls, short events: their order in time matters (segment means).
    Event,
    /// Struck and plucked one-shots: attack and decay in absolute time matter.
    OneShot,
    /// Long clips of sound textures and scenes: how fast each band fluctuates matters.
    Texture,
}

/// What a family sets beyond the rates and the band.
struct FamilyRecipe {
    pooling: Vec<PoolStat>,
    log_mel_pooling: Vec<PoolStat>,
    spectral_pooling: Vec<PoolStat>,
    /// Analysis window, seconds.
    window_seconds: f64,
    noise_floor_percentile: Option<u8>,
    /// The dB floor lies at least this far under the clip's peak.
    min_floor_db: f32,
    balance_statistics: bool,
    n_components: usize,
}

impl DescriptorFamily {
    /// The descriptor sets, as measured (`docs/benchmarks.md`, "Choosing the descriptors").
    fn recipe(&self, segments: usize) -> FamilyRecipe {
        use PoolStat::*;
        match self {
            // Min and max added 0.2-0.3 points on words but made 2 of 120 MP3/AAC copies change
            // label: an extreme frame moves with codec noise, a mean does not.
            DescriptorFamily::Event => FamilyRecipe {
                pooling: vec![Mean, Std, DeltaStd, SegmentMeans(segments)],
                log_mel_pooling: vec![],
                spectral_pooling: vec![],
                // Measured on spoken digits against 32 ms: stratified 80/20 98.7 -> 99.2 %,
                // held-out speaker 90.4 -> 91.4 %, leave-one-speaker-out unchanged; the finer
                // bins separate the harmonics of a voice (docs/benchmarks.md).
                window_seconds: 0.064,
                // Measured: subtracting the floor of the silence around words costs accuracy on
                // clean words and does not make 8-bit copies agree (docs/benchmarks.md).
                noise_floor_percentile: None,
                // With no extreme statistic, the quiet consonants and breaths 50-65 dB under a
                // word's peak describe it: LOSO 83.8 -> 86.1 % on spoken digits, and no variant
                // copy changes label (docs/benchmarks.md).
                min_floor_db: 65.0,
                balance_statistics: false,
                n_components: 64,
            },
            // 64 ms windows resolve the low fundamentals that tell a kick from a tom; the
            // log-time windows keep attack and decay in absolute time.
            DescriptorFamily::OneShot => FamilyRecipe {
                pooling: vec![
                    Mean,
                    Std,
                    DeltaMean,
                    DeltaStd,
                    SegmentMeans(4),
                    Modulation(4),
                    LogTimeMeans(8),
                ],
                log_mel_pooling: vec![Mean, Std, DeltaStd, LogTimeMeans(8)],
                spectral_pooling: vec![Mean, Std, SegmentMeans(4), LogTimeMeans(8)],
                window_seconds: 0.064,
                noise_floor_percentile: None,
                // Measured: a floor at 70-80 dB lets decay noise in (docs/benchmarks.md).
                min_floor_db: 50.0,
                balance_statistics: true,
                n_components: 128,
            },
            DescriptorFamily::Texture => FamilyRecipe {
                pooling: vec![
                    Mean,
                    Std,
                    DeltaMean,
                    DeltaStd,
                    Min,
                    Max,
                    SegmentMeans(segments),
                ],
                log_mel_pooling: vec![Mean, Std, Modulation(5)],
                spectral_pooling: vec![Mean, Std],
                window_seconds: 0.032,
                noise_floor_percentile: None,
                min_floor_db: 50.0,
                balance_statistics: true,
                n_components: 128,
            },
        }
    }
}

fn khz(rate: u32) -> String {
    let k = f64::from(rate) / 1000.0;
    if k.fract() == 0.0 {
        format!("{k:.0}")
    } else {
        format!("{k}")
    }
}

fn round_up_khz(hz: f32) -> f32 {
    (hz / 1000.0).ceil() * 1000.0
}

fn nearest_power_of_two(x: f64) -> usize {
    let exp = x.max(1.0).log2().round() as u32;
    1usize << exp
}
