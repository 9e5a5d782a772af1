//! The directory in the master: staff and the clinic's own roles are
//! records (in `sync_records`, changed only by the directory's named
//! mutations, re-checked here like any other), and the `users` and `roles`
//! tables that sign-in and tokens read are written from them. Every push is
//! checked against every member of staff and every role of the tenant, so
//! a user created, re-roled or disabled earlier in the same push counts.
//!
//! Accounts made on the server itself (a tenant's first administrator, an
//! account added over HTTP) and those made before staff were records get
//! their records from [`ensure_records`], written into the feed like any
//! change, so every desk knows every user.

use crate::records::{load_docs, BoxFuture, Documents, Projection, Written};
use crate::ServerError;
use clinic_core::directory::{ClinicPlan, CustomRole, RoomDoc, SiteDoc, StaffMember};
use clinic_core::permissions::PermissionMatrix;
use clinic_core::sync::{AnyRecord, Envelope, RecordKind, Records};
use deadpool_postgres::{Pool, Transaction};
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug)]
pub struct DirectoryProjection;
pub static PROJECTION: DirectoryProjection = DirectoryProjection;

const KINDS: &[&str] = &[StaffMember::KIND, CustomRole::KIND, ClinicPlan::KIND];

impl Projection for DirectoryProjection {
    fn kinds(&self) -> &'static [&'static str] {
        KINDS
    }

    /// Kept in `sync_records`, which the generic select reads already.
    fn select(&self) -> &'static str {
        "SELECT NULL::text, NULL::uuid, NULL::text, NULL::jsonb WHERE false"
    }

    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            Documents.write(tx, tenant, rows).await?;
            for w in rows {
                if let Some(r) = w.record.get::<CustomRole>() {
                    let perms = serde_json::to_value(&r.permissions)
                        .map_err(|e| ServerError::Database(e.to_string()))?;
                    tx.execute(
                        "INSERT INTO roles (tenant_id, id, key, name, builtin, permissions) VALUES ($1, $2, $3, $4, false, $5)
                         ON CONFLICT (tenant_id, id) DO UPDATE SET key = EXCLUDED.key, name = EXCLUDED.name,
                             permissions = EXCLUDED.permissions, updated_at = now()",
                        &[&tenant, &r.id, &r.key, &r.name, &perms],
                    )
                    .await?;
                }
            }
            for w in rows {
                let Some(s) = w.record.get::<StaffMember>() else {
                    continue;
                };
                let status = if s.active { "active" } else { "disabled" };
                // Disabling ends the account's server sessions too.
                tx.execute(
                    "INSERT INTO users (tenant_id, id, email, name, password_hash, status, role_keys, must_change_password)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (tenant_id, id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name,
                         password_hash = EXCLUDED.password_hash, status = EXCLUDED.status, role_keys = EXCLUDED.role_keys,
                         must_change_password = EXCLUDED.must_change_password,
                         token_version = users.token_version + (users.status = 'active' AND EXCLUDED.status <> 'active')::int,
                         updated_at = now()",
                    &[&tenant, &s.id, &s.email, &s.name, &s.password_hash, &status, &s.roles, &s.must_change_password],
                )
                .await?;
                if !s.active {
                    tx.execute(
                        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
                        &[&s.id],
                    )
                    .await?;
                }
            }
            Ok(())
        })
    }

    /// Every member of staff and every role of the tenant: who made each
    /// change, what their roles allow, and whether an e-mail is taken.
    fn load_context<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        _batch: &'a [&'a Envelope],
        recs: &'a mut Records,
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            for kind in KINDS {
                let docs = load_docs(
                    tx,
                    kind,
                    "SELECT doc FROM sync_records WHERE entity_type = $1",
                    &[kind],
                )
                .await?;
                for r in docs {
                    recs.offer(r);
                }
            }
            Ok(())
        })
    }
}

/// Gives every account, site, room and role of the tenant kept only in the
/// server's tables a record in the feed (and rewrites a record stored in
/// an older form), in the caller's transaction (the tenant set).
pub async fn ensure_records(tx: &Transaction<'_>, tenant: Uuid) -> Result<(), ServerError> {
    // Roles were kept in user_roles before they were kept on the user's row.
    tx.execute(
        "UPDATE users u SET role_keys = coalesce((SELECT array_agg(r.key ORDER BY r.key) FROM user_roles ur
             JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
             WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id), '{}')
         WHERE role_keys IS NULL",
        &[],
    )
    .await?;
    let have: HashMap<Uuid, (String, Value)> = tx
        .query(
            "SELECT id, entity_type, doc FROM sync_records WHERE entity_type IN ('staff', 'role', 'site', 'room', 'plan')",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut wanted: Vec<AnyRecord> = Vec::new();
    // A stored record not in the form its kind writes now is written again.
    for (kind, doc) in have.values() {
        if let Ok(r) = AnyRecord::from_doc(kind, doc) {
            if r.doc() != *doc {
                wanted.push(r);
            }
        }
    }
    let missing = |id: &Uuid| !have.contains_key(id);
    // The plan, as the tenants table has it now.
    let t = tx
        .query_one(
            "SELECT plan, max_users FROM tenants WHERE id = $1",
            &[&tenant],
        )
        .await?;
    let plan = AnyRecord::new(ClinicPlan {
        id: tenant,
        name: t.get(0),
        max_users: t.get::<_, i32>(1).max(0) as u32,
    });
    if have.get(&tenant).map(|(_, doc)| doc) != Some(&plan.doc()) {
        wanted.retain(|r| r.id() != tenant);
        wanted.push(plan);
    }
    for r in tx
        .query(
            "SELECT u.id, u.email, u.name, u.password_hash, u.status = 'active', coalesce(u.role_keys, '{}'),
                    p.specialization, p.registration_number, u.must_change_password, u.signing_key
             FROM users u LEFT JOIN clinician_profiles p ON p.tenant_id = u.tenant_id AND p.user_id = u.id
             WHERE u.deleted_at IS NULL",
            &[],
        )
        .await?
    {
        let id: Uuid = r.get(0);
        if missing(&id) {
            wanted.push(AnyRecord::new(StaffMember {
                id,
                email: r.get(1),
                name: r.get(2),
                password_hash: r.get(3),
                active: r.get(4),
                roles: r.get(5),
                specialization: r.get(6),
                registration_number: r.get(7),
                must_change_password: r.get(8),
                signing_key: r
                    .get::<_, Option<Value>>(9)
                    .and_then(|k| serde_json::from_value(k).ok()),
                past_keys: vec![],
            }));
        }
    }
    for r in tx
        .query(
            "SELECT id, key, name, permissions FROM roles WHERE NOT builtin AND deleted_at IS NULL",
            &[],
        )
        .await?
    {
        let id: Uuid = r.get(0);
        if missing(&id) {
            let permissions: PermissionMatrix =
                serde_json::from_value(r.get(3)).unwrap_or_default();
            wanted.push(AnyRecord::new(CustomRole {
                id,
                key: r.get(1),
                name: r.get(2),
                permissions,
            }));
        }
    }
    for r in tx
        .query(
            "SELECT id, name, timezone FROM sites WHERE deleted_at IS NULL",
            &[],
        )
        .await?
    {
        let id: Uuid = r.get(0);
        if missing(&id) {
            wanted.push(AnyRecord::new(SiteDoc {
                id,
                name: r.get(1),
                timezone: r.get(2),
            }));
        }
    }
    for r in tx
        .query(
            "SELECT id, site_id, name, kind FROM rooms WHERE deleted_at IS NULL",
            &[],
        )
        .await?
    {
        let id: Uuid = r.get(0);
        if missing(&id) {
            wanted.push(AnyRecord::new(RoomDoc {
                id,
                site_id: r.get(1),
                name: r.get(2),
                kind: r.get(3),
            }));
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let head: i64 = tx
        .query_one("SELECT last_seq FROM feed_heads FOR UPDATE", &[])
        .await?
        .get(0);
    let changed: Vec<crate::sync::ChangedRecord> = wanted
        .into_iter()
        .map(|record| crate::sync::ChangedRecord {
            record,
            before: None,
        })
        .collect();
    crate::sync::write_changes(tx, tenant, None, head, &changed).await?;
    tracing::info!(tenant = %tenant, records = changed.len(), "directory records written for accounts and premises kept only in the server's tables");
    Ok(())
}

/// [`ensure_records`] for every tenant (at startup, after migrating).
pub async fn ensure_all(pool: &Pool, tenants: &[Uuid]) -> Result<(), ServerError> {
    for t in tenants {
        let mut client = crate::db::conn(pool).await?;
        let tx = crate::db::tenant_tx(&mut client, *t).await?;
        ensure_records(&tx, *t).await?;
        tx.commit().await?;
    }
    Ok(())
}
