//! Where clips are embedded, so that expensive audio can neither starve the request workers nor
//! pile up without bound.
//!
//! A clip is first embedded on the request's own worker under a small budget of decoded samples
//! ([`INLINE_SAMPLES`]): a typical clip (FSDD's are 4,000 samples) is done in well under a
//! millisecond, and a clip that needs more stops after that much work. It then goes to a
//! [`EmbedPool`]: a fixed set of threads at a lower CPU priority behind a bounded queue. A full
//! queue is an immediate [`ServiceError::Overloaded`] (503 with Retry-After), never an unbounded
//! wait; the memory of long clips is at most the threads' decodes plus the queued bodies.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rocket::tokio::sync::oneshot;
use tympan_core::audio::AudioError;
use tympan_core::embedding::EmbedError;

use crate::input::{ClipInput, EmbeddedClip};
use crate::service::{Service, ServiceError};

/// Decoded samples (frames x channels) a clip may take on a request worker before it is handed to
/// the pool: about 4 s of 16 kHz mono, 0.7 s of 48 kHz stereo.
pub const INLINE_SAMPLES: u64 = 1 << 16;

/// Seconds a client refused for a full queue is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// CPU priority (nice value) of the pool's threads: the request workers, at 0, get about ten
/// times their share of a busy core.
const POOL_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of low-priority threads running jobs from a bounded queue.
pub struct EmbedPool {
    queue: SyncSender<Job>,
}

impl EmbedPool {
    /// Starts `workers` threads (at least one) taking jobs from a queue of `queue` places; they
    /// stop when the pool is dropped.
    pub fn new(workers: usize, queue: usize) -> Self {
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..workers.max(1) {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("tympan-embed-{i}"))
                .spawn(move || work(&receiver));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an embedding thread");
            }
        }
        Self { queue: sender }
    }

    /// Queues `job`; its result arrives on the receiver (which errs if the job panicked). A full
    /// queue is [`ServiceError::Overloaded`] at once.
    pub fn submit<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, ServiceError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The client may have gone: nobody to tell.
            let _ = tx.send(job());
        });
        match self.queue.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                Err(ServiceError::Overloaded {
                    retry_after_seconds: RETRY_AFTER_SECONDS,
                })
            }
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let job = match receiver.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking job drops its sender (its request gets a 500); the thread lives on.
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("an embedding job panicked");
        }
    }
}

/// Lowers the calling thread's CPU priority to [`POOL_NICE`] (on Linux, `setpriority` on a
/// thread id applies to that thread only); background threads of the server use it too.
pub(crate) fn lower_priority() {
    // SAFETY: plain system calls on the calling thread's own id, no memory handed over.
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, POOL_NICE)
    };
    if result != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "a background thread keeps the normal CPU priority"
        );
    }
}

/// Embeds a clip: on the calling worker when it fits [`INLINE_SAMPLES`], else on the service's
/// pool (waiting without holding the worker). Vectors pass through unchanged.
pub async fn embed(service: &Arc<Service>, clip: ClipInput) -> Result<ClipInput, ServiceError> {
    let ClipInput::Audio(bytes) = clip else {
        return Ok(clip);
    };
    let started = Instant::now();
    let budget = tympan_core::audio::AudioLimits {
        max_samples: Some(INLINE_SAMPLES),
        ..*service.embedder.featurizer().limits()
    };
    let embedded = match service.embedder.embed_bytes_within(&bytes, None, &budget) {
        Err(EmbedError::Audio(AudioError::OverBudget { .. })) => {
            let embedder = Arc::clone(&service.embedder);
            service
                .embed_pool
                .submit(move || embedder.embed_bytes(&bytes, None))?
                .await
                .map_err(|_| ServiceError::EmbeddingLost)??
        }
        inline => inline?,
    };
    Ok(ClipInput::Embedded(EmbeddedClip {
        vector: embedded.vector,
        duration_seconds: embedded.duration_seconds,
        started,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Sender};

    #[test]
    fn a_full_queue_is_refused_at_once_and_the_pool_recovers() {
        let pool = EmbedPool::new(1, 1);
        let (release, hold) = channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let (started, has_started) = channel::<()>();
        let blocker = |hold: Arc<Mutex<Receiver<()>>>, started: Sender<()>| {
            move || {
                let _ = started.send(());
                hold.lock().unwrap().recv().is_ok()
            }
        };
        // One job runs (and waits), one waits in the queue; the third has no place.
        let running = pool
            .submit(blocker(Arc::clone(&hold), started.clone()))
            .unwrap();
        has_started.recv().unwrap();
        let queued = pool.submit(blocker(Arc::clone(&hold), started)).unwrap();
        assert!(matches!(
            pool.submit(|| true),
            Err(ServiceError::Overloaded { .. })
        ));
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert!(running.blocking_recv().unwrap());
        assert!(queued.blocking_recv().unwrap());
        // A panicking job loses its answer, not the thread.
        assert!(pool
            .submit(|| panic!("boom"))
            .unwrap()
            .blocking_recv()
            .is_err());
        assert_eq!(pool.submit(|| 7).unwrap().blocking_recv().unwrap(), 7);
    }
}
