//! Clinical records: encounters (consultations) from the first draft to
//! the signature and the addenda after it, their vital signs, and what a
//! signed note holds (and the hash its signature covers).

pub mod encounter;
pub mod icd10;
pub mod medications;
pub mod mutations;
pub mod prescription;
pub mod record;
pub mod vitals;

pub use encounter::*;
pub use mutations::*;
pub use prescription::*;
pub use record::*;
pub use vitals::*;

use crate::sync::Registry;

pub fn register(r: &mut Registry) {
    r.record::<Encounter>()
        .mutation::<StartEncounter>()
        .mutation::<EditEncounter>()
        .mutation::<RecordVitals>()
        .mutation::<ChangeDiagnoses>()
        .mutation::<SignEncounter>()
        .mutation::<AddAddendum>()
        .record::<Prescription>()
        .mutation::<IssuePrescription>()
        .mutation::<EndPrescription>();
}
