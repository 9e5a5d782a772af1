//! The client half of sync: the engine that pushes the outbox and applies
//! the change feed ([`engine`], over the small [`engine::Transport`] trait),
//! the live loop ([`live`]), and the HTTP client of the sync server. Server
//! answers come back in the shared error vocabulary; a server that cannot be
//! reached is `UNREACHABLE`, which the workstation treats as "offline".

pub mod engine;
pub mod live;
mod pin;

use clinic_core::api::{
    DeviceCredential, DeviceIdentity, EnrollRequest, Enrollment, KeyPin, LoginRequest, TokenPair,
};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Read;
use std::time::Duration;

/// The most a server's answer may hold once decompressed. A pull page of
/// 2,000 changes is about 2.3 MB of JSON; a small compressed body that
/// expands past this (a broken or hostile server) is refused rather than
/// read into memory.
pub const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// A sync server at `base_url` (e.g. `https://clinic-server:8480`),
/// verified against the system's certificate authorities or, for a
/// clinic's own server, a pinned public key.
#[derive(Debug, Clone)]
pub struct ServerClient {
    base: String,
    http: reqwest::blocking::Client,
    answer_limit: u64,
    pin: Option<pin::PinnedKey>,
}

/// Checks a server address: `https://`, or `http://` to this machine only
/// (anything else would send passwords and patients in clear text).
pub fn check_server_url(base_url: &str) -> ClinicResult<String> {
    let base = base_url.trim().trim_end_matches('/').to_string();
    let url = reqwest::Url::parse(&base).map_err(|_| {
        ClinicError::field("server", "give the server's address as https://HOST:PORT")
    })?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(base),
        "http" if clinic_core::api::is_loopback_host(host) => Ok(base),
        "http" => Err(ClinicError::field(
            "server",
            format!(
                "plain http:// is only allowed to this computer; {host} must be reached with https:// (the server serves HTTPS when it listens on the network)"
            ),
        )),
        _ => Err(ClinicError::field(
            "server",
            "give the server's address as https://HOST:PORT",
        )),
    }
}

impl ServerClient {
    /// A server trusted through the system's certificate authorities (or
    /// plain HTTP on loopback).
    pub fn new(base_url: &str) -> ClinicResult<Self> {
        Self::connect(base_url, None)
    }

    /// A server trusted through `pin` when given (its public key must be
    /// the pinned one; no CA is asked), else through the system's CAs.
    pub fn connect(base_url: &str, pin: Option<KeyPin>) -> ClinicResult<Self> {
        let base = check_server_url(base_url)?;
        let builder = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // A redirect could lead anywhere, http:// included: never follow one.
            .redirect(reqwest::redirect::Policy::none());
        let pinned = pin.map(pin::PinnedKey::new);
        let builder = match &pinned {
            Some(p) => builder.use_preconfigured_tls(p.client_config()),
            None => builder,
        };
        let http = builder.build().map_err(ClinicError::internal)?;
        Ok(Self {
            base,
            http,
            answer_limit: MAX_ANSWER_BYTES,
            pin: pinned,
        })
    }

    /// The server's address, as given.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The same client with another limit on a decompressed answer.
    #[doc(hidden)]
    pub fn with_answer_limit(mut self, bytes: u64) -> Self {
        self.answer_limit = bytes;
        self
    }

    /// The error for a server that could not be reached (the workstation
    /// is offline), or that is not the server this desk trusts (nothing was
    /// sent to it: the TLS handshake failed before any request).
    fn unreachable(&self, e: reqwest::Error) -> ClinicError {
        if let Some(seen) = self.pin.as_ref().and_then(|p| p.mismatch()) {
            return ClinicError::new(
                ErrorCode::Unreachable,
                format!(
                    "The server at {} is not the one this workstation trusts: its key is {seen}, the pinned one is {}. Nothing was sent to it. If the server was moved or reinstalled, an administrator reads its fingerprint (`sync-server tls fingerprint`) and pins it again (`clinic enrollment set-server`).",
                    self.base,
                    self.pin.as_ref().map(|p| p.pin().to_string()).unwrap_or_default()
                ),
            );
        }
        let e = e.without_url();
        let mut why = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            why.push_str(": ");
            why.push_str(&s.to_string());
            source = s.source();
        }
        let hint = if why.contains("certificate") {
            " The server's certificate is not trusted by this computer: for a clinic's own server, give its fingerprint (`--fingerprint SHA256:…`, printed by `sync-server tls fingerprint`)."
        } else {
            ""
        };
        ClinicError::new(
            ErrorCode::Unreachable,
            format!(
                "The sync server at {} cannot be reached ({why}).{hint}",
                self.base
            ),
        )
    }

    fn send<T: DeserializeOwned>(&self, req: reqwest::blocking::RequestBuilder) -> ClinicResult<T> {
        let res = req.send().map_err(|e| self.unreachable(e))?;
        let status = res.status();
        let text = self.read_answer(res)?;
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

    /// The answer's body, decompressed, up to the limit.
    fn read_answer(&self, res: reqwest::blocking::Response) -> ClinicResult<String> {
        let mut body = Vec::new();
        res.take(self.answer_limit + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                ClinicError::new(
                    ErrorCode::Unreachable,
                    format!("The answer from the sync server was cut off ({e})."),
                )
            })?;
        if body.len() as u64 > self.answer_limit {
            return Err(ClinicError::new(
                ErrorCode::Unreachable,
                format!(
                    "The sync server at {} sent an answer larger than {} MiB; it was not read and nothing was changed.",
                    self.base,
                    self.answer_limit >> 20
                ),
            ));
        }
        String::from_utf8(body)
            .map_err(|_| ClinicError::internal("unexpected answer from the server: not UTF-8 text"))
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

    /// The tenant's devices (administrators signed in to the server).
    pub fn devices(&self, access_token: &str) -> ClinicResult<Vec<clinic_core::api::DeviceView>> {
        self.send(
            self.http
                .get(format!("{}/v1/devices", self.base))
                .header("authorization", format!("Bearer {access_token}")),
        )
    }

    /// Revokes a device: it can no longer sync (administrators).
    pub fn revoke_device(&self, access_token: &str, id: uuid::Uuid) -> ClinicResult<()> {
        let res = self
            .http
            .post(format!("{}/v1/devices/{id}/revoke", self.base))
            .header("authorization", format!("Bearer {access_token}"))
            .send()
            .map_err(|e| self.unreachable(e))?;
        if res.status().is_success() {
            return Ok(());
        }
        let text = self.read_answer(res).unwrap_or_default();
        Err(serde_json::from_str::<clinic_core::api::ErrorBody>(&text)
            .map(|b| b.error)
            .unwrap_or_else(|_| ClinicError::internal("the server refused to revoke the device")))
    }

    fn device_get<T: DeserializeOwned>(
        &self,
        credential: &str,
        path: &str,
        timeout: Duration,
    ) -> ClinicResult<T> {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .timeout(timeout)
                .header("authorization", format!("Device {credential}")),
        )
    }

    /// Whether the server answers (a short check for the status line).
    pub fn health(&self) -> ClinicResult<serde_json::Value> {
        self.send(
            self.http
                .get(format!("{}/health", self.base))
                .timeout(Duration::from_secs(3)),
        )
    }

    /// Who the server thinks this device is (refused once it is revoked).
    /// A new credential for this device (its own expires in a while).
    pub fn rotate_credential(&self, device_credential: &str) -> ClinicResult<DeviceCredential> {
        self.post(
            "/v1/device/credential",
            Some(format!("Device {device_credential}")),
            &serde_json::json!({}),
        )
    }

    /// An administrator (signed in with `access_token`) renews the expired
    /// credential of the workstation they are on.
    pub fn renew_device(
        &self,
        access_token: &str,
        device: uuid::Uuid,
        device_credential: &str,
    ) -> ClinicResult<DeviceCredential> {
        self.post(
            &format!("/v1/devices/{device}/renew"),
            Some(format!("Bearer {access_token}")),
            &clinic_core::api::RenewRequest {
                device_credential: device_credential.into(),
            },
        )
    }

    pub fn whoami(&self, device_credential: &str) -> ClinicResult<DeviceIdentity> {
        self.send(
            self.http
                .get(format!("{}/v1/device/whoami", self.base))
                .header("authorization", format!("Device {device_credential}")),
        )
    }
}

/// The sync server over HTTP, as this enrolled device. The credential can
/// change while it is in use (sync renews it; the engine hands it the
/// store's current one at each push).
#[derive(Debug, Clone)]
pub struct HttpTransport {
    pub server: ServerClient,
    credential: std::sync::Arc<std::sync::RwLock<String>>,
}

impl HttpTransport {
    pub fn new(base_url: &str, pin: Option<KeyPin>, device_credential: &str) -> ClinicResult<Self> {
        Ok(Self {
            server: ServerClient::connect(base_url, pin)?,
            credential: std::sync::Arc::new(std::sync::RwLock::new(device_credential.to_string())),
        })
    }

    /// Who the server thinks this device is (refused once it is revoked).
    pub fn whoami(&self) -> ClinicResult<DeviceIdentity> {
        self.server.whoami(&self.credential())
    }

    /// The clinic's enrolled workstations, with when each last reached the
    /// server.
    pub fn peers(&self) -> ClinicResult<Vec<clinic_core::api::DeviceView>> {
        self.server.send(
            self.server
                .http
                .get(format!("{}/v1/device/peers", self.server.base))
                .header("authorization", format!("Device {}", self.credential())),
        )
    }

    fn credential(&self) -> String {
        self.credential
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

impl engine::Transport for HttpTransport {
    fn set_credential(&self, credential: &str) {
        if let Ok(mut c) = self.credential.write() {
            if *c != credential {
                *c = credential.to_string();
            }
        }
    }

    fn rotate_credential(&self) -> ClinicResult<Option<DeviceCredential>> {
        self.server.rotate_credential(&self.credential()).map(Some)
    }

    fn push(
        &self,
        req: &clinic_core::sync::PushRequest,
    ) -> ClinicResult<clinic_core::sync::PushResponse> {
        self.server.post(
            "/v1/sync/push",
            Some(format!("Device {}", self.credential())),
            req,
        )
    }

    fn pull(
        &self,
        after: i64,
        after_hash: Option<&str>,
        limit: i64,
        wait_secs: u64,
    ) -> ClinicResult<clinic_core::sync::PullResponse> {
        let check = after_hash
            .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            .map(|h| format!("&after_hash={h}"))
            .unwrap_or_default();
        self.server.device_get(
            &self.credential(),
            &format!("/v1/sync/pull?after={after}&limit={limit}&wait={wait_secs}{check}"),
            Duration::from_secs(30 + wait_secs),
        )
    }

    fn checksums(&self) -> ClinicResult<clinic_core::sync::BucketSums> {
        self.server.device_get(
            &self.credential(),
            "/v1/sync/checksums",
            Duration::from_secs(120),
        )
    }

    fn records(&self, buckets: &[usize]) -> ClinicResult<Vec<clinic_core::sync::RecordCopy>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page: clinic_core::sync::RecordsPage = self.server.post(
                "/v1/sync/records",
                Some(format!("Device {}", self.credential())),
                &clinic_core::sync::BucketsRequest {
                    buckets: buckets.to_vec(),
                    after,
                    limit: None,
                },
            )?;
            out.extend(page.records);
            match page.next {
                Some(next) if Some(next) != after => after = Some(next),
                _ => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A one-shot HTTP server that answers with this zstd-compressed JSON.
    fn serve_once(json: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).unwrap();
            let body = zstd::encode_all(json.as_slice(), 3).unwrap();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: zstd\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body).unwrap();
        });
        format!("http://{addr}")
    }

    /// A JSON string of about `n` bytes that compresses to almost nothing.
    fn json_of(n: usize) -> Vec<u8> {
        format!("{{\"status\":\"{}\"}}", "a".repeat(n)).into_bytes()
    }

    #[test]
    fn an_answer_that_expands_past_the_limit_is_refused_unread() {
        let limit = 1 << 20;
        let json = json_of(8 << 20);
        let url = serve_once(json);
        let client = ServerClient::new(&url).unwrap().with_answer_limit(limit);
        let err = client.health().unwrap_err();
        assert_eq!(err.code, ErrorCode::Unreachable);
        assert!(err.message.contains("larger than 1 MiB"), "{}", err.message);
    }

    #[test]
    fn an_answer_within_the_limit_is_decompressed_and_read() {
        let limit = 1 << 20;
        let url = serve_once(json_of(limit as usize - 64));
        let client = ServerClient::new(&url).unwrap().with_answer_limit(limit);
        let v = client.health().unwrap();
        assert_eq!(v["status"].as_str().unwrap().len(), limit as usize - 64);
    }
}
