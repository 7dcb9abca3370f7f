//! Retraining jobs: what `POST /admin/retrain` starts and `GET /admin/retrain/{id}` reports.
//!
//! Every retraining the service runs is a job, whoever asked for it (an admin, the k-th feedback
//! row, the drift or F1 trigger), so that an admin request refused because one is running can name
//! it. The table keeps the last [`KEPT_JOBS`] jobs in memory: ids do not survive a restart.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::service::{RetrainReport, ServiceError};

/// Jobs kept, finished or not; the oldest finished one goes first.
pub const KEPT_JOBS: usize = 64;

/// What a client is told of a failed retraining: the cause (file paths, OS errors) is the
/// operator's, in the server log under the job's id.
pub const FAILED_DETAIL: &str = "the retraining failed; the server log has the details";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, not started yet.
    Queued,
    /// Retraining now.
    Running,
    /// Finished: `outcome` says what it produced and whether it was promoted.
    Succeeded,
    /// Finished without a model: `error` says so.
    Failed,
}

/// Who asked for a retraining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobCause {
    /// `POST /admin/retrain`.
    Admin,
    /// Every k feedback rows (`--retrain-every`).
    Feedback,
    /// The drift or F1 trigger fired.
    Trigger,
}

impl JobCause {
    /// The cause as the database's retrainings table records it.
    pub fn name(self) -> &'static str {
        match self {
            JobCause::Admin => "admin",
            JobCause::Feedback => "feedback",
            JobCause::Trigger => "trigger",
        }
    }
}

/// One retraining, as `GET /admin/retrain/{id}` answers it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetrainJob {
    /// The job's id, unique within the server process.
    pub id: String,
    /// Where it is.
    pub state: JobState,
    /// Who asked for it.
    pub cause: JobCause,
    /// When it was accepted (RFC 3339, UTC).
    pub queued_at: String,
    /// When it started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// The challenger, the version served afterwards, the comparison (scores, promoted, reason)
    /// and the seconds taken, once it succeeded.
    pub outcome: Option<RetrainReport>,
    /// Once it failed: [`FAILED_DETAIL`].
    pub error: Option<String>,
}

impl RetrainJob {
    /// Whether it is queued or running.
    pub fn is_active(&self) -> bool {
        matches!(self.state, JobState::Queued | JobState::Running)
    }
}

/// The table of recent jobs.
#[derive(Debug)]
pub struct RetrainJobs {
    /// Makes ids from two server runs differ, so that a client polling across a restart gets a
    /// 404 rather than another job.
    prefix: String,
    next: AtomicU64,
    jobs: Mutex<VecDeque<RetrainJob>>,
}

impl Default for RetrainJobs {
    fn default() -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Self {
            prefix: format!("{started:x}"),
            next: AtomicU64::new(1),
            jobs: Mutex::new(VecDeque::new()),
        }
    }
}

impl RetrainJobs {
    /// Records a new queued job and returns it.
    pub fn queue(&self, cause: JobCause) -> RetrainJob {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let job = RetrainJob {
            id: format!("{}-{n}", self.prefix),
            state: JobState::Queued,
            cause,
            queued_at: now(),
            started_at: None,
            finished_at: None,
            outcome: None,
            error: None,
        };
        let mut jobs = self.lock();
        jobs.push_back(job.clone());
        while jobs.len() > KEPT_JOBS {
            match jobs.iter().position(|j| !j.is_active()) {
                Some(oldest_finished) => jobs.remove(oldest_finished),
                None => break,
            };
        }
        job
    }

    /// The job `id`, if it is still kept.
    pub fn get(&self, id: &str) -> Option<RetrainJob> {
        self.lock().iter().find(|j| j.id == id).cloned()
    }

    /// The job queued or running, if any (one at most: retrainings are single-flight).
    pub fn active(&self) -> Option<RetrainJob> {
        self.lock().iter().rev().find(|j| j.is_active()).cloned()
    }

    /// Runs `work` as job `id` on the calling thread, marked running meanwhile. A failure (a
    /// panic included) is returned as the operator's description of it. The outcome is the
    /// caller's to publish with [`RetrainJobs::finish`], once it has released the single-flight
    /// flag: a client that sees its job finished may start the next one at once.
    pub fn run(
        &self,
        id: &str,
        work: impl FnOnce() -> Result<RetrainReport, ServiceError>,
    ) -> Result<RetrainReport, String> {
        self.update(id, |j| {
            j.state = JobState::Running;
            j.started_at = Some(now());
        });
        match catch_unwind(AssertUnwindSafe(work)) {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(panic_message(panic.as_ref())),
        }
    }

    /// Records the end of job `id`; a failure is kept as [`FAILED_DETAIL`] only.
    pub fn finish(&self, id: &str, result: &Result<RetrainReport, String>) {
        self.update(id, |j| {
            j.finished_at = Some(now());
            match result {
                Ok(report) => {
                    j.state = JobState::Succeeded;
                    j.outcome = Some(report.clone());
                }
                Err(_) => {
                    j.state = JobState::Failed;
                    j.error = Some(FAILED_DETAIL.to_string());
                }
            }
        });
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut RetrainJob)) {
        if let Some(job) = self.lock().iter_mut().find(|j| j.id == id) {
            change(job);
        }
    }

    /// The table, even after a panic elsewhere while it was held (every change leaves it whole).
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RetrainJob>> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    format!("the retraining panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tympan_data::DataError;

    fn failure() -> Result<RetrainReport, ServiceError> {
        Err(ServiceError::Data(DataError::Io {
            path: "/srv/tympan/data/prod_data.csv".into(),
            source: std::io::Error::other("disk full"),
        }))
    }

    #[test]
    fn a_job_goes_from_queued_to_failed_and_tells_the_client_nothing_of_the_cause() {
        let jobs = RetrainJobs::default();
        let job = jobs.queue(JobCause::Admin);
        assert_eq!(job.state, JobState::Queued);
        assert_eq!(jobs.active().unwrap().id, job.id);
        let result = jobs.run(&job.id, failure);
        assert_eq!(jobs.get(&job.id).unwrap().state, JobState::Running);
        let err = result.as_ref().unwrap_err();
        assert!(err.contains("disk full"), "{err}");
        jobs.finish(&job.id, &result);
        let done = jobs.get(&job.id).unwrap();
        assert_eq!(done.state, JobState::Failed);
        assert_eq!(done.error.as_deref(), Some(FAILED_DETAIL));
        assert!(done.started_at.is_some() && done.finished_at.is_some());
        assert!(jobs.active().is_none());
    }

    #[test]
    fn a_panicking_retraining_is_a_failed_job() {
        let jobs = RetrainJobs::default();
        let job = jobs.queue(JobCause::Feedback);
        let result = jobs.run(&job.id, || panic!("boom"));
        assert!(result.as_ref().unwrap_err().contains("boom"), "{result:?}");
        jobs.finish(&job.id, &result);
        assert_eq!(jobs.get(&job.id).unwrap().state, JobState::Failed);
    }

    #[test]
    fn the_table_keeps_the_last_jobs_and_never_drops_the_active_one() {
        let jobs = RetrainJobs::default();
        let first = jobs.queue(JobCause::Admin);
        let mut last = None;
        for _ in 0..KEPT_JOBS + 10 {
            let job = jobs.queue(JobCause::Feedback);
            let result = jobs.run(&job.id, failure);
            jobs.finish(&job.id, &result);
            last = Some(job.id);
        }
        assert_eq!(jobs.lock().len(), KEPT_JOBS);
        assert!(jobs.get(&first.id).is_some(), "the queued job was dropped");
        assert!(jobs.get(&last.unwrap()).is_some());
    }
}
