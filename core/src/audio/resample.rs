//! Sample-rate conversion with rubato.
//!
//! The resampler is part of the feature definition: a different one leaves a different stop-band
//! residue, which moves the features. Every path (dataset embedding, `/predict`, `/feedback`)
//! goes through [`resample`], so one recipe is used everywhere.

use std::cell::RefCell;
use std::collections::HashMap;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

use super::AudioError;

/// How clips are brought to the pipeline rate. The recipe is part of the feature definition (its
/// description is stored and fingerprinted with every fitted embedding), so an embedding keeps the
/// recipe it was fitted with and new embeddings get [`ResamplerRecipe::CURRENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResamplerRecipe {
    /// rubato's `Fft::new` with 1024-frame chunks, split into 256-frame input sub-chunks. Its
    /// anti-aliasing cutoff is set by the output side of a sub-chunk when downsampling: 48 kHz to
    /// 8 kHz gets a 43-frame output block, whose filter rolls off from 2.7 kHz (-37 dB at
    /// 3.8 kHz), while 44.1 kHz to 8 kHz keeps its band to 3.5 kHz, so the same recording gave
    /// different features by the rate it arrived at. Kept so older embeddings reproduce exactly.
    SubChunk256,
    /// One FFT block of at least 1024 frames on each side: the pass band stays flat within
    /// 0.5 dB to 90 % of the lower Nyquist for every rate pair.
    Block1024,
}

impl ResamplerRecipe {
    /// The recipe new embeddings are fitted with.
    pub const CURRENT: Self = Self::Block1024;

    /// Every recipe this build has, oldest first.
    pub const ALL: [Self; 2] = [Self::SubChunk256, Self::Block1024];

    /// The description stored with a fitted embedding.
    pub fn description(self) -> &'static str {
        match self {
            Self::SubChunk256 => {
                "rubato 5 synchronous FFT resampler (Fft::new, chunk 1024, BlackmanHarris2 anti-aliasing)"
            }
            Self::Block1024 => {
                "rubato 5 synchronous FFT resampler (one block of at least 1024 frames on each side, BlackmanHarris2 anti-aliasing)"
            }
        }
    }

    /// The recipe a stored description names, if this build has it.
    pub fn from_description(description: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.description() == description)
    }

    fn build(self, from: u32, to: u32) -> Result<Fft<f32>, AudioError> {
        let (from_n, to_n) = (from as usize, to as usize);
        let built = match self {
            Self::SubChunk256 => Fft::<f32>::new(from_n, to_n, 1024, 1, FixedSync::Input),
            Self::Block1024 => Fft::<f32>::new_custom(
                from_n,
                to_n,
                // Input frames per block such that the output side gets at least 1024 too.
                1024usize.max((1024 * from_n).div_ceil(to_n)),
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            ),
        };
        built.map_err(|e| AudioError::Unsupported(format!("sample rate {from} Hz: {e}")))
    }
}

/// Lowest source rate accepted, in Hz.
pub const MIN_SOURCE_RATE: u32 = 1_000;
/// Highest source rate accepted, in Hz. An FFT resampler's size grows with `rate / gcd(rate,
/// target)`: a header claiming a prime rate near 2^32 Hz would ask for tens of gigabytes.
pub const MAX_SOURCE_RATE: u32 = 384_000;

/// Resamplers kept per thread. Clients choose the source rate, so the cache must not grow with
/// every rate sent.
const CACHED_RESAMPLERS: usize = 8;

/// Largest `rate / gcd(rate, target)` whose resampler is cached. Common rates reduce to small
/// blocks (44.1 kHz to 16 kHz: 441); an odd rate such as 7,919 Hz makes a resampler of FFTs
/// thousands of points long, built for its one clip and dropped, so it cannot pile up per thread.
const CACHEABLE_BLOCK: u32 = 4_096;

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn run(resampler: &mut Fft<f32>, samples: &[f32]) -> Result<Vec<f32>, AudioError> {
    let input = InterleavedSlice::new(samples, 1, samples.len())
        .map_err(|e| AudioError::Corrupt(e.to_string()))?;
    let out = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| AudioError::Corrupt(format!("resampling failed: {e}")))?;
    Ok(out.take_data())
}

thread_local! {
    // Building an FFT resampler plans FFTs and sinc filters; doing it once per thread and rate
    // pair keeps it off the per-clip path.
    static RESAMPLERS: RefCell<HashMap<(ResamplerRecipe, u32, u32), Fft<f32>>> =
        RefCell::new(HashMap::new());
}

/// Resamples mono `samples` from `from` Hz to `to` Hz with the current recipe. Output length is
/// `ceil(len * to / from)`, aligned with the input (the resampler's delay is removed).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    resample_with(ResamplerRecipe::CURRENT, samples, from, to)
}

/// [`resample`] with a given recipe (the one an embedding was fitted with).
pub fn resample_with(
    recipe: ResamplerRecipe,
    samples: &[f32],
    from: u32,
    to: u32,
) -> Result<Vec<f32>, AudioError> {
    if from == to {
        return Ok(samples.to_vec());
    }
    if samples.is_empty() {
        return Err(AudioError::TooShort("no audio samples".into()));
    }
    if !(MIN_SOURCE_RATE..=MAX_SOURCE_RATE).contains(&from) {
        return Err(AudioError::Unsupported(format!(
            "sample rate {from} Hz is outside {MIN_SOURCE_RATE}..={MAX_SOURCE_RATE} Hz"
        )));
    }
    if from / gcd(from, to) > CACHEABLE_BLOCK {
        return run(&mut recipe.build(from, to)?, samples);
    }
    RESAMPLERS.with(|cell| {
        let mut map = cell.borrow_mut();
        let key = (recipe, from, to);
        if map.len() >= CACHED_RESAMPLERS && !map.contains_key(&key) {
            // Simplest bound: start over; the common rates come back on their next clip.
            map.clear();
        }
        let resampler = match map.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(recipe.build(from, to)?),
        };
        run(resampler, samples)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_rates_are_refused_and_the_cache_stays_bounded() {
        let x = vec![0.1f32; 4000];
        assert!(matches!(
            resample(&x, 4_294_967_291, 16_000),
            Err(AudioError::Unsupported(_))
        ));
        assert!(matches!(
            resample(&x, 999, 16_000),
            Err(AudioError::Unsupported(_))
        ));
        // A prime rate is resampled but not kept.
        let y = resample(&x, 7_919, 16_000).unwrap();
        assert_eq!(y.len(), (4000 * 16_000usize).div_ceil(7_919));
        RESAMPLERS.with(|c| {
            assert!(!c
                .borrow()
                .contains_key(&(ResamplerRecipe::CURRENT, 7_919, 16_000)))
        });
        for rate in (0..20).map(|i| 8_000 + 100 * i) {
            resample(&x, rate, 16_000).unwrap();
            RESAMPLERS.with(|c| assert!(c.borrow().len() <= CACHED_RESAMPLERS));
        }
    }

    fn sine(freq: f32, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn doubles_length_and_keeps_a_tone() {
        let x = sine(440.0, 8000, 8000);
        let y = resample(&x, 8000, 16000).unwrap();
        assert_eq!(y.len(), 16000);
        let expected = sine(440.0, 16000, 16000);
        // Away from the edges the resampled tone matches the analytic one closely.
        let err = y[2000..14000]
            .iter()
            .zip(&expected[2000..14000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-2, "max error {err}");
    }

    /// Level in dB of a tone at `freq` after resampling from `from` to `to`, against the same
    /// tone made at `to` (the centre 60 % of the clip, away from the edges).
    fn tone_gain_db(recipe: ResamplerRecipe, freq: f32, from: u32, to: u32) -> f64 {
        let n = from as usize / 2;
        let y = resample_with(recipe, &sine(freq, from, n), from, to).unwrap();
        let (a, b) = (y.len() / 5, y.len() * 4 / 5);
        let power =
            |x: &[f32]| x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64;
        10.0 * (power(&y[a..b]) / 0.5).log10()
    }

    #[test]
    fn the_pass_band_reaches_90_percent_of_nyquist_from_every_common_rate() {
        for from in [11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000] {
            for to in [8_000u32, 16_000] {
                if from <= to {
                    continue;
                }
                let edge = 0.9 * to as f32 / 2.0;
                let gain = tone_gain_db(ResamplerRecipe::CURRENT, edge, from, to);
                assert!(
                    gain.abs() < 0.5,
                    "{from} -> {to} Hz: {gain:.2} dB at {edge} Hz"
                );
            }
        }
        // The recipe older embeddings keep loses that band from 48 kHz (the reason for the
        // current one).
        let old = tone_gain_db(ResamplerRecipe::SubChunk256, 3_600.0, 48_000, 8_000);
        assert!(old < -3.0, "{old:.2} dB");
    }

    #[test]
    fn every_recipe_is_found_by_its_description() {
        for r in ResamplerRecipe::ALL {
            assert_eq!(ResamplerRecipe::from_description(r.description()), Some(r));
        }
        assert_eq!(ResamplerRecipe::from_description("sox"), None);
    }

    #[test]
    fn identity_rate_is_a_copy() {
        let x = sine(100.0, 16000, 100);
        assert_eq!(resample(&x, 16000, 16000).unwrap(), x);
    }
}
