//! The one error type HTTP handlers return: a status, a stable machine-readable code, and a
//! message for people. Internal details go to the log, never to the client.
//!
//! Not every error comes from a handler: axum's extractors, its method router (405), tower's
//! body limits (413) and timeouts (408) answer with plain text or nothing at all. Handlers map
//! the rejections they can name (`From<JsonRejection>`); [`json_error_bodies`] rewrites whatever
//! else reaches the client, so every error has the documented shape
//! `{"error": {"code", "message"}}` (docs/protocol.md).

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde_json::json;

use crate::relay::RelayError;
use crate::storage::StorageError;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code clients branch on, e.g. `invalid_token`.
    pub code: &'static str,
    /// What was wrong and what to do.
    pub message: String,
    /// Seconds to wait before trying again, sent as `Retry-After` (rate limits).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// The same error with `Retry-After: seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 500 that logs the cause and tells the client only that the relay failed.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the relay failed; try again later")
    }

    /// The error for a status that no handler described: a stable code derived from the status
    /// (`method_not_allowed`, `body_too_large`, …) and `message`.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, code_for_status(status), message)
    }
}

/// The code of an error answer that carries no code of its own, by status. Handler errors keep
/// their specific codes; these cover what the framework answers by itself.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "no_such_endpoint",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        409 => "conflict",
        411 => "length_required",
        413 => "body_too_large",
        414 => "uri_too_long",
        415 => "bad_content_type",
        416 => "bad_range",
        422 => "malformed_body",
        429 => "rate_limited",
        431 => "headers_too_large",
        501 => "not_implemented",
        503 => "unavailable",
        504 => "timeout",
        // 400 and the other client errors without a code of their own.
        400..=499 => "bad_request",
        _ => "internal",
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        let status = e.status();
        let code = match &e {
            JsonRejection::MissingJsonContentType(_) => "bad_content_type",
            JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => "malformed_body",
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            _ => code_for_status(status),
        };
        // A JSON body that does not parse is a bad request (400), like every other malformed
        // body of the protocol; axum's 422 for "parses but has the wrong fields" is kept apart
        // only by the message.
        let status = if code == "malformed_body" { StatusCode::BAD_REQUEST } else { status };
        let message = match code {
            "bad_content_type" => "send the body as Content-Type: application/json".to_owned(),
            _ => e.body_text(),
        };
        ApiError::new(status, code, message)
    }
}

/// Longest framework error text kept as the message; longer bodies are not read.
const MAX_ERROR_TEXT: usize = 1024;

/// Middleware: turns every error response (4xx/5xx) that is not already JSON into the documented
/// `{"error": {"code", "message"}}`, keeping its status and headers (`Allow`, `Retry-After`,
/// …). The framework's own short text, when there is one, becomes the message.
pub async fn json_error_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    // The console's own error pages (HTML) stay pages.
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, MAX_ERROR_TEXT).collect().await {
        Ok(collected) => String::from_utf8(collected.to_bytes().to_vec()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    let text = text.trim();
    let message = if status.is_server_error() {
        // Server-side text may name internals: the log gets it, the client a plain sentence.
        if !text.is_empty() {
            tracing::error!(status = status.as_u16(), cause = %text, "error answer without a code");
        }
        describe_status(status, None)
    } else if text.is_empty() {
        describe_status(status, parts.headers.get(header::ALLOW))
    } else {
        text.to_owned()
    };
    let rewritten = ApiError::from_status(status, message).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (new_parts, new_body) = rewritten.into_parts();
    parts.headers.extend(new_parts.headers);
    Response::from_parts(parts, Body::new(new_body))
}

/// A sentence for a status that came with no text.
fn describe_status(status: StatusCode, allow: Option<&HeaderValue>) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => match allow.and_then(|v| v.to_str().ok()) {
            Some(allowed) => format!("this endpoint does not take that method; it takes {allowed}"),
            None => "this endpoint does not take that method".to_owned(),
        },
        StatusCode::REQUEST_TIMEOUT => {
            "the request took longer than the relay allows; send it again".to_owned()
        }
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than this endpoint accepts".to_owned(),
        s if s.is_server_error() => "the relay failed; try again later".to_owned(),
        s => format!("the relay refused the request ({s})"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } })))
                .into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<RelayError> for ApiError {
    fn from(e: RelayError) -> Self {
        match e {
            RelayError::BadCursor(m) => {
                ApiError::bad_request("bad_cursor", format!("the sync cursor is malformed: {m}"))
            }
            RelayError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the relay could not process the request; retry",
            ),
            RelayError::Storage(e) => e.into(),
            RelayError::NoSuchPair(m) => ApiError::new(StatusCode::NOT_FOUND, "no_such_pair", m),
            RelayError::Transfer(m) => ApiError::new(StatusCode::BAD_REQUEST, "bad_transfer", m),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound(what) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
            }
            StorageError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StorageError::Backend(_) | StorageError::Incompatible(_) => {
                tracing::error!(error = %e, "storage error");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the relay's storage failed; retry later",
                )
            }
        }
    }
}
