//! The recent predictions a client may turn into feedback by id (`POST /feedback` with a
//! `prediction_id`): the vector and the label answered, kept in memory for the last
//! `--prediction-memory` predictions younger than `--prediction-ttl`, and reloaded from the
//! prediction log at start-up.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tympan_data::{read_predictions, DataError, PredictionId, PredictionRecord};

/// A remembered prediction: the record as answered and logged (its parts shared, not copied)
/// and the true label once feedback by id brought it.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    /// The answered prediction.
    pub record: PredictionRecord,
    /// The true label, once feedback by id brought it.
    pub target: Option<Arc<str>>,
}

impl Remembered {
    /// What the memory keeps of an answered or logged prediction.
    pub fn of(r: &PredictionRecord) -> Self {
        Self {
            record: r.clone(),
            target: None,
        }
    }
}

/// The last predictions by id, bounded in number and age.
pub struct RecentPredictions {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    by_id: HashMap<PredictionId, Remembered>,
    /// Ids in the order they were answered (oldest first).
    order: VecDeque<PredictionId>,
}

impl RecentPredictions {
    /// Keeps `capacity` predictions at most, none older than `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        // Allocated whole at start: a table that doubled while full of entries would hold the
        // lock for milliseconds, a latency spike on the request that triggered it.
        let inner = Inner {
            by_id: HashMap::with_capacity(capacity + 1),
            order: VecDeque::with_capacity(capacity + 1),
        };
        Self {
            capacity,
            ttl,
            inner: Mutex::new(inner),
        }
    }

    /// Fills the memory from a prediction log of vectors of length `dim` (the newest rows, as
    /// many as fit); a log of another width (another embedding) gives nothing. Returns the rows
    /// kept, or the error that stopped the reading (the rows before it are kept).
    pub fn load(&self, log: &Path, dim: usize) -> Result<usize, DataError> {
        if !log.is_file() {
            return Ok(0);
        }
        // Only the newest rows are held while reading: the log may be far larger than the memory.
        let mut newest = VecDeque::with_capacity(self.capacity.min(1 << 16));
        let read = read_predictions(log, |r| {
            if r.vector.len() == dim && self.capacity > 0 {
                if newest.len() == self.capacity {
                    newest.pop_front();
                }
                newest.push_back(r);
            }
        });
        for r in newest {
            self.remember(r.id, Remembered::of(&r));
        }
        read.map(|_| self.len())
    }

    /// Remembers a prediction, forgetting the oldest beyond the capacity or the age limit.
    pub fn remember(&self, id: PredictionId, prediction: Remembered) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        let now = prediction.record.time;
        if inner.by_id.insert(id, prediction).is_none() {
            inner.order.push_back(id);
        }
        self.forget_old(&mut inner, now);
    }

    /// The prediction `id`, unless it was never answered, is forgotten or is too old.
    pub fn get(&self, id: PredictionId) -> Option<Remembered> {
        let mut inner = self.lock();
        self.forget_old(&mut inner, SystemTime::now());
        inner.by_id.get(&id).cloned()
    }

    /// Records the true label of the prediction `id` (its feedback row is stored), for the
    /// realised accuracy of the live window.
    pub fn set_target(&self, id: PredictionId, target: &str) {
        if let Some(r) = self.lock().by_id.get_mut(&id) {
            r.target = Some(target.into());
        }
    }

    /// The newest `n` predictions kept, oldest first (shared, not copied).
    pub fn latest(&self, n: usize) -> Vec<Remembered> {
        let mut inner = self.lock();
        self.forget_old(&mut inner, SystemTime::now());
        let skip = inner.order.len().saturating_sub(n);
        inner
            .order
            .iter()
            .skip(skip)
            .filter_map(|id| inner.by_id.get(id).cloned())
            .collect()
    }

    /// Predictions kept.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long a prediction is kept at most.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many predictions are kept at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn forget_old(&self, inner: &mut Inner, now: SystemTime) {
        while let Some(oldest) = inner.order.front() {
            let expired = inner.by_id.get(oldest).is_none_or(|r| {
                now.duration_since(r.record.time)
                    .is_ok_and(|age| age > self.ttl)
            });
            if inner.order.len() <= self.capacity && !expired {
                break;
            }
            let id = inner.order.pop_front().expect("a front element");
            inner.by_id.remove(&id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change leaves both collections whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds_ago: u64, v: f32) -> Remembered {
        Remembered::of(&PredictionRecord {
            id: PredictionId(0),
            time: SystemTime::now() - Duration::from_secs(seconds_ago),
            model_version: "v0001".into(),
            duration_seconds: None,
            classes: vec!["a".to_string()].into(),
            probabilities: vec![1.0].into(),
            predicted: 0,
            vector: vec![v].into(),
        })
    }

    #[test]
    fn the_memory_forgets_beyond_its_capacity_and_its_age_limit() {
        let recent = RecentPredictions::new(3, Duration::from_secs(60));
        for i in 0..5 {
            recent.remember(PredictionId(i), at(0, i as f32));
        }
        assert_eq!(recent.len(), 3);
        assert!(
            recent.get(PredictionId(1)).is_none(),
            "kept beyond the capacity"
        );
        assert_eq!(*recent.get(PredictionId(4)).unwrap().record.vector, [4.0]);
        let recent = RecentPredictions::new(10, Duration::from_secs(60));
        recent.remember(PredictionId(1), at(120, 0.0));
        recent.remember(PredictionId(2), at(1, 1.0));
        assert!(recent.get(PredictionId(1)).is_none(), "kept past its age");
        assert!(recent.get(PredictionId(2)).is_some());
    }
}
