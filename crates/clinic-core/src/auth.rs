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
        let n = s.chars().count();
        if n < 10 {
            return Err(ClinicError::field(
                "password",
                "must be at least 10 characters",
            ));
        }
        if n > 128 {
            return Err(ClinicError::field(
                "password",
                "must be at most 128 characters",
            ));
        }
        let lower = s.to_lowercase();
        let first = lower.chars().next();
        if lower.chars().all(|c| Some(c) == first) || COMMON.contains(&lower.as_str()) {
            return Err(ClinicError::field(
                "password",
                "is one of the passwords tried first by attackers; choose another",
            ));
        }
        Ok(Self(s))
    }

    /// The policy for `email`'s password: [`Password::new_checked`], and
    /// not the e-mail address, nor its name part with digits or signs added.
    pub fn checked_for(s: String, email: &str) -> ClinicResult<Self> {
        let p = Self::new_checked(s)?;
        let lower = p.0.to_lowercase();
        let email = email.trim().to_lowercase();
        let name = email.split('@').next().unwrap_or("");
        let bare = lower.trim_matches(|c: char| !c.is_alphabetic());
        if lower == email || bare == name || bare == name.trim_matches(|c: char| !c.is_alphabetic())
        {
            return Err(ClinicError::field(
                "password",
                "must not contain the e-mail address",
            ));
        }
        Ok(p)
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

/// Passwords of 10 characters or more that lead the public lists of
/// breached passwords (the most frequent entries of the SecLists
/// "10-million-password-list-top" files and of Have I Been Pwned's
/// published top list); shorter ones are refused by length already.
const COMMON: &[&str] = &[
    "1234567890",
    "0123456789",
    "0987654321",
    "9876543210",
    "1234567891",
    "12345678910",
    "123456789a",
    "a123456789",
    "123456789q",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "zaq12wsx",
    "password12",
    "password123",
    "password1234",
    "password1!",
    "passw0rd12",
    "p@ssw0rd123",
    "iloveyou12",
    "iloveyou123",
    "welcome123",
    "welcome1234",
    "letmein123",
    "changeme123",
    "administrator",
    "admin12345",
    "admin123456",
    "football12",
    "football123",
    "baseball12",
    "princess12",
    "sunshine12",
    "superman12",
    "starwars12",
    "basketball",
    "michael123",
    "charlie123",
    "abc1234567",
    "abcd123456",
    "abcdefghij",
    "asdfghjkl1",
    "asdfghjkl;",
    "zxcvbnm123",
    "monkey1234",
    "dragon1234",
    "trustno1234",
    "clinic1234",
];

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

/// The most work a stored hash may ask of whoever checks a password
/// against it (the server included): a hash travels in a change from a
/// desk, so its cost is bounded like any other field. Ours ask for
/// 19 MiB and 2 passes.
const MAX_HASH_KIB: u32 = 64 * 1024;
const MAX_HASH_PASSES: u32 = 4;
const MAX_HASH_LANES: u32 = 4;

/// An Argon2id PHC string whose cost stays within the bounds above.
pub fn check_password_hash(phc: &str) -> Result<(), &'static str> {
    let h = PasswordHash::new(phc).map_err(|_| "must be an Argon2id hash")?;
    if h.algorithm.as_str() != "argon2id" {
        return Err("must be an Argon2id hash");
    }
    let p = Params::try_from(&h).map_err(|_| "has invalid Argon2 parameters")?;
    if p.m_cost() > MAX_HASH_KIB || p.t_cost() > MAX_HASH_PASSES || p.p_cost() > MAX_HASH_LANES {
        return Err("asks for more Argon2 work than any version uses");
    }
    Ok(())
}

/// Whether `p` is the password of `phc`; a hash that asks for more work
/// than [`check_password_hash`] allows is refused before any work.
pub fn verify_password(p: &Password, phc: &str) -> bool {
    check_password_hash(phc).is_ok()
        && PasswordHash::new(phc).is_ok_and(|h| hasher().verify_password(p.bytes(), &h).is_ok())
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
    fn a_hash_asking_for_too_much_work_is_refused_before_any() {
        let ours = hash_password(&Password::new("correct horse".into()), &[1; 16]).unwrap();
        assert!(check_password_hash(&ours).is_ok());
        // 4 GiB of memory: refused at once (checking it would take seconds and the memory).
        let greedy = ours.replace("m=19456,t=2,p=1", "m=4194304,t=2,p=1");
        assert!(check_password_hash(&greedy).is_err());
        let started = std::time::Instant::now();
        assert!(!verify_password(
            &Password::new("correct horse".into()),
            &greedy
        ));
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        for bad in [
            ours.replace("t=2", "t=1000"),
            ours.replace("p=1", "p=64"),
            ours.replace("argon2id", "argon2i"),
            "plain".into(),
        ] {
            assert!(check_password_hash(&bad).is_err(), "{bad}");
        }
    }

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

#[cfg(test)]
mod policy_tests {
    use super::*;

    #[test]
    fn the_password_policy_refuses_short_common_and_own_email_passwords() {
        let refused =
            |p: &str| Password::checked_for(p.into(), "rita.okafor@clinic.example").is_err();
        assert!(refused("short1"));
        assert!(refused("1234567890"), "a common one");
        assert!(refused("Password123"), "common, whatever the case");
        assert!(refused("aaaaaaaaaaaa"), "one character repeated");
        assert!(refused("rita.okafor@clinic.example"), "the e-mail");
        assert!(refused("rita.okafor2024!"), "the e-mail's name with digits");
        assert!(refused(&"x".repeat(129)), "too long");
        for ok in [
            "correct horse battery",
            "Rita's 3 cats purr",
            "déjà-vu à Paris 7",
        ] {
            assert!(!refused(ok), "{ok}");
        }
    }
}
