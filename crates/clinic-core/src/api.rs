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
    /// When it stops working unless sync renews it first.
    #[serde(default)]
    pub credential_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The enrolling user, and their role keys (so they can sign in offline).
    pub user_id: Uuid,
    pub user_name: String,
    pub user_roles: Vec<String>,
    /// The enrolling user's signing key, sealed by their password (so the
    /// desk signs their changes from their first sign-in there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<crate::signing::UserKey>,
    /// The enrolling user's password hash as every desk receives it (on
    /// their staff record), so the new desk holds the same one from the
    /// start (a desk's remembered unlock names the hash it was made with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
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
    /// When the credential the request used stops working (it is renewed
    /// by sync well before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A device credential the server issued, and when it stops working.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceCredential {
    pub device_credential: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// An administrator renews the expired credential of a workstation they
/// are signed in on; the expired credential proves which workstation it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    pub device_credential: String,
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

/// A pin on a sync server's public key: the SHA-256 of its certificate's
/// SubjectPublicKeyInfo (DER), written `SHA256:<64 hex digits>`. Pinning the
/// key rather than the certificate keeps a renewed certificate with the same
/// key working (trust on first use for a clinic's own server on its LAN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyPin([u8; 32]);

impl KeyPin {
    /// The pin of a public key given as SubjectPublicKeyInfo DER.
    pub fn of_public_key(spki_der: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        Self(Sha256::digest(spki_der).into())
    }

    /// The pin of the public key a certificate (DER) carries.
    #[cfg(feature = "x509")]
    pub fn of_certificate(der: &[u8]) -> crate::ClinicResult<Self> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
            crate::ClinicError::field("certificate", format!("not an X.509 certificate: {e}"))
        })?;
        Ok(Self::of_public_key(cert.tbs_certificate.subject_pki.raw))
    }

    /// Reads `SHA256:<hex>` (the prefix in any case; the hex may be split by
    /// colons or spaces as people copy it from a screen).
    pub fn parse(text: &str) -> crate::ClinicResult<Self> {
        let bad = || {
            crate::ClinicError::field(
                "fingerprint",
                "give the server's fingerprint as `SHA256:` and 64 hex digits (`sync-server tls fingerprint` prints it)",
            )
        };
        let t = text.trim();
        let rest = t
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("sha256:"))
            .map(|_| &t[7..])
            .ok_or_else(bad)?;
        let digits: Vec<u8> = rest.bytes().filter(|b| !matches!(b, b':' | b' ')).collect();
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|_| bad())?;
            out[i] = u8::from_str_radix(s, 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    /// Whether `spki_der` is the pinned key.
    pub fn matches(&self, spki_der: &[u8]) -> bool {
        *self == Self::of_public_key(spki_der)
    }
}

impl std::fmt::Display for KeyPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SHA256:{}", crate::sync::feed::hex(&self.0))
    }
}

/// Whether `host` (of a URL, IPv6 with or without brackets) is this machine:
/// the only place plain `http://` is allowed, for the demo and tests.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod pin_tests {
    use super::*;

    #[test]
    fn a_pin_reads_back_what_it_prints_and_refuses_anything_else() {
        let pin = KeyPin::of_public_key(b"some key");
        let text = pin.to_string();
        assert!(
            text.starts_with("SHA256:") && text.len() == 7 + 64,
            "{text}"
        );
        assert_eq!(KeyPin::parse(&text).unwrap(), pin);
        assert_eq!(KeyPin::parse(&text.to_uppercase()).unwrap(), pin);
        let spaced: String = text.as_bytes()[7..]
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(KeyPin::parse(&format!("sha256:{spaced}")).unwrap(), pin);
        assert!(pin.matches(b"some key") && !pin.matches(b"other key"));
        for bad in [
            "",
            "SHA256:",
            &text[7..],
            &text[..70],
            "SHA1:00",
            &format!("{text}00"),
        ] {
            let e = KeyPin::parse(bad).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::Validation, "{bad}");
        }
        assert!(KeyPin::parse(&format!("SHA256:{}", "zz".repeat(32))).is_err());
    }

    #[test]
    fn only_this_machine_counts_as_loopback() {
        for h in [
            "localhost",
            "127.0.0.1",
            "127.8.9.1",
            "[::1]",
            "::1",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "10.0.0.5",
            "192.168.1.2",
            "clinic.local",
            "[fe80::1]",
            "0.0.0.0",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
