//! The server half of sync: applies pushed mutations with the shared domain
//! rules (`clinic_core::sync`), keeps the per-tenant change feed, serves it
//! in pages (long-polled when caught up), verifies audit chains, and
//! answers whole-copy checksums.
//!
//! Ordering: a push takes the tenant's `feed_heads` row lock first and
//! holds it to commit, so feed sequence numbers are assigned in commit
//! order and a reader after `seq` can never miss a row committed later with
//! a smaller number.

use crate::db::{map_db, tenant_tx};
use crate::ServerError;
use clinic_core::api::DeviceIdentity;
use clinic_core::audit::{AuditEvent, ChainVerifier};
use clinic_core::patient::Patient;
use clinic_core::sync::*;
use clinic_core::{ClinicError, ErrorCode};
use deadpool_postgres::Pool;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Most mutations (and audit events) accepted in one push.
pub const MAX_PUSH: usize = 2_000;
/// Most changes in one page of the feed.
pub const MAX_PAGE: i64 = 5_000;
const _: () = assert!(
    CHECKSUM_BUCKETS == 64,
    "bucket SQL in bucket_records assumes 64"
);
/// Longest a caught-up pull waits for news.
pub const MAX_WAIT: Duration = Duration::from_secs(25);

/// Wakes long-polling pulls of a tenant when its feed grows (one process).
#[derive(Debug, Default)]
pub struct FeedSignals {
    tenants: Mutex<HashMap<Uuid, watch::Sender<i64>>>,
}

impl FeedSignals {
    fn sender(&self, tenant: Uuid) -> watch::Sender<i64> {
        let mut m = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(tenant)
            .or_insert_with(|| watch::channel(0).0)
            .clone()
    }
    pub fn subscribe(&self, tenant: Uuid) -> watch::Receiver<i64> {
        self.sender(tenant).subscribe()
    }
    pub fn announce(&self, tenant: Uuid, head: i64) {
        self.sender(tenant).send_replace(head);
    }
}

fn check_protocol(v: u32) -> Result<(), ServerError> {
    if v != PROTOCOL_VERSION {
        return Err(ClinicError::new(
            ErrorCode::UpdateRequired,
            format!(
                "This server speaks sync protocol {PROTOCOL_VERSION} and the workstation {v}; update the {} to continue. Nothing was changed.",
                if v < PROTOCOL_VERSION { "workstation" } else { "server" }
            ),
        )
        .into());
    }
    Ok(())
}

/// The typed columns of an appointment row.
fn appointment_row(
    tenant: Uuid,
    a: &clinic_core::schedule::Appointment,
    doc: &Value,
    hash: &str,
) -> Value {
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

/// The typed columns of a patient row, as a JSON object for `jsonb_populate_recordset`.
fn patient_row(tenant: Uuid, p: &Patient, doc: &Value, hash: &str) -> Value {
    let mut row = serde_json::to_value(&p.details).unwrap_or_else(|_| json!({}));
    let seq = clinic_core::patient_number::parse_patient_number(&p.patient_number).unwrap_or(0);
    if let Some(o) = row.as_object_mut() {
        o.insert("tenant_id".into(), json!(tenant));
        o.insert("id".into(), json!(p.id));
        o.insert("patient_number".into(), json!(p.patient_number));
        o.insert("number_seq".into(), json!(seq));
        o.insert("merged_into".into(), json!(p.merged_into));
        o.insert("archive_reason".into(), json!(p.archive_reason));
        o.insert("created_at".into(), json!(p.created_at));
        o.insert("updated_at".into(), json!(p.updated_at));
        o.insert("deleted_at".into(), json!(p.archived_at));
        o.insert("doc".into(), doc.clone());
        o.insert("doc_hash".into(), json!(hash));
    }
    row
}

const PATIENT_COLUMNS: &str = "tenant_id, id, patient_number, number_seq, first_name, middle_name, last_name, preferred_name,
    date_of_birth, sex_at_birth, gender, phone, alt_phone, email, address_line1, address_line2, city, state, postcode,
    country, national_id_kind, national_id, preferred_channel, preferred_language, reminders_opt_in, blood_group,
    smoking_status, alcohol_use, family_history, risk_level, alert_level, flags, merged_into, archive_reason,
    created_at, updated_at, deleted_at, doc, doc_hash";

/// Built once: the upsert of every typed column from JSON rows.
static UPSERT_PATIENTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(upsert_patients_sql);

fn upsert_patients_sql() -> String {
    let updates: Vec<String> = PATIENT_COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "tenant_id" && *c != "id")
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    format!(
        "INSERT INTO patients ({PATIENT_COLUMNS})
         SELECT {PATIENT_COLUMNS} FROM jsonb_populate_recordset(NULL::patients, $1::jsonb)
         ON CONFLICT (tenant_id, id) DO UPDATE SET {}",
        updates.join(", ")
    )
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
        .map(|p| clinic_core::patient_number::parse_patient_number(&p.patient_number))
        .collect::<Option<Vec<_>>>()
        .map(|v| v.into_iter().map(|n| n as i64).collect())
        .ok_or_else(|| {
            ClinicError::validation(vec![clinic_core::FieldError {
                field: "patient_number".into(),
                message: "is not a valid patient number".into(),
            }])
        })?;
    let (Some(lo), Some(hi)) = (numbers.iter().min(), numbers.iter().max()) else {
        return Ok(0);
    };
    let mut client = crate::db::conn(pool).await?;
    let mut head = 0;
    for (i, batch) in patients.chunks(BULK_BATCH).enumerate() {
        let tx = tenant_tx(&mut client, tenant).await?;
        let last_seq: i64 = tx
            .query_one("SELECT last_seq FROM feed_heads FOR UPDATE", &[])
            .await
            .map_err(map_db)?
            .get(0);
        if i == 0 {
            let leased: i64 = tx
                .query_one(
                    "SELECT coalesce(max(block_end), 1) FROM number_blocks WHERE series = 'patient'",
                    &[],
                )
                .await
                .map_err(map_db)?
                .get(0);
            if *lo < leased {
                return Err(ClinicError::new(
                    ErrorCode::Conflict,
                    format!("Patient numbers below {leased} are already handed out; nothing was loaded."),
                )
                .into());
            }
            tx.execute(
                "INSERT INTO number_blocks (tenant_id, series, block_start, block_end, device_id) VALUES ($1, 'patient', $2, $3, NULL)",
                &[&tenant, lo, &(hi + 1)],
            )
            .await
            .map_err(map_db)?;
        }
        let records = batch.iter().cloned().map(Record::Patient);
        head = write_changes(&tx, tenant, None, last_seq, records, &HashMap::new()).await?;
        tx.commit().await.map_err(map_db)?;
    }
    Ok(head)
}

/// The plain limit of loading documents into PostgreSQL on this machine:
/// `COPY` of (id, document) rows into a temporary table without indexes or
/// constraints, in one transaction. Against [`bulk_load_patients`] it shows
/// what the product's own path (typed rows, indexes, feed, chain) costs.
pub async fn copy_limit(pool: &Pool, docs: &[(Uuid, Value)]) -> Result<(), ServerError> {
    use futures_util::SinkExt;
    let mut client = crate::db::conn(pool).await?;
    let tx = client.transaction().await.map_err(map_db)?;
    tx.execute(
        "CREATE TEMPORARY TABLE copy_limit (id uuid, doc jsonb) ON COMMIT DROP",
        &[],
    )
    .await
    .map_err(map_db)?;
    let sink = tx
        .copy_in("COPY copy_limit (id, doc) FROM STDIN")
        .await
        .map_err(map_db)?;
    futures_util::pin_mut!(sink);
    let mut buf = String::with_capacity(1 << 20);
    for (id, doc) in docs {
        // COPY's text format: backslashes escaped (JSON has no raw tabs or newlines).
        buf.push_str(&format!(
            "{id}\t{}\n",
            doc.to_string().replace('\\', "\\\\")
        ));
        if buf.len() >= 1 << 20 {
            let chunk = std::mem::take(&mut buf);
            sink.send(axum::body::Bytes::from(chunk))
                .await
                .map_err(map_db)?;
        }
    }
    if !buf.is_empty() {
        sink.send(axum::body::Bytes::from(buf))
            .await
            .map_err(map_db)?;
    }
    sink.finish().await.map_err(map_db)?;
    tx.commit().await.map_err(map_db)?;
    Ok(())
}

/// Writes records and their change-feed entries after `last_seq` (the
/// tenant's feed head, locked by the caller) in the caller's transaction:
/// the typed rows with their documents, the feed with its hash chain, the
/// new head, and the notifications of changed appointments. `device` is
/// who sent them (none for a bulk load). Returns the new head.
async fn write_changes(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: Uuid,
    device: Option<Uuid>,
    mut last_seq: i64,
    records: impl Iterator<Item = Record>,
    appointments_before: &HashMap<Uuid, clinic_core::schedule::Appointment>,
) -> Result<i64, ServerError> {
    let mut rows = Vec::new();
    let mut feed = Vec::new();
    let mut chain: String = match last_seq {
        0 => FEED_GENESIS.to_string(),
        s => tx
            .query_one("SELECT chain FROM change_feed WHERE seq = $1", &[&s])
            .await
            .map_err(map_db)?
            .get(0),
    };
    let mut appointment_rows = Vec::new();
    let mut ref_rows = Vec::new();
    let mut appointment_changes = Vec::new();
    for record in records {
        let id = &record.id();
        let doc = record.doc();
        // Serialised once for the document's hash and the chain.
        let text = doc.to_string();
        let hash = doc_hash_of_text(&text);
        match &record {
            Record::Patient(p) => rows.push(patient_row(tenant, p, &doc, &hash)),
            Record::Appointment(a) => {
                appointment_rows.push(appointment_row(tenant, a, &doc, &hash));
                appointment_changes.push((appointments_before.get(id).cloned(), a.clone()));
            }
            Record::Ref(r) => ref_rows.push(json!({
                "id": id, "entity_type": r.kind(), "doc": doc, "doc_hash": hash
            })),
        }
        last_seq += 1;
        let change = Change {
            seq: last_seq,
            entity_type: record.entity_type().into(),
            entity_id: *id,
            data: Value::Null,
            chain: String::new(),
        };
        chain = chain_of_text(&chain, &change, &text);
        // The feed row takes the document itself (no copy).
        let mut row = serde_json::Map::new();
        row.insert("seq".into(), last_seq.into());
        row.insert("entity_type".into(), change.entity_type.into());
        row.insert("entity_id".into(), id.to_string().into());
        row.insert("data".into(), doc);
        row.insert("chain".into(), chain.clone().into());
        feed.push(Value::Object(row));
    }
    if !rows.is_empty() {
        tx.execute(UPSERT_PATIENTS.as_str(), &[&Value::Array(rows)])
            .await
            .map_err(map_db)?;
    }
    if !appointment_rows.is_empty() {
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
            &[&tenant, &Value::Array(appointment_rows)],
        )
        .await
        .map_err(map_db)?;
        crate::notify::queue_for_appointments(tx, tenant, &appointment_changes).await?;
    }
    if !ref_rows.is_empty() {
        tx.execute(
            "INSERT INTO sync_records (tenant_id, id, entity_type, doc, doc_hash)
             SELECT $1, x.id, x.entity_type, x.doc, x.doc_hash
             FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, entity_type text, doc jsonb, doc_hash text)
             ON CONFLICT (tenant_id, id) DO UPDATE SET entity_type = EXCLUDED.entity_type, doc = EXCLUDED.doc,
                 doc_hash = EXCLUDED.doc_hash, updated_at = now()",
            &[&tenant, &Value::Array(ref_rows)],
        )
        .await
        .map_err(map_db)?;
    }
    tx.execute(
        "INSERT INTO change_feed (tenant_id, seq, entity_type, entity_id, data, device_id, chain)
         SELECT $1, x.seq, x.entity_type, x.entity_id, x.data, $3, x.chain
         FROM jsonb_to_recordset($2::jsonb) AS x(seq bigint, entity_type text, entity_id uuid, data jsonb, chain text)",
        &[&tenant, &Value::Array(feed), &device],
    )
    .await
    .map_err(map_db)?;
    tx.execute("UPDATE feed_heads SET last_seq = $1", &[&last_seq])
        .await
        .map_err(map_db)?;
    Ok(last_seq)
}

/// Applies a device's push in one transaction: mutations (each once, in
/// order, gaps refused), the feed rows they produce, their outcomes, the
/// device's position, and its audit events after the verified head.
pub async fn push(
    pool: &Pool,
    signals: &FeedSignals,
    device: &DeviceIdentity,
    req: PushRequest,
) -> Result<PushResponse, ServerError> {
    check_protocol(req.protocol)?;
    if req.mutations.len() > MAX_PUSH || req.audit.len() > MAX_PUSH {
        return Err(ClinicError::validation(vec![clinic_core::FieldError {
            field: "mutations".into(),
            message: format!(
                "send at most {MAX_PUSH} mutations and {MAX_PUSH} audit events at once"
            ),
        }])
        .into());
    }
    let tenant = device.tenant_id;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    // The tenant's feed lock, held to commit (see the module comment).
    let head = tx
        .query_one("SELECT last_seq, epoch FROM feed_heads FOR UPDATE", &[])
        .await
        .map_err(map_db)?;
    let (mut last_seq, epoch): (i64, Uuid) = (head.get(0), head.get(1));
    let state = tx
        .query_one(
            "SELECT last_applied_seq, audit_head_seq, audit_head_hash FROM device_state WHERE device_id = $1 FOR UPDATE",
            &[&device.device_id],
        )
        .await
        .map_err(map_db)?;
    let (last_applied, audit_seq, audit_hash): (i64, i64, String) =
        (state.get(0), state.get(1), state.get(2));

    let fresh: Vec<&Envelope> = req
        .mutations
        .iter()
        .filter(|e| e.device_seq > last_applied)
        .collect();
    let mut ids: Vec<Uuid> = fresh.iter().flat_map(|e| e.mutation.entity_ids()).collect();
    ids.sort();
    ids.dedup();
    let mut recs = Records::default();
    let stored = |kind: &str, doc: Value| {
        Record::from_doc(kind, &doc)
            .map_err(|e| ServerError::Database(format!("stored {kind} document: {e}")))
    };
    for row in tx
        .query(
            "SELECT 'patient', doc FROM patients WHERE id = ANY($1) AND doc IS NOT NULL
             UNION ALL SELECT 'appointment', doc FROM appointments WHERE id = ANY($1)
             UNION ALL SELECT entity_type, doc FROM sync_records WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(map_db)?
    {
        recs.put(stored(row.get(0), row.get(1))?);
    }
    // Every live appointment a booking or move in the batch may overlap.
    let probes: Vec<Value> = batch_probes(&fresh, &recs)
        .iter()
        .map(|p| {
            json!({"clinician_id": p.clinician_id, "room_id": p.room_id, "patient_id": p.patient_id,
                   "lo": p.span.start, "hi": p.span.end})
        })
        .collect();
    if !probes.is_empty() {
        for row in tx
            .query(
                "SELECT a.doc FROM appointments a WHERE a.id IN (
                   SELECT a2.id FROM appointments a2,
                     jsonb_to_recordset($1::jsonb) AS p(clinician_id uuid, room_id uuid, patient_id uuid, lo timestamptz, hi timestamptz)
                   WHERE a2.status NOT IN ('cancelled', 'no_show', 'rescheduled')
                     AND a2.start_at < p.hi AND a2.end_at > p.lo
                     AND (a2.clinician_id = p.clinician_id OR a2.patient_id = p.patient_id OR a2.room_id = p.room_id))",
                &[&Value::Array(probes)],
            )
            .await
            .map_err(map_db)?
        {
            if let Record::Appointment(a) = stored(ENTITY_APPOINTMENT, row.get(0))? {
                recs.appointments.entry(a.id).or_insert(a);
            }
        }
    }
    let appointments_before = recs.appointments.clone();
    let numbers: Vec<String> = fresh
        .iter()
        .filter_map(|e| match &e.mutation {
            Mutation::RegisterPatient { patient_number, .. } => Some(patient_number.clone()),
            _ => None,
        })
        .collect();
    for row in tx
        .query(
            "SELECT id, patient_number FROM patients WHERE patient_number = ANY($1)",
            &[&numbers],
        )
        .await
        .map_err(map_db)?
    {
        let holder: Uuid = row.get(0);
        if !recs.patients.contains_key(&holder) {
            recs.taken_numbers.insert(row.get(1));
        }
    }
    let users: Vec<Uuid> = fresh.iter().filter_map(|e| e.user_id).collect();
    let mut gate = Gate::default();
    for r in tx
        .query(
            "SELECT u.id, u.status <> 'active' OR u.deleted_at IS NOT NULL,
                    EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
                            WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id AND r.key = 'admin')
             FROM users u WHERE u.id = ANY($1)",
            &[&users],
        )
        .await
        .map_err(map_db)?
    {
        let id: Uuid = r.get(0);
        if r.get::<_, bool>(1) {
            gate.disabled.insert(id);
        }
        if r.get::<_, bool>(2) {
            gate.admins.insert(id);
        }
    }

    let result = apply_batch(tenant, last_applied, &req.mutations, &gate, &mut recs);

    if !result.changed.is_empty() {
        let changed = result.changed.iter().filter_map(|id| recs.get(*id));
        last_seq = write_changes(
            &tx,
            tenant,
            Some(device.device_id),
            last_seq,
            changed,
            &appointments_before,
        )
        .await?;
    }
    if !result.outcomes.is_empty() {
        let by_seq: HashMap<i64, &Envelope> =
            req.mutations.iter().map(|e| (e.device_seq, e)).collect();
        let rows: Vec<Value> = result
            .outcomes
            .iter()
            .map(|o| {
                let e = by_seq[&o.device_seq];
                json!({
                    "device_seq": o.device_seq, "mutation_id": e.id, "kind": e.mutation.name(),
                    "user_id": e.user_id, "status": o.status, "code": o.code, "message": o.message, "made_at": e.at,
                })
            })
            .collect();
        tx.execute(
            "INSERT INTO mutation_outcomes (tenant_id, device_id, device_seq, mutation_id, kind, user_id, status, code, message, made_at)
             SELECT $1, $2, x.device_seq, x.mutation_id, x.kind, x.user_id, x.status, x.code, x.message, x.made_at
             FROM jsonb_to_recordset($3::jsonb) AS x(device_seq bigint, mutation_id uuid, kind text, user_id uuid,
                  status text, code text, message text, made_at timestamptz)",
            &[&tenant, &device.device_id, &Value::Array(rows)],
        )
        .await
        .map_err(map_db)?;
    }

    // Audit: verify the uploaded events continue the chain the server holds.
    let mut verifier = ChainVerifier::resume(device.device_id, audit_seq, &audit_hash);
    let mut accepted: Vec<&AuditEvent> = Vec::new();
    let mut audit_break = None;
    // Events that do not start right after the held head are a gap (an
    // old request arriving late), not a break: skipped, sent again later.
    let fresh: Vec<&AuditEvent> = req.audit.iter().filter(|e| e.seq > audit_seq).collect();
    let gap = fresh.first().is_some_and(|e| e.seq != audit_seq + 1);
    for e in fresh.into_iter().filter(|_| !gap) {
        if e.tenant_id != tenant {
            audit_break = Some(clinic_core::audit::ChainBreak {
                seq: e.seq,
                event_id: Some(e.id),
                reason: "event of another tenant".into(),
            });
            break;
        }
        match verifier.check(e) {
            Ok(()) => accepted.push(e),
            Err(b) => {
                audit_break = Some(b);
                break;
            }
        }
    }
    let mut audit_head = audit_seq;
    if let Some(last) = accepted.last() {
        audit_head = last.seq;
        let rows: Vec<Value> = accepted
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
            .collect();
        tx.execute(
            "INSERT INTO audit_events (tenant_id, device_id, seq, id, at, user_id, action, entity_type, entity_id, patient_id, details, prev_hash, hash)
             SELECT $1, $2, x.seq, x.id, x.at, x.user_id, x.action, x.entity_type, x.entity_id, x.patient_id, x.details, x.prev_hash, x.hash
             FROM jsonb_to_recordset($3::jsonb) AS x(seq bigint, id uuid, at timestamptz, user_id uuid, action text, entity_type text,
                  entity_id uuid, patient_id uuid, details jsonb, prev_hash text, hash text)",
            &[&tenant, &device.device_id, &Value::Array(rows)],
        )
        .await
        .map_err(map_db)?;
    }
    let break_json = audit_break
        .as_ref()
        .map(|b| serde_json::to_value(b).unwrap_or(Value::Null));
    if let Some(b) = &audit_break {
        tracing::warn!(tenant = %tenant, device = %device.device_id, seq = b.seq, reason = %b.reason, "audit chain break in upload");
    }
    tx.execute(
        "UPDATE device_state SET last_applied_seq = $2, audit_head_seq = $3, audit_head_hash = $4,
            audit_break = coalesce($5, audit_break), updated_at = now() WHERE device_id = $1",
        &[
            &device.device_id,
            &result.last_applied_seq,
            &audit_head,
            &accepted
                .last()
                .map(|e| e.hash.clone())
                .unwrap_or(audit_hash),
            &break_json,
        ],
    )
    .await
    .map_err(map_db)?;

    // A device running low on patient numbers gets another block (a lost
    // answer wastes one block; numbers are never handed out twice).
    let patient_numbers = if req.want_patient_numbers {
        Some(crate::devices::lease_block(&tx, device.device_id, "patient").await?)
    } else {
        None
    };

    // Answers for mutations applied by an earlier push (a retry).
    let mut outcomes = Vec::new();
    let earlier: Vec<i64> = req
        .mutations
        .iter()
        .map(|e| e.device_seq)
        .filter(|s| *s <= last_applied)
        .collect();
    if !earlier.is_empty() {
        for r in tx
            .query(
                "SELECT device_seq, status, code, message FROM mutation_outcomes WHERE device_id = $1 AND device_seq = ANY($2) ORDER BY device_seq",
                &[&device.device_id, &earlier],
            )
            .await
            .map_err(map_db)?
        {
            outcomes.push(Outcome {
                device_seq: r.get(0),
                status: serde_json::from_value(json!(r.get::<_, String>(1)))
                    .unwrap_or(OutcomeStatus::Accepted),
                code: r
                    .get::<_, Option<String>>(2)
                    .and_then(|c| serde_json::from_value(json!(c)).ok()),
                message: r.get(3),
            });
        }
    }
    outcomes.extend(result.outcomes);
    tx.commit().await.map_err(map_db)?;
    if !result.changed.is_empty() {
        signals.announce(tenant, last_seq);
    }
    Ok(PushResponse {
        epoch,
        last_applied_seq: result.last_applied_seq,
        outcomes,
        gap: result.gap,
        audit_head,
        audit_break,
        patient_numbers,
    })
}

#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct PullQuery {
    /// The last feed sequence the workstation holds (0 for a fresh one).
    #[serde(default)]
    pub after: i64,
    /// Most changes to return (at most 5,000).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Seconds to wait for news when caught up (long poll, at most 25).
    #[serde(default)]
    pub wait: Option<u64>,
    /// The workstation's hash of the change at `after`: when the feed no
    /// longer has that change (a restored server), `cursor_ok` is false.
    #[serde(default)]
    pub after_hash: Option<String>,
}

async fn read_page(
    pool: &Pool,
    device: &DeviceIdentity,
    after: i64,
    after_hash: Option<&str>,
    limit: i64,
) -> Result<PullResponse, ServerError> {
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, device.tenant_id).await?;
    let head = tx
        .query_one("SELECT last_seq, epoch FROM feed_heads", &[])
        .await
        .map_err(map_db)?;
    let (mut head_seq, epoch): (i64, Uuid) = (head.get(0), head.get(1));
    let last_applied: i64 = tx
        .query_one(
            "SELECT last_applied_seq FROM device_state WHERE device_id = $1",
            &[&device.device_id],
        )
        .await
        .map_err(map_db)?
        .get(0);
    let row_change = |r: &tokio_postgres::Row| Change {
        seq: r.get(0),
        entity_type: r.get(1),
        entity_id: r.get(2),
        data: r.get(3),
        chain: r.get(4),
    };
    let mut cursor_ok = true;
    if let (Some(h), true) = (after_hash, after > 0) {
        let at = tx
            .query_opt("SELECT chain FROM change_feed WHERE seq = $1", &[&after])
            .await
            .map_err(map_db)?;
        cursor_ok = at.is_some_and(|r| r.get::<_, String>(0) == h);
    }
    let changes: Vec<Change> = if cursor_ok {
        tx.query(
            "SELECT seq, entity_type, entity_id, data, chain FROM change_feed WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit],
        )
        .await
        .map_err(map_db)?
        .iter()
        .map(row_change)
        .collect()
    } else {
        vec![]
    };
    tx.commit().await.map_err(map_db)?;
    if let Some(c) = changes.last() {
        head_seq = head_seq.max(c.seq);
    }
    let checksum = page_checksum(&changes);
    let mut changes = changes;
    compact_chains(&mut changes);
    Ok(PullResponse {
        protocol: PROTOCOL_VERSION,
        epoch,
        head: head_seq,
        checksum,
        changes,
        last_applied_seq: last_applied,
        cursor_ok,
    })
}

/// A page of the feed after `after`; when there is nothing new and `wait`
/// is given, waits (up to 25 s) until something is committed.
pub async fn pull(
    pool: &Pool,
    signals: &FeedSignals,
    device: &DeviceIdentity,
    q: PullQuery,
) -> Result<PullResponse, ServerError> {
    let limit = q.limit.unwrap_or(1_000).clamp(1, MAX_PAGE);
    let wait = Duration::from_secs(q.wait.unwrap_or(0)).min(MAX_WAIT);
    // Subscribed before reading, so a commit in between is not missed.
    let mut news = signals.subscribe(device.tenant_id);
    news.borrow_and_update();
    let hash = q.after_hash.as_deref();
    let page = read_page(pool, device, q.after, hash, limit).await?;
    if !page.changes.is_empty() || !page.cursor_ok || wait.is_zero() {
        return Ok(page);
    }
    match tokio::time::timeout(wait, news.changed()).await {
        Ok(Ok(())) => read_page(pool, device, q.after, hash, limit).await,
        _ => Ok(page),
    }
}

/// Checksums of every record of the tenant, by bucket.
pub async fn checksums(pool: &Pool, device: &DeviceIdentity) -> Result<BucketSums, ServerError> {
    let members = bucket_records(pool, device, None).await?;
    Ok(BucketSums::compute(
        members.iter().map(|r| (r.id, r.hash.as_str())),
    ))
}

/// The records in the given buckets (all when `None`), with documents when asked for.
pub async fn bucket_records(
    pool: &Pool,
    device: &DeviceIdentity,
    buckets: Option<&[usize]>,
) -> Result<Vec<RecordCopy>, ServerError> {
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, device.tenant_id).await?;
    // Every kind of record, with its bucket and (when asked) its document.
    const ALL: &str =
        "SELECT 'patient' AS entity_type, id, doc_hash, doc FROM patients WHERE doc IS NOT NULL
         UNION ALL SELECT 'appointment', id, doc_hash, doc FROM appointments
         UNION ALL SELECT entity_type, id, doc_hash, doc FROM sync_records";
    let rows = match buckets {
        Some(b) => {
            let b: Vec<i32> = b.iter().map(|x| *x as i32).collect();
            tx.query(
                &format!("SELECT entity_type, id, doc_hash, doc FROM ({ALL}) r WHERE get_byte(uuid_send(id), 15) % 64 = ANY($1)"),
                &[&b],
            )
            .await
        }
        None => {
            tx.query(
                &format!("SELECT entity_type, id, doc_hash, NULL::jsonb FROM ({ALL}) r"),
                &[],
            )
            .await
        }
    }
    .map_err(map_db)?;
    tx.commit().await.map_err(map_db)?;
    Ok(rows
        .iter()
        .map(|r| RecordCopy {
            entity_type: r.get(0),
            id: r.get(1),
            hash: r.get(2),
            doc: r.get(3),
        })
        .collect())
}
