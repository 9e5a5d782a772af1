//! Staff passwords: one Argon2id profile shared by the workstation (offline
//! sign-in against cached hashes) and the server, so a hash made by either
//! verifies on both. Pure: the caller supplies the random salt.

use crate::error::{ClinicError, ClinicResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A password as typed. Cannot be printed; zeroed on drop.
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
            return Err(ClinicError::field(
                "password",
                "must be at least 10 characters",
            ));
        }
        Ok(Self(s))
    }
    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
    /// The password itself, only to send it to the sync server over its
    /// connection (never to log or store).
    pub fn expose_for_transport(&self) -> &str {
        &self.0
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

/// The PHC string of `p` with the given 16 random bytes as salt.
pub fn hash_password(p: &Password, salt: &[u8; 16]) -> ClinicResult<String> {
    let salt = SaltString::encode_b64(salt).map_err(ClinicError::internal)?;
    hasher()
        .hash_password(p.bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ClinicError::internal)
}

pub fn verify_password(p: &Password, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| hasher().verify_password(p.bytes(), &h).is_ok())
}

/// Verifies against `phc`, or, for an account that does not exist (`None`),
/// spends the same time on a stand-in hash and answers false, so that an
/// unknown account cannot be told from a wrong password by timing.
pub fn verify_or_burn(p: &Password, phc: Option<&str>) -> bool {
    static STAND_IN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stand_in = STAND_IN.get_or_init(|| {
        hash_password(&Password::new("not-a-password".into()), &[7; 16]).unwrap_or_default()
    });
    let ok = verify_password(p, phc.unwrap_or(stand_in));
    ok && phc.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let p = Password::new("correct horse".into());
        let a = hash_password(&p, &[1; 16]).unwrap();
        let b = hash_password(&p, &[2; 16]).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_ne!(a, b);
        assert!(verify_password(&p, &a) && verify_password(&p, &b));
        assert!(!verify_password(&Password::new("wrong horse".into()), &a));
        assert!(!verify_password(&p, "not a hash"));
        assert!(verify_or_burn(&p, Some(&a)));
        assert!(
            !verify_or_burn(&p, None),
            "an unknown account never signs in"
        );
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
    }
}
