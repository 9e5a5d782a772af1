//! Patients: the record (identity, contacts, health summary, lists), its
//! validation, patient numbers, national identifiers, and the named
//! mutations that change it.

pub mod model;
pub mod mutations;
pub mod national_id;
pub mod number;

pub use model::*;
pub use mutations::*;
pub use national_id::*;
pub use number::*;

use crate::sync::{Merge, NumberSeries, RecordKind, Registry};
use serde_json::Value;
use uuid::Uuid;

impl RecordKind for Patient {
    const KIND: &'static str = "patient";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
    /// Both sides store and compare a patient without viewer-specific parts.
    fn doc(&self) -> Value {
        serde_json::to_value(canonical_patient(self)).unwrap_or(Value::Null)
    }
}

/// A patient as both sides store and compare it: no viewer-specific parts.
pub fn canonical_patient(p: &Patient) -> Patient {
    let mut c = p.clone();
    c.redacted.clear();
    c
}

/// A patient's postal address as printed: its non-empty lines in order
/// (street, second line, city, state, postcode, country).
pub fn address_lines(d: &PatientDetails) -> Vec<String> {
    [
        &d.address_line1,
        &d.address_line2,
        &d.city,
        &d.state,
        &d.postcode,
        &d.country,
    ]
    .into_iter()
    .flatten()
    .map(|x| x.trim())
    .filter(|x| !x.is_empty())
    .map(str::to_string)
    .collect()
}

/// Patient numbers: `P` + sequence value + check digit.
pub const PATIENT_NUMBERS: NumberSeries = NumberSeries {
    name: "patient",
    lease: LEASE_SIZE,
    // A fifth of a block: days of registrations at a busy desk.
    low_water: LEASE_SIZE / 5,
    format: format_patient_number,
    parse: parse_patient_number,
};

pub fn register(r: &mut Registry) {
    r.record::<Patient>()
        .series(PATIENT_NUMBERS)
        .mutation::<RegisterPatient>()
        .mutation::<UpdatePatient>()
        .mutation::<ArchivePatient>()
        .mutation::<RestorePatient>()
        .mutation::<MergePatients>();
}
