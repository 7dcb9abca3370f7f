//! The checks behind the cargo-fuzz targets in `fuzz/` and the regression tests in
//! `tests/fuzz_regressions.rs`: one function per target, included by both (the fuzz targets with
//! `#[path]`), so a saved input replays through exactly the code that found it.
//!
//! Each check feeds arbitrary bytes to a public entry point and asserts that the answer is either
//! a well-formed value or a typed error of an expected kind; any panic, hang or runaway
//! allocation is a bug.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use tympan_core::audio::{decode_bytes, AudioError, AudioLimits};
use tympan_core::embedding::{EmbedError, Embedder, Featurizer};
use tympan_core::features::FeatureConfig;
use tympan_core::table::{
    read_table, read_table_from_reader, DataError, FeedbackLog, LabeledRow, Table, TableKind,
};

/// Components of the fuzzing embedding (the project's default width).
pub const FUZZ_COMPONENTS: usize = 16;

/// Decoding limits of the fuzz targets: the production defaults.
pub fn limits() -> AudioLimits {
    AudioLimits::default()
}

/// A 16-bit PCM mono WAV file holding `samples` (clamped to [-1, 1]) at `rate` Hz.
pub fn wav_16bit(rate: u32, samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
    }
    out
}

/// Deterministic synthetic clip number `i`: tones, chirps, noise bursts and a two-tone mix, of
/// 0.4 to 1.1 s at 8 kHz, as WAV bytes.
pub fn synthetic_clip(i: usize) -> Vec<u8> {
    const RATE: u32 = 8_000;
    let n = 3_200 + (i * 1_777) % 5_600;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let f0 = 150.0 + 97.0 * i as f32;
    let two_pi = 2.0 * std::f32::consts::PI;
    let samples: Vec<f32> = (0..n)
        .map(|k| {
            let t = k as f32 / RATE as f32;
            let envelope = (std::f32::consts::PI * k as f32 / n as f32).sin();
            let x = match i % 4 {
                0 => (two_pi * f0 * t).sin(),
                1 => (two_pi * (f0 + 1_500.0 * t) * t).sin(),
                2 => noise() * 0.7,
                _ => 0.5 * (two_pi * f0 * t).sin() + 0.5 * (two_pi * 2.7 * f0 * t).sin(),
            };
            0.8 * envelope * x
        })
        .collect();
    wav_16bit(RATE, &samples)
}

/// The embedding the decode target projects with: the default front end, a scaler and a
/// 16-component whitened PCA fitted once on 40 synthetic clips, so no file is needed.
pub fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let featurizer =
            Featurizer::new(FeatureConfig::default(), limits()).expect("default config plans");
        let vectors: Vec<Vec<f32>> = (0..40)
            .map(|i| {
                featurizer
                    .from_bytes(&synthetic_clip(i), Some("wav"))
                    .expect("synthetic clip embeds")
                    .vector
            })
            .collect();
        Embedder::fit(featurizer, &vectors, FUZZ_COMPONENTS, true).expect("embedding fits")
    })
}

fn check_audio_error(e: &AudioError, limits: &AudioLimits) {
    assert!(!e.to_string().is_empty());
    match e {
        AudioError::TooLong { seconds, limit } => {
            assert!(seconds > limit, "TooLong with {seconds} s <= {limit} s");
            assert_eq!(*limit, limits.max_seconds);
        }
        AudioError::Io { .. } => panic!("I/O error decoding bytes held in memory: {e}"),
        _ => {}
    }
}

/// Target `decode_embed`: decode arbitrary bytes, then featurize and project what decoded, the
/// path every `/predict`, `/feedback` and embed command takes.
pub fn decode_embed(data: &[u8]) {
    let embedder = embedder();
    let limits = *embedder.featurizer().limits();
    let audio = match decode_bytes(data, None, &limits) {
        Ok(audio) => audio,
        Err(e) => return check_audio_error(&e, &limits),
    };
    assert!(audio.sample_rate > 0, "decoded with a zero sample rate");
    assert!(audio.channels > 0, "decoded with zero channels");
    assert!(!audio.samples.is_empty(), "decoded to no samples");
    assert!(
        audio.samples.iter().all(|s| s.is_finite()),
        "decoded a non-finite sample"
    );
    assert!(
        audio.duration_seconds() <= limits.max_seconds,
        "decoded {} s, over the limit of {} s",
        audio.duration_seconds(),
        limits.max_seconds
    );
    // The same two steps as `Embedder::embed_bytes`, without decoding twice.
    let clip = match embedder.featurizer().from_decoded(&audio) {
        Ok(clip) => clip,
        Err(EmbedError::Audio(e)) => return check_audio_error(&e, &limits),
        Err(e) => panic!("featurizing decoded audio failed with a non-audio error: {e}"),
    };
    assert_eq!(clip.vector.len(), embedder.config().clip_vector_len());
    assert!(
        clip.vector.iter().all(|v| v.is_finite()),
        "non-finite clip vector {:?}",
        clip.vector
    );
    let vector = embedder
        .project(&clip.vector)
        .expect("a clip vector of the right length projects");
    assert_eq!(vector.len(), embedder.dim());
    assert!(
        vector.iter().all(|v| v.is_finite()),
        "non-finite embedding {vector:?}"
    );
}

fn check_table(t: &Table) {
    assert!(t.dim >= 1);
    for row in &t.rows {
        assert_eq!(row.vector.len(), t.dim);
        assert!(row.vector.iter().all(|v| v.is_finite()));
        assert!(!row.target.is_empty());
        assert_eq!(row.prediction.is_some(), t.kind == TableKind::Production);
    }
}

fn check_data_error(e: &DataError) {
    assert!(!e.to_string().is_empty());
    if let DataError::Label(_) = e {
        panic!("reading a table gave a label error: {e}");
    }
}

/// Target `read_table`: parse arbitrary bytes as a reference or production table.
pub fn read_table_bytes(data: &[u8]) {
    match read_table_from_reader(Path::new("fuzz.csv"), data) {
        Ok(t) => check_table(&t),
        Err(DataError::Io { source, .. }) => {
            panic!("I/O error reading bytes held in memory: {source}")
        }
        Err(e) => check_data_error(&e),
    }
}

/// Vector length the feedback-log target opens the log with: what the first line's field count
/// implies for a production table (`n + 2` fields), between 1 and 32.
fn log_dim(data: &[u8]) -> usize {
    let first = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let fields = first.iter().filter(|&&b| b == b',').count() + 1;
    fields.saturating_sub(2).clamp(1, 32)
}

/// Target `feedback_log`: arbitrary bytes as an existing `prod_data.csv`. Opening may refuse the
/// file, but must never lose a complete row of a valid log; once open, an appended row must read
/// back intact after every row that was there.
pub fn feedback_log(data: &[u8]) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("prod_data.csv");
    std::fs::write(&path, data).expect("write the log");
    let dim = log_dim(data);
    // What a repaired log must hold: the bytes up to the last newline, read as a table. It must
    // open when a row appended to it reads back as one more record.
    let complete = &data[..data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
    let before = if data.is_empty() {
        // An empty file is a new log: open writes its header.
        Some(Table {
            kind: TableKind::Production,
            dim,
            rows: Vec::new(),
        })
    } else {
        read_table_from_reader(&path, complete)
            .ok()
            .filter(|t| t.kind == TableKind::Production && t.dim == dim)
    };
    let probe = format!("{}probe,probe\n", "0,".repeat(dim));
    let appendable = before.as_ref().is_some_and(|before| {
        read_table_from_reader(&path, complete.chain(probe.as_bytes())).is_ok_and(|t| {
            t.rows.len() == before.rows.len() + 1 && t.rows[..before.rows.len()] == before.rows[..]
        })
    });
    let log = match FeedbackLog::open(&path, dim) {
        Ok(log) => log,
        Err(e) => {
            check_data_error(&e);
            assert!(
                !appendable,
                "a log whose complete lines are a valid, appendable table was refused: {e}"
            );
            let on_disk = std::fs::read(&path).expect("read the log");
            assert!(
                on_disk == data || on_disk == complete,
                "a refused log lost more than its torn last line"
            );
            return;
        }
    };
    let kept = read_table(&path).expect("an opened log reads back");
    assert_eq!(kept.kind, TableKind::Production);
    assert_eq!(kept.dim, dim);
    assert_eq!(log.rows(), kept.rows.len() as u64);
    let before = before.expect("an opened log was a valid production table");
    assert_eq!(kept.rows, before.rows, "opening changed complete rows");
    let row = LabeledRow {
        vector: (0..dim).map(|i| i as f32 * 0.25 - 1.0).collect(),
        target: "say \"seven\", twice".into(),
        prediction: Some("7".into()),
    };
    assert_eq!(
        log.append(&row).expect("append"),
        kept.rows.len() as u64 + 1
    );
    drop(log);
    let after = read_table(&path).expect("the log reads back after an append");
    assert_eq!(
        after.rows.len(),
        kept.rows.len() + 1,
        "the appended row merged with or split the rows before it"
    );
    assert_eq!(after.rows[..kept.rows.len()], kept.rows[..]);
    assert_eq!(after.rows.last(), Some(&row), "the appended row changed");
}
