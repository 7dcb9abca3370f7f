//! Reading a clip from a request: multipart (`file` field), a raw `audio/*` or
//! `application/octet-stream` body, or JSON (`audio_base64` or an embedded `vector`).

use base64::Engine;
use rocket::data::{Data, ToByteUnit};
use rocket::form::{Errors, Form};
use rocket::http::ContentType;
use serde::Deserialize;

use crate::error::ApiError;

/// What the client sent to be classified.
#[derive(Debug, Clone, PartialEq)]
pub enum ClipInput {
    /// Encoded audio (any supported container).
    Audio(Vec<u8>),
    /// An already embedded `PCA_1..PCA_n` vector.
    Vector(Vec<f32>),
    /// Audio the server has embedded already ([`crate::embed_pool::embed`]).
    Embedded(EmbeddedClip),
    /// A prediction the server answered earlier, by its `prediction_id` (feedback only): its
    /// logged vector is the clip.
    Predicted(String),
}

/// A clip's embedding, made by the server from the audio a client sent.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedClip {
    /// The `PCA_1..PCA_n` vector.
    pub vector: Vec<f32>,
    /// Duration of the decoded clip.
    pub duration_seconds: f64,
    /// When the server began embedding it (the answer's processing time counts from there).
    pub started: std::time::Instant,
}

/// A clip plus the optional feedback fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The clip.
    pub clip: ClipInput,
    /// True label (feedback).
    pub target: Option<String>,
}

/// Multipart form fields.
#[derive(rocket::FromForm)]
pub struct AudioForm<'r> {
    /// The audio file.
    pub file: &'r [u8],
    /// True label (feedback only).
    pub target: Option<String>,
    /// Accepted for older clients and ignored: the server stores its own prediction.
    pub prediction: Option<String>,
}

/// JSON body: exactly one of `audio_base64`, `vector` and (feedback only) `prediction_id` (422
/// otherwise).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonClip {
    /// Base64 (standard alphabet) of an audio file.
    pub audio_base64: Option<String>,
    /// An already embedded vector (`PCA_1..PCA_n`): as many finite values as `/model`'s `dim`.
    pub vector: Option<Vec<f32>>,
    /// Feedback only: the `prediction_id` of an answer from `/predict`; the row stores that
    /// prediction's vector and label, so the clip need not be sent again.
    pub prediction_id: Option<String>,
    /// True label (feedback only, where it is required).
    pub target: Option<String>,
    /// Accepted for older clients and ignored: a feedback row stores the prediction of the
    /// model the server serves, never the client's.
    #[schema(deprecated)]
    pub prediction: Option<String>,
}

/// Converts a parsed multipart form, mapping Rocket's form errors to 413 or 422.
pub fn from_form(
    form: Result<Form<AudioForm<'_>>, Errors<'_>>,
    limit: u64,
) -> Result<Submission, ApiError> {
    match form {
        Ok(f) => {
            if f.file.is_empty() {
                return Err(ApiError::unprocessable("the `file` field is empty"));
            }
            Ok(Submission {
                clip: ClipInput::Audio(f.file.to_vec()),
                target: f.target.clone(),
            })
        }
        Err(errors) => {
            let too_large = errors
                .iter()
                .any(|e| matches!(e.kind, rocket::form::error::ErrorKind::InvalidLength { .. }));
            if too_large {
                Err(ApiError::too_large(limit))
            } else {
                let detail = errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(ApiError::unprocessable(format!(
                    "invalid multipart form (expected a `file` field): {detail}"
                )))
            }
        }
    }
}

/// Reads a body of at most `limit` bytes, 413 beyond.
async fn read_capped(data: Data<'_>, limit: u64) -> Result<Vec<u8>, ApiError> {
    let capped = data
        .open(limit.bytes())
        .into_bytes()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body failed: {e}")))?;
    if !capped.is_complete() {
        return Err(ApiError::too_large(limit));
    }
    Ok(capped.into_inner())
}

/// Parses a JSON body.
pub async fn from_json(data: Data<'_>, limit: u64) -> Result<Submission, ApiError> {
    // Base64 inflates the audio by 4/3; allow that on top of the audio limit.
    let bytes = read_capped(data, limit / 3 * 4 + 4096).await?;
    let body: JsonClip = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::unprocessable(format!("invalid JSON body: {e}")))?;
    let clip =
        match (body.audio_base64, body.vector, body.prediction_id) {
            (Some(b64), None, None) => {
                let audio = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| {
                        ApiError::unprocessable(format!("audio_base64 is not valid base64: {e}"))
                    })?;
                if audio.len() as u64 > limit {
                    return Err(ApiError::too_large(limit));
                }
                ClipInput::Audio(audio)
            }
            (None, None, Some(id)) => ClipInput::Predicted(id),
            (None, Some(v), None) => {
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(ApiError::unprocessable("vector has non-finite values"));
                }
                ClipInput::Vector(v)
            }
            _ => return Err(ApiError::unprocessable(
                "give exactly one of `audio_base64`, `vector` and `prediction_id` (feedback only)",
            )),
        };
    Ok(Submission {
        clip,
        target: body.target,
    })
}

/// Parses a raw audio body; the content type must be `audio/*` or `application/octet-stream`
/// (or absent).
pub async fn from_raw(
    content_type: Option<&ContentType>,
    data: Data<'_>,
    limit: u64,
    target: Option<String>,
) -> Result<Submission, ApiError> {
    if let Some(ct) = content_type {
        let ok = ct.top() == "audio" || (ct.top() == "application" && ct.sub() == "octet-stream");
        if !ok {
            return Err(ApiError::unsupported_media_type(format!(
                "content type {ct} is not accepted: send audio/*, application/octet-stream, \
                 multipart/form-data (field `file`) or application/json"
            )));
        }
    }
    let audio = read_capped(data, limit).await?;
    if audio.is_empty() {
        return Err(ApiError::unprocessable("the body is empty"));
    }
    Ok(Submission {
        clip: ClipInput::Audio(audio),
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::{ContentType, Status};
    use rocket::local::blocking::Client;

    const LIMIT: u64 = 64;

    fn describe(s: Submission) -> String {
        match s.clip {
            ClipInput::Audio(a) => format!("audio {} {:?}", a.len(), s.target),
            ClipInput::Vector(v) => format!("vector {v:?} {:?}", s.target),
            ClipInput::Embedded(e) => format!("embedded {:?} {:?}", e.vector, s.target),
            ClipInput::Predicted(id) => format!("predicted {id} {:?}", s.target),
        }
    }

    #[rocket::post("/json", data = "<data>")]
    async fn json(data: Data<'_>) -> Result<String, ApiError> {
        from_json(data, LIMIT).await.map(describe)
    }

    #[rocket::post("/raw", data = "<data>")]
    async fn raw(ct: Option<&ContentType>, data: Data<'_>) -> Result<String, ApiError> {
        from_raw(ct, data, LIMIT, Some("7".into()))
            .await
            .map(describe)
    }

    fn client() -> Client {
        Client::tracked(rocket::build().mount("/", rocket::routes![json, raw])).unwrap()
    }

    fn post(client: &Client, uri: &str, ct: ContentType, body: &[u8]) -> (Status, String) {
        let resp = client.post(uri).header(ct).body(body).dispatch();
        (resp.status(), resp.into_string().unwrap_or_default())
    }

    #[test]
    fn json_takes_exactly_one_of_audio_and_vector() {
        let c = client();
        let ok = post(
            &c,
            "/json",
            ContentType::JSON,
            br#"{"vector":[1,-2.5],"target":"a"}"#,
        );
        assert_eq!(ok, (Status::Ok, r#"vector [1.0, -2.5] Some("a")"#.into()));
        let ok = post(
            &c,
            "/json",
            ContentType::JSON,
            br#"{"audio_base64":"AAEC"}"#,
        );
        assert_eq!(ok, (Status::Ok, "audio 3 None".into()));
        for body in [
            &br#"{"vector":[1],"audio_base64":"AAEC"}"#[..],
            br#"{}"#,
            br#"{"audio_base64":"not base64!"}"#,
            br#"{"vector":[1],"path":"/etc/passwd"}"#,
            br#"{"vector":[1"#,
        ] {
            let (status, text) = post(&c, "/json", ContentType::JSON, body);
            assert_eq!(status, Status::UnprocessableEntity, "{text}");
            assert!(text.contains("\"error\""), "{text}");
        }
    }

    #[test]
    fn bodies_over_the_limit_are_413_and_odd_types_415() {
        let c = client();
        // Base64 of 66 bytes: within the inflated JSON cap, over the audio limit once decoded.
        let b64 = base64::engine::general_purpose::STANDARD.encode([0u8; 66]);
        let body = format!(r#"{{"audio_base64":"{b64}"}}"#);
        let (status, _) = post(&c, "/json", ContentType::JSON, body.as_bytes());
        assert_eq!(status, Status::PayloadTooLarge);
        let (status, _) = post(&c, "/raw", ContentType::WAV, &[1u8; 65]);
        assert_eq!(status, Status::PayloadTooLarge);
        let ok = post(&c, "/raw", ContentType::WAV, &[1u8; 64]);
        assert_eq!(ok, (Status::Ok, r#"audio 64 Some("7")"#.into()));
        let (status, text) = post(&c, "/raw", ContentType::Plain, b"hello");
        assert_eq!(status, Status::UnsupportedMediaType, "{text}");
        let (status, _) = post(&c, "/raw", ContentType::Binary, b"");
        assert_eq!(status, Status::UnprocessableEntity);
    }
}
