//! End-to-end: the real `clinic-desktop` binary in a real WebKitGTK window
//! under Xvfb, driven through WebDriver (`tauri-driver` in front of
//! `WebKitWebDriver`), against a real sync server on PostgreSQL, with
//! SQLCipher stores prepared through the same use-cases the app calls.
//!
//! Screenshots of each main screen land in `target/e2e-screenshots/`.

use chrono::{Duration, NaiveTime, Utc};
use clinic_client::{Password, SystemClock, Workstation};
use clinic_core::patient::PatientDetails;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::keys::Passphrase;
use serde_json::json;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};
use sync_server::testing::TestServer;

const PASSPHRASE: &str = "workstation passphrase";
const ADMIN: (&str, &str) = ("admin@e2e.example", "admin-password-1");
const DESK: (&str, &str) = ("desk@e2e.example", "desk-password-1");
const DOCTOR: (&str, &str) = ("dr.grey@e2e.example", "doctor-password-1");
const WAIT: StdDuration = StdDuration::from_secs(30);

/// One window at a time per test: two tests in parallel would starve two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// A child process in its own process group; the whole group (tauri-driver,
/// WebKitWebDriver and the app) is killed when dropped, even after a panic.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn own_group(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    c.process_group(0)
}

/// A private X server; its display number is chosen by Xvfb itself.
fn xvfb() -> (Proc, String) {
    use std::io::BufRead;
    let mut child = own_group(&mut Command::new("Xvfb"))
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1400x900x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (Debian package xvfb) is needed for the end-to-end tests");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Proc(child), format!(":{}", line.trim()))
}

/// Converts an X window dump (32-bit TrueColor, as Xvfb makes it) to PNG.
fn xwd_to_png(xwd: &[u8], path: &Path) -> ClinicResult<()> {
    let bad = |what: &str| ClinicError::new(ErrorCode::Internal, format!("window dump: {what}"));
    let word = |i: usize| -> ClinicResult<usize> {
        xwd.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| bad("short dump"))
    };
    let (header, width, height) = (word(0)?, word(4)?, word(5)?);
    let (bytes_per_line, colours) = (word(12)?, word(19)?);
    // Xvfb's 24-bit TrueColor stores each pixel in 4 bytes (B, G, R, unused).
    let step = bytes_per_line / width.max(1);
    if step != 4 {
        return Err(bad(&format!("{step} bytes per pixel")));
    }
    let pixels = xwd
        .get(header + colours * 12..)
        .ok_or_else(|| bad("no pixels"))?;
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        let row = pixels
            .get(y * bytes_per_line..y * bytes_per_line + width * step)
            .ok_or_else(|| bad("short row"))?;
        for px in row.chunks(step) {
            rgb.extend_from_slice(&[px[2], px[1], px[0]]);
        }
    }
    let file = std::fs::File::create(path).map_err(ClinicError::internal)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.write_header()
        .and_then(|mut w| w.write_image_data(&rgb))
        .map_err(ClinicError::internal)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tauri_driver() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let p = home.join("bin/tauri-driver");
    assert!(
        p.exists(),
        "tauri-driver is not installed ({}); scripts/setup.sh installs it",
        p.display()
    );
    p
}

/// A minimal synchronous WebDriver client (W3C protocol over HTTP on
/// loopback): every call has a timeout, so a stalled driver fails the test
/// instead of hanging it.
struct WebDriver {
    http: reqwest::blocking::Client,
    base: String,
}

/// What the W3C protocol calls an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl WebDriver {
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> ClinicResult<Value> {
        let unreachable =
            |e: reqwest::Error| ClinicError::new(ErrorCode::Unreachable, format!("WebDriver: {e}"));
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().and_then(|r| r.json()).map_err(unreachable)?;
        if v["value"].get("error").is_some() {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                format!("{}: {}", v["value"]["error"], v["value"]["message"]),
            ));
        }
        Ok(v["value"].clone())
    }
}

/// The app on one workstation store, behind its own tauri-driver.
struct App {
    wd: WebDriver,
    _driver: Proc,
    _x: Proc,
    display: String,
    shots: PathBuf,
    log: PathBuf,
    name: &'static str,
}

impl App {
    /// Starts the app on its own virtual display.
    fn launch(data_dir: &Path, name: &'static str) -> App {
        let (x, display) = xvfb();
        let (port, native) = (free_port(), free_port());
        let driver = own_group(&mut Command::new(tauri_driver()))
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("DISPLAY", &display)
            .env("CLINIC_DATA_DIR", data_dir)
            .env("CLINIC_KEYCHAIN", "off")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver starts");
        let driver = Proc(driver);
        let http = reqwest::blocking::Client::builder()
            .timeout(StdDuration::from_secs(60))
            .build()
            .unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": env!("CARGO_BIN_EXE_clinic-desktop")}
        }}});
        let mut last = String::new();
        for _ in 0..100 {
            let wd = WebDriver {
                http: http.clone(),
                base: format!("http://127.0.0.1:{port}"),
            };
            match wd.call(reqwest::Method::POST, "/session", Some(caps.clone())) {
                Ok(v) => {
                    let session = v["sessionId"].as_str().expect("session id").to_string();
                    let shots =
                        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
                    std::fs::create_dir_all(&shots).unwrap();
                    return App {
                        wd: WebDriver {
                            http,
                            base: format!("http://127.0.0.1:{port}/session/{session}"),
                        },
                        _driver: driver,
                        _x: x,
                        display,
                        shots,
                        log: data_dir.join("logs/desktop.log"),
                        name,
                    };
                }
                Err(e) => last = e.message,
            }
            std::thread::sleep(StdDuration::from_millis(200));
        }
        panic!("the app did not start under WebDriver: {last}");
    }

    fn css(id: &str) -> String {
        format!("[data-testid='{id}']")
    }

    fn fail(&self, what: &str) -> ! {
        self.shot(&format!("FAILED-{}", what.replace([' ', '/'], "-")));
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        panic!("{}: {what}\napp log:\n{log}", self.name);
    }

    /// Runs a script in the page and returns its value.
    fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.wd
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": script, "args": args})),
            )
            .unwrap_or_else(|e| self.fail(&format!("script failed: {e}")))
    }

    /// The first element matching `css` whose text contains `text`, waiting
    /// up to WAIT for it.
    fn find_where(&self, css: &str, text: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(
                "return [...document.querySelectorAll(arguments[0])].find(e => e.innerText.includes(arguments[1])) || null;",
                vec![json!(css), json!(text)],
            );
            if !v.is_null() {
                return v;
            }
            if Instant::now() > deadline {
                self.fail(&format!("no {css} with text {text:?}"));
            }
            std::thread::sleep(StdDuration::from_millis(150));
        }
    }

    fn find(&self, id: &str) -> Value {
        self.find_where(&Self::css(id), "")
    }

    /// Clicks the first element matching `css` whose text contains `text`
    /// (found again if the page re-rendered it in between).
    fn click_where(&self, css: &str, text: &str) {
        let mut last = String::new();
        for _ in 0..5 {
            let el = self.find_where(css, text);
            let id = el[ELEMENT].as_str().unwrap();
            match self.wd.call(
                reqwest::Method::POST,
                &format!("/element/{id}/click"),
                Some(json!({})),
            ) {
                Ok(_) => return,
                Err(e) => last = e.message,
            }
            std::thread::sleep(StdDuration::from_millis(150));
        }
        self.fail(&format!("click on {css} {text:?}: {last}"));
    }

    fn click(&self, id: &str) {
        self.click_where(&Self::css(id), "");
    }

    /// Types into an input like a person (key by key).
    fn type_in(&self, id: &str, text: &str) {
        let mut last = String::new();
        for _ in 0..5 {
            let el = self.find(id);
            let eid = el[ELEMENT].as_str().unwrap();
            let cleared = self.wd.call(
                reqwest::Method::POST,
                &format!("/element/{eid}/clear"),
                Some(json!({})),
            );
            let typed = cleared.and_then(|_| {
                self.wd.call(
                    reqwest::Method::POST,
                    &format!("/element/{eid}/value"),
                    Some(json!({"text": text})),
                )
            });
            match typed {
                Ok(_) => return,
                Err(e) => last = e.message,
            }
            std::thread::sleep(StdDuration::from_millis(150));
        }
        self.fail(&format!("typing into {id}: {last}"));
    }

    /// Sets an input's value and fires input/change (date and time pickers,
    /// whose typing rules differ between engines).
    fn set(&self, id: &str, value: &str) {
        self.find(id);
        self.js(
            "const e = document.querySelector(arguments[0]);
             const proto = e instanceof HTMLSelectElement ? HTMLSelectElement.prototype
               : e instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
             Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, arguments[1]);
             e.dispatchEvent(new Event('input', { bubbles: true }));
             e.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(Self::css(id)), json!(value)],
        );
    }

    /// An attribute of the first element matching `css` whose text contains
    /// `text`, waiting up to WAIT for one (read in one script, so a re-render
    /// in between cannot leave a stale reference).
    fn attr_where(&self, css: &str, text: &str, name: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(
                "const e = [...document.querySelectorAll(arguments[0])].find(e => e.innerText.includes(arguments[1]));
                 return e ? e.getAttribute(arguments[2]) : null;",
                vec![json!(css), json!(text), json!(name)],
            );
            if let Some(v) = v.as_str() {
                return v.to_string();
            }
            if Instant::now() > deadline {
                self.fail(&format!("no {css} with text {text:?} and {name}"));
            }
            std::thread::sleep(StdDuration::from_millis(150));
        }
    }

    fn text(&self, id: &str) -> String {
        self.find(id);
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            vec![json!(Self::css(id))],
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until `check` holds for the element's attribute.
    fn wait_attr(&self, id: &str, attr: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + StdDuration::from_secs(90);
        loop {
            let v = self.attr_where(&Self::css(id), "", attr);
            if check(&v) {
                return v;
            }
            if Instant::now() > deadline {
                self.fail(&format!("{id}[{attr}] stayed {v:?}"));
            }
            std::thread::sleep(StdDuration::from_millis(250));
        }
    }

    /// Waits until an element with `id` contains `text`.
    fn wait_text(&self, id: &str, text: &str) -> Value {
        self.find_where(&Self::css(id), text)
    }

    fn count(&self, id: &str) -> usize {
        self.js(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(Self::css(id))],
        )
        .as_u64()
        .unwrap_or(0) as usize
    }

    /// Saves a screenshot of the app's own X display (each app has one), as
    /// a person would see it: window, menu bar and all.
    fn shot(&self, name: &str) {
        let out = Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.display])
            .output()
            .expect("xwd (Debian package x11-apps) takes the screenshots");
        let path = self.shots.join(format!("{}-{name}.png", self.name));
        if let Err(e) = xwd_to_png(&out.stdout, &path) {
            eprintln!("{}: screenshot {name} failed: {e}", self.name);
        }
    }

    fn unlock_and_sign_in(&self, who: (&str, &str)) {
        self.type_in("unlock-passphrase", PASSPHRASE);
        self.shot("unlock");
        self.click("unlock-submit");
        self.type_in("signin-email", who.0);
        self.type_in("signin-password", who.1);
        self.shot("sign-in");
        self.click("signin-submit");
        self.find("global-search");
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.wd.call(reqwest::Method::DELETE, "", None);
    }
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
            ws.add_user(
                DESK.0,
                "Dana Desk",
                "receptionist",
                &Password::new(DESK.1.into()),
                None,
            )
            .unwrap();
            let d = ws
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
                ws.register_patient(
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

/// Tomorrow at `h:m`, London wall clock (the demo tenant's site), as the
/// UI's datetime-local value.
fn tomorrow_at(h: u32, m: u32) -> String {
    let tz: chrono_tz::Tz = "Europe/London".parse().unwrap();
    let today = Utc::now().with_timezone(&tz).date_naive();
    (today + Duration::days(1))
        .and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap())
        .format("%Y-%m-%dT%H:%M")
        .to_string()
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
    let app = App::launch(&dirs[0], "desk");

    app.unlock_and_sign_in(DESK);
    assert!(app.text("current-user").contains("Dana Desk"));
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
    app.set("booking-start", &tomorrow_at(10, 0));
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
    app.set("move-start", &tomorrow_at(11, 30));
    app.click("move-confirm");
    app.wait_text("appointment-panel", "11:30");
    app.shot("appointment-panel");
    app.click("appt-cancel");
    app.type_in("cancel-reason", "Patient phoned: feeling better");
    app.click("cancel-confirm");
    app.wait_text("appt-status", "cancel");

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
    let a = App::launch(&dirs[0], "desk-a");
    let b = App::launch(&dirs[1], "desk-b");
    for app in [&a, &b] {
        app.unlock_and_sign_in(DESK);
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
        app.set("booking-start", &tomorrow_at(9, 0));
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
    a.set("resolve-start", &tomorrow_at(9, 45));
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
