//! The live-traffic monitor: every `--live-every`, on a thread of its own at low priority, the
//! drift of the newest `--live-window` predictions against the reference rows, with no label
//! (`tympan_report::live`). `GET /live` answers the latest result and the `tympan_live` gauges
//! carry its figures, so neither waits for the computation.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use tympan_report::live::{
    live_section, LiveConfig, LivePoint, LiveSection, WindowRow, WindowView,
};

use crate::service::Service;

/// The latest live-traffic drift, as `GET /live` answers it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveStatus {
    /// When it was computed (answered as `computed_at`, RFC 3339).
    #[serde(rename = "computed_at", serialize_with = "rfc3339_seconds")]
    pub computed: SystemTime,
    /// Seconds the computation took.
    pub seconds: f64,
    /// The figures.
    pub live: LiveSection,
}

fn rfc3339_seconds<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_seconds(*time))
}

/// `GET /live`: the latest result and the headline figures of the ones before.
#[derive(Debug, Clone, Serialize)]
pub struct LiveAnswer {
    /// The latest result.
    #[serde(flatten)]
    pub latest: LiveStatus,
    /// The last computations' headline figures, oldest first (the latest included).
    pub history: Vec<LivePoint>,
}

/// The last [`LiveHistory::CAPACITY`] points, in memory: the long-term series are Prometheus'
/// (the `tympan_live` gauges).
#[derive(Debug, Default)]
pub struct LiveHistory {
    points: Mutex<VecDeque<LivePoint>>,
}

impl LiveHistory {
    /// Points kept: 6 hours at the default `--live-every` of 30 s.
    pub const CAPACITY: usize = 720;

    pub(crate) fn push(&self, point: LivePoint) {
        let mut points = self.points.lock().unwrap_or_else(|p| p.into_inner());
        if points.len() == Self::CAPACITY {
            points.pop_front();
        }
        points.push_back(point);
    }

    /// The points, oldest first.
    pub fn points(&self) -> Vec<LivePoint> {
        let points = self.points.lock().unwrap_or_else(|p| p.into_inner());
        points.iter().cloned().collect()
    }
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
            let mut last = None;
            loop {
                std::thread::sleep(every);
                let Some(service) = weak.upgrade() else {
                    return;
                };
                if let Some(status) = compute(&service, &mut last) {
                    publish(&service, status);
                }
                service.refresh_report();
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the live-traffic monitor could not start");
    }
}

/// What the section depends on: while it stays the same (no prediction, no label, no new
/// model), the last result stands and no point joins the history.
#[derive(Debug, Clone, PartialEq)]
struct WindowKey {
    rows: usize,
    newest: SystemTime,
    labelled: usize,
    model_version: String,
}

/// The drift of the current window, or none while it is too small to say anything or has not
/// changed since `last`.
fn compute(service: &Service, last: &mut Option<WindowKey>) -> Option<LiveStatus> {
    let started = Instant::now();
    let window = service.recent_predictions(service.config.live_window);
    if window.len() < tympan_report::embedding_drift::MIN_ROWS {
        return None;
    }
    let served = service.current();
    let key = WindowKey {
        rows: window.len(),
        newest: window.last()?.record.time,
        labelled: window.iter().filter(|r| r.target.is_some()).count(),
        model_version: served.meta.version.clone(),
    };
    if last.as_ref() == Some(&key) {
        return None;
    }
    *last = Some(key);
    let view = WindowView::of_rows(
        window
            .iter()
            .map(|r| WindowRow {
                target: r.target.as_deref(),
                ..WindowRow::of_record(&r.record)
            })
            .collect(),
    );
    let monitoring = served.meta.monitoring.as_ref();
    let now = SystemTime::now();
    match live_section(
        service.reference_rows(),
        &view,
        &LiveConfig::default(),
        monitoring,
    ) {
        Ok(live) => Some(LiveStatus {
            computed: now,
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
    let live = &status.live;
    gauge("estimated_accuracy", live.estimate.accuracy);
    gauge("estimated_macro_f1", live.estimate.macro_f1);
    if let Some(u) = live.unusual {
        gauge("unusual_rate", u.rate);
    }
    if let Some(r) = live.realised {
        gauge("realised_accuracy", r.accuracy);
    }
    gauge("realised_rows", live.realised.map_or(0, |r| r.rows) as f64);
    tracing::info!(
        window_rows = status.live.window_rows,
        drift = e.drift,
        domain_auc = e.domain_auc,
        mmd_p_value = e.mmd_p_value,
        drifted_share = e.drifted_share,
        estimated_accuracy = live.estimate.accuracy,
        estimated_macro_f1 = live.estimate.macro_f1,
        unusual_rate = live.unusual.map(|u| u.rate),
        seconds = status.seconds,
        "live traffic"
    );
    service.set_live(status);
}
