//! The workstation: an unlocked store plus the signed-in user. Every
//! use-case a person performs lives here, once; the CLI and the desktop app
//! only convert arguments and call these. Each use-case checks permissions
//! itself and writes its state change and its audit event in one transaction.

use crate::auth::{hash_password, verify_or_burn, verify_password, Password};
use crate::clock::Clock;
use chrono::{DateTime, Duration, Utc};
use clinic_core::audit::{AuditEntry, AuditEvent, ChainBreak};
use clinic_core::patients::format_patient_number;
use clinic_core::patients::*;
use clinic_core::permissions::{Action, BuiltinRole, Module, PermissionMatrix, SensitiveFlag};
use clinic_core::sync::{Mutation, SaveDocument};
use clinic_core::{ClinicError, ClinicResult, ErrorCode, FieldError};
use clinic_store::directory::{ClinicianProfile, Role, Site, Tenant, User};
use clinic_store::keys::{Keychain, Passphrase, Unlock};
use clinic_store::patients::search::PatientSummary;
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

pub(crate) use clinic_store::new_uuid_v7 as new_id;

/// On an enrolled store, sends a member of staff as they now are to every
/// workstation of the tenant (so they can be booked, and sign in, there).
pub(crate) fn share_staff(
    db: &Db,
    actor: Uuid,
    user: Uuid,
    now: DateTime<Utc>,
) -> ClinicResult<()> {
    if !db.is_synced()? {
        return Ok(());
    }
    let u = db
        .user(user)?
        .ok_or_else(|| ClinicError::not_found("User"))?;
    let hash = db
        .credentials(&u.email)?
        .map(|c| c.password_hash)
        .ok_or_else(|| ClinicError::not_found("User"))?;
    let profile = db.clinician_profile(user)?.unwrap_or_default();
    let doc = SaveDocument::new(clinic_core::directory::StaffMember {
        id: u.id,
        email: u.email,
        name: u.name,
        roles: u.roles,
        active: u.status == "active",
        password_hash: hash,
        specialization: profile.specialization,
        registration_number: profile.registration_number,
    });
    db.commit_mutation(Some(actor), now, &Mutation::new(doc))?;
    Ok(())
}

fn normalize_email(field: &str, email: &str) -> ClinicResult<String> {
    let e = email.trim().to_lowercase();
    validate_email(&e).map_err(|m| {
        ClinicError::validation(vec![FieldError {
            field: field.into(),
            message: m.into(),
        }])
    })?;
    Ok(e)
}

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

/// Seeds a new store: tenant, built-in roles, first site with rooms, admin user.
pub(crate) fn seed_tenant(
    db: &Db,
    name: &str,
    site: &str,
    tz: &str,
    admin: Option<(&str, &str, &str)>,
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
    if let Some((email, display, hash)) = admin {
        let role = db
            .role_by_key(BuiltinRole::Admin.key())?
            .ok_or_else(|| ClinicError::internal("admin role missing"))?;
        admin_id = new_id(now);
        db.insert_user(admin_id, email, display, hash, &[role.id], now)?;
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
                    Some((&email, opts.admin_name.trim(), &hash)),
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
        let server = clinic_sync::ServerClient::new(server_url)?;
        let pair = server.login(tenant_slug, &email, password.expose_for_transport(), totp)?;
        let enrollment = server.enroll(&pair.access_token, device_name);
        // The administrator's server session was only for enrolling: end it
        // either way (best effort: the enrolment itself is what matters).
        let _ = server.logout(&pair.refresh_token);
        let enrollment = enrollment?;
        let hash = hash_password(password)?;
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
                let mut role_ids = Vec::new();
                for key in &e.user_roles {
                    if let Some(r) = db.role_by_key(key)? {
                        role_ids.push(r.id);
                    }
                }
                db.insert_user(e.user_id, &email, &e.user_name, &hash, &role_ids, now)?;
                for b in &e.number_blocks {
                    db.add_number_block(&b.series, b.start as u64, b.end as u64)?;
                }
                db.set_meta("sync_server", server_url.trim().trim_end_matches('/'))?;
                db.set_meta("device_credential", &e.device_credential)?;
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

    /// Signs a user in against the locally cached password hash (works offline).
    /// Replaces any current session (fast user switch); the switch is audited.
    pub fn login(&mut self, email: &str, password: &Password) -> ClinicResult<&Session> {
        let now = self.clock.now();
        let email = email.trim().to_lowercase();
        let previous = self.session.take().map(|s| s.user_id);
        let store = self.store_mut()?;
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
        let (user, perms) = store.write(|db| {
            db.record_login(creds.user_id, 0, None, now)?;
            let action = if previous.is_some_and(|p| p != creds.user_id) {
                "session.switch_user"
            } else {
                "user.login"
            };
            db.append_audit(
                new_id(now),
                Some(creds.user_id),
                now,
                AuditEntry::user(
                    action,
                    Some(creds.user_id),
                    json!({"previous_user": previous}),
                ),
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
        });
        Ok(self.session.as_ref().expect("just set"))
    }

    pub fn logout(&mut self) -> ClinicResult<()> {
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
        let (s, now) = self.session_now()?;
        s.permissions.require(module, action)?;
        Ok((s, now))
    }

    /// The current session after the idle check, with its activity refreshed.
    fn session_now(&mut self) -> ClinicResult<(Session, DateTime<Utc>)> {
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

    // ---- users and roles ----

    pub fn add_user(
        &mut self,
        email: &str,
        name: &str,
        role_key: &str,
        password: &Password,
        profile: Option<ClinicianProfile>,
    ) -> ClinicResult<User> {
        let (s, now) = self.act(Module::Admin, Action::Create)?;
        let email = normalize_email("email", email)?;
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ClinicError::validation(vec![FieldError {
                field: "name".into(),
                message: "is required (at most 200 characters)".into(),
            }]));
        }
        let store = self.store_mut()?;
        let role = store.db().role_by_key(role_key)?.ok_or_else(|| {
            let keys: Vec<String> = store
                .db()
                .roles()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.key)
                .collect();
            ClinicError::validation(vec![FieldError {
                field: "role".into(),
                message: format!("unknown role; use one of: {}", keys.join(", ")),
            }])
        })?;
        if !s.permissions.covers(&role.permissions) {
            return Err(ClinicError::forbidden(format!(
                "You cannot give the {} role: it allows more than your own role does.",
                role.name
            )));
        }
        let hash = hash_password(password)?;
        let id = new_id(now);
        store.write(|db| {
            db.insert_user(id, &email, &name, &hash, &[role.id], now)?;
            if let Some(p) = &profile {
                db.upsert_clinician_profile(id, p, now)?;
            }
            share_staff(db, s.user_id, id, now)?;
            db.append_audit(
                new_id(now),
                Some(s.user_id),
                now,
                AuditEntry::user("user.create", Some(id), json!({"role": role.key})),
            )?;
            db.user(id)?.ok_or_else(|| ClinicError::not_found("User"))
        })
    }

    pub fn list_users(&mut self) -> ClinicResult<Vec<User>> {
        self.act(Module::Admin, Action::View)?;
        Ok(self.store()?.db().users()?)
    }

    /// Disables or re-enables an account. Nobody may disable themselves,
    /// an account with more access than their own, or the last active
    /// full administrator (which would leave the clinic unmanageable).
    pub fn set_user_disabled(&mut self, email: &str, disabled: bool) -> ClinicResult<User> {
        let (s, now) = self.act(Module::Admin, Action::Edit)?;
        let email = email.trim().to_lowercase();
        let store = self.store_mut()?;
        let db = store.db();
        let creds = db
            .credentials(&email)?
            .ok_or_else(|| ClinicError::not_found("User"))?;
        if creds.user_id == s.user_id && disabled {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                "You cannot disable your own account.",
            ));
        }
        let target = PermissionMatrix::union(&db.user_permissions(creds.user_id)?);
        if !s.permissions.covers(&target) {
            return Err(ClinicError::forbidden(
                "This account has more access than yours; ask an administrator.",
            ));
        }
        if disabled && target.is_full_admin() {
            let mut other_admins = 0;
            for u in db.users()? {
                if u.id != creds.user_id
                    && u.status == "active"
                    && PermissionMatrix::union(&db.user_permissions(u.id)?).is_full_admin()
                {
                    other_admins += 1;
                }
            }
            if other_admins == 0 {
                return Err(ClinicError::new(
                    ErrorCode::Conflict,
                    "This is the last active administrator; add another one before disabling it.",
                ));
            }
        }
        store.write(|db| {
            db.set_user_status(
                creds.user_id,
                if disabled { "disabled" } else { "active" },
                now,
            )?;
            share_staff(db, s.user_id, creds.user_id, now)?;
            db.append_audit(
                new_id(now),
                Some(s.user_id),
                now,
                AuditEntry::user(
                    if disabled {
                        "user.disable"
                    } else {
                        "user.enable"
                    },
                    Some(creds.user_id),
                    json!({}),
                ),
            )?;
            db.user(creds.user_id)?
                .ok_or_else(|| ClinicError::not_found("User"))
        })
    }

    pub fn list_roles(&mut self) -> ClinicResult<Vec<Role>> {
        self.act(Module::Admin, Action::View)?;
        Ok(self.store()?.db().roles()?)
    }

    // ---- patients ----

    fn may_see(s: &Session) -> impl Fn(SensitiveFlag) -> bool + '_ {
        |f| s.permissions.has_flag(f)
    }

    /// Possible duplicates of a person about to be registered (no write).
    pub fn find_duplicates(
        &mut self,
        details: &PatientDetails,
    ) -> ClinicResult<Vec<DuplicateCandidate>> {
        let (_, now) = self.act(Module::Patients, Action::View)?;
        let mut d = details.clone();
        validate_details(&mut d, now.date_naive())?;
        Ok(self.store()?.db().duplicate_candidates(&d, None)?)
    }

    /// Registers a patient. Returns the record and any duplicate candidates
    /// found at the moment of registration (shown to the person; the UI asks
    /// before saving through [`Workstation::find_duplicates`]).
    pub fn register_patient(
        &mut self,
        details: PatientDetails,
        lists: NewLists,
    ) -> ClinicResult<Registered> {
        let (s, now) = self.act(Module::Patients, Action::Create)?;
        let mut details = details;
        let mut lists = lists;
        let today = now.date_naive();
        let a = validate_details(&mut details, today);
        let b = validate_new_lists(&mut lists, today);
        merge_validation(a, b)?;
        for f in lists.flags_touched() {
            s.permissions.require_flag(f)?;
        }
        for field in changed_fields(&PatientDetails::default(), &details) {
            if let Some(flag) = field_flag(field) {
                s.permissions.require_flag(flag)?;
            }
        }
        let id = new_id(now);
        let lists = lists.assign_ids(|| new_id(now));
        let store = self.store_mut()?;
        let candidates = store.db().duplicate_candidates(&details, None)?;
        let mut patient = self
            .change_patients(
                &s,
                now,
                |db| {
                    Ok(Mutation::new(RegisterPatient {
                        patient: id,
                        patient_number: format_patient_number(db.next_number("patient")?),
                        details: details.clone(),
                        lists,
                    }))
                },
                |_| {
                    vec![AuditEntry::patient(
                        "patient.create",
                        id,
                        json!({"duplicate_candidates": candidates.len()}),
                    )]
                },
            )?
            .after::<Patient>(id)?;
        redact(&mut patient, Self::may_see(&s));
        Ok(Registered {
            patient,
            duplicate_candidates: candidates,
        })
    }

    /// Opens a patient's record. This is a read of health data: audited.
    pub fn show_patient(&mut self, id: Uuid) -> ClinicResult<Patient> {
        let (s, now) = self.act(Module::Patients, Action::View)?;
        let store = self.store_mut()?;
        let mut p = store
            .db()
            .patient(id)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        store.write(|db| {
            Ok(db.append_audit(
                new_id(now),
                Some(s.user_id),
                now,
                AuditEntry::patient("patient.read", id, json!({})),
            )?)
        })?;
        redact(&mut p, Self::may_see(&s));
        Ok(p)
    }

    /// Resolves a patient id or patient number as typed.
    pub fn resolve_patient(&mut self, text: &str) -> ClinicResult<Uuid> {
        self.act(Module::Patients, Action::View)?;
        if let Ok(id) = Uuid::parse_str(text.trim()) {
            return Ok(id);
        }
        let db = self.store()?.db();
        if clinic_core::patients::parse_patient_number(text).is_some() {
            if let Some(id) = db.patient_by_number(text.trim())? {
                return Ok(id);
            }
        }
        Err(ClinicError::new(
            ErrorCode::NotFound,
            "No patient has that id or patient number.",
        ))
    }

    pub fn search_patients(
        &mut self,
        text: &str,
        limit: usize,
    ) -> ClinicResult<Vec<PatientSummary>> {
        self.act(Module::Patients, Action::View)?;
        if text.chars().count() > 200 {
            return Err(ClinicError::validation(vec![FieldError {
                field: "query".into(),
                message: "is too long (at most 200 characters)".into(),
            }]));
        }
        Ok(self
            .store()?
            .db()
            .search_patients(text, limit.clamp(1, 200))?)
    }

    /// Edits a patient: validates the whole result, refuses changes to groups
    /// of fields the role may not touch, and records which fields changed.
    pub fn edit_patient(&mut self, id: Uuid, patch: PatientPatch) -> ClinicResult<Patient> {
        let (s, now) = self.act(Module::Patients, Action::Edit)?;
        let store = self.store_mut()?;
        let current = store
            .db()
            .patient(id)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        ensure_editable(&current)?;
        // Permission first, on every field the edit names, changed or not:
        // the answer must not reveal a hidden field's value.
        for f in patch.touched_fields() {
            if let Some(flag) = field_flag(f) {
                s.permissions.require_flag(flag)?;
            }
        }
        for f in patch.add.flags_touched() {
            s.permissions.require_flag(f)?;
        }
        let mut details = current.details.clone();
        patch.apply_to(&mut details);
        let mut add = patch.add.clone();
        let today = now.date_naive();
        merge_validation(
            validate_details(&mut details, today),
            validate_new_lists(&mut add, today),
        )?;
        // Compared after validation, so a value that only normalises back to
        // what was stored ("gb" → "GB") is not a change.
        let changed = changed_fields(&current.details, &details);
        let items = current.lists.items();
        let guard = |r: &Uuid| items.iter().find(|(i, _)| i == r).map(|(_, flag)| *flag);
        if patch.remove_ids.iter().any(|r| {
            guard(r)
                .flatten()
                .is_some_and(|f| !s.permissions.has_flag(f))
        }) {
            return Err(ClinicError::forbidden(
                "Your role does not allow removing these items.",
            ));
        }
        let new_items = add.assign_ids(|| new_id(now));
        let added = new_items.items().len();
        if patch.remove_ids.iter().any(|r| guard(r).is_none()) {
            return Err(ClinicError::new(
                ErrorCode::NotFound,
                "One of the items to remove does not belong to this patient.",
            ));
        }
        let removed = patch.remove_ids.len();
        let m = Mutation::new(UpdatePatient {
            patient: id,
            set: changed_values(&current.details, &details),
            add: new_items,
            remove_ids: patch.remove_ids.clone(),
        });
        let mut updated = self
            .change_patients(
                &s,
                now,
                |_| Ok(m),
                |_| {
                    vec![AuditEntry::patient(
                        "patient.update",
                        id,
                        json!({"fields": changed, "items_added": added, "items_removed": removed}),
                    )]
                },
            )?
            .after::<Patient>(id)?;
        redact(&mut updated, Self::may_see(&s));
        Ok(updated)
    }

    /// Archives (soft-deletes) a patient: gone from lists and searches, kept
    /// for retention. The reason is kept with the record (it is free text and
    /// may name the patient), not in the audit trail.
    pub fn archive_patient(&mut self, id: Uuid, reason: &str) -> ClinicResult<()> {
        let (s, now) = self.act(Module::Patients, Action::Delete)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(ClinicError::validation(vec![FieldError {
                field: "reason".into(),
                message: "say why the record is archived (at most 500 characters)".into(),
            }]));
        }
        // Archiving a merged or archived record is refused by the rule itself.
        let m = Mutation::new(ArchivePatient {
            patient: id,
            reason: reason.to_string(),
        });
        self.change_patients(
            &s,
            now,
            |_| Ok(m),
            |_| vec![AuditEntry::patient("patient.archive", id, json!({}))],
        )
        .map(|_| ())
    }

    /// Brings an archived patient back (a record archived by mistake).
    /// Records merged into another stay retired.
    pub fn restore_patient(&mut self, id: Uuid) -> ClinicResult<Patient> {
        let (s, now) = self.act(Module::Patients, Action::Delete)?;
        // A merged record stays retired, and a live one cannot be restored:
        // both are refused by the rule itself.
        let mut p = self
            .change_patients(
                &s,
                now,
                |_| Ok(Mutation::new(RestorePatient { patient: id })),
                |_| vec![AuditEntry::patient("patient.restore", id, json!({}))],
            )?
            .after::<Patient>(id)?;
        redact(&mut p, Self::may_see(&s));
        Ok(p)
    }

    /// Merges `duplicate` into `keep`: the survivor gains the duplicate's list
    /// items and fills its empty fields from it; the duplicate is archived and
    /// points at the survivor. Both records' audit trails note the merge.
    pub fn merge_patients(&mut self, keep: Uuid, duplicate: Uuid) -> ClinicResult<Patient> {
        let (s, now) = self.act(Module::Patients, Action::Delete)?;
        s.permissions.require(Module::Patients, Action::Edit)?;
        for f in SensitiveFlag::ALL {
            s.permissions.require_flag(f).map_err(|_| ClinicError::forbidden("Merging records needs access to all patient information; ask an administrator."))?;
        }
        // Two different, editable records with no conflicting national
        // identifiers: checked by the merge rule itself.
        let done = self.change_patients(
            &s,
            now,
            |_| Ok(Mutation::new(MergePatients { keep, duplicate })),
            |c| {
                let filled = changed_fields(
                    &c.before
                        .get::<Patient>(keep)
                        .map(|p| p.details.clone())
                        .unwrap_or_default(),
                    &c.after
                        .get::<Patient>(keep)
                        .map(|p| p.details.clone())
                        .unwrap_or_default(),
                );
                vec![
                    AuditEntry::patient(
                        "patient.merge",
                        keep,
                        json!({"merged": duplicate, "fields_filled": filled}),
                    ),
                    AuditEntry::patient(
                        "patient.merged_into",
                        duplicate,
                        json!({"survivor": keep}),
                    ),
                ]
            },
        )?;
        Ok(done.after::<Patient>(keep)?)
    }

    /// Makes a change as the signed-in person: the mutation (built inside
    /// the transaction), its outbox entry and its audit events, all in one
    /// transaction. `audit` sees the records before and after.
    fn change_patients(
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
            for entry in audit(&c) {
                db.append_audit(new_id(now), Some(s.user_id), now, entry)?;
            }
            Ok(c)
        })
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
        let (s, now) = self.session_now()?;
        self.change_patients(&s, now, build, audit)
    }

    // ---- audit and store ----

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
fn merge_validation(a: ClinicResult<()>, b: ClinicResult<()>) -> ClinicResult<()> {
    match (a, b) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(mut e1), Err(e2)) => {
            e1.fields.extend(e2.fields);
            Err(ClinicError::validation(e1.fields))
        }
    }
}
