//! The hostile-input corpus: damaged, lying, huge, degenerate and non-audio uploads, and labels
//! built to break CSV files, HTML pages and spreadsheets.

use std::path::Path;
use std::process::Command;

use crate::wav::{float_samples, tone_i16, wav, SampleFormat, WavSpec};

/// What Tympan must do with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Real (if odd) audio: embedded like any other clip.
    Accepted,
    /// Refused with a clear reason: a 4xx over HTTP, a reported skip in `tympan embed`.
    Refused,
}

/// One hostile audio input.
#[derive(Debug, Clone)]
pub struct HostileAudio {
    /// What the case is.
    pub name: &'static str,
    /// The file extension it would carry on disk.
    pub extension: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The required outcome.
    pub expected: Expected,
}

/// The FSDD recording every crafted WAV case starts from.
pub const SOURCE_CLIP: &str = "3_theo_20.wav";

/// FSDD recordings joined into the ~4 s clip the truncated encodings are cut from. Half of one
/// recording is less than a whole FLAC frame, or still inside the ~4 kB of Vorbis headers, and
/// rightly decodes to nothing; half of this still holds seconds of audio.
const JOINED_CLIPS: [&str; 10] = [
    "3_theo_20.wav",
    "3_theo_21.wav",
    "3_theo_22.wav",
    "3_theo_23.wav",
    "3_theo_24.wav",
    "3_theo_25.wav",
    "3_theo_26.wav",
    "3_theo_27.wav",
    "3_theo_28.wav",
    "3_theo_29.wav",
];

/// Builds the whole audio corpus from the FSDD folder `fsdd`. Needs `sox` and `ffmpeg`.
pub fn audio_corpus(fsdd: &Path) -> Vec<HostileAudio> {
    let real = std::fs::read(fsdd.join(SOURCE_CLIP)).expect("FSDD clip");
    let mut cases = crafted_wavs(&real);
    cases.extend(truncated_encodings(fsdd));
    cases.extend(flac_bombs());
    cases
}

fn case(
    name: &'static str,
    extension: &'static str,
    bytes: Vec<u8>,
    expected: Expected,
) -> HostileAudio {
    HostileAudio {
        name,
        extension,
        bytes,
        expected,
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a failure can be replayed.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn crafted_wavs(real: &[u8]) -> Vec<HostileAudio> {
    use Expected::{Accepted, Refused};
    let mono8k = WavSpec::pcm16(1, 8000);
    let float8k = WavSpec {
        format: SampleFormat::Float,
        channels: 1,
        rate: 8000,
        bits: 32,
    };
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend(std::iter::repeat_n(0u8, 2000));
    let mut nan = vec![0.1f32; 8000];
    nan[4000] = f32::NAN;
    let mut inf = vec![0.1f32; 8000];
    inf[10] = f32::INFINITY;
    let tone = tone_i16(4000, 1, 8000.0);
    vec![
        case("real FSDD clip", "wav", real.to_vec(), Accepted),
        case(
            "truncated WAV (half)",
            "wav",
            real[..real.len() / 2].to_vec(),
            Accepted,
        ),
        case(
            "truncated WAV (header cut)",
            "wav",
            real[..30].to_vec(),
            Refused,
        ),
        case("header only", "wav", wav(mono8k, &[], None), Refused),
        case("zero-length file", "wav", Vec::new(), Refused),
        case(
            "WAV header claiming 4 GB",
            "wav",
            wav(mono8k, &tone, Some(u32::MAX - 64)),
            Accepted,
        ),
        case(
            "NaN float WAV",
            "wav",
            wav(float8k, &float_samples(&nan), None),
            Refused,
        ),
        case(
            "Inf float WAV",
            "wav",
            wav(float8k, &float_samples(&inf), None),
            Refused,
        ),
        case("1-sample clip", "wav", wav(mono8k, &[1, 0], None), Refused),
        case(
            "10-minute clip",
            "wav",
            wav(mono8k, &tone_i16(8000 * 600, 1, 8000.0), None),
            Refused,
        ),
        case(
            "8 channels at 192 kHz",
            "wav",
            wav(
                WavSpec::pcm16(8, 192_000),
                &tone_i16(96_000, 8, 192_000.0),
                None,
            ),
            Accepted,
        ),
        case(
            "8-bit unsigned",
            "wav",
            wav(
                WavSpec {
                    format: SampleFormat::Pcm,
                    channels: 1,
                    rate: 8000,
                    bits: 8,
                },
                &[128u8; 8000],
                None,
            ),
            Accepted,
        ),
        case("PNG renamed .wav", "wav", png, Refused),
        case("random bytes", "wav", random_bytes(50_000), Refused),
        case(
            "zero channels",
            "wav",
            wav(WavSpec::pcm16(0, 8000), &[0; 100], None),
            Refused,
        ),
        case(
            "prime sample rate near 2^32 Hz",
            "wav",
            wav(WavSpec::pcm16(1, 4_294_967_291), &tone, None),
            Refused,
        ),
        case(
            "zero sample rate",
            "wav",
            wav(WavSpec::pcm16(1, 0), &tone, None),
            Refused,
        ),
    ]
}

/// Runs a converter, panicking with the command line when it is missing or fails.
fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program} is needed to build the hostile corpus: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// FLAC, MP3 and Ogg encodings of a few joined recordings, cut in half and cut to their first
/// 64 bytes.
fn truncated_encodings(fsdd: &Path) -> Vec<HostileAudio> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let sources: Vec<String> = JOINED_CLIPS
        .iter()
        .map(|c| fsdd.join(c).to_str().expect("UTF-8 path").to_string())
        .collect();
    let mut out = Vec::new();
    for (ext, half, head) in [
        ("flac", "truncated FLAC (half)", "truncated FLAC (64 bytes)"),
        ("mp3", "truncated MP3 (half)", "truncated MP3 (64 bytes)"),
        ("ogg", "truncated Ogg (half)", "truncated Ogg (64 bytes)"),
    ] {
        let path = tmp.path().join(format!("clip.{ext}"));
        let dst = path.to_str().expect("UTF-8 path");
        // -R: repeatable output (no random dither), so the corpus is the same on every run.
        let mut args: Vec<&str> = vec!["-R"];
        args.extend(sources.iter().map(String::as_str));
        args.extend(["-r", "16000", dst]);
        run("sox", &args);
        let bytes = std::fs::read(&path).expect("encoded clip");
        out.push(case(
            half,
            ext,
            bytes[..bytes.len() / 2].to_vec(),
            Expected::Accepted,
        ));
        out.push(case(head, ext, bytes[..64].to_vec(), Expected::Refused));
    }
    out
}

/// An hour of 48 kHz silence is ~0.5 MB of FLAC but 690 MB of decoded samples: the decoder must
/// stop at the duration limit, whether or not the header admits the length.
fn flac_bombs() -> Vec<HostileAudio> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("bomb.flac");
    let dst = path.to_str().expect("UTF-8 path");
    run(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=48000:cl=mono",
            "-t",
            "3600",
            "-c:a",
            "flac",
            dst,
        ],
    );
    let bomb = std::fs::read(&path).expect("FLAC bomb");
    let mut hidden = bomb.clone();
    // STREAMINFO's 36-bit total-sample count (bytes 21..26 of the file): 0 means "unknown".
    hidden[21] &= 0xF0;
    hidden[22..26].fill(0);
    vec![
        case(
            "FLAC bomb: 1 h of silence in 0.5 MB",
            "flac",
            bomb,
            Expected::Refused,
        ),
        case(
            "FLAC bomb with its length hidden",
            "flac",
            hidden,
            Expected::Refused,
        ),
    ]
}

/// Labels that must be stored exactly as given (CSV quoting and HTML escaping handle them).
pub const STORED_LABELS: &[&str] = &[
    "a,b",
    "say \"hi\"",
    "<script>alert(1)</script>",
    "-1",
    "ünïcødé ✓",
];

/// Labels that must be refused: empty, control characters, spreadsheet formulas, padding, and
/// one of 10 kB.
pub fn refused_labels() -> Vec<String> {
    [
        "",
        "line\nbreak",
        "tab\there",
        "=SUM(A1)",
        "+1",
        "@cmd",
        "-2+3",
        "-1+cmd|' /C calc'!A0",
        "-1.",
        "- 1",
        " padded",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(std::iter::once("x".repeat(10_000)))
    .collect()
}

/// Bytes that are not UTF-8, for a label field or a file name.
pub const NON_UTF8: &[u8] = b"\xff\xfe";

/// A clip of digital silence made by sox (no dither, so it compresses to almost nothing):
/// `seconds` long at `rate` Hz with `channels` channels, encoded by the extension `ext`
/// (`flac`, `ogg`, `wav`...). Cheap to send, expensive to decode: 60 s of 8-channel FLAC at
/// 655,350 Hz is 343 KB and 315 million samples.
pub fn silence(ext: &str, rate: u32, channels: u16, seconds: u32) -> Vec<u8> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join(format!("silence.{ext}"));
    let (rate, channels, seconds) = (rate.to_string(), channels.to_string(), seconds.to_string());
    let mut args = vec!["-D", "-n", "-r", &rate, "-c", &channels];
    if ext != "ogg" {
        args.extend(["-b", "16"]);
    }
    args.extend([path.to_str().expect("UTF-8 path"), "trim", "0", &seconds]);
    run("sox", &args);
    std::fs::read(&path).expect("sox output")
}

/// FSDD recordings joined and repeated into one 16 kHz WAV of `seconds` (a real, long clip).
pub fn long_speech_wav(fsdd: &Path, seconds: u32) -> Vec<u8> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("speech.wav");
    let mut args: Vec<String> = vec!["-R".into()];
    args.extend(
        JOINED_CLIPS
            .iter()
            .map(|c| fsdd.join(c).to_str().expect("UTF-8 path").to_string()),
    );
    args.extend(["-r", "16000", path.to_str().expect("UTF-8 path")].map(String::from));
    // Ten recordings are ~4 s: repeat them, then cut to the exact length.
    args.extend(["repeat".into(), (seconds / 3).to_string()]);
    args.extend(["trim".into(), "0".into(), seconds.to_string()]);
    run("sox", &args.iter().map(String::as_str).collect::<Vec<_>>());
    std::fs::read(&path).expect("sox output")
}

/// An Ogg Vorbis file whose identification header is rewritten to claim `rate` Hz, its page
/// checksum recomputed (a reader verifies it): the audio is unchanged, only the header lies.
pub fn ogg_vorbis_claiming_rate(ogg: &[u8], rate: u32) -> Vec<u8> {
    let mut out = ogg.to_vec();
    let ident = out
        .windows(7)
        .position(|w| w == b"\x01vorbis")
        .expect("a Vorbis identification header");
    // Packet type and "vorbis" (7 bytes), version (4), channels (1), then the rate.
    out[ident + 12..ident + 16].copy_from_slice(&rate.to_le_bytes());
    // The header is on the first page: 27 fixed bytes, the segment table, then the packets.
    let segments = usize::from(out[26]);
    let body: usize = out[27..27 + segments].iter().map(|&s| usize::from(s)).sum();
    let page_end = 27 + segments + body;
    assert!(
        ident < page_end,
        "the identification header is on the first page"
    );
    out[22..26].fill(0);
    let crc = ogg_crc(&out[..page_end]);
    out[22..26].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Ogg's page checksum: CRC-32 with polynomial 0x04C11DB7, not reflected, initial value 0.
fn ogg_crc(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |crc, &b| {
        (0..8).fold(crc ^ (u32::from(b) << 24), |c, _| {
            if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            }
        })
    })
}
