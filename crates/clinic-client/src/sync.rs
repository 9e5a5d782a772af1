//! Sync as a person sees it: sync now, the status line, the list of changes
//! the server refused, resolving them, and verifying the whole copy.

use crate::workstation::{new_id, Workstation};
use chrono::{DateTime, Utc};
use clinic_core::api::KeyPin;
use clinic_core::audit::AuditEntry;
use clinic_core::permissions::{Action, Module};
use clinic_core::sync::RefusedChange;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::sync::OutboxEntry;
use clinic_sync::engine::{SyncReport, VerifyReport};
use clinic_sync::HttpTransport;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// What the status line shows.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    pub enrolled: bool,
    /// The server answered just now.
    pub online: bool,
    pub server: Option<String>,
    /// Local changes the server has not answered yet.
    pub pending: i64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub oldest_pending_age_seconds: Option<i64>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Changes the server refused that nobody has resolved.
    pub open_conflicts: usize,
    /// Position in the server's change feed.
    pub cursor: i64,
    /// The server found this workstation's audit trail broken (it stops
    /// taking audit events from it until an administrator looks into it).
    pub audit_problem: Option<String>,
    /// Changes queued here that wait for their author's signature (made
    /// before signatures, or while their key was not open): they go up
    /// once that person signs in on this desk, and hold the queue after
    /// them until then.
    pub waiting_for_signature: Vec<WaitingForSignature>,
}

/// Someone whose changes wait for them to sign in on this desk.
#[derive(Debug, Clone, Serialize)]
pub struct WaitingForSignature {
    pub user_id: Uuid,
    pub name: String,
    pub changes: i64,
}

/// A refused change as someone may see it: what it carried is withheld
/// when it touched a part of the record their role does not cover (the
/// flags its own permission declares).
pub(crate) fn visible_to(
    mut n: RefusedChange,
    perms: &clinic_core::permissions::PermissionMatrix,
) -> RefusedChange {
    let allowed = clinic_core::sync::Mutation::from_value(n.change.clone())
        .is_ok_and(|m| m.permission().flags.iter().all(|f| perms.has_flag(*f)));
    if !allowed {
        n.change = serde_json::json!({
            "kind": n.change["kind"].clone(),
            "withheld": "your role does not cover this part of the record",
        });
    }
    n
}

fn parse_time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.with_timezone(&Utc))
}

impl Workstation {
    /// The HTTP transport of an enrolled store.
    pub fn transport(&self) -> ClinicResult<HttpTransport> {
        let db = self.store()?.db();
        let (Some((url, pin)), Some(credential)) = (db.server()?, db.meta("device_credential")?)
        else {
            return Err(ClinicError::new(
                ErrorCode::NotFound,
                "This workstation is not enrolled with a sync server.",
            ));
        };
        HttpTransport::new(&url, pin, &credential)
    }

    /// Renews this workstation's expired device credential with the server,
    /// as the administrator who just signed in here (their password signs
    /// them in on the server for this call only). Nothing happens unless
    /// the credential expired; changes waiting here are untouched and go up
    /// at the next sync. Returns whether it renewed.
    pub(crate) fn renew_expired_credential(
        &mut self,
        email: &str,
        password: &crate::auth::Password,
    ) -> ClinicResult<bool> {
        let now = self.now();
        let db = self.store()?.db();
        let (Some((url, pin)), Some(credential)) = (db.server()?, db.meta("device_credential")?)
        else {
            return Ok(false);
        };
        let said_expired = db
            .meta("sync_last_error")?
            .is_some_and(|e| e.starts_with(ErrorCode::CredentialExpired.as_str()));
        let past = parse_time(db.meta("device_credential_expires")?).is_some_and(|e| e <= now);
        if !(said_expired || past) {
            return Ok(false);
        }
        let (slug, device) = (db.tenant()?.slug, self.store()?.device_id());
        let server = clinic_sync::ServerClient::connect(&url, pin)?;
        let pair = server.login(&slug, email, password.expose_for_transport(), None)?;
        let fresh = server.renew_device(&pair.access_token, device, &credential);
        let _ = server.logout(&pair.refresh_token);
        let fresh = fresh?;
        let user = self.session().map(|s| s.user_id);
        self.store_mut()?.write(|db| {
            db.set_device_credential(&fresh.device_credential, Some(fresh.expires_at))?;
            db.set_meta("sync_last_error", "")?;
            db.append_audit(
                new_id(now),
                user,
                now,
                AuditEntry {
                    action: "device.credential_renewed",
                    entity_type: "device",
                    entity_id: Some(device),
                    patient_id: None,
                    details: json!({"expires_at": fresh.expires_at}),
                },
            )?;
            Ok(())
        })?;
        Ok(true)
    }

    /// Moves this enrolled workstation to the sync server at `url` (a new
    /// address, `https://` instead of `http://`, or a new pin after the
    /// server's key changed). An administrator's act; the new address must
    /// answer as this same device of this same clinic before anything is
    /// changed, and the changes waiting here are kept and go there.
    pub fn set_server(&mut self, url: &str, pin: Option<KeyPin>) -> ClinicResult<SyncStatus> {
        let (admin, now) = self.act_as_full_admin()?;
        let db = self.store()?.db();
        let (Some((old, old_pin)), Some(credential)) =
            (db.server()?, db.meta("device_credential")?)
        else {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                "This computer is not connected to a sync server; enrol it instead.",
            ));
        };
        let moved = HttpTransport::new(url, pin, &credential)?;
        let who = moved.whoami()?;
        let (tenant, device) = (db.tenant()?.id, self.store()?.device_id());
        if who.tenant_id != tenant || who.device_id != device {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                format!(
                    "The server at {} knows this credential as another workstation or clinic; nothing was changed.",
                    moved.server.base_url()
                ),
            ));
        }
        let to = moved.server.base_url().to_string();
        self.store_mut()?.write(|db| {
            db.set_server(&to, pin)?;
            db.append_audit(
                new_id(now),
                Some(admin.user_id),
                now,
                AuditEntry {
                    action: "store.set_server",
                    entity_type: "device",
                    entity_id: Some(device),
                    patient_id: None,
                    details: json!({
                        "from": old, "to": to,
                        "pinned_before": old_pin.map(|p| p.to_string()),
                        "pinned": pin.map(|p| p.to_string()),
                    }),
                },
            )?;
            Ok(())
        })?;
        self.sync_status(true)
    }

    /// Pushes every local change and pulls the server's until caught up.
    /// `progress` gets (feed position, feed head) after each page.
    pub fn sync_now(&mut self, progress: &mut dyn FnMut(i64, i64)) -> ClinicResult<SyncReport> {
        let t = self.transport()?;
        let now = self.now();
        self.before_sync(now)?;
        let report = clinic_sync::engine::sync_now(self.store_mut()?, &t, now, progress)?;
        self.after_sync()?;
        Ok(report)
    }

    /// What the domains do before changes are sent: the signed-in
    /// person's note drafts, idle for two seconds, become edits (one per
    /// field). Without a clinician signed in there is nothing to do.
    pub fn before_sync(&mut self, now: DateTime<Utc>) -> ClinicResult<()> {
        let idle = now - chrono::Duration::seconds(2);
        match self.clinical().flush_drafts(None, Some(idle)) {
            Err(e) if e.code == ErrorCode::Internal => Err(e),
            _ => Ok(()),
        }
    }

    /// What the domains do with the answers: an edit refused because its
    /// note was signed elsewhere becomes its author's draft addendum.
    pub fn after_sync(&mut self) -> ClinicResult<()> {
        // A colleague disabled or their password changed elsewhere: their
        // own password no longer unlocks this desk.
        self.reconcile_unlocks();
        self.clinical().keep_refused_edits().map(|_| ())
    }

    /// Starts the live loop (push on change, long-poll the feed) with its
    /// own connections to this store.
    pub fn start_live_sync(
        &self,
        unlock: clinic_store::keys::Unlock,
    ) -> ClinicResult<clinic_sync::live::LiveSync> {
        let t = std::sync::Arc::new(self.transport()?);
        let dir = self.dir().to_path_buf();
        clinic_sync::live::LiveSync::start(
            std::sync::Arc::new(move || Ok(clinic_store::Store::open(&dir, &unlock)?)),
            t,
        )
    }

    /// Compares the whole copy with the server's and re-fetches what differs.
    pub fn verify_sync(&mut self) -> ClinicResult<VerifyReport> {
        let t = self.transport()?;
        let now = self.now();
        clinic_sync::engine::verify_and_repair(self.store_mut()?, &t, now)
    }

    /// The status line; `probe` asks the server whether it answers now.
    pub fn sync_status(&self, probe: bool) -> ClinicResult<SyncStatus> {
        let db = self.store()?.db();
        let server = db.meta("sync_server")?;
        let (pending, oldest) = db.pending_summary()?;
        let now = self.now();
        let online =
            probe && server.is_some() && self.transport().and_then(|t| t.server.health()).is_ok();
        Ok(SyncStatus {
            enrolled: server.is_some(),
            online,
            server,
            pending,
            oldest_pending_at: oldest,
            oldest_pending_age_seconds: oldest.map(|o| (now - o).num_seconds().max(0)),
            last_success: parse_time(db.meta("sync_last_success")?),
            last_error: db.meta("sync_last_error")?.filter(|e| !e.is_empty()),
            open_conflicts: db.sync_problems()?.len(),
            cursor: db.sync_cursor()?.cursor,
            audit_problem: db
                .meta("sync_audit_break")?
                .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                .and_then(|b| b["reason"].as_str().map(str::to_string)),
            waiting_for_signature: db
                .unsigned_changes()?
                .into_iter()
                .map(|u| {
                    let name = db
                        .staff(u.user_id)
                        .ok()
                        .flatten()
                        .map_or_else(|| u.user_id.to_string(), |s| s.name);
                    WaitingForSignature {
                        user_id: u.user_id,
                        name,
                        changes: u.changes,
                    }
                })
                .collect(),
        })
    }

    /// Changes the server refused, for a person to resolve.
    pub fn sync_conflicts(&mut self) -> ClinicResult<Vec<OutboxEntry>> {
        self.act(Module::Patients, Action::View)?;
        Ok(self.store()?.db().sync_problems()?)
    }

    /// Changes to a record that the server did not apply as they were made
    /// (on any desk: someone else's change came first), kept in its history.
    pub fn not_applied(&mut self, record: Uuid) -> ClinicResult<Vec<RefusedChange>> {
        let (s, _) = self.act(Module::Patients, Action::View)?;
        Ok(self
            .store()?
            .db()
            .refused_changes_of(record)?
            .into_iter()
            .map(|n| visible_to(n, &s.permissions))
            .collect())
    }

    /// Makes a change the server refused again, whole, under the signed-in
    /// person's own name (a clinician disabled on Friday does not lose
    /// Thursday's notes: a colleague re-applies them). Their role must
    /// allow it; the refused entry is marked resolved in the same
    /// transaction, and the audit trail says whose change it was.
    pub fn reapply_sync_problem(&mut self, device_seq: i64) -> ClinicResult<OutboxEntry> {
        let entry = self
            .store()?
            .db()
            .sync_problems()?
            .into_iter()
            .find(|e| e.device_seq == device_seq)
            .ok_or_else(|| ClinicError::not_found("Open sync problem"))?;
        let (s, now) = self.working_session()?;
        s.permissions.check(&entry.mutation.permission())?;
        if !self
            .store()?
            .db()
            .would_change(Some(s.user_id), now, &entry.mutation)?
        {
            return Err(ClinicError::conflict(
                "Nothing to re-apply: the records are already as this change would leave them. Mark it resolved instead.",
            ));
        }
        let m = entry.mutation.clone();
        let original = entry.clone();
        self.commit_change(
            &s,
            now,
            |db| {
                db.resolve_problem(device_seq, s.user_id, now)?;
                Ok(m)
            },
            |_| {
                vec![AuditEntry {
                    action: "sync.reapplied",
                    entity_type: "outbox",
                    entity_id: Some(original.id),
                    patient_id: None,
                    details: json!({
                        "device_seq": device_seq, "kind": original.kind,
                        "made_by": original.user_id, "made_at": original.at,
                    }),
                }]
            },
        )?;
        Ok(entry)
    }

    /// Marks a refused change as resolved (the person re-did it, or decided
    /// it no longer applies). Audited.
    pub fn resolve_sync_conflict(&mut self, device_seq: i64) -> ClinicResult<()> {
        let (s, now) = self.act(Module::Patients, Action::Edit)?;
        self.store_mut()?.write(|db| {
            db.resolve_problem(device_seq, s.user_id, now)?;
            Ok(db
                .append_audit(
                    new_id(now),
                    Some(s.user_id),
                    now,
                    AuditEntry {
                        action: "sync.conflict_resolved",
                        entity_type: "outbox",
                        entity_id: None,
                        patient_id: None,
                        details: json!({"device_seq": device_seq}),
                    },
                )
                .map(|_| ())?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinic_core::permissions::BuiltinRole;

    fn note(set: serde_json::Value) -> RefusedChange {
        let m = clinic_core::sync::Mutation::new(clinic_core::patients::UpdatePatient {
            patient: Uuid::from_u128(1),
            set: set.as_object().unwrap().clone(),
            ..Default::default()
        });
        RefusedChange {
            id: Uuid::from_u128(2),
            tenant_id: Uuid::from_u128(3),
            records: vec![Uuid::from_u128(1)],
            change: m.to_value(),
            user_id: None,
            user_name: Some("Dr Jones".into()),
            made_at: chrono::Utc::now(),
            status: "conflict".into(),
            message: "archived elsewhere".into(),
        }
    }

    #[test]
    fn a_refused_change_shows_only_what_the_viewer_may_see() {
        let blood = note(serde_json::json!({"blood_group": "AB-"}));
        let reception = BuiltinRole::Receptionist.matrix();
        let seen = visible_to(blood.clone(), &reception);
        assert!(!seen.change.to_string().contains("AB-"), "{}", seen.change);
        assert_eq!(seen.change["kind"], "update_patient");
        assert_eq!(seen.message, "archived elsewhere");
        let clinician = BuiltinRole::Clinician.matrix();
        assert!(visible_to(blood, &clinician)
            .change
            .to_string()
            .contains("AB-"));
        // A change of nothing sensitive is shown to anyone who sees the record.
        let city = note(serde_json::json!({"city": "Leeds"}));
        assert!(visible_to(city, &reception)
            .change
            .to_string()
            .contains("Leeds"));
    }
}
