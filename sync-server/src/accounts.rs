//! Sign-in, token refresh and revocation, and users under plan limits.

use crate::db::{map_db, tenant_tx, Share};
use crate::limits::Limiter;
use crate::passwords::PasswordWork;
use crate::tokens::{self, AccessClaims, SigningKey};
use crate::ServerError;
use chrono::{DateTime, Duration, Utc};
use clinic_core::api::{LoginRequest, NewUserRequest, TokenPair, UserView};
use clinic_core::auth::Password;
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

/// What a sign-in needs to know of an account, read in a short transaction
/// that is over before the password is checked.
#[derive(Debug)]
struct Account {
    id: Uuid,
    password_hash: String,
    active: bool,
    locked_until: Option<DateTime<Utc>>,
    token_version: i32,
    mfa_secret: Option<String>,
    mfa_last_step: Option<i64>,
    must_change_password: bool,
}

const ACCOUNT_COLUMNS: &str = "id, password_hash, status = 'active', locked_until, token_version, mfa_secret, mfa_last_step, must_change_password";

impl Account {
    fn from_row(row: &tokio_postgres::Row) -> Self {
        Account {
            id: row.get(0),
            password_hash: row.get(1),
            active: row.get(2),
            locked_until: row.get(3),
            token_version: row.get(4),
            mfa_secret: row.get(5),
            mfa_last_step: row.get(6),
            must_change_password: row.get(7),
        }
    }

    fn locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|u| u > now)
    }

    /// The decoded multi-factor secret, when multi-factor sign-in is on.
    fn totp_secret(&self) -> Option<Vec<u8>> {
        self.mfa_secret
            .as_deref()
            .and_then(clinic_core::totp::base32_decode)
    }
}

fn account_locked() -> ServerError {
    ClinicError::new(
        ErrorCode::AccountLocked,
        "Too many failed sign-ins; try again in a few minutes.",
    )
    .into()
}

/// The tenant and account a sign-in names, if both exist; the connection
/// is back in the pool when this returns.
async fn account_for_sign_in(
    db: Share<'_>,
    tenant_slug: &str,
    email: &str,
) -> Result<Option<(Uuid, Account)>, ServerError> {
    let mut client = db.conn().await?;
    let tenant: Option<Uuid> = client
        .query_one(
            "SELECT tenant_id_for_slug($1)",
            &[&tenant_slug.trim().to_lowercase()],
        )
        .await?
        .get(0);
    let Some(tenant) = tenant else {
        return Ok(None);
    };
    let tx = tenant_tx(&mut client, tenant).await?;
    let row = tx
        .query_opt(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE email = $1 AND deleted_at IS NULL"),
            &[&email.trim().to_lowercase()],
        )
        .await?;
    tx.commit().await?;
    Ok(row.map(|r| (tenant, Account::from_row(&r))))
}

/// Counts a failed password or code, in one statement, so that failures
/// checked at the same time all count. Counting starts again once an
/// earlier lock has run out; the fifth failure locks the account.
async fn record_failure(
    client: &mut deadpool_postgres::Client,
    tenant: Uuid,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServerError> {
    let tx = tenant_tx(client, tenant).await?;
    tx.execute(
        "UPDATE users SET
           failed_logins = CASE WHEN locked_until <= $2 THEN 1 ELSE failed_logins + 1 END,
           locked_until = CASE
             WHEN locked_until > $2 THEN locked_until
             WHEN (CASE WHEN locked_until <= $2 THEN 1 ELSE failed_logins + 1 END) >= $3 THEN $2 + make_interval(mins => $4)
           END
         WHERE id = $1",
        &[&user, &now, &MAX_FAILED_LOGINS, &(LOCKOUT_MINUTES as i32)],
    )
    .await?;
    tx.commit().await.map_err(map_db)
}

/// Why a check that succeeded did not count: the account was locked
/// meanwhile (by failures checked at the same time), or else `otherwise`
/// (its password, code or state changed meanwhile).
async fn changed_meanwhile(
    tx: &Transaction<'_>,
    user: Uuid,
    now: DateTime<Utc>,
    otherwise: ServerError,
) -> Result<ServerError, ServerError> {
    let locked: Option<DateTime<Utc>> = tx
        .query_opt("SELECT locked_until FROM users WHERE id = $1", &[&user])
        .await?
        .and_then(|r| r.get(0));
    Ok(if locked.is_some_and(|u| u > now) {
        account_locked()
    } else {
        otherwise
    })
}

/// Signs a user in. Five failures (wrong password or wrong one-time code)
/// lock the account for five minutes; every refusal reads the same, except
/// that an account with multi-factor sign-in asks for its code once the
/// password is right. The password is checked with no connection held; the
/// sign-in then counts only if the account did not change meanwhile.
pub async fn login(
    db: Share<'_>,
    key: &SigningKey,
    work: &PasswordWork,
    req: LoginRequest,
    now: DateTime<Utc>,
) -> Result<TokenPair, ServerError> {
    let (password, totp) = (Password::new(req.password), req.totp.as_deref());
    let Some((tenant, account)) = account_for_sign_in(db, &req.tenant, &req.email).await? else {
        work.verify(password, None).await?;
        return Err(unauthorized());
    };
    if account.locked(now) {
        return Err(account_locked());
    }
    let mut ok = work
        .verify(password, Some(account.password_hash.clone()))
        .await?;
    if ok && account.active && account.must_change_password {
        return Err(ClinicError::new(
            ErrorCode::PasswordChangeRequired,
            "An administrator reset this password: sign in on a workstation and choose a new one first.",
        )
        .into());
    }
    let mut mfa_step = None;
    if ok && account.active {
        if let Some(secret) = account.totp_secret() {
            let Some(code) = totp else {
                return Err(ClinicError::new(
                    ErrorCode::MfaRequired,
                    "Enter the 6-digit code from your authenticator app.",
                )
                .into());
            };
            mfa_step =
                clinic_core::totp::verify(&secret, code, now.timestamp(), account.mfa_last_step);
            ok = mfa_step.is_some();
        }
    }
    if !ok {
        let mut client = db.conn().await?;
        record_failure(&mut client, tenant, account.id, now).await?;
        return Err(unauthorized());
    }
    if !account.active {
        return Err(unauthorized());
    }
    let mut client = db.conn().await?;
    let tx = tenant_tx(&mut client, tenant).await?;
    // Only if what was checked is still so: the same password, sessions,
    // state and multi-factor secret, no lock, and the code not used since.
    let signed_in = tx
        .execute(
            "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $2,
                    mfa_last_step = COALESCE($3, mfa_last_step)
             WHERE id = $1 AND password_hash = $4 AND token_version = $5 AND status = 'active'
               AND deleted_at IS NULL AND NOT must_change_password
               AND (locked_until IS NULL OR locked_until <= $2)
               AND mfa_secret IS NOT DISTINCT FROM $6
               AND ($3::bigint IS NULL OR mfa_last_step IS NULL OR mfa_last_step < $3)",
            &[
                &account.id,
                &now,
                &mfa_step,
                &account.password_hash,
                &account.token_version,
                &account.mfa_secret,
            ],
        )
        .await?;
    if signed_in == 0 {
        return Err(changed_meanwhile(&tx, account.id, now, unauthorized()).await?);
    }
    let pair = issue_pair(
        &tx,
        key,
        tenant,
        account.id,
        account.token_version,
        Family::start(now),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(pair)
}

/// Starts (or replaces) multi-factor sign-in for the signed-in user, who
/// proves it again with the password and, if it is already on, the current
/// code. A wrong password or code counts towards the lockout like a failed
/// sign-in. The new secret waits until its first code is confirmed.
pub async fn mfa_setup(
    pool: &Pool,
    work: &PasswordWork,
    user: &AuthUser,
    password: Password,
    code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<clinic_core::api::MfaSetup, ServerError> {
    let account = {
        let mut client = crate::db::conn(pool).await?;
        let tx = tenant_tx(&mut client, user.tenant_id).await?;
        let row = tx
            .query_one(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1"),
                &[&user.user_id],
            )
            .await?;
        tx.commit().await?;
        Account::from_row(&row)
    };
    if account.locked(now) {
        return Err(account_locked());
    }
    let refused = || {
        ServerError::from(ClinicError::new(
            ErrorCode::InvalidCredentials,
            "Confirm with your password (and current code) to change multi-factor sign-in.",
        ))
    };
    let mut ok = work
        .verify(password, Some(account.password_hash.clone()))
        .await?;
    let mut step = None;
    if let (true, Some(secret)) = (ok, account.totp_secret()) {
        step = code.and_then(|c| {
            clinic_core::totp::verify(&secret, c, now.timestamp(), account.mfa_last_step)
        });
        ok = step.is_some();
    }
    if !ok {
        let mut client = crate::db::conn(pool).await?;
        record_failure(&mut client, user.tenant_id, user.user_id, now).await?;
        return Err(refused());
    }
    let mut secret = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = clinic_core::totp::base32_encode(&secret);
    let mut client = crate::db::conn(pool).await?;
    let tx = tenant_tx(&mut client, user.tenant_id).await?;
    // As at sign-in: only if the password, secret and lock are as checked.
    let row = tx
        .query_opt(
            "UPDATE users SET mfa_pending_secret = $2, mfa_last_step = COALESCE($3, mfa_last_step),
                    failed_logins = 0, locked_until = NULL
             WHERE id = $1 AND password_hash = $4 AND mfa_secret IS NOT DISTINCT FROM $5
               AND (locked_until IS NULL OR locked_until <= $6)
               AND ($3::bigint IS NULL OR mfa_last_step IS NULL OR mfa_last_step < $3)
             RETURNING email, (SELECT slug FROM tenants)",
            &[
                &user.user_id,
                &secret,
                &step,
                &account.password_hash,
                &account.mfa_secret,
                &now,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Err(changed_meanwhile(&tx, user.user_id, now, refused()).await?);
    };
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
/// was stolen: its whole family is revoked and the answer is 401. Each
/// user's refreshes are rate-limited by `limit`.
pub async fn refresh(
    db: Share<'_>,
    key: &SigningKey,
    limit: &Limiter,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TokenPair, ServerError> {
    let tenant = tokens::refresh_token_tenant(token).ok_or_else(unauthorized)?;
    let mut client = db.conn().await?;
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
    // Refused before anything changes: the token stays usable.
    limit.account(&crate::limits::user_account(tenant, user))?;
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
pub async fn logout(db: Share<'_>, token: &str, now: DateTime<Utc>) -> Result<(), ServerError> {
    let Some(tenant) = tokens::refresh_token_tenant(token) else {
        return Ok(());
    };
    let mut client = db.conn().await?;
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
    work: &PasswordWork,
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
    let id = Uuid::now_v7();
    let key = work
        .signing_key(actor.tenant_id, id, password.clone())
        .await?;
    let key = serde_json::to_value(key).map_err(|e| ServerError::Database(e.to_string()))?;
    let hash = work.hash(password).await?;
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
    let inserted = tx
        .execute(
            "INSERT INTO users (tenant_id, id, email, name, password_hash, role_keys, created_at, updated_at, signing_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
            &[&actor.tenant_id, &id, &email, &name, &hash, &vec![req.role.clone()], &now, &key],
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
