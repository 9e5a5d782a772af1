//! User passwords on the workstation: the shared Argon2id profile of
//! `clinic_core::auth`, with salts from the OS random source.

use clinic_core::ClinicResult;
use rand::RngCore;

pub use clinic_core::auth::{verify_password, Password};

pub fn hash_password(p: &Password) -> ClinicResult<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    clinic_core::auth::hash_password(p, &salt)
}

/// Spends the same time as a real verification, so that an unknown email
/// cannot be told apart from a wrong password by timing.
pub fn burn_verification(p: &Password) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash_password(&Password::new("not-a-real-password".into())).unwrap_or_default()
    });
    let _ = verify_password(p, dummy);
}
