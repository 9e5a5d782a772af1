//! Storage of the hash-chained audit trail.

use crate::{parse_ts, parse_uuid, ts, Db, StoreResult};
use chrono::{DateTime, Utc};
use clinic_core::audit::{
    event_hash, AuditEntry, AuditEvent, ChainBreak, ChainVerifier, GENESIS_HASH,
};
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

impl Db<'_> {
    fn audit_head(&self) -> StoreResult<(i64, String)> {
        let seq = self
            .meta("audit_head_seq")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let hash = self
            .meta("audit_head_hash")?
            .unwrap_or_else(|| GENESIS_HASH.to_string());
        Ok((seq, hash))
    }

    /// Appends one event to this device's chain (call inside [`crate::Store::write`]).
    pub fn append_audit(
        &self,
        id: Uuid,
        user_id: Option<Uuid>,
        at: DateTime<Utc>,
        entry: AuditEntry,
    ) -> StoreResult<AuditEvent> {
        let (seq, prev) = self.audit_head()?;
        let mut e = AuditEvent {
            device_id: self.device_id,
            seq: seq + 1,
            id,
            tenant_id: self.tenant_id,
            at,
            user_id,
            action: entry.action.to_string(),
            entity_type: entry.entity_type.to_string(),
            entity_id: entry.entity_id,
            patient_id: entry.patient_id,
            details: entry.details,
            prev_hash: prev,
            hash: String::new(),
            author_key: None,
            signature: None,
        };
        e.hash = event_hash(&e);
        if let Some(signer) = self.signers.of(user_id) {
            signer.sign_event(&mut e);
        }
        self.execute(
                "INSERT INTO audit_events (device_id, seq, id, tenant_id, at, user_id, action, entity_type, entity_id,
                     patient_id, details, prev_hash, hash, author_key, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    e.device_id.to_string(), e.seq, e.id.to_string(), e.tenant_id.to_string(), ts(e.at),
                    e.user_id.map(|u| u.to_string()), e.action, e.entity_type, e.entity_id.map(|u| u.to_string()),
                    e.patient_id.map(|u| u.to_string()), e.details.to_string(), e.prev_hash, e.hash,
                    e.author_key, e.signature
                ],
            )
            ?;
        self.set_meta("audit_head_seq", &e.seq.to_string())?;
        self.set_meta("audit_head_hash", &e.hash)?;
        Ok(e)
    }

    fn audit_from_row(r: &rusqlite::Row) -> rusqlite::Result<AuditEvent> {
        let opt = |s: Option<String>| s.map(|s| parse_uuid(&s));
        Ok(AuditEvent {
            device_id: parse_uuid(&r.get::<_, String>(0)?),
            seq: r.get(1)?,
            id: parse_uuid(&r.get::<_, String>(2)?),
            tenant_id: parse_uuid(&r.get::<_, String>(3)?),
            at: parse_ts(&r.get::<_, String>(4)?),
            user_id: opt(r.get(5)?),
            action: r.get(6)?,
            entity_type: r.get(7)?,
            entity_id: opt(r.get(8)?),
            patient_id: opt(r.get(9)?),
            details: serde_json::from_str(&r.get::<_, String>(10)?)
                .unwrap_or(serde_json::Value::Null),
            prev_hash: r.get(11)?,
            hash: r.get(12)?,
            author_key: r.get(13)?,
            signature: r.get(14)?,
        })
    }

    const AUDIT_COLUMNS: &'static str =
        "device_id, seq, id, tenant_id, at, user_id, action, entity_type, entity_id, patient_id, details, prev_hash, hash, author_key, signature";

    /// Events matching `where_sql`, as stored.
    pub(crate) fn audit_rows(
        &self,
        where_sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> StoreResult<Vec<AuditEvent>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {} FROM audit_events WHERE {where_sql}",
            Self::AUDIT_COLUMNS
        ))?;
        let rows = st.query_map(args, Self::audit_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Verifies this device's chain in storage order (rowid), so a reordered,
    /// edited or removed event is found. Returns the number of events verified.
    pub fn verify_audit_chain(&self) -> StoreResult<Result<i64, ChainBreak>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {} FROM audit_events WHERE device_id = ?1 ORDER BY rowid",
            Self::AUDIT_COLUMNS
        ))?;
        let mut rows = st.query([self.device_id.to_string()])?;
        let mut v = ChainVerifier::new(self.device_id);
        while let Some(row) = rows.next()? {
            let e = Self::audit_from_row(row)?;
            if let Err(b) = v.check(&e) {
                return Ok(Err(b));
            }
        }
        let (seq, hash) = self.audit_head()?;
        Ok(v.finish(seq, &hash))
    }

    /// Recent events, newest first, optionally for one patient.
    pub fn audit_events(
        &self,
        patient_id: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {} FROM audit_events WHERE (?1 IS NULL OR patient_id = ?1) ORDER BY at DESC, seq DESC LIMIT ?2",
            Self::AUDIT_COLUMNS
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(
            params![patient_id.map(|p| p.to_string()), limit],
            Self::audit_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// This device's events after `seq`, in chain order (for upload).
    pub fn audit_events_after(&self, seq: i64, limit: u32) -> StoreResult<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {} FROM audit_events WHERE device_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            Self::AUDIT_COLUMNS
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(
            params![self.device_id.to_string(), seq, limit],
            Self::audit_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn audit_event_count(&self) -> StoreResult<i64> {
        Ok(self.query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))?)
    }

    pub fn last_audit_event(&self) -> StoreResult<Option<AuditEvent>> {
        Ok(self
            .query_row(
                &format!(
                    "SELECT {} FROM audit_events WHERE device_id = ?1 ORDER BY seq DESC LIMIT 1",
                    Self::AUDIT_COLUMNS
                ),
                [self.device_id.to_string()],
                Self::audit_from_row,
            )
            .optional()?)
    }
}
