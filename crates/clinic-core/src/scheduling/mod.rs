//! Scheduling: appointments and their lifecycle, working time, appointment
//! types, the waitlist, overlap rules and free slots, and the named
//! mutations that book and change appointments.

pub mod model;
pub mod mutations;

pub use model::*;
pub use mutations::*;

use crate::directory::{SiteDoc, StaffMember};
use crate::permissions::{Action, Module, Permission};
use crate::sync::{Merge, RecordKind, Ref, Registry};
use uuid::Uuid;

impl RecordKind for Appointment {
    const KIND: &'static str = "appointment";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

// The reference records of scheduling, whole documents: types and working
// time are the clinic's set-up (managers); the waitlist is the front desk's.
crate::document_kind!(
    AppointmentType,
    "appointment_type",
    Permission::new(Module::Admin, Action::Edit)
);
crate::document_kind!(
    ClinicianSchedule,
    "clinician_schedule",
    Permission::new(Module::Admin, Action::Edit),
    refs
);
crate::document_kind!(
    WaitlistEntry,
    "waitlist_entry",
    Permission::new(Module::Appointments, Action::Create),
    refs
);

impl ClinicianSchedule {
    fn named_refs(&self) -> Vec<Ref> {
        vec![
            Ref::to::<StaffMember>(self.clinician_id, "clinician"),
            Ref::to::<SiteDoc>(self.site_id, "site"),
        ]
    }
}

impl WaitlistEntry {
    fn named_refs(&self) -> Vec<Ref> {
        let mut r = vec![
            Ref::to::<crate::patients::Patient>(self.patient_id, "patient"),
            Ref::to::<SiteDoc>(self.site_id, "site"),
        ];
        r.extend(
            self.clinician_id
                .map(|c| Ref::to::<StaffMember>(c, "clinician")),
        );
        r
    }
}

pub fn register(r: &mut Registry) {
    r.record::<Appointment>()
        .record::<AppointmentType>()
        .record::<ClinicianSchedule>()
        .record::<WaitlistEntry>()
        .mutation::<BookAppointment>()
        .mutation::<ChangeAppointment>();
}
