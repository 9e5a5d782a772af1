//! The server decides who may do what: every change pushed by a real
//! workstation is re-checked against the server's own records of its
//! author (exists in the tenant, active, roles allowing it) and of what it
//! names; what is refused keeps its content on the desk and the server, is
//! shown, and can be made again by someone allowed to. Users and roles
//! change by named mutations, so concurrent edits of one user both count.
//! Nothing reported done is dropped: a change that comes second keeps its
//! content in the record's history on every desk.

use crate::{ada, signed_in, sync};
use clinic_client::{Password, Workstation};
use clinic_core::directory::CreateUser;
use clinic_core::patients::PatientPatch;
use clinic_core::scheduling::{AppointmentStatus, BookAppointment, SeriesScope};
use clinic_core::signing::UserSigner;
use clinic_core::sync::Mutation;
use clinic_core::ErrorCode;
use sync_server::testing::TestServer;
use uuid::Uuid;

const RITA: &str = "rita@acme.example";
const MAX: &str = "max@acme.example";
const PASSWORD: &str = "a-long-staff-password";

fn password() -> Password {
    Password::new(PASSWORD.into())
}

/// Signs the current user out and `email` in.
fn as_user(ws: &mut Workstation, email: &str) {
    let _ = ws.logout();
    ws.login(email, &password()).unwrap();
}

fn as_admin(ws: &mut Workstation) {
    let _ = ws.logout();
    ws.login(
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
    )
    .unwrap();
}

/// Runs SQL on a desk's own store, as someone with the store's key could.
fn tamper(ws: &mut Workstation, sql: &str) {
    ws.store_mut_for_tests()
        .unwrap()
        .write(|db| Ok(db.execute_sql(sql, &[])?))
        .unwrap();
}

/// Makes a change on a desk's store directly, in `user`'s name, as a
/// tampered desk could (no session, no local check but the rule's own).
/// The change is signed with `user`'s key where a password the tests
/// know opens it (someone who knows it, on a tampered desk), otherwise
/// with a key the forger made.
fn forge(ws: &mut Workstation, user: Option<Uuid>, m: Mutation) {
    let now = ws.now();
    let store = ws.store_mut_for_tests().unwrap();
    if let Some(u) = user.filter(|u| store.signer_of(*u).is_none()) {
        let tenant = store.tenant_id();
        let opened = store
            .db()
            .staff(u)
            .unwrap()
            .and_then(|s| s.signing_key)
            .and_then(|k| {
                [PASSWORD, "admin-password-1"].iter().find_map(|p| {
                    UserSigner::open(&k, tenant, u, &Password::new(p.to_string())).ok()
                })
            });
        store.add_signer(opened.unwrap_or_else(|| UserSigner::from_secret(u, &[0x66; 32])));
    }
    store
        .write(|db| Ok(db.commit_mutation(user, now, &m).map(|_| ())?))
        .unwrap();
}

fn count(server: &TestServer, sql: &str) -> i64 {
    server.query(sql)[0][0]
        .as_deref()
        .unwrap_or("0")
        .parse()
        .unwrap()
}

pub(crate) fn user_id(ws: &mut Workstation, email: &str) -> Uuid {
    ws.directory()
        .list_users()
        .unwrap()
        .into_iter()
        .find(|u| u.email == email)
        .unwrap()
        .id
}

/// A server and two desks (administrator signed in on both) that know
/// Rita; the temporary folder holds the stores.
fn two_desks_with_rita() -> (TestServer, tempfile::TempDir, Workstation, Workstation) {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    add_rita(&mut a);
    sync(&mut a);
    sync(&mut b);
    (server, t, a, b)
}

/// Adds Rita, a receptionist, on `ws` (the signed-in administrator's desk).
fn add_rita(ws: &mut Workstation) {
    ws.directory()
        .add_user(RITA, "Rita Reception", "receptionist", &password(), None)
        .unwrap();
}

/// Registers Ada on `ws`; her id.
fn add_ada(ws: &mut Workstation) -> Uuid {
    ws.patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient
        .id
}

fn city(c: &str) -> PatientPatch {
    PatientPatch {
        city: Some(c.into()),
        ..Default::default()
    }
}

fn blood_group(g: &str) -> PatientPatch {
    PatientPatch {
        blood_group: Some(g.into()),
        ..Default::default()
    }
}

#[test]
fn the_server_rechecks_every_change_and_a_refused_one_can_be_made_again() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    // A user made on a desk is a server user, known on every desk.
    add_rita(&mut a);
    a.directory()
        .add_user(MAX, "Max Manager", "manager", &password(), None)
        .unwrap();
    let id = add_ada(&mut a);
    sync(&mut a);
    assert_eq!(
        count(
            &server,
            &format!("SELECT count(*) FROM users WHERE email = '{RITA}' AND status = 'active' AND role_keys = '{{receptionist}}'")
        ),
        1,
        "the server has Rita, with her role"
    );
    sync(&mut b);
    let rita = user_id(&mut b, RITA);
    let max = user_id(&mut b, MAX);
    let admin = user_id(&mut b, "admin@acme.example");

    // 1. A receptionist's desk that granted itself a clinician's rights
    //    edits a blood group (medical history); the server knows better.
    tamper(
        &mut b,
        &format!("INSERT INTO user_roles (user_id, role_id, tenant_id) SELECT '{rita}', id, tenant_id FROM roles WHERE key = 'clinician'"),
    );
    as_user(&mut b, RITA);
    b.patients().edit(id, blood_group("AB-")).unwrap();
    // 2. A change naming no user, 3. one naming a user the clinic lacks.
    let set_city = |c: &str| {
        let mut set = serde_json::Map::new();
        set.insert("city".into(), serde_json::json!(c));
        Mutation::new(clinic_core::patients::UpdatePatient {
            patient: id,
            set,
            ..Default::default()
        })
    };
    forge(&mut b, None, set_city("Nowhere"));
    forge(&mut b, Some(Uuid::now_v7()), set_city("Ghost town"));
    // 4. A manager whose desk record was edited to say administrator grants
    //    Rita the administrator role.
    tamper(
        &mut b,
        &format!("UPDATE records SET doc = json_set(doc, '$.roles', json('[\"admin\"]')) WHERE id = '{max}'"),
    );
    forge(
        &mut b,
        Some(max),
        Mutation::new(clinic_core::directory::ChangeUserRoles {
            user: rita,
            roles: vec!["admin".into()],
        }),
    );
    // 5. A booking naming a patient the clinic does not have.
    let site = b.home_site().unwrap().id;
    let ghost_booking = Uuid::now_v7();
    let appt = clinic_core::scheduling::Appointment {
        id: ghost_booking,
        tenant_id: b.store_mut_for_tests().unwrap().db().tenant_id,
        site_id: site,
        patient_id: Uuid::now_v7(),
        clinician_id: admin,
        room_id: None,
        type_id: None,
        type_name: "Consultation".into(),
        start: (chrono::Utc::now() + chrono::Duration::days(1))
            .date_naive()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc(),
        minutes: 15,
        buffer_before: 0,
        buffer_after: 0,
        timezone: "Europe/London".into(),
        mode: Default::default(),
        meeting_link: None,
        notes: None,
        status: AppointmentStatus::Scheduled,
        status_reason: None,
        series: None,
        double_booking_accepted: false,
        outside_hours_accepted: false,
        conflict: None,
        booked_by: Some(admin),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    forge(
        &mut b,
        Some(admin),
        Mutation::new(BookAppointment {
            appointment: appt.clone(),
            override_overlap: false,
        }),
    );
    // 6. The queue goes on: a change Rita may make, after all of those.
    forge(&mut b, Some(rita), set_city("Leeds"));

    let r = sync(&mut b);
    assert_eq!(r.pending, 0, "nothing blocks the queue");
    let problems = b.sync_conflicts().unwrap();
    let kinds: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.kind.as_str(), p.status.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("update_patient", "rejected"),
            ("update_patient", "rejected"),
            ("update_patient", "rejected"),
            ("change_user_roles", "rejected"),
            ("book_appointment", "rejected"),
        ],
        "{problems:#?}"
    );
    for (p, why) in problems.iter().zip([
        "does not allow",
        "names no user",
        "does not have",
        "allows more than",
        "patient that does not exist",
    ]) {
        assert!(
            p.message.as_deref().unwrap_or("").contains(why),
            "{why}: {:?}",
            p.message
        );
    }
    // Nothing of them was written; the allowed one was.
    let p = b.patients().show(id).unwrap();
    assert_eq!(
        p.details.blood_group, None,
        "the desk is the server's again"
    );
    assert_eq!(p.details.city.as_deref(), Some("Leeds"));
    assert_eq!(
        count(
            &server,
            &format!("SELECT count(*) FROM change_feed WHERE entity_id = '{ghost_booking}'")
        ),
        0
    );
    assert_eq!(
        count(
            &server,
            &format!(
                "SELECT count(*) FROM users WHERE id = '{rita}' AND role_keys = '{{receptionist}}'"
            )
        ),
        1,
        "Rita is still a receptionist on the server"
    );
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM change_feed WHERE data->>'blood_group' = 'AB-'"
        ),
        0
    );
    // The server keeps each refused change whole too.
    assert_eq!(
        count(&server, "SELECT count(*) FROM mutation_outcomes WHERE status = 'rejected' AND mutation->'set'->>'blood_group' = 'AB-'"),
        1
    );

    // Someone allowed makes the clinical edit again, under their own name.
    as_admin(&mut b);
    let refused_edit = problems[0].device_seq;
    b.reapply_sync_problem(refused_edit).unwrap();
    sync(&mut b);
    assert_eq!(
        b.patients()
            .show(id)
            .unwrap()
            .details
            .blood_group
            .as_deref(),
        Some("AB-")
    );
    assert!(
        b.sync_conflicts()
            .unwrap()
            .iter()
            .all(|p| p.device_seq != refused_edit),
        "re-applied, so resolved"
    );
    // A change is made again only by someone whose role allows it.
    as_user(&mut b, RITA);
    let refused_grant = problems[3].device_seq;
    assert_eq!(
        b.reapply_sync_problem(refused_grant).unwrap_err().code,
        ErrorCode::Forbidden
    );
    sync(&mut a);
    assert_eq!(
        a.patients()
            .show(id)
            .unwrap()
            .details
            .blood_group
            .as_deref(),
        Some("AB-")
    );
}

#[test]
fn a_user_disabled_on_one_desk_cannot_push_from_another() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    add_rita(&mut a);
    let id = add_ada(&mut a);
    sync(&mut a);
    sync(&mut b);
    // Rita works on B, offline; meanwhile A disables her, and syncs first.
    as_user(&mut b, RITA);
    b.patients().edit(id, city("Leeds")).unwrap();
    a.directory().set_user_disabled(RITA, true).unwrap();
    sync(&mut a);
    let r = sync(&mut b);
    assert_eq!(r.problems, 1);
    let problem = &b.sync_conflicts().unwrap()[0];
    assert_eq!(problem.status, "rejected");
    assert!(
        problem.message.as_deref().unwrap().contains("disabled"),
        "{problem:?}"
    );
    assert_eq!(b.patients().show(id).unwrap().details.city, None);
    // After B synced, Rita cannot sign in there either.
    let _ = b.logout();
    assert!(b.login(RITA, &password()).is_err());
    // Her change is not lost: an administrator makes it again.
    as_admin(&mut b);
    b.reapply_sync_problem(problem.device_seq).unwrap();
    sync(&mut b);
    sync(&mut a);
    assert_eq!(
        a.patients().show(id).unwrap().details.city.as_deref(),
        Some("Leeds")
    );
    // The server ended her sessions too, and knows her as disabled.
    assert_eq!(
        count(
            &server,
            &format!("SELECT count(*) FROM users WHERE email = '{RITA}' AND status = 'disabled'")
        ),
        1
    );
}

#[test]
fn two_desks_changing_one_users_name_and_roles_offline_both_keep_their_field() {
    let (server, _t, mut a, mut b) = two_desks_with_rita();
    a.directory().rename_user(RITA, "Rita Okafor").unwrap();
    b.directory()
        .set_user_roles(RITA, &["billing_clerk".into()])
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    for ws in [&mut a, &mut b] {
        let u = ws
            .directory()
            .list_users()
            .unwrap()
            .into_iter()
            .find(|u| u.email == RITA)
            .unwrap();
        assert_eq!(u.name, "Rita Okafor");
        assert_eq!(u.roles, vec!["billing_clerk".to_string()]);
        let v = ws.verify_sync().unwrap();
        assert!(v.differing_buckets.is_empty(), "{v:?}");
    }
    // The same e-mail made on two desks offline: the second is a conflict
    // an administrator sees, not a second account.
    a.directory()
        .add_user(MAX, "Max One", "manager", &password(), None)
        .unwrap();
    b.directory()
        .add_user(MAX, "Max Two", "manager", &password(), None)
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    let problems = b.sync_conflicts().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        (problems[0].kind.as_str(), problems[0].status.as_str()),
        ("create_user", "conflict")
    );
    assert_eq!(
        count(
            &server,
            &format!("SELECT count(*) FROM users WHERE email = '{MAX}'")
        ),
        1
    );
    let names: Vec<String> = b
        .directory()
        .list_users()
        .unwrap()
        .into_iter()
        .filter(|u| u.email == MAX)
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["Max One"], "B's copy is the server's again");
    // Max One signs in on B (B's own attempt stepped aside).
    b.logout().unwrap();
    b.login(MAX, &password()).unwrap();
    assert_eq!(b.session().unwrap().name, "Max One");
    as_admin(&mut b);

    // Likewise a role of the clinic's own, named alike on two desks.
    let like = |ws: &mut Workstation| {
        ws.directory()
            .list_roles()
            .unwrap()
            .into_iter()
            .find(|r| r.key == "receptionist")
            .unwrap()
            .permissions
    };
    let m = like(&mut a);
    a.directory()
        .create_role("locum_desk", "Locum desk", m.clone())
        .unwrap();
    b.directory()
        .create_role("locum_desk", "Locum desk (B)", m)
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    let problems = b.sync_conflicts().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[1].kind, "create_role");
    let roles: Vec<String> = b
        .directory()
        .list_roles()
        .unwrap()
        .into_iter()
        .filter(|r| r.key == "locum_desk")
        .map(|r| r.name)
        .collect();
    assert_eq!(roles, ["Locum desk"]);
}

#[test]
fn a_staff_record_over_another_users_id_is_refused_everywhere() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    // C enrolled before Rita existed, and has not synced since.
    let mut c = signed_in(&server, &t.path().join("c"));
    add_rita(&mut a);
    sync(&mut a);
    let rita = user_id(&mut a, RITA);
    let admin = user_id(&mut c, "admin@acme.example");
    // C makes an administrator account with Rita's id and a chosen password.
    forge(
        &mut c,
        Some(admin),
        Mutation::new(CreateUser {
            user: rita,
            email: "intruder@acme.example".into(),
            name: "Intruder".into(),
            roles: vec!["admin".into()],
            password_hash: clinic_client::auth::hash_password(&password()).unwrap(),
            specialization: None,
            registration_number: None,
            signing_key: None,
        }),
    );
    let r = sync(&mut c);
    assert_eq!(r.problems, 1);
    assert_eq!(c.sync_conflicts().unwrap()[0].status, "rejected");
    // Rita is Rita everywhere; nobody can sign in as the intruder.
    assert!(c.login("intruder@acme.example", &password()).is_err());
    assert_eq!(
        count(
            &server,
            &format!("SELECT count(*) FROM users WHERE id = '{rita}' AND email = '{RITA}'")
        ),
        1
    );
    let _ = c.logout();
    c.login(RITA, &password()).unwrap();
}

#[test]
fn a_cancellation_that_comes_second_keeps_its_reason_on_every_desk() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let patient = add_ada(&mut a);
    let doctor = a
        .directory()
        .add_user(
            "dr.jones@acme.example",
            "Dr Jones",
            "clinician",
            &password(),
            None,
        )
        .unwrap()
        .id;
    let booked = a
        .scheduling()
        .book_appointment(clinic_client::scheduling::BookRequest {
            patient,
            clinician: doctor,
            start: (chrono::Utc::now() + chrono::Duration::days(2))
                .date_naive()
                .and_hms_opt(10, 0, 0)
                .unwrap()
                .and_utc(),
            minutes: Some(15),
            override_checks: true,
            ..Default::default()
        })
        .unwrap();
    let id = booked[0].id;
    sync(&mut a);
    sync(&mut b);
    // A cancels and syncs; B, not yet pulled, cancels with its own reason.
    a.scheduling()
        .set_appointment_status(
            id,
            AppointmentStatus::Cancelled,
            Some("r1: patient phoned".into()),
            SeriesScope::This,
        )
        .unwrap();
    sync(&mut a);
    b.scheduling()
        .set_appointment_status(
            id,
            AppointmentStatus::Cancelled,
            Some("r2: clinician ill".into()),
            SeriesScope::This,
        )
        .unwrap();
    let r = sync(&mut b);
    assert_eq!(r.problems, 1, "B hears that its cancellation came second");
    let problem = &b.sync_conflicts().unwrap()[0];
    assert_eq!(problem.status, "conflict");
    assert!(serde_json::to_string(&problem.mutation)
        .unwrap()
        .contains("r2: clinician ill"));
    sync(&mut a);
    for ws in [&mut a, &mut b] {
        let appt = ws.scheduling().show_appointment(id).unwrap();
        assert_eq!(appt.status, AppointmentStatus::Cancelled);
        assert_eq!(appt.status_reason.as_deref(), Some("r1: patient phoned"));
        let notes = ws.not_applied(id).unwrap();
        assert_eq!(notes.len(), 1, "both desks keep the second reason");
        assert!(notes[0].change.to_string().contains("r2: clinician ill"));
        assert!(
            notes[0].message.contains("Nothing was changed"),
            "{}",
            notes[0].message
        );
    }
}

#[test]
fn an_audit_event_in_another_users_name_than_its_change_is_kept_and_flagged() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    add_rita(&mut a);
    let id = add_ada(&mut a);
    sync(&mut a);
    let rita = user_id(&mut a, RITA);
    let admin = user_id(&mut a, "admin@acme.example");
    // An honest change names its change in its audit event, same user.
    a.patients().edit(id, city("Leeds")).unwrap();
    // A tampered desk records the administrator's change as Rita's.
    let now = a.now();
    let mut set = serde_json::Map::new();
    set.insert("city".into(), serde_json::json!("York"));
    let m = Mutation::new(clinic_core::patients::UpdatePatient {
        patient: id,
        set,
        ..Default::default()
    });
    a.store_mut_for_tests()
        .unwrap()
        .write(|db| {
            let c = db.commit_mutation(Some(admin), now, &m)?;
            db.append_audit(
                Uuid::now_v7(),
                Some(rita),
                now,
                clinic_core::audit::AuditEntry::patient(
                    "patient.update",
                    id,
                    serde_json::json!({"mutation": c.mutation_id.unwrap().to_string()}),
                ),
            )?;
            Ok(())
        })
        .unwrap();
    let r = sync(&mut a);
    assert_eq!(
        r.problems, 0,
        "the change itself is the administrator's, allowed"
    );
    // Every event is kept (the chain is whole); only the forged one is flagged.
    let status = a.sync_status(false).unwrap();
    assert_eq!(status.audit_problem, None);
    let events = count(&server, "SELECT count(*) FROM audit_events");
    let held: i64 = a.verify_audit().unwrap().unwrap();
    assert_eq!(events, held, "the server holds every event of the desk");
    let flagged =
        server.query("SELECT user_id::text, flag FROM audit_events WHERE flag IS NOT NULL");
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(flagged[0][0].as_deref(), Some(rita.to_string().as_str()));
    assert!(flagged[0][1]
        .as_deref()
        .unwrap()
        .contains("another user made"));
    assert_eq!(
        count(&server, "SELECT count(*) FROM audit_events WHERE details ? 'mutation' AND flag IS NULL AND action = 'patient.update'"),
        1,
        "the honest edit names its change and is not flagged"
    );
}

#[test]
fn accounts_from_before_staff_were_records_become_records_on_both_sides() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let b_dir = t.path().join("b");
    let mut b = signed_in(&server, &b_dir);
    add_rita(&mut a);
    sync(&mut a);
    sync(&mut b);
    let rita = user_id(&mut b, RITA);
    // B goes back to how an older desk kept staff: sign-in tables only, or
    // whole documents tagged with their kind, and no record of this migration.
    b.store_for_tests()
        .unwrap()
        .execute_raw_for_tests(&format!(
            "DELETE FROM records WHERE kind = 'staff' AND id <> '{rita}';
             UPDATE records SET doc = json_set(doc, '$.kind', 'staff') WHERE id = '{rita}';
             DELETE FROM schema_migrations WHERE name = '20261205000100_authority';"
        ))
        .unwrap();
    drop(b);
    // The server's copy too: Rita's record gone (her account only in the
    // users table), the administrator's in the old tagged form.
    server.query(&format!(
        "DELETE FROM sync_records WHERE id = '{rita}';
         UPDATE sync_records SET doc = doc || '{{\"kind\": \"staff\"}}' WHERE entity_type = 'staff'"
    ));
    let head_before = count(&server, "SELECT last_seq FROM feed_heads");
    let url = server.database_url.clone();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let pool = sync_server::db::app_pool(&url, 1).unwrap();
                let tenants: Vec<Uuid> = {
                    let c = sync_server::db::connect(&url).await.unwrap();
                    c.query("SELECT id FROM tenants", &[])
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.get(0))
                        .collect()
                };
                sync_server::directory::ensure_all(&pool, &tenants)
                    .await
                    .unwrap();
            })
    })
    .join()
    .unwrap();
    // Both written again, as changes every desk receives.
    assert_eq!(
        count(&server, "SELECT last_seq FROM feed_heads") - head_before,
        2
    );
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM sync_records WHERE entity_type = 'staff' AND doc ? 'kind'"
        ),
        0
    );
    // B, reopened, migrates: every account has its record again, and the
    // administrator can change Rita through the directory's mutations.
    let mut b = Workstation::open(
        &b_dir,
        &clinic_store::keys::Unlock::Passphrase(
            clinic_store::keys::Passphrase::new("workstation passphrase".into()).unwrap(),
        ),
        std::sync::Arc::new(clinic_client::SystemClock),
    )
    .unwrap();
    as_admin(&mut b);
    b.directory().rename_user(RITA, "Rita Okafor").unwrap();
    sync(&mut b);
    sync(&mut a);
    assert_eq!(
        a.directory()
            .list_users()
            .unwrap()
            .into_iter()
            .find(|u| u.email == RITA)
            .unwrap()
            .name,
        "Rita Okafor"
    );
    for ws in [&mut a, &mut b] {
        let v = ws.verify_sync().unwrap();
        assert!(v.differing_buckets.is_empty(), "{v:?}");
    }
}

#[test]
fn a_password_changed_or_reset_on_one_desk_holds_on_every_desk_and_the_server() {
    let (server, _t, mut a, mut b) = two_desks_with_rita();
    // Rita changes hers on B: the current one is asked, the policy holds.
    as_user(&mut b, RITA);
    let weak = b.change_password(&password(), Password::new("1234567890".into()));
    assert_eq!(weak.unwrap_err().code, ErrorCode::Validation);
    let wrong = b.change_password(
        &Password::new("not her password".into()),
        Password::new("three quiet herons".into()),
    );
    assert_eq!(wrong.unwrap_err().code, ErrorCode::Validation);
    b.change_password(&password(), Password::new("three quiet herons".into()))
        .unwrap();
    sync(&mut b);
    sync(&mut a);
    // The old one stops working on both desks, and on the server.
    for ws in [&mut a, &mut b] {
        let _ = ws.logout();
        assert_eq!(
            ws.login(RITA, &password()).unwrap_err().code,
            ErrorCode::InvalidCredentials
        );
        ws.login(RITA, &Password::new("three quiet herons".into()))
            .unwrap();
    }
    let server_login = |pw: &str| {
        clinic_sync::ServerClient::new(&server.url)
            .unwrap()
            .login("acme", RITA, pw, None)
            .map(|_| ())
            .map_err(|e| e.code)
    };
    assert_eq!(server_login(PASSWORD), Err(ErrorCode::InvalidCredentials));
    server_login("three quiet herons").unwrap();

    // An administrator resets it on A: on B, after sync, Rita signs in with
    // the reset one and can do nothing before choosing her own.
    as_admin(&mut a);
    a.directory()
        .reset_password(RITA, Password::new("Temporary-reset-7".into()))
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    let _ = b.logout();
    assert!(b
        .login(RITA, &Password::new("three quiet herons".into()))
        .is_err());
    let s = b
        .login(RITA, &Password::new("Temporary-reset-7".into()))
        .unwrap();
    assert!(s.must_change_password);
    assert_eq!(
        b.patients().search("Lovelace", 5).unwrap_err().code,
        ErrorCode::PasswordChangeRequired
    );
    assert_eq!(
        server_login("Temporary-reset-7"),
        Err(ErrorCode::PasswordChangeRequired),
        "nor on the server"
    );
    b.change_password(
        &Password::new("Temporary-reset-7".into()),
        Password::new("a kettle of hawks".into()),
    )
    .unwrap();
    b.patients().search("Lovelace", 5).unwrap();
    sync(&mut b);
    sync(&mut a);
    let _ = a.logout();
    a.login(RITA, &Password::new("a kettle of hawks".into()))
        .unwrap();
    assert!(!a.session().unwrap().must_change_password);
    // Only its owner changes a password: a reset of one's own is refused.
    as_admin(&mut a);
    assert_eq!(
        a.directory()
            .reset_password("admin@acme.example", Password::new("Another-one-8".into()))
            .unwrap_err()
            .code,
        ErrorCode::Conflict
    );
    // Each is audited on the desk that made it.
    let log = a.audit_log(None, 500).unwrap();
    assert!(log.iter().any(|e| e.action == "user.password_reset"));
}
