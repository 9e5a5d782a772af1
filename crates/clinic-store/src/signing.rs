//! Signatures of what is made on this desk: every queued change and audit
//! event of a signed-in person carries their signature
//! ([`clinic_core::signing`]). What was queued before signatures (or
//! while its author's key was not open) waits, unsent, until its author
//! signs in here again: the queue never sends a change the server would
//! refuse for want of a signature.

use crate::{Db, StoreResult};
use clinic_core::signing::UserSigner;
use rusqlite::params;
use uuid::Uuid;

/// The keys that sign on a store (the signed-in person's, in the product).
#[derive(Debug, Default)]
pub struct Signers(pub(crate) Vec<UserSigner>);

/// A store opened by no one yet signs nothing.
pub(crate) static NO_SIGNERS: Signers = Signers(Vec::new());

impl Signers {
    pub(crate) fn of(&self, user: Option<Uuid>) -> Option<&UserSigner> {
        let user = user?;
        self.0.iter().find(|s| s.user() == user)
    }
}

/// The changes of one person that wait for them to sign in on this desk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unsigned {
    pub user_id: Uuid,
    pub changes: i64,
}

/// The audit action of an event recorded about a user who did not act
/// (a refused sign-in names the account tried): never theirs to sign.
const NOT_THEIRS: &str = "user.login_failed";

impl Db<'_> {
    /// Signs `user`'s queued changes that carry no signature yet, and the
    /// audit events they made that the server does not have yet, with
    /// their key (set with [`crate::Store::set_signer`]).
    pub fn sign_pending(&self, user: Uuid) -> StoreResult<()> {
        let Some(signer) = self.signers.of(Some(user)) else {
            return Ok(());
        };
        let pending: Vec<crate::sync::OutboxEntry> = self.outbox_rows(
            "status = 'pending' AND signature IS NULL AND user_id = ?1 ORDER BY device_seq",
            &[&user.to_string()],
        )?;
        for e in pending {
            let mut env = e.into_envelope();
            signer.sign_change(self.tenant_id, self.device_id, &mut env);
            self.execute(
                "UPDATE outbox SET author_key = ?2, signature = ?3 WHERE device_seq = ?1",
                params![env.device_seq, env.author_key, env.signature],
            )?;
        }
        let sent = self.sync_cursor()?.audit_sent;
        let events: Vec<clinic_core::audit::AuditEvent> = self.audit_rows(
            "device_id = ?1 AND seq > ?2 AND user_id = ?3 AND signature IS NULL AND action <> ?4 ORDER BY seq",
            &[&self.device_id.to_string(), &sent, &user.to_string(), &NOT_THEIRS],
        )?;
        for mut e in events {
            signer.sign_event(&mut e);
            self.execute(
                "UPDATE audit_events SET author_key = ?3, signature = ?4 WHERE device_id = ?1 AND seq = ?2",
                params![e.device_id.to_string(), e.seq, e.author_key, e.signature],
            )?;
        }
        Ok(())
    }

    /// Who has queued changes here that wait for their signature, and how many.
    pub fn unsigned_changes(&self) -> StoreResult<Vec<Unsigned>> {
        let mut st = self.conn.prepare_cached(
            "SELECT user_id, count(*) FROM outbox
             WHERE status = 'pending' AND signature IS NULL AND user_id IS NOT NULL
             GROUP BY user_id ORDER BY user_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(Unsigned {
                user_id: crate::parse_uuid(&r.get::<_, String>(0)?),
                changes: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves the change just queued as `seq` in front of `user`'s first
    /// change that still waits for a signature (none of which, nor any
    /// change after it, has been sent: the queue stops there), so the
    /// key it registers reaches the server before the changes it signs.
    pub fn queue_before_unsigned(&self, user: Uuid, seq: i64) -> StoreResult<()> {
        let first: Option<i64> = self.query_row(
            "SELECT min(device_seq) FROM outbox
             WHERE status = 'pending' AND signature IS NULL AND user_id = ?1 AND device_seq < ?2",
            params![user.to_string(), seq],
            |r| r.get(0),
        )?;
        let Some(first) = first else {
            return Ok(());
        };
        let answered: i64 = self.query_row(
            "SELECT count(*) FROM outbox WHERE device_seq >= ?1 AND status <> 'pending'",
            [first],
            |r| r.get(0),
        )?;
        if answered > 0 {
            return Ok(());
        }
        // Negated first: the key is unique at every row of an UPDATE; the
        // touches follow their changes by the end of the transaction.
        self.defer_foreign_keys()?;
        for table in ["outbox", "outbox_touches"] {
            self.execute(
                &format!(
                    "UPDATE {table} SET device_seq = -device_seq WHERE device_seq BETWEEN ?1 AND ?2"
                ),
                [first, seq],
            )?;
            self.execute(
                &format!(
                    "UPDATE {table} SET device_seq = CASE WHEN -device_seq = ?2 THEN ?1 ELSE -device_seq + 1 END
                     WHERE device_seq < 0"
                ),
                [first, seq],
            )?;
        }
        Ok(())
    }
}
