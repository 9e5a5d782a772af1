//! HTTP handlers: they only extract, call the modules, and convert.

use crate::accounts::{self, AuthUser};
use crate::limits::{sign_in_account, user_account};
use crate::{devices, sync, AppState, ServerError};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use clinic_core::api::*;
use clinic_core::auth::Password;
use clinic_core::{ClinicError, ErrorCode};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
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

/// The client's address: the TCP peer, which [`crate::serve`] records for
/// every connection (`ConnectInfo<SocketAddr>`). A router served without it
/// counts all its clients as one (the unspecified address), which limits
/// them together, and says so in the log.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// The TCP peer of a connection, plain or TLS (`serve` records it).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

macro_rules! peer_of {
    ($($listener:ty),*) => { $(
        impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, $listener>> for Peer {
            fn connect_info(stream: axum::serve::IncomingStream<'_, $listener>) -> Self {
                Peer(*stream.remote_addr())
            }
        }
    )* };
}
peer_of!(tokio::net::TcpListener, crate::tls::TlsListener);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(ConnectInfo(Peer(peer))) = parts.extensions.get::<ConnectInfo<Peer>>() {
            return Ok(ClientAddr(peer.ip()));
        }
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                "served without the client's address: every client shares one rate limit"
            );
        });
        Ok(ClientAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
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
              (status = 422, body = ErrorBody), (status = 429, description = "locked after repeated failures (ACCOUNT_LOCKED), or too many attempts from this address or for this account (RATE_LIMITED)", body = ErrorBody, headers(("Retry-After" = u64, description = "with RATE_LIMITED: seconds to wait"))),
              (status = 503, description = "busy: too many sign-ins already wait for a password check or a database connection", body = ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Body(r): Body<LoginRequest>,
) -> Result<Json<TokenPair>, ServerError> {
    s.limits
        .sign_in
        .check(ip, &sign_in_account(&r.tenant, &r.email))?;
    accounts::login(
        s.anonymous_db(),
        &s.signing_key,
        &s.passwords,
        r,
        chrono::Utc::now(),
    )
    .await
    .map(Json)
}

/// Exchanges a refresh token for a new pair (rotation; reuse revokes the family).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, description = "too many refreshes from this address or for this account; the token is not used up", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
              (status = 503, description = "busy: too many requests from nobody signed in already wait for a database connection", body = ErrorBody)))]
pub async fn refresh(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Body(r): Body<RefreshRequest>,
) -> Result<Json<TokenPair>, ServerError> {
    s.limits.refresh.address(ip)?;
    accounts::refresh(
        s.anonymous_db(),
        &s.signing_key,
        &s.limits.refresh,
        &r.refresh_token,
        chrono::Utc::now(),
    )
    .await
    .map(Json)
}

/// Starts multi-factor sign-in for the signed-in user.
#[utoipa::path(post, path = "/v1/auth/mfa/setup", tag = "auth", request_body = MfaSetupRequest, security(("bearer" = [])),
    responses((status = 200, body = MfaSetup), (status = 401, body = ErrorBody),
              (status = 429, description = "locked after repeated failures (ACCOUNT_LOCKED), or too many attempts (RATE_LIMITED)", body = ErrorBody, headers(("Retry-After" = u64, description = "with RATE_LIMITED: seconds to wait"))),
              (status = 503, description = "too many passwords waiting to be checked", body = ErrorBody)))]
pub async fn mfa_setup(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    user: AuthUser,
    Body(r): Body<MfaSetupRequest>,
) -> Result<Json<MfaSetup>, ServerError> {
    // Confirming a password is a sign-in attempt.
    s.limits
        .sign_in
        .check(ip, &user_account(user.tenant_id, user.user_id))?;
    accounts::mfa_setup(
        &s.pool,
        &s.passwords,
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
    responses((status = 204, description = "revoked (or already unknown)"), (status = 422, body = ErrorBody),
              (status = 503, description = "busy: too many requests from nobody signed in already wait for a database connection", body = ErrorBody)))]
pub async fn logout(
    State(s): State<AppState>,
    Body(r): Body<RefreshRequest>,
) -> Result<StatusCode, ServerError> {
    accounts::logout(s.anonymous_db(), &r.refresh_token, chrono::Utc::now())
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
    accounts::add_user(&s.pool, &s.passwords, &user, r, chrono::Utc::now())
        .await
        .map(|u| (StatusCode::CREATED, Json(u)))
}

/// Enrols a workstation (administrators); the credential is shown once.
#[utoipa::path(post, path = "/v1/devices", tag = "devices", request_body = EnrollRequest, security(("bearer" = [])),
    responses((status = 201, body = Enrollment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, description = "no such site", body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, description = "too many enrolments from this address or by this administrator", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait")))))]
pub async fn enroll(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    user: AuthUser,
    Body(r): Body<EnrollRequest>,
) -> Result<(StatusCode, Json<Enrollment>), ServerError> {
    s.limits
        .enrol
        .check(ip, &user_account(user.tenant_id, user.user_id))?;
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

/// The clinic's enrolled workstations and when each last reached the server
/// (for a desk closing the books).
#[utoipa::path(get, path = "/v1/device/peers", tag = "devices", security(("device" = [])),
    responses((status = 200, body = [DeviceView]), (status = 401, body = ErrorBody)))]
pub async fn peers(
    State(s): State<AppState>,
    AuthDevice(d): AuthDevice,
) -> Result<Json<Vec<DeviceView>>, ServerError> {
    devices::peers(&s.pool, d.tenant_id).await.map(Json)
}

/// The raw device credential of a request (for the credential's own renewal).
#[derive(Debug)]
pub struct DeviceSecret(pub String);

impl FromRequestParts<AppState> for DeviceSecret {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(DeviceSecret(
            bearer(parts, "Device").unwrap_or_default().to_string(),
        ))
    }
}

/// A new credential for the workstation making the request (sync asks well
/// before its own expires); the one it used keeps working for a day.
#[utoipa::path(post, path = "/v1/device/credential", tag = "devices", security(("device" = [])),
    responses((status = 200, body = DeviceCredential), (status = 401, description = "unknown, revoked or expired credential", body = ErrorBody)))]
pub async fn rotate_credential(
    State(s): State<AppState>,
    DeviceSecret(credential): DeviceSecret,
) -> Result<Json<DeviceCredential>, ServerError> {
    devices::rotate(&s.pool, &credential, chrono::Utc::now())
        .await
        .map(Json)
}

/// An administrator signed in on a workstation renews its expired
/// credential (not a revoked one); the expired credential proves which
/// workstation it is.
#[utoipa::path(post, path = "/v1/devices/{id}/renew", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "device id")), request_body = RenewRequest,
    responses((status = 200, body = DeviceCredential), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn renew_device(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Body(r): Body<RenewRequest>,
) -> Result<Json<DeviceCredential>, ServerError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| ServerError::from(ClinicError::not_found("Device")))?;
    devices::renew(&s.pool, &user, id, &r.device_credential, chrono::Utc::now())
        .await
        .map(Json)
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
