//! Scheduling: appointments and their lifecycle, working time, appointment
//! types, the waitlist, overlap rules and free slots, and the named
//! mutations that book and change appointments.

pub mod model;
pub mod mutations;

pub use model::*;
pub use mutations::*;

use crate::permissions::{Action, Module, Permission};
use crate::sync::{Merge, RecordKind, Registry};
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
    Permission::new(Module::Admin, Action::Edit)
);
crate::document_kind!(
    WaitlistEntry,
    "waitlist_entry",
    Permission::new(Module::Appointments, Action::Create)
);

pub fn register(r: &mut Registry) {
    r.record::<Appointment>()
        .record::<AppointmentType>()
        .record::<ClinicianSchedule>()
        .record::<WaitlistEntry>()
        .mutation::<BookAppointment>()
        .mutation::<ChangeAppointment>();
}
