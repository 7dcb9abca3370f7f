//! The recent predictions a client may turn into feedback by id (`POST /feedback` with a
//! `prediction_id`): the vector and the label answered, kept in memory for the last
//! `--prediction-memory` predictions younger than `--prediction-ttl`, and reloaded from the
//! prediction log at start-up.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tympan_data::{read_predictions, DataError, PredictionId, PredictionRecord};

/// A remembered prediction: the record as answered and logged and the true label once feedback
/// by id brought it.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    /// The answered prediction.
    pub record: PredictionRecord,
    /// The true label, once feedback by id brought it.
    pub target: Option<Arc<str>>,
}

/// Probabilities a slot holds beyond the first model's classes: room for classes that feedback
/// adds (`--max-new-classes`) before a record no longer fits its slot.
const SPARE_CLASSES: usize = 8;

/// The last predictions by id, bounded in number and age.
///
/// Their vectors and probabilities are copied into one block allocated for all of them (a
/// `Slab`), not kept as the record's own allocations: tens of thousands of small blocks
/// living for hours among each answer's short-lived buffers fragmented glibc's heap, and
/// `malloc` then took twice its share of `/predict` (`perf` at concurrency 8: 9.9-11 % of the
/// server's cycles in glibc's allocator with an allocation per record, 5.6 % with the slab).
pub struct RecentPredictions {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    /// Keyed with foldhash: the ids are the server's own random ones (a client's id is only
    /// looked up, never inserted), so SipHash's defence against chosen keys bought nothing but
    /// time on every answer.
    by_id: HashMap<PredictionId, Entry, foldhash::fast::RandomState>,
    /// Ids in the order they were answered (oldest first).
    order: VecDeque<PredictionId>,
    /// The entries' values; made at the first prediction, when their width is known.
    slab: Option<Slab>,
}

/// A remembered prediction as the memory holds it: the record's shared parts, and its values
/// in the slab (or, wider than a slot, in their own allocations).
struct Entry {
    time: SystemTime,
    model_version: Arc<str>,
    duration_seconds: Option<f64>,
    classes: Arc<[String]>,
    predicted: usize,
    values: Values,
    target: Option<Arc<str>>,
}

enum Values {
    /// Slot `slot` of the slab: the vector (of the slab's length), then `probabilities` values.
    Slab { slot: usize, probabilities: usize },
    /// A record wider than the slab's slots.
    Own {
        vector: Arc<[f32]>,
        probabilities: Arc<[f32]>,
    },
}

/// `capacity` slots of `stride` values in one allocation, and the slots free for reuse. Every
/// vector in it has one length (the served embedding's).
struct Slab {
    vector_len: usize,
    stride: usize,
    values: Vec<f32>,
    free: Vec<usize>,
    /// Slots below this have been used at least once.
    used: usize,
}

impl Slab {
    fn new(capacity: usize, vector_len: usize, stride: usize) -> Self {
        Self {
            vector_len,
            stride,
            // Zeroed pages cost nothing until a slot is written: the memory grows with use.
            values: vec![0.0; capacity * stride],
            free: Vec::new(),
            used: 0,
        }
    }

    /// Stores `vector` and `probabilities` in a free slot, if they fit one and one is free.
    fn store(&mut self, vector: &[f32], probabilities: &[f32]) -> Option<Values> {
        if vector.len() != self.vector_len || vector.len() + probabilities.len() > self.stride {
            return None;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None if (self.used + 1) * self.stride <= self.values.len() => {
                self.used += 1;
                self.used - 1
            }
            None => return None,
        };
        let at = slot * self.stride;
        self.values[at..at + vector.len()].copy_from_slice(vector);
        self.values[at + vector.len()..at + vector.len() + probabilities.len()]
            .copy_from_slice(probabilities);
        Some(Values::Slab {
            slot,
            probabilities: probabilities.len(),
        })
    }

    /// The vector and the `probabilities` values of slot `slot`.
    fn values(&self, slot: usize, probabilities: usize) -> (&[f32], &[f32]) {
        let at = slot * self.stride;
        self.values[at..at + self.vector_len + probabilities].split_at(self.vector_len)
    }
}

impl Inner {
    /// The entry of `record`, its values in the slab (made with `capacity` slots at the first
    /// record) where they fit.
    fn entry(&mut self, record: &PredictionRecord, capacity: usize) -> Entry {
        let slab = self.slab.get_or_insert_with(|| {
            let width = record.vector.len() + record.probabilities.len();
            Slab::new(capacity, record.vector.len(), width + SPARE_CLASSES)
        });
        let values = slab
            .store(&record.vector, &record.probabilities)
            .unwrap_or_else(|| Values::Own {
                vector: Arc::clone(&record.vector),
                probabilities: Arc::clone(&record.probabilities),
            });
        Entry {
            time: record.time,
            model_version: Arc::clone(&record.model_version),
            duration_seconds: record.duration_seconds,
            classes: Arc::clone(&record.classes),
            predicted: record.predicted,
            values,
            target: None,
        }
    }

    /// The prediction `id` as a [`Remembered`] (its values copied out of the slab).
    fn remembered(&self, id: PredictionId) -> Option<Remembered> {
        let e = self.by_id.get(&id)?;
        let (vector, probabilities) = match &e.values {
            Values::Own {
                vector,
                probabilities,
            } => (Arc::clone(vector), Arc::clone(probabilities)),
            &Values::Slab {
                slot,
                probabilities,
            } => {
                let (vector, probabilities) = self
                    .slab
                    .as_ref()
                    .expect("a slab entry has a slab")
                    .values(slot, probabilities);
                (vector.into(), probabilities.into())
            }
        };
        Some(Remembered {
            record: PredictionRecord {
                id,
                time: e.time,
                model_version: Arc::clone(&e.model_version),
                duration_seconds: e.duration_seconds,
                classes: Arc::clone(&e.classes),
                probabilities,
                predicted: e.predicted,
                vector,
            },
            target: e.target.clone(),
        })
    }

    fn remove(&mut self, id: PredictionId) {
        if let Some(e) = self.by_id.remove(&id) {
            self.release(e);
        }
    }

    fn release(&mut self, e: Entry) {
        if let (Values::Slab { slot, .. }, Some(slab)) = (e.values, self.slab.as_mut()) {
            slab.free.push(slot);
        }
    }
}

impl RecentPredictions {
    /// Keeps `capacity` predictions at most, none older than `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        // Allocated whole at start: a table that doubled while full of entries would hold the
        // lock for milliseconds, a latency spike on the request that triggered it.
        let inner = Inner {
            by_id: HashMap::with_capacity_and_hasher(capacity + 1, Default::default()),
            order: VecDeque::with_capacity(capacity + 1),
            slab: None,
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
        for r in &newest {
            self.remember(r);
        }
        read.map(|_| self.len())
    }

    /// Remembers a prediction (its values copied), forgetting the oldest beyond the capacity or
    /// the age limit; a prediction remembered again under its id replaces the first.
    pub fn remember(&self, prediction: &PredictionRecord) {
        if self.capacity == 0 {
            return;
        }
        let id = prediction.id;
        let mut inner = self.lock();
        let now = prediction.time;
        // The oldest is forgotten first, so that a full memory frees the slot the new one takes.
        let known = inner.by_id.contains_key(&id);
        self.forget_old(&mut inner, now, usize::from(!known));
        let entry = inner.entry(prediction, self.capacity);
        match inner.by_id.insert(id, entry) {
            Some(replaced) => inner.release(replaced),
            None => inner.order.push_back(id),
        }
    }

    /// The prediction `id`, unless it was never answered, is forgotten or is too old.
    pub fn get(&self, id: PredictionId) -> Option<Remembered> {
        let mut inner = self.lock();
        self.forget_old(&mut inner, SystemTime::now(), 0);
        inner.remembered(id)
    }

    /// Records the true label of the prediction `id` (its feedback row is stored), for the
    /// realised accuracy of the live window.
    pub fn set_target(&self, id: PredictionId, target: &str) {
        if let Some(e) = self.lock().by_id.get_mut(&id) {
            e.target = Some(target.into());
        }
    }

    /// The newest `n` predictions kept, oldest first.
    pub fn latest(&self, n: usize) -> Vec<Remembered> {
        let mut inner = self.lock();
        self.forget_old(&mut inner, SystemTime::now(), 0);
        let skip = inner.order.len().saturating_sub(n);
        inner
            .order
            .iter()
            .skip(skip)
            .filter_map(|&id| inner.remembered(id))
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

    /// Forgets the predictions older than the age limit, and the oldest beyond the capacity
    /// less `room`.
    fn forget_old(&self, inner: &mut Inner, now: SystemTime, room: usize) {
        while let Some(&oldest) = inner.order.front() {
            let expired = inner
                .by_id
                .get(&oldest)
                .is_none_or(|e| now.duration_since(e.time).is_ok_and(|age| age > self.ttl));
            if inner.order.len() + room <= self.capacity && !expired {
                break;
            }
            inner.order.pop_front();
            inner.remove(oldest);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change leaves the collections whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(id: u128, seconds_ago: u64, v: f32) -> PredictionRecord {
        PredictionRecord {
            id: PredictionId(id),
            time: SystemTime::now() - Duration::from_secs(seconds_ago),
            model_version: "v0001".into(),
            duration_seconds: None,
            classes: vec!["a".to_string()].into(),
            probabilities: vec![1.0].into(),
            predicted: 0,
            vector: vec![v].into(),
        }
    }

    fn record(id: u128, vector: Vec<f32>, probabilities: Vec<f32>) -> PredictionRecord {
        PredictionRecord {
            id: PredictionId(id),
            time: SystemTime::now(),
            model_version: "v0001".into(),
            duration_seconds: Some(0.5),
            classes: (0..probabilities.len()).map(|c| c.to_string()).collect(),
            probabilities: probabilities.into(),
            predicted: 0,
            vector: vector.into(),
        }
    }

    #[test]
    fn reused_slots_and_records_wider_than_a_slot_give_back_what_was_remembered() {
        let recent = RecentPredictions::new(3, Duration::from_secs(60));
        let mut answered = Vec::new();
        for i in 0..10u128 {
            let x = i as f32;
            // From the seventh on, more classes than a slot has room for.
            let classes = if i < 6 { 2 } else { 2 + SPARE_CLASSES + 1 };
            let r = record(
                i,
                vec![x, x + 0.5, -x],
                (0..classes).map(|c| x + c as f32).collect(),
            );
            recent.remember(&r);
            answered.push(r);
            let kept: Vec<PredictionRecord> =
                recent.latest(3).into_iter().map(|m| m.record).collect();
            assert_eq!(
                kept,
                answered[answered.len().saturating_sub(3)..],
                "after {i}"
            );
        }
        recent.set_target(PredictionId(9), "b");
        let last = recent.get(PredictionId(9)).unwrap();
        assert_eq!(
            (last.record, last.target.as_deref()),
            (answered[9].clone(), Some("b"))
        );
        // The same id again replaces the prediction and keeps one entry.
        let again = record(9, vec![1.0, 2.0, 3.0], vec![0.25, 0.75]);
        recent.remember(&again);
        assert_eq!(recent.len(), 3);
        assert_eq!(recent.get(PredictionId(9)).unwrap().record, again);
        // A vector of another length than the slab's is kept whole too.
        let longer = record(10, vec![1.0, 2.0, 3.0, 4.0, 5.0], vec![0.5, 0.5]);
        recent.remember(&longer);
        assert_eq!(recent.get(PredictionId(10)).unwrap().record, longer);
    }

    #[test]
    fn the_memory_forgets_beyond_its_capacity_and_its_age_limit() {
        let recent = RecentPredictions::new(3, Duration::from_secs(60));
        for i in 0..5 {
            recent.remember(&at(i, 0, i as f32));
        }
        assert_eq!(recent.len(), 3);
        assert!(
            recent.get(PredictionId(1)).is_none(),
            "kept beyond the capacity"
        );
        assert_eq!(*recent.get(PredictionId(4)).unwrap().record.vector, [4.0]);
        let recent = RecentPredictions::new(10, Duration::from_secs(60));
        recent.remember(&at(1, 120, 0.0));
        recent.remember(&at(2, 1, 1.0));
        assert!(recent.get(PredictionId(1)).is_none(), "kept past its age");
        assert!(recent.get(PredictionId(2)).is_some());
    }
}
