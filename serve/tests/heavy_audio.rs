//! Well-formed but expensive audio: headers claiming absurd rates, many channels at high rates,
//! long clips from several clients at once. Each attack runs against a real server and must leave
//! it within 300 MB of peak memory (`VmHWM`), answer the right status, and keep `/health` and
//! short predictions answered while it lasts. Speed targets are in
//! `scripts/bench-heavy-uploads.sh`, not here.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{clip, csv_rows, fsdd_dir, TestServer};
use tympan_testkit::hostile::{long_speech_wav, ogg_vorbis_claiming_rate, silence};
use tympan_testkit::wav::{tone_i16, wav, WavSpec};

/// Peak resident memory the server may reach under any of these attacks.
const PEAK_RSS_MB: f64 = 300.0;

/// An answer: status, `Retry-After` header, JSON body.
type Answer = (u16, Option<String>, serde_json::Value);

fn send(agent: &ureq::Agent, url: &str, content_type: &str, body: &[u8]) -> Answer {
    let resp = match agent
        .post(url)
        .set("Content-Type", content_type)
        .send_bytes(body)
    {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let retry_after = resp.header("Retry-After").map(str::to_string);
    (
        resp.status(),
        retry_after,
        resp.into_json().unwrap_or_default(),
    )
}

/// Posts `body` `rounds` times from each of `clients` threads at once, to `paths` in turn (one
/// per client). Meanwhile `/health` and a short prediction must keep being answered (within
/// 5 s: a request worker held by an attack would miss that). Returns every attack answer.
fn attack(
    server: &TestServer,
    paths: &[&str],
    content_type: &str,
    body: &[u8],
    clients: usize,
    rounds: usize,
) -> Vec<Answer> {
    let patient = ureq::AgentBuilder::new().build();
    let prompt = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    let small = clip("4_jackson_12.wav");
    std::thread::scope(|s| {
        let attackers: Vec<_> = (0..clients)
            .map(|i| {
                let (agent, url) = (&patient, server.url(paths[i % paths.len()]));
                s.spawn(move || {
                    (0..rounds)
                        .map(|_| send(agent, &url, content_type, body))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut checks = 0;
        while checks < 3 || attackers.iter().any(|a| !a.is_finished()) {
            let health = prompt.get(&server.url("/health")).call();
            assert_eq!(health.map(|r| r.status()).ok(), Some(200), "/health");
            let (status, _, json) = send(&prompt, &server.url("/predict"), "audio/wav", &small);
            assert_eq!(status, 200, "a short prediction during the attack: {json}");
            checks += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
        attackers
            .into_iter()
            .flat_map(|a| a.join().unwrap())
            .collect()
    })
}

/// CPU seconds used so far by the server's threads, by thread name.
fn cpu_by_thread(server: &TestServer) -> HashMap<String, f64> {
    let ticks = 100.0; // USER_HZ: 100 on every Linux this runs on
    let mut by_name = HashMap::new();
    let tasks = std::fs::read_dir(format!("/proc/{}/task", server.pid())).unwrap();
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue; // the thread ended
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        // After the name: state, then fields 4.. of proc(5); utime and stime are 14 and 15.
        let fields: Vec<f64> = stat[close + 2..]
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        *by_name.entry(name).or_insert(0.0) += (fields[11] + fields[12]) / ticks;
    }
    by_name
}

/// CPU seconds the embedding threads and all other threads spent between two snapshots.
fn cpu_split(before: &HashMap<String, f64>, after: &HashMap<String, f64>) -> (f64, f64) {
    after.iter().fold((0.0, 0.0), |(embed, other), (name, t)| {
        let spent = t - before.get(name).copied().unwrap_or(0.0);
        if name.starts_with("tympan-embed") {
            (embed + spent, other)
        } else {
            (embed, other + spent)
        }
    })
}

fn assert_peak_rss(server: &TestServer, what: &str) {
    let peak = server.peak_rss_mb();
    println!("{what}: peak RSS {peak:.0} MB");
    assert!(
        peak <= PEAK_RSS_MB,
        "{what}: peak RSS {peak:.0} MB > {PEAK_RSS_MB} MB"
    );
}

fn assert_refused_for_rate(answers: &[Answer], what: &str) {
    for (status, _, json) in answers {
        assert_eq!(*status, 422, "{what}: {json}");
        assert_eq!(json["error"], "unsupported_audio", "{what}: {json}");
        assert!(
            json["detail"].as_str().unwrap().contains("sample rate"),
            "{what}: {json}"
        );
    }
}

#[test]
fn a_header_claiming_4_ghz_is_refused_before_decoding() {
    let server = TestServer::start(&[]);
    // 10 minutes of Ogg Vorbis silence (60 kB): 29 million samples once decoded.
    let ogg = ogg_vorbis_claiming_rate(&silence("ogg", 48_000, 1, 600), 4_000_000_000);
    let claimed_wav = wav(
        WavSpec::pcm16(1, 4_000_000_000),
        &tone_i16(8_000, 1, 8_000.0),
        None,
    );
    for body in [&ogg, &claimed_wav] {
        let once = attack(
            &server,
            &["/predict"],
            "application/octet-stream",
            body,
            1,
            1,
        );
        assert_refused_for_rate(&once, "one /predict");
    }
    let answers = attack(
        &server,
        &["/feedback?target=7"],
        "application/octet-stream",
        &ogg,
        6,
        2,
    );
    assert_refused_for_rate(&answers, "6 concurrent /feedback");
    assert_peak_rss(&server, "4 GHz Ogg");
    assert!(csv_rows(&server.path("data/prod_data.csv")).is_empty());
}

#[test]
fn flac_at_655_khz_with_8_channels_keeps_memory_bounded() {
    let server = TestServer::start(&[]);
    // 343 kB; 315 million samples once decoded.
    let flac = silence("flac", 655_350, 8, 60);
    let answers = attack(
        &server,
        &["/feedback?target=7", "/predict"],
        "application/octet-stream",
        &flac,
        30,
        1,
    );
    assert_refused_for_rate(&answers, "30 concurrent requests");
    assert_peak_rss(&server, "655 kHz FLAC");
}

/// Runs long clips from `clients` clients at once through a server with 2 embedding threads and
/// 2 queue places: each gets a 200 or a 503 with Retry-After, the work is done on the embedding
/// threads, and memory stays bounded.
fn long_clips_are_embedded_off_the_request_workers(body: &[u8], clients: usize, rounds: usize) {
    let server = TestServer::start(&[("TYMPAN_EMBED_WORKERS", "2"), ("TYMPAN_EMBED_QUEUE", "2")]);
    let before = cpu_by_thread(&server);
    let answers = attack(
        &server,
        &["/predict", "/feedback?target=7"],
        "application/octet-stream",
        body,
        clients,
        rounds,
    );
    let (embed, other) = cpu_split(&before, &cpu_by_thread(&server));
    let accepted = answers.iter().filter(|a| a.0 == 200).count();
    println!(
        "{} answers, {accepted} accepted; CPU {embed:.2} s on the embedding threads, {other:.2} s on the others",
        answers.len()
    );
    for (status, retry_after, json) in &answers {
        match status {
            200 => {}
            503 => {
                assert_eq!(json["error"], "overloaded", "{json}");
                assert_eq!(retry_after.as_deref(), Some("1"), "{json}");
            }
            _ => panic!("{status} {json}"),
        }
    }
    assert!(accepted > 0, "no long clip was embedded");
    assert!(
        embed > other,
        "the embedding threads did {embed:.2} s of the work, the others {other:.2} s"
    );
    assert_peak_rss(&server, "long clips");
    let fed_back = answers
        .iter()
        .enumerate()
        .filter(|(i, a)| (i / rounds) % 2 == 1 && a.0 == 200)
        .count();
    assert_eq!(csv_rows(&server.path("data/prod_data.csv")).len(), fed_back);
}

#[test]
fn flac_at_384_khz_with_8_channels_is_embedded_behind_a_bounded_queue() {
    // 60 s, the longest clip accepted, at the highest rate and channel count accepted.
    let flac = silence("flac", 384_000, 8, 60);
    long_clips_are_embedded_off_the_request_workers(&flac, 12, 1);
}

#[test]
fn four_clients_looping_60_s_clips_leave_short_requests_answered() {
    let speech = long_speech_wav(&fsdd_dir(), 60);
    long_clips_are_embedded_off_the_request_workers(&speech, 4, 6);
}
