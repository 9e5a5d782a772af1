//! Desktop cold start and idle memory: the real `clinic-desktop` binary on
//! the store the bench built, in a WebKitGTK window under Xvfb, driven
//! through `tauri-driver` (the end-to-end tests' harness,
//! `clinic-webdriver`).
//!
//! Each launch is timed in three parts, the harness's own typing left out:
//! 1. launch: from asking WebDriver for a session (which starts the
//!    process) to the unlock screen's passphrase field on the page;
//! 2. unlock: from pressing "Unlock" (passphrase typed) to the sign-in
//!    screen (key unwrapped, SQLCipher store opened and checked);
//! 3. sign in: from pressing "Sign in" to today's patient list loaded
//!    (`data-ready`) with the search box on the page.
//!
//! Their sum is the cold start to an interactive patient list. The OS page
//! cache is warm (the bench has just written the store), as on a clinic PC
//! that starts the app every morning after the night's backup read it.
//! After the last launch the app sits idle, then the resident memory of its
//! process and of WebKit's helper processes is read from `/proc`.

use crate::{figure, Figure, Scalar};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_webdriver::{descendants, Display, Driver, Window};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct DesktopArgs {
    /// The app binary (`clinic-desktop`).
    pub app: PathBuf,
    /// The store's data folder (the bench's standalone store).
    pub data: PathBuf,
    pub passphrase: String,
    pub email: String,
    pub password: String,
    pub launches: usize,
    pub idle: Duration,
    /// Rounds of the UI timings (book, check in, open a patient, week view).
    pub ui_rounds: usize,
    /// Where the screenshot of the first patient list goes.
    pub shots: PathBuf,
}

#[derive(Debug)]
pub struct DesktopResult {
    pub figures: Vec<Figure>,
    pub scalars: Vec<Scalar>,
}

/// The `clinic-desktop` next to this benchmark's own binary (same build
/// profile), built with cargo first when it is missing.
pub fn find_app() -> ClinicResult<PathBuf> {
    let me = std::env::current_exe().map_err(ClinicError::internal)?;
    let app = me.with_file_name("clinic-desktop");
    if app.exists() {
        return Ok(app);
    }
    let release = !cfg!(debug_assertions);
    eprintln!(
        "desktop: building clinic-desktop ({}) for the desktop section ...",
        if release { "release" } else { "debug" }
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "-q", "-p", "clinic-desktop"]);
    if release {
        cmd.arg("--release");
    }
    let built = cmd.status().map_err(ClinicError::internal)?;
    if built.success() && app.exists() {
        Ok(app)
    } else {
        Err(ClinicError::new(
            ErrorCode::Internal,
            format!(
                "{} is missing and could not be built (the UI must be built first: scripts/setup.sh)",
                app.display()
            ),
        ))
    }
}

/// Polls the page every few milliseconds until `css` matches; the time it
/// took, or an error after `limit`.
fn until(w: &Window, css: &str, limit: Duration) -> ClinicResult<Duration> {
    let t = Instant::now();
    loop {
        if w.exists(css) {
            return Ok(t.elapsed());
        }
        if t.elapsed() > limit {
            w.shot("FAILED-bench");
            return Err(ClinicError::new(
                ErrorCode::Internal,
                format!("{css} did not appear within {limit:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(4));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Processes of this user whose executable is `app`.
fn pids_of(app: &Path) -> Vec<u32> {
    let want = std::fs::canonicalize(app).unwrap_or_else(|_| app.to_path_buf());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&want))
        .collect()
}

/// A `Key:   123 kB` field of a /proc file, in MiB.
fn proc_mib(path: &str, key: &str) -> f64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

pub fn run(a: &DesktopArgs) -> ClinicResult<DesktopResult> {
    if let Some(pid) = pids_of(&a.app).first() {
        return Err(ClinicError::new(
            ErrorCode::Conflict,
            format!("clinic-desktop is already running (pid {pid}); close it first"),
        ));
    }
    let x = Display::start()?;
    let driver = Driver::start(&x, &a.data)?;
    let limit = Duration::from_secs(60);
    let (mut launch, mut unlock, mut sign_in, mut total) = (vec![], vec![], vec![], vec![]);
    let mut scalars = Vec::new();
    let mut rows = 0;
    let mut figures_ui = Vec::new();
    for i in 0..a.launches.max(1) {
        let t0 = Instant::now();
        let w = driver.open(&a.app, "bench", &a.shots)?;
        until(
            &w,
            "[data-testid='unlock-passphrase'], [data-testid='unlock-show-passphrase']",
            limit,
        )?;
        let first = t0.elapsed();
        // Staff who signed in here could unlock with their own password;
        // the timed unlock is the store passphrase's, as before.
        if w.exists("[data-testid='unlock-show-passphrase']") {
            w.click("unlock-show-passphrase");
        }

        w.type_in("unlock-passphrase", &a.passphrase);
        let t1 = Instant::now();
        w.click("unlock-submit");
        until(&w, "[data-testid='signin-email']", limit)?;
        let opened = t1.elapsed();

        w.type_in("signin-email", &a.email);
        w.type_in("signin-password", &a.password);
        let t2 = Instant::now();
        w.click("signin-submit");
        until(&w, "[data-testid='today-list'][data-ready='true']", limit)?;
        until(&w, "[data-testid='global-search']", limit)?;
        let listed = t2.elapsed();

        launch.push(ms(first));
        unlock.push(ms(opened));
        sign_in.push(ms(listed));
        total.push(ms(first + opened + listed));
        eprintln!(
            "  launch {}: {:.0} ms to the unlock screen, {:.0} ms unlock, {:.0} ms sign-in to the list",
            i + 1,
            ms(first),
            ms(opened),
            ms(listed)
        );
        if i == 0 {
            rows = w.count("today-row");
            w.shot("today-list");
        }
        if i + 1 == a.launches.max(1) {
            // The precision of the figures above: one poll's round trip.
            let mut polls: Vec<f64> = (0..20)
                .map(|_| {
                    let t = Instant::now();
                    w.exists("[data-testid='global-search']");
                    ms(t.elapsed())
                })
                .collect();
            polls.sort_by(f64::total_cmp);
            scalars.push((
                "desktop: one WebDriver poll of the page (the timing precision of the figures above), median".into(),
                polls[polls.len() / 2],
                "ms".into(),
            ));
            // Idle: nobody touches it (the status poll and timers run).
            std::thread::sleep(a.idle);
            let pid = *pids_of(&a.app).first().ok_or_else(|| {
                ClinicError::new(ErrorCode::Internal, "the app's process was not found")
            })?;
            // WebKit's web and network processes.
            let kids = descendants(pid);
            let status = |p: u32, k: &str| proc_mib(&format!("/proc/{p}/status"), k);
            let pss = |p: u32| proc_mib(&format!("/proc/{p}/smaps_rollup"), "Pss:");
            let idle = a.idle.as_secs();
            scalars.push((
                format!("desktop idle memory: app process RSS after {idle} s idle on today's list (Rust + GTK + WebKit's UI side)"),
                status(pid, "VmRSS:"),
                "MiB (target: Rust process <= 150 MB)".into(),
            ));
            scalars.push((
                "desktop idle memory: of which private anonymous (heap, stacks, SQLite page cache; RssAnon)".into(),
                status(pid, "RssAnon:"),
                "MiB".into(),
            ));
            scalars.push((
                "desktop idle memory: of which mapped files (binary and shared libraries: WebKitGTK, GTK; RssFile)".into(),
                status(pid, "RssFile:"),
                "MiB".into(),
            ));
            scalars.push((
                "desktop idle memory: app process peak RSS (VmHWM, incl. sign-in's Argon2id)"
                    .into(),
                status(pid, "VmHWM:"),
                "MiB".into(),
            ));
            scalars.push((
                format!(
                    "desktop idle memory: WebKit's web and network processes RSS ({} processes)",
                    kids.len()
                ),
                kids.iter().map(|&k| status(k, "VmRSS:")).sum(),
                "MiB".into(),
            ));
            scalars.push((
                "desktop idle memory: app and WebKit processes together, PSS (shared pages split)"
                    .into(),
                pss(pid) + kids.iter().map(|&k| pss(k)).sum::<f64>(),
                "MiB".into(),
            ));
        }
        if i + 1 == a.launches.max(1) && a.ui_rounds > 0 {
            figures_ui = ui_timings(&w, a.ui_rounds)?;
        }
        drop(w);
        // One app per store: wait for this one to be gone before the next.
        let gone = Instant::now();
        while !pids_of(&a.app).is_empty() {
            if gone.elapsed() > Duration::from_secs(15) {
                return Err(ClinicError::new(
                    ErrorCode::Internal,
                    "the app did not exit after its session was closed",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let n = launch.len();
    let workload = |what: &str| {
        format!("{what}; {n} launches of the real app binary under Xvfb through tauri-driver, warm OS cache, harness typing not counted")
    };
    let mut figures = vec![
        figure(
            "desktop: cold start to an interactive patient list",
            &workload(&format!(
                "process start, unlock with passphrase, sign in, today's list ({rows} appointments) and search box on screen: the sum of the three parts below"
            )),
            Some("<= 1.5 s"),
            total,
        ),
        figure(
            "desktop: launch to the unlock screen",
            &workload("WebDriver new session (starts the process, window, WebKit) to the passphrase field on the page"),
            None,
            launch,
        ),
        figure(
            "desktop: unlock",
            &workload("click Unlock to the sign-in screen (key unwrapped from the passphrase, SQLCipher store opened)"),
            None,
            unlock,
        ),
        figure(
            "desktop: sign in to today's patient list",
            &workload("click Sign in to the list loaded (Argon2id password check, session, today's calendar of the site)"),
            None,
            sign_in,
        ),
    ];
    figures.extend(figures_ui);
    drop(driver);
    drop(x);
    Ok(DesktopResult { figures, scalars })
}

/// Makes sure today's list at the desk's site has `n` patients expected
/// (whatever the weekday: the demo clinic is closed at weekends), booked
/// through the use-case the app calls, from 06:00 at the site, a quarter
/// of an hour apart, as overridden out-of-hours bookings.
pub fn book_today(ws: &mut clinic_client::Workstation, n: usize) -> ClinicResult<()> {
    use clinic_core::scheduling::{local_to_utc, parse_tz, utc_to_local};
    let site = ws.scheduling().home_site()?;
    let tz = parse_tz(&site.timezone)?;
    let today = utc_to_local(tz, ws.now()).date();
    let clinician = ws
        .scheduling()
        .clinicians()?
        .into_iter()
        .next()
        .ok_or_else(|| ClinicError::new(ErrorCode::Internal, "the demo clinic has no clinician"))?;
    let patients = ws.patients().search("a", n)?;
    for (i, p) in patients.iter().enumerate() {
        let at = today.and_hms_opt(6, 0, 0).unwrap_or_default()
            + chrono::Duration::minutes(15 * i as i64);
        ws.scheduling()
            .book_appointment(clinic_client::scheduling::BookRequest {
                patient: p.id,
                clinician: clinician.id,
                start: local_to_utc(tz, at),
                minutes: Some(15),
                override_checks: true,
                ..Default::default()
            })?;
    }
    Ok(())
}

/// Click-to-visible in the running app, timed inside the page by
/// [`Window::time_click_until`] (the click, the page's work, the frame that
/// shows the result; WebDriver's own round trips are not counted), on the
/// S clinic's today and calendar of 20 clinicians, signed in at the front
/// desk. Each round checks a patient in (and undoes it), opens a patient,
/// opens the calendar, switches to the week and back to the day, and books
/// a free slot (cancelled again so every round starts alike).
fn ui_timings(w: &Window, rounds: usize) -> ClinicResult<Vec<Figure>> {
    let limit = Duration::from_secs(30);
    // The window as on a 1400x900 screen (the size the e2e tests see).
    w.resize(1400, 900);
    let home = "[data-testid='today-list'][data-ready='true']";
    let (mut check_in, mut check_in_done, mut open_patient) = (vec![], vec![], vec![]);
    let (mut calendar, mut week, mut day) = (vec![], vec![], vec![]);
    let (mut book, mut book_done) = (vec![], vec![]);
    for _ in 0..rounds {
        // Check in the first patient expected, from today's list.
        w.click("nav-patients");
        until(w, home, limit)?;
        w.click("today-filter-open");
        until(w, "[data-testid='today-checkin']", limit)?;
        let id = w.attr_where(
            "[data-testid='today-row']:has([data-testid='today-checkin'])",
            "",
            "data-appointment-id",
        );
        let row = format!("[data-testid='today-row'][data-appointment-id='{id}']");
        let t = w.time_click_until(
            &format!("{row} [data-testid='today-checkin']"),
            &[
                (&format!("{row}[data-status='arrived']"), ""),
                (
                    &format!("{row}[data-status='arrived'][data-saving='false']"),
                    "",
                ),
            ],
        );
        check_in.push(t[0]);
        check_in_done.push(t[1]);
        w.click("today-filter-waiting");
        w.click_where(&format!("{row} [data-testid='today-undo-checkin']"), "");
        w.click("today-filter-all");
        until(
            w,
            &format!("{row}[data-status='scheduled'][data-saving='false']"),
            limit,
        )?;

        // Open that patient from the list.
        let name = w.js(
            "return document.querySelector(arguments[0] + ' [data-testid=today-patient]').innerText;",
            vec![serde_json::json!(row)],
        );
        let name = name.as_str().unwrap_or_default().to_string();
        open_patient.push(w.time_click(
            &format!("{row} [data-testid='today-patient']"),
            "[data-testid='patient-name']",
            &name,
        ));

        // The calendar (today, 20 clinicians), its week, back to the day.
        calendar.push(w.time_click(
            "[data-testid='nav-calendar']",
            "[data-testid='calendar'][data-loaded$='/day'] .ec-event",
            "",
        ));
        week.push(w.time_click(
            "[data-testid='cal-view-week']",
            "[data-testid='calendar'][data-loaded$='/week'][data-columns='7']",
            "",
        ));
        day.push(w.time_click(
            "[data-testid='cal-view-day']",
            "[data-testid='calendar'][data-loaded$='/day'] .ec-event",
            "",
        ));

        // Book that patient into the first free slot of the first clinician.
        w.click("new-appointment");
        w.type_in("booking-patient", &name);
        w.click_where("[data-testid='booking-patient-option']", "");
        let clinician = w.js(
            "return document.querySelector('[data-testid=booking-clinician] option:not([disabled])').value;",
            vec![],
        );
        w.set("booking-clinician", clinician.as_str().unwrap_or_default());
        w.click("find-slots");
        w.click_where("[data-testid='slot-option']", "");
        let t = w.time_click_until(
            "[data-testid='booking-submit']",
            &[
                ("[data-testid='calendar'] [data-saving='true']", &name),
                ("[data-testid='appointment-panel']", &name),
            ],
        );
        book.push(t[0]);
        book_done.push(t[1]);
        // Cancel it again, so every round starts from the same calendar.
        w.click("appt-cancel");
        w.type_in("cancel-reason", "benchmark round");
        w.click("cancel-confirm");
        until(
            w,
            "[data-testid='appt-status'][data-status='cancelled']",
            limit,
        )?;
    }
    let n = check_in.len();
    let work = |what: &str| {
        format!("{what}; timed in the page from the click to the frame that shows it, {n} rounds, size S (20 clinicians), signed in at the front desk")
    };
    Ok(vec![
        figure(
            "desktop UI: check in from today's list, shown",
            &work("click Check in to the row showing Arrived (optimistic, 'saving')"),
            Some("<= 100 ms"),
            check_in,
        ),
        figure(
            "desktop UI: check in, committed",
            &work("click Check in to the row read back from the store (no longer 'saving')"),
            None,
            check_in_done,
        ),
        figure(
            "desktop UI: open a patient from today's list",
            &work("click a name to the summary showing it"),
            Some("<= 100 ms"),
            open_patient,
        ),
        figure(
            "desktop UI: open the calendar",
            &work("click Calendar to today's appointments drawn for every clinician"),
            None,
            calendar,
        ),
        figure(
            "desktop UI: switch to the week",
            &work("click Week to the week of one clinician drawn (7 columns)"),
            Some("<= 300 ms"),
            week,
        ),
        figure(
            "desktop UI: back to the day",
            &work("click Day to the day of 20 clinicians drawn with its appointments"),
            None,
            day,
        ),
        figure(
            "desktop UI: book, shown",
            &work("click Book (patient, clinician and a free slot chosen) to the card on the calendar ('saving')"),
            Some("<= 100 ms"),
            book,
        ),
        figure(
            "desktop UI: book, committed",
            &work("click Book to the committed appointment open in its panel"),
            None,
            book_done,
        ),
    ])
}
