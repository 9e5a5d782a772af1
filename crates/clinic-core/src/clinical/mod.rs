//! Clinical records (issue #19), built up in steps: so far the rules of
//! vital signs. Encounters, their drafts, signing and prescriptions follow,
//! registered with the sync kernel like every other domain.

pub mod vitals;

pub use vitals::*;
