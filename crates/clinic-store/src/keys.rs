//! The key hierarchy of `security.md`.
//!
//! A random 256-bit database key encrypts the SQLCipher database. It is never
//! written in plaintext: the key envelope (`store-key.json`) holds it wrapped
//! with AES-256-GCM by (a) a key kept in the OS keychain and/or (b) a key
//! derived from a passphrase with Argon2id. The associated data of each wrap
//! names the tenant, the device, the purpose and the method, so a wrap cannot
//! be moved to another store or reused for something else. Changing the
//! passphrase re-wraps the same database key; the database is not re-encrypted.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A 256-bit secret key. Cannot be printed; zeroed on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }
    fn from_slice(b: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(b).ok().map(Self)
    }
    /// The SQLCipher raw-key literal `x'…'`, in a buffer that is zeroed on drop.
    pub(crate) fn sqlcipher_literal(&self) -> Zeroizing<String> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = Zeroizing::new(String::with_capacity(67));
        s.push_str("x'");
        for b in self.0 {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 15)] as char);
        }
        s.push('\'');
        s
    }
}

/// A passphrase typed by a person. Cannot be printed; zeroed on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Passphrase(String);

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl Passphrase {
    pub fn new(s: String) -> ClinicResult<Self> {
        if s.chars().count() < 8 {
            return Err(ClinicError::field(
                "passphrase",
                "must be at least 8 characters",
            ));
        }
        Ok(Self(s))
    }
    /// A passphrase typed to unlock: not length-checked, so a short wrong
    /// one is simply wrong (WRONG_KEY), not a validation error.
    pub fn for_unlock(s: String) -> Self {
        Self(s)
    }
    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Argon2id cost of the passphrase key (security.md: m ≥ 64 MiB, t ≥ 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

pub const PASSPHRASE_KDF: KdfParams = KdfParams {
    m_kib: 64 * 1024,
    t: 3,
    p: 1,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Wrap {
    Passphrase {
        kdf: KdfParams,
        salt: String,
        nonce: String,
        ciphertext: String,
    },
    Keychain {
        service: String,
        account: String,
        nonce: String,
        ciphertext: String,
    },
    /// A member of staff's own password, made at their first sign-in on
    /// this desk, so that they (not only an administrator with the store
    /// passphrase) can unlock it after an idle lock. Found by `lookup` (a
    /// hash of their e-mail with this store's ids, not the e-mail itself);
    /// `password_tag` names the password hash it was made with, so a wrap
    /// whose person changed password, was reset or disabled is dropped.
    User {
        user_id: Uuid,
        lookup: String,
        password_tag: String,
        kdf: KdfParams,
        salt: String,
        nonce: String,
        ciphertext: String,
    },
}

/// The on-disk key envelope. Holds only wrapped keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyEnvelope {
    pub format: u32,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub wraps: Vec<Wrap>,
}

pub const KEYCHAIN_SERVICE: &str = "clinic-workstation";

/// The hex SHA-256 of `parts` joined with ';' (lookups and tags: names,
/// never secrets).
fn digest(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(parts.join(";").as_bytes());
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Names the password hash a person's wrap was made with (a hash of the
/// stored hash: changes whenever the password does).
pub fn password_tag(password_hash: &str) -> String {
    digest(&["clinic/user-unlock/password/v1", password_hash])
}

fn aad(tenant: Uuid, device: Uuid, method: &str) -> Vec<u8> {
    format!(
        "clinic/database-key/v1;tenant={tenant};device={device};purpose=database;method={method}"
    )
    .into_bytes()
}

fn seal(kek: &SecretKey, key: &SecretKey, aad: &[u8]) -> (String, String) {
    let cipher = Aes256Gcm::new_from_slice(&kek.0).expect("32-byte key");
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: &key.0, aad })
        .expect("AES-GCM encryption cannot fail for a 32-byte message");
    (B64.encode(nonce), B64.encode(ct))
}

fn open(kek: &SecretKey, nonce: &str, ct: &str, aad: &[u8]) -> Option<SecretKey> {
    let cipher = Aes256Gcm::new_from_slice(&kek.0).ok()?;
    let nonce = B64.decode(nonce).ok()?;
    let ct = B64.decode(ct).ok()?;
    if nonce.len() != 12 {
        return None;
    }
    let pt = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ct, aad })
            .ok()?,
    );
    SecretKey::from_slice(&pt)
}

fn derive(pass: &Passphrase, salt: &[u8], kdf: KdfParams) -> ClinicResult<SecretKey> {
    if kdf.m_kib < PASSPHRASE_KDF.m_kib || kdf.t < PASSPHRASE_KDF.t {
        return Err(ClinicError::new(
            ErrorCode::StoreCorrupt,
            "key envelope asks for a weaker key derivation than allowed",
        ));
    }
    // Nor one no version of the product writes: a tampered envelope must
    // not make unlocking take gigabytes of memory or minutes of work.
    if kdf.m_kib > 1024 * 1024 || kdf.t > 16 || kdf.p > 16 {
        return Err(ClinicError::new(
            ErrorCode::StoreCorrupt,
            "key envelope asks for more memory or work than this product ever uses",
        ));
    }
    let params =
        argon2::Params::new(kdf.m_kib, kdf.t, kdf.p, Some(32)).map_err(ClinicError::internal)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = SecretKey([0u8; 32]);
    argon
        .hash_password_into(pass.as_bytes(), salt, &mut out.0)
        .map_err(ClinicError::internal)?;
    Ok(out)
}

/// The database key from a wrap whose key is derived from something typed
/// (the store passphrase, a person's password): (kdf, salt, nonce,
/// ciphertext) as stored; `wrong` says what was typed wrong.
fn open_derived(
    typed: &Passphrase,
    (kdf, salt, nonce, ciphertext): (KdfParams, &str, &str, &str),
    aad: &[u8],
    wrong: &str,
) -> ClinicResult<SecretKey> {
    let salt = B64
        .decode(salt)
        .map_err(|_| ClinicError::new(ErrorCode::StoreCorrupt, "key envelope is damaged"))?;
    let kek = derive(typed, &salt, kdf)?;
    open(&kek, nonce, ciphertext, aad).ok_or_else(|| ClinicError::new(ErrorCode::WrongKey, wrong))
}

/// Where a workstation's keychain secret lives. The real OS keychain through
/// `keyring` (macOS Keychain, Windows Credential Manager, Secret Service).
#[derive(Debug, Clone)]
pub struct Keychain {
    service: String,
}

/// What the keychain said when asked for an entry.
#[derive(Debug)]
pub enum KeychainLookup {
    Found(SecretKey),
    Missing,
    Unavailable(String),
}

impl Default for Keychain {
    fn default() -> Self {
        Self {
            service: KEYCHAIN_SERVICE.to_string(),
        }
    }
}

impl Keychain {
    /// The OS keychain as the environment configures it: none when
    /// `CLINIC_KEYCHAIN=off` (or `off` is passed, e.g. `--no-keychain`),
    /// under `CLINIC_KEYCHAIN_SERVICE` when set.
    pub fn from_env(off: bool) -> Option<Keychain> {
        let off =
            off || std::env::var("CLINIC_KEYCHAIN").is_ok_and(|v| v.eq_ignore_ascii_case("off"));
        (!off).then(|| {
            std::env::var("CLINIC_KEYCHAIN_SERVICE")
                .map(Keychain::with_service)
                .unwrap_or_default()
        })
    }

    /// A keychain under another service name (tests use one per run).
    pub fn with_service(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    fn entry(&self, account: &str) -> ClinicResult<keyring::Entry> {
        keyring::Entry::new(&self.service, account).map_err(keychain_unavailable)
    }

    pub fn get(&self, account: &str) -> KeychainLookup {
        let entry = match self.entry(account) {
            Ok(e) => e,
            Err(e) => return KeychainLookup::Unavailable(e.message),
        };
        match entry.get_secret() {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                match B64
                    .decode(&*bytes)
                    .ok()
                    .and_then(|b| SecretKey::from_slice(&Zeroizing::new(b)))
                {
                    Some(k) => KeychainLookup::Found(k),
                    // Something else is stored under our name: treat as replaced.
                    None => KeychainLookup::Found(SecretKey([0u8; 32])),
                }
            }
            Err(keyring::Error::NoEntry) => KeychainLookup::Missing,
            Err(e) => KeychainLookup::Unavailable(e.to_string()),
        }
    }

    /// Stores `key`. Retries briefly: a Secret Service that has just started
    /// (login, or a headless session) creates its default collection
    /// asynchronously and refuses writes for a moment. Only init and re-link
    /// write, so the wait never slows a daily unlock.
    pub fn set(&self, account: &str, key: &SecretKey) -> ClinicResult<()> {
        let encoded = Zeroizing::new(B64.encode(key.0));
        let entry = self.entry(account)?;
        let mut attempt = 0;
        loop {
            match entry.set_secret(encoded.as_bytes()) {
                Ok(()) => return Ok(()),
                Err(
                    e @ (keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_)),
                ) if attempt < 10 => {
                    attempt += 1;
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(keychain_unavailable(e)),
            }
        }
    }

    pub fn delete(&self, account: &str) -> ClinicResult<()> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keychain_unavailable(e)),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }
}

/// The OS keychain failed (no Secret Service, access refused, ...).
fn keychain_unavailable(e: keyring::Error) -> ClinicError {
    ClinicError::new(
        ErrorCode::KeyUnavailable,
        format!("The OS keychain is not available ({e})."),
    )
}

/// How to unlock a store.
#[derive(Debug, Clone)]
pub enum Unlock {
    Passphrase(Passphrase),
    Keychain(Keychain),
    /// A member of staff's own password, on a desk where they signed in before.
    UserPassword {
        email: String,
        password: Passphrase,
    },
    /// The database key itself, already recovered by one of the above (the
    /// shell's sync connections, while the store is unlocked).
    Key(SecretKey),
}

impl KeyEnvelope {
    /// A keychain account name unique to this envelope: a restored copy of
    /// the store on the same machine gets its own entry when re-linked, and
    /// never overwrites the live store's.
    fn new_account(&self) -> String {
        let mut r = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut r);
        let tag: String = r.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}/{}/{tag}", self.tenant_id, self.device_id)
    }

    /// The keychain account this store's key is under, if it is linked.
    pub fn keychain_account(&self) -> Option<&str> {
        self.wraps.iter().find_map(|w| match w {
            Wrap::Keychain { account, .. } => Some(account.as_str()),
            _ => None,
        })
    }

    pub fn new(tenant_id: Uuid, device_id: Uuid) -> Self {
        Self {
            format: 1,
            tenant_id,
            device_id,
            wraps: Vec::new(),
        }
    }

    pub fn add_passphrase(&mut self, db_key: &SecretKey, pass: &Passphrase) -> ClinicResult<()> {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let kek = derive(pass, &salt, PASSPHRASE_KDF)?;
        let (nonce, ciphertext) = seal(
            &kek,
            db_key,
            &aad(self.tenant_id, self.device_id, "passphrase"),
        );
        self.wraps.retain(|w| !matches!(w, Wrap::Passphrase { .. }));
        self.wraps.push(Wrap::Passphrase {
            kdf: PASSPHRASE_KDF,
            salt: B64.encode(salt),
            nonce,
            ciphertext,
        });
        Ok(())
    }

    /// Stores a fresh wrapping key in the keychain and wraps the database key with it.
    pub fn add_keychain(&mut self, db_key: &SecretKey, kc: &Keychain) -> ClinicResult<()> {
        let kek = SecretKey::random();
        let account = self.new_account();
        kc.set(&account, &kek)?;
        let (nonce, ciphertext) = seal(
            &kek,
            db_key,
            &aad(self.tenant_id, self.device_id, "keychain"),
        );
        self.wraps.retain(|w| !matches!(w, Wrap::Keychain { .. }));
        self.wraps.push(Wrap::Keychain {
            service: kc.service().to_string(),
            account,
            nonce,
            ciphertext,
        });
        Ok(())
    }

    /// How a person's wrap is found: from their e-mail and this store's ids.
    pub fn user_lookup(&self, email: &str) -> String {
        digest(&[
            "clinic/user-unlock/v1",
            &self.tenant_id.to_string(),
            &self.device_id.to_string(),
            &email.trim().to_lowercase(),
        ])
    }

    fn user_aad(&self, user: Uuid) -> Vec<u8> {
        aad(self.tenant_id, self.device_id, &format!("user;user={user}"))
    }

    /// Whether `user` has a wrap made with the password hash named `tag`
    /// under their current e-mail.
    pub fn has_user(&self, user: Uuid, email: &str, tag: &str) -> bool {
        let lookup = self.user_lookup(email);
        self.wraps.iter().any(|w| {
            matches!(w, Wrap::User { user_id, lookup: l, password_tag, .. }
                if *user_id == user && *l == lookup && password_tag == tag)
        })
    }

    /// Wraps the database key with a member of staff's password (replacing
    /// any wrap of theirs).
    pub fn add_user(
        &mut self,
        db_key: &SecretKey,
        user: Uuid,
        email: &str,
        password: &Passphrase,
        tag: &str,
    ) -> ClinicResult<()> {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let kek = derive(password, &salt, PASSPHRASE_KDF)?;
        let (nonce, ciphertext) = seal(&kek, db_key, &self.user_aad(user));
        let lookup = self.user_lookup(email);
        self.wraps
            .retain(|w| !matches!(w, Wrap::User { user_id, .. } if *user_id == user));
        self.wraps.push(Wrap::User {
            user_id: user,
            lookup,
            password_tag: tag.to_string(),
            kdf: PASSPHRASE_KDF,
            salt: B64.encode(salt),
            nonce,
            ciphertext,
        });
        Ok(())
    }

    /// The people who can unlock this store with their own password, with
    /// the tag of the password hash each wrap was made with.
    pub fn users(&self) -> Vec<(Uuid, String)> {
        self.wraps
            .iter()
            .filter_map(|w| match w {
                Wrap::User {
                    user_id,
                    password_tag,
                    ..
                } => Some((*user_id, password_tag.clone())),
                _ => None,
            })
            .collect()
    }

    /// Drops the wraps of the given people.
    pub fn remove_users(&mut self, drop: &[Uuid]) {
        self.wraps
            .retain(|w| !matches!(w, Wrap::User { user_id, .. } if drop.contains(user_id)));
    }

    pub fn has_keychain(&self) -> bool {
        self.wraps
            .iter()
            .any(|w| matches!(w, Wrap::Keychain { .. }))
    }
    pub fn has_passphrase(&self) -> bool {
        self.wraps
            .iter()
            .any(|w| matches!(w, Wrap::Passphrase { .. }))
    }

    /// Recovers the database key. Never creates one: a missing or replaced
    /// keychain entry is an error, not a reason to start afresh.
    pub fn unwrap_key(&self, unlock: &Unlock) -> ClinicResult<SecretKey> {
        match unlock {
            Unlock::Key(k) => Ok(k.clone()),
            Unlock::UserPassword { email, password } => {
                let lookup = self.user_lookup(email);
                let Some(Wrap::User {
                    user_id,
                    kdf,
                    salt,
                    nonce,
                    ciphertext,
                    ..
                }) = self
                    .wraps
                    .iter()
                    .find(|w| matches!(w, Wrap::User { lookup: l, .. } if *l == lookup))
                else {
                    return Err(ClinicError::new(
                        ErrorCode::KeyUnavailable,
                        "This person has not signed in on this computer since their password was last set, so their password cannot unlock it. Someone who has (or an administrator with the store passphrase) unlocks it; after they sign in here once, their own password will.",
                    ));
                };
                open_derived(
                    password,
                    (*kdf, salt, nonce, ciphertext),
                    &self.user_aad(*user_id),
                    "The e-mail or password is wrong. Nothing was changed.",
                )
            }
            Unlock::Passphrase(pass) => {
                let Some(Wrap::Passphrase {
                    kdf,
                    salt,
                    nonce,
                    ciphertext,
                }) = self
                    .wraps
                    .iter()
                    .find(|w| matches!(w, Wrap::Passphrase { .. }))
                else {
                    return Err(ClinicError::new(
                        ErrorCode::KeyUnavailable,
                        "This store has no passphrase; it is unlocked through the OS keychain.",
                    ));
                };
                open_derived(
                    pass,
                    (*kdf, salt, nonce, ciphertext),
                    &aad(self.tenant_id, self.device_id, "passphrase"),
                    "The passphrase is wrong. Nothing was changed.",
                )
            }
            Unlock::Keychain(kc) => {
                let Some(Wrap::Keychain {
                    account,
                    nonce,
                    ciphertext,
                    service,
                }) = self
                    .wraps
                    .iter()
                    .find(|w| matches!(w, Wrap::Keychain { .. }))
                else {
                    return Err(ClinicError::new(ErrorCode::KeyUnavailable, "This store is not linked to the OS keychain; unlock it with its passphrase (CLINIC_PASSPHRASE)."));
                };
                let kc = if kc.service() == service {
                    kc.clone()
                } else {
                    Keychain::with_service(service.clone())
                };
                match kc.get(account) {
                    KeychainLookup::Found(kek) => open(&kek, nonce, ciphertext, &aad(self.tenant_id, self.device_id, "keychain"))
                        .ok_or_else(|| ClinicError::new(ErrorCode::KeychainMismatch, "The OS keychain entry for this store was replaced and does not open it. Unlock with the store passphrase (CLINIC_PASSPHRASE), then run `clinic key link-keychain`; no new key was created.")),
                    KeychainLookup::Missing => Err(ClinicError::new(ErrorCode::KeychainMismatch, "The OS keychain entry for this store is missing. Unlock with the store passphrase (CLINIC_PASSPHRASE), then run `clinic key link-keychain`; no new key was created.")),
                    KeychainLookup::Unavailable(e) => Err(ClinicError::new(ErrorCode::KeyUnavailable, format!("The OS keychain is not available ({e}); unlock with the passphrase (CLINIC_PASSPHRASE)."))),
                }
            }
        }
    }

    pub fn read(path: &Path) -> ClinicResult<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ClinicError::new(
                ErrorCode::StoreCorrupt,
                format!("cannot read key envelope: {e}"),
            )
        })?;
        let env: KeyEnvelope = serde_json::from_str(&text).map_err(|_| {
            ClinicError::new(ErrorCode::StoreCorrupt, "the key envelope is damaged")
        })?;
        if env.format != 1 {
            return Err(ClinicError::new(
                ErrorCode::SchemaTooNew,
                "the key envelope was written by a newer version",
            ));
        }
        Ok(env)
    }

    /// Writes atomically: temp file, fsync, rename, fsync the directory.
    pub fn write(&self, path: &Path) -> ClinicResult<()> {
        use std::io::Write;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(ClinicError::internal)?;
        let mut f = std::fs::File::create(&tmp).map_err(ClinicError::internal)?;
        f.write_all(text.as_bytes())
            .map_err(ClinicError::internal)?;
        f.sync_all().map_err(ClinicError::internal)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(ClinicError::internal)?;
        if let Some(dir) = path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> Passphrase {
        Passphrase::for_unlock(s.into())
    }

    fn unlock_as(email: &str, password: &str) -> Unlock {
        Unlock::UserPassword {
            email: email.into(),
            password: pass(password),
        }
    }

    #[test]
    fn a_persons_wrap_opens_with_their_password_only_and_cannot_be_moved_to_someone_else() {
        let key = SecretKey::random();
        let (rita, sam) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut env = KeyEnvelope::new(Uuid::from_u128(10), Uuid::from_u128(11));
        env.add_user(
            &key,
            rita,
            "Rita@Clinic.test",
            &pass("rita-password"),
            "tag-1",
        )
        .unwrap();
        let opened = env
            .unwrap_key(&unlock_as(" rita@clinic.test", "rita-password"))
            .unwrap();
        assert_eq!(opened.0, key.0);
        assert!(env.has_user(rita, "rita@clinic.test", "tag-1"));
        assert!(
            !env.has_user(rita, "rita@clinic.test", "tag-2"),
            "another password hash"
        );
        assert_eq!(
            env.unwrap_key(&unlock_as("rita@clinic.test", "wrong"))
                .unwrap_err()
                .code,
            ErrorCode::WrongKey
        );
        assert_eq!(
            env.unwrap_key(&unlock_as("sam@clinic.test", "rita-password"))
                .unwrap_err()
                .code,
            ErrorCode::KeyUnavailable
        );
        // Rita's wrap relabelled as Sam's (same lookup moved): the
        // associated data names the person, so it does not open.
        let mut moved = env.clone();
        for w in &mut moved.wraps {
            if let Wrap::User { user_id, .. } = w {
                *user_id = sam;
            }
        }
        assert_eq!(
            moved
                .unwrap_key(&unlock_as("rita@clinic.test", "rita-password"))
                .unwrap_err()
                .code,
            ErrorCode::WrongKey
        );
        // Nor in another store.
        let mut other = env.clone();
        other.device_id = Uuid::from_u128(12);
        assert!(other
            .unwrap_key(&unlock_as("rita@clinic.test", "rita-password"))
            .is_err());
        // A second wrap for Rita replaces the first; removal forgets her.
        env.add_user(
            &key,
            rita,
            "rita@clinic.test",
            &pass("new-password"),
            "tag-2",
        )
        .unwrap();
        assert_eq!(env.users(), vec![(rita, "tag-2".to_string())]);
        env.remove_users(&[rita]);
        assert!(env.users().is_empty());
        assert!(!serde_json::to_string(&env).unwrap().contains("rita"));
    }
}
