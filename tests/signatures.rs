//! Signed authorship against the real server: a change counts as a
//! user's only with their signature, which needs their password to make.
//! Someone holding a desk's disk, keychain and device credential, but not
//! that password, gets nothing accepted in their name; a correctly signed
//! change of an account disabled meanwhile is refused too; changes queued
//! before signatures are signed at their author's next sign-in, and none
//! is refused; the server's audit trail verifies with the public keys.

use crate::{ada, signed_in, sync};
use clinic_client::{Password, Workstation};
use clinic_core::patients::PatientPatch;
use clinic_core::signing::UserSigner;
use clinic_core::sync::{Envelope, Mutation, OutcomeStatus, PushRequest, PROTOCOL_VERSION};
use clinic_sync::engine::Transport;
use sync_server::testing::TestServer;
use uuid::Uuid;

const RITA: &str = "rita@acme.example";
const PASSWORD: &str = "a-long-staff-password";

fn password(p: &str) -> Password {
    Password::new(p.into())
}

fn as_user(ws: &mut Workstation, email: &str, pw: &str) {
    let _ = ws.logout();
    ws.login(email, &password(pw)).unwrap();
}

fn as_admin(ws: &mut Workstation) {
    as_user(ws, "admin@acme.example", "admin-password-1");
}

fn city(c: &str) -> PatientPatch {
    PatientPatch {
        city: Some(c.into()),
        ..Default::default()
    }
}

/// The mutation of a city edit, as a desk queues it.
fn city_change(patient: Uuid, c: &str) -> Mutation {
    let mut set = serde_json::Map::new();
    set.insert("city".into(), serde_json::json!(c));
    Mutation::new(clinic_core::patients::UpdatePatient {
        patient,
        set,
        ..Default::default()
    })
}

fn server_city(server: &TestServer, patient: Uuid) -> Option<String> {
    server.query(&format!("SELECT city FROM patients WHERE id = '{patient}'"))[0][0].clone()
}

/// Rita, a receptionist, added on `a` (the signed-in administrator's
/// desk) with a patient, synced: (the patient, Rita).
fn rita_and_a_patient(a: &mut Workstation) -> (Uuid, Uuid) {
    a.directory()
        .add_user(
            RITA,
            "Rita Reception",
            "receptionist",
            &password(PASSWORD),
            None,
        )
        .unwrap();
    let p = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient
        .id;
    sync(a);
    (p, crate::authority::user_id(a, RITA))
}

/// A change queued on `ws`'s store in `user`'s name, as someone holding
/// the store could queue it (signed with `key` when given).
fn queue_as(ws: &mut Workstation, user: Uuid, key: Option<UserSigner>, m: &Mutation) {
    let now = ws.now();
    let store = ws.store_mut_for_tests().unwrap();
    if let Some(k) = key {
        store.add_signer(k);
    }
    store
        .write(|db| {
            let c = db.commit_mutation(Some(user), now, m)?;
            db.append_audit(
                Uuid::now_v7(),
                Some(user),
                now,
                c.named(clinic_core::audit::AuditEntry::store("patient.update")),
            )?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn nobody_without_a_users_password_gets_a_change_accepted_in_their_name() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let (p, rita) = rita_and_a_patient(&mut a);
    sync(&mut b);
    // Rita signs in on B and chooses her own password: a key of her own
    // replaces the one the administrator's desk made with the first one.
    // Her change of the address is accepted.
    as_user(&mut b, RITA, PASSWORD);
    b.change_password(&password(PASSWORD), password("ritas-own-password-2"))
        .unwrap();
    b.patients().edit(p, city("Leeds")).unwrap();
    let r = sync(&mut b);
    assert_eq!((r.pending, r.problems), (0, 0));
    assert_eq!(server_city(&server, p).as_deref(), Some("Leeds"));
    let keys = server.query(&format!(
        "SELECT doc->'signing_key'->>'made_by', jsonb_array_length(doc->'past_keys') FROM sync_records WHERE id = '{rita}'"
    ));
    assert_eq!(keys[0][0].as_deref(), Some(rita.to_string().as_str()));
    assert_eq!(
        keys[0][1].as_deref(),
        Some("1"),
        "the administrator's key is kept as a past key"
    );
    sync(&mut a);

    // On desk A someone holds the store, its keychain and its device
    // credential, but not Rita's password. 1. A change in her name signed
    // with a key they made; 2. one claiming her key's id.
    let forger = UserSigner::from_secret(rita, &[0x66; 32]);
    queue_as(&mut a, rita, Some(forger), &city_change(p, "Forged"));
    queue_as(&mut a, rita, None, &city_change(p, "Claimed"));
    let rita_key = a
        .store_for_tests()
        .unwrap()
        .db()
        .staff(rita)
        .unwrap()
        .unwrap()
        .signing_key
        .unwrap()
        .key_id;
    // The second names her key; its signature is still the forger's.
    a.store_mut_for_tests()
        .unwrap()
        .write(|db| {
            Ok(db.execute_sql(
                &format!(
                    "UPDATE outbox SET author_key = '{rita_key}'
                     WHERE device_seq = (SELECT max(device_seq) FROM outbox WHERE user_id = '{rita}')"
                ),
                &[],
            )?)
        })
        .unwrap();
    let r = sync(&mut a);
    assert_eq!(r.pending, 0, "the queue goes on");
    let problems = a.sync_conflicts().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    for e in &problems {
        assert_eq!(e.status, "rejected");
        let msg = e.message.as_deref().unwrap_or("");
        assert!(
            msg.contains("only a change signed with their own key is theirs"),
            "{msg}"
        );
    }
    assert!(problems[0]
        .message
        .as_deref()
        .unwrap()
        .contains("not theirs"));
    assert!(problems[1]
        .message
        .as_deref()
        .unwrap()
        .contains("does not match its content"));
    assert_eq!(server_city(&server, p).as_deref(), Some("Leeds"));

    // 3. Unsigned, sent straight to the server with the desk's credential
    //    (the desk itself never sends it): refused, and the refusal kept.
    let last = a
        .store_for_tests()
        .unwrap()
        .db()
        .sync_cursor()
        .unwrap()
        .server_last_applied;
    let forged_id = Uuid::now_v7();
    let resp = a
        .transport()
        .unwrap()
        .push(&PushRequest {
            protocol: PROTOCOL_VERSION,
            mutations: vec![Envelope {
                device_seq: last + 1,
                id: forged_id,
                user_id: Some(rita),
                at: chrono::Utc::now(),
                mutation: city_change(p, "Unsigned"),
                author_key: None,
                signature: None,
            }],
            audit: vec![],
            want_numbers: vec![],
            restored: false,
        })
        .unwrap();
    assert_eq!(resp.outcomes[0].status, OutcomeStatus::Rejected);
    assert!(resp.outcomes[0]
        .message
        .as_deref()
        .unwrap()
        .contains("it carries no signature"));
    let kept = server.query(&format!(
        "SELECT status, mutation->>'kind' FROM mutation_outcomes WHERE mutation_id = '{forged_id}'"
    ));
    assert_eq!(kept[0][0].as_deref(), Some("rejected"));
    assert_eq!(kept[0][1].as_deref(), Some("update_patient"));
    assert_eq!(server_city(&server, p).as_deref(), Some("Leeds"));

    // 4. Rita, still signed in on B, changes the address again while an
    //    administrator disables her on A: her signed change is refused.
    b.patients().edit(p, city("York")).unwrap();
    a.directory().set_user_disabled(RITA, true).unwrap();
    let r = sync(&mut a);
    assert_eq!(r.problems, 2, "the two forged changes, and nothing else");
    sync(&mut b);
    as_admin(&mut b);
    let refused = b.sync_conflicts().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0]
        .message
        .as_deref()
        .unwrap()
        .contains("has been disabled"));
    assert_eq!(server_city(&server, p).as_deref(), Some("Leeds"));

    // The server's audit trail verifies with the public keys: every chain
    // is whole, the honest events are signed, and the forger's two events
    // in Rita's name are shown as not hers.
    let report = server.verify_audit("acme");
    assert!(!report.ok);
    assert!(
        report.devices.iter().all(|d| d.chain_break.is_none()),
        "{report:?}"
    );
    assert!(
        report.devices.iter().map(|d| d.signed).sum::<i64>() > 10,
        "{report:?}"
    );
    let bad = |r: &sync_server::audit::AuditReport| -> Vec<String> {
        r.devices
            .iter()
            .flat_map(|d| d.bad_signatures.iter().map(|(_, why)| why.clone()))
            .collect()
    };
    assert_eq!(
        bad(&report),
        ["it is signed with a key that is not theirs"; 2],
        "{report:?}"
    );
    let flagged = server
        .query("SELECT count(*) FROM audit_events WHERE flag LIKE '%not signed by its user%'");
    assert_eq!(flagged[0][0].as_deref(), Some("2"));
    // An event whose signature is changed on the server is found.
    server.query(
        "UPDATE audit_events SET signature = (SELECT signature FROM audit_events WHERE signature IS NOT NULL ORDER BY at, seq LIMIT 1)
         WHERE (device_id, seq) = (SELECT device_id, seq FROM audit_events WHERE signature IS NOT NULL AND flag IS NULL ORDER BY at DESC, seq DESC LIMIT 1)",
    );
    let report = server.verify_audit("acme");
    let found = bad(&report);
    assert_eq!(found.len(), 3, "{report:?}");
    assert!(found.contains(&"its signature does not match its content".to_string()));
}

#[test]
fn changes_queued_before_signatures_are_signed_at_their_authors_next_sign_in_and_none_is_refused() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let (p, rita) = rita_and_a_patient(&mut a);
    // Rita's account as it was before signatures, on the server and on this
    // desk: no key. Two changes of hers wait in the queue, unsigned (made
    // by the version before), with the administrator's after them.
    server.query(&format!(
        "UPDATE sync_records SET doc = doc - 'signing_key' WHERE id = '{rita}'"
    ));
    a.store_mut_for_tests()
        .unwrap()
        .write(|db| {
            Ok(db.execute_sql(
                &format!("UPDATE records SET doc = json_remove(doc, '$.signing_key') WHERE id = '{rita}'"),
                &[],
            )?)
        })
        .unwrap();
    queue_as(&mut a, rita, None, &city_change(p, "Leeds"));
    queue_as(&mut a, rita, None, &city_change(p, "Leeds, West Yorkshire"));
    a.patients()
        .edit(
            p,
            PatientPatch {
                phone: Some("+44 113 496 0000".into()),
                ..Default::default()
            },
        )
        .unwrap();
    // Nothing of it is sent yet: the queue waits for Rita, and says so.
    let r = sync(&mut a);
    assert_eq!((r.pending, r.problems), (3, 0));
    let waiting = a.sync_status(false).unwrap().waiting_for_signature;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (waiting[0].name.as_str(), waiting[0].changes),
        ("Rita Reception", 2)
    );
    assert_eq!(server_city(&server, p), None);
    // Rita signs in: her first key is registered ahead of her changes,
    // which it signs; then everything goes up, and nothing is refused.
    as_user(&mut a, RITA, PASSWORD);
    let r = sync(&mut a);
    assert_eq!((r.pending, r.problems), (0, 0));
    assert!(a
        .sync_status(false)
        .unwrap()
        .waiting_for_signature
        .is_empty());
    assert_eq!(
        server_city(&server, p).as_deref(),
        Some("Leeds, West Yorkshire")
    );
    let outcomes = server.query(
        "SELECT count(*) FILTER (WHERE status = 'accepted'), count(*) FILTER (WHERE status <> 'accepted') FROM mutation_outcomes",
    );
    assert_eq!(outcomes[0][1].as_deref(), Some("0"), "none refused");
    let key = server.query(&format!(
        "SELECT doc->'signing_key'->>'made_by' FROM sync_records WHERE id = '{rita}'"
    ));
    assert_eq!(key[0][0].as_deref(), Some(rita.to_string().as_str()));
    // Her password changes: the same key, sealed again; an administrator's
    // reset then gives her a new one, and what the old one signed still
    // verifies.
    a.change_password(&password(PASSWORD), password("another-long-password"))
        .unwrap();
    as_user(&mut a, RITA, "another-long-password");
    a.patients().edit(p, city("Bradford")).unwrap();
    as_admin(&mut a);
    a.directory()
        .reset_password(RITA, password("temporary-password-9"))
        .unwrap();
    as_user(&mut a, RITA, "temporary-password-9");
    a.change_password(
        &password("temporary-password-9"),
        password("her-own-password-3"),
    )
    .unwrap();
    a.patients().edit(p, city("Harrogate")).unwrap();
    let r = sync(&mut a);
    assert_eq!((r.pending, r.problems), (0, 0));
    assert_eq!(server_city(&server, p).as_deref(), Some("Harrogate"));
    let keys = server.query(&format!(
        "SELECT doc->'signing_key'->>'made_by', jsonb_array_length(doc->'past_keys') FROM sync_records WHERE id = '{rita}'"
    ));
    assert_eq!(keys[0][0].as_deref(), Some(rita.to_string().as_str()));
    assert_eq!(
        keys[0][1].as_deref(),
        Some("2"),
        "her first key and the reset's"
    );
    let report = server.verify_audit("acme");
    assert!(report.ok, "{report:?}");
}
