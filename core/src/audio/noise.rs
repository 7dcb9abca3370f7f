//! Noisy copies of a clip, to train on (data augmentation): the same sound under white noise at
//! a level drawn for each copy, or requantized to fewer bits. A classifier trained on the
//! originals alone leans on detail far under a sound's peak; a recording that arrives noisier
//! than the training set (8-bit audio, whose dithered quantisation noise lies near -48 dBFS, or a
//! cheaper microphone) buries that detail and changes the answer. Trained on copies as well, the
//! classifier keeps its answer far more often, though not always (measured in
//! `docs/benchmarks.md`, "Noisy copies").
//!
//! Copies are seeded by (recipe seed, clip, copy), so a run over the same clips is repeatable
//! whatever order or thread computes them. The generator is the crate's own SplitMix64 with a
//! Box-Muller transform: the same uniform draws on every platform and every version, which
//! `rand`'s `StdRng` does not promise (Box-Muller's `ln` and `cos` come from the platform's
//! libm, whose last bit may differ between platforms).

use serde::{Deserialize, Serialize};

use super::DecodedAudio;
use crate::evaluation::SplitMix64;

/// How loud a copy's noise is: its RMS, in dB under a reference, drawn uniformly from
/// `min_db..=max_db` for each copy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reference", rename_all = "snake_case")]
pub enum NoiseLevel {
    /// Under the clip's peak sample: the same signal-to-noise range for loud and quiet clips.
    UnderPeak {
        /// Loudest noise, dB under the peak.
        min_db: f32,
        /// Quietest noise, dB under the peak.
        max_db: f32,
    },
    /// Under full scale (dBFS): the noise floor of low-resolution formats and inputs, which a
    /// quiet recording feels more than a loud one.
    UnderFullScale {
        /// Loudest noise, dB under full scale.
        min_db: f32,
        /// Quietest noise, dB under full scale.
        max_db: f32,
    },
    /// The clip requantized to `bits` bits with triangular (TPDF) dither of one step, as sox
    /// writes a file of fewer bits by default: noise of RMS half a step (8 bits: -48 dBFS),
    /// which drowns a quiet recording's detail the way a low-resolution file does. The level is
    /// the format's, not drawn.
    Requantized {
        /// Bits per sample of the copy (2-24).
        bits: u8,
    },
}

/// A recipe of noisy copies: the level range and the seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseCopies {
    /// The noise level of each copy.
    pub level: NoiseLevel,
    /// Seed of every copy's level and noise.
    pub seed: u64,
}

impl NoiseCopies {
    /// Copy number `copy` of clip number `clip` (any stable numbering of the clips): `audio`
    /// plus Gaussian white noise, clamped to [-1, 1], or requantized.
    pub fn copy(&self, audio: &DecodedAudio, clip: u64, copy: u64) -> DecodedAudio {
        let mut rng = SplitMix64::new(
            self.seed
                .wrapping_add(clip.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_add(copy.wrapping_mul(0xD1B5_4A32_D192_ED03)),
        );
        let samples = match self.level {
            NoiseLevel::UnderPeak { min_db, max_db } => {
                let reference = peak(&audio.samples);
                add_noise(&audio.samples, reference, min_db, max_db, &mut rng)
            }
            NoiseLevel::UnderFullScale { min_db, max_db } => {
                add_noise(&audio.samples, 1.0, min_db, max_db, &mut rng)
            }
            NoiseLevel::Requantized { bits } => requantize(&audio.samples, bits, &mut rng),
        };
        DecodedAudio {
            samples,
            sample_rate: audio.sample_rate,
            channels: audio.channels,
        }
    }
}

/// `samples` plus Gaussian white noise whose RMS lies `min_db..=max_db` (drawn) under
/// `reference`, clamped to [-1, 1].
fn add_noise(
    samples: &[f32],
    reference: f64,
    min_db: f32,
    max_db: f32,
    rng: &mut SplitMix64,
) -> Vec<f32> {
    let db = f64::from(min_db) + rng.next_f64() * f64::from(max_db - min_db);
    let rms = reference * 10f64.powf(-db / 20.0);
    samples
        .iter()
        .map(|&s| (f64::from(s) + rms * gaussian(rng)).clamp(-1.0, 1.0) as f32)
        .collect()
}

/// `samples` on the grid of a `bits`-bit signed format (step `2^(1 - bits)`, from -1 to one
/// step under 1), after adding TPDF dither: the difference of two uniform draws of one step.
fn requantize(samples: &[f32], bits: u8, rng: &mut SplitMix64) -> Vec<f32> {
    let step = 2f64.powi(1 - i32::from(bits.clamp(2, 24)));
    samples
        .iter()
        .map(|&s| {
            let dither = (rng.next_f64() - rng.next_f64()) * step;
            ((f64::from(s) + dither) / step).round() * step
        })
        .map(|q| q.clamp(-1.0, 1.0 - step) as f32)
        .collect()
}

fn peak(samples: &[f32]) -> f64 {
    f64::from(samples.iter().fold(0.0f32, |m, s| m.max(s.abs())))
}

/// Standard normal (Box-Muller).
fn gaussian(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - rng.next_f64(); // in (0, 1]: ln never sees 0
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn under_peak(min_db: f32, max_db: f32, seed: u64) -> NoiseCopies {
        NoiseCopies {
            level: NoiseLevel::UnderPeak { min_db, max_db },
            seed,
        }
    }

    fn under_full_scale(min_db: f32, max_db: f32, seed: u64) -> NoiseCopies {
        NoiseCopies {
            level: NoiseLevel::UnderFullScale { min_db, max_db },
            seed,
        }
    }

    fn tone(amplitude: f32, len: usize) -> DecodedAudio {
        DecodedAudio {
            samples: (0..len)
                .map(|i| amplitude * (i as f32 * 0.05).sin())
                .collect(),
            sample_rate: 16_000,
            channels: 1,
        }
    }

    fn noise_db(original: &DecodedAudio, copy: &DecodedAudio, reference: f64) -> f64 {
        let power = original
            .samples
            .iter()
            .zip(&copy.samples)
            .map(|(a, b)| f64::from(b - a).powi(2))
            .sum::<f64>()
            / original.samples.len() as f64;
        -10.0 * (power / (reference * reference)).log10()
    }

    #[test]
    fn noise_lies_in_the_range_under_its_reference() {
        let clip = tone(0.25, 32_000);
        let peak_recipe = under_peak(20.0, 30.0, 1);
        let full_scale_recipe = under_full_scale(40.0, 50.0, 1);
        for copy in 0..20 {
            let db = noise_db(&clip, &peak_recipe.copy(&clip, 3, copy), 0.25);
            assert!((19.8..=30.2).contains(&db), "under peak: {db:.2} dB");
            let db = noise_db(&clip, &full_scale_recipe.copy(&clip, 3, copy), 1.0);
            assert!((39.8..=50.2).contains(&db), "under full scale: {db:.2} dB");
        }
    }

    #[test]
    fn levels_spread_over_the_range() {
        let clip = tone(0.5, 16_000);
        let recipe = under_peak(10.0, 40.0, 9);
        let levels: Vec<f64> = (0..200)
            .map(|c| noise_db(&clip, &recipe.copy(&clip, c, 0), 0.5))
            .collect();
        let below = levels.iter().filter(|&&db| db < 25.0).count();
        assert!((70..=130).contains(&below), "{below} of 200 under 25 dB");
    }

    #[test]
    fn copies_are_repeatable_and_distinct() {
        let clip = tone(0.5, 8_000);
        let recipe = under_full_scale(40.0, 70.0, 7);
        assert_eq!(recipe.copy(&clip, 4, 1), recipe.copy(&clip, 4, 1));
        assert_ne!(recipe.copy(&clip, 4, 1), recipe.copy(&clip, 4, 2));
        assert_ne!(recipe.copy(&clip, 4, 1), recipe.copy(&clip, 5, 1));
        let reseeded = NoiseCopies { seed: 8, ..recipe };
        assert_ne!(recipe.copy(&clip, 4, 1), reseeded.copy(&clip, 4, 1));
    }

    #[test]
    fn requantized_copies_lie_on_the_grid_under_half_a_step_of_noise() {
        let clip = tone(0.3, 32_000);
        let recipe = NoiseCopies {
            level: NoiseLevel::Requantized { bits: 8 },
            seed: 5,
        };
        let copy = recipe.copy(&clip, 2, 0);
        let step = 1.0 / 128.0;
        for s in &copy.samples {
            let steps = f64::from(*s) / step;
            assert!(
                (steps - steps.round()).abs() < 1e-6,
                "{s} off the 8-bit grid"
            );
        }
        // Rounding (step²/12) plus TPDF dither (step²/6): an RMS of half a step, -48 dBFS.
        let db = noise_db(&clip, &copy, 1.0);
        assert!((47.6..=48.6).contains(&db), "{db:.2} dBFS");
        assert_eq!(copy, recipe.copy(&clip, 2, 0));
        assert_ne!(copy, recipe.copy(&clip, 2, 1));
    }

    #[test]
    fn copies_stay_in_range_and_silence_under_peak_stays_silent() {
        let loud = tone(1.0, 8_000);
        let recipe = under_full_scale(0.0, 1.0, 3);
        let copy = recipe.copy(&loud, 0, 0);
        assert!(copy.samples.iter().all(|s| (-1.0..=1.0).contains(s)));
        assert_eq!(copy.sample_rate, loud.sample_rate);
        let silence = tone(0.0, 8_000);
        let peak_recipe = under_peak(10.0, 20.0, 3);
        assert_eq!(peak_recipe.copy(&silence, 0, 0), silence);
    }
}
