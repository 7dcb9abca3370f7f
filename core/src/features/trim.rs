//! Energy-based trimming of leading and trailing silence, on the frames the front end computes
//! anyway: a microphone recording from the web page has silence around the word, and the same
//! word must give the same vector with or without it.

/// Returns the range of frames to keep: from the first to the last frame whose energy is at most
/// `trim_db` under the loudest frame. Never empty when `energies` is not.
pub fn trim_frames(energies: &[f32], trim_db: f32) -> std::ops::Range<usize> {
    let max = energies.iter().copied().fold(0.0f32, f32::max);
    if energies.is_empty() || max <= 0.0 {
        return 0..energies.len();
    }
    let threshold = max * 10f32.powf(-trim_db / 10.0);
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
        assert_eq!(trim_frames(&e, 40.0), 2..5);
        assert_eq!(trim_frames(&e, 60.0), 1..5);
    }

    #[test]
    fn never_trims_to_nothing() {
        assert_eq!(trim_frames(&[0.0, 0.0], 40.0), 0..2);
        assert_eq!(trim_frames(&[3.0], 40.0), 0..1);
    }
}
