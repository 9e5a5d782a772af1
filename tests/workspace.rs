//! Workstations against a real sync server: the server on 127.0.0.1:0 over
//! the embedded PostgreSQL (one throwaway cluster per test binary, a fresh
//! database per test), workstations with temporary SQLCipher stores.

use clinic_client::{Password, SystemClock, Workstation};
use clinic_core::ErrorCode;
use clinic_store::keys::Passphrase;
use std::sync::Arc;
use sync_server::testing::TestServer;

mod authority;
mod billing;
mod clinical;
mod inventory;
mod kernel;
mod scheduling;
mod signatures;
mod simulation;
mod sync;
mod unlock;

type Server = TestServer;

/// Registers the kinds this binary's tests declare besides the product's,
/// once and before any store or server database exists: a projection
/// registered mid-run would be missing its table in stores created earlier.
pub(crate) fn test_kinds() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(kernel::register_permits);
}

pub(crate) fn start_server(tenant: &'static str) -> Server {
    test_kinds();
    TestServer::start(tenant)
}

pub(crate) fn start_server_with_tls(
    tenant: &'static str,
    identity: &sync_server::tls::ServerIdentity,
) -> Server {
    test_kinds();
    TestServer::start_with_tls(tenant, identity)
}

pub(crate) fn enroll(
    server: &Server,
    dir: &std::path::Path,
    email: &str,
    password: &str,
) -> clinic_core::ClinicResult<Workstation> {
    Workstation::enroll(
        dir,
        &server.url,
        None,
        "acme",
        email,
        &Password::new(password.into()),
        None,
        "Front desk 1",
        Passphrase::new("workstation passphrase".into()).unwrap(),
        None,
        Arc::new(SystemClock),
    )
    .map(|(ws, _)| ws)
}

/// An enrolled workstation with its enrolling administrator signed in.
pub(crate) fn signed_in(server: &Server, dir: &std::path::Path) -> Workstation {
    let mut ws = enroll(server, dir, "admin@acme.example", "admin-password-1").unwrap();
    ws.login(
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
    )
    .unwrap();
    ws
}

/// Pushes and pulls until caught up.
pub(crate) fn sync(ws: &mut Workstation) -> clinic_sync::engine::SyncReport {
    ws.sync_now(&mut |_, _| {}).unwrap()
}

pub(crate) fn ada() -> clinic_core::patients::PatientDetails {
    clinic_core::patients::PatientDetails {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1985, 12, 10),
        ..Default::default()
    }
}

#[test]
fn enrolment_binds_a_new_encrypted_store_to_the_servers_tenant_site_and_device() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("ws");
    let mut ws = enroll(&server, &dir, "ADMIN@acme.example", "admin-password-1").unwrap();
    let info = ws.info().unwrap();
    assert_eq!(info.tenant.name, "Clinic acme");
    assert_eq!(info.sites[0].name, "Main");
    let id = ws.check_enrollment().unwrap();
    assert_eq!(id.tenant_id, info.tenant.id);
    assert_eq!(id.device_id, info.device_id);
    // The enrolling administrator signs in offline and registers patients
    // with numbers from the block the server leased.
    ws.login(
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
    )
    .unwrap();
    let p = ws
        .patients()
        .register(
            clinic_core::patients::PatientDetails {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                date_of_birth: chrono::NaiveDate::from_ymd_opt(1985, 12, 10),
                ..Default::default()
            },
            Default::default(),
        )
        .unwrap()
        .patient;
    assert_eq!(
        clinic_core::patients::parse_patient_number(&p.patient_number),
        Some(1)
    );
    assert_eq!(ws.verify_audit().unwrap().map(|n| n >= 3), Ok(true));
    // The device credential never reaches disk in plaintext. (Searched for
    // whole: a 3-byte prefix turns up by chance in megabytes of ciphertext.)
    let credential = ws
        .store_for_tests()
        .unwrap()
        .db()
        .meta("device_credential")
        .unwrap()
        .expect("the store holds its device credential");
    assert!(credential.len() >= 32, "{}", credential.len());
    ws.checkpoint().unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(
            !bytes
                .windows(credential.len())
                .any(|w| w == credential.as_bytes()),
            "device credential in plaintext"
        );
    }
    // A second workstation gets its own, disjoint number block.
    let dir2 = t.path().join("ws2");
    let ws2 = enroll(&server, &dir2, "admin@acme.example", "admin-password-1").unwrap();
    assert_ne!(ws2.info().unwrap().device_id, info.device_id);
    drop(ws2);
    // An administrator revokes the first workstation on the server: it is refused from then on.
    let http = reqwest::blocking::Client::new();
    let pair: serde_json::Value = http
        .post(format!("{}/v1/auth/login", server.url))
        .json(&serde_json::json!({"tenant": "acme", "email": "admin@acme.example", "password": "admin-password-1"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let bearer = format!("Bearer {}", pair["access_token"].as_str().unwrap());
    let res = http
        .post(format!(
            "{}/v1/devices/{}/revoke",
            server.url, info.device_id
        ))
        .header("authorization", &bearer)
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(
        ws.check_enrollment().unwrap_err().code,
        ErrorCode::InvalidCredentials
    );
    // Nothing local is wiped by a revocation: the data stays and opens.
    assert_eq!(ws.patients().search("lovelace", 5).unwrap().len(), 1);
    // Enrolling into a folder that already holds a store is refused.
    assert_eq!(
        enroll(&server, &dir, "admin@acme.example", "admin-password-1")
            .err()
            .map(|e| e.code),
        Some(ErrorCode::StoreExists)
    );
}

#[test]
fn enrolment_refuses_bad_credentials_and_unreachable_servers_and_creates_nothing() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("ws");
    assert_eq!(
        enroll(&server, &dir, "admin@acme.example", "wrong-password")
            .err()
            .map(|e| e.code),
        Some(ErrorCode::InvalidCredentials)
    );
    assert!(
        !dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none(),
        "nothing created"
    );
    let unreachable = Workstation::enroll(
        &dir,
        "http://127.0.0.1:9",
        None,
        "acme",
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
        None,
        "Front desk 1",
        Passphrase::new("workstation passphrase".into()).unwrap(),
        None,
        Arc::new(SystemClock),
    );
    assert_eq!(
        unreachable.err().map(|e| e.code),
        Some(ErrorCode::Unreachable)
    );
    assert!(!clinic_store::Store::exists(&dir));
}
