//! Appointments in the master: their own table, whose exclusion
//! constraints refuse overlapping live appointments whatever the domain
//! code decided; the overlap candidates a batch's bookings and moves are
//! checked against; and the patient notifications a change sets off
//! ([`notify`]). Appointment types, working time and the waitlist are
//! documents in `sync_records`.

pub mod notify;

use crate::records::{load_docs, BoxFuture, Projection, Written};
use crate::ServerError;
use clinic_core::scheduling::{Appointment, OverlapProbe};
use clinic_core::sync::{Envelope, RecordKind, Records};
use deadpool_postgres::Transaction;
use serde_json::{json, Value};
use uuid::Uuid;

/// The typed columns of an appointment row.
fn appointment_row(tenant: Uuid, a: &Appointment, doc: &Value, hash: &str) -> Value {
    let occupied = a.occupied();
    json!({
        "tenant_id": tenant, "id": a.id, "site_id": a.site_id, "patient_id": a.patient_id,
        "clinician_id": a.clinician_id, "room_id": a.room_id, "start_at": a.start, "end_at": a.end(),
        "occupied_from": occupied.start, "occupied_to": occupied.end, "status": a.status.as_str(),
        "in_conflict": a.conflict.is_some(),
        "exclusive": a.status.occupies() && a.conflict.is_none() && !a.double_booking_accepted,
        "doc": doc, "doc_hash": hash, "updated_at": a.updated_at,
    })
}

#[derive(Debug)]
pub struct AppointmentProjection;
pub static PROJECTION: AppointmentProjection = AppointmentProjection;

impl Projection for AppointmentProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Appointment::KIND]
    }

    fn select(&self) -> &'static str {
        "SELECT 'appointment', id, doc_hash, doc FROM appointments"
    }

    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let mut json_rows = Vec::new();
            let mut changes = Vec::new();
            for w in rows {
                let Some(a) = w.record.get::<Appointment>() else {
                    continue;
                };
                json_rows.push(appointment_row(tenant, a, w.doc, w.hash));
                let before = w.before.and_then(|b| b.get::<Appointment>()).cloned();
                changes.push((before, a.clone()));
            }
            tx.execute(
                "INSERT INTO appointments (tenant_id, id, site_id, patient_id, clinician_id, room_id, start_at, end_at,
                     occupied, status, in_conflict, exclusive, doc, doc_hash, updated_at)
                 SELECT $1, x.id, x.site_id, x.patient_id, x.clinician_id, x.room_id, x.start_at, x.end_at,
                     tstzrange(x.occupied_from, x.occupied_to), x.status, x.in_conflict, x.exclusive, x.doc, x.doc_hash, x.updated_at
                 FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, site_id uuid, patient_id uuid, clinician_id uuid, room_id uuid,
                     start_at timestamptz, end_at timestamptz, occupied_from timestamptz, occupied_to timestamptz, status text,
                     in_conflict boolean, exclusive boolean, doc jsonb, doc_hash text, updated_at timestamptz)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET site_id = EXCLUDED.site_id, patient_id = EXCLUDED.patient_id,
                     clinician_id = EXCLUDED.clinician_id, room_id = EXCLUDED.room_id, start_at = EXCLUDED.start_at,
                     end_at = EXCLUDED.end_at, occupied = EXCLUDED.occupied, status = EXCLUDED.status,
                     in_conflict = EXCLUDED.in_conflict, exclusive = EXCLUDED.exclusive, doc = EXCLUDED.doc,
                     doc_hash = EXCLUDED.doc_hash, updated_at = EXCLUDED.updated_at",
                &[&tenant, &Value::Array(json_rows)],
            )
            .await?;
            notify::queue_for_appointments(tx, tenant, &changes).await
        })
    }

    /// Every live appointment a booking or move in the batch may overlap.
    fn load_context<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        batch: &'a [&'a Envelope],
        recs: &'a mut Records,
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let probes: Vec<Value> = OverlapProbe::of_batch(batch, recs)
                .iter()
                .map(|p| {
                    json!({"clinician_id": p.clinician_id, "room_id": p.room_id, "patient_id": p.patient_id,
                           "lo": p.span.start, "hi": p.span.end})
                })
                .collect();
            if probes.is_empty() {
                return Ok(());
            }
            let found = load_docs(
                tx,
                Appointment::KIND,
                "SELECT a.doc FROM appointments a WHERE a.id IN (
                   SELECT a2.id FROM appointments a2,
                     jsonb_to_recordset($1::jsonb) AS p(clinician_id uuid, room_id uuid, patient_id uuid, lo timestamptz, hi timestamptz)
                   WHERE a2.status NOT IN ('cancelled', 'no_show', 'rescheduled')
                     AND a2.start_at < p.hi AND a2.end_at > p.lo
                     AND (a2.clinician_id = p.clinician_id OR a2.patient_id = p.patient_id OR a2.room_id = p.room_id))",
                &[&Value::Array(probes)],
            )
            .await?;
            for a in found {
                recs.offer(a);
            }
            Ok(())
        })
    }
}
