//! Tenant provisioning: the tenant row, its built-in roles, first site, first
//! administrator and change-feed head, in one tenant-scoped transaction.

use crate::db::{map_db, tenant_tx};
use crate::ServerError;
use chrono::{DateTime, Utc};
use clinic_core::auth::Password;
use clinic_core::error::FieldErrors;
use clinic_core::patients::validate_email;
use clinic_core::permissions::BuiltinRole;
use clinic_core::{ClinicError, ErrorCode};
use deadpool_postgres::Pool;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A subscription plan and the limits it enforces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Plan {
    pub name: String,
    pub max_users: i32,
    pub max_patients: i32,
    pub max_storage_mb: i32,
    pub features: Vec<String>,
}

impl Plan {
    pub const NAMES: [&'static str; 3] = ["basic", "standard", "enterprise"];

    pub fn named(name: &str) -> Option<Plan> {
        let (users, patients, storage, features): (i32, i32, i32, &[&str]) = match name {
            "basic" => (5, 5_000, 1_024, &["scheduling", "patients"]),
            "standard" => (
                25,
                100_000,
                10_240,
                &["scheduling", "patients", "clinical", "billing"],
            ),
            "enterprise" => (
                500,
                2_000_000,
                512_000,
                &[
                    "scheduling",
                    "patients",
                    "clinical",
                    "billing",
                    "inventory",
                    "reports",
                ],
            ),
            _ => return None,
        };
        Some(Plan {
            name: name.to_string(),
            max_users: users,
            max_patients: patients,
            max_storage_mb: storage,
            features: features.iter().map(|f| f.to_string()).collect(),
        })
    }
}

#[derive(Debug)]
pub struct NewTenant {
    pub slug: String,
    pub name: String,
    pub admin_email: String,
    pub admin_name: String,
    pub admin_password: Password,
    pub plan: String,
    pub site_name: String,
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantCreated {
    pub tenant_id: Uuid,
    pub slug: String,
    pub admin_user_id: Uuid,
    pub site_id: Uuid,
    pub plan: Plan,
}

fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Validates and provisions a tenant. A taken slug is a conflict; nothing
/// is written unless everything is.
pub async fn create_tenant(
    pool: &Pool,
    t: NewTenant,
    now: DateTime<Utc>,
) -> Result<TenantCreated, ServerError> {
    let mut errs = FieldErrors::default();
    let slug = t.slug.trim().to_lowercase();
    let slug_ok = (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if !slug_ok {
        errs.add(
            "slug",
            "use 2 to 63 lower-case letters, digits and dashes, not starting with a dash",
        );
    }
    let name = t.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        errs.add("name", "is required (at most 200 characters)");
    }
    let email = t.admin_email.trim().to_lowercase();
    if let Err(m) = validate_email(&email) {
        errs.add("admin_email", m);
    }
    let plan = Plan::named(&t.plan);
    if plan.is_none() {
        errs.add("plan", format!("use one of: {}", Plan::NAMES.join(", ")));
    }
    errs.into_result()?;
    let plan = plan.expect("checked above");
    let (tenant_id, admin_id, site_id) = (new_id(), new_id(), new_id());
    let work = crate::passwords::PasswordWork::shared();
    let key = work
        .signing_key(tenant_id, admin_id, t.admin_password.clone())
        .await?;
    let key = serde_json::to_value(key).map_err(|e| ServerError::Database(e.to_string()))?;
    let hash = work.hash(t.admin_password).await?;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, tenant_id).await?;
    let inserted = tx
        .execute(
            "INSERT INTO tenants (id, slug, name, plan, max_users, max_patients, max_storage_mb, features, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            &[&tenant_id, &slug, &name, &plan.name, &plan.max_users, &plan.max_patients, &plan.max_storage_mb, &serde_json::json!(plan.features), &now],
        )
        .await;
    if let Err(e) = inserted {
        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                format!("A tenant with the slug {slug} already exists."),
            )
            .into());
        }
        return Err(map_db(e));
    }
    let mut epoch = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut epoch);
    tx.execute(
        "INSERT INTO feed_heads (tenant_id, last_seq, epoch) VALUES ($1, 0, $2)",
        &[&tenant_id, &Uuid::from_bytes(epoch)],
    )
    .await?;
    for r in BuiltinRole::ALL {
        let id = new_id();
        tx.execute(
            "INSERT INTO roles (tenant_id, id, key, name, builtin, permissions, created_at, updated_at) VALUES ($1, $2, $3, $4, true, $5, $6, $6)",
            &[&tenant_id, &id, &r.key(), &r.display_name(), &serde_json::to_value(r.matrix()).map_err(|e| ServerError::Database(e.to_string()))?, &now],
        )
        .await?;
    }
    tx.execute(
        "INSERT INTO sites (tenant_id, id, name, timezone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        &[&tenant_id, &site_id, &t.site_name.trim(), &t.timezone.trim(), &now],
    )
    .await?;
    tx.execute(
        "INSERT INTO users (tenant_id, id, email, name, password_hash, role_keys, created_at, updated_at, signing_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        &[&tenant_id, &admin_id, &email, &t.admin_name.trim(), &hash, &vec![BuiltinRole::Admin.key()], &now, &key],
    )
    .await?;
    // The administrator and the first site are records every desk receives.
    crate::directory::ensure_records(&tx, tenant_id).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant_id, plan = %plan.name, "tenant created");
    Ok(TenantCreated {
        tenant_id,
        slug,
        admin_user_id: admin_id,
        site_id,
        plan,
    })
}
