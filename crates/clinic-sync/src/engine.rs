//! The sync engine: push the outbox until the server has everything, then
//! apply the change feed until caught up. Every step is one local
//! transaction, so a crash at any point leaves a state from which the next
//! run simply continues (the server's answers are idempotent).

use chrono::{DateTime, Utc};
use clinic_core::sync::*;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::sync::PageApplied;
use clinic_store::Store;
use serde::Serialize;

/// Mutations (and audit events) per push: large enough that 10,000 offline
/// changes go up in a handful of requests.
pub const PUSH_BATCH: u32 = 1_000;
/// Changes per page of the feed.
pub const PULL_PAGE: i64 = 2_000;

/// How the workstation reaches the server: HTTP in the product, an
/// in-process network with faults in the simulation.
pub trait Transport {
    fn push(&self, req: &PushRequest) -> ClinicResult<PushResponse>;
    /// A page after `after`; `after_hash` is the feed's chain value at
    /// `after` as applied here (the server checks its history matches).
    fn pull(
        &self,
        after: i64,
        after_hash: Option<&str>,
        limit: i64,
        wait_secs: u64,
    ) -> ClinicResult<PullResponse>;
    fn checksums(&self) -> ClinicResult<BucketSums>;
    fn records(&self, buckets: &[usize]) -> ClinicResult<Vec<RecordCopy>>;
    /// The device credential to use from now on (the store keeps the
    /// current one; transports without one ignore it).
    fn set_credential(&self, _credential: &str) {}
    /// A new credential from the server, for one about to expire (`None`:
    /// this transport has none).
    fn rotate_credential(&self) -> ClinicResult<Option<clinic_core::api::DeviceCredential>> {
        Ok(None)
    }
}

/// A workstation asks for a new credential when its own has less than this
/// left (the server gives 90 days): a desk synced at least every six weeks
/// never finds it expired.
pub const RENEW_BEFORE: chrono::Duration = chrono::Duration::days(45);

/// Hands the transport the store's current credential and, when it is due
/// (or its expiry is not known: enrolled before credentials expired),
/// renews it: the new one is written to the store before anything uses it,
/// so a crash in between leaves the old one, which the server accepts for a
/// day and renews again. A failed renewal is left for the next push.
pub fn keep_credential(
    store: &mut Store,
    t: &dyn Transport,
    now: DateTime<Utc>,
) -> ClinicResult<()> {
    let (credential, expires) = {
        let db = store.db();
        (
            db.meta("device_credential")?,
            db.meta("device_credential_expires")?,
        )
    };
    let Some(credential) = credential else {
        return Ok(());
    };
    t.set_credential(&credential);
    let due = expires
        .and_then(|e| DateTime::parse_from_rfc3339(&e).ok())
        .is_none_or(|e| e.with_timezone(&Utc) - now < RENEW_BEFORE);
    if !due {
        return Ok(());
    }
    match t.rotate_credential() {
        Ok(Some(fresh)) => {
            store.write(|db| {
                Ok(db.set_device_credential(&fresh.device_credential, Some(fresh.expires_at))?)
            })?;
            t.set_credential(&fresh.device_credential);
            tracing::info!(expires = %fresh.expires_at, "device credential renewed");
        }
        Ok(None) => {}
        Err(e) if e.code == ErrorCode::CredentialExpired => return Err(e),
        // Offline: the push that follows says so.
        Err(e) if e.code == ErrorCode::Unreachable => {}
        Err(e) => {
            tracing::warn!(error = %e, "renewing the device credential failed; trying again later")
        }
    }
    Ok(())
}

/// What one sync run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    pub cursor: i64,
    pub head: i64,
    pub pending: i64,
    pub problems: usize,
}

/// Sends the outbox (and audit trail) until the server holds all of it.
/// Returns the number of mutations the server answered.
pub fn push_all(store: &mut Store, t: &dyn Transport, now: DateTime<Utc>) -> ClinicResult<usize> {
    keep_credential(store, t, now)?;
    let mut answered = 0;
    loop {
        let (mutations, audit, before) = {
            let db = store.db();
            let c = db.sync_cursor()?;
            let audit = if db.meta("sync_audit_break")?.is_some() {
                vec![]
            } else {
                db.audit_events_after(c.audit_sent, PUSH_BATCH)?
            };
            (
                db.outbox_after(c.server_last_applied, PUSH_BATCH)?,
                audit,
                c,
            )
        };
        let (want_numbers, restored) = numbers_wanted(store)?;
        if mutations.is_empty() && audit.is_empty() && want_numbers.is_empty() {
            return Ok(answered);
        }
        let resp = t.push(&PushRequest {
            protocol: PROTOCOL_VERSION,
            mutations,
            audit,
            want_numbers,
            restored,
        })?;
        answered += resp.outcomes.len();
        store.write(|db| {
            db.record_push(&resp, now)?;
            if let Some(b) = &resp.audit_break {
                db.set_meta(
                    "sync_audit_break",
                    &serde_json::to_string(b).unwrap_or_default(),
                )?;
            }
            Ok(())
        })?;
        let after = store.db().sync_cursor()?;
        if after.server_last_applied == before.server_last_applied
            && after.audit_sent == before.audit_sent
            && after.epoch == before.epoch
            && resp.renumber_from.is_none()
            && !resp.blocks_retired
        {
            // No progress (the server refused the rest): try again later.
            return Ok(answered);
        }
    }
}

/// The number series this device runs low on (every series, when its
/// store is a restored copy whose old blocks the server must retire), and
/// whether it is such a copy.
fn numbers_wanted(store: &Store) -> ClinicResult<(Vec<String>, bool)> {
    let db = store.db();
    let restored = db.is_restored_copy()?;
    let registry = clinic_core::sync::registry::read();
    let mut want = Vec::new();
    for s in registry.number_series() {
        if restored || db.numbers_left(s.name)? < s.low_water {
            want.push(s.name.to_string());
        }
    }
    Ok((want, restored))
}

/// Applies the change feed page by page until caught up; `progress` gets
/// (cursor, head) after each page. Returns the number of changes applied
/// and the feed head, or `None` when the server's history changed (the
/// caller pushes again).
///
/// While one page is applied (on a scoped thread, in its own transaction)
/// the next one is fetched from where it ends, so a fresh workstation's
/// bootstrap waits for the network and the server only once. A prefetched
/// page is used only if the page before it was applied in full; the
/// store still checks that it continues the history applied here.
pub fn pull_all(
    store: &mut Store,
    t: &dyn Transport,
    progress: &mut dyn FnMut(i64, i64),
) -> ClinicResult<Option<(usize, i64)>> {
    let mut applied = 0;
    let c = store.db().sync_cursor()?;
    let mut page = t.pull(c.cursor, c.cursor_hash.as_deref(), PULL_PAGE, 0)?;
    loop {
        let last = page.changes.last().filter(|l| l.seq < page.head);
        let (done, next) = std::thread::scope(|s| {
            let applying = s.spawn(|| store.write(|db| Ok(db.apply_page(&page)?)));
            let next = last.map(|l| {
                let hash = (!l.chain.is_empty()).then_some(l.chain.as_str());
                t.pull(l.seq, hash, PULL_PAGE, 0)
            });
            (applying.join(), next)
        });
        let done =
            done.map_err(|_| ClinicError::internal("applying a page of changes failed"))??;
        match done {
            PageApplied::EpochChanged => return Ok(None),
            PageApplied::Applied { cursor, records } => {
                applied += records;
                progress(cursor, page.head);
                if records == 0 || cursor >= page.head {
                    return Ok(Some((applied, page.head)));
                }
                page = match (next, last) {
                    (Some(Ok(n)), Some(l)) if l.seq == cursor => n,
                    _ => {
                        let c = store.db().sync_cursor()?;
                        t.pull(c.cursor, c.cursor_hash.as_deref(), PULL_PAGE, 0)?
                    }
                };
            }
        }
    }
}

/// Pushes and pulls until caught up, and records the result (or the error)
/// for the status line.
pub fn sync_now(
    store: &mut Store,
    t: &dyn Transport,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(i64, i64),
) -> ClinicResult<SyncReport> {
    let result = (|| {
        let mut report = SyncReport::default();
        for _ in 0..3 {
            report.pushed += push_all(store, t, now)?;
            match pull_all(store, t, progress)? {
                Some((n, head)) => {
                    report.pulled += n;
                    report.head = head;
                    // Whatever was made while pulling goes up too.
                    report.pushed += push_all(store, t, now)?;
                    return Ok(report);
                }
                None => continue,
            }
        }
        Err(ClinicError::new(
            ErrorCode::Unreachable,
            "The server's history keeps changing; try again shortly.",
        ))
    })();
    store.write(|db| Ok(db.record_sync_attempt(now, result.as_ref().err())?))?;
    let mut report = result?;
    let db = store.db();
    let c = db.sync_cursor()?;
    report.cursor = c.cursor;
    report.pending = db.pending_summary()?.0;
    report.problems = db.sync_problems()?.len();
    Ok(report)
}

/// What a whole-copy verification found and mended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub buckets: usize,
    pub differing_buckets: Vec<usize>,
    /// Records fetched again because they differed or were missing here.
    pub repaired: usize,
    /// Records here that the server does not have (not sent yet, or refused).
    pub local_only: usize,
}

/// Compares the whole local copy with the server's by bucket checksums and
/// fetches again only the records in buckets that differ. Pending local
/// changes are pushed first (the copies can only be equal without them).
pub fn verify_and_repair(
    store: &mut Store,
    t: &dyn Transport,
    now: DateTime<Utc>,
) -> ClinicResult<VerifyReport> {
    push_all(store, t, now)?;
    if store.db().pending_summary()?.0 > 0 {
        return Err(ClinicError::new(
            ErrorCode::Conflict,
            "Some changes have not reached the server yet; sync first, then verify.",
        ));
    }
    let server = t.checksums()?;
    let local = store.db().bucket_sums()?;
    let differing = server.differing(&local);
    let mut report = VerifyReport {
        buckets: CHECKSUM_BUCKETS,
        differing_buckets: differing.clone(),
        ..Default::default()
    };
    if differing.is_empty() {
        return Ok(report);
    }
    // One bucket per request: a bucket is 1/64 of the records, so at size
    // L an answer stays far below the client's limit on an answer's size.
    for bucket in differing {
        let theirs = t.records(&[bucket])?;
        let mine: std::collections::HashMap<uuid::Uuid, String> =
            store.db().bucket_members(&[bucket])?.into_iter().collect();
        store.write(|db| {
            for r in &theirs {
                if mine.get(&r.id) != Some(&r.hash) {
                    if let Some(doc) = &r.doc {
                        db.apply_server_record(&r.entity_type, doc)?;
                        report.repaired += 1;
                    }
                }
            }
            Ok(())
        })?;
        let server_ids: std::collections::HashSet<uuid::Uuid> =
            theirs.iter().map(|r| r.id).collect();
        report.local_only += mine.keys().filter(|id| !server_ids.contains(id)).count();
    }
    Ok(report)
}
