//! User passwords: Argon2id PHC strings, verified offline against the local cache.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use clinic_core::{ClinicError, ClinicResult, FieldError};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A user's password as typed. Cannot be printed; zeroed on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub fn new(s: String) -> Self {
        Self(s)
    }
    /// A password acceptable for a new account.
    pub fn new_checked(s: String) -> ClinicResult<Self> {
        if s.chars().count() < 10 {
            return Err(ClinicError::validation(vec![FieldError {
                field: "password".into(),
                message: "must be at least 10 characters".into(),
            }]));
        }
        Ok(Self(s))
    }
    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// OWASP's Argon2id profile for interactive logins (19 MiB, 2 passes).
fn hasher() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid params"),
    )
}

pub fn hash_password(p: &Password) -> ClinicResult<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher()
        .hash_password(p.bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ClinicError::internal)
}

pub fn verify_password(p: &Password, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| hasher().verify_password(p.bytes(), &h).is_ok())
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
