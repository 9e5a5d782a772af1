//! End-to-end: the real `clinic-desktop` binary in a real WebKitGTK window
//! under Xvfb, driven through WebDriver (`tauri-driver` in front of
//! `WebKitWebDriver`), against a real sync server on PostgreSQL, with
//! SQLCipher stores prepared through the same use-cases the app calls.
//!
//! Screenshots of each main screen land in `target/e2e-screenshots/`.

use chrono::{Duration, NaiveTime, Utc};
use clinic_client::{Password, SystemClock, Workstation};
use clinic_core::patients::PatientDetails;
use clinic_store::keys::Passphrase;
use clinic_webdriver::Window as App;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;
use sync_server::testing::TestServer;

const PASSPHRASE: &str = "workstation passphrase";
const ADMIN: (&str, &str) = ("admin@e2e.example", "admin-password-1");
const DESK: (&str, &str) = ("desk@e2e.example", "desk-password-1");
const DOCTOR: (&str, &str) = ("dr.grey@e2e.example", "doctor-password-1");
const MANAGER: (&str, &str) = ("manager@e2e.example", "manager-password-1");

/// One window at a time per test: two tests in parallel would starve two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// The app on one workstation store, with its own display and driver;
/// screenshots go to `target/e2e-screenshots/<name>-<screen>.png`.
fn launch(data_dir: &Path, name: &str) -> App {
    launch_sized(data_dir, name, (1400, 900))
}

/// The app on a screen of `size` (a smaller monitor), its window filling it.
fn launch_sized(data_dir: &Path, name: &str, size: (u32, u32)) -> App {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
    App::launch_sized(
        Path::new(env!("CARGO_BIN_EXE_clinic-desktop")),
        data_dir,
        name,
        &shots,
        size,
    )
}

/// Fast user switch: the signed-in person steps away and `who` signs in.
fn switch_to(app: &App, who: (&str, &str)) {
    app.click("switch-user");
    app.type_in("signin-email", who.0);
    app.type_in("signin-password", who.1);
    app.click("signin-submit");
}

/// The height of the app's top bar: one row of controls is under 60 px.
fn top_bar_height(app: &App) -> f64 {
    app.js(
        "return document.querySelector('[data-testid=top-bar]').getBoundingClientRect().height;",
        vec![],
    )
    .as_f64()
    .unwrap()
}

fn unlock_and_sign_in(app: &App, who: (&str, &str)) {
    // Staff who signed in here could use their own password; this is
    // the administrator's way in, the store passphrase.
    app.find_where(
        "[data-testid='unlock-passphrase'], [data-testid='unlock-show-passphrase']",
        "",
    );
    if app.exists("[data-testid='unlock-show-passphrase']") {
        app.click("unlock-show-passphrase");
    }
    app.type_in("unlock-passphrase", PASSPHRASE);
    app.shot("unlock");
    app.click("unlock-submit");
    app.type_in("signin-email", who.0);
    app.type_in("signin-password", who.1);
    app.shot("sign-in");
    app.click("signin-submit");
    app.find("global-search");
}

/// A server with a front-desk user and a clinician, and `desks` enrolled
/// workstations that have synced them. Returns the clinician's id.
fn clinic(server: &TestServer, root: &Path, desks: &[&str]) -> (Vec<PathBuf>, uuid::Uuid) {
    let mut doctor = None;
    let mut dirs = Vec::new();
    for (i, name) in desks.iter().enumerate() {
        let dir = root.join(format!("desk{i}"));
        let (mut ws, _) = Workstation::enroll(
            &dir,
            &server.url,
            None,
            "e2e",
            ADMIN.0,
            &Password::new(ADMIN.1.into()),
            None,
            name,
            Passphrase::new(PASSPHRASE.into()).unwrap(),
            None,
            Arc::new(SystemClock),
        )
        .unwrap();
        ws.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
        if i == 0 {
            ws.directory()
                .add_user(
                    DESK.0,
                    "Dana Desk",
                    "receptionist",
                    &Password::new(DESK.1.into()),
                    None,
                )
                .unwrap();
            let d = ws
                .directory()
                .add_user(
                    DOCTOR.0,
                    "Dr Meredith Grey",
                    "clinician",
                    &Password::new(DOCTOR.1.into()),
                    None,
                )
                .unwrap();
            doctor = Some(d.id);
            for (first, last) in [("Ada", "Lovelace"), ("Alan", "Turing")] {
                ws.patients()
                    .register(
                        PatientDetails {
                            first_name: first.into(),
                            last_name: last.into(),
                            date_of_birth: chrono::NaiveDate::from_ymd_opt(1970, 1, 2),
                            ..Default::default()
                        },
                        Default::default(),
                    )
                    .unwrap();
            }
        }
        ws.sync_now(&mut |_, _| {}).unwrap();
        dirs.push(dir);
    }
    // The first desk picks up what the others sent (nothing) and the
    // others have the first desk's staff and patients.
    (dirs, doctor.unwrap())
}

/// Tomorrow at `h:m`, London wall clock (the demo tenant's site), typed
/// into a day-and-time field as a UK desk writes it: "05/12/2026", "10:00".
fn type_tomorrow_at(app: &App, field: &str, h: u32, m: u32) {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let day = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    app.set(
        &format!("{field}-date"),
        &day.format("%d/%m/%Y").to_string(),
    );
    app.set(&format!("{field}-time"), &format!("{h:02}:{m:02}"));
    let want = day
        .and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap())
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    app.wait_attr(field, "data-value", |v| v == want);
}

fn rows(server: &TestServer, sql: &str) -> Vec<Vec<Option<String>>> {
    server.query(sql)
}

#[test]
fn a_front_desk_day_in_the_real_window() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, doctor) = clinic(&server, root.path(), &["Front desk"]);
    front_desk_day(&mut server, &dirs, doctor);
}

fn front_desk_day(server: &mut TestServer, dirs: &[PathBuf], doctor: uuid::Uuid) {
    let app = launch(&dirs[0], "desk");

    unlock_and_sign_in(&app, DESK);
    assert!(app.text("current-user").contains("Dana Desk"));
    // Home is today's list at the site (nobody is booked today yet).
    app.wait_attr("today-list", "data-ready", |v| v == "true");
    app.find("today-empty");
    app.shot("home");

    // Register a patient with the form.
    app.click("nav-patients");
    app.click("new-patient");
    app.type_in("field-first_name", "Grace");
    app.type_in("field-last_name", "Hopper");
    app.set("field-date_of_birth", "1906-12-09");
    app.type_in("field-phone", "020 7946 0000");
    app.shot("register");
    app.click("save-patient");
    let patient_id = app.attr_where(&App::css("patient-summary"), "", "data-patient-id");
    assert!(app.text("patient-name").contains("Grace Hopper"));
    app.shot("patient-summary");

    // Find her again by typing part of the name.
    app.click("nav-calendar");
    app.type_in("global-search", "hopp");
    let hit = app.attr_where(&App::css("search-result"), "Hopper", "data-patient-id");
    assert_eq!(hit, patient_id);
    app.shot("search");
    app.click_where(&App::css("search-result"), "Hopper");
    app.wait_text("patient-name", "Grace Hopper");

    // Book her with the clinician tomorrow at 10:00.
    app.click("book-for-patient");
    app.find("booking-dialog");
    app.set("booking-clinician", &doctor.to_string());
    type_tomorrow_at(&app, "booking-start", 10, 0);
    app.set("booking-minutes", "30");
    app.shot("booking");
    app.click("booking-submit");
    // The calendar shows the booked day with the new appointment.
    let appointment_id = app.attr_where("[data-appointment-id]", "Hopper", "data-appointment-id");
    app.shot("calendar");

    // Move it to 11:30, then cancel it with a reason.
    app.click_where(&format!("[data-appointment-id='{appointment_id}']"), "");
    app.find("appointment-panel");
    app.click("appt-move");
    type_tomorrow_at(&app, "move-start", 11, 30);
    app.click("move-confirm");
    app.wait_text("appointment-panel", "11:30");
    app.shot("appointment-panel");
    app.click("appt-cancel");
    app.type_in("cancel-reason", "Patient phoned: feeling better");
    app.click("cancel-confirm");
    app.wait_attr("appt-status", "data-status", |v| v == "cancelled");

    // Online: everything reaches the server.
    app.wait_attr("sync-status", "data-online", |v| v == "true");
    app.wait_attr("sync-status", "data-pending", |v| v == "0");
    let found = {
        rows(
            server,
            &format!(
                "SELECT status, to_char(start_at AT TIME ZONE 'Europe/London', 'HH24:MI')
                 FROM appointments WHERE id = '{appointment_id}' AND patient_id = '{patient_id}'"
            ),
        )
    };
    assert_eq!(
        found,
        vec![vec![Some("cancelled".into()), Some("11:30".into())]],
        "moved and cancelled on the server"
    );

    // The server goes away: the status bar says so, and work goes on.
    server.go_away();
    app.wait_attr("sync-status", "data-online", |v| v == "false");
    app.click("nav-patients");
    app.click("new-patient");
    app.type_in("field-first_name", "Katherine");
    app.type_in("field-last_name", "Johnson");
    app.set("field-date_of_birth", "1918-08-26");
    app.click("save-patient");
    app.wait_text("patient-name", "Katherine Johnson");
    app.wait_attr("sync-status", "data-pending", |v| {
        v.parse::<i64>().unwrap_or(0) >= 1
    });
    app.shot("offline");

    // It comes back: the change goes up by itself.
    server.come_back();
    app.wait_attr("sync-status", "data-online", |v| v == "true");
    app.wait_attr("sync-status", "data-pending", |v| v == "0");
    let n = rows(
        server,
        "SELECT count(*) FROM patients WHERE last_name = 'Johnson'",
    );
    assert_eq!(n[0][0].as_deref(), Some("1"));

    // Switch user: the administrator sees this clinic's devices once the
    // server has checked their password.
    switch_to(&app, ADMIN);
    app.click("nav-admin");
    app.type_in("devices-password", ADMIN.1);
    app.click("devices-show");
    let row = app.wait_text("device-row", "this computer");
    assert!(!row.is_null());
    assert_eq!(app.count("device-row"), 1);
    assert_eq!(
        app.count("device-revoke"),
        0,
        "this computer cannot revoke itself"
    );
    app.shot("admin-devices");
}

#[test]
fn a_double_booking_made_offline_shows_in_both_inboxes_and_is_resolved_from_one() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, doctor) = clinic(&server, root.path(), &["Desk A", "Desk B"]);
    double_booking(&mut server, &dirs, doctor);
}

fn double_booking(server: &mut TestServer, dirs: &[PathBuf], doctor: uuid::Uuid) {
    let a = launch(&dirs[0], "desk-a");
    let b = launch(&dirs[1], "desk-b");
    for app in [&a, &b] {
        unlock_and_sign_in(app, DESK);
        app.wait_attr("sync-status", "data-online", |v| v == "true");
    }
    // Both desks lose the server and book the same 09:00 with Dr Grey.
    server.go_away();
    for (app, patient) in [(&a, "Lovelace"), (&b, "Turing")] {
        app.wait_attr("sync-status", "data-online", |v| v == "false");
        app.type_in("global-search", patient);
        app.click_where(&App::css("search-result"), patient);
        app.click("book-for-patient");
        app.set("booking-clinician", &doctor.to_string());
        type_tomorrow_at(app, "booking-start", 9, 0);
        app.set("booking-minutes", "30");
        app.click("booking-submit");
        app.find_where("[data-appointment-id]", patient);
    }
    // The server returns: one booking holds the slot, the other is a
    // conflict that both inboxes show.
    server.come_back();
    for app in [&a, &b] {
        app.wait_attr("sync-status", "data-pending", |v| v == "0");
        // The desk whose booking won learns of the other one from the feed.
        app.wait_attr("conflict-count", "data-count", |v| v == "1");
        app.click("nav-conflicts");
        app.find("conflict-row");
        app.shot("conflicts");
    }
    let id = a.attr_where(&App::css("conflict-row"), "", "data-appointment-id");
    let on_b = b.attr_where(&App::css("conflict-row"), "", "data-appointment-id");
    assert_eq!(on_b, id, "the same conflict on both desks");
    assert_eq!(a.count("conflict-row"), 1);

    // Desk A moves it to 09:45; desk B's inbox clears by itself.
    a.click("resolve-move");
    type_tomorrow_at(&a, "resolve-start", 9, 45);
    a.click("resolve-confirm");
    a.find("conflicts-empty");
    let deadline = std::time::Instant::now() + StdDuration::from_secs(90);
    while b.count("conflict-row") > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "desk B still shows the conflict"
        );
        b.click("nav-patients");
        b.click("nav-conflicts");
        std::thread::sleep(StdDuration::from_millis(500));
    }
    b.find("conflicts-empty");
    b.shot("conflicts-resolved");
    let both = rows(
        server,
        "SELECT count(*), count(*) FILTER (WHERE NOT in_conflict) FROM appointments",
    );
    assert_eq!(
        both[0],
        vec![Some("2".into()), Some("2".into())],
        "no appointment lost, none left in conflict"
    );
}

#[test]
fn a_change_the_server_refused_is_shown_and_made_again_from_the_real_window() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, _) = clinic(&server, root.path(), &["Desk A", "Desk B"]);
    refused_change(&server, &dirs);
}

fn open(dir: &Path) -> Workstation {
    Workstation::open(
        dir,
        &clinic_store::keys::Unlock::Passphrase(Passphrase::new(PASSPHRASE.into()).unwrap()),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn refused_change(server: &TestServer, dirs: &[PathBuf]) {
    // On desk A, Dana changes Ada's city; before it syncs, an administrator
    // on desk B disables Dana's account.
    let ada = {
        let mut a = open(&dirs[0]);
        a.login(DESK.0, &Password::new(DESK.1.into())).unwrap();
        let id = a.patients().search("Lovelace", 1).unwrap()[0].id;
        a.patients()
            .edit(
                id,
                clinic_core::patients::PatientPatch {
                    city: Some("Leeds".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        id
    };
    {
        let mut b = open(&dirs[1]);
        b.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
        b.directory().set_user_disabled(DESK.0, true).unwrap();
        b.sync_now(&mut |_, _| {}).unwrap();
    }
    // And a change another desk's came before: A archives Alan Turing, B
    // (not yet pulled) changes his city, A restores him.
    let city = |c: &str| clinic_core::patients::PatientPatch {
        city: Some(c.into()),
        ..Default::default()
    };
    let turing = {
        let mut a = open(&dirs[0]);
        a.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
        let id = a.patients().search("Turing", 1).unwrap()[0].id;
        a.patients().archive(id, "moved away").unwrap();
        a.sync_now(&mut |_, _| {}).unwrap();
        id
    };
    {
        let mut b = open(&dirs[1]);
        b.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
        b.patients().edit(turing, city("Wilmslow")).unwrap();
        b.sync_now(&mut |_, _| {}).unwrap();
        // Dr Grey's password is reset here; desk A learns of it by syncing.
        b.directory()
            .reset_password(DOCTOR.0, Password::new("Reset-by-the-admin-4".into()))
            .unwrap();
        b.sync_now(&mut |_, _| {}).unwrap();
    }
    {
        let mut a = open(&dirs[0]);
        a.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
        a.patients().restore(turing).unwrap();
        a.sync_now(&mut |_, _| {}).unwrap();
    }
    // Desk A's app syncs by itself: the server refuses Dana's change, and
    // the administrator finds it in Conflicts and makes it again.
    let app = launch(&dirs[0], "desk-refused");
    unlock_and_sign_in(&app, ADMIN);
    app.wait_attr("conflict-count", "data-count", |v| v == "1");
    app.click("nav-conflicts");
    let row = app.text("refused-row");
    assert!(row.contains("Not allowed"), "{row}");
    assert!(row.contains("by Dana Desk"), "{row}");
    assert!(row.contains("Ada Lovelace"), "{row}");
    assert!(row.contains("disabled"), "{row}");
    app.shot("conflicts-refused");
    app.click("reapply-refused");
    app.find("conflicts-empty");
    app.wait_attr("sync-status", "data-pending", |v| v == "0");
    let city = rows(
        server,
        &format!("SELECT city FROM patients WHERE id = '{ada}'"),
    );
    assert_eq!(
        city[0][0].as_deref(),
        Some("Leeds"),
        "made again, and accepted"
    );
    // Admin → Users shows Dana disabled, with a role picker.
    app.click("nav-admin");
    app.find_where(&App::css("user-row"), "Dana Desk");
    app.shot("admin-users");

    // Alan Turing's record shows the change desk B made after he was archived.
    app.type_in("global-search", "Turing");
    app.click_where(&App::css("search-result"), "Turing");
    let set_aside = app.text("not-applied");
    assert!(set_aside.contains("Wilmslow"), "{set_aside}");
    app.shot("patient-not-applied");

    // Dr Grey signs in with the password the administrator reset on desk B:
    // the app asks for a new one (the ChangePassword screen) before anything else.
    app.click("switch-user");
    app.type_in("signin-email", DOCTOR.0);
    app.type_in("signin-password", "Reset-by-the-admin-4");
    app.click("signin-submit");
    app.find("change-password");
    app.shot("change-password");
    app.type_in("cp-current", "Reset-by-the-admin-4");
    app.type_in("cp-new", "grey's own quiet words");
    app.type_in("cp-repeat", "grey's own quiet words");
    app.click("cp-submit");
    app.find("global-search");
    app.wait_attr("sync-status", "data-pending", |v| v == "0");
}

/// Ada booked with Dr Grey today (00:30 at the site, so it is today
/// whenever the test runs; outside working hours, so booked anyway).
fn book_ada_today(dir: &Path, doctor: uuid::Uuid) -> uuid::Uuid {
    let mut ws = open(dir);
    ws.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
    let ada = ws.patients().search("Lovelace", 1).unwrap()[0].id;
    // Allergic to penicillin (the medication table codes it).
    if ws.patients().show(ada).unwrap().lists.allergies.is_empty() {
        ws.patients()
            .edit(
                ada,
                clinic_core::patients::PatientPatch {
                    add: clinic_core::patients::NewLists {
                        allergies: vec![clinic_core::patients::NewAllergy {
                            substance: "Penicillin".into(),
                            reaction: Some("Rash".into()),
                            severity: clinic_core::patients::Severity::Severe,
                        }],
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let start = Utc::now()
        .with_timezone(&tz)
        .date_naive()
        .and_time(NaiveTime::from_hms_opt(0, 30, 0).unwrap())
        .and_local_timezone(tz)
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    let booked = ws
        .scheduling()
        .book_appointment(clinic_client::scheduling::BookRequest {
            patient: ada,
            clinician: doctor,
            start,
            minutes: Some(15),
            type_name: None,
            room: None,
            site: None,
            mode: Default::default(),
            meeting_link: None,
            notes: None,
            override_checks: true,
            repeat: None,
        })
        .unwrap();
    ws.sync_now(&mut |_, _| {}).unwrap();
    booked[0].id
}

/// Drives the clinical screens: ClinicianDay (the day list), NoteEditor
/// (note, vitals, diagnoses, signing) with its PrescriptionPanel, and on the
/// second desk Chart with its VitalsTrend; a screenshot of each.
#[test]
fn a_clinicians_day_in_the_real_window_from_the_day_list_to_a_signed_note_seen_on_another_desk() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, doctor) = clinic(&server, root.path(), &["Consulting room", "Nurse station"]);
    let appointment = book_ada_today(&dirs[0], doctor);

    let app = launch(&dirs[0], "clinician");
    unlock_and_sign_in(&app, DOCTOR);
    // Home is the clinician's day; the keyboard alone goes from the list to
    // a signed note.
    app.wait_text("day-row", "Ada Lovelace");
    assert!(app.text("day-row").contains("No note yet"));
    app.shot("clinician-day");
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.find("note");
    app.type_in("field-chief_complaint", "Cough for two weeks");
    app.type_in(
        "field-history",
        "Dry cough, worse at night. No fever. Non-smoker.",
    );
    app.type_in("field-assessment", "Acute bronchitis");
    app.type_in("field-plan", "Fluids, honey; return if breathless.");
    app.wait_text("save-state", "Saved");
    app.type_in("vitals-bp", "128/84");
    app.type_in("vitals-pulse", "72");
    app.type_in("vitals-temp", "36.8");
    app.type_in("vitals-spo2", "97");
    app.click("record-vitals");
    app.wait_text("vitals-text", "BP 128/84 mmHg");
    app.type_in("diagnosis-input", "J20.9 Acute bronchitis");
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.wait_text("diagnoses", "J20.9");
    app.shot("note-draft");
    // Prescribing amoxicillin to a patient allergic to penicillin: the
    // check stops it inline until a reason is given.
    app.type_in("rx-drug", "Amoxicillin");
    app.type_in("rx-strength", "500 mg");
    app.type_in("rx-form", "capsules");
    app.type_in("rx-dose", "1 capsule");
    app.type_in("rx-frequency", "three times a day");
    app.wait_text("rx-warnings", "Stops prescribing");
    assert!(app.text("rx-submit").contains("Prescribe anyway"));
    app.shot("prescription-warning");
    app.type_in(
        "rx-reason",
        "Tolerated amoxicillin in 2025 under observation",
    );
    app.click("rx-submit");
    app.wait_text("prescription", "Amoxicillin");
    assert!(app
        .text("prescription")
        .contains("Prescribed despite a warning"));
    app.press(&[clinic_webdriver::KEY_CONTROL, clinic_webdriver::KEY_ENTER]);
    app.find("confirm-sign");
    app.shot("note-confirm-sign");
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.find("note-signed");
    assert!(app.text("signature").contains("The signature holds."));
    app.shot("note-signed");
    app.click("nav-day");
    app.wait_text("day-row", "Signed");
    app.wait_attr("sync-status", "data-pending", |v| v == "0");

    // The server holds the signed note, and the appointment completed.
    let found = rows(
        &server,
        &format!("SELECT e.status, a.status FROM encounters e JOIN appointments a ON a.id = e.appointment_id WHERE a.id = '{appointment}'"),
    );
    assert_eq!(
        found,
        vec![vec![Some("signed".into()), Some("completed".into())]]
    );
    drop(app);

    // The second desk sees the signed note after it syncs, in its chart.
    let other = launch(&dirs[1], "second-desk");
    unlock_and_sign_in(&other, DOCTOR);
    other.wait_attr("sync-status", "data-pending", |v| v == "0");
    other.type_in("global-search", "Lovelace");
    other.click_where(&App::css("search-result"), "Lovelace");
    other.click("open-chart");
    other.wait_text("chart-encounter", "Acute bronchitis");
    other.find("vitals-trend");
    other.shot("chart");
    other.click("chart-encounter");
    other.find("note-signed");
    assert!(other.text("signature").contains("The signature holds."));
    assert!(other.text("diagnoses").contains("J20.9"));
    assert!(other.text("prescription").contains("Amoxicillin"));
    other.shot("note-on-second-desk");
}

#[test]
fn a_note_typed_up_to_a_second_before_the_app_is_killed_is_there_when_it_reopens() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, doctor) = clinic(&server, root.path(), &["Consulting room"]);
    book_ada_today(&dirs[0], doctor);
    let typed = "Typed just before the power cut: wheeze on exertion.";
    {
        let app = launch(&dirs[0], "killed");
        unlock_and_sign_in(&app, DOCTOR);
        app.wait_text("day-row", "Ada Lovelace");
        app.click("open-note");
        app.type_in("field-history", typed);
        // A second after typing stops, the text is on disk …
        std::thread::sleep(StdDuration::from_millis(1000));
        // … and the app dies with no chance to save anything more.
        app.kill_app("clinic-desktop");
    }
    let app = launch(&dirs[0], "reopened");
    unlock_and_sign_in(&app, DOCTOR);
    app.wait_text("day-row", "Note in progress");
    app.click("open-note");
    app.find("note");
    let shown = app.js(
        "return document.querySelector(\"[data-testid='field-history']\").value",
        vec![],
    );
    assert_eq!(shown.as_str(), Some(typed));
    assert!(app.text("save-state").contains("Saved"));
    app.shot("note-after-kill");
}

/// Drives the billing screens: TodayList's Invoice button, InvoiceEditor
/// (a draft from the price list, issued), TakePayment (a partial card
/// payment, then the cash remainder by its keys), a receipt printed; then
/// a manager refunds part of the cash after confirming, and Invoices lists
/// what is owed. The server holds the same figures.
#[test]
fn a_receptionist_bills_a_completed_appointment_takes_card_and_cash_and_a_manager_refunds_part() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, doctor) = clinic(&server, root.path(), &["Front desk"]);
    let appointment = book_ada_today(&dirs[0], doctor);
    {
        let mut ws = open(&dirs[0]);
        ws.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
        ws.directory()
            .add_user(
                MANAGER.0,
                "Mo Manager",
                "manager",
                &Password::new(MANAGER.1.into()),
                None,
            )
            .unwrap();
        let mut settings = ws.billing().settings().unwrap();
        settings.currency = "GBP".into();
        settings.legal_name = "E2E Clinic Ltd".into();
        ws.billing().save_settings(settings).unwrap();
        ws.billing()
            .add_price(clinic_client::billing::NewPrice {
                code: "CONS".into(),
                name: "Consultation".into(),
                price: "45.00".into(),
                tax_rate: "0".into(),
                appointment_type: Some("Consultation".into()),
                ..Default::default()
            })
            .unwrap();
        for to in [
            clinic_core::scheduling::AppointmentStatus::Arrived,
            clinic_core::scheduling::AppointmentStatus::InProgress,
            clinic_core::scheduling::AppointmentStatus::Completed,
        ] {
            ws.scheduling()
                .set_appointment_status(
                    appointment,
                    to,
                    None,
                    clinic_core::scheduling::SeriesScope::This,
                )
                .unwrap();
        }
        ws.sync_now(&mut |_, _| {}).unwrap();
    }

    let app = launch(&dirs[0], "billing");
    unlock_and_sign_in(&app, DESK);
    app.wait_attr("today-list", "data-ready", |v| v == "true");
    // Seen patients are under "Done", out of the way of those still to come.
    app.click("today-filter-done");
    app.click("today-bill");
    app.wait_attr("invoice-screen", "data-status", |v| v == "draft");
    assert!(app.text("invoice-title").starts_with("Draft invoice"));
    // Drafted from the price list: the consultation linked to the type.
    assert_eq!(
        app.js(
            "return document.querySelector('[data-testid=line-item]').value",
            vec![]
        ),
        serde_json::json!("CONS")
    );
    assert_eq!(app.text("invoice-total"), "£45.00");
    app.shot("invoice-draft");
    app.click("issue-invoice");
    app.wait_attr("invoice-screen", "data-status", |v| v == "issued");
    let number = app.text("invoice-title");
    assert!(number.contains("INV-"), "{number}");
    // A partial card payment …
    app.click("take-payment-open");
    app.type_in("pay-amount", "20");
    app.type_in("pay-reference", "Terminal 0042");
    app.shot("take-payment");
    app.click("pay-record");
    app.wait_attr("invoice-screen", "data-status", |v| v == "partially_paid");
    assert_eq!(app.text("invoice-balance"), "£25.00");
    // … and the cash remainder: the dialog opens on the balance, 2 picks
    // cash, Enter records.
    app.click("take-payment-open");
    app.find("take-payment");
    app.press(&["2"]);
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.wait_attr("invoice-screen", "data-status", |v| v == "paid");
    assert_eq!(app.text("invoice-balance"), "£0.00");
    assert_eq!(app.count("payment-row"), 2);
    app.click_where(&App::css("print-receipt"), "");
    app.wait_text("invoice-notice", "RCT-");
    app.shot("invoice-paid");
    let printed: Vec<_> = std::fs::read_dir(dirs[0].join("printouts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert!(std::fs::read(&printed[0]).unwrap().starts_with(b"%PDF"));
    // The receptionist may not refund.
    assert!(!app.exists(&App::css("refund-open")));

    // A manager refunds part of the cash, after confirming.
    switch_to(&app, MANAGER);
    app.click("nav-billing");
    app.wait_attr("billing-screen", "data-ready", |v| v == "true");
    app.shot("invoices");
    app.click("invoice-open");
    app.wait_attr("invoice-screen", "data-status", |v| v == "paid");
    // The second payment row (cash) carries the second Refund button.
    app.js(
        "document.querySelectorAll('[data-testid=refund-open]')[1].click()",
        vec![],
    );
    app.type_in("refund-amount", "5");
    app.type_in("refund-reason", "Charged for a dressing not used");
    app.click("refund-continue");
    app.wait_text("refund-confirm-text", "£5.00");
    app.shot("refund-confirm");
    app.click("refund-confirm");
    app.wait_attr("invoice-screen", "data-status", |v| v == "partially_paid");
    assert_eq!(app.text("invoice-balance"), "£5.00");
    app.shot("invoice-refunded");
    // On the patient's summary the account shows the £5.00 owed again; a
    // payment there is three keys: Alt+P, 2 (cash), Enter.
    app.type_in("global-search", "Lovelace");
    app.click_where(&App::css("search-result"), "Lovelace");
    app.wait_text("account-owed", "£5.00");
    app.shot("patient-account");
    app.press(&[clinic_webdriver::KEY_ALT, "p"]);
    app.find("take-payment");
    app.press(&["2"]);
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.wait_text("account-owed", "£0.00");
    app.shot("patient-account-paid");
    app.wait_attr("sync-status", "data-pending", |v| v == "0");
    let on_server = rows(
        &server,
        "SELECT i.status, i.balance::text, (SELECT count(*) FROM payments p WHERE p.invoice_id = i.id)::text FROM invoices i",
    );
    assert_eq!(
        on_server,
        vec![vec![
            Some("paid".into()),
            Some("0.00".into()),
            Some("4".into())
        ]]
    );
}

const PHARMACIST: (&str, &str) = ("pharmacist@e2e.example", "pharmacist-password-1");

/// Types `text` key by key into the `n`th (0-based) element with `testid`,
/// after selecting what it held (the window's helpers reach the first one).
fn type_into_nth(app: &App, testid: &str, n: usize, text: &str) {
    app.js(
        "const e = document.querySelectorAll(arguments[0])[arguments[1]]; e.focus(); e.select();",
        vec![serde_json::json!(App::css(testid)), serde_json::json!(n)],
    );
    for ch in text.chars() {
        app.press(&[&ch.to_string()]);
    }
}

/// Waits until the first element matching `css` has `attr` equal to `want`.
fn wait_css_attr(app: &App, css: &str, attr: &str, want: &str) {
    let deadline = std::time::Instant::now() + StdDuration::from_secs(90);
    loop {
        let v = app.attr_where(css, "", attr);
        if v == want {
            return;
        }
        if std::time::Instant::now() > deadline {
            app.fail(&format!("{css}[{attr}] stayed {v:?}, not {want:?}"));
        }
        std::thread::sleep(StdDuration::from_millis(250));
    }
}

/// Today at the clinic's site (London) plus `days`, ISO.
fn london_in(days: i64) -> chrono::NaiveDate {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    Utc::now().with_timezone(&tz).date_naive() + Duration::days(days)
}

/// The catalogue, a supplier, a purchase order for 30 capsules of
/// amoxicillin (waiting for approval, made by the manager), paracetamol
/// already on the shelf, and Dr Grey's prescription of amoxicillin for
/// Ada. Returns (the order's id, the prescription's id).
fn seed_pharmacy(dir: &Path) -> (uuid::Uuid, uuid::Uuid) {
    use clinic_client::inventory::stock::ReceiveReq;
    use clinic_client::inventory::NewItem;
    let mut ws = open(dir);
    ws.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
    for (who, name, role) in [
        (MANAGER, "Mo Manager", "manager"),
        (PHARMACIST, "Pat Pharmacist", "pharmacist"),
    ] {
        ws.directory()
            .add_user(who.0, name, role, &Password::new(who.1.into()), None)
            .unwrap();
    }
    let mut settings = ws.billing().settings().unwrap();
    settings.currency = "GBP".into();
    settings.locale = "en-GB".into();
    ws.billing().save_settings(settings).unwrap();
    ws.inventory()
        .save_supplier(clinic_core::inventory::Supplier {
            name: "MedSupply Ltd".into(),
            active: true,
            ..Default::default()
        })
        .unwrap();
    ws.inventory().add_category("Antibiotics", None).unwrap();
    ws.inventory()
        .add_item(NewItem {
            sku: "AMOX500".into(),
            name: "Amoxicillin 500 mg capsules".into(),
            unit: "capsule".into(),
            reorder_point: 25,
            barcode: Some("5012345678900".into()),
            generic_name: Some("Amoxicillin".into()),
            category: Some("Antibiotics".into()),
            purchase_price: Some("0.12".into()),
            sale_price: Some("0.30".into()),
            track_batches: true,
            track_expiry: true,
            prescription_required: true,
            ..Default::default()
        })
        .unwrap();
    ws.inventory()
        .add_item(NewItem {
            sku: "PARA500".into(),
            name: "Paracetamol 500 mg tablets".into(),
            unit: "tablet".into(),
            reorder_point: 20,
            purchase_price: Some("0.02".into()),
            ..Default::default()
        })
        .unwrap();
    ws.inventory()
        .receive(ReceiveReq {
            item: "PARA500".into(),
            quantity: 100,
            supplier: Some("MedSupply Ltd".into()),
            ..Default::default()
        })
        .unwrap();
    ws.login(MANAGER.0, &Password::new(MANAGER.1.into()))
        .unwrap();
    let order = ws
        .inventory()
        .create_order(
            "MedSupply Ltd",
            &[("AMOX500".into(), 30, Some("0.12".into()))],
            None,
            Some(london_in(2)),
            "Winter antibiotics",
        )
        .unwrap()
        .order
        .id;
    ws.login(DOCTOR.0, &Password::new(DOCTOR.1.into())).unwrap();
    let ada = ws.patients().search("Lovelace", 1).unwrap()[0].id;
    let visit = ws.clinical().start(ada, None, None).unwrap();
    let rx = ws
        .clinical()
        .prescribe(
            visit.id,
            vec![clinic_core::clinical::PrescriptionLine {
                drug: "Amoxicillin".into(),
                substance: None,
                strength: "500 mg".into(),
                form: "capsules".into(),
                dose: "1 capsule".into(),
                route: "oral".into(),
                frequency: "three times a day".into(),
                days: 2,
                quantity: "6".into(),
                refills: 0,
            }],
            "Take with water",
            None,
        )
        .unwrap()
        .prescription
        .id;
    ws.sync_now(&mut |_, _| {}).unwrap();
    (order, rx)
}

/// Drives the stock screens on two desks of one clinic: on desk 1 a
/// manager approves a purchase order (OrderDetail) and receives it into two
/// lots with different expiries; a pharmacist scans the item in StockList,
/// and DispenseDialog shows and takes the first-expiring lot (FEFO) against
/// Ada's prescription; StockItem and Alerts follow. Desk 2 (StockList,
/// Alerts, the navigation's badge) shows the new on-hand and alerts after
/// it syncs. The server holds the same ledger.
#[test]
fn a_manager_receives_an_order_into_two_lots_a_pharmacist_dispenses_first_expiry_first_and_the_other_desk_sees_it(
) {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, _) = clinic(&server, root.path(), &["Pharmacy", "Front office"]);
    let (order, rx) = seed_pharmacy(&dirs[0]);
    {
        let mut other = open(&dirs[1]);
        other.sync_now(&mut |_, _| {}).unwrap();
    }

    // Desk 2: the manager's view before anything arrives: amoxicillin at
    // zero, below its reorder point (one alert).
    let desk2 = launch(&dirs[1], "stock-desk2");
    unlock_and_sign_in(&desk2, MANAGER);
    desk2.click("nav-stock");
    desk2.wait_attr("stock-screen", "data-ready", |v| v == "true");
    let amox = "[data-testid='stock-row'][data-sku='AMOX500']";
    wait_css_attr(&desk2, amox, "data-on-hand", "0");
    assert_eq!(desk2.attr_where(amox, "", "data-low"), "true");
    desk2.wait_attr("stock-alert-count", "data-count", |v| v == "1");
    desk2.shot("stock-before");

    // Desk 1: the manager approves the order and receives it into two lots.
    let app = launch(&dirs[0], "stock-desk1");
    unlock_and_sign_in(&app, MANAGER);
    app.click("nav-stock");
    app.click("stock-tab-orders");
    app.wait_attr("orders-screen", "data-ready", |v| v == "true");
    app.shot("orders");
    app.click("order-open");
    app.wait_attr("order-screen", "data-status", |v| v == "pending");
    app.click("order-approve");
    app.wait_attr("order-screen", "data-status", |v| v == "approved");
    app.find("receive-form");
    let (soon, later) = (london_in(30), london_in(300));
    app.click("receive-split");
    assert_eq!(app.count("receive-row"), 2);
    type_into_nth(&app, "receive-row-qty", 0, "10");
    type_into_nth(&app, "receive-row-lot", 0, "lot-a");
    // Expiry as a UK pharmacist types it (day first), read back underneath.
    let uk = |d: chrono::NaiveDate| d.format("%d/%m/%Y").to_string();
    type_into_nth(&app, "receive-row-expiry", 0, &uk(soon));
    type_into_nth(&app, "receive-row-qty", 1, "20");
    type_into_nth(&app, "receive-row-lot", 1, "LOT-B");
    type_into_nth(&app, "receive-row-expiry", 1, &uk(later));
    wait_css_attr(
        &app,
        "[data-testid='receive-row-expiry']",
        "data-value",
        &soon.to_string(),
    );
    app.shot("order-receive");
    // Enter in the form receives it.
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.wait_attr("order-screen", "data-status", |v| v == "received");
    assert_eq!(app.text("order-notice"), "Received 30 units into 2 lots.");
    app.shot("order-received");

    // The pharmacist's home is the stock list; a scan of the barcode with
    // Enter set to dispense opens the dialog on the item.
    switch_to(&app, PHARMACIST);
    app.wait_attr("stock-screen", "data-ready", |v| v == "true");
    wait_css_attr(&app, amox, "data-on-hand", "30");
    assert!(!app.exists(&App::css("order-approve")));
    app.shot("stock-list");
    app.click("enter-opens-dispense");
    app.type_in("stock-search", "5012345678900");
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.wait_text("dispense-item-name", "Amoxicillin 500 mg capsules");
    app.type_in("dispense-qty", "6");
    // First expiry first: all six from lot A, the one expiring soon.
    wait_css_attr(&app, "[data-testid='plan-lot']", "data-lot", "LOT-A");
    assert_eq!(app.count("plan-lot"), 1);
    app.type_in("dispense-patient", "Lovelace");
    app.find("dispense-patient-option");
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.wait_text("dispense-patient-chosen", "Ada Lovelace");
    let chosen_rx = app.js(
        "return document.querySelector(\"[data-testid='dispense-rx']\").value",
        vec![],
    );
    assert_eq!(chosen_rx.as_str(), Some(rx.to_string().as_str()));
    app.shot("dispense");
    app.click("dispense-submit");
    app.find("dispense-result");
    assert_eq!(
        app.attr_where(&App::css("dispensed-lot"), "", "data-lot"),
        "LOT-A"
    );
    assert_eq!(app.count("dispensed-lot"), 1);
    assert_eq!(app.text("dispense-on-hand-after"), "24");
    assert!(app
        .text("dispense-result")
        .contains("against prescription RX-"));
    app.shot("dispense-result");
    app.click("dispense-close");

    // The item: two lots, and the ledger with the receipts and the dispense.
    app.click_where(&format!("{amox} [data-testid='stock-open']"), "");
    app.wait_attr("stock-item-screen", "data-ready", |v| v == "true");
    wait_css_attr(
        &app,
        "[data-testid='item-lot'][data-lot='LOT-A']",
        "data-on-hand",
        "4",
    );
    wait_css_attr(
        &app,
        "[data-testid='item-lot'][data-lot='LOT-B']",
        "data-on-hand",
        "20",
    );
    assert_eq!(app.count("ledger-row"), 3);
    app.shot("stock-item");
    app.click("stock-tab-stock-alerts");
    app.wait_attr("alerts-screen", "data-ready", |v| v == "true");
    app.find_where("[data-testid='alert-row'][data-kind='expiring']", "LOT-A");
    app.find_where("[data-testid='alert-row'][data-kind='low']", "AMOX500");
    app.shot("alerts");
    app.wait_attr("sync-status", "data-pending", |v| v == "0");

    // The server: the dispense took lot A, against the prescription; lot A
    // has 4 left, lot B all 20; the order is received.
    let dispensed = rows(
        &server,
        "SELECT b.doc->>'lot', m.quantity::text, m.doc->>'prescription_id'
         FROM stock_movements m JOIN sync_records b ON b.tenant_id = m.tenant_id AND b.id = m.batch_id
         WHERE m.kind = 'dispense'",
    );
    assert_eq!(
        dispensed,
        vec![vec![
            Some("LOT-A".into()),
            Some("-6".into()),
            Some(rx.to_string())
        ]]
    );
    let on_hand = rows(
        &server,
        "SELECT b.doc->>'lot', b.doc->>'expiry', o.quantity::text
         FROM stock_onhand o JOIN sync_records b ON b.tenant_id = o.tenant_id AND b.id = o.batch_id
         WHERE b.doc->>'lot' LIKE 'LOT-%' ORDER BY 1",
    );
    assert_eq!(
        on_hand,
        vec![
            vec![
                Some("LOT-A".into()),
                Some(soon.to_string()),
                Some("4".into())
            ],
            vec![
                Some("LOT-B".into()),
                Some(later.to_string()),
                Some("20".into())
            ],
        ]
    );
    let po = rows(
        &server,
        &format!("SELECT doc->>'status' FROM sync_records WHERE id = '{order}'"),
    );
    assert_eq!(po, vec![vec![Some("received".into())]]);

    // Desk 2 follows by itself: 24 on hand, below the reorder point again,
    // and lot A expiring: two alerts.
    wait_css_attr(&desk2, amox, "data-on-hand", "24");
    assert_eq!(desk2.attr_where(amox, "", "data-low"), "true");
    desk2.wait_attr("stock-alert-count", "data-count", |v| v == "2");
    desk2.shot("stock-after");
    desk2.click("stock-tab-stock-alerts");
    desk2.wait_attr("alerts-screen", "data-ready", |v| v == "true");
    desk2.find_where("[data-testid='alert-row'][data-kind='expiring']", "LOT-A");
    desk2.find_where("[data-testid='alert-row'][data-kind='low']", "AMOX500");
    assert_eq!(desk2.count("alert-row"), 2);
    desk2.shot("alerts");

    // From the low-stock alert to a new order's form (not sent).
    desk2.click("alert-order");
    desk2.wait_attr("orders-screen", "data-ready", |v| v == "true");
    desk2.click("new-order");
    desk2.find("order-form");
    desk2.type_in("po-line-qty", "50");
    desk2.shot("order-form");

    // A count of the shelf: lot A has 3, not 4; posting corrects it.
    desk2.click("stock-tab-stocktakes");
    desk2.wait_attr("stocktakes-screen", "data-ready", |v| v == "true");
    desk2.click("stocktake-start");
    desk2.wait_attr("stocktake-screen", "data-status", |v| v == "counting");
    desk2.find_where("[data-testid='count-line'][data-lot='LOT-A']", "");
    desk2.type_in("count-input", "3");
    desk2.press(&[clinic_webdriver::KEY_ENTER]);
    wait_css_attr(
        &desk2,
        "[data-testid='count-line'][data-lot='LOT-A']",
        "data-variance",
        "-1",
    );
    desk2.shot("stocktake");
    desk2.click("stocktake-post");
    desk2.click("stocktake-post-confirm");
    desk2.wait_attr("stocktake-screen", "data-status", |v| v == "posted");
    desk2.wait_attr("sync-status", "data-pending", |v| v == "0");
    let corrected = rows(
        &server,
        "SELECT b.doc->>'lot', m.quantity::text FROM stock_movements m
         JOIN sync_records b ON b.tenant_id = m.tenant_id AND b.id = m.batch_id
         WHERE m.kind = 'stocktake_correction'",
    );
    assert_eq!(
        corrected,
        vec![vec![Some("LOT-A".into()), Some("-1".into())]]
    );
}

/// An issued invoice of £45.00 for Ada with £10.00 taken in cash today on
/// this desk, made by the manager (prices in GBP, dates in en-GB).
fn seed_accounts(dir: &Path) -> uuid::Uuid {
    use clinic_client::billing::invoices::LineSpec;
    let mut ws = open(dir);
    ws.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
    ws.directory()
        .add_user(
            MANAGER.0,
            "Mo Manager",
            "manager",
            &Password::new(MANAGER.1.into()),
            None,
        )
        .unwrap();
    let mut settings = ws.billing().settings().unwrap();
    settings.currency = "GBP".into();
    settings.locale = "en-GB".into();
    settings.legal_name = "E2E Clinic Ltd".into();
    ws.billing().save_settings(settings).unwrap();
    ws.billing()
        .add_price(clinic_client::billing::NewPrice {
            code: "CONS".into(),
            name: "Consultation".into(),
            price: "45.00".into(),
            tax_rate: "0".into(),
            ..Default::default()
        })
        .unwrap();
    ws.login(MANAGER.0, &Password::new(MANAGER.1.into()))
        .unwrap();
    let ada = ws.patients().search("Lovelace", 1).unwrap()[0].id;
    let inv = ws
        .billing()
        .create_invoice(
            ada,
            &[LineSpec {
                code: Some("CONS".into()),
                quantity: "1".into(),
                ..Default::default()
            }],
            None,
            None,
            None,
        )
        .unwrap();
    ws.billing().issue_invoice(inv.id).unwrap();
    ws.billing()
        .take_payment(
            inv.id,
            "10.00",
            clinic_core::billing::PaymentMethod::Cash,
            None,
            None,
        )
        .unwrap();
    ws.sync_now(&mut |_, _| {}).unwrap();
    inv.id
}

/// Drives the manager's side of billing in the real window: on an issued
/// invoice (InvoiceEditor → InvoiceClaims) a claim to an insurer; on the
/// claims list (Claims → ClaimDecision) its approval, which posts an
/// insurance payment the invoice's balance follows, and a plan for what is
/// left (InvoicePlan); the day's cash-up of this desk (CashUp); closing the
/// books up to the end of last month (PeriodClose): offline it refuses and
/// changes nothing, online it lists the desk that has not synced since and
/// closes after a confirmation; a payment then dated inside the period is
/// refused (PERIOD_CLOSED). The server holds the insurance payment, the
/// cash-up and the period lock.
#[test]
fn a_manager_claims_from_an_insurer_cashes_up_the_day_and_closes_last_month() {
    use chrono::Datelike;
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, _) = clinic(&server, root.path(), &["Front desk", "Back office"]);
    let invoice = seed_accounts(&dirs[0]);
    // The back office last reached the server 40 days ago.
    let back_office = open(&dirs[1]).store_for_tests().unwrap().device_id();
    server.query(&format!(
        "UPDATE devices SET last_seen_at = now() - interval '40 days' WHERE id = '{back_office}' RETURNING 1"
    ));
    let today = london_in(0);
    let end_of_last_month = today.with_day(1).unwrap() - Duration::days(1);

    let app = launch(&dirs[0], "accounts");
    unlock_and_sign_in(&app, MANAGER);
    app.click("nav-billing");
    app.wait_attr("billing-screen", "data-ready", |v| v == "true");
    // A manager sees what is owed by age: £35.00 issued today.
    wait_css_attr(&app, "[data-testid='ageing-bucket']", "data-owed", "35.00");
    app.shot("invoices-ageing");

    // Claim £30.00 of the invoice from the patient's insurer.
    app.click("invoice-open");
    app.wait_attr("invoice-screen", "data-status", |v| v == "partially_paid");
    assert_eq!(app.text("invoice-balance"), "£35.00");
    app.click("claim-open");
    app.type_in("claim-provider", "Bupa");
    app.type_in("claim-amount", "30.00");
    app.type_in("claim-policy", "POL-123");
    app.shot("claim-form");
    app.click("claim-submit");
    app.wait_attr("invoice-claim", "data-status", |v| v == "pending");
    app.wait_text("invoice-notice", "CLM-");

    // The insurer approves all of it: recorded from the claims list, reached
    // through the Billing tabs (BillingTabs.svelte: Invoices, Insurance
    // claims, Cash-up, Close period), each of which this test drives.
    app.click("nav-billing");
    app.click("billing-tab-claims");
    app.wait_attr("claims-screen", "data-ready", |v| v == "true");
    app.find_where(&App::css("claim-row"), "Bupa");
    assert_eq!(app.text("claim-balance"), "£35.00");
    app.shot("claims");
    app.click("claim-decide");
    app.find("claim-decision");
    app.wait_text("decision-effect", "£30.00");
    app.shot("claim-decision");
    app.click("decision-save");
    wait_css_attr(&app, "[data-testid='claim-row']", "data-status", "approved");
    assert_eq!(app.text("claim-balance"), "£5.00");
    app.wait_text("claims-notice", "now owes £5.00");
    app.shot("claims-approved");

    // The invoice follows: the insurer's payment, £5.00 left, paid in two
    // monthly instalments from today.
    app.click("claim-invoice");
    app.wait_attr("invoice-screen", "data-status", |v| v == "partially_paid");
    assert_eq!(app.text("invoice-balance"), "£5.00");
    app.find_where(&App::css("payment-row"), "Insurance");
    app.click("plan-open");
    app.set("plan-count", "2");
    app.click("plan-every-month");
    app.click("plan-submit");
    app.find("invoice-plan");
    assert_eq!(app.count("instalment"), 2);
    assert_eq!(
        app.attr_where(&App::css("instalment"), "", "data-state"),
        "due_today"
    );
    app.shot("invoice-plan");

    // The day's cash-up: the £10.00 in cash is counted (the insurer's
    // payment is not the drawer's).
    app.click("nav-billing");
    app.click("billing-tab-cash-up");
    app.wait_attr("cashup-screen", "data-ready", |v| v == "true");
    wait_css_attr(
        &app,
        "[data-testid='takings-row'][data-method='cash']",
        "data-expected",
        "10.00",
    );
    app.type_in("count-cash", "10.00");
    app.wait_text("difference-total", "£0.00");
    app.shot("cash-up-count");
    app.click("cashup-close");
    app.click("cashup-confirm");
    app.wait_attr("cashup-screen", "data-closed", |v| v == "true");
    app.find("cashup-closed");
    app.shot("cash-up");

    // Closing last month: offline it says so and changes nothing.
    app.click("billing-tab-period-close");
    app.wait_attr("period-screen", "data-ready", |v| v == "true");
    assert_eq!(
        app.attr_where(&App::css("period-until"), "", "data-value"),
        end_of_last_month.to_string(),
        "the default is the last day of last month"
    );
    server.go_away();
    app.wait_attr("sync-status", "data-online", |v| v == "false");
    app.click("period-check");
    app.wait_attr("period-error", "data-code", |v| v == "UNREACHABLE");
    assert!(app.text("period-error").contains("Nothing was changed"));
    assert!(!app.exists(&App::css("period-close")));
    app.shot("period-offline");
    server.come_back();
    app.wait_attr("sync-status", "data-online", |v| v == "true");
    // Online: the back office has not synced since the month ended.
    app.click("period-check");
    app.find_where(&App::css("unsynced-desk"), "Back office");
    assert_eq!(app.count("unsynced-desk"), 1);
    app.shot("period-check");
    app.click("period-close");
    app.type_in("period-note", "Last month");
    app.shot("period-confirm");
    app.click("period-close-confirm");
    app.wait_text("period-done", "on or before");
    app.find("period-up-to-date");
    let until = end_of_last_month.to_string();
    app.wait_attr("period-screen", "data-closed-until", |v| v == until);
    app.shot("period-close");

    // A payment dated inside the closed period is refused, plainly.
    app.click("billing-tab-billing");
    app.wait_attr("billing-screen", "data-ready", |v| v == "true");
    app.click("invoice-open");
    app.wait_attr("invoice-screen", "data-invoice-id", |v| {
        v == invoice.to_string()
    });
    app.click("take-payment-open");
    app.click("pay-another-day");
    app.type_in(
        "pay-date",
        &end_of_last_month.format("%d/%m/%Y").to_string(),
    );
    app.press(&[clinic_webdriver::KEY_ENTER]);
    app.wait_text("pay-error", "The books are closed up to");
    app.shot("period-closed-payment");
    assert_eq!(app.text("invoice-balance"), "£5.00", "nothing was taken");

    // Ada's summary says an instalment is due.
    app.type_in("global-search", "Lovelace");
    app.click_where(&App::css("search-result"), "Lovelace");
    app.wait_text("account-overdue", "Instalment due today: £2.50 on INV-");
    app.shot("patient-account-plan");

    // The server: the insurer's payment, the cash-up, the period lock.
    app.wait_attr("sync-status", "data-pending", |v| v == "0");
    assert_eq!(
        rows(
            &server,
            &format!(
                "SELECT method, amount::text FROM payments WHERE invoice_id = '{invoice}' ORDER BY method"
            ),
        ),
        vec![
            vec![Some("cash".into()), Some("10.00".into())],
            vec![Some("insurance".into()), Some("30.00".into())],
        ]
    );
    assert_eq!(
        rows(
            &server,
            "SELECT doc->'lines'->0->>'counted', doc->>'day' FROM sync_records WHERE entity_type = 'cash_up'",
        ),
        vec![vec![Some("10.00".into()), Some(today.to_string())]]
    );
    assert_eq!(
        rows(
            &server,
            "SELECT doc->>'closed_until', doc->'closes'->0->'unsynced_desks'->>0 FROM sync_records WHERE entity_type = 'period_lock'",
        ),
        vec![vec![
            Some(end_of_last_month.to_string()),
            Some("Back office".into())
        ]]
    );
}

/// The front desk as a receptionist finds it (#28), at 1400x900 and
/// 1280x720: what their role may not see reads as hidden, not as none; a
/// date typed the UK way books that day; a check-in shows at once and can
/// be undone (both recorded); the calendar of 20 clinicians stays readable
/// and its week shows one clinician; a quick click on a free time opens the
/// booking dialog, which Escape closes. Each click is timed in the page.
/// Drives TodayList, PatientSummary, BookingDialog and its DateTimeField,
/// CalendarScreen (chooser, week, by room), ClinicSetup (working hours,
/// rooms) under Admin, and Unlock's own-password form.
#[test]
fn the_front_desk_as_a_receptionist_finds_it() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let server = TestServer::start("e2e");
    let root = tempfile::tempdir().unwrap();
    let (dirs, doctor) = clinic(&server, root.path(), &["Front desk"]);
    {
        // Twenty clinicians, as in the S clinic.
        let mut ws = open(&dirs[0]);
        ws.login(ADMIN.0, &Password::new(ADMIN.1.into())).unwrap();
        for i in 1..20 {
            ws.directory()
                .add_user(
                    &format!("clinician{i:02}@e2e.example"),
                    &format!("Dr Clinician {i:02}"),
                    "clinician",
                    &Password::new(format!("clinician-password-{i}")),
                    None,
                )
                .unwrap();
        }
        ws.sync_now(&mut |_, _| {}).unwrap();
    }
    let appt = book_ada_today(&dirs[0], doctor);
    let app = launch(&dirs[0], "reception");

    // The administrator sets Dr Grey's hours and adds a room on the setup
    // screens (the CLI's alone before).
    unlock_and_sign_in(&app, ADMIN);
    app.click("nav-admin");
    app.click("admin-tab-hours");
    app.set("setup-clinician", &doctor.to_string());
    app.set("hours-week-from", "08:00");
    app.set("hours-week-to", "19:00");
    app.click("hours-mon-fri");
    app.click("hours-save");
    app.wait_text("setup-notice", "Dr Meredith Grey");
    app.shot("setup-hours");
    app.click("admin-tab-rooms");
    app.type_in("room-name", "Room 1");
    app.click("room-add");
    app.wait_text("setup-notice", "Room 1");
    app.shot("setup-rooms");
    switch_to(&app, DESK);
    app.wait_attr("today-list", "data-ready", |v| v == "true");
    assert!(
        top_bar_height(&app) < 60.0,
        "the header is one row at 1400 px"
    );

    // Check-in from today's list: shown at once, then committed; undone as
    // a change of its own.
    let row = format!("[data-testid='today-row'][data-appointment-id='{appt}']");
    let check_in = app.time_click(
        &format!("{row} [data-testid='today-checkin']"),
        &format!("{row}[data-status='arrived']"),
        "",
    );
    app.find_where(
        &format!("{row}[data-status='arrived'][data-saving='false']"),
        "",
    );
    app.shot("checked-in");
    app.click("today-filter-waiting");
    assert_eq!(app.count("today-row"), 1, "the waiting filter shows Ada");
    app.click("today-filter-open");
    app.click("today-undo-checkin");
    app.find_where(
        &format!("{row}[data-status='scheduled'][data-saving='false']"),
        "",
    );

    // Ada's summary: her allergies are hidden for a receptionist, never "none".
    let open_patient = app.time_click(
        &format!("{row} [data-testid='today-patient']"),
        "[data-testid='patient-name']",
        "Lovelace",
    );
    assert!(app
        .text("patient-allergies")
        .contains("hidden for your role"));
    assert!(!app
        .text("patient-summary")
        .contains("No allergies recorded"));
    app.shot("summary-hidden-allergies");

    // A date typed as a UK desk writes it books that day: the first day
    // ahead whose day and month read the US way would be another date.
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let mut day = Utc::now().with_timezone(&tz).date_naive() + Duration::days(1);
    use chrono::Datelike;
    while day.day() > 12 || day.day() == day.month() || day.weekday().number_from_monday() > 5 {
        day += Duration::days(1);
    }
    app.click("book-for-patient");
    app.find("booking-dialog");
    app.set("booking-clinician", &doctor.to_string());
    app.set("booking-start-date", &day.format("%d/%m/%Y").to_string());
    app.set("booking-start-time", "17:45");
    app.wait_attr("booking-start", "data-value", |v| {
        v == format!("{}T17:45:00", day.format("%Y-%m-%d"))
    });
    app.shot("booking-uk-date");
    // Shown at once as "saving", then as the committed appointment.
    let committed = format!(
        "[data-testid='calendar'][data-loaded^='{}'] [data-appointment-id][data-saving='false']",
        day.format("%Y-%m-%d")
    );
    let book = app.time_click_until(
        "[data-testid='booking-submit']",
        &[
            ("[data-testid='calendar'] [data-saving='true']", "Lovelace"),
            (&committed, "Lovelace"),
        ],
    );
    app.wait_attr("sync-status", "data-pending", |v| v == "0");
    let booked = rows(
        &server,
        &format!(
            "SELECT to_char(start_at AT TIME ZONE 'Europe/London', 'YYYY-MM-DD HH24:MI') FROM appointments
             WHERE patient_id = (SELECT patient_id FROM appointments WHERE id = '{appt}') AND id <> '{appt}'"
        ),
    );
    assert_eq!(
        booked,
        vec![vec![Some(format!("{} 17:45", day.format("%Y-%m-%d")))]],
        "booked on the day typed, read day first"
    );
    // The check-in and its undo are both on the server's audit trail.
    let statuses = rows(
        &server,
        &format!(
            "SELECT details->>'to' FROM audit_events WHERE action = 'appointment.status'
             AND entity_id = '{appt}' ORDER BY at"
        ),
    );
    assert_eq!(
        statuses,
        vec![vec![Some("arrived".into())], vec![Some("scheduled".into())]]
    );
    let status = rows(
        &server,
        &format!("SELECT status FROM appointments WHERE id = '{appt}'"),
    );
    assert_eq!(status, vec![vec![Some("scheduled".into())]]);

    // The day of 20 clinicians: every name readable (columns scroll
    // sideways rather than shrink).
    app.click("cal-today");
    app.find_where("[data-testid='calendar'][data-columns='20']", "");
    app.shot("calendar-day-20");
    // The hours set on the setup screen shade the calendar (the day's
    // legend no longer says nobody has hours).
    let no_hours = app.js(
        "return document.querySelector('[data-testid=calendar]').classList.contains('no-hours');",
        vec![],
    );
    assert_eq!(no_hours, serde_json::json!(false));
    let narrowest = app
        .js(
            "return Math.min(...[...document.querySelectorAll('[data-testid=calendar] .ec-header .ec-col-head')]
               .map(e => e.getBoundingClientRect().width).filter(w => w > 0));",
            vec![],
        )
        .as_f64()
        .unwrap();
    assert!(narrowest >= 120.0, "day columns {narrowest} px wide");

    // A quick click on a free time opens the booking dialog with the focus
    // in it; Escape closes it.
    let slot = app.js(
        "const col = document.querySelector('[data-testid=calendar] .ec-header .ec-col-head').getBoundingClientRect();
         const main = document.querySelector('[data-testid=calendar] .ec-main').getBoundingClientRect();
         return [col.left + col.width / 2, Math.min(col.bottom + 80, main.bottom - 40)];",
        vec![],
    );
    app.click_at(slot[0].as_f64().unwrap(), slot[1].as_f64().unwrap());
    app.find("booking-dialog");
    let focused_inside = app.js(
        "return !!document.querySelector('[data-testid=booking-dialog]').contains(document.activeElement);",
        vec![],
    );
    assert_eq!(
        focused_inside,
        serde_json::json!(true),
        "the dialog has the focus"
    );
    app.shot("booking-from-slot");
    app.press(&["\u{E00C}"]); // Escape
    app.wait_gone("booking-dialog");

    // The week of one clinician.
    let week = app.time_click(
        "[data-testid='cal-view-week']",
        "[data-testid='calendar'][data-columns='7'][data-loaded$='/week']",
        "",
    );
    app.shot("calendar-week-one");
    // By room: the room added on the setup screen is a column.
    app.click("cal-by-room");
    app.find_where("[data-testid='calendar'] .ec-col-head", "Room 1");
    app.shot("calendar-by-room");
    app.click("cal-by-room");
    eprintln!(
        "UI timing (click to visible, in the page): check-in {check_in:.0} ms, open patient {open_patient:.0} ms, book {:.0} ms shown ({:.0} ms committed), week view {week:.0} ms",
        book[0], book[1]
    );

    // Locked (as after ten idle minutes): Dana's own password unlocks it
    // and signs her in; the administrator's signs the administrator in,
    // never resuming Dana's session.
    app.click("lock-button");
    app.find("unlock-email");
    assert!(!app.exists("[data-testid='unlock-passphrase']"));
    app.shot("unlock-own-password");
    app.type_in("unlock-email", ADMIN.0);
    app.type_in("unlock-password", ADMIN.1);
    app.click("unlock-as-submit");
    app.wait_text("current-user", "Admin");
    app.click("lock-button");
    app.type_in("unlock-email", DESK.0);
    app.type_in("unlock-password", "not-her-password");
    app.click("unlock-as-submit");
    app.wait_text("unlock-staff-error", "wrong");
    app.type_in("unlock-password", DESK.1);
    app.click("unlock-as-submit");
    app.wait_text("current-user", "Dana Desk");
    app.wait_attr("sync-status", "data-online", |v| v == "true");

    // 1280x720 (a smaller monitor): the header still one row, the day's
    // list, the summary, and the week still readable.
    drop(app);
    let small = launch_sized(&dirs[0], "reception-1280", (1280, 720));
    unlock_and_sign_in(&small, DESK);
    small.wait_attr("today-list", "data-ready", |v| v == "true");
    let height = top_bar_height(&small);
    assert!(
        height < 60.0,
        "the header is one row at 1280 px ({height} px high)"
    );
    small.shot("home");
    small.click("today-patient");
    small.wait_text("patient-name", "Lovelace");
    small.shot("summary");
    small.click("nav-calendar");
    small.find_where("[data-testid='calendar'][data-columns='20']", "");
    small.shot("calendar-day");
    small.click("cal-view-week");
    small.find_where(
        "[data-testid='calendar'][data-columns='7'][data-loaded$='/week']",
        "",
    );
    small.shot("calendar-week");
}
