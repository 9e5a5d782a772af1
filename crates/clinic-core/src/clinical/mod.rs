//! Clinical records (issue #19), built up in steps: so far the rules of
//! vital signs and what a signed note holds (and the hash its signature
//! covers). Encounters as records, their drafts and mutations, and
//! prescriptions follow, registered with the sync kernel like every other
//! domain.

pub mod encounter;
pub mod vitals;

pub use encounter::*;
pub use vitals::*;
