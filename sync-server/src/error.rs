//! The server's errors, mapped onto the shared error codes and HTTP statuses.

use crate::MAX_BODY_BYTES;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clinic_core::{ClinicError, ErrorCode};

/// Everything that can go wrong in the server, mapped onto the shared
/// error codes and HTTP statuses. Internal details are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Clinic(#[from] ClinicError),
    #[error("database: {0}")]
    Database(String),
    #[error("startup: {0}")]
    Startup(String),
    #[error("request body too large")]
    TooLarge,
    #[error("no database connection free")]
    Busy,
    /// Too many attempts: try again after this long (429 with `Retry-After`).
    #[error("rate limited")]
    RateLimited(std::time::Duration),
}

/// Whole seconds to wait, rounded up (at least one).
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl ServerError {
    fn status_and_body(&self) -> (StatusCode, ClinicError) {
        match self {
            ServerError::Clinic(e) => {
                let status = match e.code {
                    ErrorCode::Validation => StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::NotFound => StatusCode::NOT_FOUND,
                    ErrorCode::Forbidden => StatusCode::FORBIDDEN,
                    ErrorCode::InvalidCredentials
                    | ErrorCode::SessionLocked
                    | ErrorCode::MfaRequired
                    | ErrorCode::PasswordChangeRequired
                    | ErrorCode::CredentialExpired => StatusCode::UNAUTHORIZED,
                    ErrorCode::AccountLocked | ErrorCode::RateLimited => {
                        StatusCode::TOO_MANY_REQUESTS
                    }
                    ErrorCode::Conflict
                    | ErrorCode::NumbersExhausted
                    | ErrorCode::AlreadyIssued
                    | ErrorCode::OverRefund => StatusCode::CONFLICT,
                    ErrorCode::ConfirmationNeeded | ErrorCode::SafetyWarning => {
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                    ErrorCode::UpdateRequired => StatusCode::UPGRADE_REQUIRED,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, e.clone())
            }
            ServerError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                ClinicError::new(
                    ErrorCode::Unreachable,
                    "The server is busy; try again in a moment.",
                ),
            ),
            ServerError::RateLimited(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                ClinicError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "Too many attempts; try again in {} seconds.",
                        retry_after_secs(*wait)
                    ),
                ),
            ),
            ServerError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ClinicError::new(
                    ErrorCode::Validation,
                    format!(
                        "The request is too large (at most {} KiB).",
                        MAX_BODY_BYTES / 1024
                    ),
                ),
            ),
            ServerError::Database(_) | ServerError::Startup(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ClinicError::new(
                    ErrorCode::Internal,
                    "The server could not complete the request.",
                ),
            ),
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut res = (status, Json(serde_json::json!({ "error": body }))).into_response();
        if let ServerError::RateLimited(wait) = self {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs(wait)),
            );
        }
        res
    }
}

impl From<tokio_postgres::Error> for ServerError {
    fn from(e: tokio_postgres::Error) -> Self {
        crate::db::map_db(e)
    }
}
