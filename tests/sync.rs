//! Two real workstations (SQLCipher stores, the real HTTP client) against the
//! real server and PostgreSQL: convergence, the field-level merge rule,
//! history, conflicts, verification and repair.

use crate::enroll;
use clinic_client::{Password, Workstation};
use clinic_core::patient::{PatientDetails, PatientPatch};
use clinic_core::ErrorCode;
use sync_server::testing::TestServer;
use uuid::Uuid;

fn signed_in(server: &TestServer, dir: &std::path::Path) -> Workstation {
    let mut ws = enroll(server, dir, "admin@acme.example", "admin-password-1").unwrap();
    ws.login(
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
    )
    .unwrap();
    ws
}

fn sync(ws: &mut Workstation) -> clinic_sync::engine::SyncReport {
    ws.sync_now(&mut |_, _| {}).unwrap()
}

fn ada() -> PatientDetails {
    PatientDetails {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1985, 12, 10),
        ..Default::default()
    }
}

/// Runs SQL against the server's database as its administrator.
fn server_query(server: &TestServer, sql: &str) -> Vec<Vec<Option<String>>> {
    let url = server.database_url.clone();
    let sql = sql.to_string();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let c = sync_server::db::connect(&url).await.unwrap();
                c.simple_query(&sql)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => {
                            Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                        }
                        _ => None,
                    })
                    .collect()
            })
    })
    .join()
    .unwrap()
}

#[test]
fn offline_edits_of_different_fields_merge_and_the_same_field_is_last_writer_wins() {
    let server = TestServer::start("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let id = a
        .register_patient(ada(), Default::default())
        .unwrap()
        .patient
        .id;
    assert_eq!(a.sync_status(false).unwrap().pending, 1);
    let r = sync(&mut a);
    assert_eq!((r.pushed, r.pending), (1, 0));
    sync(&mut b);
    assert_eq!(b.show_patient(id).unwrap().details.first_name, "Ada");

    // Both desks go offline and edit: different fields, then the same field.
    a.edit_patient(
        id,
        PatientPatch {
            phone: Some("020 7946 0018".into()),
            city: Some("Leeds".into()),
            ..Default::default()
        },
    )
    .unwrap();
    b.edit_patient(
        id,
        PatientPatch {
            email: Some("ada@example.org".into()),
            city: Some("York".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // A reaches the server first, then B: B's city is later by server order.
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    for ws in [&mut a, &mut b] {
        let p = ws.show_patient(id).unwrap();
        assert_eq!(
            p.details.phone.as_deref(),
            Some("020 7946 0018"),
            "A's field survives"
        );
        assert_eq!(
            p.details.email.as_deref(),
            Some("ada@example.org"),
            "B's field survives"
        );
        assert_eq!(
            p.details.city.as_deref(),
            Some("York"),
            "later by server order wins"
        );
    }
    // The overwritten value is kept in the record's history (the feed).
    let history = server_query(
        &server,
        &format!("SELECT data->>'city' FROM change_feed WHERE entity_id = '{id}' ORDER BY seq"),
    );
    let cities: Vec<Option<String>> = history.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        cities,
        vec![None, Some("Leeds".into()), Some("York".into())]
    );
    // Whole copies are equal by checksum.
    for ws in [&mut a, &mut b] {
        let v = ws.verify_sync().unwrap();
        assert!(v.differing_buckets.is_empty(), "{v:?}");
    }
}

#[test]
fn an_edit_of_a_record_archived_elsewhere_comes_back_as_a_conflict_and_stays_until_resolved() {
    let server = TestServer::start("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let id = a
        .register_patient(ada(), Default::default())
        .unwrap()
        .patient
        .id;
    sync(&mut a);
    sync(&mut b);
    a.archive_patient(id, "registered twice").unwrap();
    b.edit_patient(
        id,
        PatientPatch {
            city: Some("Leeds".into()),
            ..Default::default()
        },
    )
    .unwrap();
    sync(&mut a);
    let r = sync(&mut b);
    assert_eq!(r.problems, 1);
    let problems = b.sync_conflicts().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].status, "conflict");
    assert_eq!(problems[0].kind, "update_patient");
    // B's record is the server's again (archived); the refused edit is kept, with what it changed.
    let p = b.show_patient(id).unwrap();
    assert!(p.archived_at.is_some());
    assert_eq!(p.details.city, None);
    assert!(serde_json::to_string(&problems[0].mutation)
        .unwrap()
        .contains("Leeds"));
    assert_eq!(b.sync_status(false).unwrap().open_conflicts, 1);
    b.resolve_sync_conflict(problems[0].device_seq).unwrap();
    assert!(b.sync_conflicts().unwrap().is_empty());
    assert_eq!(
        b.resolve_sync_conflict(problems[0].device_seq)
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
}

#[test]
fn verification_finds_a_damaged_local_record_and_repairs_only_that_bucket() {
    let server = TestServer::start("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut ids = Vec::new();
    for i in 0..30 {
        let mut d = ada();
        d.first_name = format!("Ada{}", (b'a' + i as u8) as char);
        ids.push(
            a.register_patient(d, Default::default())
                .unwrap()
                .patient
                .id,
        );
    }
    sync(&mut a);
    let mut b = signed_in(&server, &t.path().join("b"));
    let r = sync(&mut b);
    assert_eq!(r.pulled, 30);
    // Damage one record behind the application's back.
    let victim: Uuid = ids[7];
    b.store_for_tests()
        .unwrap()
        .execute_raw_for_tests(&format!(
            "UPDATE patients SET last_name = 'Damaged' WHERE id = '{victim}'"
        ))
        .unwrap();
    let v = b.verify_sync().unwrap();
    assert_eq!(
        v.differing_buckets,
        vec![clinic_core::sync::bucket_of(victim)]
    );
    assert_eq!(v.repaired, 1);
    assert_eq!(
        b.show_patient(victim).unwrap().details.last_name,
        "Lovelace"
    );
    assert!(b.verify_sync().unwrap().differing_buckets.is_empty());
}

#[test]
fn a_revoked_workstation_keeps_its_unsent_changes_and_shows_why() {
    let server = TestServer::start("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    a.register_patient(ada(), Default::default()).unwrap();
    let device = a.info().unwrap().device_id;
    let http = reqwest::blocking::Client::new();
    let pair: serde_json::Value = http
        .post(format!("{}/v1/auth/login", server.url))
        .json(&serde_json::json!({"tenant": "acme", "email": "admin@acme.example", "password": "admin-password-1"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let res = http
        .post(format!("{}/v1/devices/{device}/revoke", server.url))
        .bearer_auth(pair["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let e = a.sync_now(&mut |_, _| {}).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidCredentials);
    let s = a.sync_status(false).unwrap();
    assert_eq!(s.pending, 1, "the unsent change is kept");
    assert!(s.last_error.unwrap().contains("no longer"));
    assert_eq!(a.search_patients("lovelace", 5).unwrap().len(), 1);
}
