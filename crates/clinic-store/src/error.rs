//! The store's errors: SQLite's own, or a domain refusal (a rule said no, a
//! record was not found). `?` turns either into the other layers'
//! [`ClinicError`], so no call site maps errors by hand.

use clinic_core::{ClinicError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Clinic(#[from] ClinicError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<StoreError> for ClinicError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Clinic(c) => c,
            StoreError::Sqlite(e) => sqlite_error(&e),
        }
    }
}

/// SQLite's own failure, as every layer reports it (no patient data in it).
fn sqlite_error(e: &rusqlite::Error) -> ClinicError {
    ClinicError::internal(format!("storage: {e}"))
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Clinic(ClinicError::internal(format!("stored document: {e}")))
    }
}

impl StoreError {
    /// What to tell a person.
    pub fn message(&self) -> String {
        match self {
            StoreError::Clinic(c) => c.message.clone(),
            StoreError::Sqlite(e) => sqlite_error(e).message,
        }
    }

    /// The stable code of the error (`INTERNAL` for SQLite's own).
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::Clinic(c) => c.code,
            StoreError::Sqlite(_) => ErrorCode::Internal,
        }
    }
}
