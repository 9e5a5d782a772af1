//! Named mutations and the sync protocol, defined once for both executors.
//!
//! A workstation applies a [`Mutation`] optimistically to its own store and
//! queues it; the server re-applies the same mutation, with the same
//! [`apply`], against its master copy. Both pass in the records the mutation
//! touches, the time it was made and nothing else, so the outcome is a pure
//! function of its inputs and the simulation can replay any run from a seed.
//!
//! Merge rules (see `shared/spec/sync.md`), as they fall out of re-execution
//! in server order:
//! - patient fields: an update carries only the fields the person changed,
//!   so edits of different fields on two workstations both survive and the
//!   same field ends with the later one by server order (the earlier value
//!   stays in the change feed's history);
//! - list items (allergies, insurances, …) are added and removed by id, so
//!   concurrent additions both survive;
//! - archive is a tombstone; an edit of a record archived or merged
//!   elsewhere comes back as a conflict for a person to look at;
//! - patient numbers come from blocks leased to each device, and the server
//!   refuses a number it already holds (never silently reissued).

use crate::directory::{RefDoc, REF_KINDS};
use crate::error::{ClinicError, ClinicResult, ErrorCode};
use crate::patient::*;
use crate::schedule::{Appointment, AppointmentChange};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Version of the push/pull protocol and of the documents it carries. A
/// workstation and a server with different versions refuse to exchange data
/// (`UPDATE_REQUIRED`), so neither ever writes a row it does not understand.
///
/// 3: pull pages carry the feed's chain value only on their first and last
/// change; the receiver computes the ones between ([`fill_chains`]).
pub const PROTOCOL_VERSION: u32 = 3;

/// The kinds of record the change feed carries in this protocol version:
/// these two and [`crate::directory::REF_KINDS`].
pub const ENTITY_PATIENT: &str = "patient";
pub const ENTITY_APPOINTMENT: &str = "appointment";

/// Whether this version knows a kind of record.
pub fn known_entity(kind: &str) -> bool {
    kind == ENTITY_PATIENT || kind == ENTITY_APPOINTMENT || REF_KINDS.contains(&kind)
}

/// A named change a person made, with everything needed to make it again.
/// (Registration is larger than the rest; mutations are short-lived values,
/// so the size difference costs nothing worth a box.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mutation {
    RegisterPatient {
        patient: Uuid,
        patient_number: String,
        details: PatientDetails,
        #[serde(default)]
        lists: PatientLists,
    },
    /// `set` holds only the fields the person changed, with their new values.
    UpdatePatient {
        patient: Uuid,
        #[serde(default)]
        set: Map<String, Value>,
        #[serde(default)]
        add: PatientLists,
        #[serde(default)]
        remove_ids: Vec<Uuid>,
    },
    ArchivePatient {
        patient: Uuid,
        reason: String,
    },
    RestorePatient {
        patient: Uuid,
    },
    MergePatients {
        keep: Uuid,
        duplicate: Uuid,
    },
    /// Creates or replaces a reference record (staff, site, room,
    /// appointment type, working time, waitlist entry).
    SaveRef {
        doc: RefDoc,
    },
    /// Books an appointment. Without `override_overlap` a booking that
    /// overlaps another (booked meanwhile on another workstation) is kept
    /// and marked as a conflict for a person to resolve.
    BookAppointment {
        appointment: Appointment,
        #[serde(default)]
        override_overlap: bool,
    },
    ChangeAppointment {
        appointment: Uuid,
        change: AppointmentChange,
    },
}

impl Mutation {
    /// The records this mutation may change (it may also read the
    /// appointments [`overlap_probe`] names).
    pub fn entity_ids(&self) -> Vec<Uuid> {
        match self {
            Mutation::RegisterPatient { patient, .. }
            | Mutation::UpdatePatient { patient, .. }
            | Mutation::ArchivePatient { patient, .. }
            | Mutation::RestorePatient { patient } => vec![*patient],
            Mutation::MergePatients { keep, duplicate } => vec![*keep, *duplicate],
            Mutation::SaveRef { doc } => vec![doc.id()],
            Mutation::BookAppointment { appointment, .. } => vec![appointment.id],
            Mutation::ChangeAppointment { appointment, .. } => vec![*appointment],
        }
    }

    /// Whether only an administrator may make this change.
    pub fn needs_admin(&self) -> bool {
        matches!(self, Mutation::SaveRef { doc } if doc.needs_admin())
    }

    pub fn name(&self) -> &'static str {
        match self {
            Mutation::RegisterPatient { .. } => "register_patient",
            Mutation::UpdatePatient { .. } => "update_patient",
            Mutation::ArchivePatient { .. } => "archive_patient",
            Mutation::RestorePatient { .. } => "restore_patient",
            Mutation::MergePatients { .. } => "merge_patients",
            Mutation::SaveRef { .. } => "save_ref",
            Mutation::BookAppointment { .. } => "book_appointment",
            Mutation::ChangeAppointment { .. } => "change_appointment",
        }
    }
}

/// The new values of the scalar fields that differ between `before` and
/// `after` (the `set` of an [`Mutation::UpdatePatient`]).
pub fn changed_values(before: &PatientDetails, after: &PatientDetails) -> Map<String, Value> {
    let a = serde_json::to_value(after).unwrap_or(Value::Null);
    changed_fields(before, after)
        .into_iter()
        .map(|f| (f.to_string(), a.get(f).cloned().unwrap_or(Value::Null)))
        .collect()
}

/// A mutation as queued on a workstation: numbered per device without gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub device_seq: i64,
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    /// The workstation's clock when the person made the change (data, not authority).
    pub at: DateTime<Utc>,
    pub mutation: Mutation,
}

/// The records a mutation is applied to: loaded by the caller (the server
/// from PostgreSQL, the workstation from SQLite), changed in place.
#[derive(Debug, Default, Clone)]
pub struct Records {
    pub patients: HashMap<Uuid, Patient>,
    /// Patient numbers already held by other records (the server fills this).
    pub taken_numbers: HashSet<String>,
    /// The appointments a mutation changes, and every appointment that may
    /// overlap it ([`overlap_probe`]).
    pub appointments: HashMap<Uuid, Appointment>,
    pub refs: HashMap<Uuid, RefDoc>,
}

/// One record of any kind, as the feed carries it.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Patient(Patient),
    Appointment(Appointment),
    Ref(RefDoc),
}

impl Record {
    pub fn id(&self) -> Uuid {
        match self {
            Record::Patient(p) => p.id,
            Record::Appointment(a) => a.id,
            Record::Ref(r) => r.id(),
        }
    }
    pub fn entity_type(&self) -> &'static str {
        match self {
            Record::Patient(_) => ENTITY_PATIENT,
            Record::Appointment(_) => ENTITY_APPOINTMENT,
            Record::Ref(r) => r.kind(),
        }
    }
    pub fn tenant_ok(&self, tenant: Uuid) -> bool {
        match self {
            Record::Patient(p) => p.tenant_id == tenant,
            Record::Appointment(a) => a.tenant_id == tenant,
            Record::Ref(_) => true,
        }
    }
    /// The document the feed carries and checksums cover.
    pub fn doc(&self) -> Value {
        match self {
            Record::Patient(p) => patient_doc(p),
            Record::Appointment(a) => serde_json::to_value(a).unwrap_or(Value::Null),
            Record::Ref(r) => serde_json::to_value(r).unwrap_or(Value::Null),
        }
    }
    /// Reads a feed document of a known kind.
    pub fn from_doc(entity_type: &str, doc: &Value) -> ClinicResult<Record> {
        let bad = |e: serde_json::Error| {
            ClinicError::internal(format!("a {entity_type} record from the server: {e}"))
        };
        match entity_type {
            ENTITY_PATIENT => Patient::deserialize(doc).map(Record::Patient).map_err(bad),
            ENTITY_APPOINTMENT => Appointment::deserialize(doc)
                .map(Record::Appointment)
                .map_err(bad),
            k if REF_KINDS.contains(&k) => {
                let r = RefDoc::deserialize(doc).map_err(bad)?;
                if r.kind() != k {
                    return Err(ClinicError::internal("a record's kind does not match its feed entry"));
                }
                Ok(Record::Ref(r))
            }
            k => Err(ClinicError::new(
                ErrorCode::UpdateRequired,
                format!("The server sent a kind of record this version does not know ({k}); update this application. Nothing was changed."),
            )),
        }
    }
}

impl Records {
    pub fn get(&self, id: Uuid) -> Option<Record> {
        if let Some(p) = self.patients.get(&id) {
            return Some(Record::Patient(p.clone()));
        }
        if let Some(a) = self.appointments.get(&id) {
            return Some(Record::Appointment(a.clone()));
        }
        self.refs.get(&id).map(|r| Record::Ref(r.clone()))
    }
    pub fn put(&mut self, r: Record) {
        match r {
            Record::Patient(p) => {
                self.patients.insert(p.id, p);
            }
            Record::Appointment(a) => {
                self.appointments.insert(a.id, a);
            }
            Record::Ref(d) => {
                self.refs.insert(d.id(), d);
            }
        }
    }
}

/// Which appointments a mutation must be checked against: every live one
/// of this clinician, room or patient overlapping `span` (widened by both
/// sides' longest buffers, so the caller's query needs no buffer arithmetic).
#[derive(Debug, Clone, PartialEq)]
pub struct OverlapProbe {
    pub clinician_id: Uuid,
    pub room_id: Option<Uuid>,
    pub patient_id: Uuid,
    pub span: crate::schedule::Span,
}

impl OverlapProbe {
    /// The probe of `a` where it now stands. Two appointments' buffers can
    /// together reach twice the longest buffer, so the span is widened by that.
    pub fn for_appointment(a: &Appointment) -> Self {
        let pad = chrono::Duration::minutes(2 * crate::schedule::MAX_BUFFER as i64);
        OverlapProbe {
            clinician_id: a.clinician_id,
            room_id: a.room_id,
            patient_id: a.patient_id,
            span: crate::schedule::Span::new(a.start - pad, a.end() + pad),
        }
    }
}

/// The probes of every booking and move in a batch, in order, following
/// appointments booked earlier in the same batch (the server loads the
/// candidates of all of them before applying the batch).
pub fn batch_probes(mutations: &[&Envelope], recs: &Records) -> Vec<OverlapProbe> {
    let mut seen = Records {
        appointments: recs.appointments.clone(),
        ..Default::default()
    };
    let mut out = Vec::new();
    for env in mutations {
        if let Some(p) = overlap_probe(&env.mutation, &seen) {
            out.push(p);
        }
        match &env.mutation {
            Mutation::BookAppointment { appointment, .. } => {
                seen.appointments
                    .entry(appointment.id)
                    .or_insert_with(|| appointment.clone());
            }
            Mutation::ChangeAppointment {
                appointment,
                change,
            } => {
                if let Some(a) = seen.appointments.get_mut(appointment) {
                    change.place(a);
                }
            }
            _ => {}
        }
    }
    out
}

/// The probe of a booking or a move (`None` for other mutations). `recs`
/// must hold the appointment being moved.
pub fn overlap_probe(m: &Mutation, recs: &Records) -> Option<OverlapProbe> {
    let target = match m {
        Mutation::BookAppointment { appointment, .. } => appointment.clone(),
        Mutation::ChangeAppointment {
            appointment,
            change,
        } => {
            let mut a = recs.appointments.get(appointment)?.clone();
            change.place(&mut a)?;
            a
        }
        _ => return None,
    };
    Some(OverlapProbe::for_appointment(&target))
}

/// What applying one mutation changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Applied {
    /// Ids of the records written, in order.
    pub changed: Vec<Uuid>,
}

fn conflict(msg: String) -> ClinicError {
    ClinicError::new(ErrorCode::Conflict, msg)
}

fn get<'a>(recs: &'a Records, id: Uuid, what: &str) -> ClinicResult<&'a Patient> {
    recs.patients
        .get(&id)
        .ok_or_else(|| ClinicError::not_found(what))
}

/// Applies one mutation to `recs`. Errors are business outcomes (the change
/// is refused and `recs` is unchanged), never partial writes.
pub fn apply(
    m: &Mutation,
    tenant: Uuid,
    at: DateTime<Utc>,
    recs: &mut Records,
) -> ClinicResult<Applied> {
    let today = at.date_naive();
    match m {
        Mutation::RegisterPatient {
            patient,
            patient_number,
            details,
            lists,
        } => {
            let mut d = details.clone();
            validate_details(&mut d, today)?;
            if let Some(existing) = recs.patients.get(patient) {
                // A retried registration is a no-op; anything else is a clash of ids.
                if existing.patient_number == *patient_number {
                    return Ok(Applied::default());
                }
                return Err(conflict("A different patient already has this id.".into()));
            }
            if crate::patient_number::parse_patient_number(patient_number).is_none() {
                return Err(ClinicError::validation(vec![crate::FieldError {
                    field: "patient_number".into(),
                    message: "is not a valid patient number".into(),
                }]));
            }
            if recs.taken_numbers.contains(patient_number) {
                return Err(conflict(format!(
                    "Patient number {patient_number} is already in use; it was not issued from this workstation's block."
                )));
            }
            let p = Patient::registered(
                *patient,
                tenant,
                patient_number.clone(),
                d,
                lists.clone(),
                at,
            );
            recs.taken_numbers.insert(patient_number.clone());
            Ok(put(recs, p))
        }
        Mutation::UpdatePatient {
            patient,
            set,
            add,
            remove_ids,
        } => {
            let current = get(recs, *patient, "Patient")?;
            ensure_editable(current)?;
            let mut doc = serde_json::to_value(&current.details).map_err(ClinicError::internal)?;
            let obj = doc
                .as_object_mut()
                .ok_or_else(|| ClinicError::internal("patient details are not an object"))?;
            for (k, v) in set {
                if !obj.contains_key(k) {
                    return Err(ClinicError::validation(vec![crate::FieldError {
                        field: k.clone(),
                        message: "is not a patient field".into(),
                    }]));
                }
                obj.insert(k.clone(), v.clone());
            }
            let mut details: PatientDetails = serde_json::from_value(doc).map_err(|e| {
                ClinicError::validation(vec![crate::FieldError {
                    field: "patient".into(),
                    message: format!("has a value of the wrong kind ({e})"),
                }])
            })?;
            validate_details(&mut details, today)?;
            let mut p = current.clone();
            p.details = details;
            add_items(&mut p.lists, add);
            remove_items(&mut p.lists, remove_ids);
            p.updated_at = at;
            Ok(put(recs, p))
        }
        Mutation::ArchivePatient { patient, reason } => {
            let current = get(recs, *patient, "Patient")?;
            ensure_editable(current)?;
            let mut p = current.clone();
            p.archived_at = Some(at);
            p.archive_reason = Some(reason.clone());
            p.updated_at = at;
            Ok(put(recs, p))
        }
        Mutation::RestorePatient { patient } => {
            let current = get(recs, *patient, "Patient")?;
            if current.merged_into.is_some() {
                ensure_editable(current)?;
            }
            if current.archived_at.is_none() {
                return Err(conflict(format!(
                    "Patient {} is not archived.",
                    current.patient_number
                )));
            }
            let mut p = current.clone();
            p.archived_at = None;
            p.archive_reason = None;
            p.updated_at = at;
            Ok(put(recs, p))
        }
        Mutation::SaveRef { doc } => {
            doc.validate()?;
            recs.refs.insert(doc.id(), doc.clone());
            Ok(Applied {
                changed: vec![doc.id()],
            })
        }
        Mutation::BookAppointment {
            appointment,
            override_overlap,
        } => crate::schedule::apply_booking(
            appointment,
            *override_overlap,
            tenant,
            at,
            &mut recs.appointments,
        )
        .map(|changed| Applied { changed }),
        Mutation::ChangeAppointment {
            appointment,
            change,
        } => crate::schedule::apply_change(*appointment, change, at, &mut recs.appointments)
            .map(|changed| Applied { changed }),
        Mutation::MergePatients { keep, duplicate } => {
            if keep == duplicate {
                return Err(ClinicError::validation(vec![crate::FieldError {
                    field: "duplicate".into(),
                    message: "choose two different patients".into(),
                }]));
            }
            let survivor = get(recs, *keep, "Patient to keep")?;
            let dup = get(recs, *duplicate, "Duplicate patient")?;
            ensure_editable(survivor)?;
            ensure_editable(dup)?;
            if let (Some(a), Some(b)) = (&survivor.details.national_id, &dup.details.national_id) {
                if a != b || survivor.details.national_id_kind != dup.details.national_id_kind {
                    return Err(conflict(format!(
                        "Patients {} and {} have different national identifiers, so they may be different people. Correct the wrong identifier first if they are the same person.",
                        survivor.patient_number, dup.patient_number
                    )));
                }
            }
            let mut s = survivor.clone();
            let mut d = dup.clone();
            fill_empty(&mut s.details, &d.details);
            let mut moved = std::mem::take(&mut d.lists);
            if s.lists.insurances.iter().any(|i| i.is_primary) {
                for i in &mut moved.insurances {
                    i.is_primary = false;
                }
            }
            add_items(&mut s.lists, &moved);
            s.updated_at = at;
            d.archived_at = Some(at);
            d.merged_into = Some(*keep);
            d.merged_into_number = Some(s.patient_number.clone());
            d.updated_at = at;
            recs.patients.insert(*keep, s);
            recs.patients.insert(*duplicate, d);
            Ok(Applied {
                changed: vec![*keep, *duplicate],
            })
        }
    }
}

/// Writes one record back; the change of a single-record mutation.
fn put(recs: &mut Records, p: Patient) -> Applied {
    let id = p.id;
    recs.patients.insert(id, p);
    Applied { changed: vec![id] }
}

fn add_items(to: &mut PatientLists, from: &PatientLists) {
    macro_rules! add {
        ($($f:ident),*) => { $(
            for item in &from.$f {
                if !to.$f.iter().any(|x| x.id == item.id) {
                    to.$f.push(item.clone());
                }
            }
        )* };
    }
    add!(
        allergies,
        conditions,
        medications,
        insurances,
        emergency_contacts,
        consents
    );
}

fn remove_items(from: &mut PatientLists, ids: &[Uuid]) {
    macro_rules! remove {
        ($($f:ident),*) => { $( from.$f.retain(|x| !ids.contains(&x.id)); )* };
    }
    remove!(
        allergies,
        conditions,
        medications,
        insurances,
        emergency_contacts,
        consents
    );
}

/// A patient as both sides store and compare it: no viewer-specific parts.
pub fn canonical_patient(p: &Patient) -> Patient {
    let mut c = p.clone();
    c.redacted.clear();
    c
}

/// The document text of a record (what the change feed carries and what
/// checksums cover).
pub fn patient_doc(p: &Patient) -> Value {
    serde_json::to_value(canonical_patient(p)).unwrap_or(Value::Null)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// SHA-256 of a document's JSON text.
pub fn doc_hash(doc: &Value) -> String {
    doc_hash_of_text(&doc.to_string())
}

/// [`doc_hash`] of a document already serialised.
pub fn doc_hash_of_text(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

// ---- protocol ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Applied as sent.
    Accepted,
    /// Refused because the record changed elsewhere (archived, merged, …):
    /// kept on the workstation for a person to resolve.
    Conflict,
    /// Refused as invalid or not allowed: kept and shown as well.
    Rejected,
}

/// What became of one mutation on the server (recorded; a retry gets the same answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub device_seq: i64,
    pub status: OutcomeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Outcome {
    fn from_result(device_seq: i64, r: &ClinicResult<Applied>) -> Self {
        match r {
            Ok(_) => Outcome {
                device_seq,
                status: OutcomeStatus::Accepted,
                code: None,
                message: None,
            },
            Err(e) => Outcome {
                device_seq,
                status: if e.code == ErrorCode::Conflict {
                    OutcomeStatus::Conflict
                } else {
                    OutcomeStatus::Rejected
                },
                code: Some(e.code),
                message: Some(e.message.clone()),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub protocol: u32,
    pub mutations: Vec<Envelope>,
    /// This device's audit events the server does not have yet, in order.
    #[serde(default)]
    pub audit: Vec<crate::audit::AuditEvent>,
    /// The device is running low on patient numbers: lease another block.
    #[serde(default)]
    pub want_patient_numbers: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    pub epoch: Uuid,
    /// The last mutation of this device the server has applied.
    pub last_applied_seq: i64,
    /// Outcomes of every mutation in the request up to `last_applied_seq`
    /// (recorded ones for mutations applied before).
    pub outcomes: Vec<Outcome>,
    /// The request skipped sequence numbers: resend from `last_applied_seq + 1`.
    pub gap: bool,
    /// The last audit event of this device the server holds.
    pub audit_head: i64,
    /// Set when the uploaded audit events do not continue the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_break: Option<crate::audit::ChainBreak>,
    /// A new block of patient numbers leased to the device (when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_numbers: Option<crate::api::NumberBlock>,
}

/// One record as of a point in the change feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub data: Value,
    /// [`chain_hash`] of the feed up to and including this change: equal
    /// chains at a position mean equal histories up to it. On the wire only
    /// a page's first and last change carry it ([`compact_chains`]); it is
    /// 64 characters no compression can shrink, a third of a compressed row.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chain: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    pub protocol: u32,
    pub epoch: Uuid,
    /// The tenant's last feed sequence when the page was read.
    pub head: i64,
    pub changes: Vec<Change>,
    /// [`page_checksum`] of `changes`.
    pub checksum: String,
    /// The last mutation of this device the server has applied.
    pub last_applied_seq: i64,
    /// False when the change at the workstation's cursor is not the one it
    /// applied (the server was restored from a backup and its history
    /// differs since): the workstation starts again from zero.
    #[serde(default = "yes")]
    pub cursor_ok: bool,
}

fn yes() -> bool {
    true
}

fn patient_kind() -> String {
    ENTITY_PATIENT.into()
}

/// The chain value before the first change of a feed.
pub const FEED_GENESIS: &str = "feed";

/// The feed's hash chain: this change's content chained to the previous
/// change's chain value. A workstation remembers the chain value at its
/// cursor; the server compares it with its own, so a server whose history
/// differs anywhere before the cursor (restored from a backup, then written
/// again) is noticed, not only one that lacks the change at the cursor.
pub fn chain_hash(prev: &str, c: &Change) -> String {
    chain_of_text(prev, c, &c.data.to_string())
}

/// [`chain_hash`] with the change's document text already serialised
/// (`c.data` itself is not read).
pub fn chain_of_text(prev: &str, c: &Change, text: &str) -> String {
    let mut one = Sha256::new();
    hash_change(&mut one, c, text);
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(hex(&one.finalize()));
    hex(&h.finalize())
}

/// What [`page_checksum`] and [`chain_hash`] cover of one change: its
/// content, not its chain value.
fn hash_change(h: &mut Sha256, c: &Change, text: &str) {
    h.update(c.seq.to_be_bytes());
    h.update(c.entity_type.as_bytes());
    h.update(c.entity_id.as_bytes());
    h.update(text.as_bytes());
}

/// Leaves the chain value out of every change of a page but the first and
/// the last, before it is sent: the receiver computes the others from the
/// one before each ([`fill_chains`]), and the last one it is given checks
/// them all.
pub fn compact_chains(changes: &mut [Change]) {
    let n = changes.len();
    for c in changes.iter_mut().take(n.saturating_sub(1)).skip(1) {
        c.chain.clear();
    }
}

/// The chain value of every change of a page whose first change follows
/// the change with chain value `prev` (`None` when the receiver does not
/// know it: the page's first chain value is then taken as given). Values
/// the page leaves out are computed; the ones it gives must equal the
/// computed ones. Returns the values and whether they all agreed: a page
/// that disagrees comes from a different history.
pub fn fill_chains(prev: Option<&str>, changes: &[Change]) -> (Vec<String>, bool) {
    let (_, chains, ok) = check_page(prev, changes, 0);
    (chains, ok)
}

/// A received page's [`page_checksum`], and [`fill_chains`] of its changes
/// from index `fresh` on, serialising each document once.
pub fn check_page(
    prev: Option<&str>,
    changes: &[Change],
    fresh: usize,
) -> (String, Vec<String>, bool) {
    let mut page = Sha256::new();
    let mut out: Vec<String> = Vec::with_capacity(changes.len().saturating_sub(fresh));
    let mut ok = true;
    let mut prev = prev.map(str::to_string);
    for (i, c) in changes.iter().enumerate() {
        let text = c.data.to_string();
        hash_change(&mut page, c, &text);
        if i < fresh {
            continue;
        }
        let value = match &prev {
            Some(p) => {
                let computed = chain_of_text(p, c, &text);
                ok &= c.chain.is_empty() || c.chain == computed;
                computed
            }
            None => c.chain.clone(),
        };
        prev = (!value.is_empty()).then(|| value.clone());
        out.push(value);
    }
    (hex(&page.finalize()), out, ok)
}

/// Checksum of a page of changes, checked by the receiver before applying
/// it (its content only: chain values are checked by [`fill_chains`]).
pub fn page_checksum(changes: &[Change]) -> String {
    let mut h = Sha256::new();
    for c in changes {
        hash_change(&mut h, c, &c.data.to_string());
    }
    hex(&h.finalize())
}

/// Number of buckets a whole-copy verification is split into.
pub const CHECKSUM_BUCKETS: usize = 64;

pub fn bucket_of(id: Uuid) -> usize {
    id.as_bytes()[15] as usize % CHECKSUM_BUCKETS
}

/// Order-independent checksums of (id, document hash) pairs per bucket:
/// equal buckets hold equal records; a repair fetches only unequal ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketSums(pub Vec<String>);

impl BucketSums {
    pub fn compute<'a>(items: impl IntoIterator<Item = (Uuid, &'a str)>) -> Self {
        let mut acc = vec![[0u8; 16]; CHECKSUM_BUCKETS];
        for (id, hash) in items {
            let mut h = Sha256::new();
            h.update(id.as_bytes());
            h.update(hash.as_bytes());
            let d = h.finalize();
            let b = &mut acc[bucket_of(id)];
            for (x, y) in b.iter_mut().zip(d.iter()) {
                *x ^= y;
            }
        }
        BucketSums(acc.iter().map(|b| hex(b)).collect())
    }

    /// Buckets whose checksums differ.
    pub fn differing(&self, other: &BucketSums) -> Vec<usize> {
        (0..CHECKSUM_BUCKETS)
            .filter(|&i| self.0.get(i) != other.0.get(i))
            .collect()
    }
}

/// One record for a whole-copy comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordCopy {
    #[serde(default = "patient_kind")]
    pub entity_type: String,
    pub id: Uuid,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub doc: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BucketsRequest {
    pub buckets: Vec<usize>,
}

/// The result of applying one push batch on the server.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchResult {
    pub last_applied_seq: i64,
    /// Outcomes of the mutations applied now, in order.
    pub outcomes: Vec<Outcome>,
    pub gap: bool,
    /// Records changed by the batch (each once, in order of first change).
    pub changed: Vec<Uuid>,
}

/// What the server knows about the accounts that made a batch's changes.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// Accounts disabled (their changes are refused).
    pub disabled: HashSet<Uuid>,
    /// Accounts with full administration rights (staff, sites, rooms).
    pub admins: HashSet<Uuid>,
}

/// The server's decision for a batch of one device's mutations: mutations
/// at or below `last_applied` were applied before (a retry: skipped), the
/// next ones are applied in order, and a jump in numbering stops the batch
/// (`gap`). Business failures are outcomes and never stop the queue.
pub fn apply_batch(
    tenant: Uuid,
    last_applied: i64,
    mutations: &[Envelope],
    gate: &Gate,
    recs: &mut Records,
) -> BatchResult {
    apply_batch_with(apply, tenant, last_applied, mutations, gate, recs)
}

/// The rules a batch is applied with: [`apply`] in the product; the
/// simulation swaps in deliberately broken rules to show it catches them.
pub type Rules = fn(&Mutation, Uuid, DateTime<Utc>, &mut Records) -> ClinicResult<Applied>;

/// [`apply_batch`] with the mutation rules passed in.
pub fn apply_batch_with(
    rules: Rules,
    tenant: Uuid,
    last_applied: i64,
    mutations: &[Envelope],
    gate: &Gate,
    recs: &mut Records,
) -> BatchResult {
    let mut out = BatchResult {
        last_applied_seq: last_applied,
        ..Default::default()
    };
    for env in mutations {
        if env.device_seq <= out.last_applied_seq {
            continue;
        }
        if env.device_seq != out.last_applied_seq + 1 {
            out.gap = true;
            break;
        }
        let result = match env.user_id {
            Some(u) if gate.disabled.contains(&u) => Err(ClinicError::forbidden(
                "The account that made this change has been disabled; the change was not applied.",
            )),
            u if env.mutation.needs_admin() && !u.is_some_and(|u| gate.admins.contains(&u)) => {
                Err(ClinicError::forbidden(
                    "Only an administrator may change staff, sites and rooms; the change was not applied.",
                ))
            }
            _ => rules(&env.mutation, tenant, env.at, recs),
        };
        if let Ok(a) = &result {
            for id in &a.changed {
                if !out.changed.contains(id) {
                    out.changed.push(*id);
                }
            }
        }
        out.outcomes
            .push(Outcome::from_result(env.device_seq, &result));
        out.last_applied_seq = env.device_seq;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use serde_json::json;

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    fn details(first: &str) -> PatientDetails {
        PatientDetails {
            first_name: first.into(),
            last_name: "Okafor".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 5, 1),
            ..Default::default()
        }
    }

    fn register(id: Uuid, n: u64) -> Mutation {
        Mutation::RegisterPatient {
            patient: id,
            patient_number: crate::patient_number::format_patient_number(n),
            details: details("Ada"),
            lists: PatientLists::default(),
        }
    }

    fn set(id: Uuid, field: &str, v: Value) -> Mutation {
        let mut m = Map::new();
        m.insert(field.into(), v);
        Mutation::UpdatePatient {
            patient: id,
            set: m,
            add: PatientLists::default(),
            remove_ids: vec![],
        }
    }

    #[test]
    fn different_fields_both_survive_and_same_field_is_last_writer_wins() {
        let t = Uuid::from_u128(1);
        let p = Uuid::from_u128(2);
        let mut r = Records::default();
        apply(&register(p, 1), t, at(0), &mut r).unwrap();
        apply(&set(p, "phone", "07700 900123".into()), t, at(1), &mut r).unwrap();
        apply(&set(p, "city", "Leeds".into()), t, at(2), &mut r).unwrap();
        apply(&set(p, "city", "York".into()), t, at(3), &mut r).unwrap();
        let d = &r.patients[&p].details;
        assert_eq!(d.city.as_deref(), Some("York"));
        assert!(d.phone.is_some());
    }

    #[test]
    fn edit_of_archived_record_is_a_conflict_and_changes_nothing() {
        let t = Uuid::from_u128(1);
        let p = Uuid::from_u128(2);
        let mut r = Records::default();
        apply(&register(p, 1), t, at(0), &mut r).unwrap();
        apply(
            &Mutation::ArchivePatient {
                patient: p,
                reason: "moved away".into(),
            },
            t,
            at(1),
            &mut r,
        )
        .unwrap();
        let before = r.patients[&p].clone();
        let e = apply(&set(p, "city", "Leeds".into()), t, at(2), &mut r).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(r.patients[&p], before);
    }

    #[test]
    fn bad_field_values_are_rejected() {
        let t = Uuid::from_u128(1);
        let p = Uuid::from_u128(2);
        let mut r = Records::default();
        apply(&register(p, 1), t, at(0), &mut r).unwrap();
        for (f, v) in [
            ("no_such_field", Value::from("x")),
            ("date_of_birth", Value::from("not a date")),
            ("first_name", Value::from("")),
        ] {
            let e = apply(&set(p, f, v), t, at(1), &mut r).unwrap_err();
            assert_eq!(e.code, ErrorCode::Validation, "{f}");
        }
    }

    #[test]
    fn batches_are_idempotent_and_stop_at_gaps() {
        let t = Uuid::from_u128(1);
        let envs: Vec<Envelope> = (1..=3)
            .map(|i| Envelope {
                device_seq: i,
                id: Uuid::from_u128(100 + i as u128),
                user_id: None,
                at: at(i),
                mutation: register(Uuid::from_u128(10 + i as u128), i as u64),
            })
            .collect();
        let mut r = Records::default();
        let first = apply_batch(t, 0, &envs[..2], &Gate::default(), &mut r);
        assert_eq!(first.last_applied_seq, 2);
        assert_eq!(first.outcomes.len(), 2);
        // A retry of the whole queue applies only the new one.
        let again = apply_batch(t, 2, &envs, &Gate::default(), &mut r);
        assert_eq!(again.outcomes.len(), 1);
        assert_eq!(r.patients.len(), 3);
        // A batch that skips a number stops before it.
        let mut r2 = Records::default();
        let gap = apply_batch(t, 0, &envs[1..], &Gate::default(), &mut r2);
        assert!(gap.gap);
        assert_eq!(gap.last_applied_seq, 0);
        assert!(r2.patients.is_empty());
    }

    #[test]
    fn a_taken_patient_number_is_refused() {
        let t = Uuid::from_u128(1);
        let mut r = Records::default();
        apply(&register(Uuid::from_u128(2), 7), t, at(0), &mut r).unwrap();
        let e = apply(&register(Uuid::from_u128(3), 7), t, at(1), &mut r).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
    }

    #[test]
    fn an_overlap_probe_reaches_appointments_whose_buffers_meet_across_a_gap() {
        let a: Appointment = serde_json::from_value(json!({
            "id": Uuid::from_u128(1), "tenant_id": Uuid::from_u128(2), "site_id": Uuid::from_u128(3),
            "patient_id": Uuid::from_u128(4), "clinician_id": Uuid::from_u128(5), "type_name": "Procedure",
            "start": "2026-11-23T09:00:00Z", "minutes": 30, "buffer_after": 120, "timezone": "Europe/London",
            "status": "scheduled", "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z"
        }))
        .unwrap();
        // Starts 3 h 50 min after `a` ends, with a two-hour buffer before it.
        let mut b = a.clone();
        b.id = Uuid::from_u128(6);
        b.patient_id = Uuid::from_u128(7);
        b.start = a.end() + chrono::Duration::minutes(230);
        b.buffer_after = 0;
        b.buffer_before = 120;
        assert!(a.clash_with(&b).is_some());
        let probe = OverlapProbe::for_appointment(&a);
        assert!(b.start < probe.span.end && b.end() > probe.span.start);
    }

    #[test]
    fn feed_chains_differ_when_any_earlier_change_differs() {
        let change = |seq: i64, id: u128| Change {
            seq,
            entity_type: ENTITY_PATIENT.into(),
            entity_id: Uuid::from_u128(id),
            data: json!({"n": id}),
            chain: String::new(),
        };
        let chain = |changes: &[Change]| {
            changes
                .iter()
                .fold(FEED_GENESIS.to_string(), |prev, c| chain_hash(&prev, c))
        };
        // A restored server wrote a different change 1, then the same change 2.
        let before = [change(1, 10), change(2, 20)];
        let after = [change(1, 11), change(2, 20)];
        assert_ne!(chain(&before), chain(&after));
        assert_eq!(chain(&before), chain(&[change(1, 10), change(2, 20)]));
    }

    #[test]
    fn a_compacted_page_gets_every_chain_value_back_and_a_foreign_history_is_noticed() {
        let feed: Vec<Change> = (1..=5i64)
            .scan(FEED_GENESIS.to_string(), |prev, seq| {
                let mut c = Change {
                    seq,
                    entity_type: ENTITY_PATIENT.into(),
                    entity_id: Uuid::from_u128(seq as u128),
                    data: json!({"n": seq}),
                    chain: String::new(),
                };
                c.chain = chain_hash(prev, &c);
                *prev = c.chain.clone();
                Some(c)
            })
            .collect();
        let full: Vec<String> = feed.iter().map(|c| c.chain.clone()).collect();
        // A page of changes 2..=5: only 2 and 5 keep their value on the wire.
        let mut page = feed[1..].to_vec();
        let checksum = page_checksum(&page);
        compact_chains(&mut page);
        let sent: Vec<bool> = page.iter().map(|c| !c.chain.is_empty()).collect();
        assert_eq!(sent, [true, false, false, true]);
        assert_eq!(
            page_checksum(&page),
            checksum,
            "the checksum covers content only"
        );
        let wire: Vec<Change> =
            serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
        // Known cursor hash, unknown one (taken from the page), foreign one.
        assert_eq!(
            fill_chains(Some(&full[0]), &wire),
            (full[1..].to_vec(), true)
        );
        assert_eq!(fill_chains(None, &wire), (full[1..].to_vec(), true));
        assert!(!fill_chains(Some("another history"), &wire).1);
        // One pass over a page that reaches back before the cursor (at
        // change 2): the whole page's checksum, the values from change 3 on.
        assert_eq!(
            check_page(Some(&full[1]), &wire, 1),
            (checksum.clone(), full[2..].to_vec(), true)
        );
        // A page whose content differs from what its last value covers.
        let mut forged = wire.clone();
        forged[2].data = json!({"n": 99});
        assert!(!fill_chains(Some(&full[0]), &forged).1);
    }

    #[test]
    fn bucket_sums_find_exactly_the_differing_bucket() {
        let ids: Vec<Uuid> = (0..500u128).map(|i| Uuid::from_u128(i * 7919)).collect();
        let a = BucketSums::compute(ids.iter().map(|i| (*i, "h")));
        let mut changed = ids.clone();
        changed.reverse();
        let b = BucketSums::compute(changed.iter().map(|i| (*i, "h")));
        assert!(a.differing(&b).is_empty(), "order does not matter");
        let c = BucketSums::compute(
            ids.iter()
                .map(|i| (*i, if *i == ids[3] { "x" } else { "h" })),
        );
        assert_eq!(a.differing(&c), vec![bucket_of(ids[3])]);
    }
}
