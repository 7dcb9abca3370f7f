//! The prediction log's writer: `/predict` hands each answered prediction to a thread that
//! appends them in batches (one write and one sync per batch), so the answer never waits for the
//! disk and the throughput stays that of the model.
//!
//! The writer wakes on a timer ([`FLUSH_INTERVAL`]), never per prediction: a thread blocked on
//! the queue would be woken by every send, a futex call and a context switch per answer, which
//! cost a third of `/predict`'s throughput on two cores (measured with `perf`).
//!
//! The queue is bounded: when the writer falls behind (a slow or full disk), predictions are
//! dropped from the log and counted (`tympan_prediction_log_dropped_total`), never queued without
//! end and never slowing an answer. A crash loses at most the batch being written; the file
//! keeps whole rows ([`tympan_data::PredictionFile`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;

use tympan_data::{DataError, PredictionFile, PredictionRecord};
use tympan_pg::PgPredictions;

use crate::metrics::Metrics;

/// Predictions written in one batch at most.
const MAX_BATCH: usize = 1024;

/// How often the writer takes what is queued: the log runs this far behind the answers at most
/// (plus the time of a write), and a queue of 8,192 holds ~80,000 predictions a second.
pub const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

enum Message {
    Record(Box<PredictionRecord>),
    /// Write what is queued and stop.
    Close,
}

/// Hands predictions to the writer thread, keeping `sample` of them.
pub struct PredictionLogger {
    tx: SyncSender<Message>,
    sample: f64,
    offered: AtomicU64,
    writer: Mutex<Option<JoinHandle<()>>>,
    dropped: prometheus::IntCounterVec,
}

impl PredictionLogger {
    /// Starts the writer of `file`; `queue` predictions may wait for it, `sample` (0 to 1) is
    /// the share of predictions logged.
    pub fn start(file: impl PredictionSink, queue: usize, sample: f64, metrics: &Metrics) -> Self {
        let (tx, rx) = sync_channel(queue.max(1));
        let rows = metrics.prediction_log_rows.clone();
        let dropped = metrics.prediction_log_dropped.clone();
        let failed = dropped.with_label_values(&["write_failed"]);
        let writer = std::thread::Builder::new()
            .name("prediction-log".into())
            .spawn(move || {
                // Answers come first: under a load that takes every core, the log falls behind
                // and drops (counted) rather than taking CPU from the requests.
                crate::embed_pool::lower_priority();
                write_batches(file, rx, rows, failed)
            })
            .expect("a thread can be spawned at start-up");
        Self {
            tx,
            sample: sample.clamp(0.0, 1.0),
            offered: AtomicU64::new(0),
            writer: Mutex::new(Some(writer)),
            dropped,
        }
    }

    /// Queues `record` if it is in the sample; returns whether it was queued.
    pub fn submit(&self, record: PredictionRecord) -> bool {
        if !self.sampled() {
            return false;
        }
        match self.tx.try_send(Message::Record(Box::new(record))) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.dropped.with_label_values(&["queue_full"]).inc();
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Whether the next prediction is logged: exactly `sample` of them, spread evenly (the n-th
    /// is kept when n·sample passes an integer).
    fn sampled(&self) -> bool {
        if self.sample >= 1.0 {
            return true;
        }
        let n = self.offered.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * self.sample).floor() > (n * self.sample).floor()
    }

    /// Writes what is queued and stops the writer (at shutdown); later predictions are not
    /// logged.
    pub fn close(&self) {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            let _ = self.tx.send(Message::Close);
            writer.thread().unpark();
            let _ = writer.join();
        }
    }
}

impl Drop for PredictionLogger {
    fn drop(&mut self) {
        self.close();
    }
}

/// Where the writer puts each batch.
pub trait PredictionSink: Send + 'static {
    /// Stores a batch whole, or fails.
    fn append(&mut self, batch: &[PredictionRecord]) -> Result<(), DataError>;
}

impl PredictionSink for PredictionFile {
    fn append(&mut self, batch: &[PredictionRecord]) -> Result<(), DataError> {
        PredictionFile::append(self, batch)
    }
}

/// A replica of a cluster logs to its file (its live window, its memory after a restart) and to
/// the database (feedback by id on any replica).
pub struct FileAndDatabase {
    /// The replica's file.
    pub file: PredictionFile,
    /// The shared log.
    pub database: PgPredictions,
}

impl PredictionSink for FileAndDatabase {
    fn append(&mut self, batch: &[PredictionRecord]) -> Result<(), DataError> {
        self.file.append(batch)?;
        self.database.append(batch).map_err(DataError::from)
    }
}

fn write_batches(
    mut file: impl PredictionSink,
    rx: Receiver<Message>,
    rows: prometheus::IntCounter,
    failed: prometheus::IntCounter,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut closing = false;
    let mut flush = |batch: &mut Vec<PredictionRecord>| {
        if batch.is_empty() {
            return;
        }
        match file.append(batch) {
            Ok(()) => rows.inc_by(batch.len() as u64),
            Err(e) => {
                log_failure(&e, batch.len());
                failed.inc_by(batch.len() as u64);
            }
        }
        batch.clear();
    };
    while !closing {
        std::thread::park_timeout(FLUSH_INTERVAL);
        loop {
            match rx.try_recv() {
                Ok(Message::Record(r)) => {
                    batch.push(*r);
                    if batch.len() == MAX_BATCH {
                        flush(&mut batch);
                    }
                }
                Ok(Message::Close) | Err(TryRecvError::Disconnected) => {
                    closing = true;
                    break;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        flush(&mut batch);
    }
}

fn log_failure(e: &DataError, records: usize) {
    tracing::error!(error = %e, records, "writing to the prediction log failed; those predictions are not logged");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;
    use tympan_data::{read_predictions, PredictionId, Rotation};

    fn record(i: usize) -> PredictionRecord {
        PredictionRecord {
            id: PredictionId(i as u128),
            time: SystemTime::now(),
            model_version: "v1".into(),
            duration_seconds: None,
            classes: vec!["a".to_string()].into(),
            probabilities: vec![1.0].into(),
            predicted: 0,
            vector: vec![i as f32].into(),
        }
    }

    #[test]
    fn a_sample_keeps_that_share_evenly_and_close_writes_what_is_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions.csv");
        let rotation = Rotation {
            max_bytes: 1 << 20,
            keep: 1,
        };
        let metrics = Metrics::new();
        let file = PredictionFile::open(&path, 1, rotation).unwrap();
        let logger = PredictionLogger::start(file, 10_000, 0.25, &metrics);
        let queued = (0..1000).filter(|&i| logger.submit(record(i))).count();
        logger.close();
        assert_eq!(queued, 250);
        let mut ids = Vec::new();
        read_predictions(&path, |r| ids.push(r.id)).unwrap();
        assert_eq!(ids.len(), 250, "close lost queued predictions");
        assert_eq!((ids[0].0, ids[1].0), (3, 7));
        assert_eq!(metrics.prediction_log_rows.get(), 250);
    }
}
