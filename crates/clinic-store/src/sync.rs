//! The workstation half of sync, in storage: local mutations with their
//! outbox entries, answers from the server, pages of the change feed, and
//! the rebase that keeps every local record equal to "the server's version
//! plus my pending mutations".

use crate::{parse_ts, parse_uuid, ts, Db, StoreResult};
use chrono::{DateTime, SubsecRound, Utc};
use clinic_core::sync::*;
use clinic_core::{ClinicError, ErrorCode};
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
    /// The author's key that signed it, and the signature (none while it
    /// waits for its author to sign in here).
    #[serde(skip)]
    pub author_key: Option<String>,
    #[serde(skip)]
    pub signature: Option<String>,
}

impl OutboxEntry {
    pub fn into_envelope(self) -> Envelope {
        Envelope {
            device_seq: self.device_seq,
            id: self.id,
            user_id: self.user_id,
            at: self.at,
            mutation: self.mutation,
            author_key: self.author_key,
            signature: self.signature,
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
    /// The queued change's id (none on a store that does not sync, or
    /// when nothing changed): its audit events name it, so the server can
    /// flag an event whose user is not the change's.
    pub mutation_id: Option<Uuid>,
    /// Its place in this device's queue.
    pub device_seq: Option<i64>,
}

impl Committed {
    /// `entry` naming the change it records (`details.mutation`), so the
    /// server can flag an event whose user is not the change's author.
    pub fn named(
        &self,
        mut entry: clinic_core::audit::AuditEntry,
    ) -> clinic_core::audit::AuditEntry {
        if let (Some(id), serde_json::Value::Object(d)) = (self.mutation_id, &mut entry.details) {
            d.insert("mutation".into(), id.to_string().into());
        }
        entry
    }

    /// Record `id` of type `T` as the change left it.
    pub fn after<T: RecordKind>(&self, id: Uuid) -> StoreResult<T> {
        self.after
            .get::<T>(id)
            .cloned()
            .ok_or_else(|| ClinicError::internal("a changed record is missing").into())
    }
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

fn meta_i64(db: &Db, key: &str) -> StoreResult<i64> {
    Ok(db.meta(key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

impl Db<'_> {
    /// Whether this store syncs with a server (enrolled); a standalone store
    /// keeps no outbox.
    pub fn is_synced(&self) -> StoreResult<bool> {
        Ok(self.meta("sync_server")?.is_some())
    }

    /// The sync server's address and, for a server trusted through its
    /// key, the pin of that key.
    pub fn server(&self) -> StoreResult<Option<(String, Option<clinic_core::api::KeyPin>)>> {
        let Some(url) = self.meta("sync_server")? else {
            return Ok(None);
        };
        let pin = match self.meta("sync_server_pin")? {
            Some(p) => Some(clinic_core::api::KeyPin::parse(&p)?),
            None => None,
        };
        Ok(Some((url, pin)))
    }

    /// Records the sync server's address and the pin of its key (`None`:
    /// trusted through the system's certificate authorities).
    pub fn set_server(&self, url: &str, pin: Option<clinic_core::api::KeyPin>) -> StoreResult<()> {
        self.set_meta("sync_server", url)?;
        match pin {
            Some(p) => self.set_meta("sync_server_pin", &p.to_string()),
            None => self.delete_meta("sync_server_pin"),
        }
    }

    /// The device credential the server issued, and when it expires.
    pub fn set_device_credential(
        &self,
        credential: &str,
        expires: Option<chrono::DateTime<chrono::Utc>>,
    ) -> StoreResult<()> {
        self.set_meta("device_credential", credential)?;
        match expires {
            Some(e) => self.set_meta("device_credential_expires", &e.to_rfc3339()),
            None => self.delete_meta("device_credential_expires"),
        }
    }

    /// Records arrive and are rebased one by one (a merged record may come
    /// before the survivor it points at is rewritten): references are
    /// checked when the transaction commits, not at each row.
    pub(crate) fn defer_foreign_keys(&self) -> StoreResult<()> {
        Ok(self.conn.pragma_update(None, "defer_foreign_keys", true)?)
    }

    /// `EXPLAIN QUERY PLAN` of the lookups made for every answer of a push
    /// and every change of a pulled page, for tests that guard against a
    /// plan regressing to a table scan.
    #[doc(hidden)]
    pub fn sync_query_plans(&self) -> StoreResult<Vec<(&'static str, String)>> {
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

    fn shadow(&self, id: Uuid) -> StoreResult<Option<Option<AnyRecord>>> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .prepare_cached(SQL_SHADOW)?
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            None => Ok(None),
            Some((_, None)) => Ok(Some(None)),
            Some((kind, Some(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t)?;
                Ok(Some(Some(AnyRecord::from_doc(&kind, &v)?)))
            }
        }
    }

    fn set_shadow(&self, id: Uuid, doc: Option<&AnyRecord>) -> StoreResult<()> {
        self.drop_shadow(id)?;
        let text = doc.map(|r| r.doc().to_string());
        self.conn
            .prepare_cached(
                "INSERT INTO sync_shadows (entity_type, entity_id, doc) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                doc.map(AnyRecord::kind).unwrap_or("new"),
                id.to_string(),
                text
            ])?;
        Ok(())
    }

    fn drop_shadow(&self, id: Uuid) -> StoreResult<()> {
        self.conn
            .prepare_cached(SQL_DROP_SHADOW)?
            .execute([id.to_string()])?;
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
    ) -> StoreResult<Committed> {
        let at = at.trunc_subsecs(6);
        let ids = m.touches();
        let (before, recs, applied) = self.apply_here(user, at, m)?;
        for id in &applied.changed {
            if let Some(r) = recs.any(*id) {
                self.put_record(r)?;
            }
        }
        // A change that changed nothing here has nothing to send (the
        // server reports a change that finds nothing to do as a conflict:
        // someone else did it first).
        let mut mutation_id = None;
        let mut device_seq = None;
        if !applied.changed.is_empty() && self.is_synced()? {
            let id = crate::new_uuid_v7(at);
            mutation_id = Some(id);
            for id in &ids {
                if self.shadow(*id)?.is_none() {
                    self.set_shadow(*id, before.any(*id))?;
                }
            }
            let seq: i64 = self.query_row(
                "SELECT coalesce(max(device_seq), 0) + 1 FROM outbox",
                [],
                |r| r.get(0),
            )?;
            // Signed by its author when their key is open here; otherwise
            // it waits for them (see [`crate::signing`]).
            let mut env = Envelope {
                device_seq: seq,
                id,
                user_id: user,
                at,
                mutation: m.clone(),
                author_key: None,
                signature: None,
            };
            if let Some(signer) = self.signers.of(user) {
                signer.sign_change(self.tenant_id, self.device_id, &mut env);
            }
            device_seq = Some(seq);
            self.conn
                .prepare_cached(
                    "INSERT INTO outbox (device_seq, id, user_id, at, kind, mutation, author_key, signature)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                ?
                .execute(params![
                    seq,
                    id.to_string(),
                    user.map(|u| u.to_string()),
                    ts(at),
                    m.name(),
                    serde_json::to_string(m)?,
                    env.author_key,
                    env.signature
                ])
                ?;
            for id in &ids {
                self.conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO outbox_touches (entity_id, device_seq) VALUES (?1, ?2)",
                    )
                    ?
                    .execute(params![id.to_string(), seq])
                    ?;
            }
        }
        Ok(Committed {
            before,
            after: recs,
            mutation_id,
            device_seq,
        })
    }

    /// Whether `m`, made now by `user`, would change anything here (it is
    /// applied to a copy of the records it needs; nothing is written).
    /// A rule's refusal is returned as the error it is.
    pub fn would_change(
        &self,
        user: Option<Uuid>,
        at: DateTime<Utc>,
        m: &Mutation,
    ) -> StoreResult<bool> {
        let (before, after, applied) = self.apply_here(user, at.trunc_subsecs(6), m)?;
        Ok(!applied.changed.is_empty() && after != before)
    }

    /// `m` applied to the records it needs here, in memory: (before, after,
    /// what it changed).
    fn apply_here(
        &self,
        user: Option<Uuid>,
        at: DateTime<Utc>,
        m: &Mutation,
    ) -> StoreResult<(Records, Records, Applied)> {
        let mut recs = Records::default();
        self.load_context(m, &mut recs)?;
        let before = recs.clone();
        let cx = Context {
            tenant: self.tenant_id,
            at,
            user,
        };
        let applied = apply(m, &cx, &mut recs)?;
        Ok((before, recs, applied))
    }

    pub(crate) fn outbox_rows(
        &self,
        where_sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT device_seq, id, user_id, at, kind, status, code, message, mutation, author_key, signature FROM outbox WHERE {where_sql}"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(args, |r| {
            let text: String = r.get(8)?;
            let mutation = serde_json::from_str(&text).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, e.into())
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
                author_key: r.get(9)?,
                signature: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queued mutations after `after`, oldest first, as sent to the server
    /// (none while a restored server's feed is read again: the base of each
    /// is known only after it), up to the first one that waits for its
    /// author's signature: the server would refuse it, and the ones after
    /// it may depend on it.
    pub fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<Envelope>> {
        if self.meta("sync_rereading")?.is_some() {
            return Ok(vec![]);
        }
        Ok(self
            .outbox_rows(
                "device_seq > ?1 ORDER BY device_seq LIMIT ?2",
                &[&after, &limit],
            )?
            .into_iter()
            .take_while(|e| e.signature.is_some() || e.user_id.is_none() || e.status != "pending")
            .map(OutboxEntry::into_envelope)
            .collect())
    }

    /// Changes the server refused (conflicts and rejections) that nobody has resolved yet.
    pub fn sync_problems(&self) -> StoreResult<Vec<OutboxEntry>> {
        self.outbox_rows(
            "status IN ('conflict', 'rejected') AND resolved_at IS NULL ORDER BY device_seq",
            &[],
        )
    }

    /// Marks a refused change as dealt with by a person.
    pub fn resolve_problem(&self, seq: i64, user: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        let n = self.execute(
                "UPDATE outbox SET resolved_at = ?2, resolved_by = ?3
                 WHERE device_seq = ?1 AND status IN ('conflict', 'rejected') AND resolved_at IS NULL",
                params![seq, ts(at), user.to_string()],
            )
            ?;
        if n == 0 {
            return Err(ClinicError::not_found("Open sync problem").into());
        }
        Ok(())
    }

    /// (pending count, time of the oldest pending change).
    pub fn pending_summary(&self) -> StoreResult<(i64, Option<DateTime<Utc>>)> {
        Ok(self.query_row(
            "SELECT count(*), min(at) FROM outbox WHERE status = 'pending'",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?.map(|s| parse_ts(&s)),
                ))
            },
        )?)
    }

    /// Notes a sync attempt and its result for the status line.
    pub fn record_sync_attempt(
        &self,
        now: DateTime<Utc>,
        error: Option<&ClinicError>,
    ) -> StoreResult<()> {
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

    pub fn sync_cursor(&self) -> StoreResult<SyncCursor> {
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
    ) -> StoreResult<bool> {
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
                    let mut st = self.conn.prepare(
                        "SELECT DISTINCT t.entity_id FROM outbox_touches t
                             JOIN outbox o ON o.device_seq = t.device_seq
                             WHERE o.device_seq > ?1 AND o.status <> 'pending'",
                    )?;
                    let rows = st.query_map([server_last_applied], |r| r.get(0))?;
                    rows.collect::<Result<_, _>>()?
                };
                // Whether the server still has those records is known only
                // once its feed was read again: until then their base is
                // "not on the server" (a re-sent change the server refuses
                // then takes its record back out, as it would have on the
                // first send), and the feed sets the base of every record
                // the server has. Nothing is sent before that re-read ends.
                for id in requeued {
                    self.set_shadow(parse_uuid(&id), None)?;
                }
                self.execute("DELETE FROM sync_reread_seen", [])?;
                self.set_meta("sync_rereading", "1")?;
                self.execute(
                        "UPDATE outbox SET status = 'pending', code = NULL, message = NULL, answered_at = NULL
                         WHERE device_seq > ?1",
                        [server_last_applied],
                    )
                    ?;
                self.set_meta("sync_cursor", "0")?;
                self.set_meta("sync_cursor_hash", "")?;
                self.set_meta("sync_server_last_applied", &server_last_applied.to_string())?;
                self.set_meta("sync_audit_sent", "0")?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn pending_touching(&self, id: Uuid) -> StoreResult<Vec<Envelope>> {
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
        base: Option<AnyRecord>,
        pending: &[Envelope],
    ) -> StoreResult<Option<AnyRecord>> {
        let mut recs = Records::default();
        if let Some(b) = base {
            recs.put_any(b);
        }
        for env in pending {
            // Records other than `id` are taken as they are locally; `id`
            // itself is never loaded (its base is the server's version).
            let had = recs.contains(id);
            self.load_context(&env.mutation, &mut recs)?;
            if !had {
                recs.remove(id);
            }
            let cx = Context {
                tenant: self.tenant_id,
                at: env.at,
                user: env.user_id,
            };
            let _ = apply(&env.mutation, &cx, &mut recs);
        }
        Ok(recs.remove(id))
    }

    /// Rewrites record `id` as its shadow plus the pending mutations on it;
    /// the shadow goes once nothing is pending.
    fn rebase(&self, id: Uuid) -> StoreResult<()> {
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
    pub fn record_push(&self, resp: &PushResponse, now: DateTime<Utc>) -> StoreResult<()> {
        self.defer_foreign_keys()?;
        if self.observe_epoch(resp.epoch, resp.last_applied_seq, None, false)? {
            return Ok(());
        }
        if let Some(from) = resp.renumber_from {
            return self.renumber_outbox(from, resp.last_applied_seq);
        }
        for o in &resp.outcomes {
            let status = o.status.as_str();
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
                ?
                .execute(params![
                    o.device_seq,
                    status,
                    o.code.map(|c| c.as_str()),
                    o.message,
                    ts(now)
                ])
                ?;
            for id in env.mutation.touches() {
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
        self.take_number_blocks(&resp.number_blocks, resp.blocks_retired)?;
        Ok(())
    }

    /// This store is a restored copy that numbered new changes again from an
    /// older position: the server applied other changes under the numbers
    /// from `from` on (up to `server_last`). Every change queued here from
    /// `from` on (none of which the server has) moves after `server_last`,
    /// in order, and goes up again.
    fn renumber_outbox(&self, from: i64, server_last: i64) -> StoreResult<()> {
        let answered: i64 = self.query_row(
            "SELECT count(*) FROM outbox WHERE device_seq >= ?1 AND status <> 'pending'",
            [from],
            |r| r.get(0),
        )?;
        if answered > 0 || from > server_last {
            return Err(ClinicError::internal(
                "the server asked to renumber changes it has answered",
            )
            .into());
        }
        // Negated first: the key is unique at every row of an UPDATE.
        for table in ["outbox", "outbox_touches"] {
            self.execute(
                &format!("UPDATE {table} SET device_seq = -device_seq WHERE device_seq >= ?1"),
                [from],
            )?;
            self.execute(
                &format!(
                    "UPDATE {table} SET device_seq = ?2 + 1 + (-device_seq - ?1) WHERE device_seq < 0"
                ),
                [from, server_last],
            )?;
        }
        self.set_meta("sync_server_last_applied", &server_last.to_string())
    }

    /// Applies one page of the change feed and saves the cursor with it.
    /// A page from another protocol version, with a bad checksum or with a
    /// kind of record this version does not know, is refused whole.
    pub fn apply_page(&self, page: &PullResponse) -> StoreResult<PageApplied> {
        self.defer_foreign_keys()?;
        if page.protocol != PROTOCOL_VERSION {
            return Err(ClinicError::new(
                ErrorCode::UpdateRequired,
                "The sync server runs a different version; update this application to continue syncing. Nothing was changed.",
            ).into());
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
            ).into());
        }
        let fresh = &page.changes[from..];
        if !chain_ok && known.epoch.is_none() {
            // Nothing applied here yet to have diverged from: a feed that
            // does not chain from its start is a damaged one.
            return Err(ClinicError::new(
                ErrorCode::Unreachable,
                "The server's first page of changes does not hold together; nothing was applied. Try again, and tell the server's administrator if it persists.",
            )
            .into());
        }
        if self.observe_epoch(
            page.epoch,
            page.last_applied_seq,
            Some(page.head),
            !page.cursor_ok || !chain_ok,
        )? {
            return Ok(PageApplied::EpochChanged);
        }
        let (cursor, cursor_hash) = self.batch_index(|db| -> StoreResult<_> {
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
                    )
                    .into());
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
        if self.meta("sync_rereading")?.is_some() {
            let mut seen = self
                .conn
                .prepare_cached("INSERT OR IGNORE INTO sync_reread_seen (id) VALUES (?1)")?;
            for c in fresh {
                seen.execute([c.entity_id.to_string()])?;
            }
            if cursor >= page.head {
                self.finish_reread()?;
            }
        }
        Ok(PageApplied::Applied {
            cursor,
            records: page.changes.len(),
        })
    }

    /// The end of reading a restored server's feed again: every record
    /// held here that the feed did not bring, and that no pending change of
    /// this workstation makes, existed only in the history the server lost
    /// (its author's re-sent change was refused, or never came): it goes,
    /// so this copy is the server's again. Then changes are sent again.
    fn finish_reread(&self) -> StoreResult<()> {
        let seen: std::collections::HashSet<Uuid> = {
            let mut st = self.conn.prepare("SELECT id FROM sync_reread_seen")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|r| r.map(|s| parse_uuid(&s)))
                .collect::<Result<_, _>>()?
        };
        for (id, _) in self.record_hashes(&|id| !seen.contains(&id))? {
            if self.pending_touching(id)?.is_empty() {
                self.discard_record(id)?;
                self.drop_shadow(id)?;
            }
        }
        self.execute("DELETE FROM sync_reread_seen", [])?;
        self.execute("DELETE FROM meta WHERE key = 'sync_rereading'", [])?;
        Ok(())
    }

    /// Takes the server's version of a record: written as is, or, when
    /// local mutations on it are pending, as their new base. Returns its id.
    pub fn apply_server_record(
        &self,
        entity_type: &str,
        doc: &serde_json::Value,
    ) -> StoreResult<Uuid> {
        self.defer_foreign_keys()?;
        self.put_server_record(entity_type, doc)
    }

    /// [`Db::apply_server_record`] inside a transaction whose foreign keys
    /// are already deferred (setting the pragma recompiles every statement).
    fn put_server_record(&self, entity_type: &str, doc: &serde_json::Value) -> StoreResult<Uuid> {
        let r = AnyRecord::from_doc(entity_type, doc)?;
        if r.tenant().is_some_and(|t| t != self.tenant_id) {
            return Err(ClinicError::internal("the server sent a record of another tenant").into());
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
    pub fn bucket_sums(&self) -> StoreResult<BucketSums> {
        let hashes = self.record_hashes(&|_| true)?;
        Ok(BucketSums::compute(
            hashes.iter().map(|(i, h)| (*i, h.as_str())),
        ))
    }

    /// (id, document hash) of local records in these buckets.
    pub fn bucket_members(&self, buckets: &[usize]) -> StoreResult<Vec<(Uuid, String)>> {
        self.record_hashes(&|id| buckets.contains(&bucket_of(id)))
    }
}
