//! The encounter as a record: a consultation of one patient by one
//! clinician, usually for an appointment, from its first draft to its
//! signature and the addenda after it.
//!
//! A draft changes field by field ([`Merge::Fields`]): an edit carries one
//! field's new text, the revision it makes and the revision it was typed
//! over. When that base is no longer the field's current revision, another
//! desk changed the same field meanwhile: the later edit (server order)
//! becomes current and the value it displaced is kept beside it as a
//! *sibling* for the clinician to resolve. Every value a field has held is
//! kept in the record's history. Signing freezes the note; after that only
//! addenda, each signed as it is written, join it.

use super::{Diagnosis, NoteContent, NoteSections, Vitals, MAX_SECTION_CHARS};
use crate::error::{ClinicError, ClinicResult};
use crate::sync::{Merge, RecordKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum EncounterStatus {
    /// Being written: every field can change.
    Draft,
    /// Frozen: nothing in the note changes again; addenda may follow.
    Signed,
}

impl EncounterStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EncounterStatus::Draft => "draft",
            EncounterStatus::Signed => "signed",
        }
    }
}

/// The fields a draft edit changes one at a time (diagnoses and vitals
/// have mutations of their own).
pub const TEXT_FIELDS: [&str; 6] = [
    "chief_complaint",
    "history",
    "examination",
    "assessment",
    "plan",
    "follow_up",
];

/// The most diagnoses one note holds.
pub const MAX_DIAGNOSES: usize = 30;

/// A kind of encounter and the headings its note starts with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncounterType {
    pub key: &'static str,
    pub name: &'static str,
    /// (field, text) the draft starts with.
    pub template: &'static [(&'static str, &'static str)],
}

/// The kinds of encounter the product ships, the first the default.
pub const ENCOUNTER_TYPES: [EncounterType; 4] = [
    EncounterType {
        key: "consultation",
        name: "Consultation",
        template: &[],
    },
    EncounterType {
        key: "follow_up",
        name: "Follow-up visit",
        template: &[
            ("history", "Since the last visit: "),
            ("plan", "Continue / change: "),
        ],
    },
    EncounterType {
        key: "phone",
        name: "Telephone advice",
        template: &[
            ("chief_complaint", "Caller: "),
            ("examination", "Not examined (telephone)."),
        ],
    },
    EncounterType {
        key: "procedure",
        name: "Procedure",
        template: &[
            ("examination", "Indication: \nConsent: \nProcedure: "),
            ("plan", "Aftercare: "),
        ],
    },
];

pub fn encounter_type(key: &str) -> Option<&'static EncounterType> {
    ENCOUNTER_TYPES.iter().find(|t| t.key == key)
}

/// One value a field held: the current one, an earlier one, or a sibling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldValue {
    pub revision: Uuid,
    pub field: String,
    pub text: String,
    pub by: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// Who signed, when, and the SHA-256 the signature covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    pub by: Uuid,
    pub at: DateTime<Utc>,
    pub content_sha256: String,
}

/// A correction or addition after signing, signed as it is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Addendum {
    pub id: Uuid,
    pub text: String,
    pub by: Uuid,
    pub at: DateTime<Utc>,
    pub content_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encounter {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub patient_id: Uuid,
    pub clinician_id: Uuid,
    #[serde(default)]
    pub appointment_id: Option<Uuid>,
    pub encounter_type: String,
    pub status: EncounterStatus,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub sections: NoteSections,
    #[serde(default)]
    pub vitals: Vitals,
    #[serde(default)]
    pub vitals_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub diagnoses: Vec<Diagnosis>,
    #[serde(default)]
    pub follow_up: Option<NaiveDate>,
    /// The current revision of each field edited so far.
    #[serde(default)]
    pub current: BTreeMap<String, Uuid>,
    /// Every value each field has held, oldest first (the current one too),
    /// and each recording of vitals.
    #[serde(default)]
    pub revisions: Vec<FieldValue>,
    /// Values displaced by a concurrent edit of the same field, waiting
    /// for the clinician to choose.
    #[serde(default)]
    pub siblings: Vec<FieldValue>,
    /// The prescriptions written in it, each with its content hash.
    #[serde(default)]
    pub prescriptions: Vec<super::PrescribedRef>,
    #[serde(default)]
    pub signature: Option<Signature>,
    #[serde(default)]
    pub addenda: Vec<Addendum>,
    /// Why the appointment did not follow the encounter (it was cancelled
    /// on another desk meanwhile): the encounter is kept, and this says so.
    #[serde(default)]
    pub appointment_conflict: Option<String>,
}

impl RecordKind for Encounter {
    const KIND: &'static str = "encounter";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl Encounter {
    /// Everything the note holds, as a signature covers it.
    pub fn content(&self) -> NoteContent {
        NoteContent {
            patient: self.patient_id,
            appointment: self.appointment_id,
            sections: self.sections.clone(),
            vitals: self.vitals,
            diagnoses: self.diagnoses.clone(),
            follow_up: self.follow_up,
            prescriptions: self.prescriptions.clone(),
        }
    }

    /// A field's current text ("" when empty; a follow-up date as ISO).
    pub fn field_text(&self, field: &str) -> Option<String> {
        let s = &self.sections;
        Some(match field {
            "chief_complaint" => s.chief_complaint.clone(),
            "history" => s.history.clone(),
            "examination" => s.examination.clone(),
            "assessment" => s.assessment.clone(),
            "plan" => s.plan.clone(),
            "follow_up" => self.follow_up.map(|d| d.to_string()).unwrap_or_default(),
            _ => return None,
        })
    }

    /// Sets a field from text already checked by [`check_field`].
    fn set_field(&mut self, field: &str, text: &str) {
        let s = &mut self.sections;
        match field {
            "chief_complaint" => s.chief_complaint = text.to_string(),
            "history" => s.history = text.to_string(),
            "examination" => s.examination = text.to_string(),
            "assessment" => s.assessment = text.to_string(),
            "plan" => s.plan = text.to_string(),
            "follow_up" => self.follow_up = parse_follow_up(text).ok().flatten(),
            _ => {}
        }
    }

    pub fn is_signed(&self) -> bool {
        self.status == EncounterStatus::Signed
    }

    /// Refuses any change of a signed note, saying who signed it and when.
    pub fn ensure_draft(&self) -> ClinicResult<()> {
        match &self.signature {
            Some(sig) if self.is_signed() => Err(ClinicError::conflict(format!(
                "This note was signed at {} and can no longer change; write an addendum instead.",
                sig.at.format("%Y-%m-%d %H:%M UTC")
            ))),
            _ => Ok(()),
        }
    }

    /// Whether the stored signature and every addendum's still match what
    /// the note holds: `CONFLICT` for a note not signed yet,
    /// `SIGNATURE_MISMATCH` naming the first part that does not match.
    pub fn verify(&self) -> ClinicResult<()> {
        let mismatch = |what: String| {
            ClinicError::new(
                crate::ErrorCode::SignatureMismatch,
                format!("The signature does not hold: {what}."),
            )
        };
        let Some(sig) = &self.signature else {
            return Err(ClinicError::conflict(
                "This note is not signed yet; there is no signature to verify.",
            ));
        };
        if self.content().signed_hash(sig.by, sig.at) != sig.content_sha256 {
            return Err(mismatch(
                "the note's content does not match its signature".into(),
            ));
        }
        for a in &self.addenda {
            if addendum_hash(&sig.content_sha256, a.id, &a.text, a.by, a.at) != a.content_sha256 {
                return Err(mismatch(format!(
                    "the addendum of {} does not match its signature",
                    a.at.format("%Y-%m-%d %H:%M UTC")
                )));
            }
        }
        Ok(())
    }

    /// Writes `text` as the field's new value (revision `revision`, typed
    /// over `base`): a value it displaces that this edit never saw is kept
    /// as a sibling; `resolves` names siblings of the field it settles.
    pub(crate) fn edit_field(&mut self, e: FieldEdit<'_>) {
        let current = self.current.get(e.field).copied();
        let displaced = current.filter(|c| Some(*c) != e.base);
        if let Some(rev) = displaced {
            let old = self.field_text(e.field).unwrap_or_default();
            let already = self.siblings.iter().any(|s| s.revision == rev);
            if old != e.text && !already {
                if let Some(v) = self.revisions.iter().find(|h| h.revision == rev) {
                    self.siblings.push(v.clone());
                }
            }
        }
        // A sibling this edit was typed over, or one it settles, is done with.
        self.siblings.retain(|s| {
            !(s.field == e.field
                && (e.resolves.contains(&s.revision) || Some(s.revision) == e.base))
        });
        self.set_field(e.field, e.text);
        self.current.insert(e.field.to_string(), e.revision);
        self.revisions.push(FieldValue {
            revision: e.revision,
            field: e.field.to_string(),
            text: e.text.to_string(),
            by: e.by,
            at: e.at,
        });
        self.updated_at = e.at;
    }
}

/// One edit of a field, as [`Encounter::edit_field`] applies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldEdit<'a> {
    pub field: &'a str,
    pub text: &'a str,
    pub revision: Uuid,
    pub base: Option<Uuid>,
    pub resolves: &'a [Uuid],
    pub by: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// A follow-up date as typed: ISO, or empty for none.
pub fn parse_follow_up(text: &str) -> ClinicResult<Option<NaiveDate>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ClinicError::field("follow_up", "give the date as YYYY-MM-DD"))
}

/// Checks a field's new text: a known field, a section within its length,
/// a follow-up date that parses and is not before the encounter.
pub fn check_field(field: &str, text: &str, started: NaiveDate) -> ClinicResult<()> {
    if !TEXT_FIELDS.contains(&field) {
        return Err(ClinicError::field(
            "field",
            format!(
                "{field:?} is not a field of a note (one of {})",
                TEXT_FIELDS.join(", ")
            ),
        ));
    }
    if field == "follow_up" {
        if parse_follow_up(text)?.is_some_and(|d| d < started) {
            return Err(ClinicError::field(
                "follow_up",
                "is before the consultation",
            ));
        }
        return Ok(());
    }
    if text.chars().count() > MAX_SECTION_CHARS {
        return Err(ClinicError::field(
            field,
            format!("must be at most {MAX_SECTION_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The SHA-256 (hex) an addendum's signature covers: the note's own
/// signature hash (so an addendum belongs to that one note), the
/// addendum's id, its text, author and time, each length-prefixed.
pub fn addendum_hash(
    note_sha256: &str,
    id: Uuid,
    text: &str,
    by: Uuid,
    at: DateTime<Utc>,
) -> String {
    let mut h = Sha256::new();
    for part in [
        "clinic-addendum-v1",
        note_sha256,
        &id.to_string(),
        text,
        &by.to_string(),
        &at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    crate::sync::feed::hex(&h.finalize())
}
