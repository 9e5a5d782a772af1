//! Patients in the master: their own table with typed columns (what
//! reminders and reports query) next to the document the feed carries, and
//! the bulk load that seeds a server.

use crate::db::tenant_tx;
use crate::records::{BoxFuture, Projection, Written};
use crate::sync::{write_changes, ChangedRecord};
use crate::ServerError;
use clinic_core::patients::{parse_patient_number, Patient, DETAIL_FIELDS, PATIENT_NUMBERS};
use clinic_core::sync::{AnyRecord, RecordKind};
use clinic_core::{ClinicError, ErrorCode};
use deadpool_postgres::{Pool, Transaction};
use serde_json::{json, Value};
use std::sync::LazyLock;
use uuid::Uuid;

/// The typed columns of a patient row, as a JSON object for `jsonb_populate_recordset`.
fn patient_row(tenant: Uuid, p: &Patient, doc: &Value, hash: &str) -> Value {
    let mut row = serde_json::to_value(&p.details).unwrap_or_else(|_| json!({}));
    let seq = parse_patient_number(&p.patient_number).unwrap_or(0);
    if let Some(o) = row.as_object_mut() {
        o.insert("tenant_id".into(), json!(tenant));
        o.insert("id".into(), json!(p.id));
        o.insert("patient_number".into(), json!(p.patient_number));
        o.insert("number_seq".into(), json!(seq));
        o.insert("merged_into".into(), json!(p.merged_into));
        o.insert("archive_reason".into(), json!(p.archive_reason));
        o.insert("updated_at".into(), json!(p.updated_at));
        o.insert("deleted_at".into(), json!(p.archived_at));
        o.insert("doc".into(), doc.clone());
        o.insert("doc_hash".into(), json!(hash));
    }
    row
}

/// Built once: the upsert of every typed column from JSON rows.
static UPSERT_PATIENTS: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<&str> = ["tenant_id", "id", "patient_number", "number_seq"]
        .into_iter()
        .chain(DETAIL_FIELDS.iter().copied())
        .chain([
            "merged_into",
            "archive_reason",
            "created_at",
            "updated_at",
            "deleted_at",
            "doc",
            "doc_hash",
        ])
        .collect();
    let list = columns.join(", ");
    // created_at is the server's clock at the first write, never a
    // device's (the document keeps when the desk says it was made).
    let values: Vec<&str> = columns
        .iter()
        .map(|c| if *c == "created_at" { "now()" } else { c })
        .collect();
    let updates: Vec<String> = columns[2..]
        .iter()
        .filter(|c| **c != "created_at")
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    format!(
        "INSERT INTO patients ({list})
         SELECT {} FROM jsonb_populate_recordset(NULL::patients, $1::jsonb)
         ON CONFLICT (tenant_id, id) DO UPDATE SET {}",
        values.join(", "),
        updates.join(", ")
    )
});

#[derive(Debug)]
pub struct PatientProjection;
pub static PROJECTION: PatientProjection = PatientProjection;

impl Projection for PatientProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[Patient::KIND]
    }
    fn select(&self) -> &'static str {
        "SELECT 'patient', id, doc_hash, doc FROM patients WHERE doc IS NOT NULL"
    }
    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let rows: Vec<Value> = rows
                .iter()
                .filter_map(|w| {
                    let p = w.record.get::<Patient>()?;
                    Some(patient_row(tenant, p, w.doc, w.hash))
                })
                .collect();
            tx.execute(UPSERT_PATIENTS.as_str(), &[&Value::Array(rows)])
                .await?;
            Ok(())
        })
    }
}

/// Patients written per transaction by [`bulk_load_patients`].
pub const BULK_BATCH: usize = 2_000;

/// Loads patients straight into a tenant's master: the rows and
/// change-feed entries a push of their registrations writes (the same
/// [`write_changes`]), without the per-mutation rules, [`BULK_BATCH`] to a
/// transaction. The numbers they use are first recorded as a block no
/// device is ever leased; a number inside an existing block is refused.
/// For seeding a server (the demo clinic, benchmarks): the patients must be
/// valid and new. Returns the feed head.
pub async fn bulk_load_patients(
    pool: &Pool,
    tenant: Uuid,
    patients: &[Patient],
) -> Result<i64, ServerError> {
    let numbers: Vec<i64> = patients
        .iter()
        .map(|p| parse_patient_number(&p.patient_number))
        .collect::<Option<Vec<_>>>()
        .map(|v| v.into_iter().map(|n| n as i64).collect())
        .ok_or_else(|| ClinicError::field("patient_number", "is not a valid patient number"))?;
    let (Some(lo), Some(hi)) = (numbers.iter().min(), numbers.iter().max()) else {
        return Ok(0);
    };
    let series = PATIENT_NUMBERS.name;
    let mut client = crate::db::conn(pool).await?;
    let mut head = 0;
    for (i, batch) in patients.chunks(BULK_BATCH).enumerate() {
        let tx = tenant_tx(&mut client, tenant).await?;
        let last_seq: i64 = tx
            .query_one("SELECT last_seq FROM feed_heads FOR UPDATE", &[])
            .await?
            .get(0);
        if i == 0 {
            let leased: i64 = tx
                .query_one(
                    "SELECT coalesce(max(block_end), 1) FROM number_blocks WHERE series = $1",
                    &[&series],
                )
                .await?
                .get(0);
            if *lo < leased {
                return Err(ClinicError::new(
                    ErrorCode::Conflict,
                    format!("Patient numbers below {leased} are already handed out; nothing was loaded."),
                )
                .into());
            }
            tx.execute(
                "INSERT INTO number_blocks (tenant_id, series, block_start, block_end, device_id) VALUES ($1, $2, $3, $4, NULL)",
                &[&tenant, &series, lo, &(hi + 1)],
            )
            .await?;
        }
        let records: Vec<ChangedRecord> = batch
            .iter()
            .map(|p| ChangedRecord {
                record: AnyRecord::new(p.clone()),
                before: None,
            })
            .collect();
        head = write_changes(&tx, tenant, None, last_seq, &records).await?;
        let issued: Vec<clinic_core::sync::IssuedNumber> = batch
            .iter()
            .filter_map(|p| {
                Some(clinic_core::sync::IssuedNumber {
                    series,
                    value: parse_patient_number(&p.patient_number)?,
                    record: p.id,
                })
            })
            .collect();
        crate::sync::record_issued(&tx, tenant, None, &issued).await?;
        tx.commit().await?;
    }
    Ok(head)
}
