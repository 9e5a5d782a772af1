//! Two real workstations (SQLCipher stores, the real HTTP client) against the
//! real server and PostgreSQL: convergence, the field-level merge rule,
//! history, conflicts, verification and repair.

use crate::{ada, signed_in, sync};
use clinic_client::Password;
use clinic_core::patients::PatientPatch;
use clinic_core::ErrorCode;
use uuid::Uuid;

#[test]
fn offline_edits_of_different_fields_merge_and_the_same_field_is_last_writer_wins() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let id = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient
        .id;
    assert_eq!(a.sync_status(false).unwrap().pending, 1);
    let r = sync(&mut a);
    assert_eq!((r.pushed, r.pending), (1, 0));
    sync(&mut b);
    assert_eq!(b.patients().show(id).unwrap().details.first_name, "Ada");

    // Both desks go offline and edit: different fields, then the same field.
    a.patients()
        .edit(
            id,
            PatientPatch {
                phone: Some("020 7946 0018".into()),
                city: Some("Leeds".into()),
                ..Default::default()
            },
        )
        .unwrap();
    b.patients()
        .edit(
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
        let p = ws.patients().show(id).unwrap();
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
    let history = server.query(&format!(
        "SELECT data->>'city' FROM change_feed WHERE entity_id = '{id}' ORDER BY seq"
    ));
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
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let id = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient
        .id;
    sync(&mut a);
    sync(&mut b);
    a.patients().archive(id, "registered twice").unwrap();
    b.patients()
        .edit(
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
    let p = b.patients().show(id).unwrap();
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
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut ids = Vec::new();
    for i in 0..30 {
        let mut d = ada();
        d.first_name = format!("Ada{}", (b'a' + i as u8) as char);
        ids.push(
            a.patients()
                .register(d, Default::default())
                .unwrap()
                .patient
                .id,
        );
    }
    sync(&mut a);
    let mut b = signed_in(&server, &t.path().join("b"));
    let r = sync(&mut b);
    assert_eq!(
        r.pulled, 33,
        "30 patients, the administrator, the site and the plan"
    );
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
        b.patients().show(victim).unwrap().details.last_name,
        "Lovelace"
    );
    assert!(b.verify_sync().unwrap().differing_buckets.is_empty());
}

#[test]
fn a_revoked_workstation_keeps_its_unsent_changes_and_shows_why() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    a.patients().register(ada(), Default::default()).unwrap();
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
    assert_eq!(a.patients().search("lovelace", 5).unwrap().len(), 1);
}

#[test]
fn an_administrator_lists_and_revokes_devices_from_a_workstation_with_their_password() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let (id_a, id_b) = (a.info().unwrap().device_id, b.info().unwrap().device_id);
    let pw = Password::new("admin-password-1".into());

    let rows = a.directory().server_devices(&pw, None).unwrap();
    assert_eq!(rows.len(), 2);
    let me = rows.iter().find(|r| r.id == id_a).unwrap();
    assert!(me.this_device && me.revoked_at.is_none());
    assert_eq!(me.site_name, "Main");
    assert!(!rows.iter().find(|r| r.id == id_b).unwrap().this_device);

    // A wrong password, or revoking the computer in use, changes nothing.
    let wrong = a
        .directory()
        .server_devices(&Password::new("not-the-password".into()), None);
    assert_eq!(wrong.unwrap_err().code, ErrorCode::InvalidCredentials);
    let own = a.directory().revoke_device(id_a, &pw, None).unwrap_err();
    assert_eq!(own.code, ErrorCode::Conflict);
    let audit_before = a.info().unwrap().audit_events;

    let after = a.directory().revoke_device(id_b, &pw, None).unwrap();
    assert!(after
        .iter()
        .find(|r| r.id == id_b)
        .unwrap()
        .revoked_at
        .is_some());
    assert!(after
        .iter()
        .find(|r| r.id == id_a)
        .unwrap()
        .revoked_at
        .is_none());
    assert_eq!(
        a.info().unwrap().audit_events,
        audit_before + 1,
        "the revocation is audited"
    );
    // B can no longer sync; A still can.
    assert_eq!(
        b.sync_now(&mut |_, _| {}).unwrap_err().code,
        ErrorCode::InvalidCredentials
    );
    sync(&mut a);

    // Only full administrators may see devices: a receptionist is refused
    // before anything is sent to the server.
    a.directory()
        .add_user(
            "desk@acme.example",
            "Dana Desk",
            "receptionist",
            &Password::new("desk-password-1".into()),
            None,
        )
        .unwrap();
    a.login(
        "desk@acme.example",
        &Password::new("desk-password-1".into()),
    )
    .unwrap();
    let refused = a
        .directory()
        .server_devices(&Password::new("desk-password-1".into()), None);
    assert_eq!(refused.unwrap_err().code, ErrorCode::Forbidden);
}

#[test]
fn bulk_loaded_patients_reach_workstations_and_their_numbers_are_never_leased() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let tenant = a.info().unwrap().tenant.id;
    let now = chrono::Utc::now();
    let demo = |i: u64| clinic_demo::demo_patient_record(7, i, tenant, now, Uuid::now_v7).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = sync_server::db::app_pool(&server.database_url, 2).unwrap();
    let count = || server.query("SELECT count(*) FROM patients")[0][0].clone();

    // Numbers 1.. were leased to A when it enrolled: refused, nothing written.
    let clash: Vec<_> = (0..3).map(demo).collect();
    let e = rt
        .block_on(sync_server::patients::bulk_load_patients(
            &pool, tenant, &clash,
        ))
        .unwrap_err();
    assert!(format!("{e:?}").contains("already handed out"), "{e:?}");
    assert_eq!(count().as_deref(), Some("0"));

    // Numbers above every leased block load, with their feed entries.
    let loaded: Vec<_> = (20_000..20_003).map(demo).collect();
    let head = rt
        .block_on(sync_server::patients::bulk_load_patients(
            &pool, tenant, &loaded,
        ))
        .unwrap();
    assert_eq!(
        head, 6,
        "after the administrator's, the site's and the plan's records"
    );
    assert_eq!(count().as_deref(), Some("3"));
    sync(&mut a);
    let last = &loaded[2].details.last_name;
    let hits = a.patients().search(last, 10).unwrap();
    assert!(
        hits.iter().any(|h| h.id == loaded[2].id),
        "{last}: {hits:?}"
    );
    assert!(
        a.sync_now(&mut |_, _| {}).is_ok(),
        "the chain of the feed checks out"
    );

    // A device enrolled afterwards is leased numbers after the loaded ones.
    let mut b = signed_in(&server, &t.path().join("b"));
    let p = b
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient;
    let number = clinic_core::patients::parse_patient_number(&p.patient_number).unwrap();
    assert!(number > 20_003, "{}", p.patient_number);
}

#[test]
fn an_online_workstation_learns_of_a_change_without_asking() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let b = signed_in(&server, &t.path().join("b"));
    let unlock = clinic_store::keys::Unlock::Passphrase(
        clinic_store::keys::Passphrase::for_unlock("workstation passphrase".into()),
    );
    let mut live = b.start_live_sync(unlock.clone()).unwrap();
    // Give the puller time to reach its long poll.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let id = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient
        .id;
    let sent = std::time::Instant::now();
    sync(&mut a);
    let reader = clinic_store::Store::open(&t.path().join("b"), &unlock).unwrap();
    let arrived = loop {
        if reader.db().patient(id).unwrap().is_some() {
            break sent.elapsed();
        }
        assert!(
            sent.elapsed() < std::time::Duration::from_secs(10),
            "the change never arrived on the live workstation"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    live.stop();
    // B never called sync: the long poll woke on the server's commit.
    eprintln!("live propagation: {arrived:?}");
    assert!(
        arrived < std::time::Duration::from_secs(5),
        "took {arrived:?} (the long poll should wake on commit)"
    );
}

#[test]
fn a_different_protocol_version_is_refused_and_changes_nothing() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    a.patients().register(ada(), Default::default()).unwrap();
    let credential = a
        .store_for_tests()
        .unwrap()
        .db()
        .meta("device_credential")
        .unwrap()
        .unwrap();
    let res = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sync/push", server.url))
        .header("authorization", format!("Device {credential}"))
        .json(&serde_json::json!({"protocol": 99, "mutations": [], "audit": []}))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 426);
    let body: serde_json::Value = res.json().unwrap();
    assert_eq!(body["error"]["code"], "UPDATE_REQUIRED");
    // A page from a newer server, or with a kind of record this version
    // does not know, is refused whole: nothing is written, the cursor stays.
    let store = a.store_for_tests().unwrap();
    let before = store.db().sync_cursor().unwrap().cursor;
    let mut page = clinic_core::sync::PullResponse {
        protocol: clinic_core::sync::PROTOCOL_VERSION + 1,
        epoch: Uuid::nil(),
        head: 1,
        changes: vec![],
        checksum: clinic_core::sync::page_checksum(&[]),
        last_applied_seq: 0,
        cursor_ok: true,
    };
    let db = store.db();
    assert_eq!(
        db.apply_page(&page).unwrap_err().code(),
        ErrorCode::UpdateRequired
    );
    page.protocol = clinic_core::sync::PROTOCOL_VERSION;
    page.changes = vec![clinic_core::sync::Change {
        seq: 1,
        entity_type: "kind_from_a_later_version".into(),
        entity_id: Uuid::nil(),
        data: serde_json::json!({}),
        chain: String::new(),
        hash: None,
    }];
    page.checksum = clinic_core::sync::page_checksum(&page.changes);
    assert_eq!(
        db.apply_page(&page).unwrap_err().code(),
        ErrorCode::UpdateRequired
    );
    assert_eq!(store.db().sync_cursor().unwrap().cursor, before);
    // The unsent registration is still queued.
    assert_eq!(a.sync_status(false).unwrap().pending, 1);
}

#[test]
fn the_server_verifies_each_workstations_audit_chain_and_flags_a_break() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    a.patients().register(ada(), Default::default()).unwrap();
    sync(&mut a);
    let device = a.info().unwrap().device_id;
    let local = a.info().unwrap().audit_events;
    let held = server.query(&format!(
        "SELECT count(*), max(seq) FROM audit_events WHERE device_id = '{device}'"
    ));
    assert_eq!(held[0][0].as_deref(), Some(local.to_string().as_str()));
    // Someone with the key edits a not yet uploaded event on the workstation.
    a.patients().register(ada(), Default::default()).unwrap();
    a.store_for_tests()
        .unwrap()
        .execute_raw_for_tests(
            "DROP TRIGGER audit_events_no_update;
             UPDATE audit_events SET action = 'patient.read' WHERE seq = (SELECT max(seq) FROM audit_events);",
        )
        .unwrap();
    sync(&mut a);
    let flagged = server.query(&format!(
        "SELECT audit_break->>'reason' FROM device_state WHERE device_id = '{device}'"
    ));
    assert!(
        flagged[0][0].as_deref().unwrap_or("").contains("edited"),
        "{flagged:?}"
    );
    let status = a.sync_status(false).unwrap();
    assert!(status.audit_problem.is_some(), "{status:?}");
    assert_eq!(status.pending, 0, "mutations still flow: {status:?}");
}

#[test]
fn a_workstation_low_on_patient_numbers_leases_a_fresh_block_when_it_syncs() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    // A has issued all but 100 of its numbers.
    a.store_for_tests()
        .unwrap()
        .execute_raw_for_tests("UPDATE number_blocks SET next_value = block_end - 100")
        .unwrap();
    assert_eq!(
        a.store_for_tests()
            .unwrap()
            .db()
            .numbers_left("patient")
            .unwrap(),
        100
    );
    sync(&mut a);
    sync(&mut b);
    let left = a
        .store_for_tests()
        .unwrap()
        .db()
        .numbers_left("patient")
        .unwrap();
    assert_eq!(left, 100 + clinic_core::patients::LEASE_SIZE);
    // Registrations from the new block never collide with B's numbers.
    let mut numbers = std::collections::HashSet::new();
    for ws in [&mut a, &mut b] {
        for _ in 0..3 {
            let p = ws
                .patients()
                .register(ada(), Default::default())
                .unwrap()
                .patient;
            assert!(
                numbers.insert(p.patient_number.clone()),
                "{}",
                p.patient_number
            );
        }
    }
    sync(&mut a);
    let r = sync(&mut b);
    assert_eq!(r.problems, 0);
    sync(&mut a);
    assert_eq!(a.sync_status(false).unwrap().open_conflicts, 0);
    // A second sync does not lease again.
    assert_eq!(
        a.store_for_tests()
            .unwrap()
            .db()
            .numbers_left("patient")
            .unwrap(),
        100 + clinic_core::patients::LEASE_SIZE - 3
    );
}

#[test]
fn no_password_or_patient_name_crosses_the_network_in_clear_text_over_https() {
    use clinic_client::{SystemClock, Workstation};
    use clinic_store::keys::Passphrase;
    use sync_server::testing::Tap;
    let dir = tempfile::tempdir().unwrap();
    let own = sync_server::tls::ServerIdentity::self_signed(dir.path()).unwrap();
    let server = crate::start_server_with_tls("acme", &own);
    let desk = |url: &str, pin, name: &str| {
        let (mut ws, _) = Workstation::enroll(
            &dir.path().join(name),
            url,
            pin,
            "acme",
            "admin@acme.example",
            &Password::new("admin-password-1".into()),
            None,
            name,
            Passphrase::new("workstation passphrase".into()).unwrap(),
            None,
            std::sync::Arc::new(SystemClock),
        )
        .unwrap();
        ws.login(
            "admin@acme.example",
            &Password::new("admin-password-1".into()),
        )
        .unwrap();
        ws
    };
    let register = |ws: &mut Workstation, last: &str| {
        let mut p = ada();
        p.last_name = last.into();
        ws.patients().register(p, Default::default()).unwrap();
        sync(ws);
    };
    // The control: the same traffic over plain HTTP (loopback) shows both.
    let plain = Tap::start(&server.url);
    let mut a = desk(&plain.url, None, "plain");
    register(&mut a, "Quornwell-Plain");
    assert!(plain.saw("admin-password-1") && plain.saw("Quornwell-Plain"));

    let tap = Tap::start(server.tls_url.as_deref().unwrap());
    let mut b = desk(&tap.url, Some(own.pin), "https-b");
    register(&mut b, "Quornwell-Secret");
    let mut c = desk(&tap.url, Some(own.pin), "https-c");
    sync(&mut c);
    let found = c.patients().search("Quornwell-Secret", 5).unwrap();
    assert_eq!(found.len(), 1, "the patient crossed the tap to desk C");
    assert!(tap.captured().len() > 10_000, "the capture saw the traffic");
    for secret in [
        "admin-password-1",
        "admin@acme.example",
        "Quornwell",
        "Lovelace",
        "Ada",
    ] {
        assert!(!tap.saw(secret), "{secret} crossed in clear text");
    }
}

#[test]
fn device_credentials_are_renewed_by_sync_and_an_expired_one_by_an_administrator_signing_in() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let meta = |ws: &mut clinic_client::Workstation, key: &str| {
        ws.store_mut_for_tests().unwrap().db().meta(key).unwrap()
    };
    let set_meta = |ws: &mut clinic_client::Workstation, key: &str, value: &str| {
        ws.store_mut_for_tests()
            .unwrap()
            .write(|db| Ok(db.set_meta(key, value)?))
            .unwrap();
    };
    let first = meta(&mut a, "device_credential").unwrap();
    assert!(
        meta(&mut a, "device_credential_expires").is_some(),
        "enrolment says when it expires"
    );
    sync(&mut a);
    assert_eq!(
        meta(&mut a, "device_credential").unwrap(),
        first,
        "not due yet"
    );

    // Less than 45 days left: the next sync renews it. The one before
    // works for a day more (its answer may have been lost), then stops.
    let built_before = a.transport().unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    set_meta(&mut a, "device_credential_expires", &soon);
    sync(&mut a);
    let second = meta(&mut a, "device_credential").unwrap();
    assert_ne!(second, first);
    let client = clinic_sync::ServerClient::new(&server.url).unwrap();
    let expires = client
        .whoami(&second)
        .unwrap()
        .credential_expires_at
        .unwrap();
    assert!(
        expires > chrono::Utc::now() + chrono::Duration::days(80),
        "{expires}"
    );
    assert!(client.whoami(&first).is_ok(), "the one before, for a day");
    server.query("UPDATE devices SET previous_expires_at = now() - interval '1 second'");
    assert_eq!(
        client.whoami(&first).unwrap_err().code,
        ErrorCode::InvalidCredentials
    );
    // A transport built before the renewal (the live loop's) follows the store.
    let now = chrono::Utc::now();
    clinic_sync::engine::sync_now(
        a.store_mut_for_tests().unwrap(),
        &built_before,
        now,
        &mut |_, _| {},
    )
    .unwrap();

    // Not synced for months: refused as expired, the waiting change kept.
    server.query("UPDATE devices SET credential_expires_at = now() - interval '1 second'");
    a.patients().register(ada(), Default::default()).unwrap();
    let e = a.sync_now(&mut |_, _| {}).unwrap_err();
    assert_eq!(e.code, ErrorCode::CredentialExpired, "{e:?}");
    assert_eq!(a.sync_status(false).unwrap().pending, 1);
    // An administrator signing in here renews it; the change goes up.
    a.login(
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
    )
    .unwrap();
    assert_ne!(meta(&mut a, "device_credential").unwrap(), second);
    let report = sync(&mut a);
    assert_eq!(report.pending, 0);
    assert_eq!(
        server.query("SELECT count(*) FROM patients")[0][0].as_deref(),
        Some("1")
    );
    // A revoked workstation is not renewed by anyone signing in.
    server.query("UPDATE devices SET revoked_at = now(), credential_expires_at = now() - interval '1 second'");
    a.login(
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
    )
    .unwrap();
    let e = a.sync_now(&mut |_, _| {}).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidCredentials);
    assert!(
        meta(&mut a, "sync_last_error")
            .unwrap()
            .contains("not (or no longer) enrolled"),
        "{:?}",
        meta(&mut a, "sync_last_error")
    );
}
