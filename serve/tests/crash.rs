//! Crash consistency: `kill -9` the server at random moments while feedback is appended and
//! retrainings write artifacts, restart it, and check that it starts, that `prod_data.csv` has no
//! torn row and holds every acknowledged row, and that `current` names a complete model.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{clip, csv_rows, multipart, TestServer};
use tympan_core::evaluation::SplitMix64;
use tympan_core::registry::ModelRegistry;

const KILLS: usize = 50;

#[test]
fn kill_9_at_random_moments_loses_nothing_acknowledged() {
    let mut server = TestServer::start(&[("TYMPAN_RETRAIN_EVERY", "4")]);
    let audio: Vec<Vec<u8>> = (0..10)
        .map(|d| clip(&format!("{d}_george_20.wav")))
        .collect();
    let acknowledged = AtomicUsize::new(0);
    let mut rng = SplitMix64::new(99);
    for round in 0..KILLS {
        let url = server.url("/feedback");
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (url, audio, stop, acknowledged) = (&url, &audio, &stop, &acknowledged);
                s.spawn(move || {
                    let mut i = t;
                    while !stop.load(Ordering::Relaxed) {
                        let (ct, body) =
                            multipart(&audio[i % 10], &[("target", &(i % 10).to_string())]);
                        let r = ureq::post(url)
                            .set("Content-Type", &ct)
                            .timeout(Duration::from_secs(5))
                            .send_bytes(&body);
                        match r {
                            Ok(resp) if resp.status() == 200 => {
                                acknowledged.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(resp) => panic!("status {}", resp.status()),
                            // The server was killed under us.
                            Err(_) => break,
                        }
                        i += 4;
                        // Paced, so the table stays small enough for retrainings to finish
                        // (and write artifacts) within a round.
                        std::thread::sleep(Duration::from_millis(40));
                    }
                });
            }
            // Even rounds die among appends; odd rounds live long enough (a retraining takes
            // about 1.5 s in a test build) to die during a retraining or its artifact writes.
            let lifetime = if round % 2 == 0 {
                50 + rng.next_u64() % 450
            } else {
                500 + rng.next_u64() % 3500
            };
            std::thread::sleep(Duration::from_millis(lifetime));
            server.kill();
            stop.store(true, Ordering::Relaxed);
        });
        // Before any restart can tidy up: `current` names a version that loads completely, and so
        // does every version directory in place.
        let registry = ModelRegistry::new(&server.path("artifacts"));
        let current = registry.current().unwrap().expect("a current model");
        registry
            .load(&current)
            .unwrap_or_else(|e| panic!("round {round}: current {current} is incomplete: {e}"));
        for version in registry.versions().unwrap() {
            registry
                .load(&version)
                .unwrap_or_else(|e| panic!("round {round}: {version} is incomplete: {e}"));
        }
        server.launch();
        let rows = csv_rows(&server.path("data/prod_data.csv"));
        assert!(
            rows.iter().all(|r| r.len() == 66),
            "round {round}: a torn row survived a restart"
        );
        let acked = acknowledged.load(Ordering::SeqCst);
        assert!(
            rows.len() >= acked,
            "round {round}: {} rows on disk, {acked} acknowledged",
            rows.len()
        );
        // Prediction works with whatever `current` names after the crash.
        let (status, body) = common::post(&server.url("/predict"), "audio/wav", &audio[3]);
        assert_eq!(status, 200, "round {round}: {body}");
    }
    let versions = ModelRegistry::new(&server.path("artifacts"))
        .versions()
        .unwrap()
        .len();
    println!(
        "{KILLS} kills survived, {} rows acknowledged, {} on disk, {versions} model versions",
        acknowledged.load(Ordering::SeqCst),
        csv_rows(&server.path("data/prod_data.csv")).len(),
    );
    // Retrainings did run between kills, so kills also landed around their artifact writes.
    assert!(versions >= 2, "no retraining ever finished");
}
