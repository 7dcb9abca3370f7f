//! Hostile input through `/predict` and `/feedback`: every case gets a clear 4xx (or a 200 where
//! the audio is legitimate), never a 5xx, a crash or a damaged `prod_data.csv`. The corpus is
//! generated here, not downloaded.

mod common;

use common::{clip, csv_rows, multipart, post, TestServer};

/// A WAV file: `format` 1 = PCM integer, 3 = IEEE float.
fn wav(
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data: &[u8],
    claimed_data_len: Option<u32>,
) -> Vec<u8> {
    let block = channels * bits / 8;
    let data_len = claimed_data_len.unwrap_or(data.len() as u32);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36u32.wrapping_add(data_len)).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&format.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn tone_i16(n: usize, channels: usize, rate: f32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            let s = ((i as f32 * 440.0 * std::f32::consts::TAU / rate).sin() * 8000.0) as i16;
            std::iter::repeat_n(s.to_le_bytes(), channels).flatten()
        })
        .collect()
}

fn float_samples(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// (name, body, expected status class: 2 = accepted audio, 4 = refused)
fn corpus() -> Vec<(&'static str, Vec<u8>, u16)> {
    let real = clip("3_theo_20.wav");
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend(std::iter::repeat_n(0u8, 2000));
    let mut random = Vec::with_capacity(50_000);
    let mut x = 0x2545F4914F6CDD1Du64;
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.push(x as u8);
    }
    let mut nan = vec![0.1f32; 8000];
    nan[4000] = f32::NAN;
    let mut inf = vec![0.1f32; 8000];
    inf[10] = f32::INFINITY;
    vec![
        ("real FSDD clip", real.clone(), 2),
        ("truncated WAV (half)", real[..real.len() / 2].to_vec(), 2),
        ("truncated WAV (header cut)", real[..30].to_vec(), 4),
        ("header only", wav(1, 1, 8000, 16, &[], None), 4),
        ("zero-length body", Vec::new(), 4),
        (
            "WAV header claiming 4 GB",
            wav(
                1,
                1,
                8000,
                16,
                &tone_i16(4000, 1, 8000.0),
                Some(u32::MAX - 64),
            ),
            2,
        ),
        (
            "NaN float WAV",
            wav(3, 1, 8000, 32, &float_samples(&nan), None),
            4,
        ),
        (
            "Inf float WAV",
            wav(3, 1, 8000, 32, &float_samples(&inf), None),
            4,
        ),
        ("1-sample clip", wav(1, 1, 8000, 16, &[1, 0], None), 4),
        (
            "10-minute clip",
            wav(1, 1, 8000, 16, &tone_i16(8000 * 600, 1, 8000.0), None),
            4,
        ),
        (
            "8 channels at 192 kHz",
            wav(1, 8, 192_000, 16, &tone_i16(96_000, 8, 192_000.0), None),
            2,
        ),
        (
            "8-bit unsigned",
            wav(1, 1, 8000, 8, &vec![128u8; 8000], None),
            2,
        ),
        ("PNG renamed .wav", png, 4),
        ("random bytes", random, 4),
        ("zero channels", wav(1, 0, 8000, 16, &[0; 100], None), 4),
        (
            "zero sample rate",
            wav(1, 1, 0, 16, &tone_i16(4000, 1, 8000.0), None),
            4,
        ),
    ]
}

#[test]
fn hostile_audio_gets_4xx_never_5xx() {
    let server = TestServer::start(&[]);
    let mut report = Vec::new();
    for (name, body, class) in corpus() {
        let (status, json) = post(&server.url("/predict"), "audio/wav", &body);
        report.push(format!(
            "{name}: {status} {}",
            json["error"].as_str().unwrap_or("")
        ));
        assert!(status < 500, "{name}: {status} {json}");
        assert_eq!(status / 100, class, "{name}: {status} {json}");
        if status >= 400 {
            assert!(
                json["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{name}: no detail"
            );
        }
        let (ct, b) = multipart(&body, &[("target", "7")]);
        let (status, json) = post(&server.url("/feedback"), &ct, &b);
        assert!(status < 500, "feedback {name}: {status} {json}");
    }
    println!("{}", report.join("\n"));
    // The server is still answering and the feedback log holds exactly the accepted rows, intact.
    assert_eq!(
        post(&server.url("/predict"), "audio/wav", &clip("3_theo_21.wav")).0,
        200
    );
    let accepted = corpus().iter().filter(|c| c.2 == 2).count();
    let rows = csv_rows(&server.path("data/prod_data.csv"));
    assert_eq!(rows.len(), accepted);
    assert!(rows.iter().all(|r| r.len() == 66 && &r[64] == "7"));
}

#[test]
fn hostile_labels_are_refused_or_stored_verbatim() {
    let server = TestServer::start(&[]);
    let audio = clip("1_nicolas_2.wav");
    let stored = [
        "a,b",
        "say \"hi\"",
        "<script>alert(1)</script>",
        "-1",
        "ünïcødé ✓",
    ];
    let refused = [
        "",
        "line\nbreak",
        "tab\there",
        "=SUM(A1)",
        "+1",
        "@cmd",
        &"x".repeat(10_000),
        " padded",
    ];
    for label in stored {
        let (ct, b) = multipart(&audio, &[("target", label)]);
        let (status, json) = post(&server.url("/feedback"), &ct, &b);
        assert_eq!(status, 200, "{label:?}: {json}");
    }
    for label in refused {
        let (ct, b) = multipart(&audio, &[("target", label)]);
        let (status, json) = post(&server.url("/feedback"), &ct, &b);
        assert_eq!(status, 422, "{label:?}: {json}");
    }
    // Non-UTF-8 bytes in the label field.
    let (ct, mut b) = multipart(&audio, &[("target", "XX")]);
    let pos = b.windows(2).position(|w| w == b"XX").unwrap();
    b[pos] = 0xff;
    b[pos + 1] = 0xfe;
    let (status, json) = post(&server.url("/feedback"), &ct, &b);
    assert!((400..500).contains(&status), "non-UTF-8: {status} {json}");

    let rows = csv_rows(&server.path("data/prod_data.csv"));
    let labels: Vec<&str> = rows.iter().map(|r| &r[64]).collect();
    assert_eq!(labels, stored);
}
