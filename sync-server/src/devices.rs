//! Workstations: enrolled by an administrator, bound to a tenant and site,
//! listed and revoked. A revoked device is refused.

use crate::accounts::AuthUser;
use crate::db::tenant_tx;
use crate::tokens;
use crate::ServerError;
use chrono::{DateTime, Utc};
use clinic_core::api::{DeviceCredential, DeviceIdentity, DeviceView, EnrollRequest, Enrollment};
use clinic_core::{ClinicError, ErrorCode};
use deadpool_postgres::Pool;
use uuid::Uuid;

pub async fn enroll(
    pool: &Pool,
    actor: &AuthUser,
    req: EnrollRequest,
    now: DateTime<Utc>,
) -> Result<Enrollment, ServerError> {
    actor.require_full_admin()?;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ClinicError::field("name", "is required (at most 100 characters)").into());
    }
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, actor.tenant_id).await?;
    let site = match req.site_id {
        Some(id) => tx.query_opt("SELECT id, name, timezone FROM sites WHERE id = $1 AND deleted_at IS NULL", &[&id]).await,
        None => tx.query_opt("SELECT id, name, timezone FROM sites WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT 1", &[]).await,
    }?
    .ok_or_else(|| ServerError::from(ClinicError::not_found("Site")))?;
    let tenant_name: String = tx
        .query_one(
            "SELECT name FROM tenants WHERE id = $1",
            &[&actor.tenant_id],
        )
        .await?
        .get(0);
    let device = Uuid::now_v7();
    let (credential, hash) = tokens::new_device_credential(actor.tenant_id, device);
    let site_id: Uuid = site.get(0);
    let expires = now + CREDENTIAL_TTL;
    tx.execute(
        "INSERT INTO devices (tenant_id, id, site_id, name, credential_hash, enrolled_by, enrolled_at, credential_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&actor.tenant_id, &device, &site_id, &name, &hash, &actor.user_id, &now, &expires],
    )
    .await?;
    tx.execute(
        "INSERT INTO device_state (tenant_id, device_id) VALUES ($1, $2)",
        &[&actor.tenant_id, &device],
    )
    .await?;
    let mut number_blocks = Vec::new();
    let series: Vec<&str> = clinic_core::sync::registry::read()
        .number_series()
        .map(|s| s.name)
        .collect();
    for s in series {
        number_blocks.push(lease_block(&tx, device, s).await?);
    }
    let user = tx
        .query_one(
            "SELECT name, coalesce(role_keys, '{}') FROM users WHERE id = $1",
            &[&actor.user_id],
        )
        .await?;
    // Their key and password hash as every desk receives them (on their
    // staff record).
    let staff = tx
        .query_opt(
            "SELECT doc->'signing_key', doc->>'password_hash' FROM sync_records WHERE entity_type = 'staff' AND id = $1",
            &[&actor.user_id],
        )
        .await?;
    let signing_key = staff
        .as_ref()
        .and_then(|r| r.get::<_, Option<serde_json::Value>>(0))
        .and_then(|k| serde_json::from_value(k).ok());
    let password_hash = staff.and_then(|r| r.get::<_, Option<String>>(1));
    tx.commit().await?;
    tracing::info!(tenant = %actor.tenant_id, device = %device, "device enrolled");
    Ok(Enrollment {
        tenant_id: actor.tenant_id,
        tenant_name,
        site_id,
        site_name: site.get(1),
        site_timezone: site.get(2),
        device_id: device,
        device_credential: credential,
        credential_expires_at: Some(expires),
        user_id: actor.user_id,
        user_name: user.get(0),
        user_roles: user.get(1),
        signing_key,
        password_hash,
        number_blocks,
    })
}

/// Leases the next block of a number series to a device. The feed head row
/// of the tenant is locked first, so concurrent leases cannot overlap; blocks
/// are never handed out twice.
pub async fn lease_block(
    tx: &deadpool_postgres::Transaction<'_>,
    device: Uuid,
    series: &str,
) -> Result<clinic_core::sync::NumberBlock, ServerError> {
    tx.execute("SELECT 1 FROM feed_heads FOR UPDATE", &[])
        .await?;
    let start: i64 = tx
        .query_one(
            "SELECT coalesce(max(block_end), 1) FROM number_blocks WHERE series = $1",
            &[&series],
        )
        .await?
        .get(0);
    let lease = clinic_core::sync::registry::read()
        .series_named(series)
        .map(|s| s.lease)
        .ok_or_else(|| {
            ClinicError::field("want_numbers", format!("{series} is not a number series"))
        })?;
    let end = start + lease;
    let tenant: Uuid = tx
        .query_one("SELECT tenant_id FROM feed_heads", &[])
        .await?
        .get(0);
    tx.execute(
        "INSERT INTO number_blocks (tenant_id, series, block_start, block_end, device_id) VALUES ($1, $2, $3, $4, $5)",
        &[&tenant, &series, &start, &end, &device],
    )
    .await?;
    Ok(clinic_core::sync::NumberBlock {
        series: series.to_string(),
        start,
        end,
    })
}

pub async fn list(pool: &Pool, actor: &AuthUser) -> Result<Vec<DeviceView>, ServerError> {
    actor.require_full_admin()?;
    views(pool, actor.tenant_id, "").await
}

/// The tenant's workstations still enrolled, with when each last reached
/// the server (a desk closing the books lists those that may still send
/// changes dated inside the period).
pub async fn peers(pool: &Pool, tenant: Uuid) -> Result<Vec<DeviceView>, ServerError> {
    views(pool, tenant, "WHERE revoked_at IS NULL").await
}

async fn views(pool: &Pool, tenant: Uuid, filter: &str) -> Result<Vec<DeviceView>, ServerError> {
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    let rows = tx
        .query(&format!("SELECT id, name, site_id, enrolled_by, enrolled_at, revoked_at, last_seen_at FROM devices {filter} ORDER BY enrolled_at, id"), &[])
        .await?;
    Ok(rows
        .iter()
        .map(|r| DeviceView {
            id: r.get(0),
            name: r.get(1),
            site_id: r.get(2),
            enrolled_by: r.get(3),
            enrolled_at: r.get(4),
            revoked_at: r.get(5),
            last_seen_at: r.get(6),
        })
        .collect())
}

/// Revokes a device. Another tenant's device id is simply not found.
pub async fn revoke(
    pool: &Pool,
    actor: &AuthUser,
    device: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServerError> {
    actor.require_full_admin()?;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, actor.tenant_id).await?;
    let n = tx
        .execute(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            &[&device, &now],
        )
        .await?;
    if n == 0 {
        return Err(ClinicError::not_found("Device").into());
    }
    tx.commit().await?;
    tracing::info!(tenant = %actor.tenant_id, device = %device, "device revoked");
    Ok(())
}

/// How long a device credential works; sync renews it well before
/// ([`RENEW_BEFORE`] ahead), so only a workstation left unsynced for
/// months finds it expired (an administrator signing in on it renews it).
pub const CREDENTIAL_TTL: chrono::Duration = chrono::Duration::days(90);
/// A workstation asks for a new credential when its own has less left.
pub const RENEW_BEFORE: chrono::Duration = chrono::Duration::days(45);
/// The credential before a renewal keeps working this long (the answer
/// carrying the new one may have been lost; it is asked again with it).
pub const PREVIOUS_GRACE: chrono::Duration = chrono::Duration::days(1);

fn refused() -> ServerError {
    ServerError::from(ClinicError::new(
        ErrorCode::InvalidCredentials,
        "This workstation is not (or no longer) enrolled; ask an administrator to enrol it.",
    ))
}

/// Which of a device's credentials a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Matched {
    Current,
    Previous,
}

/// The device row of a credential, locked when `lock`, and which of its
/// credentials the secret is (expired ones included: the caller decides).
async fn find(
    tx: &deadpool_postgres::Transaction<'_>,
    device: Uuid,
    credential: &str,
    now: DateTime<Utc>,
    lock: bool,
) -> Result<(tokio_postgres::Row, Matched, bool), ServerError> {
    let row = tx
        .query_opt(
            &format!(
                // A soft-deleted tenant's workstations are refused with it.
                "SELECT d.credential_hash, d.revoked_at, d.site_id, d.credential_expires_at,
                        d.previous_credential_hash, d.previous_expires_at
                 FROM devices d JOIN tenants t ON t.id = d.tenant_id AND t.deleted_at IS NULL
                 WHERE d.id = $1{}",
                if lock { " FOR UPDATE OF d" } else { "" }
            ),
            &[&device],
        )
        .await?
        .ok_or_else(refused)?;
    if row.get::<_, Option<DateTime<Utc>>>(1).is_some() {
        return Err(refused());
    }
    let given = tokens::hash_secret(credential);
    let expires: DateTime<Utc> = row.get(3);
    if tokens::same_hash(&row.get::<_, String>(0), &given) {
        return Ok((row, Matched::Current, expires <= now));
    }
    let previous: Option<String> = row.get(4);
    let previous_until: Option<DateTime<Utc>> = row.get(5);
    if previous.is_some_and(|p| tokens::same_hash(&p, &given)) {
        return Ok((
            row,
            Matched::Previous,
            previous_until.is_none_or(|u| u <= now),
        ));
    }
    Err(refused())
}

/// [`find`], refusing an expired credential: the current one as expired
/// (an administrator renews it), the one before a renewal as unknown.
async fn usable(
    tx: &deadpool_postgres::Transaction<'_>,
    device: Uuid,
    credential: &str,
    now: DateTime<Utc>,
    lock: bool,
) -> Result<(tokio_postgres::Row, Matched), ServerError> {
    match find(tx, device, credential, now, lock).await? {
        (_, Matched::Current, true) => Err(expired()),
        (_, Matched::Previous, true) => Err(refused()),
        (row, matched, false) => Ok((row, matched)),
    }
}

fn expired() -> ServerError {
    ClinicError::new(
        ErrorCode::CredentialExpired,
        "This workstation's sync credential expired and an administrator signing in here renews it. It was not synced for a long time; its waiting changes are kept.",
    )
    .into()
}

/// The device a credential belongs to, if it is genuine, current (or the
/// one before a renewal, for a day) and not revoked.
pub async fn identify(
    pool: &Pool,
    credential: &str,
    now: DateTime<Utc>,
) -> Result<DeviceIdentity, ServerError> {
    let (tenant, device) = tokens::device_credential_ids(credential).ok_or_else(refused)?;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    let (row, matched) = usable(&tx, device, credential, now, false).await?;
    let site: Uuid = row.get(2);
    let expires: DateTime<Utc> = match matched {
        Matched::Current => row.get(3),
        Matched::Previous => row.get::<_, Option<DateTime<Utc>>>(5).unwrap_or(now),
    };
    tx.execute(
        "UPDATE devices SET last_seen_at = $2 WHERE id = $1",
        &[&device, &now],
    )
    .await?;
    tx.commit().await?;
    Ok(DeviceIdentity {
        tenant_id: tenant,
        device_id: device,
        site_id: site,
        credential_expires_at: Some(expires),
    })
}

/// A new credential for the device presenting `credential` (current or,
/// within its grace, the one before): the current one becomes the one
/// before and works for [`PREVIOUS_GRACE`] more. Asked again with the
/// one before (the answer was lost), it replaces the new one instead.
pub async fn rotate(
    pool: &Pool,
    credential: &str,
    now: DateTime<Utc>,
) -> Result<DeviceCredential, ServerError> {
    let (tenant, device) = tokens::device_credential_ids(credential).ok_or_else(refused)?;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    let (_, matched) = usable(&tx, device, credential, now, true).await?;
    let (fresh, hash) = tokens::new_device_credential(tenant, device);
    let expires = now + CREDENTIAL_TTL;
    match matched {
        Matched::Current => {
            tx.execute(
                "UPDATE devices SET previous_credential_hash = credential_hash, previous_expires_at = $2,
                        credential_hash = $3, credential_expires_at = $4 WHERE id = $1",
                &[&device, &(now + PREVIOUS_GRACE), &hash, &expires],
            )
            .await?
        }
        Matched::Previous => {
            tx.execute(
                "UPDATE devices SET credential_hash = $2, credential_expires_at = $3 WHERE id = $1",
                &[&device, &hash, &expires],
            )
            .await?
        }
    };
    tx.commit().await?;
    tracing::info!(tenant = %tenant, device = %device, "device credential renewed");
    Ok(DeviceCredential {
        device_credential: fresh,
        expires_at: expires,
    })
}

/// An administrator renews the expired (not revoked) credential of the
/// workstation they are signed in on; the expired credential proves which
/// one it is. The one before stops working.
pub async fn renew(
    pool: &Pool,
    actor: &AuthUser,
    device: Uuid,
    credential: &str,
    now: DateTime<Utc>,
) -> Result<DeviceCredential, ServerError> {
    actor.require_full_admin()?;
    let ids = tokens::device_credential_ids(credential);
    if ids != Some((actor.tenant_id, device)) {
        return Err(refused());
    }
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, actor.tenant_id).await?;
    find(&tx, device, credential, now, true).await?;
    let (fresh, hash) = tokens::new_device_credential(actor.tenant_id, device);
    let expires = now + CREDENTIAL_TTL;
    tx.execute(
        "UPDATE devices SET credential_hash = $2, credential_expires_at = $3,
                previous_credential_hash = NULL, previous_expires_at = NULL WHERE id = $1",
        &[&device, &hash, &expires],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %actor.tenant_id, device = %device, by = %actor.user_id, "device credential renewed by an administrator");
    Ok(DeviceCredential {
        device_credential: fresh,
        expires_at: expires,
    })
}
