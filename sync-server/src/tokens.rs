//! Credentials the server issues.
//!
//! - Access token: `base64url(claims).base64url(HMAC-SHA256)`, valid 15
//!   minutes; each request also checks the user is active and the token's
//!   version is current, so "log out everywhere" and disabling an account
//!   take effect at once.
//! - Refresh token: `rt.<tenant>.<random>`, stored only as a SHA-256 hash,
//!   rotated on every use; presenting a used one revokes its whole family.
//!   A family (the tokens descending from one sign-in) ends
//!   [`REFRESH_FAMILY_DAYS`] after that sign-in, however often it is rotated.
//! - Device credential: `dv.<tenant>.<device>.<random>`, stored as a hash.
//!
//! Secrets are 256-bit random values, so a plain SHA-256 suffices to store
//! them (there is nothing to brute-force); passwords use Argon2id.

use crate::embedded::write_secret;
use crate::ServerError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use uuid::Uuid;

pub const ACCESS_TTL_SECONDS: i64 = 15 * 60;
pub const REFRESH_TTL_DAYS: i64 = 30;
/// How long a session can be kept going by rotation before its person signs in again.
pub const REFRESH_FAMILY_DAYS: i64 = 30;

/// The key that signs access tokens. Cannot be printed.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// Loads the key from `data_dir`, creating it on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, ServerError> {
        let path = data_dir.join("token-signing.secret");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let bytes = B64
                .decode(text.trim())
                .map_err(|_| ServerError::Startup(format!("{} is damaged", path.display())))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| ServerError::Startup(format!("{} is damaged", path.display())))?;
            return Ok(Self(key));
        }
        let key = Self::random();
        write_secret(&path, &B64.encode(key.0))?;
        Ok(key)
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    pub fn issue(&self, c: &AccessClaims) -> String {
        let payload = B64.encode(serde_json::to_vec(c).expect("claims serialise"));
        let sig = B64.encode(self.mac(payload.as_bytes()));
        format!("{payload}.{sig}")
    }

    /// The claims of a genuine, unexpired token.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<AccessClaims> {
        let (payload, sig) = token.split_once('.')?;
        let sig = B64.decode(sig).ok()?;
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).ok()?;
        m.update(payload.as_bytes());
        m.verify_slice(&sig).ok()?;
        let claims: AccessClaims = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        (claims.exp > now.timestamp()).then_some(claims)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Tenant.
    pub t: Uuid,
    /// User.
    pub u: Uuid,
    /// The user's token version when issued.
    pub v: i32,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64.encode(b)
}

pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new refresh token for `tenant` and the hash to store.
pub fn new_refresh_token(tenant: Uuid) -> (String, String) {
    let token = format!("rt.{tenant}.{}", random_secret());
    let hash = hash_secret(&token);
    (token, hash)
}

/// The tenant a refresh token belongs to (to scope the lookup), if it is well formed.
pub fn refresh_token_tenant(token: &str) -> Option<Uuid> {
    let mut parts = token.splitn(3, '.');
    (parts.next()? == "rt").then_some(())?;
    let tenant = Uuid::parse_str(parts.next()?).ok()?;
    parts.next().filter(|s| s.len() >= 40)?;
    Some(tenant)
}

/// A new device credential and the hash to store.
pub fn new_device_credential(tenant: Uuid, device: Uuid) -> (String, String) {
    let credential = format!("dv.{tenant}.{device}.{}", random_secret());
    let hash = hash_secret(&credential);
    (credential, hash)
}

/// (tenant, device) named by a well-formed device credential.
pub fn device_credential_ids(credential: &str) -> Option<(Uuid, Uuid)> {
    let mut parts = credential.splitn(4, '.');
    (parts.next()? == "dv").then_some(())?;
    let tenant = Uuid::parse_str(parts.next()?).ok()?;
    let device = Uuid::parse_str(parts.next()?).ok()?;
    parts.next().filter(|s| s.len() >= 40)?;
    Some((tenant, device))
}

/// Constant-time comparison of two hex hashes.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_verify_expire_and_resist_tampering() {
        let k = SigningKey::random();
        let now = Utc::now();
        let c = AccessClaims {
            t: Uuid::now_v7(),
            u: Uuid::now_v7(),
            v: 3,
            exp: now.timestamp() + 60,
        };
        let tok = k.issue(&c);
        assert_eq!(k.verify(&tok, now), Some(c.clone()));
        assert_eq!(
            k.verify(&tok, now + chrono::Duration::seconds(61)),
            None,
            "expired"
        );
        assert_eq!(SigningKey::random().verify(&tok, now), None, "other key");
        let (p, s) = tok.split_once('.').unwrap();
        let forged = B64.encode(serde_json::to_vec(&AccessClaims { v: 4, ..c }).unwrap());
        assert_eq!(
            k.verify(&format!("{forged}.{s}"), now),
            None,
            "claims changed"
        );
        assert_eq!(k.verify(p, now), None);
        assert_eq!(k.verify("", now), None);
    }

    #[test]
    fn credentials_name_their_tenant_and_device() {
        let (t, d) = (Uuid::now_v7(), Uuid::now_v7());
        let (rt, h) = new_refresh_token(t);
        assert_eq!(refresh_token_tenant(&rt), Some(t));
        assert!(same_hash(&h, &hash_secret(&rt)));
        assert_eq!(refresh_token_tenant("rt.nope.x"), None);
        let (dc, _) = new_device_credential(t, d);
        assert_eq!(device_credential_ids(&dc), Some((t, d)));
        assert_eq!(device_credential_ids(&rt), None);
    }
}
