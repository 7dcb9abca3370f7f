//! `POST /admin/retrain | rollback | reload`, behind a bearer token compared in constant time.

use std::sync::Arc;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::serde::json::Json;
use rocket::{post, tokio, Request};
use sha2::{Digest, Sha256};

use super::State;
use crate::error::ApiError;
use crate::service::RetrainReport;
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

/// Retrain now (waits for the result).
#[utoipa::path(post, path = "/admin/retrain", tag = "admin", security(("bearer" = [])), responses((status = 200, body = RetrainReport), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
#[post("/admin/retrain")]
pub async fn retrain(
    service: State<'_>,
    admin: Result<Admin, ApiError>,
) -> Result<Json<RetrainReport>, ApiError> {
    guard(admin)?;
    let service: Arc<Service> = Arc::clone(service.inner());
    tokio::task::spawn_blocking(move || service.retrain_exclusive())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map(Json)
        .map_err(ApiError::from)
}

/// Serve the previous champion again.
#[utoipa::path(post, path = "/admin/rollback", tag = "admin", security(("bearer" = [])), responses((status = 200), (status = 401, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
#[post("/admin/rollback")]
pub fn rollback(
    service: State<'_>,
    admin: Result<Admin, ApiError>,
) -> Result<Json<serde_json::Value>, ApiError> {
    guard(admin)?;
    let v = service.rollback()?;
    Ok(Json(serde_json::json!({"serving": v})))
}

/// Re-read the registry's `current` pointer.
#[utoipa::path(post, path = "/admin/reload", tag = "admin", security(("bearer" = [])), responses((status = 200), (status = 401, body = crate::error::ErrorBody)))]
#[post("/admin/reload")]
pub fn reload(
    service: State<'_>,
    admin: Result<Admin, ApiError>,
) -> Result<Json<serde_json::Value>, ApiError> {
    guard(admin)?;
    let v = service.reload()?;
    Ok(Json(serde_json::json!({"serving": v})))
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
