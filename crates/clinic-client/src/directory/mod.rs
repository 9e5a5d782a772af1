//! The directory's use-cases: users and roles on this workstation (shared
//! with every desk of an enrolled clinic as staff records), and the
//! clinic's enrolled workstations on the server ([`devices`]).

pub mod devices;

use crate::auth::{hash_password, Password};
use crate::workstation::{new_id, Workstation};
use chrono::{DateTime, Utc};
use clinic_core::audit::AuditEntry;
use clinic_core::patients::validate_email;
use clinic_core::permissions::{Action, Module, PermissionMatrix};
use clinic_core::sync::{Mutation, SaveDocument};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::directory::{ClinicianProfile, Role, User};
use clinic_store::Db;
use serde_json::json;
use uuid::Uuid;

/// The directory's use-cases of a workstation: `ws.directory()`.
#[derive(Debug)]
pub struct Directory<'w> {
    pub(crate) ws: &'w mut Workstation,
}

impl Workstation {
    pub fn directory(&mut self) -> Directory<'_> {
        Directory { ws: self }
    }
}

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

pub(crate) fn normalize_email(field: &str, email: &str) -> ClinicResult<String> {
    let e = email.trim().to_lowercase();
    validate_email(&e).map_err(|m| ClinicError::field(field, m))?;
    Ok(e)
}

impl Directory<'_> {
    pub fn add_user(
        &mut self,
        email: &str,
        name: &str,
        role_key: &str,
        password: &Password,
        profile: Option<ClinicianProfile>,
    ) -> ClinicResult<User> {
        let (s, now) = self.ws.act(Module::Admin, Action::Create)?;
        let email = normalize_email("email", email)?;
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ClinicError::field(
                "name",
                "is required (at most 200 characters)",
            ));
        }
        let store = self.ws.store_mut()?;
        let role = store.db().role_by_key(role_key)?.ok_or_else(|| {
            let keys: Vec<String> = store
                .db()
                .roles()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.key)
                .collect();
            ClinicError::field(
                "role",
                format!("unknown role; use one of: {}", keys.join(", ")),
            )
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
        self.ws.act(Module::Admin, Action::View)?;
        Ok(self.ws.store()?.db().users()?)
    }

    /// Disables or re-enables an account. Nobody may disable themselves,
    /// an account with more access than their own, or the last active
    /// full administrator (which would leave the clinic unmanageable).
    pub fn set_user_disabled(&mut self, email: &str, disabled: bool) -> ClinicResult<User> {
        let (s, now) = self.ws.act(Module::Admin, Action::Edit)?;
        let email = email.trim().to_lowercase();
        let store = self.ws.store_mut()?;
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
        self.ws.act(Module::Admin, Action::View)?;
        Ok(self.ws.store()?.db().roles()?)
    }
}
