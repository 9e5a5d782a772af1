//! Signed authorship: every member of staff has an Ed25519 key, and every
//! change and audit event they make carries their signature over its
//! canonical content. A desk holds every user's password hash (offline
//! sign-in) and its own device credential, so whoever can open a desk's
//! store could otherwise push changes in anyone's name; with signatures
//! they also need that user's password, which unwraps their key.
//!
//! The private half travels on the user's staff record wrapped by a key
//! derived from their password (Argon2id with its own salt, never the
//! password hash's: that hash is on every desk) and AES-256-GCM bound to
//! the clinic, the user and the key. Pure: the caller supplies the random
//! bytes.

use crate::audit::AuditEvent;
use crate::auth::Password;
use crate::error::{ClinicError, ClinicResult, ErrorCode};
use crate::sync::Envelope;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use uuid::Uuid;
use zeroize::Zeroizing;

/// A user's private key sealed by their password (what every desk keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyWrap {
    /// Argon2id salt (16 bytes, base64).
    pub salt: String,
    /// AES-GCM nonce (12 bytes, base64).
    pub nonce: String,
    /// The 32-byte private key sealed, with its tag (base64).
    pub sealed: String,
}

/// A user's current signing key: its public half and its wrapped private half.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserKey {
    pub key_id: String,
    /// The 32-byte Ed25519 public key (base64).
    pub public_key: String,
    pub wrap: KeyWrap,
    /// Who made it: the user at their sign-in, or an administrator who set
    /// their password (the user's desk replaces such a key at their next
    /// sign-in, so no one else keeps a key that signs as them).
    pub made_by: Uuid,
}

/// A key a user had before: it no longer signs new changes on any desk,
/// and the changes and events it signed stay verifiable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastKey {
    pub key_id: String,
    pub public_key: String,
    /// When it was replaced (the replacing change's time).
    pub until: DateTime<Utc>,
}

impl UserKey {
    pub fn past(&self, until: DateTime<Utc>) -> PastKey {
        PastKey {
            key_id: self.key_id.clone(),
            public_key: self.public_key.clone(),
            until,
        }
    }

    /// Checks the public half is a key and its id is its own.
    pub fn validate(&self) -> ClinicResult<()> {
        let pk = decode_public(&self.public_key)
            .ok_or_else(|| ClinicError::field("signing_key", "is not an Ed25519 public key"))?;
        if key_id_of(&pk) != self.key_id {
            return Err(ClinicError::field(
                "signing_key",
                "has an id that is not its public key's",
            ));
        }
        let ok = |s: &str, n: usize| B64.decode(s).is_ok_and(|b| b.len() == n);
        if !ok(&self.wrap.salt, 16) || !ok(&self.wrap.nonce, 12) || !ok(&self.wrap.sealed, 48) {
            return Err(ClinicError::field(
                "signing_key",
                "has a malformed wrapped private key",
            ));
        }
        Ok(())
    }
}

/// The random bytes a new key and its wrap need.
#[derive(Clone)]
pub struct KeySeed {
    pub secret: Zeroizing<[u8; 32]>,
    pub salt: [u8; 16],
    pub nonce: [u8; 12],
}

impl KeySeed {
    /// Fresh bytes from `fill` (the caller's OS random source).
    pub fn from_random(mut fill: impl FnMut(&mut [u8])) -> Self {
        let mut seed = KeySeed {
            secret: Zeroizing::new([0u8; 32]),
            salt: [0u8; 16],
            nonce: [0u8; 12],
        };
        fill(seed.secret.as_mut());
        fill(&mut seed.salt);
        fill(&mut seed.nonce);
        seed
    }
}

impl fmt::Debug for KeySeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySeed(<secret>)")
    }
}

/// The id of a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id_of(public: &VerifyingKey) -> String {
    let h = Sha256::digest(public.as_bytes());
    h[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_public(b64: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = B64.decode(b64).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// The key that seals a user's private key: Argon2id of their password
/// (the interactive profile of [`crate::auth`]) with the wrap's own salt.
fn wrapping_key(password: &Password, salt: &[u8]) -> ClinicResult<Zeroizing<[u8; 32]>> {
    let params = argon2::Params::new(19 * 1024, 2, 1, Some(32)).map_err(ClinicError::internal)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(
            password.expose_for_transport().as_bytes(),
            salt,
            out.as_mut(),
        )
        .map_err(ClinicError::internal)?;
    Ok(out)
}

/// What a wrap is bound to: the clinic, the user and the key.
fn wrap_aad(tenant: Uuid, user: Uuid, key_id: &str) -> Vec<u8> {
    format!("clinic-user-key-v1|{tenant}|{user}|{key_id}").into_bytes()
}

/// A user's unwrapped key, held in memory while they are signed in.
/// Zeroed on drop; never printed.
#[derive(Clone)]
pub struct UserSigner {
    user: Uuid,
    key_id: String,
    key: SigningKey,
}

impl fmt::Debug for UserSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserSigner({}, key {})", self.user, self.key_id)
    }
}

impl UserSigner {
    /// The key of `user` with the given 32 secret bytes.
    pub fn from_secret(user: Uuid, secret: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(secret);
        Self {
            user,
            key_id: key_id_of(&key.verifying_key()),
            key,
        }
    }
    pub fn user(&self) -> Uuid {
        self.user
    }
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    pub fn public_key(&self) -> String {
        B64.encode(self.key.verifying_key().as_bytes())
    }

    /// This key's record with a wrap no password opens: for a signer held
    /// elsewhere (the simulation and tests keep theirs in memory; they
    /// need no Argon2 work per user).
    pub fn unopenable(&self, made_by: Uuid) -> UserKey {
        UserKey {
            key_id: self.key_id.clone(),
            public_key: self.public_key(),
            wrap: KeyWrap {
                salt: B64.encode([0u8; 16]),
                nonce: B64.encode([0u8; 12]),
                sealed: B64.encode([0u8; 48]),
            },
            made_by,
        }
    }

    /// A new key for `user`, sealed by `password`, as their staff record
    /// keeps it.
    pub fn create(
        tenant: Uuid,
        user: Uuid,
        password: &Password,
        seed: &KeySeed,
        made_by: Uuid,
    ) -> ClinicResult<(UserSigner, UserKey)> {
        let signer = Self::from_secret(user, &seed.secret);
        let key = signer.seal(tenant, password, seed, made_by)?;
        Ok((signer, key))
    }

    /// This key sealed by `password` (a password change seals the same key
    /// again; a new key is [`UserSigner::create`]).
    pub fn seal(
        &self,
        tenant: Uuid,
        password: &Password,
        seed: &KeySeed,
        made_by: Uuid,
    ) -> ClinicResult<UserKey> {
        let kek = wrapping_key(password, &seed.salt)?;
        let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).map_err(ClinicError::internal)?;
        let secret = Zeroizing::new(self.key.to_bytes());
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&seed.nonce),
                Payload {
                    msg: secret.as_ref(),
                    aad: &wrap_aad(tenant, self.user, &self.key_id),
                },
            )
            .map_err(ClinicError::internal)?;
        Ok(UserKey {
            key_id: self.key_id.clone(),
            public_key: self.public_key(),
            wrap: KeyWrap {
                salt: B64.encode(seed.salt),
                nonce: B64.encode(seed.nonce),
                sealed: B64.encode(sealed),
            },
            made_by,
        })
    }

    /// Unwraps `key` with the password of `user`. A wrong password, or a
    /// wrap moved from another user, key or clinic, does not open.
    pub fn open(
        key: &UserKey,
        tenant: Uuid,
        user: Uuid,
        password: &Password,
    ) -> ClinicResult<UserSigner> {
        let fail = || {
            ClinicError::new(
                ErrorCode::InvalidCredentials,
                "Your signing key does not open with this password.",
            )
        };
        let salt = B64.decode(&key.wrap.salt).map_err(|_| fail())?;
        let nonce: [u8; 12] = B64
            .decode(&key.wrap.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(fail)?;
        let sealed = B64.decode(&key.wrap.sealed).map_err(|_| fail())?;
        let kek = wrapping_key(password, &salt)?;
        let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).map_err(ClinicError::internal)?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &sealed,
                        aad: &wrap_aad(tenant, user, &key.key_id),
                    },
                )
                .map_err(|_| fail())?,
        );
        let secret: Zeroizing<[u8; 32]> =
            Zeroizing::new(plain.as_slice().try_into().map_err(|_| fail())?);
        let signer = Self::from_secret(user, &secret);
        if signer.public_key() != key.public_key {
            return Err(fail());
        }
        Ok(signer)
    }

    fn sign(&self, content: &[u8]) -> String {
        B64.encode(self.key.sign(content).to_bytes())
    }

    /// Signs a change made on `device` of `tenant` (its author must be this key's user).
    pub fn sign_change(&self, tenant: Uuid, device: Uuid, env: &mut Envelope) {
        env.author_key = Some(self.key_id.clone());
        env.signature = Some(self.sign(&change_content(tenant, device, env)));
    }

    /// Signs an audit event (over its hash, which covers its content and chain).
    pub fn sign_event(&self, e: &mut AuditEvent) {
        e.author_key = Some(self.key_id.clone());
        e.signature = Some(self.sign(&event_content(e)));
    }
}

fn push_field(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_be_bytes());
    out.extend(s.as_bytes());
}

/// What a change's signature covers: the clinic, the device that queued
/// it, its id, author and time, and the mutation as its canonical JSON.
/// Not its place in the device's queue, which a restored store renumbers.
pub fn change_content(tenant: Uuid, device: Uuid, env: &Envelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    push_field(&mut out, "clinic-change-v1");
    push_field(&mut out, &tenant.to_string());
    push_field(&mut out, &device.to_string());
    push_field(&mut out, &env.id.to_string());
    push_field(
        &mut out,
        &env.user_id.map(|u| u.to_string()).unwrap_or_default(),
    );
    push_field(
        &mut out,
        &env.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    );
    push_field(&mut out, &env.mutation.to_value().to_string());
    out
}

/// What an audit event's signature covers: its chained hash.
pub fn event_content(e: &AuditEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    push_field(&mut out, "clinic-audit-signature-v1");
    push_field(&mut out, &e.hash);
    out
}

/// A public key a user has (or had): what the server verifies against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub key_id: String,
    pub public_key: String,
}

/// Whether `signature` (base64) by the key `key_id` of `keys` is good for
/// `content`. `Err` says why not, for the person who reads the refusal.
pub fn verify(
    keys: &[PublicKey],
    key_id: Option<&str>,
    signature: Option<&str>,
    content: &[u8],
) -> Result<(), &'static str> {
    let (Some(key_id), Some(signature)) = (key_id, signature) else {
        return Err("it carries no signature");
    };
    let key = keys
        .iter()
        .find(|k| k.key_id == key_id)
        .ok_or("it is signed with a key that is not theirs")?;
    let public = decode_public(&key.public_key).ok_or("their key is malformed")?;
    let sig: [u8; 64] = B64
        .decode(signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or("its signature is malformed")?;
    public
        .verify(content, &Signature::from_bytes(&sig))
        .map_err(|_| "its signature does not match its content")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patients::{format_patient_number, PatientDetails, RegisterPatient};
    use crate::sync::Mutation;

    fn seed(n: u8) -> KeySeed {
        KeySeed {
            secret: Zeroizing::new([n; 32]),
            salt: [n; 16],
            nonce: [n; 12],
        }
    }

    fn pw(s: &str) -> Password {
        Password::new(s.into())
    }

    #[test]
    fn a_key_opens_only_with_its_password_for_its_user_and_clinic() {
        let (t, u) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (signer, key) = UserSigner::create(t, u, &pw("correct horse"), &seed(3), u).unwrap();
        key.validate().unwrap();
        let opened = UserSigner::open(&key, t, u, &pw("correct horse")).unwrap();
        assert_eq!(opened.public_key(), signer.public_key());
        assert!(UserSigner::open(&key, t, u, &pw("wrong horse")).is_err());
        assert!(UserSigner::open(&key, t, Uuid::from_u128(9), &pw("correct horse")).is_err());
        assert!(UserSigner::open(&key, Uuid::from_u128(9), u, &pw("correct horse")).is_err());
        // Re-sealed under a new password: the same key.
        let again = signer.seal(t, &pw("battery staple"), &seed(4), u).unwrap();
        assert_eq!(again.key_id, key.key_id);
        assert_ne!(again.wrap, key.wrap);
        assert!(UserSigner::open(&again, t, u, &pw("battery staple")).is_ok());
        // A public half swapped for another key's is refused.
        let (_, other) = UserSigner::create(t, u, &pw("correct horse"), &seed(5), u).unwrap();
        let mut swapped = key.clone();
        swapped.public_key = other.public_key.clone();
        assert!(swapped.validate().is_err());
        assert!(UserSigner::open(&swapped, t, u, &pw("correct horse")).is_err());
        assert!(!format!("{opened:?}").contains(&key.wrap.sealed));
    }

    #[test]
    fn a_signature_covers_every_part_of_a_change() {
        let (t, d, u) = (Uuid::from_u128(1), Uuid::from_u128(5), Uuid::from_u128(2));
        let signer = UserSigner::from_secret(u, &[7; 32]);
        let keys = [PublicKey {
            key_id: signer.key_id().into(),
            public_key: signer.public_key(),
        }];
        let mut env = Envelope {
            device_seq: 1,
            id: Uuid::from_u128(10),
            user_id: Some(u),
            at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            mutation: Mutation::new(RegisterPatient {
                patient: Uuid::from_u128(11),
                patient_number: format_patient_number(1),
                details: PatientDetails {
                    first_name: "Ada".into(),
                    last_name: "Okafor".into(),
                    ..Default::default()
                },
                lists: Default::default(),
            }),
            author_key: None,
            signature: None,
        };
        let check = |e: &Envelope, dev: Uuid| {
            verify(
                &keys,
                e.author_key.as_deref(),
                e.signature.as_deref(),
                &change_content(t, dev, e),
            )
        };
        assert_eq!(check(&env, d), Err("it carries no signature"));
        signer.sign_change(t, d, &mut env);
        assert_eq!(check(&env, d), Ok(()));
        // Renumbered in the queue: still good.
        let mut moved = env.clone();
        moved.device_seq = 7;
        assert_eq!(check(&moved, d), Ok(()));
        // Sent from another device, by another user, at another time, or changed: not.
        assert!(check(&env, Uuid::from_u128(6)).is_err());
        for tamper in [
            |e: &mut Envelope| e.user_id = Some(Uuid::from_u128(3)),
            |e: &mut Envelope| e.at += chrono::Duration::seconds(1),
            |e: &mut Envelope| e.id = Uuid::from_u128(12),
            |e: &mut Envelope| {
                let mut r = e.mutation.get::<RegisterPatient>().unwrap().clone();
                r.details.last_name = "Okafor-Smith".into();
                e.mutation = Mutation::new(r);
            },
        ] {
            let mut e = env.clone();
            tamper(&mut e);
            assert_eq!(
                check(&e, d),
                Err("its signature does not match its content")
            );
        }
        // Someone else's key, under this user's key id or its own.
        let other = UserSigner::from_secret(u, &[8; 32]);
        let mut forged = env.clone();
        other.sign_change(t, d, &mut forged);
        assert_eq!(
            check(&forged, d),
            Err("it is signed with a key that is not theirs")
        );
        forged.author_key = Some(signer.key_id().into());
        assert_eq!(
            check(&forged, d),
            Err("its signature does not match its content")
        );
    }
}
