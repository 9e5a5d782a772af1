//! The workstation: an unlocked store plus the signed-in user. Every
//! use-case a person performs lives here, once; the CLI and the desktop app
//! only convert arguments and call these. Each use-case checks permissions
//! itself and writes its state change and its audit event in one transaction.

use crate::auth::{hash_password, verify_or_burn, verify_password, Password};
use crate::clock::Clock;
use chrono::{DateTime, Duration, Utc};
use clinic_core::api::KeyPin;
use clinic_core::audit::{AuditEntry, AuditEvent, ChainBreak};
use clinic_core::patients::*;
use clinic_core::permissions::{Action, BuiltinRole, Module, PermissionMatrix};
use clinic_core::sync::Mutation;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::directory::{Site, Tenant};
use clinic_store::keys::{Keychain, Passphrase, Unlock};
use clinic_store::sync::Committed;
use clinic_store::{Db, NewStore, Store};
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;

/// Failed sign-ins before the account is locked for [`LOCKOUT`].
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOCKOUT: Duration = Duration::minutes(5);
/// Default idle time before the workstation locks itself.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::minutes(10);

/// The signed-in user.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub permissions: PermissionMatrix,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    /// An administrator reset the password: nothing but choosing a new one
    /// until then.
    pub must_change_password: bool,
}

#[derive(Debug)]
pub struct Workstation {
    dir: PathBuf,
    store: Option<Store>,
    session: Option<Session>,
    clock: Arc<dyn Clock>,
    idle_timeout: Duration,
}

/// What `clinic init` needs.
#[derive(Debug)]
pub struct InitOptions {
    pub tenant_name: String,
    pub admin_email: String,
    pub admin_name: String,
    pub admin_password: Password,
    /// Always required: it unlocks the store where no keychain is usable and
    /// recovers it when the keychain entry is lost.
    pub passphrase: Passphrase,
    pub keychain: Option<Keychain>,
    pub site_name: String,
    pub timezone: String,
}

#[derive(Debug, Serialize)]
pub struct Registered {
    #[serde(flatten)]
    pub patient: Patient,
    pub duplicate_candidates: Vec<DuplicateCandidate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoreInfo {
    pub tenant: Tenant,
    pub device_id: Uuid,
    pub sites: Vec<Site>,
    pub patients: i64,
    pub users: usize,
    pub audit_events: i64,
    pub cipher_version: String,
    pub schema_version: i64,
}

use crate::directory::normalize_email;
pub(crate) use clinic_store::new_uuid_v7 as new_id;

fn slug(name: &str) -> String {
    let s: String = clinic_core::search::fold(name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if s.is_empty() {
        "clinic".into()
    } else {
        s
    }
}

/// A member of staff as the directory keeps them.
pub(crate) fn staff_member(
    id: Uuid,
    email: &str,
    name: &str,
    roles: &[&str],
    password_hash: &str,
    signing_key: Option<clinic_core::signing::UserKey>,
) -> clinic_core::directory::StaffMember {
    clinic_core::directory::StaffMember {
        id,
        email: email.to_string(),
        name: name.to_string(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        active: true,
        password_hash: password_hash.to_string(),
        specialization: None,
        registration_number: None,
        must_change_password: false,
        signing_key,
        past_keys: vec![],
    }
}

/// Seeds a new store: tenant, built-in roles, first site with rooms, admin user.
pub(crate) fn seed_tenant(
    db: &Db,
    name: &str,
    site: &str,
    tz: &str,
    admin: Option<(&str, &str, &str, &Password)>,
    now: DateTime<Utc>,
) -> ClinicResult<Uuid> {
    db.insert_tenant(
        &Tenant {
            id: db.tenant_id,
            name: name.into(),
            slug: slug(name),
            plan: "standalone".into(),
        },
        now,
    )?;
    db.insert_builtin_roles(|| new_id(now), now)?;
    let site_id = new_id(now);
    db.insert_site(
        &Site {
            id: site_id,
            name: site.into(),
            timezone: tz.into(),
        },
        now,
    )?;
    for i in 1..=3 {
        db.insert_room(
            new_id(now),
            site_id,
            &format!("Room {i}"),
            "consulting",
            now,
        )?;
    }
    let (start, end) = clinic_core::patients::STANDALONE_BLOCK;
    db.add_number_block("patient", start, end)?;
    let mut admin_id = Uuid::nil();
    if let Some((email, display, hash, password)) = admin {
        admin_id = new_id(now);
        let (_, key) = crate::auth::new_signing_key(db.tenant_id, admin_id, password, admin_id)?;
        db.insert_user(&staff_member(
            admin_id,
            email,
            display,
            &[BuiltinRole::Admin.key()],
            hash,
            Some(key),
        ))?;
    }
    db.append_audit(
        new_id(now),
        (admin_id != Uuid::nil()).then_some(admin_id),
        now,
        AuditEntry {
            action: "store.create",
            entity_type: "tenant",
            entity_id: Some(db.tenant_id),
            patient_id: None,
            details: json!({}),
        },
    )?;
    Ok(admin_id)
}

impl Workstation {
    /// Creates a new encrypted workstation store with its tenant and first admin.
    pub fn init(dir: &Path, opts: InitOptions, clock: Arc<dyn Clock>) -> ClinicResult<Workstation> {
        let mut errs = clinic_core::error::FieldErrors::default();
        let tenant_name = opts.tenant_name.trim().to_string();
        if tenant_name.is_empty() || tenant_name.chars().count() > 200 {
            errs.add("tenant_name", "is required (at most 200 characters)");
        }
        if opts.admin_name.trim().is_empty() {
            errs.add("admin_name", "is required");
        }
        errs.into_result()?;
        let email = normalize_email("admin_email", &opts.admin_email)?;
        let hash = hash_password(&opts.admin_password)?;
        let now = clock.now();
        let store = Store::create(
            dir,
            NewStore {
                tenant_id: new_id(now),
                device_id: new_id(now),
                passphrase: Some(opts.passphrase),
                keychain: opts.keychain,
            },
            |db| {
                seed_tenant(
                    db,
                    &tenant_name,
                    &opts.site_name,
                    &opts.timezone,
                    Some((&email, opts.admin_name.trim(), &hash, &opts.admin_password)),
                    now,
                )
                .map(|_| ())
            },
        )?;
        Ok(Workstation {
            dir: dir.to_path_buf(),
            store: Some(store),
            session: None,
            clock,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        })
    }

    /// Enrols this workstation with a sync server: signs in there as an
    /// administrator, registers the device, and creates a new encrypted store
    /// bound to the server's tenant, site and device id, with the enrolling
    /// user (able to sign in offline) and the first leased block of patient
    /// numbers. The device credential is kept inside the encrypted store.
    #[allow(clippy::too_many_arguments)]
    pub fn enroll(
        dir: &Path,
        server_url: &str,
        pin: Option<KeyPin>,
        tenant_slug: &str,
        email: &str,
        password: &Password,
        totp: Option<&str>,
        device_name: &str,
        passphrase: Passphrase,
        keychain: Option<Keychain>,
        clock: Arc<dyn Clock>,
    ) -> ClinicResult<(Workstation, clinic_core::api::Enrollment)> {
        if Store::exists(dir) {
            return Err(ClinicError::new(
                ErrorCode::StoreExists,
                format!(
                    "{} already holds a workstation store; enrol into an empty folder.",
                    dir.display()
                ),
            ));
        }
        let email = normalize_email("email", email)?;
        // The address and the pin are checked, and the server's key against
        // the pin, before the password is sent.
        let server = clinic_sync::ServerClient::connect(server_url, pin)?;
        let pair = server.login(tenant_slug, &email, password.expose_for_transport(), totp)?;
        let enrollment = server.enroll(&pair.access_token, device_name);
        // The administrator's server session was only for enrolling: end it
        // either way (best effort: the enrolment itself is what matters).
        let _ = server.logout(&pair.refresh_token);
        let enrollment = enrollment?;
        // The hash every desk holds (the server's), else one made here.
        let hash = match enrollment.password_hash.clone() {
            Some(h) if verify_password(password, &h) => h,
            _ => hash_password(password)?,
        };
        let now = clock.now();
        let e = enrollment.clone();
        let store = Store::create(
            dir,
            NewStore {
                tenant_id: e.tenant_id,
                device_id: e.device_id,
                passphrase: Some(passphrase),
                keychain,
            },
            |db| -> ClinicResult<()> {
                db.insert_tenant(
                    &Tenant {
                        id: e.tenant_id,
                        name: e.tenant_name.clone(),
                        slug: tenant_slug.trim().to_lowercase(),
                        plan: "synced".into(),
                    },
                    now,
                )?;
                db.insert_builtin_roles(|| new_id(now), now)?;
                db.insert_site(
                    &Site {
                        id: e.site_id,
                        name: e.site_name.clone(),
                        timezone: e.site_timezone.clone(),
                    },
                    now,
                )?;
                let roles: Vec<&str> = e.user_roles.iter().map(String::as_str).collect();
                db.insert_user(&staff_member(
                    e.user_id,
                    &email,
                    &e.user_name,
                    &roles,
                    &hash,
                    e.signing_key.clone(),
                ))?;
                // Changes made on this desk for the clinic before anyone
                // signs in (demo data) are made in the enrolling
                // administrator's name: the server accepts no change without one.
                db.set_meta("enrolled_by", &e.user_id.to_string())?;
                for b in &e.number_blocks {
                    db.add_number_block(&b.series, b.start as u64, b.end as u64)?;
                }
                db.set_server(server.base_url(), pin)?;
                db.set_device_credential(&e.device_credential, e.credential_expires_at)?;
                db.set_meta("site_id", &e.site_id.to_string())?;
                db.set_meta("device_name", device_name.trim())?;
                db.append_audit(
                    new_id(now),
                    Some(e.user_id),
                    now,
                    AuditEntry::user(
                        "store.enroll",
                        Some(e.user_id),
                        json!({"device": e.device_id, "site": e.site_id}),
                    ),
                )?;
                Ok(())
            },
        )?;
        let ws = Workstation {
            dir: dir.to_path_buf(),
            store: Some(store),
            session: None,
            clock,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        };
        Ok((ws, enrollment))
    }

    /// Asks the server whether this device is still enrolled.
    pub fn check_enrollment(&self) -> ClinicResult<clinic_core::api::DeviceIdentity> {
        self.transport()?.whoami()
    }

    /// Creates a store without users (demo data fills it).
    pub fn create_empty(
        dir: &Path,
        tenant: &str,
        passphrase: Passphrase,
        keychain: Option<Keychain>,
        clock: Arc<dyn Clock>,
    ) -> ClinicResult<Workstation> {
        let now = clock.now();
        let store = Store::create(
            dir,
            NewStore {
                tenant_id: new_id(now),
                device_id: new_id(now),
                passphrase: Some(passphrase),
                keychain,
            },
            |db| {
                seed_tenant(db, tenant, "Northside", "Europe/London", None, now)?;
                Ok(db.set_meta("demo", "1")?)
            },
        )?;
        Ok(Workstation {
            dir: dir.to_path_buf(),
            store: Some(store),
            session: None,
            clock,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        })
    }

    pub fn open(dir: &Path, unlock: &Unlock, clock: Arc<dyn Clock>) -> ClinicResult<Workstation> {
        let store = Store::open(dir, unlock)?;
        Ok(Workstation {
            dir: dir.to_path_buf(),
            store: Some(store),
            session: None,
            clock,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        })
    }

    pub fn set_idle_timeout(&mut self, t: Duration) {
        self.idle_timeout = t;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The store itself, writable, for tests that play a tampered desk
    /// (its owner edited its tables to grant themselves more): the server
    /// must not believe it.
    #[cfg(feature = "test-support")]
    pub fn store_mut_for_tests(&mut self) -> ClinicResult<&mut Store> {
        self.store_mut()
    }

    pub(crate) fn store_mut(&mut self) -> ClinicResult<&mut Store> {
        self.store.as_mut().ok_or_else(|| {
            ClinicError::new(
                ErrorCode::SessionLocked,
                "The workstation is locked; unlock it to continue.",
            )
        })
    }

    pub(crate) fn store(&self) -> ClinicResult<&Store> {
        self.store.as_ref().ok_or_else(|| {
            ClinicError::new(
                ErrorCode::SessionLocked,
                "The workstation is locked; unlock it to continue.",
            )
        })
    }

    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Direct store access, bypassing every permission check: tests only.
    #[cfg(feature = "test-support")]
    pub fn store_for_tests(&self) -> ClinicResult<&Store> {
        self.store()
    }

    /// Why the new store could not be linked to the OS keychain, if it could not.
    pub fn keychain_warning(&self) -> Option<String> {
        self.store
            .as_ref()
            .and_then(|s| s.keychain_warning().map(str::to_string))
    }

    /// Moves the WAL into the database file (benchmarks measure file size).
    pub fn checkpoint(&self) -> ClinicResult<()> {
        Ok(self.store()?.checkpoint()?)
    }

    /// Bytes each table and index takes in the database file, largest
    /// first (benchmarks explain the database size with it).
    pub fn space_by_object(&self) -> ClinicResult<Vec<(String, u64)>> {
        Ok(self.store()?.space_by_object()?)
    }

    pub fn is_locked(&self) -> bool {
        self.store.is_none()
    }

    /// Closes the database and drops the key and the session.
    pub fn lock(&mut self) {
        self.session = None;
        self.store = None;
    }

    /// Locks if the session has been idle longer than the timeout; returns whether it locked.
    pub fn lock_if_idle(&mut self) -> bool {
        let idle = self
            .session
            .as_ref()
            .is_some_and(|s| self.clock.now() - s.last_activity > self.idle_timeout);
        if idle {
            self.lock();
        }
        idle
    }

    /// Unlocks a locked workstation again (the person must sign in afterwards).
    pub fn unlock(&mut self, unlock: &Unlock) -> ClinicResult<()> {
        if self.store.is_none() {
            self.store = Some(Store::open(&self.dir, unlock)?);
        }
        Ok(())
    }

    /// Unlocks with a member of staff's own password (on a desk where they
    /// signed in before) and signs that person in: never anyone else's
    /// session. If their sign-in is refused (disabled meanwhile, locked
    /// out), the store is locked again and the refusal returned.
    pub fn unlock_as(&mut self, email: &str, password: &Password) -> ClinicResult<()> {
        let unlock = Unlock::UserPassword {
            email: email.trim().to_lowercase(),
            password: clinic_store::keys::Passphrase::for_unlock(
                password.expose_for_transport().to_string(),
            ),
        };
        self.lock();
        self.store = Some(Store::open(&self.dir, &unlock)?);
        if let Err(e) = self.login(email, password) {
            self.lock();
            return Err(e);
        }
        Ok(())
    }

    /// [`Workstation::unlock_as`] for a workstation not opened yet.
    pub fn open_as(
        dir: &Path,
        email: &str,
        password: &Password,
        clock: Arc<dyn Clock>,
    ) -> ClinicResult<Workstation> {
        let mut ws = Workstation {
            dir: dir.to_path_buf(),
            store: None,
            session: None,
            clock,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        };
        ws.unlock_as(email, password)?;
        Ok(ws)
    }

    /// How more connections to this unlocked store are opened (the sync
    /// loop's): with its key, asking no one again.
    pub fn key_unlock(&self) -> Option<Unlock> {
        self.store.as_ref().and_then(Store::key_unlock)
    }

    /// Whether any member of staff can unlock this desk with their own
    /// password (someone signed in here since their password was set).
    pub fn staff_can_unlock(dir: &Path) -> bool {
        Store::staff_can_unlock(dir)
    }

    /// Signs a user in against the locally cached password hash (works offline).
    /// Replaces any current session (fast user switch); the switch is audited.
    pub fn login(&mut self, email: &str, password: &Password) -> ClinicResult<&Session> {
        let now = self.clock.now();
        let email = email.trim().to_lowercase();
        let previous = self.session.take().map(|s| s.user_id);
        let store = self.store_mut()?;
        // Nobody's key signs until this sign-in opens its own.
        store.set_signer(None);
        let creds = store.db().credentials(&email)?;
        // Every refused sign-in is audited with the reason (never the email typed).
        let refuse = |store: &mut Store,
                      user: Option<Uuid>,
                      reason: &str,
                      failed: Option<(i64, Option<DateTime<Utc>>)>,
                      err: ClinicError| {
            store.write(|db| {
                if let (Some(u), Some((count, lock))) = (user, failed) {
                    db.record_login(u, count, lock, now)?;
                }
                Ok(db.append_audit(
                    new_id(now),
                    user,
                    now,
                    AuditEntry::user("user.login_failed", user, json!({"reason": reason})),
                )?)
            })?;
            Err(err)
        };
        let bad = || {
            ClinicError::new(
                ErrorCode::InvalidCredentials,
                "The email or password is wrong.",
            )
        };
        let Some(creds) = creds else {
            verify_or_burn(password, None);
            return refuse(store, None, "unknown_user", None, bad());
        };
        if let Some(until) = creds.locked_until.filter(|u| *u > now) {
            let minutes = ((until - now).num_seconds() + 59) / 60;
            return refuse(store, Some(creds.user_id), "locked", None, ClinicError::new(
                ErrorCode::AccountLocked,
                format!("Too many failed sign-ins. Try again in {minutes} minute(s), or ask an administrator."),
            ));
        }
        if creds.status != "active" {
            verify_or_burn(password, None);
            return refuse(
                store,
                Some(creds.user_id),
                "disabled",
                None,
                ClinicError::new(
                    ErrorCode::InvalidCredentials,
                    "This account is disabled; ask an administrator.",
                ),
            );
        }
        if !verify_password(password, &creds.password_hash) {
            // Counting starts again once an earlier lock has run out.
            let before = if creds.locked_until.is_some() {
                0
            } else {
                creds.failed_logins
            };
            let failed = before + 1;
            let lock = (failed >= MAX_FAILED_LOGINS).then(|| now + LOCKOUT);
            return refuse(
                store,
                Some(creds.user_id),
                if lock.is_some() {
                    "wrong_password_locked"
                } else {
                    "wrong_password"
                },
                Some((failed, lock)),
                bad(),
            );
        }
        // From now on they can unlock this desk with their own password (not
        // with one an administrator set for them: that waits for their own).
        let remembered = !creds.must_change_password
            && remember_unlock(
                store,
                creds.user_id,
                &email,
                password,
                &creds.password_hash,
                now,
            );
        let (user, perms) = store.write(|db| {
            db.record_login(creds.user_id, 0, None, now)?;
            let action = if previous.is_some_and(|p| p != creds.user_id) {
                "session.switch_user"
            } else {
                "user.login"
            };
            let mut details = json!({"previous_user": previous});
            if remembered {
                details["unlock_remembered"] = json!(true);
            }
            db.append_audit(
                new_id(now),
                Some(creds.user_id),
                now,
                AuditEntry::user(action, Some(creds.user_id), details),
            )?;
            Ok((db.user(creds.user_id)?, db.user_permissions(creds.user_id)?))
        })?;
        let user = user.ok_or_else(|| ClinicError::not_found("User"))?;
        let (tenant_id, device_id) = (store.tenant_id(), store.device_id());
        self.session = Some(Session {
            user_id: user.id,
            email: user.email,
            name: user.name,
            roles: user.roles,
            permissions: PermissionMatrix::union(&perms),
            tenant_id,
            device_id,
            started_at: now,
            last_activity: now,
            must_change_password: creds.must_change_password,
        });
        self.start_signing(password, now)?;
        // An administrator signing in renews an expired device credential
        // (best effort: offline, or a multi-factor account, it waits).
        let full_admin = self
            .session
            .as_ref()
            .is_some_and(|s| s.permissions.is_full_admin() && !s.must_change_password);
        if full_admin {
            if let Err(e) = self.renew_expired_credential(&email, password) {
                // Shown where sync problems are, and tried again at the next sign-in.
                let text = format!(
                    "{}: This workstation's sync credential expired and renewing it at this sign-in failed ({}). Sign in again as an administrator when the server can be reached.",
                    ErrorCode::CredentialExpired.as_str(),
                    e.message
                );
                self.store_mut()?
                    .write(|db| Ok(db.set_meta("sync_last_error", &text)?))?;
            }
        }
        Ok(self.session.as_ref().expect("just set"))
    }

    /// Opens the signed-in person's signing key with their password, so
    /// what they make here carries their signature, and signs what they
    /// queued here without one (before signatures, or while their key
    /// was not open). Someone with no key yet (an account from before
    /// signatures) gets one, registered before the changes it signs. A key
    /// someone else made with the password they set (an administrator
    /// adding them or resetting it) is replaced by one of their own when
    /// they choose their own password ([`Workstation::change_password`]).
    fn start_signing(&mut self, password: &Password, now: DateTime<Utc>) -> ClinicResult<()> {
        use clinic_core::directory::RegisterSigningKey;
        use clinic_core::signing::UserSigner;
        let Some(user) = self.session.as_ref().map(|s| s.user_id) else {
            return Ok(());
        };
        let mut staff = self
            .store()?
            .db()
            .staff(user)?
            .ok_or_else(|| ClinicError::not_found("User"))?;
        if staff.signing_key.is_none() {
            // Their key may be on the server already (registered at a
            // sign-in on another desk): an enrolled desk asks first (best
            // effort; offline, a key is made here).
            if let Ok(t) = self.transport() {
                let _ = clinic_sync::engine::pull_all(self.store_mut()?, &t, &mut |_, _| {});
                if let Some(s) = self.store()?.db().staff(user)? {
                    staff = s;
                }
            }
        }
        let store = self.store_mut()?;
        let tenant = store.tenant_id();
        match staff.signing_key {
            Some(k) => {
                // Sealed by a password this desk has not seen yet: nobody's
                // key is open (sign-in cleared it), and what they make
                // waits for a sign-in that opens it.
                let Ok(signer) = UserSigner::open(&k, tenant, user, password) else {
                    return Ok(());
                };
                store.set_signer(Some(signer));
                store.write(|db| Ok(db.sign_pending(user)?))?;
            }
            None => {
                let (fresh, key) = crate::auth::new_signing_key(tenant, user, password, user)?;
                let key_id = fresh.key_id().to_string();
                store.set_signer(Some(fresh));
                let m = Mutation::new(RegisterSigningKey {
                    user,
                    signing_key: key,
                });
                store.write(|db| {
                    let c = db.commit_mutation(Some(user), now, &m)?;
                    if let Some(seq) = c.device_seq {
                        db.queue_before_unsigned(user, seq)?;
                    }
                    db.append_audit(
                        new_id(now),
                        Some(user),
                        now,
                        c.named(AuditEntry::user(
                            "user.signing_key",
                            Some(user),
                            json!({ "key": key_id }),
                        )),
                    )?;
                    Ok(db.sign_pending(user)?)
                })?;
            }
        }
        Ok(())
    }

    pub fn logout(&mut self) -> ClinicResult<()> {
        if let Ok(store) = self.store_mut() {
            store.set_signer(None);
        }
        if let Some(s) = self.session.take() {
            let now = self.clock.now();
            self.store_mut()?.write(|db| {
                Ok(db.append_audit(
                    new_id(now),
                    Some(s.user_id),
                    now,
                    AuditEntry::user("user.logout", Some(s.user_id), json!({})),
                )?)
            })?;
        }
        Ok(())
    }

    /// The current session after the idle check, with its activity refreshed.
    /// Every use-case goes through here.
    pub(crate) fn act(
        &mut self,
        module: Module,
        action: Action,
    ) -> ClinicResult<(Session, DateTime<Utc>)> {
        let (s, now) = self.working_session()?;
        s.permissions.require(module, action)?;
        Ok((s, now))
    }

    /// The session for doing work: refused while the password must change.
    pub(crate) fn working_session(&mut self) -> ClinicResult<(Session, DateTime<Utc>)> {
        let (s, now) = self.session_now()?;
        if s.must_change_password {
            return Err(ClinicError::new(
                ErrorCode::PasswordChangeRequired,
                "An administrator reset your password: choose a new one first.",
            ));
        }
        Ok((s, now))
    }

    /// Changes the signed-in person's own password: the current one must
    /// be right; the new one follows the policy (length, not a common
    /// one, not the e-mail). Synced: the old one stops working on every
    /// desk and the server once they have it. Audited.
    pub fn change_password(&mut self, current: &Password, new: Password) -> ClinicResult<()> {
        let (s, now) = self.session_now()?;
        let creds = self
            .store()?
            .db()
            .credentials(&s.email)?
            .ok_or_else(|| ClinicError::not_found("User"))?;
        if !verify_password(current, &creds.password_hash) {
            return Err(ClinicError::field(
                "current_password",
                "is not your current password",
            ));
        }
        let new = Password::checked_for(new.expose_for_transport().to_string(), &s.email)?;
        if verify_password(&new, &creds.password_hash) {
            return Err(ClinicError::field(
                "password",
                "must differ from the current one",
            ));
        }
        let hash = hash_password(&new)?;
        // Their key sealed by the new password: the same key, or a new
        // one of their own when the one open was made by an administrator.
        let store = self.store()?;
        let own = store
            .db()
            .staff(s.user_id)?
            .and_then(|m| m.signing_key)
            .is_some_and(|k| k.made_by == s.user_id);
        let next = match store.signer_of(s.user_id) {
            Some(open) if own => {
                let key = open.seal(s.tenant_id, &new, &crate::auth::key_seed(), s.user_id)?;
                Some((open.clone(), key))
            }
            Some(_) => Some(crate::auth::new_signing_key(
                s.tenant_id,
                s.user_id,
                &new,
                s.user_id,
            )?),
            None => None,
        };
        // The new password unlocks this desk (the old one's wrap is dropped
        // once the change is in: its password hash is no longer theirs).
        let remembered = remember_unlock(self.store_mut()?, s.user_id, &s.email, &new, &hash, now);
        let m = Mutation::new(clinic_core::directory::ChangeOwnPassword {
            user: s.user_id,
            password_hash: hash,
            signing_key: next.as_ref().map(|(_, k)| k.clone()),
        });
        self.commit_change(
            &s,
            now,
            |_| Ok(m),
            |_| {
                vec![AuditEntry::user(
                    "user.password_change",
                    Some(s.user_id),
                    json!({ "unlock_remembered": remembered }),
                )]
            },
        )?;
        self.reconcile_unlocks();
        if let Some((signer, _)) = next {
            self.store_mut()?.set_signer(Some(signer));
        }
        if let Some(session) = self.session.as_mut() {
            session.must_change_password = false;
        }
        Ok(())
    }

    /// Keeps the key envelope's unlock wraps in line with the staff
    /// records: the wraps of people disabled, or whose password changed
    /// (here or on another desk, once synced) are dropped. Best effort
    /// (a read-only envelope leaves them; they cannot open a store of a
    /// disabled person's session anyway: sign-in checks again).
    pub fn reconcile_unlocks(&mut self) {
        let now = self.clock.now();
        if let Ok(store) = self.store_mut() {
            let _ = store.reconcile_user_unlocks(now);
        }
    }

    /// The current session after the idle check, with its activity refreshed.
    pub(crate) fn session_now(&mut self) -> ClinicResult<(Session, DateTime<Utc>)> {
        if self.lock_if_idle() {
            return Err(ClinicError::new(
                ErrorCode::SessionLocked,
                "The workstation locked itself after being idle; sign in again.",
            ));
        }
        let now = self.clock.now();
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| ClinicError::new(ErrorCode::SessionLocked, "Sign in first."))?;
        s.last_activity = now;
        Ok((s.clone(), now))
    }

    /// Makes a change as the signed-in person: the mutation (built inside
    /// the transaction), its outbox entry and its audit events, all in one
    /// transaction. `audit` sees the records before and after.
    pub(crate) fn commit_change(
        &mut self,
        s: &Session,
        now: DateTime<Utc>,
        build: impl FnOnce(&Db) -> ClinicResult<Mutation>,
        audit: impl FnOnce(&Committed) -> Vec<AuditEntry>,
    ) -> ClinicResult<Committed> {
        self.store_mut()?.write(|db| {
            let m = build(db)?;
            s.permissions.check(&m.permission())?;
            let c = db.commit_mutation(Some(s.user_id), now, &m)?;
            // Each event names the change it records.
            for entry in audit(&c) {
                db.append_audit(new_id(now), Some(s.user_id), now, c.named(entry))?;
            }
            Ok(c)
        })
    }

    /// Records a read of health data by the signed-in person (opening a
    /// record, a chart, a note): one audit event, nothing else written.
    pub(crate) fn audit_read(
        &mut self,
        s: &Session,
        now: DateTime<Utc>,
        entry: AuditEntry,
    ) -> ClinicResult<()> {
        self.store_mut()?
            .write(|db| Ok(db.append_audit(new_id(now), Some(s.user_id), now, entry)?))?;
        Ok(())
    }

    /// Makes a change of any registered kind as the signed-in person: the
    /// mutation (built inside the transaction, so it can take numbers from
    /// the device's blocks) is refused unless their role grants the
    /// permission it declares; the change, its outbox entry and its audit
    /// events commit together. A new domain's use-cases need nothing more.
    pub fn make_change(
        &mut self,
        build: impl FnOnce(&Db) -> ClinicResult<Mutation>,
        audit: impl FnOnce(&Committed) -> Vec<AuditEntry>,
    ) -> ClinicResult<Committed> {
        let (s, now) = self.working_session()?;
        self.commit_change(&s, now, build, audit)
    }

    // ---- audit and store ----

    /// The workstation's own site (where it was enrolled).
    pub fn home_site(&self) -> ClinicResult<clinic_store::directory::Site> {
        crate::scheduling::home_site(&self.store()?.db())
    }

    /// The clinic's locale (its synced settings): how screens write dates.
    pub fn locale(&self) -> ClinicResult<String> {
        Ok(self.store()?.db().clinic_settings()?.locale)
    }

    /// How a person reads an appointment: patient (with number) and clinician.
    pub fn appointment_labels(&self, a: &clinic_core::scheduling::Appointment) -> (String, String) {
        match self.store() {
            Ok(store) => crate::scheduling::appointment_labels(&store.db(), a),
            Err(_) => (String::new(), String::new()),
        }
    }

    /// Verifies this device's audit chain. Needs only the unlocked store.
    pub fn verify_audit(&self) -> ClinicResult<Result<i64, ChainBreak>> {
        Ok(self.store()?.db().verify_audit_chain()?)
    }

    pub fn audit_log(
        &mut self,
        patient: Option<Uuid>,
        limit: u32,
    ) -> ClinicResult<Vec<AuditEvent>> {
        self.act(Module::Admin, Action::View)?;
        Ok(self
            .store()?
            .db()
            .audit_events(patient, limit.clamp(1, 10_000))?)
    }

    pub fn info(&self) -> ClinicResult<StoreInfo> {
        let store = self.store()?;
        let db = store.db();
        Ok(StoreInfo {
            tenant: db.tenant()?,
            device_id: store.device_id(),
            sites: db.sites()?,
            patients: db.patient_count()?,
            users: db.users()?.len(),
            audit_events: db.audit_event_count()?,
            cipher_version: store.pragma("cipher_version")?,
            schema_version: store.pragma("user_version")?.parse().unwrap_or(0),
        })
    }

    /// Backups and key changes touch every record at once: only a signed-in
    /// full administrator may do them.
    pub(crate) fn act_as_full_admin(&mut self) -> ClinicResult<(Session, DateTime<Utc>)> {
        let (s, now) = self.act(Module::Admin, Action::Edit)?;
        if !s.permissions.is_full_admin() {
            return Err(ClinicError::forbidden(
                "Only an administrator with access to all records may do this.",
            ));
        }
        Ok((s, now))
    }

    fn audit_store_event(
        &mut self,
        s: &Session,
        now: DateTime<Utc>,
        action: &'static str,
    ) -> ClinicResult<()> {
        self.store_mut()?.write(|db| {
            Ok(db.append_audit(new_id(now), Some(s.user_id), now, AuditEntry::store(action))?)
        })?;
        Ok(())
    }

    /// An encrypted, consistent backup of the whole store. The passphrase
    /// proves the person could open the copy anyway.
    pub fn backup(&mut self, dest: &Path, passphrase: &Passphrase) -> ClinicResult<()> {
        let (s, now) = self.act_as_full_admin()?;
        self.store()?
            .backup_to(dest, &Unlock::Passphrase(passphrase.clone()))?;
        self.audit_store_event(&s, now, "store.backup")
    }

    /// Re-wraps the database key under a new passphrase; the current one is required.
    pub fn change_passphrase(
        &mut self,
        current: &Passphrase,
        new: &Passphrase,
    ) -> ClinicResult<()> {
        let (s, now) = self.act_as_full_admin()?;
        self.store()?
            .change_passphrase(&Unlock::Passphrase(current.clone()), new)?;
        self.audit_store_event(&s, now, "store.passphrase_change")
    }

    /// (Re-)links the store to the OS keychain; the passphrase is required.
    pub fn link_keychain(&mut self, passphrase: &Passphrase, kc: &Keychain) -> ClinicResult<()> {
        let (s, now) = self.act_as_full_admin()?;
        self.store()?
            .link_keychain(&Unlock::Passphrase(passphrase.clone()), kc)?;
        self.audit_store_event(&s, now, "store.keychain_link")
    }
}

/// Combines two validation results so the person sees every problem at once.
pub(crate) fn merge_validation(a: ClinicResult<()>, b: ClinicResult<()>) -> ClinicResult<()> {
    match (a, b) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(mut e1), Err(e2)) => {
            e1.fields.extend(e2.fields);
            Err(ClinicError::validation(e1.fields))
        }
    }
}

/// From now on `user` can unlock this desk with `password` (their own,
/// just checked): a wrap of the store key in the envelope, made once per
/// password (Argon2id, m = 64 MiB); stale wraps of others are dropped
/// first. Best effort: returns whether a wrap was made.
fn remember_unlock(
    store: &mut Store,
    user: Uuid,
    email: &str,
    password: &Password,
    password_hash: &str,
    now: DateTime<Utc>,
) -> bool {
    let _ = store.reconcile_user_unlocks(now);
    let pass =
        clinic_store::keys::Passphrase::for_unlock(password.expose_for_transport().to_string());
    matches!(
        store.remember_user_unlock(user, email, &pass, password_hash),
        Ok(true)
    )
}
