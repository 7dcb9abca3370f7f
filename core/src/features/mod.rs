//! The hand-written MFCC / log-mel front end: periodic Hann window, centred zero-padded frames,
//! real FFT power spectrum, sparse Slaney mel filterbank, `power_to_db`, DCT-II, then pooling
//! into one clip vector.
//!
//! Written here rather than taken from `mel_spec`: that crate has no DCT/MFCC, computes natural
//! log instead of librosa's `power_to_db`, and pulls in the `image` crate; it is used in the tests
//! to cross-check the filterbank.

mod cepstrum;
mod config;
mod derive;
mod frontend;
mod mel;
mod pool;
mod spectral;
mod trim;

pub use cepstrum::{power_to_db, Dct, AMIN};
pub use config::{DbReference, FeatureConfig, PoolStat};
pub use derive::{ClipProfile, DatasetProfile, DerivedConfig, SCAN_SAMPLE};
pub use frontend::{FrontEnd, Spectrogram, StftSetting};
pub use mel::{hz_to_mel, mel_to_hz, MelBand, MelFilterbank};
pub use pool::{pool, FrameMatrix};
pub use spectral::{
    contrast_bands, descriptor_count, rms_frame, zero_crossing_rate, SpectralDescriptors,
};
pub use trim::trim_frames;
