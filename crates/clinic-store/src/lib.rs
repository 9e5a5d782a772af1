//! The workstation's encrypted store: SQLCipher through rusqlite, the key
//! envelope, embedded migrations, and the queries the use-cases need.
//!
//! Files in a data directory:
//! - `clinic.db` (+ `-wal`, `-shm`): the SQLCipher database;
//! - `store-key.json`: the key envelope (wrapped database keys only).

pub mod audit;
pub mod error;
pub mod keys;
pub mod numbers;
pub mod records;
pub mod signing;
pub mod sync;

// Domains: each keeps its kinds in tables of its own ([`records::Projection`]).
pub mod billing;
pub mod clinical;
pub mod directory;
pub mod inventory;
pub mod patients;
pub mod scheduling;

pub use error::{StoreError, StoreResult};

use chrono::{DateTime, Utc};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use keys::{KeyEnvelope, SecretKey, Unlock};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use uuid::Uuid;

include!(concat!(env!("OUT_DIR"), "/migrations_sqlite.rs"));

/// The product's projections, one line per domain.
fn product_projections() -> Vec<&'static dyn records::Projection> {
    vec![
        &patients::PROJECTION,
        &scheduling::PROJECTION,
        &directory::PROJECTION,
        &clinical::PROJECTION,
        &clinical::PRESCRIPTIONS,
        &billing::INVOICES,
        &billing::PAYMENTS,
        &billing::CREDIT_NOTES,
        &inventory::ITEMS,
        &inventory::BATCHES,
        &inventory::MOVEMENTS,
    ]
}

/// A time as stored: fixed-width RFC 3339 in UTC (sorts as text).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

pub(crate) fn parse_uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

pub const DB_FILE: &str = "clinic.db";
pub const ENVELOPE_FILE: &str = "store-key.json";
const CREATING_SUFFIX: &str = "creating";

/// Every migration this binary knows: the product's, and those of
/// projections registered besides (a domain declared outside the product's
/// list), in name (= time) order.
fn all_migrations() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = MIGRATIONS.to_vec();
    for p in records::projections() {
        all.extend_from_slice(p.migrations());
    }
    all.sort();
    all.dedup();
    all
}

/// The schema version this binary understands (number of migrations it knows).
pub fn schema_version() -> i64 {
    all_migrations().len() as i64
}

/// A time-ordered id (UUIDv7) for a record made at `at`.
pub fn new_uuid_v7(at: chrono::DateTime<chrono::Utc>) -> Uuid {
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.timestamp() as u64,
        at.timestamp_subsec_nanos(),
    );
    Uuid::new_v7(ts)
}

/// An open, unlocked workstation store. Dropping it closes the connection
/// and zeroes the key.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    tenant_id: Uuid,
    device_id: Uuid,
    keychain_warning: Option<String>,
    /// The keys that sign changes and audit events made here: the
    /// signed-in person's ([`Store::set_signer`]).
    signers: signing::Signers,
    /// The database key, while the store is open (SQLCipher holds it too):
    /// what a member of staff's own unlock wrap is made from at their sign-in.
    /// None for an unencrypted test store. Zeroed when the store is dropped.
    key: Option<SecretKey>,
}

/// A view of the store for queries; inside [`Store::write`] it is the transaction.
#[derive(Debug, Clone, Copy)]
pub struct Db<'c> {
    pub(crate) conn: &'c Connection,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub(crate) signers: &'c signing::Signers,
    /// Inside [`Db::batch_index`]: search-index changes held until the
    /// batch ends (see there).
    pub(crate) index_batch: Option<&'c std::cell::RefCell<patients::search::IndexBatch>>,
}

impl Db<'_> {
    /// `Connection::query_row` through the statement cache: each query is
    /// parsed once per connection, not at every call.
    pub(crate) fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.conn.prepare_cached(sql)?.query_row(params, f)
    }

    /// `Connection::execute` through the statement cache.
    pub(crate) fn execute<P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
    ) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }
}

/// What a new store starts with.
#[derive(Debug)]
pub struct NewStore {
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub passphrase: Option<keys::Passphrase>,
    /// Link to the OS keychain too (skipped quietly when none is usable,
    /// as long as a passphrase was given).
    pub keychain: Option<keys::Keychain>,
}

fn key_connection(conn: &Connection, key: &SecretKey) -> StoreResult<()> {
    let lit = key.sqlcipher_literal();
    conn.pragma_update(None, "key", &*lit as &str)?;
    Ok(())
}

fn apply_pragmas(conn: &Connection) -> StoreResult<()> {
    // Foreign keys on; temp tables and sort spills in memory only (never an
    // unencrypted temp file); WAL for concurrent readers; FULL sync so a
    // confirmed write survives power loss, not only a crash. A 64 MiB page
    // cache keeps the hot part of a large clinic decrypted in memory: every
    // cache miss costs a page decryption, and search touches many rows.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -65536;",
    )?;
    // Every query is prepared once per connection: a patient's write alone
    // uses more than rusqlite's default 16 statements (row, five list
    // tables, index, vocabulary, outbox, audit), and an evicted statement
    // is parsed again on its next use.
    conn.set_prepared_statement_cache_capacity(256);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(ClinicError::internal(format!("could not enable WAL (got {mode})")).into());
    }
    Ok(())
}

/// Fails unless the linked SQLite is SQLCipher (plain SQLite ignores `PRAGMA key`).
fn require_sqlcipher(conn: &Connection) -> StoreResult<String> {
    Ok(conn
        .query_row("PRAGMA cipher_version", [], |r| r.get::<_, String>(0))
        .optional()?
        .ok_or_else(|| {
            ClinicError::internal(
                "this build is not linked against SQLCipher; refusing to store data unencrypted",
            )
        })?)
}

/// Names of the migrations a database has had. Databases from before
/// named migrations count them in `user_version` (the first N embedded ones).
fn applied_migrations(conn: &Connection) -> StoreResult<Vec<String>> {
    let named: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    if named {
        let mut st = conn.prepare("SELECT name FROM schema_migrations ORDER BY name")?;
        let names = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        return Ok(names);
    }
    let legacy: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(MIGRATIONS
        .iter()
        .take(legacy.max(0) as usize)
        .map(|(n, _)| n.to_string())
        .collect())
}

/// The first migration a database has had that this binary does not know.
fn unknown_migration(conn: &Connection) -> StoreResult<Option<String>> {
    let known = all_migrations();
    let legacy: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if legacy > MIGRATIONS.len() as i64 {
        return Ok(Some(format!("schema {legacy}")));
    }
    Ok(applied_migrations(conn)?
        .into_iter()
        .find(|a| !known.iter().any(|(n, _)| n == a)))
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied = applied_migrations(conn)?;
    let pending: Vec<(&str, &str)> = all_migrations()
        .into_iter()
        .filter(|(name, _)| !applied.iter().any(|a| a == name))
        .collect();
    if pending.is_empty() {
        // Opening an up-to-date store writes nothing.
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY) WITHOUT ROWID;",
    )?;
    for name in &applied {
        tx.execute(
            "INSERT OR IGNORE INTO schema_migrations (name) VALUES (?1)",
            [name],
        )?;
    }
    tx.commit()?;
    for (name, sql) in pending {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| ClinicError::internal(format!("migration {name}: {e}")))?;
        tx.execute("INSERT INTO schema_migrations (name) VALUES (?1)", [name])?;
        // Kept for older binaries, which compare it with their own count.
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
        tx.commit()?;
    }
    Ok(())
}

impl Store {
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_FILE)
    }
    pub fn envelope_path(dir: &Path) -> PathBuf {
        dir.join(ENVELOPE_FILE)
    }
    pub fn exists(dir: &Path) -> bool {
        Self::db_path(dir).exists()
    }

    /// Creates a new encrypted store. The database appears under its final
    /// name only once it is complete, so a crash mid-way leaves no half store.
    pub fn create(
        dir: &Path,
        new: NewStore,
        seed: impl FnOnce(&Db) -> ClinicResult<()>,
    ) -> StoreResult<Store> {
        if Self::db_path(dir).exists() {
            return Err(ClinicError::new(
                ErrorCode::StoreExists,
                format!("{} already holds a workstation store", dir.display()),
            )
            .into());
        }
        let creating = dir.join(format!("{DB_FILE}.{CREATING_SUFFIX}"));
        for suffix in ["-wal", "-shm"] {
            if Path::new(&format!("{}{suffix}", Self::db_path(dir).display())).exists() {
                return Err(ClinicError::new(ErrorCode::StoreCorrupt, format!(
                    "{} holds leftover database files ({DB_FILE}{suffix}) but no database. Move them away (or restore {DB_FILE} from a backup) before creating a store.",
                    dir.display()
                )).into());
            }
        }
        // A key envelope without a database is kept unless it belongs to a
        // creation that was interrupted: its database may yet be restored.
        if Self::envelope_path(dir).exists() && !creating.exists() {
            return Err(ClinicError::new(ErrorCode::StoreExists, format!(
                "{} holds a key envelope ({ENVELOPE_FILE}) but no database. Restore {DB_FILE} from a backup, or move {ENVELOPE_FILE} away to start a new store.",
                dir.display()
            )).into());
        }
        std::fs::create_dir_all(dir).map_err(ClinicError::internal)?;
        restrict_dir(dir);
        let key = SecretKey::random();
        let mut envelope = KeyEnvelope::new(new.tenant_id, new.device_id);
        if let Some(p) = &new.passphrase {
            envelope.add_passphrase(&key, p)?;
        }
        let mut keychain_warning = None;
        if let Some(kc) = &new.keychain {
            if let Err(e) = envelope.add_keychain(&key, kc) {
                if new.passphrase.is_none() {
                    return Err(ClinicError::new(
                        ErrorCode::KeyUnavailable,
                        format!("{} Set a passphrase with CLINIC_PASSPHRASE.", e.message),
                    )
                    .into());
                }
                keychain_warning = Some(format!(
                    "{} Unlock this store with its passphrase.",
                    e.message
                ));
            }
        }
        if envelope.wraps.is_empty() {
            return Err(ClinicError::new(
                ErrorCode::KeyUnavailable,
                "A store needs a passphrase (CLINIC_PASSPHRASE) or the OS keychain.",
            )
            .into());
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", creating.display()));
        }
        {
            let mut conn = Connection::open(&creating)?;
            key_connection(&conn, &key)?;
            require_sqlcipher(&conn)?;
            apply_pragmas(&conn)?;
            migrate(&mut conn)?;
            let tx = conn.transaction()?;
            {
                let db = Db {
                    conn: &tx,
                    tenant_id: new.tenant_id,
                    device_id: new.device_id,
                    signers: &signing::NO_SIGNERS,
                    index_batch: None,
                };
                db.set_meta("tenant_id", &new.tenant_id.to_string())?;
                db.set_meta("device_id", &new.device_id.to_string())?;
                seed(&db)?;
            }
            tx.commit()?;
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        }
        envelope.write(&Self::envelope_path(dir))?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", creating.display()));
        }
        std::fs::rename(&creating, Self::db_path(dir)).map_err(ClinicError::internal)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        let mut store = Self::open_with_key(dir, &envelope, &key)?;
        store.keychain_warning = keychain_warning;
        Ok(store)
    }

    /// Why a new store could not be linked to the OS keychain, if it could not.
    pub fn keychain_warning(&self) -> Option<&str> {
        self.keychain_warning.as_deref()
    }

    /// Opens an existing store. A wrong key fails before the database is
    /// touched; a database newer than this binary is refused untouched.
    pub fn open(dir: &Path, unlock: &Unlock) -> StoreResult<Store> {
        let (db_path, env_path) = (Self::db_path(dir), Self::envelope_path(dir));
        match (db_path.exists(), env_path.exists()) {
            (false, _) => {
                return Err(ClinicError::new(ErrorCode::StoreMissing, format!("There is no workstation store in {}. Create one with `clinic init`.", dir.display())).into())
            }
            (true, false) => {
                return Err(ClinicError::new(ErrorCode::StoreCorrupt, format!("The key envelope {ENVELOPE_FILE} is missing from {}; restore it from backup. The database was not touched.", dir.display())).into())
            }
            _ => {}
        }
        let envelope = KeyEnvelope::read(&env_path)?;
        let key = envelope.unwrap_key(unlock)?;
        Self::open_with_key(dir, &envelope, &key)
    }

    fn open_with_key(dir: &Path, envelope: &KeyEnvelope, key: &SecretKey) -> StoreResult<Store> {
        let path = Self::db_path(dir);
        // Check the schema version on a read-only connection first, so that
        // refusing a newer database cannot checkpoint or migrate anything.
        {
            // Without a WAL there is nothing but the main file to read, and
            // `immutable=1` reads it without creating -wal/-shm files.
            let wal_exists = Path::new(&format!("{}-wal", path.display())).exists();
            let uri = format!(
                "file:{}{}",
                uri_escape(&path),
                if wal_exists { "" } else { "?immutable=1" }
            );
            let ro = Connection::open_with_flags(
                uri,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            key_connection(&ro, key)?;
            require_sqlcipher(&ro)?;
            ro.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                    StoreError::from(ClinicError::new(ErrorCode::WrongKey, "The key does not open this database (the key envelope belongs to another store?). Nothing was changed."))
                }
                e => StoreError::from(e),
            })?;
            if let Some(newer) = unknown_migration(&ro)? {
                return Err(ClinicError::new(ErrorCode::SchemaTooNew, format!(
                    "This store was written by a newer version of the application (it has migration {newer}, which this version does not know). Install the newer version; the store was not changed."
                )).into());
            }
        }
        let mut conn = Connection::open(&path)?;
        key_connection(&conn, key)?;
        apply_pragmas(&conn)?;
        migrate(&mut conn)?;
        let store = Store {
            conn,
            dir: dir.to_path_buf(),
            tenant_id: envelope.tenant_id,
            device_id: envelope.device_id,
            keychain_warning: None,
            signers: Default::default(),
            key: Some(key.clone()),
        };
        let db = store.db();
        if db.meta("tenant_id")?.as_deref() != Some(&envelope.tenant_id.to_string())
            || db.meta("device_id")?.as_deref() != Some(&envelope.device_id.to_string())
        {
            return Err(ClinicError::new(
                ErrorCode::StoreCorrupt,
                "The key envelope and the database belong to different stores.",
            )
            .into());
        }
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// The one person whose key signs what is made here from now on
    /// (`None`: nobody's, after signing out or locking).
    pub fn set_signer(&mut self, signer: Option<clinic_core::signing::UserSigner>) {
        self.signers = signing::Signers(signer.into_iter().collect());
    }

    /// The open key of `user` on this store, if any.
    pub fn signer_of(&self, user: Uuid) -> Option<&clinic_core::signing::UserSigner> {
        self.signers.of(Some(user))
    }

    /// Adds a key that signs what its user makes here (the simulation and
    /// tests sign as several people on one store).
    pub fn add_signer(&mut self, signer: clinic_core::signing::UserSigner) {
        self.signers.0.retain(|s| s.user() != signer.user());
        self.signers.0.push(signer);
    }

    pub fn db(&self) -> Db<'_> {
        Db {
            conn: &self.conn,
            tenant_id: self.tenant_id,
            device_id: self.device_id,
            signers: &self.signers,
            index_batch: None,
        }
    }

    /// Runs `f` in one immediate transaction: everything it writes (state and
    /// audit event) commits together or not at all.
    pub fn write<T>(&mut self, f: impl FnOnce(&Db) -> ClinicResult<T>) -> ClinicResult<T> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let out = {
            let db = Db {
                conn: &tx,
                tenant_id: self.tenant_id,
                device_id: self.device_id,
                signers: &self.signers,
                index_batch: None,
            };
            f(&db)?
        };
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Re-wraps the database key under a new passphrase (the database itself is not re-encrypted).
    pub fn change_passphrase(&self, unlock: &Unlock, new: &keys::Passphrase) -> StoreResult<()> {
        let path = Self::envelope_path(&self.dir);
        let mut envelope = KeyEnvelope::read(&path)?;
        let key = envelope.unwrap_key(unlock)?;
        envelope.add_passphrase(&key, new)?;
        Ok(envelope.write(&path)?)
    }

    /// Whether any member of staff can unlock the store in `dir` with their
    /// own password (its envelope holds a wrap made at a sign-in there).
    pub fn staff_can_unlock(dir: &Path) -> bool {
        KeyEnvelope::read(&Self::envelope_path(dir)).is_ok_and(|e| !e.users().is_empty())
    }

    /// The open store's own key, to open more connections to it (the sync
    /// loop's) without asking anyone again.
    pub fn key_unlock(&self) -> Option<Unlock> {
        self.key.clone().map(Unlock::Key)
    }

    /// Lets a member of staff who just signed in unlock this desk with
    /// their own password from now on (an Argon2id-derived wrap of the
    /// database key in the envelope), unless they already can with this
    /// password. Returns whether a wrap was made.
    pub fn remember_user_unlock(
        &self,
        user: Uuid,
        email: &str,
        password: &keys::Passphrase,
        password_hash: &str,
    ) -> StoreResult<bool> {
        let Some(key) = &self.key else {
            return Ok(false);
        };
        let path = Self::envelope_path(&self.dir);
        let mut envelope = KeyEnvelope::read(&path)?;
        let tag = keys::password_tag(password_hash);
        if envelope.has_user(user, email, &tag) {
            return Ok(false);
        }
        envelope.add_user(key, user, email, password, &tag)?;
        envelope.write(&path)?;
        Ok(true)
    }

    /// Drops the unlock wraps of people who may no longer open this desk
    /// with the password they were made with: disabled or removed, their
    /// password changed or reset (on any desk: this runs after sync), or
    /// their e-mail changed. Returns whose wraps were dropped.
    pub fn reconcile_user_unlocks(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<Uuid>> {
        if self.key.is_none() {
            return Ok(vec![]);
        }
        let path = Self::envelope_path(&self.dir);
        let mut envelope = KeyEnvelope::read(&path)?;
        let wraps = envelope.users();
        if wraps.is_empty() {
            return Ok(vec![]);
        }
        let current = self.db().unlock_credentials()?;
        let stale: Vec<Uuid> = wraps
            .iter()
            .filter(|(user, tag)| {
                !current.iter().any(|(id, email, hash, active)| {
                    id == user
                        && *active
                        && keys::password_tag(hash) == *tag
                        && envelope.has_user(*id, email, tag)
                })
            })
            .map(|(user, _)| *user)
            .collect();
        if !stale.is_empty() {
            envelope.remove_users(&stale);
            envelope.write(&path)?;
            self.write(|db| {
                for u in &stale {
                    db.append_audit(
                        new_uuid_v7(now),
                        None,
                        now,
                        clinic_core::audit::AuditEntry::user(
                            "device.unlock_forgotten",
                            Some(*u),
                            serde_json::json!({}),
                        ),
                    )?;
                }
                Ok(())
            })?;
        }
        Ok(stale)
    }

    /// (Re-)links the store to the OS keychain with a fresh wrapping key.
    pub fn link_keychain(&self, unlock: &Unlock, kc: &keys::Keychain) -> StoreResult<()> {
        let path = Self::envelope_path(&self.dir);
        let mut envelope = KeyEnvelope::read(&path)?;
        let key = envelope.unwrap_key(unlock)?;
        envelope.add_keychain(&key, kc)?;
        Ok(envelope.write(&path)?)
    }

    /// Writes a consistent, encrypted copy of the store (database and key
    /// envelope) into `dest`, through SQLite's online backup API (never a raw
    /// copy of a live WAL database), then opens the copy to check it.
    pub fn backup_to(&self, dest: &Path, unlock: &Unlock) -> StoreResult<()> {
        if Self::db_path(dest).exists() || Self::envelope_path(dest).exists() {
            return Err(ClinicError::new(
                ErrorCode::StoreExists,
                format!(
                    "{} already holds a store; choose an empty folder",
                    dest.display()
                ),
            )
            .into());
        }
        let envelope = KeyEnvelope::read(&Self::envelope_path(&self.dir))?;
        let key = envelope.unwrap_key(unlock)?;
        std::fs::create_dir_all(dest).map_err(ClinicError::internal)?;
        restrict_dir(dest);
        let partial = dest.join(format!("{DB_FILE}.{CREATING_SUFFIX}"));
        {
            let mut dst = Connection::open(&partial)?;
            key_connection(&dst, &key)?;
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut dst)?;
            backup.run_to_completion(1024, std::time::Duration::ZERO, None)?;
        }
        envelope.write(&Self::envelope_path(dest))?;
        std::fs::rename(&partial, Self::db_path(dest)).map_err(ClinicError::internal)?;
        let mut copy = Self::open_with_key(dest, &envelope, &key)?;
        // A copy put back in service must not issue numbers the original may
        // have issued since (see `numbers`).
        copy.write(|db| Ok(db.set_meta(numbers::RESTORED, &ts(Utc::now()))?))?;
        copy.integrity_check()
    }

    /// Runs `PRAGMA integrity_check`; `Ok(())` when the database is sound.
    pub fn integrity_check(&self) -> StoreResult<()> {
        let r: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if r == "ok" {
            Ok(())
        } else {
            Err(ClinicError::new(
                ErrorCode::StoreCorrupt,
                format!("integrity check failed: {r}"),
            )
            .into())
        }
    }

    /// A pragma value as text (used by tests and diagnostics).
    pub fn pragma(&self, name: &str) -> StoreResult<String> {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ClinicError::new(ErrorCode::Validation, "bad pragma name").into());
        }
        Ok(self
            .conn
            .query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })?)
    }

    /// Moves everything from the WAL into the database file.
    pub fn checkpoint(&self) -> StoreResult<()> {
        Ok(self
            .conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?)
    }

    /// Bytes of the database file each table and index takes (SQLite's
    /// `dbstat`: every page read once), largest first; the search index's
    /// FTS5 shadow tables count under `patient_fts`.
    pub fn space_by_object(&self) -> StoreResult<Vec<(String, u64)>> {
        let mut st = self.conn.prepare(
            "SELECT CASE WHEN name LIKE 'patient_fts_%' THEN 'patient_fts' ELSE name END AS object,
                        sum(pgsize) FROM dbstat GROUP BY object ORDER BY 2 DESC",
        )?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// An unencrypted in-memory store with the full schema, for the sync
    /// simulation (thousands of workstations per run; no key derivation).
    /// `synced` makes it keep an outbox like an enrolled workstation.
    /// Patient numbers come from `numbers`. Not compiled into the product.
    #[cfg(feature = "test-support")]
    pub fn in_memory_for_tests(
        tenant_id: Uuid,
        device_id: Uuid,
        synced: bool,
        numbers: (u64, u64),
    ) -> StoreResult<Store> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")?;
        migrate(&mut conn)?;
        let mut store = Store {
            conn,
            dir: PathBuf::new(),
            tenant_id,
            device_id,
            keychain_warning: None,
            signers: Default::default(),
            key: None,
        };
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        store.write(|db| {
            db.set_meta("tenant_id", &tenant_id.to_string())?;
            db.set_meta("device_id", &device_id.to_string())?;
            db.insert_tenant(
                &directory::Tenant {
                    id: tenant_id,
                    name: "Simulated clinic".into(),
                    slug: "sim".into(),
                    plan: "synced".into(),
                },
                epoch,
            )?;
            if synced {
                db.set_meta("sync_server", "sim://server")?;
            }
            Ok(db.add_number_block("patient", numbers.0, numbers.1)?)
        })?;
        Ok(store)
    }

    /// Runs the SQL text in `sql` unchecked. Only for tests that need to
    /// tamper with the store the way an attacker with the key could; not
    /// compiled into the product.
    #[cfg(feature = "test-support")]
    pub fn execute_raw_for_tests(&self, sql: &str) -> StoreResult<u64> {
        self.conn.execute_batch(sql)?;
        Ok(self.conn.changes())
    }
}

/// Percent-escapes a path for an SQLite `file:` URI.
fn uri_escape(path: &Path) -> String {
    let mut out = String::new();
    for b in path.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(unix)]
fn restrict_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
}
#[cfg(not(unix))]
fn restrict_dir(_dir: &Path) {}

impl Db<'_> {
    pub fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
    pub fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.execute("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])
            ?;
        Ok(())
    }
    pub fn delete_meta(&self, key: &str) -> StoreResult<()> {
        self.execute("DELETE FROM meta WHERE key = ?1", [key])?;
        Ok(())
    }
}
