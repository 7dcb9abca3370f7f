//! The live-traffic monitor: every `--live-every`, on a thread of its own at low priority, the
//! drift of the newest `--live-window` predictions against the reference rows, with no label
//! (`tympan_report::live`). `GET /live` answers the latest result and the `tympan_live` gauges
//! carry its figures, so neither waits for the computation.

use std::sync::{Arc, Weak};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use tympan_report::live::{live_section, LiveConfig, LiveSection, WindowView};

use crate::service::Service;

/// The latest live-traffic drift, as `GET /live` answers it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveStatus {
    /// When it was computed (RFC 3339).
    pub computed_at: String,
    /// Seconds the computation took.
    pub seconds: f64,
    /// The figures.
    pub live: LiveSection,
}

/// Starts the monitor thread; it stops when the service is dropped.
pub fn start(service: &Arc<Service>) {
    let every = service.config.live_every;
    if every.is_zero() {
        return;
    }
    let weak: Weak<Service> = Arc::downgrade(service);
    let spawned = std::thread::Builder::new()
        .name("live-monitor".into())
        .spawn(move || {
            crate::embed_pool::lower_priority();
            loop {
                std::thread::sleep(every);
                let Some(service) = weak.upgrade() else {
                    return;
                };
                if let Some(status) = compute(&service) {
                    publish(&service, status);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the live-traffic monitor could not start");
    }
}

/// The drift of the current window, or none while it is too small to say anything.
fn compute(service: &Service) -> Option<LiveStatus> {
    let started = Instant::now();
    let window = service.recent_predictions(service.config.live_window);
    if window.len() < tympan_report::embedding_drift::MIN_ROWS {
        return None;
    }
    let view = WindowView {
        vectors: window.iter().map(|r| &r.vector[..]).collect(),
        predictions: window.iter().map(|r| r.prediction()).collect(),
        confidences: window.iter().map(|r| r.confidence).collect(),
        span: window
            .first()
            .zip(window.last())
            .map(|(a, b)| (a.time, b.time)),
        model_versions: Vec::new(),
    };
    match live_section(service.reference_rows(), &view, &LiveConfig::default()) {
        Ok(live) => Some(LiveStatus {
            computed_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            seconds: started.elapsed().as_secs_f64(),
            live,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "live-traffic drift not computed");
            None
        }
    }
}

fn publish(service: &Service, status: LiveStatus) {
    let e = &status.live.embedding;
    let gauge =
        |figure: &str, value: f64| service.metrics.live.with_label_values(&[figure]).set(value);
    gauge("domain_auc", e.domain_auc);
    gauge("mmd_p_value", e.mmd_p_value);
    gauge("drifted_share", e.drifted_share);
    gauge("drift", if e.drift { 1.0 } else { 0.0 });
    gauge("prediction_p_value", status.live.predictions.p_value);
    gauge("window_rows", status.live.window_rows as f64);
    gauge("estimated_accuracy", status.live.estimated_accuracy);
    tracing::info!(
        window_rows = status.live.window_rows,
        drift = e.drift,
        domain_auc = e.domain_auc,
        mmd_p_value = e.mmd_p_value,
        drifted_share = e.drifted_share,
        estimated_accuracy = status.live.estimated_accuracy,
        seconds = status.seconds,
        "live traffic"
    );
    service.set_live(status);
}
