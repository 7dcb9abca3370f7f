//! `POST /admin/retrain | rollback | reload` and `GET /admin/retrain/{id}`, behind a bearer
//! token compared in constant time.

use std::sync::Arc;

use rocket::http::{Header, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::serde::json::Json;
use rocket::{get, post, Request, Responder};
use sha2::{Digest, Sha256};

use super::docs::{AdminErrors, Internal};
use super::State;
use crate::error::{ApiError, ErrorBody};
use crate::jobs::{RetrainJob, KEPT_JOBS};
use crate::Service;

/// Request guard: a valid `Authorization: Bearer <token>`.
pub struct Admin;

/// Compares the SHA-256 digests of the two tokens byte by byte without an early exit, so the
/// time taken says nothing about how much of a guess was right (or about the token's length).
pub fn token_matches(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(service) = req.rocket().state::<Arc<Service>>() else {
            return Outcome::Error((Status::InternalServerError, ApiError::internal("no state")));
        };
        let Some(expected) = service
            .config
            .admin_token
            .as_deref()
            .filter(|t| !t.is_empty())
        else {
            let e = ApiError::new(
                Status::Forbidden,
                "admin_disabled",
                "admin endpoints are disabled: set TYMPAN_ADMIN_TOKEN",
            );
            return Outcome::Error((e.status, e));
        };
        let given = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        if token_matches(given, expected) {
            Outcome::Success(Admin)
        } else {
            let e = ApiError::new(
                Status::Unauthorized,
                "unauthorized",
                "a valid bearer token is required",
            );
            Outcome::Error((e.status, e))
        }
    }
}

fn guard(admin: Result<Admin, ApiError>) -> Result<(), ApiError> {
    admin.map(|_| ())
}

/// A retraining accepted: its job, and where to follow it.
#[derive(Responder)]
#[response(status = 202)]
pub struct Accepted {
    job: Json<RetrainJob>,
    location: Header<'static>,
}

/// The path of a job's state.
fn job_path(id: &str) -> String {
    format!("/admin/retrain/{id}")
}

/// Start a retraining (asynchronous): the job is queued at once and runs on the retraining
/// thread; follow it at the `Location` answered.
#[utoipa::path(post, path = "/admin/retrain", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 202, body = RetrainJob, description = "accepted: the queued job",
            headers(("Location" = String, description = "`/admin/retrain/{id}`, the job's state"))),
        (status = 409, body = ErrorBody, description = "a retraining is running (its id in `job`), or a check of the retraining triggers is"),
        AdminErrors,
    ))]
#[post("/admin/retrain")]
pub fn retrain(service: State<'_>, admin: Result<Admin, ApiError>) -> Result<Accepted, ApiError> {
    guard(admin)?;
    let service: &Arc<Service> = service.inner();
    let job = service.request_retraining()?;
    let location = Header::new("Location", job_path(&job.id));
    Ok(Accepted {
        job: Json(job),
        location,
    })
}

/// The state of a retraining job: queued, running, succeeded (with its outcome) or failed.
#[utoipa::path(get, path = "/admin/retrain/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "the id `POST /admin/retrain` answered")),
    responses(
        (status = 200, body = RetrainJob, description = "the job: its state, and its outcome or error once finished"),
        (status = 404, body = ErrorBody, description = "no such job: never started, from before a restart, or older than the jobs kept"),
        AdminErrors,
    ))]
#[get("/admin/retrain/<id>")]
pub fn retrain_job(
    service: State<'_>,
    admin: Result<Admin, ApiError>,
    id: &str,
) -> Result<Json<RetrainJob>, ApiError> {
    guard(admin)?;
    service.retrain_job(id).map(Json).ok_or_else(|| {
        ApiError::new(
            Status::NotFound,
            "unknown_job",
            format!(
                "no such retraining job (the server keeps the last {KEPT_JOBS} since it started)"
            ),
        )
    })
}

/// What the version-changing admin actions answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Serving {
    /// The version served now.
    pub serving: String,
}

/// Serve the previous champion again.
#[utoipa::path(post, path = "/admin/rollback", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = Serving, description = "the previous champion is served"),
        (status = 409, body = ErrorBody, description = "no previous champion to go back to"),
        AdminErrors, Internal,
    ))]
#[post("/admin/rollback")]
pub fn rollback(
    service: State<'_>,
    admin: Result<Admin, ApiError>,
) -> Result<Json<Serving>, ApiError> {
    guard(admin)?;
    let serving = service.rollback()?;
    Ok(Json(Serving { serving }))
}

/// Re-read the registry's `current` pointer.
#[utoipa::path(post, path = "/admin/reload", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = Serving, description = "the version `current` names is served"),
        (status = 409, body = ErrorBody, description = "`current` names a version that is not in the registry"),
        AdminErrors, Internal,
    ))]
#[post("/admin/reload")]
pub fn reload(
    service: State<'_>,
    admin: Result<Admin, ApiError>,
) -> Result<Json<Serving>, ApiError> {
    guard(admin)?;
    let serving = service.reload()?;
    Ok(Json(Serving { serving }))
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn tokens_compare_by_value() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("", "s3cret"));
    }
}
