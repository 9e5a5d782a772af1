//! The directory every workstation of a tenant shares: staff, the clinic's
//! own roles, sites and rooms.
//!
//! Users and roles have one authority: their records, changed only by
//! named mutations ([`users`]) that the server re-checks like any other,
//! so concurrent changes of different fields both survive, and the server
//! knows every user made on any desk. The same records tell the kernel who
//! may do what ([`actor`]). Sites and rooms are whole documents only a full
//! administrator saves.

use crate::error::{ClinicResult, FieldErrors};
use crate::permissions::Permission;
use crate::sync::Registry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod users;
pub use users::*;

/// A member of staff as every workstation knows them. The password hash
/// (Argon2id) travels so that staff can sign in offline on any workstation
/// of the tenant; stores are encrypted at rest and the feed is served only
/// to enrolled devices of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// Built-in role keys (`clinician`, `receptionist`, …).
    pub roles: Vec<String>,
    pub active: bool,
    pub password_hash: String,
    #[serde(default)]
    pub specialization: Option<String>,
    #[serde(default)]
    pub registration_number: Option<String>,
    /// Reset by an administrator: the next sign-in must choose a new one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_change_password: bool,
    /// Their current signing key, its private half sealed by their
    /// password ([`crate::signing`]); none before their first sign-in
    /// after signatures came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<crate::signing::UserKey>,
    /// Keys they had before, which still verify what they signed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_keys: Vec<crate::signing::PastKey>,
}

impl StaffMember {
    /// Every public key that verifies this member's signatures: the
    /// current one first, then the ones they had before.
    pub fn public_keys(&self) -> Vec<crate::signing::PublicKey> {
        let current = self.signing_key.iter().map(|k| (&k.key_id, &k.public_key));
        let past = self.past_keys.iter().map(|k| (&k.key_id, &k.public_key));
        current
            .chain(past)
            .map(|(id, pk)| crate::signing::PublicKey {
                key_id: id.clone(),
                public_key: pk.clone(),
            })
            .collect()
    }

    /// Makes `key` their current key; a different current one becomes a past key.
    pub fn take_key(
        &mut self,
        key: Option<crate::signing::UserKey>,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        if let Some(old) = self.signing_key.take() {
            if key.as_ref().is_none_or(|k| k.key_id != old.key_id)
                && !self.past_keys.iter().any(|p| p.key_id == old.key_id)
            {
                self.past_keys.push(old.past(at));
            }
        }
        self.signing_key = key;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDoc {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomDoc {
    pub id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    pub kind: String,
}

impl StaffMember {
    /// Checks the member's own fields (their roles are checked against the
    /// clinic's roles by the mutations that set them).
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if crate::patients::validate_email(&self.email).is_err()
            || self.email != self.email.trim().to_lowercase()
        {
            e.add("email", "must be a lower-case e-mail address");
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            e.add("name", "is required (at most 200 characters)");
        }
        if let Err(why) = crate::auth::check_password_hash(&self.password_hash) {
            e.add("password_hash", why);
        }
        if self.roles.is_empty() {
            e.add("roles", "give at least one role");
        }
        if let Some(k) = &self.signing_key {
            if let Err(err) = k.validate() {
                e.add("signing_key", err.message);
            }
        }
        e.into_result()
    }
}

impl SiteDoc {
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if self.name.trim().is_empty() {
            e.add("name", "is required");
        }
        e.into_result()?;
        crate::scheduling::parse_tz(&self.timezone).map(|_| ())
    }
}

impl RoomDoc {
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if self.name.trim().is_empty() {
            e.add("name", "is required");
        }
        e.into_result()
    }
}

// Premises: whole documents only a full administrator saves.
crate::document_kind!(SiteDoc, "site", Permission::admin());
crate::document_kind!(RoomDoc, "room", Permission::admin(), refs);

impl RoomDoc {
    fn named_refs(&self) -> Vec<crate::sync::Ref> {
        vec![crate::sync::Ref::to::<SiteDoc>(self.site_id, "site")]
    }
}

pub fn register(r: &mut Registry) {
    r.record::<SiteDoc>().record::<RoomDoc>();
    users::register(r);
}
