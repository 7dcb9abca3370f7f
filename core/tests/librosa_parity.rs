//! Parity of the front end with librosa 0.11 on the shared reference vectors
//! (`reference/librosa/README.md` gives the pipeline and the tolerances used here).

mod common;

use common::{librosa_dir, read_matrix};
use tympan_core::features::{pool, FeatureConfig, FrameMatrix, FrontEnd};

const STEMS: [&str; 5] = [
    "0_george_0",
    "3_jackson_10",
    "5_lucas_20",
    "6_yweweler_3",
    "9_theo_16",
];

fn front_end() -> FrontEnd {
    FrontEnd::new(FeatureConfig::librosa_reference()).unwrap()
}

fn signal(stem: &str) -> Vec<f32> {
    read_matrix(&librosa_dir().join(format!("{stem}.signal16k.csv")))
        .into_iter()
        .map(|r| r[0] as f32)
        .collect()
}

/// librosa stores (rows = bands, columns = frames); ours is frame-major.
fn reference(stem: &str, kind: &str) -> Vec<Vec<f64>> {
    read_matrix(&librosa_dir().join(format!("{stem}.{kind}.csv")))
}

fn assert_close(ours: &FrameMatrix, theirs: &[Vec<f64>], what: &str, tol: impl Fn(f64) -> f64) {
    assert_eq!(ours.n_coeffs, theirs.len(), "{what}: row count");
    assert_eq!(ours.n_frames(), theirs[0].len(), "{what}: frame count");
    let mut worst = (0.0f64, 0, 0);
    for (band, row) in theirs.iter().enumerate() {
        for (t, &want) in row.iter().enumerate() {
            let got = f64::from(ours.frame(t)[band]);
            let excess = (got - want).abs() / tol(want);
            if excess > worst.0 {
                worst = (excess, band, t);
            }
        }
    }
    assert!(
        worst.0 <= 1.0,
        "{what}: band {} frame {} off by {:.2}x the tolerance",
        worst.1,
        worst.2,
        worst.0
    );
}

#[test]
fn filterbank_matches_librosa() {
    let theirs = read_matrix(&librosa_dir().join("mel_filterbank.csv"));
    let ours = front_end().filterbank().to_dense();
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
            assert!(
                (f64::from(x) - y).abs() <= 1e-6 * y.abs() + 1e-12,
                "band {i} bin {k}: {x} vs {y}"
            );
        }
    }
}

#[test]
fn stft_power_matches_librosa() {
    let ours = front_end().power_spectrogram(&signal("0_george_0"));
    let theirs = reference("0_george_0", "stftpower");
    // f32 FFT against librosa's f64 one: relative 1e-4 on bins that carry energy, and an
    // absolute floor far under the 16-bit quantisation noise of the recordings.
    assert_close(&ours, &theirs, "stft power", |w| 1e-4 * w.abs() + 1e-7);
}

#[test]
fn mel_power_matches_librosa() {
    let fe = front_end();
    for stem in STEMS {
        let ours = fe.mel_spectrogram(&signal(stem));
        assert_close(&ours, &reference(stem, "melpower"), stem, |w| {
            1e-5 * w.abs() + 1e-8
        });
    }
}

#[test]
fn log_mel_matches_librosa() {
    let fe = front_end();
    for stem in STEMS {
        let ours = fe.log_mel(fe.mel_spectrogram(&signal(stem)));
        assert_close(&ours, &reference(stem, "logmel"), stem, |_| 3e-4);
    }
}

#[test]
/// float32 throughout against librosa's float64 STFT: the worst measured error is 2.1e-4.
fn mfcc_matches_librosa() {
    let fe = front_end();
    for stem in STEMS {
        let ours = fe.mfcc(&signal(stem));
        assert_close(&ours, &reference(stem, "mfcc"), stem, |_| 3e-4);
    }
}

#[test]
fn pooled_mean_std_matches_librosa() {
    let fe = front_end();
    for stem in STEMS {
        let mfcc = fe.mfcc(&signal(stem));
        let mut ours = Vec::new();
        pool(
            &mfcc,
            &fe.config().pooling,
            fe.config().frame_rate(),
            &mut ours,
        );
        let theirs: Vec<f64> = reference(stem, "pooled")
            .into_iter()
            .map(|r| r[0])
            .collect();
        assert_eq!(ours.len(), theirs.len());
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                (f64::from(*a) - b).abs() <= 1e-3,
                "{stem} value {i}: {a} vs {b}"
            );
        }
    }
}
