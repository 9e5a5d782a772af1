//! The directory's use-cases: users and roles on this workstation (shared
//! with every desk of an enrolled clinic as staff records), and the
//! clinic's enrolled workstations on the server ([`devices`]).

pub mod devices;

use crate::auth::{hash_password, Password};
use crate::workstation::{new_id, Workstation};
use clinic_core::audit::AuditEntry;
use clinic_core::directory::{
    ChangeUserRoles, CreateRole, CreateUser, CustomRole, ResetPassword, SetUserActive, UpdateUser,
};
use clinic_core::patients::validate_email;
use clinic_core::permissions::{Action, Module, PermissionMatrix};
use clinic_core::sync::Mutation;
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::directory::{ClinicianProfile, Role, User};
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

pub(crate) fn normalize_email(field: &str, email: &str) -> ClinicResult<String> {
    let e = email.trim().to_lowercase();
    validate_email(&e).map_err(|m| ClinicError::field(field, m))?;
    Ok(e)
}

impl Directory<'_> {
    /// A member of staff by e-mail.
    fn user_by_email(&mut self, email: &str) -> ClinicResult<User> {
        let email = email.trim().to_lowercase();
        let db = self.ws.store()?.db();
        let creds = db
            .credentials(&email)?
            .ok_or_else(|| ClinicError::not_found("User"))?;
        db.user(creds.user_id)?
            .ok_or_else(|| ClinicError::not_found("User"))
    }

    /// Makes a change of users or roles as the signed-in administrator,
    /// with its audit event; returns the user as they now are.
    fn change_user(
        &mut self,
        action: Action,
        m: Mutation,
        user: Uuid,
        audit: &'static str,
        details: serde_json::Value,
    ) -> ClinicResult<User> {
        let (s, now) = self.ws.act(Module::Admin, action)?;
        self.ws.commit_change(
            &s,
            now,
            |_| Ok(m),
            |_| vec![AuditEntry::user(audit, Some(user), details)],
        )?;
        // Disabled, or a new password: their old one no longer unlocks this desk.
        self.ws.reconcile_unlocks();
        self.ws
            .store()?
            .db()
            .user(user)?
            .ok_or_else(|| ClinicError::not_found("User"))
    }

    /// Adds a member of staff: a user of every desk of the clinic once it
    /// syncs, and of the server. Only roles within the author's own.
    pub fn add_user(
        &mut self,
        email: &str,
        name: &str,
        role_key: &str,
        password: &Password,
        profile: Option<ClinicianProfile>,
    ) -> ClinicResult<User> {
        let (_, now) = self.ws.act(Module::Admin, Action::Create)?;
        let email = normalize_email("email", email)?;
        let password = &Password::checked_for(password.expose_for_transport().to_string(), &email)?;
        let db = self.ws.store()?.db();
        if db.role_by_key(role_key)?.is_none() {
            let keys: Vec<String> = db.roles()?.into_iter().map(|r| r.key).collect();
            return Err(ClinicError::field(
                "role",
                format!("unknown role; use one of: {}", keys.join(", ")),
            ));
        }
        if db.credentials(&email)?.is_some() {
            return Err(ClinicError::field(
                "email",
                "a user with this email already exists",
            ));
        }
        let id = new_id(now);
        let author = self.ws.session().map(|s| s.user_id).unwrap_or(id);
        let tenant = self.ws.store()?.tenant_id();
        let (_, key) = crate::auth::new_signing_key(tenant, id, password, author)?;
        let p = profile.clone().unwrap_or_default();
        let m = Mutation::new(CreateUser {
            user: id,
            email,
            name: name.trim().to_string(),
            roles: vec![role_key.to_string()],
            password_hash: hash_password(password)?,
            specialization: p.specialization,
            registration_number: p.registration_number,
            signing_key: Some(key),
        });
        let u = self.change_user(
            Action::Create,
            m,
            id,
            "user.create",
            json!({"role": role_key}),
        )?;
        if let Some(p) = profile {
            // The rest of the profile (qualifications, fee, …) is this desk's.
            self.ws
                .store_mut()?
                .write(|db| Ok(db.upsert_clinician_profile(id, &p, now)?))?;
        }
        Ok(u)
    }

    pub fn list_users(&mut self) -> ClinicResult<Vec<User>> {
        self.ws.act(Module::Admin, Action::View)?;
        Ok(self.ws.store()?.db().users()?)
    }

    /// Disables or re-enables an account. Nobody may disable themselves,
    /// an account with more access than their own, or the last active
    /// full administrator (which would leave the clinic unmanageable).
    /// Once the server has it, a disabled account's changes are refused
    /// from every desk.
    pub fn set_user_disabled(&mut self, email: &str, disabled: bool) -> ClinicResult<User> {
        let u = self.user_by_email(email)?;
        let m = Mutation::new(SetUserActive {
            user: u.id,
            active: !disabled,
        });
        let audit = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.change_user(Action::Edit, m, u.id, audit, json!({}))
    }

    /// Gives an account a new password its owner must change at their next
    /// sign-in (only accounts within the author's own roles). Audited.
    pub fn reset_password(&mut self, email: &str, new: Password) -> ClinicResult<User> {
        let u = self.user_by_email(email)?;
        let new = Password::checked_for(new.expose_for_transport().to_string(), &u.email)?;
        let author = self.ws.session().map(|s| s.user_id).unwrap_or(u.id);
        let tenant = self.ws.store()?.tenant_id();
        let (_, key) = crate::auth::new_signing_key(tenant, u.id, &new, author)?;
        let m = Mutation::new(ResetPassword {
            user: u.id,
            password_hash: hash_password(&new)?,
            signing_key: Some(key),
        });
        self.change_user(Action::Edit, m, u.id, "user.password_reset", json!({}))
    }

    /// Gives an account a new set of roles (only roles within the author's own).
    pub fn set_user_roles(&mut self, email: &str, roles: &[String]) -> ClinicResult<User> {
        let u = self.user_by_email(email)?;
        let m = Mutation::new(ChangeUserRoles {
            user: u.id,
            roles: roles.to_vec(),
        });
        self.change_user(
            Action::Edit,
            m,
            u.id,
            "user.roles",
            json!({"from": u.roles, "to": roles}),
        )
    }

    /// Changes an account's display name.
    pub fn rename_user(&mut self, email: &str, name: &str) -> ClinicResult<User> {
        let u = self.user_by_email(email)?;
        let m = Mutation::new(UpdateUser {
            user: u.id,
            name: Some(name.trim().to_string()),
            ..Default::default()
        });
        self.change_user(
            Action::Edit,
            m,
            u.id,
            "user.update",
            json!({"field": "name"}),
        )
    }

    /// Adds one of the clinic's own roles, with its own permission matrix
    /// (never more than the author's own).
    pub fn create_role(
        &mut self,
        key: &str,
        name: &str,
        permissions: PermissionMatrix,
    ) -> ClinicResult<Role> {
        let (s, now) = self.ws.act(Module::Admin, Action::Create)?;
        let role = CustomRole {
            id: new_id(now),
            key: key.trim().to_string(),
            name: name.trim().to_string(),
            permissions,
        };
        let id = role.id;
        let m = Mutation::new(CreateRole { role });
        self.ws.commit_change(
            &s,
            now,
            |_| Ok(m),
            |_| {
                vec![AuditEntry {
                    action: "role.create",
                    entity_type: "role",
                    entity_id: Some(id),
                    patient_id: None,
                    details: json!({"key": key}),
                }]
            },
        )?;
        self.ws
            .store()?
            .db()
            .roles()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ClinicError::not_found("Role"))
    }

    pub fn list_roles(&mut self) -> ClinicResult<Vec<Role>> {
        self.ws.act(Module::Admin, Action::View)?;
        Ok(self.ws.store()?.db().roles()?)
    }
}
