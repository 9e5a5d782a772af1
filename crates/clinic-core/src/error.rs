//! One error vocabulary for every consumer (CLI, desktop IPC, HTTP later).
//! Consumers branch on [`ErrorCode`], never on message text.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable, machine-readable error codes. Add one only when a consumer needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ErrorCode {
    /// Input failed validation; see the field errors.
    Validation,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// The acting user may not do this.
    Forbidden,
    /// Wrong email or password, or the account is disabled.
    InvalidCredentials,
    /// Too many failed sign-ins; wait before trying again.
    AccountLocked,
    /// Too many attempts from this address or for this account (sign-in,
    /// refresh, enrolment); wait as long as the answer says.
    RateLimited,
    /// The account uses multi-factor sign-in: send the authenticator's code.
    MfaRequired,
    /// The store passphrase or keychain key does not open this store.
    WrongKey,
    /// The store needs a passphrase (no usable keychain entry).
    KeyUnavailable,
    /// The OS keychain entry for this store is missing or was replaced.
    KeychainMismatch,
    /// There is no workstation store in the data directory.
    StoreMissing,
    /// The data directory already holds a store.
    StoreExists,
    /// The data directory is damaged or inconsistent (e.g. database without key envelope).
    StoreCorrupt,
    /// The database was written by a newer version of the application.
    SchemaTooNew,
    /// The operation conflicts with current state (e.g. editing an archived patient).
    Conflict,
    /// No more offline numbers in the leased blocks.
    NumbersExhausted,
    /// The audit chain failed verification.
    AuditChainBroken,
    /// The session was locked after being idle.
    SessionLocked,
    /// The sync server could not be reached (the workstation keeps working offline).
    Unreachable,
    /// The workstation and the server speak different protocol or schema
    /// versions: update the application (nothing was written).
    UpdateRequired,
    /// The account's password was reset: choose a new one before anything else.
    PasswordChangeRequired,
    /// The workstation's sync credential expired (it was not synced for
    /// months): an administrator signing in on it renews it.
    CredentialExpired,
    /// Values outside their usual range (an SpO2 of 62 %): kept once the
    /// person confirms them (`--confirm`).
    ConfirmationNeeded,
    /// A prescribing safety check found a severe problem: prescribed only
    /// with an override and its reason.
    SafetyWarning,
    /// A signed document no longer matches its signature's hash.
    SignatureMismatch,
    /// An issued invoice is never edited: corrections are credit notes.
    AlreadyIssued,
    /// A refund (or credit) beyond what is left of what was paid.
    OverRefund,
    /// A money document dated inside a closed period (date it today).
    PeriodClosed,
    /// Something unexpected in storage or the platform.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Validation => "VALIDATION",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::InvalidCredentials => "INVALID_CREDENTIALS",
            ErrorCode::AccountLocked => "ACCOUNT_LOCKED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::MfaRequired => "MFA_REQUIRED",
            ErrorCode::WrongKey => "WRONG_KEY",
            ErrorCode::KeyUnavailable => "KEY_UNAVAILABLE",
            ErrorCode::KeychainMismatch => "KEYCHAIN_MISMATCH",
            ErrorCode::StoreMissing => "STORE_MISSING",
            ErrorCode::StoreExists => "STORE_EXISTS",
            ErrorCode::StoreCorrupt => "STORE_CORRUPT",
            ErrorCode::SchemaTooNew => "SCHEMA_TOO_NEW",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::NumbersExhausted => "NUMBERS_EXHAUSTED",
            ErrorCode::AuditChainBroken => "AUDIT_CHAIN_BROKEN",
            ErrorCode::SessionLocked => "SESSION_LOCKED",
            ErrorCode::Unreachable => "UNREACHABLE",
            ErrorCode::UpdateRequired => "UPDATE_REQUIRED",
            ErrorCode::PasswordChangeRequired => "PASSWORD_CHANGE_REQUIRED",
            ErrorCode::CredentialExpired => "CREDENTIAL_EXPIRED",
            ErrorCode::ConfirmationNeeded => "CONFIRMATION_NEEDED",
            ErrorCode::SafetyWarning => "SAFETY_WARNING",
            ErrorCode::SignatureMismatch => "SIGNATURE_MISMATCH",
            ErrorCode::AlreadyIssued => "ALREADY_ISSUED",
            ErrorCode::OverRefund => "OVER_REFUND",
            ErrorCode::PeriodClosed => "PERIOD_CLOSED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem with one input field, phrased for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The error every use-case returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{message}")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClinicError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

impl ClinicError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let summary = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            code: ErrorCode::Validation,
            message: format!("Please correct: {summary}"),
            fields,
        }
    }
    /// A validation error about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_string(),
            message: message.into(),
        }])
    }
    /// A conflict with the record's current state (refused, kept for a person to resolve).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn forbidden(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, what)
    }
    pub fn internal(what: impl fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, format!("internal error: {what}"))
    }
}

pub type ClinicResult<T> = Result<T, ClinicError>;

/// What is wrong with one value, phrased for the person who typed it. The
/// caller knows which field the value came from and names it
/// ([`FieldErrors::add`] takes this directly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<Invalid> for String {
    fn from(i: Invalid) -> String {
        i.0
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Collects field errors while validating an input, then fails once with all of them.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_result(self) -> ClinicResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ClinicError::validation(self.0))
        }
    }
}
