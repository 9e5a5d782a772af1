//! The clinic domain, pure: entities, validation, permissions, audit hashing,
//! search rules and error codes, one module per domain, and the sync kernel
//! that knows none of them. No I/O, no clock, no framework; time and ids
//! are passed in so that every rule is testable and replayable.

pub mod api;
pub mod audit;
pub mod auth;
pub mod error;
pub mod locale;
pub mod permissions;
pub mod search;
pub mod signing;
pub mod sync;
pub mod totp;

// Domains: each declares its record kinds and mutations and registers them.
pub mod billing;
pub mod clinical;
pub mod directory;
pub mod inventory;
pub mod patients;
pub mod scheduling;

pub use error::{ClinicError, ClinicResult, ErrorCode, FieldError};

/// Registers the product's domains with the sync kernel, one line each.
pub fn register_domains(r: &mut sync::Registry) {
    patients::register(r);
    scheduling::register(r);
    directory::register(r);
    clinical::register(r);
    billing::register(r);
    inventory::register(r);
}
