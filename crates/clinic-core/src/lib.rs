//! The clinic domain, pure: entities, validation, permissions, audit hashing,
//! search rules and error codes. No I/O, no clock, no framework; time and ids
//! are passed in so that every rule is testable and replayable.

pub mod api;
pub mod audit;
pub mod auth;
pub mod demo;
pub mod directory;
pub mod error;
pub mod ical;
pub mod national_id;
pub mod patient;
pub mod patient_number;
pub mod permissions;
pub mod schedule;
pub mod search;
pub mod sync;
pub mod totp;

pub use error::{ClinicError, ClinicResult, ErrorCode, FieldError};
