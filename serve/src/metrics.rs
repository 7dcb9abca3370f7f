//! Prometheus metrics and the fairing that times every request.

use std::time::Instant;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Data, Request, Response};

/// Every metric the server exports (names prefixed `tympan_`).
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by endpoint and status, and their latency.
    pub http: HttpMetrics,
    /// Predictions per predicted label.
    pub predictions: IntCounterVec,
    /// Rows in the feedback log.
    pub feedback_rows: IntGauge,
    /// Retrainings finished (promoted or not).
    pub retrainings: IntCounterVec,
    /// Client connections the connection guard refused or cut, by reason.
    pub guard_closed: IntCounterVec,
    /// Duration of retrainings.
    pub retraining_seconds: Histogram,
    /// 1 for the served version.
    pub model_info: IntGaugeVec,
    /// Scores of the latest champion/challenger comparison, by side and part.
    pub challenger_scores: prometheus::GaugeVec,
    /// Evaluation rows of the latest comparison, by part.
    pub challenger_eval_rows: IntGaugeVec,
    /// Share of drifted columns in the latest report.
    pub drift_share: Gauge,
    /// Macro F1 on production feedback in the latest report.
    pub report_f1: Gauge,
    /// Predictions written to the prediction log.
    pub prediction_log_rows: prometheus::IntCounter,
    /// Predictions meant for the log that it did not get, by reason.
    pub prediction_log_dropped: IntCounterVec,
    /// The latest live-traffic drift, by figure (see [`crate::live`]).
    pub live: prometheus::GaugeVec,
    /// Predictions of clips unlike the training data.
    pub unusual_predictions: IntCounter,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "tympan_http_requests_total",
                "HTTP requests by endpoint and status",
            ),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "tympan_http_request_duration_seconds",
                "HTTP request latency",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["endpoint"],
        )
        .expect("valid metric");
        let predictions = IntCounterVec::new(
            Opts::new("tympan_predictions_total", "Predictions by predicted label"),
            &["label"],
        )
        .expect("valid metric");
        let feedback_rows =
            IntGauge::new("tympan_feedback_rows", "Rows in prod_data.csv").expect("valid metric");
        let retrainings = IntCounterVec::new(
            Opts::new("tympan_retrainings_total", "Retrainings by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let guard_closed = IntCounterVec::new(
            Opts::new(
                "tympan_connections_closed_total",
                "Client connections refused (cap) or cut (idle, request timeout) by the guard",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let retraining_seconds = Histogram::with_opts(
            HistogramOpts::new("tympan_retraining_duration_seconds", "Retraining duration")
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )
        .expect("valid metric");
        let model_info = IntGaugeVec::new(
            Opts::new("tympan_model_info", "1 for the served model version"),
            &["version"],
        )
        .expect("valid metric");
        let challenger_scores = prometheus::GaugeVec::new(
            Opts::new(
                "tympan_challenger_score",
                "Latest champion/challenger comparison: macro F1 by side (champion, challenger) and part (reference, production, score)",
            ),
            &["side", "part"],
        )
        .expect("valid metric");
        let challenger_eval_rows = IntGaugeVec::new(
            Opts::new(
                "tympan_challenger_eval_rows",
                "Evaluation rows of the latest comparison",
            ),
            &["part"],
        )
        .expect("valid metric");
        let drift_share = Gauge::new("tympan_report_drift_share", "Share of drifted columns")
            .expect("valid metric");
        let report_f1 = Gauge::new("tympan_report_f1", "Macro F1 on production feedback")
            .expect("valid metric");
        let prediction_log_rows = prometheus::IntCounter::new(
            "tympan_prediction_log_rows_total",
            "Predictions written to the prediction log",
        )
        .expect("valid metric");
        let prediction_log_dropped = IntCounterVec::new(
            Opts::new(
                "tympan_prediction_log_dropped_total",
                "Predictions meant for the prediction log that it did not get: queue_full (the \
                 writer fell behind) or write_failed (the disk refused the batch)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let live = prometheus::GaugeVec::new(
            Opts::new(
                "tympan_live",
                "Latest drift of the live traffic (no label): figure = domain_auc, mmd_p_value, \
                 drifted_share (components), drift (1 or 0), prediction_p_value, window_rows, \
                 estimated_accuracy and estimated_macro_f1 (from calibrated probabilities), \
                 unusual_rate (share of unusual clips), realised_accuracy and realised_rows (on \
                 the window's predictions whose true label came back by id)",
            ),
            &["figure"],
        )
        .expect("valid metric");
        let unusual_predictions = IntCounter::new(
            "tympan_unusual_predictions_total",
            "Predictions of clips unlike the training data (beyond the model's unusual threshold)",
        )
        .expect("valid metric");
        for m in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(live.clone()),
            Box::new(unusual_predictions.clone()),
            Box::new(prediction_log_rows.clone()),
            Box::new(prediction_log_dropped.clone()),
            Box::new(latency.clone()),
            Box::new(predictions.clone()),
            Box::new(feedback_rows.clone()),
            Box::new(retrainings.clone()),
            Box::new(guard_closed.clone()),
            Box::new(retraining_seconds.clone()),
            Box::new(model_info.clone()),
            Box::new(challenger_scores.clone()),
            Box::new(challenger_eval_rows.clone()),
            Box::new(drift_share.clone()),
            Box::new(report_f1.clone()),
        ] {
            registry.register(m).expect("unique metric names");
        }
        Self {
            registry,
            http: HttpMetrics { requests, latency },
            predictions,
            feedback_rows,
            retrainings,
            guard_closed,
            retraining_seconds,
            model_info,
            challenger_scores,
            challenger_eval_rows,
            drift_share,
            report_f1,
            prediction_log_rows,
            prediction_log_dropped,
            live,
            unusual_predictions,
        }
    }

    /// Marks `version` as the served one.
    pub fn set_model(&self, version: &str) {
        self.model_info.reset();
        self.model_info.with_label_values(&[version]).set(1);
    }

    /// Records a champion/challenger decision.
    pub fn record_decision(&self, d: &tympan_core::challenger::Decision) {
        for (side, s) in [
            ("champion", d.champion_score),
            ("challenger", d.challenger_score),
        ] {
            for (part, v) in [
                ("reference", s.reference_f1),
                ("production", s.production_f1),
                ("score", s.score),
            ] {
                self.challenger_scores
                    .with_label_values(&[side, part])
                    .set(v);
            }
        }
        let rows = &self.challenger_eval_rows;
        rows.with_label_values(&["reference"])
            .set(d.reference_eval_rows as i64);
        rows.with_label_values(&["production"])
            .set(d.production_eval_rows as i64);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Times requests and counts them by route (the route's path template, so cardinality stays
/// bounded whatever URLs clients send).
pub struct RequestMetrics;

#[derive(Clone, Copy)]
struct Started(Instant);

/// When the request arrived (noted by [`RequestMetrics`] on arrival).
pub(crate) fn started(req: &Request<'_>) -> Instant {
    req.local_cache(|| Started(Instant::now())).0
}

/// The request's route as its path template, or `unmatched`.
pub(crate) fn endpoint(req: &Request<'_>) -> String {
    req.route()
        .map(|r| r.uri.path().to_string())
        .unwrap_or_else(|| "unmatched".into())
}

#[rocket::async_trait]
impl Fairing for RequestMetrics {
    fn info(&self) -> Info {
        Info {
            name: "request metrics",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        started(req);
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let Some(state) = req.rocket().state::<std::sync::Arc<crate::Service>>() else {
            return;
        };
        let started = started(req);
        let endpoint = endpoint(req);
        state.metrics.http.observe(
            &endpoint,
            res.status().code,
            started.elapsed().as_secs_f64(),
        );
    }
}

/// The request counter and latency histogram (`tympan_http_requests_total`,
/// `tympan_http_request_duration_seconds`): fed by [`RequestMetrics`] for what Rocket answers,
/// and by the connection guard for the `/health` probes it answers itself.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl HttpMetrics {
    /// Counts one answer of `endpoint` (a route template) with `status`, taking `seconds`.
    pub fn observe(&self, endpoint: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[endpoint, status.to_string().as_str()])
            .inc();
        self.latency.with_label_values(&[endpoint]).observe(seconds);
    }
}
