//! The one place where errors become HTTP responses: `{"error": ..., "detail": ...}` with the
//! right status, for handler errors and for Rocket's own (catchers).

use rocket::http::Status;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::{catch, Request};
use serde::Serialize;
use tympan_core::audio::AudioError;
use tympan_core::embedding::EmbedError;
use tympan_core::model::ModelError;
use tympan_core::registry::RegistryError;
use tympan_data::DataError;

use crate::service::ServiceError;

use crate::request_log::RequestId;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: Status,
    /// Short machine-friendly kind.
    pub error: &'static str,
    /// Human explanation.
    pub detail: String,
    /// The retraining job concerned: a 409 of `POST /admin/retrain` names the running one.
    pub job: Option<String>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Short kind, e.g. `unsupported_media_type`.
    pub error: String,
    /// What went wrong and how to fix it.
    pub detail: String,
    /// The running retraining job, when a retraining was refused because of it (409).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: Status, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
            job: None,
        }
    }

    /// 400.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(Status::BadRequest, "bad_request", detail)
    }

    /// 413.
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            Status::PayloadTooLarge,
            "payload_too_large",
            format!("the upload exceeds the limit of {limit} bytes"),
        )
    }

    /// 415.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            Status::UnsupportedMediaType,
            "unsupported_media_type",
            detail,
        )
    }

    /// 422.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(Status::UnprocessableEntity, "unprocessable", detail)
    }

    /// 500 (never caused by input).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(Status::InternalServerError, "internal", detail)
    }

    /// 503: the server's storage refused a write (full disk, I/O error); `detail`, naming the
    /// files, goes to the log only.
    pub fn storage_unavailable(detail: impl Into<String>) -> Self {
        Self::new(Status::ServiceUnavailable, STORAGE_UNAVAILABLE, detail)
    }
}

/// The `error` of a write the server's storage refused.
pub const STORAGE_UNAVAILABLE: &str = "storage_unavailable";

/// What a client is told when the server's storage refused a write: the request changed nothing
/// and can be sent again (the operator finds the file and the OS error in the log).
pub const STORAGE_DETAIL: &str =
    "the server could not write to its storage (full or failing); nothing was stored: try again later";

/// What a client is told of a server-side failure: its details (file paths, OS errors) are the
/// operator's, in the server log.
pub const INTERNAL_DETAIL: &str = "the server failed to answer; its log has the details";

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let request_id = RequestId::of(req);
        let route = crate::metrics::endpoint(req);
        // One event shape for both outcomes (a level is fixed per call site, hence the macro).
        macro_rules! answered {
            ($level:expr, $message:literal) => {
                tracing::event!(
                    $level,
                    request_id,
                    route,
                    status = self.status.code,
                    reason = self.error,
                    detail = %self.detail,
                    $message
                )
            };
        }
        // A 503 is a passing overload the server chose, not a failure of its own.
        if self.status.code >= 500 && self.status != Status::ServiceUnavailable {
            answered!(tracing::Level::ERROR, "request failed");
        } else {
            // The detail is the server's own explanation (what is wrong, which limit), at most
            // naming a field or a content type: never the uploaded data.
            answered!(tracing::Level::WARN, "request refused");
        }
        let detail = if self.status == Status::InternalServerError {
            INTERNAL_DETAIL.to_string()
        } else if self.error == STORAGE_UNAVAILABLE {
            STORAGE_DETAIL.to_string()
        } else {
            self.detail
        };
        let body = Json(ErrorBody {
            error: self.error.to_string(),
            detail,
            job: self.job,
        });
        let mut response = response::Response::build_from(body.respond_to(req)?);
        response.status(self.status);
        if self.status == Status::ServiceUnavailable {
            // Every 503 here is a passing overload: say when to come back.
            response.raw_header(
                "Retry-After",
                crate::embed_pool::RETRY_AFTER_SECONDS.to_string(),
            );
        }
        response.ok()
    }
}

impl From<EmbedError> for ApiError {
    fn from(e: EmbedError) -> Self {
        match e {
            EmbedError::Audio(AudioError::Unsupported(_)) => Self::new(
                Status::UnprocessableEntity,
                "unsupported_audio",
                e.to_string(),
            ),
            EmbedError::Audio(AudioError::Io { .. }) => Self::internal(e.to_string()),
            EmbedError::Audio(_) => Self::new(
                Status::UnprocessableEntity,
                "undecodable_audio",
                e.to_string(),
            ),
            EmbedError::Dimension { .. } => Self::unprocessable(e.to_string()),
            EmbedError::InvalidConfig(_) | EmbedError::Fit(_) | EmbedError::Artifact { .. } => {
                Self::internal(e.to_string())
            }
        }
    }
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Dimension { .. } => Self::unprocessable(e.to_string()),
            _ => Self::internal(e.to_string()),
        }
    }
}

impl From<DataError> for ApiError {
    fn from(e: DataError) -> Self {
        match e {
            DataError::Label(_) => {
                Self::new(Status::UnprocessableEntity, "invalid_label", e.to_string())
            }
            DataError::Append { .. } | DataError::Unavailable { .. } => {
                Self::storage_unavailable(e.to_string())
            }
            _ => Self::internal(e.to_string()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::UnknownVersion(_) | RegistryError::NoPrevious => {
                Self::new(Status::Conflict, "conflict", e.to_string())
            }
            RegistryError::Unavailable(_) => Self::storage_unavailable(e.to_string()),
            // A model that cannot be saved on a full disk: nothing changed, the champion serves.
            RegistryError::Io { ref source, .. }
                if source.kind() == std::io::ErrorKind::StorageFull =>
            {
                Self::storage_unavailable(e.to_string())
            }
            _ => Self::internal(e.to_string()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Embed(e) => e.into(),
            ServiceError::Model(e) => e.into(),
            ServiceError::Data(e) => e.into(),
            ServiceError::Registry(e) => e.into(),
            ServiceError::VectorLength { .. } => Self::unprocessable(e.to_string()),
            ServiceError::TooManyClasses(_) => Self::new(
                Status::UnprocessableEntity,
                "too_many_classes",
                e.to_string(),
            ),
            ServiceError::UnknownPrediction { .. } => {
                Self::new(Status::NotFound, "unknown_prediction", e.to_string())
            }
            ServiceError::FeedbackExists { .. } => {
                Self::new(Status::Conflict, "feedback_exists", e.to_string())
            }
            ServiceError::PredictionIdNotAClip => Self::unprocessable(e.to_string()),
            ServiceError::Database(_) => Self::storage_unavailable(e.to_string()),
            ServiceError::NotDeployed(_) => Self::internal(e.to_string()),
            ServiceError::RetrainedElsewhere => {
                Self::new(Status::Conflict, "retrained_elsewhere", e.to_string())
            }
            ServiceError::BadIdempotencyKey { .. } => Self::new(
                Status::UnprocessableEntity,
                "invalid_idempotency_key",
                e.to_string(),
            ),
            ServiceError::IdempotencyKeyReused { .. } => Self::new(
                Status::UnprocessableEntity,
                "idempotency_key_reused",
                e.to_string(),
            ),
            ServiceError::NoReport(detail) => Self::new(Status::Conflict, "no_report", detail),
            ServiceError::RetrainingBusy { ref job } => Self {
                job: job.clone(),
                ..Self::new(Status::Conflict, "retraining_running", e.to_string())
            },
            ServiceError::Overloaded { .. } => {
                Self::new(Status::ServiceUnavailable, "overloaded", e.to_string())
            }
            ServiceError::ReferenceWidth { .. }
            | ServiceError::NoCurrentModel
            | ServiceError::NotBootstrapped { .. }
            | ServiceError::EmbeddingLost
            | ServiceError::Report(_) => Self::internal(e.to_string()),
        }
    }
}

/// Catchers so that Rocket's own errors (unknown route, bad form...) are JSON too.
pub fn catchers() -> Vec<rocket::Catcher> {
    rocket::catchers![default_catcher]
}

#[catch(default)]
fn default_catcher(status: Status, _req: &Request<'_>) -> ApiError {
    let (error, detail) = match status.code {
        400 => ("bad_request", "the request could not be parsed"),
        401 => ("unauthorized", "a valid bearer token is required"),
        404 => ("not_found", "no such endpoint"),
        413 => ("payload_too_large", "the upload exceeds the size limit"),
        415 => ("unsupported_media_type", "unsupported content type"),
        422 => (
            "unprocessable",
            "the request is missing a field or has an invalid one (multipart needs a `file` field)",
        ),
        _ if status.code >= 500 => ("internal", "internal error"),
        _ => ("error", status.reason().unwrap_or("error")),
    };
    ApiError::new(status, error, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::local::blocking::Client;

    #[rocket::get("/fails")]
    fn fails() -> Result<&'static str, ApiError> {
        Err(ApiError::internal(
            "/srv/tympan/data/prod_data.csv: No space left on device",
        ))
    }

    #[rocket::get("/refused")]
    fn refused() -> Result<&'static str, ApiError> {
        Err(ApiError::unprocessable("label: empty"))
    }

    #[test]
    fn a_server_failure_tells_the_client_nothing_of_its_files() {
        let rocket = rocket::build().mount("/", rocket::routes![fails, refused]);
        let client = Client::tracked(rocket).unwrap();
        let resp = client.get("/fails").dispatch();
        assert_eq!(resp.status(), Status::InternalServerError);
        let body: serde_json::Value = resp.into_json().unwrap();
        assert_eq!(body["error"], "internal");
        assert_eq!(body["detail"], INTERNAL_DETAIL);
        // A client's own mistake keeps its explanation.
        let body: serde_json::Value = client.get("/refused").dispatch().into_json().unwrap();
        assert_eq!(body["detail"], "label: empty");
    }

    #[rocket::get("/service/<case>")]
    fn service_error(case: &str) -> Result<&'static str, ApiError> {
        let e = match case {
            "no_report" => ServiceError::NoReport("prod_data.csv: no data rows".into()),
            "vector" => ServiceError::VectorLength {
                got: 3,
                expected: 16,
            },
            "label" => ServiceError::Data(DataError::Label("empty".into())),
            "append" => ServiceError::Data(DataError::Append {
                path: "/srv/tympan/data/prod_data.csv".into(),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
                rolled_back: true,
            }),
            "save" => ServiceError::Registry(RegistryError::Io {
                path: "/srv/tympan/artifacts/models/.v0002.7.tmp".into(),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
            }),
            _ => ServiceError::Data(DataError::Io {
                path: "/srv/tympan/data/prod_data.csv".into(),
                source: std::io::Error::other("disk full"),
            }),
        };
        Err(e.into())
    }

    #[test]
    fn service_errors_map_to_one_status_each() {
        let rocket = rocket::build().mount("/", rocket::routes![service_error]);
        let client = Client::tracked(rocket).unwrap();
        for (case, status, code) in [
            ("no_report", Status::Conflict, "no_report"),
            ("vector", Status::UnprocessableEntity, "unprocessable"),
            ("label", Status::UnprocessableEntity, "invalid_label"),
            ("io", Status::InternalServerError, "internal"),
            ("append", Status::ServiceUnavailable, STORAGE_UNAVAILABLE),
            ("save", Status::ServiceUnavailable, STORAGE_UNAVAILABLE),
        ] {
            let resp = client.get(format!("/service/{case}")).dispatch();
            assert_eq!(resp.status(), status, "{case}");
            let body: serde_json::Value = resp.into_json().unwrap();
            assert_eq!(body["error"], code, "{case}");
            assert!(!body["detail"].as_str().unwrap().contains("/srv"), "{case}");
        }
    }
}
