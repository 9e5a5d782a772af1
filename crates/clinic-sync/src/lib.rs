//! The client half of sync: talks to the sync server over HTTP. Server
//! answers come back in the shared error vocabulary; a server that cannot be
//! reached is `UNREACHABLE`, which the workstation treats as "offline".

use clinic_core::api::{DeviceIdentity, EnrollRequest, Enrollment, LoginRequest, TokenPair};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// A sync server at `base_url` (e.g. `http://127.0.0.1:8480`).
#[derive(Debug, Clone)]
pub struct ServerClient {
    base: String,
    http: reqwest::blocking::Client,
}

impl ServerClient {
    pub fn new(base_url: &str) -> ClinicResult<Self> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClinicError::validation(vec![clinic_core::FieldError {
                field: "server".into(),
                message: "give the server's address with http:// or https://".into(),
            }]));
        }
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(ClinicError::internal)?;
        Ok(Self { base, http })
    }

    /// The error for a server that could not be reached (the workstation is offline).
    fn unreachable(&self, e: reqwest::Error) -> ClinicError {
        ClinicError::new(
            ErrorCode::Unreachable,
            format!(
                "The sync server at {} cannot be reached ({}).",
                self.base,
                e.without_url()
            ),
        )
    }

    fn send<T: DeserializeOwned>(&self, req: reqwest::blocking::RequestBuilder) -> ClinicResult<T> {
        let res = req.send().map_err(|e| self.unreachable(e))?;
        let status = res.status();
        let text = res
            .text()
            .map_err(|e| ClinicError::new(ErrorCode::Unreachable, e.without_url().to_string()))?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                ClinicError::internal(format!("unexpected answer from the server: {e}"))
            });
        }
        match serde_json::from_str::<clinic_core::api::ErrorBody>(&text) {
            Ok(b) => Err(b.error),
            Err(_) => Err(ClinicError::internal(format!(
                "the server answered {status}"
            ))),
        }
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        auth: Option<String>,
        body: &B,
    ) -> ClinicResult<T> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        self.send(req)
    }

    pub fn login(
        &self,
        tenant: &str,
        email: &str,
        password: &str,
        totp: Option<&str>,
    ) -> ClinicResult<TokenPair> {
        self.post(
            "/v1/auth/login",
            None,
            &LoginRequest {
                tenant: tenant.into(),
                email: email.into(),
                password: password.into(),
                totp: totp.map(str::to_string),
            },
        )
    }

    pub fn enroll(&self, access_token: &str, name: &str) -> ClinicResult<Enrollment> {
        self.post(
            "/v1/devices",
            Some(format!("Bearer {access_token}")),
            &EnrollRequest {
                name: name.into(),
                site_id: None,
            },
        )
    }

    /// Revokes a refresh token (signing out of the server).
    pub fn logout(&self, refresh_token: &str) -> ClinicResult<()> {
        let res = self
            .http
            .post(format!("{}/v1/auth/logout", self.base))
            .json(&clinic_core::api::RefreshRequest {
                refresh_token: refresh_token.into(),
            })
            .send()
            .map_err(|e| self.unreachable(e))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(ClinicError::internal(format!(
                "the server answered {} to sign-out",
                res.status()
            )))
        }
    }

    /// Who the server thinks this device is (refused once it is revoked).
    pub fn whoami(&self, device_credential: &str) -> ClinicResult<DeviceIdentity> {
        self.send(
            self.http
                .get(format!("{}/v1/device/whoami", self.base))
                .header("authorization", format!("Device {device_credential}")),
        )
    }
}
