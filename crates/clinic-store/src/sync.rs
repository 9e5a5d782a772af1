//! The workstation half of sync, in storage: local mutations with their
//! outbox entries, answers from the server, pages of the change feed, and
//! the rebase that keeps every local record equal to "the server's version
//! plus my pending mutations".

use crate::identity::{parse_ts, parse_uuid, ts};
use crate::{db_err, Db};
use chrono::{DateTime, SubsecRound, Utc};
use clinic_core::sync::*;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

/// A record's shadow, by id alone (index `sync_shadows_entity`).
const SQL_SHADOW: &str = "SELECT entity_type, doc FROM sync_shadows WHERE entity_id = ?1";
const SQL_DROP_SHADOW: &str = "DELETE FROM sync_shadows WHERE entity_id = ?1";
/// The outbox condition of the pending mutations that touch record ?1.
const SQL_PENDING_TOUCHING: &str = "status = 'pending' AND device_seq IN (SELECT device_seq FROM outbox_touches WHERE entity_id = ?1)";

/// One queued change and what the server made of it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub device_seq: i64,
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub status: String,
    pub code: Option<String>,
    pub message: Option<String>,
    pub mutation: Mutation,
}

impl OutboxEntry {
    pub fn into_envelope(self) -> Envelope {
        Envelope {
            device_seq: self.device_seq,
            id: self.id,
            user_id: self.user_id,
            at: self.at,
            mutation: self.mutation,
        }
    }
}

/// Where this workstation stands with the server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncCursor {
    /// Last change-feed sequence applied here.
    pub cursor: i64,
    /// The feed's [`chain_hash`] at that change (the server checks its history matches).
    pub cursor_hash: Option<String>,
    pub epoch: Option<Uuid>,
    /// Last of this device's mutations the server said it applied.
    pub server_last_applied: i64,
    /// Last of this device's audit events the server holds.
    pub audit_sent: i64,
}

/// The records a local change touched, before and after it.
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub before: Records,
    pub after: Records,
}

/// What applying a page of the change feed did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageApplied {
    /// Applied; the cursor is now this.
    Applied { cursor: i64, records: usize },
    /// The server's history changed (restored from a backup): nothing from
    /// the page was applied; the cursor went back to the start and the
    /// mutations the server no longer has are queued again.
    EpochChanged,
}

fn meta_i64(db: &Db, key: &str) -> ClinicResult<i64> {
    Ok(db.meta(key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn parse_doc(kind: &str, text: &str) -> ClinicResult<Record> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ClinicError::internal(format!("stored record: {e}")))?;
    Record::from_doc(kind, &v)
}

impl Db<'_> {
    /// Whether this store syncs with a server (enrolled); a standalone store
    /// keeps no outbox.
    pub fn is_synced(&self) -> ClinicResult<bool> {
        Ok(self.meta("sync_server")?.is_some())
    }

    /// Records arrive and are rebased one by one (a merged record may come
    /// before the survivor it points at is rewritten): references are
    /// checked when the transaction commits, not at each row.
    fn defer_foreign_keys(&self) -> ClinicResult<()> {
        self.conn
            .pragma_update(None, "defer_foreign_keys", true)
            .map_err(db_err)
    }

    /// The current local version of a record of any kind.
    pub fn record(&self, id: Uuid) -> ClinicResult<Option<Record>> {
        if let Some(p) = self.patient(id)? {
            return Ok(Some(Record::Patient(p)));
        }
        if let Some(a) = self.appointment(id)? {
            return Ok(Some(Record::Appointment(a)));
        }
        Ok(self.get_ref(id)?.map(Record::Ref))
    }

    /// Writes a record of any kind as it now is.
    pub fn put_record(&self, r: &Record) -> ClinicResult<()> {
        match r {
            Record::Patient(p) => self.put_patient(p),
            Record::Appointment(a) => self.put_appointment(a),
            Record::Ref(d) => self.put_ref(d, Utc::now()),
        }
    }

    /// Removes a record the server refused to create.
    fn discard_record(&self, id: Uuid) -> ClinicResult<()> {
        self.discard_unaccepted_patient(id)?;
        self.discard_unaccepted_appointment(id)?;
        self.execute("DELETE FROM sync_refs WHERE id = ?1", [id.to_string()])
            .map_err(db_err)?;
        Ok(())
    }

    /// The current local versions of these records.
    pub fn load_records(&self, ids: &[Uuid]) -> ClinicResult<Records> {
        let mut r = Records::default();
        for id in ids {
            if let Some(rec) = self.record(*id)? {
                r.put(rec);
            }
        }
        Ok(r)
    }

    /// Adds what a mutation is checked against besides its own records
    /// (the appointments a booking or move may overlap).
    fn load_context(&self, m: &Mutation, recs: &mut Records) -> ClinicResult<()> {
        for id in m.entity_ids() {
            if recs.get(id).is_none() {
                if let Some(rec) = self.record(id)? {
                    recs.put(rec);
                }
            }
        }
        if let Some(probe) = overlap_probe(m, recs) {
            for a in self.overlap_candidates(&probe)? {
                recs.appointments.entry(a.id).or_insert(a);
            }
        }
        Ok(())
    }

    /// `EXPLAIN QUERY PLAN` of the lookups made for every answer of a push
    /// and every change of a pulled page, for tests that guard against a
    /// plan regressing to a table scan.
    #[doc(hidden)]
    pub fn sync_query_plans(&self) -> ClinicResult<Vec<(&'static str, String)>> {
        use rusqlite::types::Value as V;
        let id = || vec![V::Text(Uuid::nil().to_string())];
        self.query_plans([
            ("shadow by id", SQL_SHADOW, id()),
            ("drop shadow", SQL_DROP_SHADOW, id()),
            (
                "pending touching",
                &format!("SELECT device_seq FROM outbox WHERE {SQL_PENDING_TOUCHING}"),
                id(),
            ),
        ])
    }

    fn shadow(&self, id: Uuid) -> ClinicResult<Option<Option<Record>>> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .prepare_cached(SQL_SHADOW)
            .map_err(db_err)?
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db_err)?;
        match row {
            None => Ok(None),
            Some((_, None)) => Ok(Some(None)),
            Some((kind, Some(t))) => Ok(Some(Some(parse_doc(&kind, &t)?))),
        }
    }

    fn set_shadow(&self, id: Uuid, doc: Option<&Record>) -> ClinicResult<()> {
        self.drop_shadow(id)?;
        let text = doc.map(|r| r.doc().to_string());
        self.conn
            .prepare_cached(
                "INSERT INTO sync_shadows (entity_type, entity_id, doc) VALUES (?1, ?2, ?3)",
            )
            .map_err(db_err)?
            .execute(params![
                doc.map(Record::entity_type).unwrap_or("new"),
                id.to_string(),
                text
            ])
            .map_err(db_err)?;
        Ok(())
    }

    fn drop_shadow(&self, id: Uuid) -> ClinicResult<()> {
        self.conn
            .prepare_cached(SQL_DROP_SHADOW)
            .map_err(db_err)?
            .execute([id.to_string()])
            .map_err(db_err)?;
        Ok(())
    }

    /// Makes a change: applies the mutation to the local records with the
    /// shared domain rules, writes the records, and (on a synced store)
    /// queues it in the outbox, in the caller's transaction. Returns the
    /// records before and after. The caller adds the audit event.
    pub fn commit_mutation(
        &self,
        user: Option<Uuid>,
        at: DateTime<Utc>,
        m: &Mutation,
    ) -> ClinicResult<Committed> {
        let at = at.trunc_subsecs(6);
        let ids = m.entity_ids();
        let mut recs = Records::default();
        self.load_context(m, &mut recs)?;
        let before = recs.clone();
        let applied = apply(m, self.tenant_id, at, &mut recs)?;
        for id in &applied.changed {
            if let Some(r) = recs.get(*id) {
                self.put_record(&r)?;
            }
        }
        if self.is_synced()? {
            for id in &ids {
                if self.shadow(*id)?.is_none() {
                    self.set_shadow(*id, before.get(*id).as_ref())?;
                }
            }
            let seq: i64 = self
                .query_row(
                    "SELECT coalesce(max(device_seq), 0) + 1 FROM outbox",
                    [],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            self.conn
                .prepare_cached(
                    "INSERT INTO outbox (device_seq, id, user_id, at, kind, mutation) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db_err)?
                .execute(params![
                    seq,
                    crate::new_uuid_v7(at).to_string(),
                    user.map(|u| u.to_string()),
                    ts(at),
                    m.name(),
                    serde_json::to_string(m).map_err(ClinicError::internal)?
                ])
                .map_err(db_err)?;
            for id in &ids {
                self.conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO outbox_touches (entity_id, device_seq) VALUES (?1, ?2)",
                    )
                    .map_err(db_err)?
                    .execute(params![id.to_string(), seq])
                    .map_err(db_err)?;
            }
        }
        Ok(Committed {
            before,
            after: recs,
        })
    }

    fn outbox_rows(
        &self,
        where_sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> ClinicResult<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT device_seq, id, user_id, at, kind, status, code, message, mutation FROM outbox WHERE {where_sql}"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(db_err)?;
        let rows = st
            .query_map(args, |r| {
                let text: String = r.get(8)?;
                let mutation = serde_json::from_str(&text).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        8,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?;
                Ok(OutboxEntry {
                    device_seq: r.get(0)?,
                    id: parse_uuid(&r.get::<_, String>(1)?),
                    user_id: r.get::<_, Option<String>>(2)?.map(|s| parse_uuid(&s)),
                    at: parse_ts(&r.get::<_, String>(3)?),
                    kind: r.get(4)?,
                    status: r.get(5)?,
                    code: r.get(6)?,
                    message: r.get(7)?,
                    mutation,
                })
            })
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    /// Queued mutations after `after`, oldest first, as sent to the server.
    pub fn outbox_after(&self, after: i64, limit: u32) -> ClinicResult<Vec<Envelope>> {
        Ok(self
            .outbox_rows(
                "device_seq > ?1 ORDER BY device_seq LIMIT ?2",
                &[&after, &limit],
            )?
            .into_iter()
            .map(OutboxEntry::into_envelope)
            .collect())
    }

    /// Changes the server refused (conflicts and rejections) that nobody has resolved yet.
    pub fn sync_problems(&self) -> ClinicResult<Vec<OutboxEntry>> {
        self.outbox_rows(
            "status IN ('conflict', 'rejected') AND resolved_at IS NULL ORDER BY device_seq",
            &[],
        )
    }

    /// Marks a refused change as dealt with by a person.
    pub fn resolve_problem(&self, seq: i64, user: Uuid, at: DateTime<Utc>) -> ClinicResult<()> {
        let n = self.execute(
                "UPDATE outbox SET resolved_at = ?2, resolved_by = ?3
                 WHERE device_seq = ?1 AND status IN ('conflict', 'rejected') AND resolved_at IS NULL",
                params![seq, ts(at), user.to_string()],
            )
            .map_err(db_err)?;
        if n == 0 {
            return Err(ClinicError::not_found("Open sync problem"));
        }
        Ok(())
    }

    /// (pending count, time of the oldest pending change).
    pub fn pending_summary(&self) -> ClinicResult<(i64, Option<DateTime<Utc>>)> {
        self.query_row(
            "SELECT count(*), min(at) FROM outbox WHERE status = 'pending'",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?.map(|s| parse_ts(&s)),
                ))
            },
        )
        .map_err(db_err)
    }

    /// Notes a sync attempt and its result for the status line.
    pub fn record_sync_attempt(
        &self,
        now: DateTime<Utc>,
        error: Option<&ClinicError>,
    ) -> ClinicResult<()> {
        let at = now.to_rfc3339();
        self.set_meta("sync_last_attempt", &at)?;
        match error {
            None => {
                self.set_meta("sync_last_success", &at)?;
                self.set_meta("sync_last_error", "")
            }
            Some(e) => self.set_meta("sync_last_error", &format!("{}: {}", e.code, e.message)),
        }
    }

    pub fn sync_cursor(&self) -> ClinicResult<SyncCursor> {
        Ok(SyncCursor {
            cursor: meta_i64(self, "sync_cursor")?,
            cursor_hash: self.meta("sync_cursor_hash")?.filter(|h| !h.is_empty()),
            epoch: self
                .meta("sync_epoch")?
                .and_then(|e| Uuid::parse_str(&e).ok()),
            server_last_applied: meta_i64(self, "sync_server_last_applied")?,
            audit_sent: meta_i64(self, "sync_audit_sent")?,
        })
    }

    /// Notes the server's epoch. When it changed, or the server forgot what
    /// it had confirmed, the server was restored from a backup: start the
    /// feed again from zero and queue again every mutation the server no
    /// longer has. Returns whether that happened.
    fn observe_epoch(
        &self,
        epoch: Uuid,
        server_last_applied: i64,
        head: Option<i64>,
        history_changed: bool,
    ) -> ClinicResult<bool> {
        let known = self.sync_cursor()?;
        self.set_meta("sync_epoch", &epoch.to_string())?;
        // A restored server keeps its old epoch, so forgetting is detected
        // too: it holds fewer of this device's mutations than it confirmed,
        // or its feed ends before the position already applied here.
        let forgot = history_changed
            || server_last_applied < known.server_last_applied
            || head.is_some_and(|h| h < known.cursor);
        match known.epoch {
            Some(k) if k != epoch || forgot => {
                let requeued: Vec<String> = {
                    let mut st = self
                        .conn
                        .prepare(
                            "SELECT DISTINCT t.entity_id FROM outbox_touches t
                             JOIN outbox o ON o.device_seq = t.device_seq
                             WHERE o.device_seq > ?1 AND o.status <> 'pending'",
                        )
                        .map_err(db_err)?;
                    let rows = st
                        .query_map([server_last_applied], |r| r.get(0))
                        .map_err(db_err)?;
                    rows.collect::<Result<_, _>>().map_err(db_err)?
                };
                // The local record already includes those mutations, and
                // re-applying them is idempotent, so it is their base.
                for id in requeued {
                    let id = parse_uuid(&id);
                    if self.shadow(id)?.is_none() {
                        let current = self.record(id)?;
                        self.set_shadow(id, current.as_ref())?;
                    }
                }
                self.execute(
                        "UPDATE outbox SET status = 'pending', code = NULL, message = NULL, answered_at = NULL
                         WHERE device_seq > ?1",
                        [server_last_applied],
                    )
                    .map_err(db_err)?;
                self.set_meta("sync_cursor", "0")?;
                self.set_meta("sync_cursor_hash", "")?;
                self.set_meta("sync_server_last_applied", &server_last_applied.to_string())?;
                self.set_meta("sync_audit_sent", "0")?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn pending_touching(&self, id: Uuid) -> ClinicResult<Vec<Envelope>> {
        Ok(self
            .outbox_rows(
                &format!("{SQL_PENDING_TOUCHING} ORDER BY device_seq"),
                &[&id.to_string()],
            )?
            .into_iter()
            .map(OutboxEntry::into_envelope)
            .collect())
    }

    /// Applies `pending` on top of `base` for record `id` (other records a
    /// mutation needs are taken as they are locally). Refusals are skipped:
    /// the server will answer for them.
    fn replay(
        &self,
        id: Uuid,
        base: Option<Record>,
        pending: &[Envelope],
    ) -> ClinicResult<Option<Record>> {
        let mut recs = Records::default();
        if let Some(b) = base {
            recs.put(b);
        }
        for env in pending {
            // Records other than `id` are taken as they are locally; `id`
            // itself is never loaded (its base is the server's version).
            let had = recs.get(id).is_some();
            self.load_context(&env.mutation, &mut recs)?;
            if !had {
                recs.patients.remove(&id);
                recs.appointments.remove(&id);
                recs.refs.remove(&id);
            }
            let _ = apply(&env.mutation, self.tenant_id, env.at, &mut recs);
        }
        Ok(recs.get(id))
    }

    /// Rewrites record `id` as its shadow plus the pending mutations on it;
    /// the shadow goes once nothing is pending.
    fn rebase(&self, id: Uuid) -> ClinicResult<()> {
        let Some(base) = self.shadow(id)? else {
            return Ok(());
        };
        let pending = self.pending_touching(id)?;
        match self.replay(id, base, &pending)? {
            Some(r) => self.put_record(&r)?,
            None => self.discard_record(id)?,
        }
        if pending.is_empty() {
            self.drop_shadow(id)?;
        }
        Ok(())
    }

    /// Records the server's answer to a push (in one transaction with
    /// nothing else): outcomes, the server's position, and the rebase of
    /// every record whose mutation was refused.
    pub fn record_push(&self, resp: &PushResponse, now: DateTime<Utc>) -> ClinicResult<()> {
        self.defer_foreign_keys()?;
        if self.observe_epoch(resp.epoch, resp.last_applied_seq, None, false)? {
            return Ok(());
        }
        for o in &resp.outcomes {
            let status = match o.status {
                OutcomeStatus::Accepted => "accepted",
                OutcomeStatus::Conflict => "conflict",
                OutcomeStatus::Rejected => "rejected",
            };
            let Some(env) = self
                .outbox_rows("device_seq = ?1 AND status = 'pending'", &[&o.device_seq])?
                .pop()
                .map(OutboxEntry::into_envelope)
            else {
                continue;
            };
            self.conn
                .prepare_cached(
                    "UPDATE outbox SET status = ?2, code = ?3, message = ?4, answered_at = ?5 WHERE device_seq = ?1",
                )
                .map_err(db_err)?
                .execute(params![
                    o.device_seq,
                    status,
                    o.code.map(|c| c.as_str()),
                    o.message,
                    ts(now)
                ])
                .map_err(db_err)?;
            for id in env.mutation.entity_ids() {
                if o.status == OutcomeStatus::Accepted {
                    // The server's version now includes this mutation: with
                    // nothing else pending the local record is that version.
                    if let Some(base) = self.shadow(id)? {
                        if self.pending_touching(id)?.is_empty() {
                            self.drop_shadow(id)?;
                        } else {
                            let advanced = self.replay(id, base, std::slice::from_ref(&env))?;
                            self.set_shadow(id, advanced.as_ref())?;
                        }
                    }
                } else {
                    self.rebase(id)?;
                }
            }
        }
        self.set_meta(
            "sync_server_last_applied",
            &resp.last_applied_seq.to_string(),
        )?;
        self.set_meta("sync_audit_sent", &resp.audit_head.to_string())?;
        if let Some(b) = &resp.patient_numbers {
            self.add_number_block("patient", b.start as u64, b.end as u64)?;
        }
        Ok(())
    }

    /// Applies one page of the change feed and saves the cursor with it.
    /// A page from another protocol version, with a bad checksum or with a
    /// kind of record this version does not know, is refused whole.
    pub fn apply_page(&self, page: &PullResponse) -> ClinicResult<PageApplied> {
        self.defer_foreign_keys()?;
        if page.protocol != PROTOCOL_VERSION {
            return Err(ClinicError::new(
                ErrorCode::UpdateRequired,
                "The sync server runs a different version; update this application to continue syncing. Nothing was changed.",
            ));
        }
        // The page must arrive whole, and continue the history applied here
        // change by change (the page gives the chain value of its first and
        // last change; the ones between are computed).
        let known = self.sync_cursor()?;
        let prev = match (known.cursor, &known.cursor_hash) {
            (0, _) => Some(FEED_GENESIS.to_string()),
            (_, h) => h.clone(),
        };
        let from = page.changes.partition_point(|c| c.seq <= known.cursor);
        let (checksum, chains, chain_ok) = check_page(prev.as_deref(), &page.changes, from);
        if checksum != page.checksum {
            return Err(ClinicError::new(
                ErrorCode::Unreachable,
                "A page from the server arrived damaged; it was not applied and will be fetched again.",
            ));
        }
        let fresh = &page.changes[from..];
        if self.observe_epoch(
            page.epoch,
            page.last_applied_seq,
            Some(page.head),
            !page.cursor_ok || !chain_ok,
        )? {
            return Ok(PageApplied::EpochChanged);
        }
        let (cursor, cursor_hash) = self.batch_index(|db| {
            let mut cursor = known.cursor;
            let mut cursor_hash = None;
            for (c, chain) in fresh.iter().zip(&chains) {
                if c.seq <= cursor {
                    continue;
                }
                let p = db.put_server_record(&c.entity_type, &c.data)?;
                if p != c.entity_id {
                    return Err(ClinicError::internal(
                        "a record from the server does not match its feed entry",
                    ));
                }
                cursor = c.seq;
                cursor_hash = Some(chain);
            }
            Ok((cursor, cursor_hash))
        })?;
        if let Some(h) = cursor_hash.filter(|h| !h.is_empty()) {
            self.set_meta("sync_cursor_hash", h)?;
        }
        self.set_meta("sync_cursor", &cursor.to_string())?;
        Ok(PageApplied::Applied {
            cursor,
            records: page.changes.len(),
        })
    }

    /// Takes the server's version of a record: written as is, or, when
    /// local mutations on it are pending, as their new base. Returns its id.
    pub fn apply_server_record(
        &self,
        entity_type: &str,
        doc: &serde_json::Value,
    ) -> ClinicResult<Uuid> {
        self.defer_foreign_keys()?;
        self.put_server_record(entity_type, doc)
    }

    /// [`Db::apply_server_record`] inside a transaction whose foreign keys
    /// are already deferred (setting the pragma recompiles every statement).
    fn put_server_record(&self, entity_type: &str, doc: &serde_json::Value) -> ClinicResult<Uuid> {
        let r = Record::from_doc(entity_type, doc)?;
        if !r.tenant_ok(self.tenant_id) {
            return Err(ClinicError::internal(
                "the server sent a record of another tenant",
            ));
        }
        let id = r.id();
        if self.shadow(id)?.is_some() {
            self.set_shadow(id, Some(&r))?;
            self.rebase(id)?;
        } else {
            self.put_record(&r)?;
        }
        Ok(id)
    }

    /// Checksums of every local record, by bucket (compare with the server's).
    pub fn bucket_sums(&self) -> ClinicResult<BucketSums> {
        let hashes = self.record_hashes(|_| true)?;
        Ok(BucketSums::compute(
            hashes.iter().map(|(i, h)| (*i, h.as_str())),
        ))
    }

    /// (id, document hash) of local records in these buckets.
    pub fn bucket_members(&self, buckets: &[usize]) -> ClinicResult<Vec<(Uuid, String)>> {
        self.record_hashes(|id| buckets.contains(&bucket_of(id)))
    }

    fn record_hashes(&self, wanted: impl Fn(Uuid) -> bool) -> ClinicResult<Vec<(Uuid, String)>> {
        // Each kind is read from its own table (no lookups in the others).
        let mut out = Vec::new();
        let mut add = |id: Uuid, r: Option<Record>| {
            if let Some(r) = r {
                out.push((id, doc_hash(&r.doc())));
            }
        };
        for id in self.patient_ids()?.into_iter().filter(|id| wanted(*id)) {
            add(id, self.patient(id)?.map(Record::Patient));
        }
        for id in self.appointment_ids()?.into_iter().filter(|id| wanted(*id)) {
            add(id, self.appointment(id)?.map(Record::Appointment));
        }
        for id in self.ref_ids()?.into_iter().filter(|id| wanted(*id)) {
            add(id, self.get_ref(id)?.map(Record::Ref));
        }
        Ok(out)
    }
}
