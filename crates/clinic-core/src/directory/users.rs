//! Users and roles, changed only through named mutations: create a user,
//! change their details, change their roles, disable or enable them; create
//! or change one of the clinic's own roles. Each carries only what the
//! person changed, so two desks changing one user's name and roles offline
//! both keep their field; each is re-checked by the server with its own
//! view of the author ([`actor`]): only someone allowed to administer
//! grants a role, never one that allows more than their own.

use super::StaffMember;
use crate::error::{ClinicError, ClinicResult, FieldErrors};
use crate::permissions::{Action, BuiltinRole, Module, Permission, PermissionMatrix};
use crate::signing::{PublicKey, UserKey};
use crate::sync::{Actor, Applied, Context, Merge, MutationKind, RecordKind, Records, Registry};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

impl RecordKind for StaffMember {
    const KIND: &'static str = "staff";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn validate(&self) -> ClinicResult<()> {
        StaffMember::validate(self)
    }
}

/// A role of the clinic's own, next to the built-in ones, with its own
/// permission matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRole {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub permissions: PermissionMatrix,
}

impl RecordKind for CustomRole {
    const KIND: &'static str = "role";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        let key_ok = (2..=40).contains(&self.key.len())
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            e.add(
                "key",
                "use 2 to 40 lower-case letters, digits and underscores",
            );
        } else if BuiltinRole::from_key(&self.key).is_some() {
            e.add("key", "is the name of a built-in role");
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            e.add("name", "is required (at most 100 characters)");
        }
        e.into_result()
    }
}

/// The clinic's plan as the server holds it (written by the server alone:
/// no mutation changes it): how many active users it allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClinicPlan {
    /// The tenant's own id (one plan per clinic).
    pub id: Uuid,
    pub name: String,
    pub max_users: u32,
}

impl RecordKind for ClinicPlan {
    const KIND: &'static str = "plan";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.id)
    }
}

/// Refuses one more active user beyond the plan's limit (a conflict for an
/// administrator: disable someone, or change the plan). Without the plan
/// among the records (a store made before plans were records) nothing is
/// refused here; the server always has it.
fn within_plan(recs: &Records, becoming_active: Uuid) -> ClinicResult<()> {
    let Some(plan) = recs.all::<ClinicPlan>().next() else {
        return Ok(());
    };
    let active = recs
        .all::<StaffMember>()
        .filter(|s| s.active && s.id != becoming_active)
        .count();
    if active >= plan.max_users as usize {
        return Err(ClinicError::conflict(format!(
            "The {} plan allows {} active users, and the clinic has {active}; disable one or change the plan first.",
            plan.name, plan.max_users
        )));
    }
    Ok(())
}

/// The permission matrix of a role, built-in or the clinic's own (`None`:
/// no such role).
pub fn role_matrix(key: &str, recs: &Records) -> Option<PermissionMatrix> {
    BuiltinRole::from_key(key)
        .map(BuiltinRole::matrix)
        .or_else(|| {
            recs.all::<CustomRole>()
                .find(|r| r.key == key)
                .map(|r| r.permissions.clone())
        })
}

/// What a set of roles allows together (unknown roles allow nothing).
pub fn roles_matrix(keys: &[String], recs: &Records) -> PermissionMatrix {
    let m: Vec<PermissionMatrix> = keys.iter().filter_map(|k| role_matrix(k, recs)).collect();
    PermissionMatrix::union(&m)
}

/// The kernel's [`crate::sync::registry::Authority`]: a user as their staff
/// record and their roles' records show them.
pub fn actor(user: Uuid, recs: &Records) -> Option<Actor> {
    let s = recs.get::<StaffMember>(user)?;
    Some(Actor {
        name: s.name.clone(),
        active: s.active,
        permissions: roles_matrix(&s.roles, recs),
        keys: s.public_keys(),
    })
}

/// The author's permissions for a rule that needs them: the server always
/// knows the author; on a workstation a change without one is the
/// workstation itself (setting up, demo data), which the server never
/// accepts from a device.
fn author(cx: &Context, recs: &Records) -> ClinicResult<Option<Actor>> {
    match cx.user {
        None => Ok(None),
        Some(u) => actor(u, recs).map(Some).ok_or_else(|| {
            ClinicError::forbidden("This change was made by a user this clinic does not have.")
        }),
    }
}

fn must_cover(author: &Option<Actor>, target: &PermissionMatrix, what: &str) -> ClinicResult<()> {
    match author {
        Some(a) if !a.permissions.covers(target) => Err(ClinicError::forbidden(format!(
            "{} cannot {what}: it allows more than their own roles do.",
            a.name
        ))),
        _ => Ok(()),
    }
}

fn check_roles(roles: &[String], recs: &Records) -> ClinicResult<()> {
    if roles.is_empty() {
        return Err(ClinicError::field("roles", "give at least one role"));
    }
    if let Some(r) = roles.iter().find(|r| role_matrix(r, recs).is_none()) {
        return Err(ClinicError::field(
            "roles",
            format!("there is no role {r} in this clinic"),
        ));
    }
    Ok(())
}

fn staff(recs: &Records, user: Uuid) -> ClinicResult<&StaffMember> {
    recs.get::<StaffMember>(user)
        .ok_or_else(|| ClinicError::not_found("User"))
}

/// Whether anyone is an active full administrator.
fn any_admin(recs: &Records) -> bool {
    another_admin(recs, Uuid::nil())
}

/// Whether someone other than `except` is an active full administrator.
fn another_admin(recs: &Records, except: Uuid) -> bool {
    recs.all::<StaffMember>()
        .any(|s| s.id != except && s.active && roles_matrix(&s.roles, recs).is_full_admin())
}

/// Adds a member of staff (a user of every desk of the clinic, and of the
/// server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateUser {
    pub user: Uuid,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub password_hash: String,
    #[serde(default)]
    pub specialization: Option<String>,
    #[serde(default)]
    pub registration_number: Option<String>,
    /// Their first signing key, sealed by the password given here (made
    /// by the administrator's desk; their own desk replaces it at their
    /// first sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<UserKey>,
}

impl MutationKind for CreateUser {
    const NAME: &'static str = "create_user";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.user]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Admin, Action::Create)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let who = author(cx, recs)?;
        if recs.get::<StaffMember>(self.user).is_some() {
            return Err(ClinicError::forbidden(
                "A member of staff with this id already exists; an account is never created over another one.",
            ));
        }
        let s = StaffMember {
            id: self.user,
            email: self.email.trim().to_lowercase(),
            name: self.name.trim().to_string(),
            roles: self.roles.clone(),
            active: true,
            password_hash: self.password_hash.clone(),
            specialization: self.specialization.clone(),
            registration_number: self.registration_number.clone(),
            must_change_password: false,
            signing_key: self.signing_key.clone(),
            past_keys: vec![],
        };
        s.validate()?;
        check_roles(&s.roles, recs)?;
        must_cover(&who, &roles_matrix(&s.roles, recs), "give these roles")?;
        if let Some(other) = recs.all::<StaffMember>().find(|o| o.email == s.email) {
            return Err(ClinicError::conflict(format!(
                "{} already has the e-mail address {}; the account was not created twice.",
                other.name, s.email
            )));
        }
        within_plan(recs, s.id)?;
        recs.put(s);
        Ok(Applied::one(self.user))
    }
}

/// Changes a member of staff's name or clinician details (only what is given).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateUser {
    pub user: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialization: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<Option<String>>,
}

impl MutationKind for UpdateUser {
    const NAME: &'static str = "update_user";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.user]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Admin, Action::Edit)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let who = author(cx, recs)?;
        let mut s = staff(recs, self.user)?.clone();
        must_cover(&who, &roles_matrix(&s.roles, recs), "change this account")?;
        if let Some(n) = &self.name {
            s.name = n.trim().to_string();
        }
        if let Some(v) = &self.specialization {
            s.specialization = v.clone();
        }
        if let Some(v) = &self.registration_number {
            s.registration_number = v.clone();
        }
        s.validate()?;
        recs.put(s);
        Ok(Applied::one(self.user))
    }
}

/// Gives a member of staff a new set of roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeUserRoles {
    pub user: Uuid,
    pub roles: Vec<String>,
}

impl MutationKind for ChangeUserRoles {
    const NAME: &'static str = "change_user_roles";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.user]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Admin, Action::Edit)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let who = author(cx, recs)?;
        let mut s = staff(recs, self.user)?.clone();
        check_roles(&self.roles, recs)?;
        must_cover(
            &who,
            &roles_matrix(&s.roles, recs),
            "change this account's roles",
        )?;
        let new = roles_matrix(&self.roles, recs);
        must_cover(&who, &new, "give these roles")?;
        if s.active
            && roles_matrix(&s.roles, recs).is_full_admin()
            && !new.is_full_admin()
            && !another_admin(recs, s.id)
        {
            return Err(ClinicError::conflict(
                "This is the last active administrator; make someone else an administrator first.",
            ));
        }
        s.roles = self.roles.clone();
        recs.put(s);
        Ok(Applied::one(self.user))
    }
}

/// Disables a member of staff (their changes are refused everywhere once
/// the server has it, and they can no longer sign in on any desk that has
/// synced), or enables them again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetUserActive {
    pub user: Uuid,
    pub active: bool,
}

impl MutationKind for SetUserActive {
    const NAME: &'static str = "set_user_active";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.user]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Admin, Action::Edit)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let who = author(cx, recs)?;
        let mut s = staff(recs, self.user)?.clone();
        if !self.active && cx.user == Some(s.id) {
            return Err(ClinicError::conflict(
                "You cannot disable your own account.",
            ));
        }
        must_cover(&who, &roles_matrix(&s.roles, recs), "change this account")?;
        if !self.active
            && s.active
            && roles_matrix(&s.roles, recs).is_full_admin()
            && !another_admin(recs, s.id)
        {
            return Err(ClinicError::conflict(
                "This is the last active administrator; add another one before disabling it.",
            ));
        }
        if self.active && !s.active {
            within_plan(recs, s.id)?;
        }
        s.active = self.active;
        recs.put(s);
        Ok(Applied::one(self.user))
    }
}

/// A member of staff changes their own password (the desk checked the
/// current one; the new one's hash travels, never the password).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeOwnPassword {
    pub user: Uuid,
    pub password_hash: String,
    /// Their signing key sealed by the new password: the same key, or a
    /// new one when the one they had was made by someone else (after a
    /// reset). A change without one (queued before signatures) leaves
    /// them without a current key until their next sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<UserKey>,
}

impl MutationKind for ChangeOwnPassword {
    const NAME: &'static str = "change_own_password";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.user]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Account, Action::Edit)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if cx.user != Some(self.user) {
            return Err(ClinicError::forbidden(
                "Only its owner changes an account's password; an administrator resets it.",
            ));
        }
        let mut s = staff(recs, self.user)?.clone();
        if self
            .signing_key
            .as_ref()
            .is_some_and(|k| k.made_by != self.user)
        {
            return Err(ClinicError::field(
                "signing_key",
                "must be made by its owner when they change their password",
            ));
        }
        s.password_hash = self.password_hash.clone();
        s.must_change_password = false;
        s.take_key(self.signing_key.clone(), cx.at);
        s.validate()?;
        recs.put(s);
        Ok(Applied::one(self.user))
    }
}

/// An administrator gives an account a new password that its owner must
/// change at their next sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetPassword {
    pub user: Uuid,
    pub password_hash: String,
    /// A new signing key sealed by the new password (the one they had
    /// becomes a past key: what it signed stays verifiable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<UserKey>,
}

impl MutationKind for ResetPassword {
    const NAME: &'static str = "reset_password";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.user]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Admin, Action::Edit)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let who = author(cx, recs)?;
        if cx.user == Some(self.user) {
            return Err(ClinicError::conflict(
                "Change your own password instead of resetting it.",
            ));
        }
        let mut s = staff(recs, self.user)?.clone();
        must_cover(
            &who,
            &roles_matrix(&s.roles, recs),
            "reset this account's password",
        )?;
        s.password_hash = self.password_hash.clone();
        s.must_change_password = true;
        s.take_key(self.signing_key.clone(), cx.at);
        s.validate()?;
        recs.put(s);
        Ok(Applied::one(self.user))
    }
}

/// A member of staff's desk registers a signing key it made for them at
/// their sign-in: their first (an account from before signatures, signed
/// by the new key itself), or one replacing a key someone else made
/// (signed by that key, which their password opened). Every key a user
/// was given keeps verifying what it signed: queued work is never
/// refused for the key it carries; an account is shut out by disabling it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterSigningKey {
    pub user: Uuid,
    pub signing_key: UserKey,
}

impl MutationKind for RegisterSigningKey {
    const NAME: &'static str = "register_signing_key";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.user]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Account, Action::Edit)
    }
    fn own_key(&self) -> Option<PublicKey> {
        Some(PublicKey {
            key_id: self.signing_key.key_id.clone(),
            public_key: self.signing_key.public_key.clone(),
        })
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if cx.user != Some(self.user) || self.signing_key.made_by != self.user {
            return Err(ClinicError::forbidden(
                "Only its owner registers a signing key, at their own sign-in.",
            ));
        }
        let mut s = staff(recs, self.user)?.clone();
        match &s.signing_key {
            // They have a key of their own already: made on another desk
            // at a first sign-in there while neither desk had synced. This
            // one is kept beside it (what it signed stays theirs); each
            // desk opens the current one at their next sign-in there.
            Some(k) if k.made_by == self.user => {
                if s.public_keys()
                    .iter()
                    .any(|p| p.key_id == self.signing_key.key_id)
                {
                    return Ok(Applied::nothing());
                }
                self.signing_key.validate()?;
                s.past_keys.push(self.signing_key.past(cx.at));
            }
            _ => s.take_key(Some(self.signing_key.clone()), cx.at),
        }
        s.validate()?;
        recs.put(s);
        Ok(Applied::one(self.user))
    }
}

/// Adds one of the clinic's own roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRole {
    pub role: CustomRole,
}

impl MutationKind for CreateRole {
    const NAME: &'static str = "create_role";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.role.id]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Admin, Action::Create)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let who = author(cx, recs)?;
        if recs.contains(self.role.id) {
            return Err(ClinicError::forbidden(
                "A record with this id already exists; a role is never created over it.",
            ));
        }
        self.role.validate()?;
        must_cover(&who, &self.role.permissions, "create this role")?;
        if recs.all::<CustomRole>().any(|r| r.key == self.role.key) {
            return Err(ClinicError::conflict(format!(
                "A role named {} already exists.",
                self.role.key
            )));
        }
        recs.put(self.role.clone());
        Ok(Applied::one(self.role.id))
    }
}

/// Changes the name or the permissions of one of the clinic's own roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRole {
    pub role: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<PermissionMatrix>,
}

impl MutationKind for ChangeRole {
    const NAME: &'static str = "change_role";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.role]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Admin, Action::Edit)
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let who = author(cx, recs)?;
        let mut r = recs
            .get::<CustomRole>(self.role)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Role"))?;
        must_cover(&who, &r.permissions, "change this role")?;
        if let Some(n) = &self.name {
            r.name = n.trim().to_string();
        }
        if let Some(p) = &self.permissions {
            must_cover(&who, p, "give this role these permissions")?;
            r.permissions = p.clone();
        }
        r.validate()?;
        let had_admin = any_admin(recs);
        let before = recs.get::<CustomRole>(self.role).cloned();
        recs.put(r);
        if had_admin && !any_admin(recs) {
            if let Some(b) = before {
                recs.put(b);
            }
            return Err(ClinicError::conflict(
                "This would leave the clinic without an active administrator; make someone else one first.",
            ));
        }
        Ok(Applied::one(self.role))
    }
}

pub(super) fn register(r: &mut Registry) {
    r.record::<StaffMember>()
        .record::<CustomRole>()
        .record::<ClinicPlan>()
        .mutation::<CreateUser>()
        .mutation::<UpdateUser>()
        .mutation::<ChangeUserRoles>()
        .mutation::<SetUserActive>()
        .mutation::<CreateRole>()
        .mutation::<ChangeRole>()
        .mutation::<ChangeOwnPassword>()
        .mutation::<ResetPassword>()
        .mutation::<RegisterSigningKey>()
        .authority(actor);
}

/// The names of the directory's user and role mutations (their context is
/// every member of staff and every role of the clinic).
pub const USER_MUTATIONS: &[&str] = &[
    CreateUser::NAME,
    UpdateUser::NAME,
    ChangeUserRoles::NAME,
    SetUserActive::NAME,
    CreateRole::NAME,
    ChangeRole::NAME,
    ChangeOwnPassword::NAME,
    ResetPassword::NAME,
    RegisterSigningKey::NAME,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::sync::{apply, Mutation};
    use chrono::{TimeZone, Utc};

    const ADMIN: Uuid = Uuid::from_u128(1);
    const RITA: Uuid = Uuid::from_u128(2);

    fn member(id: Uuid, name: &str, role: &str) -> StaffMember {
        StaffMember {
            id,
            email: format!("{}@example.org", name.to_lowercase()),
            name: name.into(),
            roles: vec![role.into()],
            active: true,
            password_hash:
                "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
                    .into(),
            specialization: None,
            registration_number: None,
            must_change_password: false,
            signing_key: None,
            past_keys: vec![],
        }
    }

    fn clinic() -> Records {
        let mut r = Records::default();
        r.put(member(ADMIN, "Admin", "admin"));
        r.put(member(RITA, "Rita", "receptionist"));
        r
    }

    fn by(user: Uuid, m: impl MutationKind, recs: &mut Records) -> ClinicResult<()> {
        let cx = Context {
            tenant: Uuid::from_u128(99),
            at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
            user: Some(user),
        };
        apply(&Mutation::new(m), &cx, recs).map(|_| ())
    }

    fn new_user(id: u128, email: &str, role: &str) -> CreateUser {
        CreateUser {
            user: Uuid::from_u128(id),
            email: email.into(),
            name: "New".into(),
            roles: vec![role.into()],
            password_hash:
                "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
                    .into(),
            specialization: None,
            registration_number: None,
            signing_key: None,
        }
    }

    #[test]
    fn every_user_and_role_mutation_gets_every_member_of_staff_as_context() {
        let mut r = Registry::default();
        register(&mut r);
        let mut named: Vec<&str> = r.mutation_names().collect();
        named.sort_unstable();
        let mut listed = USER_MUTATIONS.to_vec();
        listed.sort_unstable();
        assert_eq!(named, listed);
    }

    #[test]
    fn name_and_roles_change_independently_in_either_order() {
        let rename = UpdateUser {
            user: RITA,
            name: Some("Rita Okafor".into()),
            ..Default::default()
        };
        let roles = ChangeUserRoles {
            user: RITA,
            roles: vec!["billing_clerk".into()],
        };
        let mut one = clinic();
        by(ADMIN, rename.clone(), &mut one).unwrap();
        by(ADMIN, roles.clone(), &mut one).unwrap();
        let mut two = clinic();
        by(ADMIN, roles, &mut two).unwrap();
        by(ADMIN, rename, &mut two).unwrap();
        assert_eq!(one, two);
        let r = one.get::<StaffMember>(RITA).unwrap();
        assert_eq!(
            (r.name.as_str(), r.roles.clone()),
            ("Rita Okafor", vec!["billing_clerk".to_string()])
        );
    }

    #[test]
    fn nobody_grants_more_than_their_own_roles_allow() {
        let mut r = clinic();
        let manager = Uuid::from_u128(3);
        r.put(member(manager, "Max", "manager"));
        let before = r.clone();
        for role in ["admin", "clinician"] {
            let e = by(manager, new_user(10, "x@example.org", role), &mut r).unwrap_err();
            assert_eq!(e.code, ErrorCode::Forbidden, "{role}: {e:?}");
            let e = by(
                manager,
                ChangeUserRoles {
                    user: RITA,
                    roles: vec![role.into()],
                },
                &mut r,
            )
            .unwrap_err();
            assert_eq!(e.code, ErrorCode::Forbidden, "{role}");
        }
        // Nor changes an account that has more than they do.
        let e = by(
            manager,
            SetUserActive {
                user: ADMIN,
                active: false,
            },
            &mut r,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(r, before);
        by(
            manager,
            new_user(10, "x@example.org", "billing_clerk"),
            &mut r,
        )
        .unwrap();
    }

    #[test]
    fn the_last_administrator_stays_and_nobody_disables_themselves() {
        let mut r = clinic();
        let off = |user| SetUserActive {
            user,
            active: false,
        };
        assert_eq!(
            by(ADMIN, off(ADMIN), &mut r).unwrap_err().code,
            ErrorCode::Conflict
        );
        let demote = ChangeUserRoles {
            user: ADMIN,
            roles: vec!["manager".into()],
        };
        assert_eq!(
            by(ADMIN, demote.clone(), &mut r).unwrap_err().code,
            ErrorCode::Conflict
        );
        r.put(member(Uuid::from_u128(4), "Second", "admin"));
        by(ADMIN, demote, &mut r).unwrap();
    }

    #[test]
    fn an_email_is_one_account_and_the_plan_caps_active_users() {
        let mut r = clinic();
        let e = by(ADMIN, new_user(10, "rita@example.org", "clinician"), &mut r).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict, "{e:?}");
        r.put(ClinicPlan {
            id: Uuid::from_u128(99),
            name: "basic".into(),
            max_users: 3,
        });
        by(ADMIN, new_user(10, "a@example.org", "clinician"), &mut r).unwrap();
        let e = by(ADMIN, new_user(11, "b@example.org", "clinician"), &mut r).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(e.message.contains("allows 3 active users"), "{}", e.message);
        // Disabling one makes room; enabling it again is refused while full.
        by(
            ADMIN,
            SetUserActive {
                user: RITA,
                active: false,
            },
            &mut r,
        )
        .unwrap();
        by(ADMIN, new_user(11, "b@example.org", "clinician"), &mut r).unwrap();
        let e = by(
            ADMIN,
            SetUserActive {
                user: RITA,
                active: true,
            },
            &mut r,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
    }

    #[test]
    fn a_custom_role_is_a_role_like_the_built_in_ones() {
        let mut r = clinic();
        let mut m = BuiltinRole::Receptionist.matrix();
        m.flags.clear();
        let role = CustomRole {
            id: Uuid::from_u128(20),
            key: "front_desk_lite".into(),
            name: "Front desk (no money)".into(),
            permissions: m.clone(),
        };
        // A built-in key is not available, and nobody makes a role above themselves.
        let mut clash = role.clone();
        clash.key = "admin".into();
        assert_eq!(
            by(ADMIN, CreateRole { role: clash }, &mut r)
                .unwrap_err()
                .code,
            ErrorCode::Validation
        );
        assert_eq!(
            by(
                RITA,
                CreateRole {
                    role: CustomRole {
                        permissions: BuiltinRole::Admin.matrix(),
                        ..role.clone()
                    }
                },
                &mut r
            )
            .unwrap_err()
            .code,
            ErrorCode::Forbidden
        );
        by(ADMIN, CreateRole { role: role.clone() }, &mut r).unwrap();
        by(
            ADMIN,
            ChangeUserRoles {
                user: RITA,
                roles: vec!["front_desk_lite".into()],
            },
            &mut r,
        )
        .unwrap();
        let a = actor(RITA, &r).unwrap();
        assert_eq!(a.permissions, PermissionMatrix::union(&[m]));
        assert!(!a
            .permissions
            .has_flag(crate::permissions::SensitiveFlag::FinancialData));
    }
}
