//! The directory every workstation of a tenant shares: staff, sites and
//! rooms. Each is a whole document, replaced as a whole (last writer by
//! server order wins); they change rarely, are small, and only an
//! administrator changes them.

use crate::error::{ClinicResult, FieldErrors};
use crate::permissions::Permission;
use crate::sync::Registry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if !self.email.contains('@') || self.email != self.email.trim().to_lowercase() {
            e.add("email", "must be a lower-case e-mail address");
        }
        if self.name.trim().is_empty() {
            e.add("name", "is required");
        }
        if !self.password_hash.starts_with("$argon2") {
            e.add("password_hash", "must be an Argon2 hash");
        }
        if self.roles.iter().any(|r| {
            crate::permissions::BuiltinRole::ALL
                .iter()
                .all(|b| b.key() != r)
        }) {
            e.add("roles", "holds a role that does not exist");
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

// Staff and premises: whole documents only a full administrator saves.
crate::document_kind!(StaffMember, "staff", Permission::admin());
crate::document_kind!(SiteDoc, "site", Permission::admin());
crate::document_kind!(RoomDoc, "room", Permission::admin());

pub fn register(r: &mut Registry) {
    r.record::<StaffMember>()
        .record::<SiteDoc>()
        .record::<RoomDoc>();
}
