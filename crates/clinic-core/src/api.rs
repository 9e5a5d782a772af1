//! Request and response bodies of the sync server's HTTP API, shared by the
//! server and the workstation's client so the two cannot drift apart.
//! Unknown fields are refused, so a typo in a request is an error, not a no-op.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
    pub password: String,
    /// The authenticator app's 6-digit code, for accounts with multi-factor sign-in.
    #[serde(default)]
    pub totp: Option<String>,
}

/// Re-authentication for starting (or replacing) multi-factor sign-in: a
/// stolen access token alone must not be enough to swap the authenticator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MfaSetupRequest {
    pub password: String,
    /// The current authenticator code, when multi-factor sign-in is already on.
    #[serde(default)]
    pub code: Option<String>,
}

/// Starts multi-factor sign-in: add the secret to an authenticator app,
/// then confirm with its first code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaSetup {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://` URI for a QR code.
    pub otpauth_uri: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MfaConfirmRequest {
    pub code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPair {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub email: String,
    pub name: String,
    pub role: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub status: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// A name people recognise, e.g. "Front desk 1".
    pub name: String,
    /// The site the workstation belongs to; the tenant's first site if omitted.
    pub site_id: Option<Uuid>,
}

/// Returned once, at enrolment: the credential is never shown again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrollment {
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub site_id: Uuid,
    pub site_name: String,
    pub site_timezone: String,
    pub device_id: Uuid,
    /// `Device` authorization credential for sync requests.
    pub device_credential: String,
    /// The enrolling user, and their role keys (so they can sign in offline).
    pub user_id: Uuid,
    pub user_name: String,
    pub user_roles: Vec<String>,
    /// The first block of each number series leased to this device.
    pub number_blocks: Vec<crate::sync::NumberBlock>,
}

/// Every error answer: `{"error": {...}}` with a stable code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: crate::ClinicError,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceView {
    pub id: Uuid,
    pub name: String,
    pub site_id: Uuid,
    pub enrolled_by: Uuid,
    pub enrolled_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceIdentity {
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub site_id: Uuid,
}

/// Provisioning a tenant through the operator API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTenantRequest {
    pub slug: String,
    pub name: String,
    pub admin_email: String,
    #[serde(default)]
    pub admin_name: Option<String>,
    pub admin_password: String,
    /// basic | standard | enterprise (default standard)
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub site_name: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
}
