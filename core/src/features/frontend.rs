//! [`FrontEnd`]: the planned, reusable MFCC pipeline for one [`FeatureConfig`].

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};

use super::cepstrum::{power_to_db, Dct, AMIN};
use super::config::FeatureConfig;
use super::mel::MelFilterbank;
use super::pool::{pool, FrameMatrix};
use super::spectral::{rms_frame, zero_crossing_rate, SpectralDescriptors};

/// What makes two front ends' STFTs of a signal equal: the rate, the window length (the window
/// is always a periodic Hann) and the hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StftSetting {
    /// Pipeline rate, Hz.
    pub sample_rate: u32,
    /// Window (FFT) length, samples.
    pub n_fft: usize,
    /// Hop, samples.
    pub hop_length: usize,
}

impl StftSetting {
    /// Bytes of the [`Spectrogram`] of a signal of `len` samples, before any descriptors.
    pub fn spectrogram_bytes(&self, len: usize) -> usize {
        let frames = 1 + len / self.hop_length;
        frames * (self.n_fft / 2 + 2) * std::mem::size_of::<f32>()
    }
}

/// A signal's STFT power frames, kept so that front ends with the same [`StftSetting`] skip the
/// FFT ([`FrontEnd::spectrogram`], [`FrontEnd::clip_vector_from`]).
#[derive(Debug, Clone)]
pub struct Spectrogram {
    setting: StftSetting,
    power: FrameMatrix,
    zcr: Vec<f32>,
    /// The spectral-descriptor frames, once a front end that pools them has computed them.
    descriptors: Option<FrameMatrix>,
}

impl Spectrogram {
    /// Bytes held (power frames, zero-crossing rates and descriptors).
    pub fn heap_bytes(&self) -> usize {
        let floats = self.power.data.len()
            + self.zcr.len()
            + self.descriptors.as_ref().map_or(0, |d| d.data.len());
        floats * std::mem::size_of::<f32>()
    }
}
use super::trim::trim_frames;

/// The MFCC front end for one configuration, with its FFT plan, window, filterbank and DCT
/// prepared once. Immutable and `Sync`: one instance serves every thread.
pub struct FrontEnd {
    config: FeatureConfig,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    filterbank: MelFilterbank,
    dct: Dct,
    /// Planned only when the spectral descriptors are pooled.
    spectral: Option<SpectralDescriptors>,
}

impl std::fmt::Debug for FrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontEnd")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FrontEnd {
    /// Plans the front end; fails with a message when the configuration is not computable.
    pub fn new(config: FeatureConfig) -> Result<Self, String> {
        config.validate()?;
        let n = config.n_fft;
        let window = hann_window(n);
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        let filterbank = MelFilterbank::new(
            config.sample_rate,
            n,
            config.n_mels,
            config.fmin,
            config.fmax,
        );
        let dct = Dct::new(config.n_mels, config.n_mfcc);
        let spectral = if config.spectral_pooling.is_empty() {
            None
        } else {
            Some(SpectralDescriptors::try_new(config.sample_rate, n)?)
        };
        Ok(Self {
            config,
            window,
            fft,
            filterbank,
            dct,
            spectral,
        })
    }

    /// The configuration this front end computes.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// The mel filterbank in use.
    pub fn filterbank(&self) -> &MelFilterbank {
        &self.filterbank
    }

    /// Number of STFT frames for a signal of `len` samples (`1 + len / hop`, centred frames).
    pub fn n_frames(&self, len: usize) -> usize {
        1 + len / self.config.hop_length
    }

    /// Calls `each(t, power)` with the power spectrum `|X_t|^2` of every centred frame, for bins
    /// `0..n_bins`. One padded copy of the signal and one set of FFT buffers serve all frames.
    fn for_each_power_frame(
        &self,
        signal: &[f32],
        n_bins: usize,
        mut each: impl FnMut(usize, &[f32]),
    ) {
        let n_fft = self.config.n_fft;
        let hop = self.config.hop_length;
        let pad = n_fft / 2;
        let mut padded = vec![0.0f32; signal.len() + 2 * pad];
        padded[pad..pad + signal.len()].copy_from_slice(signal);
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; n_bins];
        for t in 0..self.n_frames(signal.len()) {
            let chunk = &padded[t * hop..t * hop + n_fft];
            for ((f, &x), &w) in frame.iter_mut().zip(chunk).zip(&self.window) {
                *f = x * w;
            }
            // Buffers come from the plan, so their lengths always match and this cannot fail.
            self.fft
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .expect("FFT buffers sized by the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = norm_sqr(c);
            }
            each(t, &power);
        }
    }

    /// STFT power spectrogram, frame-major `T x (n_fft/2 + 1)` (librosa's `|stft|^2`, transposed).
    pub fn power_spectrogram(&self, signal: &[f32]) -> FrameMatrix {
        let n_bins = self.config.n_fft / 2 + 1;
        let mut data = Vec::with_capacity(self.n_frames(signal.len()) * n_bins);
        self.for_each_power_frame(signal, n_bins, |_, p| data.extend_from_slice(p));
        FrameMatrix {
            n_coeffs: n_bins,
            data,
        }
    }

    /// Mel power spectrogram, frame-major `T x n_mels`.
    pub fn mel_spectrogram(&self, signal: &[f32]) -> FrameMatrix {
        let n_mels = self.config.n_mels;
        let mut data = vec![0.0f32; self.n_frames(signal.len()) * n_mels];
        self.for_each_power_frame(signal, self.filterbank.bins_used(), |t, p| {
            self.filterbank
                .apply(p, &mut data[t * n_mels..(t + 1) * n_mels]);
        });
        FrameMatrix {
            n_coeffs: n_mels,
            data,
        }
    }

    /// Log-mel in dB (`power_to_db` with the configured reference and `top_db`), in place.
    pub fn log_mel(&self, mut mel: FrameMatrix) -> FrameMatrix {
        power_to_db(&mut mel.data, self.config.db_reference, self.config.top_db);
        mel
    }

    /// Cepstral coefficients of a log-mel spectrogram, frame-major `T x n_mfcc`.
    pub fn mfcc_from_log_mel(&self, log_mel: &FrameMatrix) -> FrameMatrix {
        FrameMatrix {
            n_coeffs: self.config.n_mfcc,
            data: self.dct.apply_frames(&log_mel.data),
        }
    }

    /// Mel spectrogram with silent leading/trailing frames removed (when trimming is on).
    pub fn trimmed_mel_spectrogram(&self, signal: &[f32]) -> FrameMatrix {
        let mel = self.mel_spectrogram(signal);
        let keep = self.kept_frames(&mel);
        mel.slice_frames(keep)
    }

    /// The frames trimming keeps: all of them when trimming is off.
    fn kept_frames(&self, mel: &FrameMatrix) -> std::ops::Range<usize> {
        let Some(trim_db) = self.config.trim_db else {
            return 0..mel.n_frames();
        };
        let energies: Vec<f32> = mel
            .data
            .chunks_exact(mel.n_coeffs)
            .map(|f| f.iter().sum())
            .collect();
        trim_frames(&energies, trim_db, self.config.trim_noise_margin_db)
    }

    /// MFCC frames of a signal at the pipeline rate: mel, trim, dB, DCT.
    pub fn mfcc(&self, signal: &[f32]) -> FrameMatrix {
        let log_mel = self.log_mel(self.trimmed_mel_spectrogram(signal));
        self.mfcc_from_log_mel(&log_mel)
    }

    /// The pooled clip vector of a signal at the pipeline rate
    /// ([`FeatureConfig::clip_vector_len`] values): each configured stream (MFCC, log-mel,
    /// spectral descriptors) over the same trimmed frames, pooled by its statistics. Streams the
    /// STFT frame by frame; [`FrontEnd::clip_vector_from`] reads a stored [`Spectrogram`] instead.
    pub fn clip_vector(&self, signal: &[f32]) -> Vec<f32> {
        let (mel, spectral) = self.frame_streams(signal);
        self.pool_streams(mel, spectral.as_ref())
    }

    /// The STFT setting this front end analyses with: front ends that share it share a
    /// [`Spectrogram`].
    pub fn stft_setting(&self) -> StftSetting {
        StftSetting {
            sample_rate: self.config.sample_rate,
            n_fft: self.config.n_fft,
            hop_length: self.config.hop_length,
        }
    }

    /// The stored STFT of a signal at the pipeline rate, for [`FrontEnd::clip_vector_from`] of
    /// this and every front end with the same [`FrontEnd::stft_setting`].
    pub fn spectrogram(&self, signal: &[f32]) -> Spectrogram {
        Spectrogram {
            setting: self.stft_setting(),
            power: self.power_spectrogram(signal),
            zcr: zero_crossing_rate(signal, self.config.n_fft, self.config.hop_length),
            descriptors: None,
        }
    }

    /// [`FrontEnd::clip_vector`] of the signal `spectrogram` was computed from: the same values,
    /// without the FFT (and, after the first front end that pools them, without the spectral
    /// descriptors, which the spectrogram then keeps).
    ///
    /// # Panics
    ///
    /// When the spectrogram was made with another [`StftSetting`].
    pub fn clip_vector_from(&self, spectrogram: &mut Spectrogram) -> Vec<f32> {
        assert_eq!(
            spectrogram.setting,
            self.stft_setting(),
            "a spectrogram of another STFT setting"
        );
        let n_mels = self.config.n_mels;
        let power = &spectrogram.power;
        let mut mel = vec![0.0f32; power.n_frames() * n_mels];
        for (p, out) in power
            .data
            .chunks_exact(power.n_coeffs)
            .zip(mel.chunks_exact_mut(n_mels))
        {
            self.filterbank.apply(p, out);
        }
        let spectral = self.spectral.as_ref().map(|descriptors| {
            &*spectrogram.descriptors.get_or_insert_with(|| {
                let width = self.config.spectral_stream_len();
                let mut data = vec![0.0f32; power.n_frames() * width];
                for (t, (p, row)) in power
                    .data
                    .chunks_exact(power.n_coeffs)
                    .zip(data.chunks_exact_mut(width))
                    .enumerate()
                {
                    self.descriptor_row(descriptors, p, &spectrogram.zcr, t, row);
                }
                FrameMatrix {
                    n_coeffs: width,
                    data,
                }
            })
        });
        self.pool_streams(
            FrameMatrix {
                n_coeffs: n_mels,
                data: mel,
            },
            spectral,
        )
    }

    /// Trimming, dB and pooling of the mel power frames and the spectral-descriptor frames.
    fn pool_streams(&self, mut mel: FrameMatrix, spectral: Option<&FrameMatrix>) -> Vec<f32> {
        let config = &self.config;
        if let Some(p) = config.noise_floor_percentile {
            subtract_noise_floor(&mut mel, p);
        }
        let keep = self.kept_frames(&mel);
        let log_mel = self.log_mel(mel.slice_frames(keep.clone()));
        let frame_rate = config.frame_rate();
        let mut out = Vec::with_capacity(config.clip_vector_len());
        if !config.pooling.is_empty() {
            pool(
                &self.mfcc_from_log_mel(&log_mel),
                &config.pooling,
                frame_rate,
                &mut out,
            );
        }
        if !config.log_mel_pooling.is_empty() {
            pool(&log_mel, &config.log_mel_pooling, frame_rate, &mut out);
        }
        if let Some(spectral) = spectral {
            let mut kept = spectral.slice_frames(keep);
            level_to_db(&mut kept);
            pool(&kept, &config.spectral_pooling, frame_rate, &mut out);
        }
        out
    }

    /// One frame of the spectral-descriptor stream: the descriptors of its power spectrum, its
    /// zero-crossing rate and its RMS.
    fn descriptor_row(
        &self,
        descriptors: &SpectralDescriptors,
        power: &[f32],
        zcr: &[f32],
        t: usize,
        row: &mut [f32],
    ) {
        let width = row.len();
        descriptors.frame(power, &mut row[..width - 2]);
        row[width - 2] = zcr.get(t).copied().unwrap_or(0.0);
        row[width - 1] = rms_frame(power, self.config.n_fft);
    }

    /// The mel power frames and, when pooled, the spectral-descriptor frames, from one STFT pass.
    fn frame_streams(&self, signal: &[f32]) -> (FrameMatrix, Option<FrameMatrix>) {
        let Some(spectral) = &self.spectral else {
            return (self.mel_spectrogram(signal), None);
        };
        let n_mels = self.config.n_mels;
        let n_frames = self.n_frames(signal.len());
        let width = self.config.spectral_stream_len();
        let mut mel = vec![0.0f32; n_frames * n_mels];
        let mut desc = vec![0.0f32; n_frames * width];
        let zcr = zero_crossing_rate(signal, self.config.n_fft, self.config.hop_length);
        self.for_each_power_frame(signal, self.config.n_fft / 2 + 1, |t, p| {
            self.filterbank
                .apply(p, &mut mel[t * n_mels..(t + 1) * n_mels]);
            self.descriptor_row(spectral, p, &zcr, t, &mut desc[t * width..(t + 1) * width]);
        });
        (
            FrameMatrix {
                n_coeffs: n_mels,
                data: mel,
            },
            Some(FrameMatrix {
                n_coeffs: width,
                data: desc,
            }),
        )
    }
}

/// Periodic Hann window (scipy `get_window("hann", n, fftbins=True)`), computed in f64.
pub(crate) fn hann_window(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32)
        .collect()
}

/// Subtracts from each band its `percentile` power over the frames (its steady noise floor).
fn subtract_noise_floor(mel: &mut FrameMatrix, percentile: u8) {
    let n = mel.n_coeffs;
    let t = mel.n_frames();
    if t == 0 {
        return;
    }
    let rank = (usize::from(percentile) * (t - 1)) / 100;
    let mut column = Vec::with_capacity(t);
    for band in 0..n {
        column.clear();
        column.extend(mel.data.iter().skip(band).step_by(n).copied());
        let (_, floor, _) = column.select_nth_unstable_by(rank, f32::total_cmp);
        let floor = *floor;
        for v in mel.data.iter_mut().skip(band).step_by(n) {
            *v = (*v - floor).max(0.0);
        }
    }
}

/// The RMS column (last) of spectral-descriptor frames, as dB under its loudest kept frame: the
/// envelope's shape, whatever the recording level.
fn level_to_db(frames: &mut FrameMatrix) {
    let n = frames.n_coeffs;
    let peak = frames
        .data
        .chunks_exact(n)
        .map(|f| f[n - 1])
        .fold(0.0f32, f32::max)
        .max(AMIN);
    for f in frames.data.chunks_exact_mut(n) {
        f[n - 1] = 20.0 * (f[n - 1].max(AMIN) / peak).log10();
    }
}

#[inline]
fn norm_sqr(c: &Complex32) -> f32 {
    c.re * c.re + c.im * c.im
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::PoolStat;

    /// A chirp with a noise burst: energy moving across the band, and silence to trim.
    fn signal(rate: u32) -> Vec<f32> {
        let mut state = 7u32;
        (0..rate as usize / 2)
            .map(|i| {
                let t = i as f32 / rate as f32;
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let burst = if (0.2..0.3).contains(&t) { noise } else { 0.0 };
                0.3 * (2.0 * std::f32::consts::PI * (200.0 + 3000.0 * t) * t).sin() + burst
            })
            .collect()
    }

    #[test]
    fn a_stored_spectrogram_gives_the_streamed_vector_for_every_front_end_sharing_it() {
        let base = FeatureConfig {
            log_mel_pooling: vec![PoolStat::Mean, PoolStat::Std],
            ..FeatureConfig::default()
        };
        let with_descriptors = FeatureConfig {
            n_mels: 40,
            n_mfcc: 13,
            spectral_pooling: vec![PoolStat::Mean, PoolStat::Std, PoolStat::SegmentMeans(3)],
            ..base.clone()
        };
        let narrow = FeatureConfig {
            fmax: 4_000.0,
            trim_db: None,
            spectral_pooling: vec![PoolStat::Mean],
            ..base.clone()
        };
        let x = signal(base.sample_rate);
        let first = FrontEnd::new(base).unwrap();
        let mut spectrogram = first.spectrogram(&x);
        let before = spectrogram.heap_bytes();
        for config in [first.config().clone(), with_descriptors, narrow] {
            let front_end = FrontEnd::new(config).unwrap();
            assert_eq!(front_end.stft_setting(), first.stft_setting());
            assert_eq!(
                front_end.clip_vector_from(&mut spectrogram),
                front_end.clip_vector(&x),
                "{:?}",
                front_end.config()
            );
        }
        assert!(spectrogram.heap_bytes() > before, "descriptors kept");
    }

    #[test]
    #[should_panic(expected = "another STFT setting")]
    fn a_spectrogram_of_another_setting_is_refused() {
        let config = FeatureConfig::default();
        let x = signal(config.sample_rate);
        let mut spectrogram = FrontEnd::new(config.clone()).unwrap().spectrogram(&x);
        let other = FrontEnd::new(FeatureConfig {
            hop_length: config.hop_length * 2,
            ..config
        })
        .unwrap();
        other.clip_vector_from(&mut spectrogram);
    }
}
