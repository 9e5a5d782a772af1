//! Sign-in, token refresh and revocation, and users under plan limits.

use crate::db::{map_db, tenant_tx};
use crate::tokens::{self, AccessClaims, SigningKey};
use crate::ServerError;
use chrono::{DateTime, Duration, Utc};
use clinic_core::api::{NewUserRequest, TokenPair, UserView};
use clinic_core::auth::{hash_password, Password};
use clinic_core::permissions::{Action, Module, PermissionMatrix};
use clinic_core::{ClinicError, ErrorCode};
use deadpool_postgres::{Pool, Transaction};
use rand::RngCore;
use uuid::Uuid;

pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCKOUT_MINUTES: i64 = 5;

fn unauthorized() -> ServerError {
    ClinicError::new(
        ErrorCode::InvalidCredentials,
        "The tenant, email or password is wrong.",
    )
    .into()
}

/// Verifies a password off the async runtime (Argon2id is deliberately
/// slow); an unknown account (`None`) costs the same and fails.
async fn verify_blocking(password: Password, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        clinic_core::auth::verify_or_burn(&password, hash.as_deref())
    })
    .await
    .unwrap_or(false)
}

/// A refresh-token family: the tokens descending from one sign-in, and
/// when it ends however often it is rotated.
#[derive(Debug, Clone, Copy)]
struct Family {
    id: Uuid,
    expires_at: DateTime<Utc>,
}

impl Family {
    /// The family a sign-in at `now` starts.
    fn start(now: DateTime<Utc>) -> Self {
        Family {
            id: Uuid::now_v7(),
            expires_at: now + Duration::days(tokens::REFRESH_FAMILY_DAYS),
        }
    }
}

async fn issue_pair(
    tx: &Transaction<'_>,
    key: &SigningKey,
    tenant: Uuid,
    user: Uuid,
    version: i32,
    family: Family,
    now: DateTime<Utc>,
) -> Result<TokenPair, ServerError> {
    let (refresh, hash) = tokens::new_refresh_token(tenant);
    let id = Uuid::now_v7();
    let expires = (now + Duration::days(tokens::REFRESH_TTL_DAYS)).min(family.expires_at);
    tx.execute(
        "INSERT INTO refresh_tokens (tenant_id, id, user_id, family_id, token_hash, issued_at, expires_at, family_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&tenant, &id, &user, &family.id, &hash, &now, &expires, &family.expires_at],
    )
    .await?;
    let access = key.issue(&AccessClaims {
        t: tenant,
        u: user,
        v: version,
        exp: now.timestamp() + tokens::ACCESS_TTL_SECONDS,
    });
    Ok(TokenPair {
        access_token: access,
        expires_in: tokens::ACCESS_TTL_SECONDS,
        refresh_token: refresh,
        tenant_id: tenant,
        user_id: user,
    })
}

/// Signs a user in. Five failures (wrong password or wrong one-time code)
/// lock the account for five minutes; every refusal reads the same, except
/// that an account with multi-factor sign-in asks for its code once the
/// password is right.
pub async fn login(
    pool: &Pool,
    key: &SigningKey,
    tenant_slug: &str,
    email: &str,
    password: Password,
    totp: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TokenPair, ServerError> {
    let mut client = crate::db::conn(pool).await?;
    let tenant: Option<Uuid> = client
        .query_one(
            "SELECT tenant_id_for_slug($1)",
            &[&tenant_slug.trim().to_lowercase()],
        )
        .await?
        .get(0);
    let Some(tenant) = tenant else {
        verify_blocking(password, None).await;
        return Err(unauthorized());
    };
    let tx = tenant_tx(&mut client, tenant).await?;
    let row = tx
        .query_opt(
            "SELECT id, password_hash, status, failed_logins, locked_until, token_version, mfa_secret, mfa_last_step,
                    must_change_password
             FROM users WHERE email = $1 AND deleted_at IS NULL FOR UPDATE",
            &[&email.trim().to_lowercase()],
        )
        .await?;
    let Some(row) = row else {
        verify_blocking(password, None).await;
        return Err(unauthorized());
    };
    let user: Uuid = row.get(0);
    let (hash, status, failed): (String, String, i32) = (row.get(1), row.get(2), row.get(3));
    let (locked_until, version): (Option<DateTime<Utc>>, i32) = (row.get(4), row.get(5));
    let (mfa_secret, mfa_last_step): (Option<String>, Option<i64>) = (row.get(6), row.get(7));
    if locked_until.is_some_and(|u| u > now) {
        return Err(ClinicError::new(
            ErrorCode::AccountLocked,
            "Too many failed sign-ins; try again in a few minutes.",
        )
        .into());
    }
    let mut ok = verify_blocking(password, Some(hash)).await;
    if ok && status == "active" && row.get::<_, bool>(8) {
        return Err(ClinicError::new(
            ErrorCode::PasswordChangeRequired,
            "An administrator reset this password: sign in on a workstation and choose a new one first.",
        )
        .into());
    }
    let mut mfa_step = None;
    if ok && status == "active" {
        if let Some(secret) = mfa_secret
            .as_deref()
            .and_then(clinic_core::totp::base32_decode)
        {
            match totp {
                None => {
                    return Err(ClinicError::new(
                        ErrorCode::MfaRequired,
                        "Enter the 6-digit code from your authenticator app.",
                    )
                    .into())
                }
                Some(code) => {
                    mfa_step =
                        clinic_core::totp::verify(&secret, code, now.timestamp(), mfa_last_step);
                    ok = mfa_step.is_some();
                }
            }
        }
    }
    if !ok || status != "active" {
        if !ok {
            // Counting starts again once an earlier lock has run out.
            let count = if locked_until.is_some() {
                1
            } else {
                failed + 1
            };
            let lock =
                (count >= MAX_FAILED_LOGINS).then(|| now + Duration::minutes(LOCKOUT_MINUTES));
            tx.execute(
                "UPDATE users SET failed_logins = $2, locked_until = $3 WHERE id = $1",
                &[&user, &count, &lock],
            )
            .await?;
            tx.commit().await?;
        }
        return Err(unauthorized());
    }
    tx.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $2, mfa_last_step = COALESCE($3, mfa_last_step) WHERE id = $1",
        &[&user, &now, &mfa_step],
    )
    .await?;
    let pair = issue_pair(&tx, key, tenant, user, version, Family::start(now), now).await?;
    tx.commit().await?;
    Ok(pair)
}

/// Starts (or replaces) multi-factor sign-in for the signed-in user, who
/// proves it again with the password and, if it is already on, the current
/// code. The new secret waits until its first code is confirmed.
pub async fn mfa_setup(
    pool: &Pool,
    user: &AuthUser,
    password: Password,
    code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<clinic_core::api::MfaSetup, ServerError> {
    {
        let mut client = crate::db::conn(pool).await?;
        let tx = tenant_tx(&mut client, user.tenant_id).await?;
        let row = tx
            .query_one("SELECT password_hash, mfa_secret, mfa_last_step FROM users WHERE id = $1 FOR UPDATE", &[&user.user_id])
            .await?;
        let (hash, current, last): (String, Option<String>, Option<i64>) =
            (row.get(0), row.get(1), row.get(2));
        let refused = || {
            ServerError::from(ClinicError::new(
                ErrorCode::InvalidCredentials,
                "Confirm with your password (and current code) to change multi-factor sign-in.",
            ))
        };
        if !verify_blocking(password, Some(hash)).await {
            return Err(refused());
        }
        if let Some(secret) = current
            .as_deref()
            .and_then(clinic_core::totp::base32_decode)
        {
            let step = code
                .and_then(|c| clinic_core::totp::verify(&secret, c, now.timestamp(), last))
                .ok_or_else(refused)?;
            tx.execute(
                "UPDATE users SET mfa_last_step = $2 WHERE id = $1",
                &[&user.user_id, &step],
            )
            .await?;
        }
        tx.commit().await?;
    }
    let mut secret = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = clinic_core::totp::base32_encode(&secret);
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, user.tenant_id).await?;
    let row = tx
        .query_one("UPDATE users SET mfa_pending_secret = $2 WHERE id = $1 RETURNING email, (SELECT slug FROM tenants)", &[&user.user_id, &secret])
        .await?;
    tx.commit().await?;
    let (email, slug): (String, String) = (row.get(0), row.get(1));
    let label = format!("Clinic ({slug}):{email}").replace(' ', "%20");
    Ok(clinic_core::api::MfaSetup {
        otpauth_uri: format!("otpauth://totp/{label}?secret={secret}&issuer=Clinic"),
        secret,
    })
}

/// Turns multi-factor sign-in on once the authenticator's code matches.
pub async fn mfa_confirm(
    pool: &Pool,
    user: &AuthUser,
    code: &str,
    now: DateTime<Utc>,
) -> Result<(), ServerError> {
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, user.tenant_id).await?;
    let pending: Option<String> = tx
        .query_one(
            "SELECT mfa_pending_secret FROM users WHERE id = $1",
            &[&user.user_id],
        )
        .await?
        .get(0);
    let secret = pending
        .as_deref()
        .and_then(clinic_core::totp::base32_decode)
        .ok_or_else(|| {
            ServerError::from(ClinicError::new(
                ErrorCode::Conflict,
                "Start the set-up first (POST /v1/auth/mfa/setup).",
            ))
        })?;
    let step =
        clinic_core::totp::verify(&secret, code, now.timestamp(), None).ok_or_else(|| {
            ServerError::from(ClinicError::field(
                "code",
                "does not match; check the authenticator app's clock",
            ))
        })?;
    tx.execute(
        "UPDATE users SET mfa_secret = mfa_pending_secret, mfa_pending_secret = NULL, mfa_last_step = $2 WHERE id = $1",
        &[&user.user_id, &step],
    )
    .await?;
    tx.commit().await.map_err(map_db)
}

/// Exchanges a refresh token for a new pair. A token used twice means it
/// was stolen: its whole family is revoked and the answer is 401.
pub async fn refresh(
    pool: &Pool,
    key: &SigningKey,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TokenPair, ServerError> {
    let tenant = tokens::refresh_token_tenant(token).ok_or_else(unauthorized)?;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    let row = tx
        .query_opt(
            "SELECT r.id, r.user_id, r.family_id, r.expires_at, r.revoked_at, u.status, u.token_version, r.family_expires_at
             FROM refresh_tokens r JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.user_id
             JOIN tenants t ON t.id = r.tenant_id AND t.deleted_at IS NULL
             WHERE r.token_hash = $1 AND u.deleted_at IS NULL FOR UPDATE OF r, u",
            &[&tokens::hash_secret(token)],
        )
        .await?
        .ok_or_else(unauthorized)?;
    let (id, user, expires, revoked, status, version): (
        Uuid,
        Uuid,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        String,
        i32,
    ) = (
        row.get(0),
        row.get(1),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
    );
    let family = Family {
        id: row.get(2),
        expires_at: row.get(7),
    };
    if revoked.is_some() {
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
            &[&family.id, &now],
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(tenant = %tenant, user = %user, "refresh token reused; its family is revoked");
        return Err(unauthorized());
    }
    // A family ends at its fixed time, rotated or not: sign in again.
    if expires.min(family.expires_at) <= now || status != "active" {
        return Err(ClinicError::new(
            ErrorCode::InvalidCredentials,
            "This session has ended: sign in again.",
        )
        .into());
    }
    let pair = issue_pair(&tx, key, tenant, user, version, family, now).await?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = $2, replaced_by = (SELECT id FROM refresh_tokens WHERE token_hash = $3) WHERE id = $1",
        &[&id, &now, &tokens::hash_secret(&pair.refresh_token)],
    )
    .await?;
    tx.commit().await?;
    Ok(pair)
}

/// Revokes one refresh token (sign out on this workstation).
pub async fn logout(pool: &Pool, token: &str, now: DateTime<Utc>) -> Result<(), ServerError> {
    let Some(tenant) = tokens::refresh_token_tenant(token) else {
        return Ok(());
    };
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        &[&tokens::hash_secret(token), &now],
    )
    .await?;
    tx.commit().await.map_err(map_db)
}

/// A signed-in user, checked against the database on every request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub permissions: PermissionMatrix,
}

impl AuthUser {
    pub fn require(&self, module: Module, action: Action) -> Result<(), ServerError> {
        self.permissions.require(module, action).map_err(Into::into)
    }

    /// Devices will receive every record of the tenant, clinical ones
    /// included: only an administrator with access to everything manages them.
    pub fn require_full_admin(&self) -> Result<(), ServerError> {
        if self.permissions.is_full_admin() {
            Ok(())
        } else {
            Err(ClinicError::forbidden(
                "Only an administrator with access to all records may manage workstations.",
            )
            .into())
        }
    }
}

pub(crate) async fn permissions(
    tx: &Transaction<'_>,
    user: Uuid,
) -> Result<PermissionMatrix, ServerError> {
    let rows = tx
        .query(
            "SELECT r.permissions FROM users u JOIN roles r ON r.key = ANY(u.role_keys)
             WHERE u.id = $1 AND r.deleted_at IS NULL",
            &[&user],
        )
        .await?;
    let matrices: Vec<PermissionMatrix> = rows
        .iter()
        .filter_map(|r| serde_json::from_value(r.get::<_, serde_json::Value>(0)).ok())
        .collect();
    Ok(PermissionMatrix::union(&matrices))
}

/// Resolves a bearer access token to an active user with a current token version.
pub async fn authenticate(
    pool: &Pool,
    key: &SigningKey,
    bearer: &str,
    now: DateTime<Utc>,
) -> Result<AuthUser, ServerError> {
    let claims = key.verify(bearer, now).ok_or_else(|| {
        ServerError::from(ClinicError::new(
            ErrorCode::InvalidCredentials,
            "Sign in again: the access token is missing, expired or invalid.",
        ))
    })?;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, claims.t).await?;
    let row = tx
        .query_opt(
            // A soft-deleted tenant's sessions end with it.
            "SELECT u.status, u.token_version FROM users u JOIN tenants t ON t.id = u.tenant_id AND t.deleted_at IS NULL
             WHERE u.id = $1 AND u.deleted_at IS NULL",
            &[&claims.u],
        )
        .await?;
    match row {
        Some(r) if r.get::<_, String>(0) == "active" && r.get::<_, i32>(1) == claims.v => {}
        _ => {
            return Err(ClinicError::new(
                ErrorCode::InvalidCredentials,
                "Sign in again: this session was ended.",
            )
            .into())
        }
    }
    let permissions = permissions(&tx, claims.u).await?;
    tx.commit().await?;
    Ok(AuthUser {
        tenant_id: claims.t,
        user_id: claims.u,
        permissions,
    })
}

/// Ends every session of the user: access tokens die with the version bump,
/// refresh tokens are revoked.
pub async fn logout_everywhere(
    pool: &Pool,
    user: &AuthUser,
    now: DateTime<Utc>,
) -> Result<(), ServerError> {
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, user.tenant_id).await?;
    tx.execute(
        "UPDATE users SET token_version = token_version + 1 WHERE id = $1",
        &[&user.user_id],
    )
    .await?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[&user.user_id, &now],
    )
    .await?;
    tx.commit().await.map_err(map_db)
}

/// Adds a user, within the plan's user limit, granting only what the actor has.
pub async fn add_user(
    pool: &Pool,
    actor: &AuthUser,
    req: NewUserRequest,
    now: DateTime<Utc>,
) -> Result<UserView, ServerError> {
    actor.require(Module::Admin, Action::Create)?;
    let mut errs = clinic_core::error::FieldErrors::default();
    let email = req.email.trim().to_lowercase();
    if let Err(m) = clinic_core::patients::validate_email(&email) {
        errs.add("email", m);
    }
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        errs.add("name", "is required (at most 200 characters)");
    }
    errs.into_result()?;
    let password = Password::new_checked(req.password)?;
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let hash = tokio::task::spawn_blocking(move || hash_password(&password, &salt))
        .await
        .map_err(|e| ServerError::Database(e.to_string()))??;
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, actor.tenant_id).await?;
    // The tenant's feed-head row is the tenant's lock: two concurrent
    // additions cannot both squeeze under the limit.
    tx.execute("SELECT 1 FROM feed_heads FOR UPDATE", &[])
        .await?;
    let limit: i32 = tx
        .query_one(
            "SELECT max_users FROM tenants WHERE id = $1",
            &[&actor.tenant_id],
        )
        .await?
        .get(0);
    let count: i64 = tx
        .query_one(
            "SELECT count(*) FROM users WHERE deleted_at IS NULL AND status = 'active'",
            &[],
        )
        .await?
        .get(0);
    if count >= i64::from(limit) {
        return Err(ClinicError::new(
            ErrorCode::Conflict,
            format!("The plan allows {limit} active users; disable one or change the plan."),
        )
        .into());
    }
    let role = tx
        .query_opt(
            "SELECT id, permissions FROM roles WHERE key = $1 AND deleted_at IS NULL",
            &[&req.role],
        )
        .await?
        .ok_or_else(|| ServerError::from(ClinicError::field("role", "unknown role")))?;
    let perms: serde_json::Value = role.get(1);
    let perms: PermissionMatrix = serde_json::from_value(perms).unwrap_or_default();
    if !actor.permissions.covers(&perms) {
        return Err(ClinicError::forbidden(
            "You cannot give a role that allows more than your own.",
        )
        .into());
    }
    let id = Uuid::now_v7();
    let inserted = tx
        .execute(
            "INSERT INTO users (tenant_id, id, email, name, password_hash, role_keys, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            &[&actor.tenant_id, &id, &email, &name, &hash, &vec![req.role.clone()], &now],
        )
        .await;
    if let Err(e) = inserted {
        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
            return Err(
                ClinicError::field("email", "a user with this email already exists").into(),
            );
        }
        return Err(map_db(e));
    }
    // Every desk learns of them: their staff record joins the feed.
    crate::directory::ensure_records(&tx, actor.tenant_id).await?;
    tx.commit().await?;
    Ok(UserView {
        id,
        email,
        name,
        status: "active".into(),
        roles: vec![req.role],
    })
}
