//! Energy-based trimming of leading and trailing silence, on the frames the front end computes
//! anyway: a microphone recording from the web page has silence around the word, and the same
//! word must give the same vector with or without it.

/// Returns the range of frames to keep: from the first to the last frame whose energy is at most
/// `trim_db` under the loudest frame and, with `noise_margin_db`, at least that far above the
/// clip's noise floor (its quietest tenth of frames): in a noisy copy of a clip, the hiss around
/// the sound is trimmed as the silence of the clean one is. Never empty when `energies` is not.
pub fn trim_frames(
    energies: &[f32],
    trim_db: f32,
    noise_margin_db: Option<f32>,
) -> std::ops::Range<usize> {
    let max = energies.iter().copied().fold(0.0f32, f32::max);
    if energies.is_empty() || max <= 0.0 {
        return 0..energies.len();
    }
    let mut threshold = max * 10f32.powf(-trim_db / 10.0);
    if let Some(margin) = noise_margin_db {
        let mut sorted = energies.to_vec();
        let rank = (sorted.len() - 1) / 10;
        let (_, floor, _) = sorted.select_nth_unstable_by(rank, f32::total_cmp);
        // Never above 10 dB under the peak, so a clip with no silence keeps its body.
        let noise_threshold = (*floor * 10f32.powf(margin / 10.0)).min(max * 0.1);
        threshold = threshold.max(noise_threshold);
    }
    let first = energies.iter().position(|&e| e >= threshold).unwrap_or(0);
    let last = energies
        .iter()
        .rposition(|&e| e >= threshold)
        .unwrap_or(energies.len() - 1);
    first..last + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_quiet_edges_only() {
        let e = [1e-9, 1e-6, 1.0, 1e-5, 0.5, 1e-8];
        assert_eq!(trim_frames(&e, 40.0, None), 2..5);
        assert_eq!(trim_frames(&e, 60.0, None), 1..5);
    }

    #[test]
    fn never_trims_to_nothing() {
        assert_eq!(trim_frames(&[0.0, 0.0], 40.0, Some(6.0)), 0..2);
        assert_eq!(trim_frames(&[3.0], 40.0, Some(6.0)), 0..1);
    }

    #[test]
    fn hiss_around_a_sound_is_trimmed_like_silence() {
        // A sound of 1.0 in hiss at 0.01 (20 dB under): 40 dB trimming alone keeps the hiss.
        let mut e = vec![0.01f32; 20];
        e[8..12].copy_from_slice(&[0.5, 1.0, 0.8, 0.3]);
        assert_eq!(trim_frames(&e, 40.0, None), 0..20);
        assert_eq!(trim_frames(&e, 40.0, Some(6.0)), 8..12);
        // The clean clip gives the same range.
        let mut clean = vec![1e-6f32; 20];
        clean[8..12].copy_from_slice(&[0.5, 1.0, 0.8, 0.3]);
        assert_eq!(trim_frames(&clean, 40.0, Some(6.0)), 8..12);
    }
}
