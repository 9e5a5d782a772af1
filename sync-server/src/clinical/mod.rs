//! Encounters and prescriptions in the master: their own tables with the
//! columns the clinician's day and the chart query; triggers refuse any
//! change of a signed note but appended addenda, and any change of an
//! issued prescription but its status.

use crate::records::{BoxFuture, Projection, Written};
use crate::ServerError;
use clinic_core::clinical::{Encounter, Prescription};
use clinic_core::sync::RecordKind;
use deadpool_postgres::Transaction;
use serde_json::{json, Value};
use uuid::Uuid;

#[derive(Debug)]
pub struct EncounterProjection;
pub static PROJECTION: EncounterProjection = EncounterProjection;

#[derive(Debug)]
pub struct PrescriptionProjection;
pub static PRESCRIPTIONS: PrescriptionProjection = PrescriptionProjection;

impl Projection for PrescriptionProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Prescription::KIND]
    }

    fn select(&self) -> &'static str {
        "SELECT 'prescription', id, doc_hash, doc FROM prescriptions"
    }

    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let json_rows: Vec<Value> = rows
                .iter()
                .filter_map(|w| {
                    let p = w.record.get::<Prescription>()?;
                    Some(json!({
                        "id": p.id, "patient_id": p.patient_id, "encounter_id": p.encounter_id,
                        "status": p.status.as_str(), "issued_at": p.issued_at, "expires_on": p.expires_on,
                        "doc": w.doc, "doc_hash": w.hash, "updated_at": p.updated_at,
                    }))
                })
                .collect();
            tx.execute(
                "INSERT INTO prescriptions (tenant_id, id, patient_id, encounter_id, status, issued_at, expires_on,
                     doc, doc_hash, updated_at)
                 SELECT $1, x.id, x.patient_id, x.encounter_id, x.status, x.issued_at, x.expires_on, x.doc,
                     x.doc_hash, x.updated_at
                 FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, patient_id uuid, encounter_id uuid, status text,
                     issued_at timestamptz, expires_on date, doc jsonb, doc_hash text, updated_at timestamptz)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET status = EXCLUDED.status, doc = EXCLUDED.doc,
                     doc_hash = EXCLUDED.doc_hash, updated_at = EXCLUDED.updated_at",
                &[&tenant, &Value::Array(json_rows)],
            )
            .await?;
            Ok(())
        })
    }
}

impl Projection for EncounterProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Encounter::KIND]
    }

    fn select(&self) -> &'static str {
        "SELECT 'encounter', id, doc_hash, doc FROM encounters"
    }

    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let json_rows: Vec<Value> = rows
                .iter()
                .filter_map(|w| {
                    let e = w.record.get::<Encounter>()?;
                    Some(json!({
                        "id": e.id, "patient_id": e.patient_id, "clinician_id": e.clinician_id,
                        "appointment_id": e.appointment_id, "status": e.status.as_str(),
                        "started_at": e.started_at, "signed_at": e.signature.as_ref().map(|s| s.at),
                        "content_sha256": e.signature.as_ref().map(|s| &s.content_sha256),
                        "doc": w.doc, "doc_hash": w.hash, "updated_at": e.updated_at,
                    }))
                })
                .collect();
            tx.execute(
                "INSERT INTO encounters (tenant_id, id, patient_id, clinician_id, appointment_id, status,
                     started_at, signed_at, content_sha256, doc, doc_hash, updated_at)
                 SELECT $1, x.id, x.patient_id, x.clinician_id, x.appointment_id, x.status, x.started_at,
                     x.signed_at, x.content_sha256, x.doc, x.doc_hash, x.updated_at
                 FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, patient_id uuid, clinician_id uuid,
                     appointment_id uuid, status text, started_at timestamptz, signed_at timestamptz,
                     content_sha256 text, doc jsonb, doc_hash text, updated_at timestamptz)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET patient_id = EXCLUDED.patient_id,
                     clinician_id = EXCLUDED.clinician_id, appointment_id = EXCLUDED.appointment_id,
                     status = EXCLUDED.status, started_at = EXCLUDED.started_at,
                     signed_at = EXCLUDED.signed_at, content_sha256 = EXCLUDED.content_sha256,
                     doc = EXCLUDED.doc, doc_hash = EXCLUDED.doc_hash, updated_at = EXCLUDED.updated_at",
                &[&tenant, &Value::Array(json_rows)],
            )
            .await?;
            Ok(())
        })
    }
}
