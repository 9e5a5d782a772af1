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
            StoreError::Sqlite(e) => ClinicError::internal(format!("storage: {e}")),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Clinic(ClinicError::internal(format!("stored document: {e}")))
    }
}

impl StoreError {
    /// What to tell a person.
    pub fn message(&self) -> String {
        ClinicError::from(self.clone_shallow()).message
    }

    fn clone_shallow(&self) -> StoreError {
        match self {
            StoreError::Clinic(c) => StoreError::Clinic(c.clone()),
            StoreError::Sqlite(e) => {
                StoreError::Clinic(ClinicError::internal(format!("storage: {e}")))
            }
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
