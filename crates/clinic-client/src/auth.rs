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

/// Fresh random bytes for a signing key and its wrap.
pub fn key_seed() -> clinic_core::signing::KeySeed {
    clinic_core::signing::KeySeed::from_random(|b| rand::rngs::OsRng.fill_bytes(b))
}

/// A new signing key for `user`, sealed by `password`, made by `made_by`.
pub fn new_signing_key(
    tenant: uuid::Uuid,
    user: uuid::Uuid,
    password: &Password,
    made_by: uuid::Uuid,
) -> ClinicResult<(
    clinic_core::signing::UserSigner,
    clinic_core::signing::UserKey,
)> {
    clinic_core::signing::UserSigner::create(tenant, user, password, &key_seed(), made_by)
}
