//! Sample-rate conversion with rubato.
//!
//! The resampler is part of the feature definition: a different one leaves a different stop-band
//! residue, which moves the features. Every path (dataset embedding, `/predict`, `/feedback`)
//! goes through [`resample`], so one recipe is used everywhere.

use std::cell::RefCell;
use std::collections::HashMap;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::AudioError;

/// Human-readable description of the resampling recipe, stored with the fitted embedding.
pub const RESAMPLER_DESCRIPTION: &str =
    "rubato 5 synchronous FFT resampler (Fft::new, chunk 1024, BlackmanHarris2 anti-aliasing)";

const CHUNK: usize = 1024;

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

fn new_resampler(from: u32, to: u32) -> Result<Fft<f32>, AudioError> {
    Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input)
        .map_err(|e| AudioError::Unsupported(format!("sample rate {from} Hz: {e}")))
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
    static RESAMPLERS: RefCell<HashMap<(u32, u32), Fft<f32>>> = RefCell::new(HashMap::new());
}

/// Resamples mono `samples` from `from` Hz to `to` Hz. Output length is `ceil(len * to / from)`,
/// aligned with the input (the resampler's delay is removed).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
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
        return run(&mut new_resampler(from, to)?, samples);
    }
    RESAMPLERS.with(|cell| {
        let mut map = cell.borrow_mut();
        if map.len() >= CACHED_RESAMPLERS && !map.contains_key(&(from, to)) {
            // Simplest bound: start over; the common rates come back on their next clip.
            map.clear();
        }
        let resampler = match map.entry((from, to)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(new_resampler(from, to)?),
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
        RESAMPLERS.with(|c| assert!(!c.borrow().contains_key(&(7_919, 16_000))));
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

    #[test]
    fn identity_rate_is_a_copy() {
        let x = sine(100.0, 16000, 100);
        assert_eq!(resample(&x, 16000, 16000).unwrap(), x);
    }
}
