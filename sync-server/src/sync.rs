//! The server half of sync: applies pushed mutations with the shared domain
//! rules (`clinic_core::sync`), keeps the per-tenant change feed, serves it
//! in pages (long-polled when caught up), verifies audit chains, and
//! answers whole-copy checksums.
//!
//! Ordering: a push takes the tenant's `feed_heads` row lock first and
//! holds it to commit, so feed sequence numbers are assigned in commit
//! order and a reader after `seq` can never miss a row committed later with
//! a smaller number.

use crate::db::tenant_tx;
use crate::records;
use crate::ServerError;
use clinic_core::api::DeviceIdentity;
use clinic_core::audit::{AuditEvent, ChainVerifier};
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

/// The plain limit of loading documents into PostgreSQL on this machine:
/// `COPY` of (id, document) rows into a temporary table without indexes or
/// constraints, in one transaction. Against [`bulk_load_patients`] it shows
/// what the product's own path (typed rows, indexes, feed, chain) costs.
pub async fn copy_limit(pool: &Pool, docs: &[(Uuid, Value)]) -> Result<(), ServerError> {
    use futures_util::SinkExt;
    let mut client = crate::db::conn(pool).await?;
    let tx = client.transaction().await?;
    tx.execute(
        "CREATE TEMPORARY TABLE copy_limit (id uuid, doc jsonb) ON COMMIT DROP",
        &[],
    )
    .await?;
    let sink = tx.copy_in("COPY copy_limit (id, doc) FROM STDIN").await?;
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
            sink.send(axum::body::Bytes::from(chunk)).await?;
        }
    }
    if !buf.is_empty() {
        sink.send(axum::body::Bytes::from(buf)).await?;
    }
    sink.finish().await?;
    tx.commit().await?;
    Ok(())
}

/// A record a change wrote, with the version it replaced.
#[derive(Debug)]
pub struct ChangedRecord {
    pub record: AnyRecord,
    pub before: Option<AnyRecord>,
}

/// Writes records and their change-feed entries after `last_seq` (the
/// tenant's feed head, locked by the caller) in the caller's transaction:
/// each record through its kind's projection, the feed with its hash chain
/// (over each document's hash), and the new head. `device` is who sent them
/// (none for a bulk load). Returns the new head.
pub async fn write_changes(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: Uuid,
    device: Option<Uuid>,
    mut last_seq: i64,
    records: &[ChangedRecord],
) -> Result<i64, ServerError> {
    let mut chain: String = match last_seq {
        0 => FEED_GENESIS.to_string(),
        s => tx
            .query_one("SELECT chain FROM change_feed WHERE seq = $1", &[&s])
            .await?
            .get(0),
    };
    let docs: Vec<(Value, String)> = records
        .iter()
        .map(|c| {
            let doc = c.record.doc();
            // Serialised once, for the document's hash (which the chain covers).
            let hash = doc_hash_of_text(&doc.to_string());
            (doc, hash)
        })
        .collect();
    let written: Vec<records::Written> = records
        .iter()
        .zip(&docs)
        .map(|(c, (doc, hash))| records::Written {
            record: &c.record,
            before: c.before.as_ref(),
            doc,
            hash,
        })
        .collect();
    records::write(tx, tenant, &written).await?;
    let mut feed = Vec::with_capacity(records.len());
    for (c, (doc, hash)) in records.iter().zip(docs) {
        last_seq += 1;
        let change = Change {
            seq: last_seq,
            entity_type: c.record.kind().into(),
            entity_id: c.record.id(),
            data: Value::Null,
            chain: String::new(),
            hash: None,
        };
        chain = chain_of(&chain, &change, &hash);
        // The feed row takes the document itself (no copy).
        let mut row = serde_json::Map::new();
        row.insert("seq".into(), last_seq.into());
        row.insert("entity_type".into(), change.entity_type.into());
        row.insert("entity_id".into(), change.entity_id.to_string().into());
        row.insert("data".into(), doc);
        row.insert("chain".into(), chain.clone().into());
        feed.push(Value::Object(row));
    }
    tx.execute(
        "INSERT INTO change_feed (tenant_id, seq, entity_type, entity_id, data, device_id, chain)
         SELECT $1, x.seq, x.entity_type, x.entity_id, x.data, $3, x.chain
         FROM jsonb_to_recordset($2::jsonb) AS x(seq bigint, entity_type text, entity_id uuid, data jsonb, chain text)",
        &[&tenant, &Value::Array(feed), &device],
    )
    .await?;
    tx.execute("UPDATE feed_heads SET last_seq = $1", &[&last_seq])
        .await?;
    Ok(last_seq)
}

/// Chains every feed written before protocol 4 again, over each change's
/// content hash (`feed_heads.chain_version` 1 → 2), tenant by tenant, as
/// the owner role with the tenant set (row-level security stays on).
/// Workstations' remembered chain values were cleared by their own
/// migration, so the next page they pull sets them again.
pub async fn rechain_feeds(admin: &mut tokio_postgres::Client) -> Result<(), ServerError> {
    const BATCH: i64 = 10_000;
    let tenants: Vec<Uuid> = admin
        .query("SELECT id FROM tenants", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for tenant in tenants {
        let tx = admin.transaction().await?;
        tx.batch_execute(&format!("SET LOCAL ROLE {};", crate::db::OWNER_ROLE))
            .await?;
        tx.execute(
            "SELECT set_config('app.tenant_id', $1, true)",
            &[&tenant.to_string()],
        )
        .await?;
        let old = tx
            .query_opt(
                "SELECT 1 FROM feed_heads WHERE chain_version < 2 FOR UPDATE",
                &[],
            )
            .await?;
        if old.is_none() {
            continue;
        }
        let mut prev = FEED_GENESIS.to_string();
        let mut after = 0i64;
        loop {
            let rows = tx
                .query(
                    "SELECT seq, entity_type, entity_id, data FROM change_feed WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &BATCH],
                )
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.get(0);
            let mut seqs = Vec::with_capacity(rows.len());
            let mut chains = Vec::with_capacity(rows.len());
            for r in &rows {
                let c = Change {
                    seq: r.get(0),
                    entity_type: r.get(1),
                    entity_id: r.get(2),
                    data: r.get(3),
                    chain: String::new(),
                    hash: None,
                };
                prev = chain_hash(&prev, &c);
                seqs.push(c.seq);
                chains.push(prev.clone());
            }
            tx.execute(
                "UPDATE change_feed f SET chain = x.chain FROM unnest($1::bigint[], $2::text[]) AS x(seq, chain)
                 WHERE f.seq = x.seq",
                &[&seqs, &chains],
            )
            .await?;
        }
        tx.execute("UPDATE feed_heads SET chain_version = 2", &[])
            .await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, "change feed chained again over content hashes");
    }
    Ok(())
}

/// Applies a device's push in one transaction: mutations (each once, in
/// order, gaps refused), the feed rows they produce, their outcomes, the
/// device's position, and its audit events after the verified head.
pub async fn push(
    pool: &Pool,
    signals: &FeedSignals,
    device: &DeviceIdentity,
    mut req: PushRequest,
) -> Result<PushResponse, ServerError> {
    check_protocol(req.protocol)?;
    if req.mutations.len() > MAX_PUSH || req.audit.len() > MAX_PUSH {
        return Err(ClinicError::field(
            "mutations",
            format!("send at most {MAX_PUSH} mutations and {MAX_PUSH} audit events at once"),
        )
        .into());
    }
    let tenant = device.tenant_id;
    let mutations = std::sync::Arc::new(std::mem::take(&mut req.mutations));
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    // The tenant's feed lock, held to commit (see the module comment).
    let head = tx
        .query_one("SELECT last_seq, epoch FROM feed_heads FOR UPDATE", &[])
        .await?;
    let (mut last_seq, epoch): (i64, Uuid) = (head.get(0), head.get(1));
    let state = tx
        .query_one(
            "SELECT last_applied_seq, audit_head_seq, audit_head_hash FROM device_state WHERE device_id = $1 FOR UPDATE",
            &[&device.device_id],
        )
        .await?;
    let (last_applied, audit_seq, audit_hash): (i64, i64, String) =
        (state.get(0), state.get(1), state.get(2));

    // Mutations applied before (a retry) must be the same ones: a store
    // restored from a backup numbers new changes again from an older
    // position, and those must not pass for retries.
    let earlier: Vec<i64> = mutations
        .iter()
        .map(|e| e.device_seq)
        .filter(|s| *s <= last_applied)
        .collect();
    let recorded = tx
        .query(
            "SELECT device_seq, mutation_id, status, code, message FROM mutation_outcomes
             WHERE device_id = $1 AND device_seq = ANY($2) ORDER BY device_seq",
            &[&device.device_id, &earlier],
        )
        .await?;
    let by_seq: HashMap<i64, &Envelope> = mutations.iter().map(|e| (e.device_seq, e)).collect();
    let renumber_from = recorded
        .iter()
        .find(|r| by_seq[&r.get::<_, i64>(0)].id != r.get::<_, Uuid>(1))
        .map(|r| r.get::<_, i64>(0));
    if let Some(from) = renumber_from {
        tracing::warn!(tenant = %tenant, device = %device.device_id, from, "a restored device sent new changes under used numbers");
        return Ok(PushResponse {
            epoch,
            last_applied_seq: last_applied,
            outcomes: vec![],
            gap: false,
            renumber_from: Some(from),
            audit_head: audit_seq,
            audit_break: None,
            number_blocks: vec![],
            blocks_retired: false,
        });
    }

    let fresh: Vec<&Envelope> = mutations
        .iter()
        .filter(|e| e.device_seq > last_applied)
        .collect();
    // What each change touches and names (the records it names must exist).
    let mut ids: Vec<Uuid> = fresh
        .iter()
        .flat_map(|e| {
            let m = &e.mutation;
            m.touches()
                .into_iter()
                .chain(m.refs().into_iter().map(|r| r.id))
        })
        .collect();
    ids.sort();
    ids.dedup();
    let mut recs = records::load(&tx, &ids).await?;
    for p in records::projections() {
        p.load_context(&tx, &fresh, &mut recs).await?;
    }
    let before = recs.clone();
    let ledger = number_ledger(&tx, device.device_id, &fresh).await?;

    // The rules are plain CPU work (up to 2,000 changes): run them off the
    // async runtime, so other requests keep being served meanwhile.
    let batch = mutations.clone();
    let device_id = device.device_id;
    let (result, recs) = tokio::task::spawn_blocking(move || {
        let (mut recs, mut ledger) = (recs, ledger);
        let result = apply_batch(
            domain_rules,
            tenant,
            device_id,
            last_applied,
            &batch,
            &mut recs,
            &mut ledger,
        );
        (result, recs)
    })
    .await
    .map_err(|e| ServerError::Database(format!("applying the changes stopped: {e}")))?;

    if !result.changed.is_empty() {
        let changed: Vec<ChangedRecord> = result
            .changed
            .iter()
            .filter_map(|id| {
                Some(ChangedRecord {
                    record: recs.any(*id)?.clone(),
                    before: before.any(*id).cloned(),
                })
            })
            .collect();
        last_seq = write_changes(&tx, tenant, Some(device.device_id), last_seq, &changed).await?;
    }
    record_issued(&tx, tenant, Some(device.device_id), &result.issued).await?;
    if !result.outcomes.is_empty() {
        let rows: Vec<Value> = result
            .outcomes
            .iter()
            .map(|o| {
                let e = by_seq[&o.device_seq];
                // What was not applied is kept whole.
                let content = (o.status != OutcomeStatus::Accepted).then(|| e.mutation.to_value());
                json!({
                    "device_seq": o.device_seq, "mutation_id": e.id, "kind": e.mutation.name(),
                    "user_id": e.user_id, "status": o.status, "code": o.code, "message": o.message, "made_at": e.at,
                    "mutation": content,
                })
            })
            .collect();
        tx.execute(
            "INSERT INTO mutation_outcomes (tenant_id, device_id, device_seq, mutation_id, kind, user_id, status, code, message, made_at, mutation)
             SELECT $1, $2, x.device_seq, x.mutation_id, x.kind, x.user_id, x.status, x.code, x.message, x.made_at, x.mutation
             FROM jsonb_to_recordset($3::jsonb) AS x(device_seq bigint, mutation_id uuid, kind text, user_id uuid,
                  status text, code text, message text, made_at timestamptz, mutation jsonb)",
            &[&tenant, &device.device_id, &Value::Array(rows)],
        )
        .await?;
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
        let flags = audit_flags(&tx, device.device_id, &mutations, &accepted, &recs).await?;
        let rows: Vec<Value> = accepted
            .iter()
            .zip(flags)
            .map(|(e, flag)| {
                let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
                if let (Value::Object(o), Some(f)) = (&mut v, flag) {
                    tracing::warn!(tenant = %tenant, device = %device.device_id, seq = e.seq, "{f}");
                    o.insert("flag".into(), f.into());
                }
                v
            })
            .collect();
        tx.execute(
            "INSERT INTO audit_events (tenant_id, device_id, seq, id, at, user_id, action, entity_type, entity_id, patient_id, details, prev_hash, hash, flag, author_key, signature)
             SELECT $1, $2, x.seq, x.id, x.at, x.user_id, x.action, x.entity_type, x.entity_id, x.patient_id, x.details, x.prev_hash, x.hash, x.flag, x.author_key, x.signature
             FROM jsonb_to_recordset($3::jsonb) AS x(seq bigint, id uuid, at timestamptz, user_id uuid, action text, entity_type text,
                  entity_id uuid, patient_id uuid, details jsonb, prev_hash text, hash text, flag text, author_key text, signature text)",
            &[&tenant, &device.device_id, &Value::Array(rows)],
        )
        .await?;
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
    .await?;

    // A restored store's blocks are retired (it may have issued numbers
    // its backup does not show); a device running low on a series gets
    // another block (a lost answer wastes one block; numbers are never
    // handed out twice).
    if req.restored {
        tx.execute(
            "UPDATE number_blocks SET retired_at = now() WHERE device_id = $1 AND retired_at IS NULL",
            &[&device.device_id],
        )
        .await?;
    }
    let mut number_blocks = Vec::new();
    for series in &req.want_numbers {
        number_blocks.push(crate::devices::lease_block(&tx, device.device_id, series).await?);
    }

    // Answers for mutations applied by an earlier push (a retry).
    let mut outcomes: Vec<Outcome> = recorded
        .iter()
        .map(|r| Outcome {
            device_seq: r.get(0),
            status: OutcomeStatus::parse(r.get(2)).unwrap_or(OutcomeStatus::Accepted),
            code: r
                .get::<_, Option<String>>(3)
                .and_then(|c| serde_json::from_value(json!(c)).ok()),
            message: r.get(4),
        })
        .collect();
    outcomes.extend(result.outcomes);
    tx.commit().await?;
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
        number_blocks,
        blocks_retired: req.restored,
        renumber_from: None,
    })
}

/// Audit events are never refused (the chain must stay whole); each that
/// carries a signature its user's keys do not verify, or that records a
/// change (its `details.mutation`) the server has from another user than
/// the event's, is flagged, in order (`None`: nothing to flag). An event
/// without a signature (no one signed in made it, or it was made before
/// signatures) is kept as unsigned.
async fn audit_flags(
    tx: &deadpool_postgres::Transaction<'_>,
    device: Uuid,
    pushed: &[Envelope],
    events: &[&AuditEvent],
    recs: &clinic_core::sync::Records,
) -> Result<Vec<Option<String>>, ServerError> {
    let signers = audit_signers(tx, events, recs).await?;
    let named: Vec<Option<Uuid>> = events
        .iter()
        .map(|e| {
            e.details
                .get("mutation")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
        })
        .collect();
    let mut authors: HashMap<Uuid, Option<Uuid>> =
        pushed.iter().map(|e| (e.id, e.user_id)).collect();
    let unknown: Vec<Uuid> = named
        .iter()
        .flatten()
        .filter(|id| !authors.contains_key(id))
        .copied()
        .collect();
    if !unknown.is_empty() {
        for r in tx
            .query(
                "SELECT mutation_id, user_id FROM mutation_outcomes WHERE device_id = $1 AND mutation_id = ANY($2)",
                &[&device, &unknown],
            )
            .await?
        {
            authors.insert(r.get(0), r.get(1));
        }
    }
    Ok(events
        .iter()
        .zip(named)
        .map(|(e, m)| {
            if e.signature.is_some() {
                let keys = e
                    .user_id
                    .and_then(|u| signers.get(&u))
                    .cloned()
                    .unwrap_or_default();
                if let Err(why) = clinic_core::signing::verify(
                    &keys,
                    e.author_key.as_deref(),
                    e.signature.as_deref(),
                    &clinic_core::signing::event_content(e),
                ) {
                    return Some(format!(
                        "audit event {} is not signed by its user: {why}",
                        e.seq
                    ));
                }
            }
            let m = m?;
            match authors.get(&m) {
                Some(author) if *author == e.user_id => None,
                Some(_) => Some(format!(
                    "audit event {} names change {m}, which another user made",
                    e.seq
                )),
                // Not here yet (a long queue sends its events ahead of
                // some changes): nothing to compare with.
                None => None,
            }
        })
        .collect())
}

/// The public keys of the users of `events` (as the batch left their
/// records, or as stored).
async fn audit_signers(
    tx: &deadpool_postgres::Transaction<'_>,
    events: &[&AuditEvent],
    recs: &clinic_core::sync::Records,
) -> Result<HashMap<Uuid, Vec<clinic_core::signing::PublicKey>>, ServerError> {
    use clinic_core::directory::StaffMember;
    let mut users: Vec<Uuid> = events
        .iter()
        .filter(|e| e.signature.is_some())
        .filter_map(|e| e.user_id)
        .collect();
    users.sort();
    users.dedup();
    let missing: Vec<Uuid> = users
        .iter()
        .filter(|u| recs.get::<StaffMember>(**u).is_none())
        .copied()
        .collect();
    let stored = records::load(tx, &missing).await?;
    Ok(users
        .into_iter()
        .filter_map(|u| {
            let s = recs
                .get::<StaffMember>(u)
                .or_else(|| stored.get::<StaffMember>(u))?;
            Some((u, s.public_keys()))
        })
        .collect())
}

/// What the server knows of the numbers a batch hands out: the device's
/// blocks of each series the batch uses, and what of the batch's span of
/// each series was issued before.
async fn number_ledger(
    tx: &deadpool_postgres::Transaction<'_>,
    device: Uuid,
    batch: &[&Envelope],
) -> Result<NumberLedger, ServerError> {
    let mut ledger = NumberLedger::default();
    let numbers: Vec<IssuedNumber> = batch.iter().flat_map(|e| e.mutation.numbers()).collect();
    if numbers.is_empty() {
        return Ok(ledger);
    }
    // Each series' span in the batch: [lowest, highest + 1).
    let mut spans: HashMap<&str, (i64, i64)> = HashMap::new();
    for n in &numbers {
        let v = n.value as i64;
        let e = spans.entry(n.series).or_insert((v, v + 1));
        *e = (e.0.min(v), e.1.max(v + 1));
    }
    let series: Vec<&str> = spans.keys().copied().collect();
    let (lo, hi): (Vec<i64>, Vec<i64>) = series.iter().map(|s| spans[s]).unzip();
    for r in tx
        .query(
            "SELECT series, block_start, block_end FROM number_blocks WHERE device_id = $1 AND series = ANY($2)",
            &[&device, &series],
        )
        .await?
    {
        ledger
            .leased
            .entry(r.get(0))
            .or_default()
            .push((r.get::<_, i64>(1) as u64, r.get::<_, i64>(2) as u64));
    }
    for r in tx
        .query(
            "SELECT i.series, lower(i.numbers), upper(i.numbers) FROM issued_numbers i
             JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS s(series, lo, hi)
               ON s.series = i.series AND i.numbers && int8range(s.lo, s.hi)",
            &[&series, &lo, &hi],
        )
        .await?
    {
        ledger
            .issued
            .entry(r.get(0))
            .or_default()
            .push((r.get::<_, i64>(1) as u64, r.get::<_, i64>(2) as u64));
    }
    Ok(ledger)
}

/// Keeps the numbers a batch issued, as ranges, so none is ever issued
/// again (the exclusion constraint refuses an overlap whatever the rules).
pub(crate) async fn record_issued(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: Uuid,
    device: Option<Uuid>,
    issued: &[IssuedNumber],
) -> Result<(), ServerError> {
    if issued.is_empty() {
        return Ok(());
    }
    let ranges = number_ranges(issued);
    let series: Vec<&str> = ranges.iter().map(|r| r.0).collect();
    let lo: Vec<i64> = ranges.iter().map(|r| r.1 as i64).collect();
    let hi: Vec<i64> = ranges.iter().map(|r| r.2 as i64).collect();
    tx.execute(
        "INSERT INTO issued_numbers (tenant_id, series, numbers, device_id)
         SELECT $1, n.series, int8range(n.lo, n.hi), $5
         FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS n(series, lo, hi)",
        &[&tenant, &series, &lo, &hi, &device],
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
        .await?;
    let (mut head_seq, epoch): (i64, Uuid) = (head.get(0), head.get(1));
    let last_applied: i64 = tx
        .query_one(
            "SELECT last_applied_seq FROM device_state WHERE device_id = $1",
            &[&device.device_id],
        )
        .await?
        .get(0);
    let row_change = |r: &tokio_postgres::Row| Change {
        seq: r.get(0),
        entity_type: r.get(1),
        entity_id: r.get(2),
        data: r.get(3),
        chain: r.get(4),
        hash: None,
    };
    let mut cursor_ok = true;
    if let (Some(h), true) = (after_hash, after > 0) {
        let at = tx
            .query_opt("SELECT chain FROM change_feed WHERE seq = $1", &[&after])
            .await?;
        cursor_ok = at.is_some_and(|r| r.get::<_, String>(0) == h);
    }
    let changes: Vec<Change> = if cursor_ok {
        tx.query(
            "SELECT seq, entity_type, entity_id, data, chain FROM change_feed WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit],
        )
        .await?
        .iter()
        .map(row_change)
        .collect()
    } else {
        vec![]
    };
    tx.commit().await?;
    let mut changes = changes;
    cut_to_bytes(&mut changes, MAX_PAGE_BYTES);
    if let Some(c) = changes.last() {
        head_seq = head_seq.max(c.seq);
    }
    let checksum = page_checksum(&changes);
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

/// Ends a page before the change that would take it past `max` bytes of
/// JSON (its first change always stays: every record fits in a page, see
/// [`MAX_RECORD_BYTES`]); the workstation asks again for the rest.
pub fn cut_to_bytes(changes: &mut Vec<Change>, max: usize) {
    let mut bytes = 0;
    let keep = changes
        .iter()
        .position(|c| {
            bytes += encoded_len(&c.data);
            bytes > max
        })
        .map_or(changes.len(), |i| i.max(1));
    changes.truncate(keep);
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

/// Checksums of every record of the tenant, by bucket: the rows stream
/// through, the tenant is never held in memory.
pub async fn checksums(pool: &Pool, device: &DeviceIdentity) -> Result<BucketSums, ServerError> {
    use futures_util::TryStreamExt;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, device.tenant_id).await?;
    let all = records::all_records_sql();
    let rows = tx
        .query_raw(
            &format!("SELECT id, doc_hash FROM ({all}) r(kind, id, doc_hash, doc)"),
            std::iter::empty::<i32>(),
        )
        .await?;
    futures_util::pin_mut!(rows);
    let mut acc = clinic_core::sync::BucketAcc::default();
    while let Some(row) = rows.try_next().await? {
        acc.add(row.get(0), row.get::<_, &str>(1));
    }
    tx.commit().await?;
    Ok(acc.finish())
}

/// A page of the records in the given buckets, with their documents, in id
/// order after `after` (at most [`RECORDS_PAGE`]).
pub async fn records_page(
    pool: &Pool,
    device: &DeviceIdentity,
    buckets: &[usize],
    after: Option<Uuid>,
    limit: Option<u32>,
) -> Result<RecordsPage, ServerError> {
    let limit = i64::from(limit.unwrap_or(RECORDS_PAGE).clamp(1, RECORDS_PAGE));
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, device.tenant_id).await?;
    let all = records::all_records_sql();
    let b: Vec<i32> = buckets.iter().map(|x| *x as i32).collect();
    let rows = tx
        .query(
            &format!(
                "SELECT kind, id, doc_hash, doc FROM ({all}) r(kind, id, doc_hash, doc)
                 WHERE id > $2 AND get_byte(uuid_send(id), 15) % 64 = ANY($1)
                 ORDER BY id LIMIT $3"
            ),
            &[&b, &after.unwrap_or(Uuid::nil()), &limit],
        )
        .await?;
    tx.commit().await?;
    let records: Vec<RecordCopy> = rows
        .iter()
        .map(|r| RecordCopy {
            entity_type: r.get(0),
            id: r.get(1),
            hash: r.get(2),
            doc: r.get(3),
        })
        .collect();
    let next = (records.len() as i64 == limit)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    Ok(RecordsPage { records, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: i64, text: &str) -> Change {
        Change {
            seq,
            entity_type: "patient".into(),
            entity_id: Uuid::from_u128(seq as u128),
            data: json!({ "note": text }),
            chain: String::new(),
            hash: None,
        }
    }

    #[test]
    fn a_page_ends_before_the_change_that_would_take_it_past_its_bytes() {
        let page = |n: i64, size: usize| {
            (1..=n)
                .map(|s| change(s, &"x".repeat(size)))
                .collect::<Vec<_>>()
        };
        let one = encoded_len(&page(1, 100)[0].data);
        let mut p = page(5, 100);
        cut_to_bytes(&mut p, 2 * one + one / 2);
        assert_eq!(p.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 2]);
        let mut whole = page(5, 100);
        cut_to_bytes(&mut whole, 5 * one);
        assert_eq!(whole.len(), 5, "a page that fits is whole");
        let mut big = page(3, 10_000);
        cut_to_bytes(&mut big, 100);
        assert_eq!(big.len(), 1, "the first change always goes, alone");
        let mut none: Vec<Change> = vec![];
        cut_to_bytes(&mut none, 100);
        assert!(none.is_empty());
    }
}
