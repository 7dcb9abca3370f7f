//! Hand-built WAV files, including ones whose header lies.

/// WAV `format` field values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// Integer PCM (8-bit unsigned, 16/24/32-bit signed).
    Pcm = 1,
    /// IEEE float.
    Float = 3,
}

/// The shape of the audio a WAV header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSpec {
    /// Sample encoding.
    pub format: SampleFormat,
    /// Channel count (0 is allowed, to build broken files).
    pub channels: u16,
    /// Sample rate in Hz (0 is allowed, to build broken files).
    pub rate: u32,
    /// Bits per sample.
    pub bits: u16,
}

impl WavSpec {
    /// 16-bit integer PCM.
    pub fn pcm16(channels: u16, rate: u32) -> Self {
        Self {
            format: SampleFormat::Pcm,
            channels,
            rate,
            bits: 16,
        }
    }
}

/// A WAV file holding `data`; `claimed_data_len` overrides the length the header announces.
pub fn wav(spec: WavSpec, data: &[u8], claimed_data_len: Option<u32>) -> Vec<u8> {
    let block = spec.channels * spec.bits / 8;
    let data_len = claimed_data_len.unwrap_or(data.len() as u32);
    let mut v = Vec::with_capacity(44 + data.len());
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36u32.wrapping_add(data_len)).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&(spec.format as u16).to_le_bytes());
    v.extend_from_slice(&spec.channels.to_le_bytes());
    v.extend_from_slice(&spec.rate.to_le_bytes());
    v.extend_from_slice(&(spec.rate.wrapping_mul(u32::from(block))).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&spec.bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// `n` frames of a 440 Hz tone as 16-bit little-endian samples, the same on every channel.
pub fn tone_i16(n: usize, channels: usize, rate: f32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            let s = ((i as f32 * 440.0 * std::f32::consts::TAU / rate).sin() * 8000.0) as i16;
            std::iter::repeat_n(s.to_le_bytes(), channels).flatten()
        })
        .collect()
}

/// 32-bit float samples, little-endian.
pub fn float_samples(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_announces_the_data() {
        let data = tone_i16(10, 2, 8000.0);
        let w = wav(WavSpec::pcm16(2, 8000), &data, None);
        assert_eq!(w.len(), 44 + 40);
        assert_eq!(&w[40..44], &40u32.to_le_bytes());
        assert_eq!(&w[28..32], &(8000u32 * 4).to_le_bytes());
    }
}
