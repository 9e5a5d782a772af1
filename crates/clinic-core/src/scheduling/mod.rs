//! Scheduling: appointments and their lifecycle, working time, appointment
//! types, the waitlist, overlap rules and free slots, and the named
//! mutations that book and change appointments.

pub mod model;
pub mod mutations;

pub use model::*;
pub use mutations::*;

use crate::permissions::{Action, Module, Permission};
use crate::sync::{tagged_doc, Merge, RecordKind, Registry};
use crate::ClinicResult;
use serde_json::Value;
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

/// The reference records of scheduling (types, working time, the
/// waitlist): whole documents, saved with [`crate::sync::SaveDocument`].
macro_rules! front_desk_document {
    ($t:ty, $kind:literal, $permission:expr) => {
        impl RecordKind for $t {
            const KIND: &'static str = $kind;
            const MERGE: Merge = Merge::Document;

            fn id(&self) -> Uuid {
                self.id
            }
            fn doc(&self) -> Value {
                tagged_doc(Self::KIND, self)
            }
            fn validate(&self) -> ClinicResult<()> {
                <$t>::validate(self)
            }
            fn save_permission(&self) -> Permission {
                $permission
            }
        }
    };
}

// Types and working time are the clinic's set-up (managers); the waitlist
// is the front desk's.
front_desk_document!(
    AppointmentType,
    "appointment_type",
    Permission::new(Module::Admin, Action::Edit)
);
front_desk_document!(
    ClinicianSchedule,
    "clinician_schedule",
    Permission::new(Module::Admin, Action::Edit)
);
front_desk_document!(
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
