//! Verifying a tenant's audit trail as the server holds it
//! (`sync-server audit verify --tenant SLUG`): each device's chain is
//! whole and ends at the head the server recorded, and each signed event
//! verifies against its user's public keys (their staff record keeps the
//! current and the past ones), so anyone holding those keys can check
//! that no event was edited, removed, reordered or made in someone
//! else's name.

use crate::db::tenant_tx;
use crate::error::ServerError;
use crate::records;
use clinic_core::audit::{AuditEvent, ChainVerifier};
use clinic_core::directory::StaffMember;
use clinic_core::signing::{event_content, verify, PublicKey};
use clinic_core::ClinicError;
use deadpool_postgres::Pool;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// What verifying one device's chain found.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceAudit {
    pub device_id: Uuid,
    pub events: i64,
    /// Events whose signature verifies against their user's keys.
    pub signed: i64,
    /// Events without a signature: made by no signed-in user (a refused
    /// sign-in) or before signatures.
    pub unsigned: i64,
    /// Why the chain does not verify, at which event (none: it does).
    pub chain_break: Option<clinic_core::audit::ChainBreak>,
    /// Events whose signature does not verify: (sequence, why).
    pub bad_signatures: Vec<(i64, String)>,
}

/// The whole tenant's verification.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub tenant: String,
    pub devices: Vec<DeviceAudit>,
    /// Every chain is whole and every signature present verifies.
    pub ok: bool,
}

const COLUMNS: &str = "device_id, seq, id, tenant_id, at, user_id, action, entity_type, entity_id, patient_id, details, prev_hash, hash, author_key, signature";

fn event(r: &tokio_postgres::Row) -> AuditEvent {
    AuditEvent {
        device_id: r.get(0),
        seq: r.get(1),
        id: r.get(2),
        tenant_id: r.get(3),
        at: r.get(4),
        user_id: r.get(5),
        action: r.get(6),
        entity_type: r.get(7),
        entity_id: r.get(8),
        patient_id: r.get(9),
        details: r.get(10),
        prev_hash: r.get(11),
        hash: r.get(12),
        author_key: r.get(13),
        signature: r.get(14),
    }
}

/// Verifies every device chain of the tenant `slug`.
pub async fn verify_tenant(pool: &Pool, slug: &str) -> Result<AuditReport, ServerError> {
    let mut client = crate::db::conn(pool).await?;
    let tenant: Option<Uuid> = client
        .query_one(
            "SELECT tenant_id_for_slug($1)",
            &[&slug.trim().to_lowercase()],
        )
        .await?
        .get(0);
    let tenant = tenant.ok_or_else(|| ServerError::from(ClinicError::not_found("Tenant")))?;
    let tx = tenant_tx(&mut client, tenant).await?;
    let staff_ids: Vec<Uuid> = tx
        .query(
            "SELECT id FROM sync_records WHERE tenant_id = $1 AND entity_type = 'staff'",
            &[&tenant],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let staff = records::load(&tx, &staff_ids).await?;
    let keys: HashMap<Uuid, Vec<PublicKey>> = staff
        .all::<StaffMember>()
        .map(|s| (s.id, s.public_keys()))
        .collect();
    let heads = tx
        .query(
            "SELECT device_id, audit_head_seq, audit_head_hash FROM device_state WHERE tenant_id = $1 ORDER BY device_id",
            &[&tenant],
        )
        .await?;
    let mut devices = Vec::new();
    for h in heads {
        let (device, head_seq, head_hash): (Uuid, i64, String) = (h.get(0), h.get(1), h.get(2));
        let rows = tx
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM audit_events WHERE tenant_id = $1 AND device_id = $2 ORDER BY seq"
                ),
                &[&tenant, &device],
            )
            .await?;
        let mut d = DeviceAudit {
            device_id: device,
            events: rows.len() as i64,
            signed: 0,
            unsigned: 0,
            chain_break: None,
            bad_signatures: vec![],
        };
        let mut chain = ChainVerifier::new(device);
        for r in &rows {
            let e = event(r);
            if d.chain_break.is_none() {
                if let Err(b) = chain.check(&e) {
                    d.chain_break = Some(b);
                }
            }
            if e.signature.is_none() {
                d.unsigned += 1;
                continue;
            }
            let theirs = e
                .user_id
                .and_then(|u| keys.get(&u))
                .cloned()
                .unwrap_or_default();
            match verify(
                &theirs,
                e.author_key.as_deref(),
                e.signature.as_deref(),
                &event_content(&e),
            ) {
                Ok(()) => d.signed += 1,
                Err(why) => d.bad_signatures.push((e.seq, why.to_string())),
            }
        }
        if d.chain_break.is_none() {
            if let Err(b) = chain.finish(head_seq, &head_hash) {
                d.chain_break = Some(b);
            }
        }
        devices.push(d);
    }
    tx.commit().await?;
    let ok = devices
        .iter()
        .all(|d| d.chain_break.is_none() && d.bad_signatures.is_empty());
    Ok(AuditReport {
        tenant: slug.trim().to_lowercase(),
        devices,
        ok,
    })
}
