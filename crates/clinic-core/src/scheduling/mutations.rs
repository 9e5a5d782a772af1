//! The named changes of appointments, and which other appointments each
//! must be checked against (its [`OverlapProbe`], loaded by the scheduling
//! part of each side's storage).

use super::model::*;
use crate::directory::{RoomDoc, SiteDoc, StaffMember};
use crate::error::ClinicResult;
use crate::permissions::{Action, Module, Permission};
use crate::sync::{Applied, Context, Envelope, MutationKind, Records, Ref};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Books an appointment. Without `override_overlap` a booking that
/// overlaps another (booked meanwhile on another workstation) is kept and
/// marked as a conflict for a person to resolve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookAppointment {
    pub appointment: Appointment,
    #[serde(default)]
    pub override_overlap: bool,
}

impl MutationKind for BookAppointment {
    const NAME: &'static str = "book_appointment";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.appointment.id]
    }

    fn permission(&self) -> Permission {
        Permission::new(Module::Appointments, Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        let a = &self.appointment;
        let mut refs = vec![
            Ref::to::<crate::patients::Patient>(a.patient_id, "patient"),
            Ref::to::<StaffMember>(a.clinician_id, "clinician"),
            Ref::to::<SiteDoc>(a.site_id, "site"),
        ];
        refs.extend(a.room_id.map(|r| Ref::to::<RoomDoc>(r, "room")));
        refs
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        // A booking says who made it: the author, never someone else.
        if let (Some(author), Some(by)) = (cx.user, self.appointment.booked_by) {
            if author != by {
                return Err(crate::ClinicError::forbidden(
                    "This booking claims to be made by another member of staff; it was not applied.",
                ));
            }
        }
        apply_booking(
            &self.appointment,
            self.override_overlap,
            cx.tenant,
            cx.at,
            recs,
        )
        .map(|changed| Applied { changed })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeAppointment {
    pub appointment: Uuid,
    pub change: AppointmentChange,
}

impl MutationKind for ChangeAppointment {
    const NAME: &'static str = "change_appointment";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.appointment]
    }

    fn permission(&self) -> Permission {
        Permission::new(Module::Appointments, Action::Edit)
    }

    fn refs(&self) -> Vec<Ref> {
        // A move names the clinician and room it moves to.
        match self.change.destination() {
            Some((clinician, room)) => {
                let mut refs = vec![Ref::to::<StaffMember>(clinician, "clinician")];
                refs.extend(room.map(|r| Ref::to::<RoomDoc>(r, "room")));
                refs
            }
            None => vec![],
        }
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        apply_change(self.appointment, &self.change, cx.at, recs).map(|changed| Applied { changed })
    }
}

/// Which appointments a booking or move must be checked against: every
/// live one of this clinician, room or patient overlapping `span` (widened
/// by both sides' longest buffers, so the caller's query needs no buffer
/// arithmetic).
#[derive(Debug, Clone, PartialEq)]
pub struct OverlapProbe {
    pub clinician_id: Uuid,
    pub room_id: Option<Uuid>,
    pub patient_id: Uuid,
    pub span: Span,
}

impl OverlapProbe {
    /// The probe of `a` where it now stands. Two appointments' buffers can
    /// together reach twice the longest buffer, so the span is widened by that.
    pub fn for_appointment(a: &Appointment) -> Self {
        let pad = chrono::Duration::minutes(2 * MAX_BUFFER as i64);
        OverlapProbe {
            clinician_id: a.clinician_id,
            room_id: a.room_id,
            patient_id: a.patient_id,
            span: Span::new(a.start - pad, a.end() + pad),
        }
    }

    /// The probe of a booking or a move (`None` for any other mutation).
    /// `recs` must hold the appointment being moved.
    pub fn of(m: &crate::sync::Mutation, recs: &Records) -> Option<OverlapProbe> {
        let target = if let Some(b) = m.get::<BookAppointment>() {
            b.appointment.clone()
        } else {
            let c = m.get::<ChangeAppointment>()?;
            let mut a = recs.get::<Appointment>(c.appointment)?.clone();
            match &c.change {
                // Back from a status that gave its time away (a no-show
                // who turns up): checked where it stands.
                AppointmentChange::Status { to, .. } if to.occupies() && !a.status.occupies() => {}
                change => change.place(&mut a)?,
            }
            a
        };
        Some(OverlapProbe::for_appointment(&target))
    }

    /// The probes of every booking and move in a batch, in order, following
    /// appointments booked and moved earlier in the same batch (the server
    /// loads the candidates of all of them before applying the batch).
    pub fn of_batch(batch: &[&Envelope], recs: &Records) -> Vec<OverlapProbe> {
        let mut seen = Records::default();
        for a in recs.all::<Appointment>() {
            seen.put(a.clone());
        }
        let mut out = Vec::new();
        for env in batch {
            if let Some(p) = OverlapProbe::of(&env.mutation, &seen) {
                out.push(p);
            }
            if let Some(b) = env.mutation.get::<BookAppointment>() {
                if !seen.contains(b.appointment.id) {
                    seen.put(b.appointment.clone());
                }
            } else if let Some(c) = env.mutation.get::<ChangeAppointment>() {
                if let Some(mut a) = seen.get::<Appointment>(c.appointment).cloned() {
                    c.change.place(&mut a);
                    if let AppointmentChange::Status { to, .. } = &c.change {
                        a.status = *to;
                    }
                    seen.put(a);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
