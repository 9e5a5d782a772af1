//! User passwords on the workstation: the shared Argon2id profile of
//! `clinic_core::auth`, with salts from the OS random source.

use clinic_core::ClinicResult;
use rand::RngCore;

pub use clinic_core::auth::{verify_or_burn, verify_password, Password};

pub fn hash_password(p: &Password) -> ClinicResult<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    clinic_core::auth::hash_password(p, &salt)
}
