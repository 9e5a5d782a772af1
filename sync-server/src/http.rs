//! HTTP handlers: they only extract, call the modules, and convert.

use crate::accounts::{self, AuthUser};
use crate::{devices, sync, AppState, ServerError};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use clinic_core::api::*;
use clinic_core::auth::Password;
use clinic_core::{ClinicError, ErrorCode};
use uuid::Uuid;

/// JSON bodies with refusals phrased in the shared error shape (400, not
/// axum's plain-text rejection).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Body<T>
where
    Json<T>: axum::extract::FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ServerError::TooLarge),
            Err(e) => Err(ClinicError::new(
                ErrorCode::Validation,
                format!("The request body is not valid: {}", e.body_text()),
            )
            .into()),
        }
    }
}

/// Query parameters with refusals phrased in the shared error shape (422,
/// like bodies; not axum's plain-text 400).
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(e) => Err(ClinicError::new(
                ErrorCode::Validation,
                format!("The query parameters are not valid: {}", e.body_text()),
            )
            .into()),
        }
    }
}

fn bearer<'a>(parts: &'a Parts, scheme: &str) -> Option<&'a str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix(scheme)?
        .strip_prefix(' ')
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts, "Bearer").unwrap_or_default();
        accounts::authenticate(&state.pool, &state.signing_key, token, chrono::Utc::now()).await
    }
}

/// A request made by an enrolled, unrevoked workstation.
#[derive(Debug)]
pub struct AuthDevice(pub DeviceIdentity);

impl FromRequestParts<AppState> for AuthDevice {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let credential = bearer(parts, "Device").unwrap_or_default();
        devices::identify(&state.pool, credential, chrono::Utc::now())
            .await
            .map(AuthDevice)
    }
}

/// Signs a member of staff in.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "wrong tenant, email or password", body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, description = "locked after repeated failures", body = ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    Body(r): Body<LoginRequest>,
) -> Result<Json<TokenPair>, ServerError> {
    accounts::login(
        &s.pool,
        &s.signing_key,
        &r.tenant,
        &r.email,
        Password::new(r.password),
        r.totp.as_deref(),
        chrono::Utc::now(),
    )
    .await
    .map(Json)
}

/// Exchanges a refresh token for a new pair (rotation; reuse revokes the family).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn refresh(
    State(s): State<AppState>,
    Body(r): Body<RefreshRequest>,
) -> Result<Json<TokenPair>, ServerError> {
    accounts::refresh(
        &s.pool,
        &s.signing_key,
        &r.refresh_token,
        chrono::Utc::now(),
    )
    .await
    .map(Json)
}

/// Starts multi-factor sign-in for the signed-in user.
#[utoipa::path(post, path = "/v1/auth/mfa/setup", tag = "auth", request_body = MfaSetupRequest, security(("bearer" = [])),
    responses((status = 200, body = MfaSetup), (status = 401, body = ErrorBody)))]
pub async fn mfa_setup(
    State(s): State<AppState>,
    user: AuthUser,
    Body(r): Body<MfaSetupRequest>,
) -> Result<Json<MfaSetup>, ServerError> {
    accounts::mfa_setup(
        &s.pool,
        &user,
        Password::new(r.password),
        r.code.as_deref(),
        chrono::Utc::now(),
    )
    .await
    .map(Json)
}

/// Turns multi-factor sign-in on with the authenticator's first code.
#[utoipa::path(post, path = "/v1/auth/mfa/confirm", tag = "auth", request_body = MfaConfirmRequest, security(("bearer" = [])),
    responses((status = 204, description = "multi-factor sign-in is on"), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn mfa_confirm(
    State(s): State<AppState>,
    user: AuthUser,
    Body(r): Body<MfaConfirmRequest>,
) -> Result<StatusCode, ServerError> {
    accounts::mfa_confirm(&s.pool, &user, &r.code, chrono::Utc::now())
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Revokes a refresh token.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "revoked (or already unknown)"), (status = 422, body = ErrorBody)))]
pub async fn logout(
    State(s): State<AppState>,
    Body(r): Body<RefreshRequest>,
) -> Result<StatusCode, ServerError> {
    accounts::logout(&s.pool, &r.refresh_token, chrono::Utc::now())
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Ends every session of the signed-in user.
#[utoipa::path(post, path = "/v1/auth/logout-everywhere", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "all sessions ended"), (status = 401, body = ErrorBody)))]
pub async fn logout_everywhere(
    State(s): State<AppState>,
    user: AuthUser,
) -> Result<StatusCode, ServerError> {
    accounts::logout_everywhere(&s.pool, &user, chrono::Utc::now())
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// Adds a user within the plan's limit (administrators).
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = NewUserRequest, security(("bearer" = [])),
    responses((status = 201, body = UserView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "plan limit reached", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_user(
    State(s): State<AppState>,
    user: AuthUser,
    Body(r): Body<NewUserRequest>,
) -> Result<(StatusCode, Json<UserView>), ServerError> {
    accounts::add_user(&s.pool, &user, r, chrono::Utc::now())
        .await
        .map(|u| (StatusCode::CREATED, Json(u)))
}

/// Enrols a workstation (administrators); the credential is shown once.
#[utoipa::path(post, path = "/v1/devices", tag = "devices", request_body = EnrollRequest, security(("bearer" = [])),
    responses((status = 201, body = Enrollment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, description = "no such site", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn enroll(
    State(s): State<AppState>,
    user: AuthUser,
    Body(r): Body<EnrollRequest>,
) -> Result<(StatusCode, Json<Enrollment>), ServerError> {
    devices::enroll(&s.pool, &user, r, chrono::Utc::now())
        .await
        .map(|e| (StatusCode::CREATED, Json(e)))
}

/// Lists the tenant's workstations (administrators).
#[utoipa::path(get, path = "/v1/devices", tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = [DeviceView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_devices(
    State(s): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<DeviceView>>, ServerError> {
    devices::list(&s.pool, &user).await.map(Json)
}

/// Revokes a workstation (administrators). Unknown ids and other tenants' ids are both 404.
#[utoipa::path(post, path = "/v1/devices/{id}/revoke", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "device id")),
    responses((status = 204, description = "revoked"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_device(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ServerError> {
    // A malformed id is as unknown as an id of another tenant.
    let id =
        Uuid::parse_str(&id).map_err(|_| ServerError::from(ClinicError::not_found("Device")))?;
    devices::revoke(&s.pool, &user, id, chrono::Utc::now())
        .await
        .map(|()| StatusCode::NO_CONTENT)
}

/// The enrolled workstation making the request; refused once revoked.
#[utoipa::path(get, path = "/v1/device/whoami", tag = "devices", security(("device" = [])),
    responses((status = 200, body = DeviceIdentity), (status = 401, body = ErrorBody)))]
pub async fn whoami(AuthDevice(d): AuthDevice) -> Json<DeviceIdentity> {
    Json(d)
}

/// The operator of the server (not a tenant's user), by `Authorization: Operator <token>`.
#[derive(Debug)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Switched off: the route does not exist as far as anyone can tell.
        let expected = state
            .operator_token_hash
            .as_ref()
            .ok_or_else(|| ServerError::from(ClinicError::not_found("Page")))?;
        let given = bearer(parts, "Operator").unwrap_or_default();
        if crate::tokens::same_hash(expected, &crate::tokens::hash_secret(given)) {
            Ok(Operator)
        } else {
            Err(ClinicError::new(
                ErrorCode::InvalidCredentials,
                "The operator token is missing or wrong.",
            )
            .into())
        }
    }
}

/// Provisions a tenant and its first administrator (operator only).
#[utoipa::path(post, path = "/admin/tenants", tag = "operator", request_body = NewTenantRequest, security(("operator" = [])),
    responses((status = 201, body = crate::tenants::TenantCreated), (status = 401, body = ErrorBody),
              (status = 404, description = "the operator API is switched off", body = ErrorBody),
              (status = 409, description = "slug taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_tenant(
    State(s): State<AppState>,
    _operator: Operator,
    Body(r): Body<NewTenantRequest>,
) -> Result<(StatusCode, Json<crate::tenants::TenantCreated>), ServerError> {
    let t = crate::tenants::NewTenant {
        slug: r.slug,
        name: r.name,
        admin_email: r.admin_email,
        admin_name: r.admin_name.unwrap_or_else(|| "Administrator".into()),
        admin_password: Password::new_checked(r.admin_password)?,
        plan: r.plan.unwrap_or_else(|| "standard".into()),
        site_name: r.site_name.unwrap_or_else(|| "Main site".into()),
        timezone: r.timezone.unwrap_or_else(|| "Europe/London".into()),
    };
    crate::tenants::create_tenant(&s.pool, t, chrono::Utc::now())
        .await
        .map(|c| (StatusCode::CREATED, Json(c)))
}

/// Uploads a batch of this workstation's mutations (and audit events).
/// Idempotent: mutations the server applied before are answered with their
/// recorded outcomes; a jump in numbering stops the batch (`gap`).
#[utoipa::path(post, path = "/v1/sync/push", tag = "sync", security(("device" = [])),
    request_body = clinic_core::sync::PushRequest,
    responses((status = 200, body = clinic_core::sync::PushResponse), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 426, description = "protocol version differs", body = ErrorBody)))]
pub async fn sync_push(
    State(s): State<AppState>,
    AuthDevice(d): AuthDevice,
    Body(r): Body<clinic_core::sync::PushRequest>,
) -> Result<Json<clinic_core::sync::PushResponse>, ServerError> {
    sync::push(&s.pool, &s.feed_signals, &d, r).await.map(Json)
}

/// A page of the tenant's change feed after a cursor; long-polls when caught up.
#[utoipa::path(get, path = "/v1/sync/pull", tag = "sync", security(("device" = [])), params(sync::PullQuery),
    responses((status = 200, body = clinic_core::sync::PullResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sync_pull(
    State(s): State<AppState>,
    AuthDevice(d): AuthDevice,
    Params(q): Params<sync::PullQuery>,
) -> Result<Json<clinic_core::sync::PullResponse>, ServerError> {
    sync::pull(&s.pool, &s.feed_signals, &d, q).await.map(Json)
}

/// Checksums of the tenant's records in 64 buckets (compare a whole copy).
#[utoipa::path(get, path = "/v1/sync/checksums", tag = "sync", security(("device" = [])),
    responses((status = 200, description = "hex checksum per bucket", body = [String]), (status = 401, body = ErrorBody)))]
pub async fn sync_checksums(
    State(s): State<AppState>,
    AuthDevice(d): AuthDevice,
) -> Result<Json<clinic_core::sync::BucketSums>, ServerError> {
    sync::checksums(&s.pool, &d).await.map(Json)
}

/// The records of some buckets with their documents (repair what differs).
#[utoipa::path(post, path = "/v1/sync/records", tag = "sync", security(("device" = [])), request_body = clinic_core::sync::BucketsRequest,
    responses((status = 200, body = clinic_core::sync::RecordsPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sync_records(
    State(s): State<AppState>,
    AuthDevice(d): AuthDevice,
    Body(r): Body<clinic_core::sync::BucketsRequest>,
) -> Result<Json<clinic_core::sync::RecordsPage>, ServerError> {
    if r.buckets
        .iter()
        .any(|b| *b >= clinic_core::sync::CHECKSUM_BUCKETS)
    {
        return Err(ClinicError::field(
            "buckets",
            format!(
                "bucket numbers are 0 to {}",
                clinic_core::sync::CHECKSUM_BUCKETS - 1
            ),
        )
        .into());
    }
    sync::records_page(&s.pool, &d, &r.buckets, r.after, r.limit)
        .await
        .map(Json)
}
