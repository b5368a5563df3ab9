//! Every failure becomes one JSON shape, `{"code": ..., "message": ...}`, in one place:
//! the message is what the CLI prints after `error: `, the code is stable.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Box<ErrorBody>,
    /// The library error it came from: callers in this process can still ask whether it
    /// was the database's (`incident::is_store_error`, `is_damage`).
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The JSON body of every error.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable: `not_found`, `refused`, `invalid`, `exists`, `unauthorized`, `forbidden`,
    /// `too_large`, `busy`, `damaged`, `input`, `internal`.
    pub code: String,
    /// The message the CLI prints.
    pub message: String,
    /// For `refused`, the status the incident is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub status: Option<crate::model::Status>,
    /// The request field at fault, for `invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// More about the failure (a migration's summary up to the bad record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                code: code.into(),
                message: message.into(),
                status: None,
                field: None,
                detail: None,
            }),
            cause: None,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid", message);
        e.body.field = Some(field.to_string());
        e
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.body.detail = Some(detail);
        self
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The same answer for another request; the library error it came from stays with
    /// the original.
    pub(crate) fn copy(&self) -> Self {
        ApiError {
            status: self.status,
            body: self.body.clone(),
            cause: None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body.message)
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub(crate) use crate::text::error_chain as chain;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use crate::ErrorKind as K;
        let (status, code) = match e.kind() {
            K::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            K::Refused => (StatusCode::CONFLICT, "refused"),
            K::InvalidInput | K::Parse => (StatusCode::BAD_REQUEST, "invalid"),
            K::InvalidData => (StatusCode::BAD_REQUEST, "input"),
            K::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            K::Damaged => (StatusCode::INTERNAL_SERVER_ERROR, "damaged"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let mut out = ApiError::new(status, code, chain(&e));
        out.body.field = e.field().map(str::to_string);
        out.body.status = e.status();
        out.cause = Some(Box::new(e));
        out
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = %self.body.code, message = %self.body.message, "request failed");
        }
        (self.status, Json(*self.body)).into_response()
    }
}

/// Unknown routes answer with JSON too.
pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no such route: {}", uri.path()),
    )
}
