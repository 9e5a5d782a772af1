//! Reference records every workstation of a tenant shares: staff, sites,
//! rooms, appointment types, clinicians' working time and the waitlist.
//! Each is a whole document, replaced as a whole (last writer by server
//! order wins); they change rarely and are small.

use crate::error::{ClinicResult, FieldErrors};
use crate::schedule::{AppointmentType, ClinicianSchedule, WaitlistEntry};
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefDoc {
    Staff(StaffMember),
    Site(SiteDoc),
    Room(RoomDoc),
    AppointmentType(AppointmentType),
    ClinicianSchedule(ClinicianSchedule),
    WaitlistEntry(WaitlistEntry),
}

pub const REF_KINDS: [&str; 6] = [
    "staff",
    "site",
    "room",
    "appointment_type",
    "clinician_schedule",
    "waitlist_entry",
];

impl RefDoc {
    pub fn id(&self) -> Uuid {
        match self {
            RefDoc::Staff(x) => x.id,
            RefDoc::Site(x) => x.id,
            RefDoc::Room(x) => x.id,
            RefDoc::AppointmentType(x) => x.id,
            RefDoc::ClinicianSchedule(x) => x.id,
            RefDoc::WaitlistEntry(x) => x.id,
        }
    }

    /// The feed's entity type of this record.
    pub fn kind(&self) -> &'static str {
        match self {
            RefDoc::Staff(_) => REF_KINDS[0],
            RefDoc::Site(_) => REF_KINDS[1],
            RefDoc::Room(_) => REF_KINDS[2],
            RefDoc::AppointmentType(_) => REF_KINDS[3],
            RefDoc::ClinicianSchedule(_) => REF_KINDS[4],
            RefDoc::WaitlistEntry(_) => REF_KINDS[5],
        }
    }

    /// Whether changing it is an administrator's job (staff and premises)
    /// rather than the front desk's (types, working time, waitlist).
    pub fn needs_admin(&self) -> bool {
        matches!(self, RefDoc::Staff(_) | RefDoc::Site(_) | RefDoc::Room(_))
    }

    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        match self {
            RefDoc::Staff(s) => {
                if !s.email.contains('@') || s.email != s.email.trim().to_lowercase() {
                    e.add("email", "must be a lower-case e-mail address");
                }
                if s.name.trim().is_empty() {
                    e.add("name", "is required");
                }
                if !s.password_hash.starts_with("$argon2") {
                    e.add("password_hash", "must be an Argon2 hash");
                }
                if s.roles.iter().any(|r| {
                    crate::permissions::BuiltinRole::ALL
                        .iter()
                        .all(|b| b.key() != r)
                }) {
                    e.add("roles", "holds a role that does not exist");
                }
            }
            RefDoc::Site(s) => {
                if s.name.trim().is_empty() {
                    e.add("name", "is required");
                }
                crate::schedule::parse_tz(&s.timezone)?;
            }
            RefDoc::Room(r) => {
                if r.name.trim().is_empty() {
                    e.add("name", "is required");
                }
            }
            RefDoc::AppointmentType(t) => t.validate()?,
            RefDoc::ClinicianSchedule(s) => s.validate()?,
            RefDoc::WaitlistEntry(w) => {
                if !["waiting", "booked", "removed"].contains(&w.status.as_str()) {
                    e.add("status", "must be waiting, booked or removed");
                }
                if w.latest.is_some_and(|l| l < w.earliest) {
                    e.add("latest", "is before the earliest date");
                }
            }
        }
        e.into_result()
    }
}
