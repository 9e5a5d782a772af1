//! `clinic-bench`: benchmarks on the deterministic clinic of `performance.md`.
//!
//! Usage: `cargo run -p clinic-bench --release -- --size L [--record]`
//!
//! Each benchmark states its workload. Prints a table (median, p95, p99,
//! max) and writes JSON; `--record` also writes `docs/benchmarks/<SIZE>.{json,md}`.
//!
//! Sections: search and bulk load on a standalone store (every size),
//! scheduling on the same store with the demo calendar (S and L; see
//! [`schedule`]), and sync against a real server and PostgreSQL on loopback
//! (S and L; see [`sync`]), clinical records, billing and inventory on the
//! same store (S and L; see [`clinical`], [`billing`], [`inventory`]), the
//! server's bulk load against `COPY` (S and L; see [`server_bulk`]), and the
//! desktop app's cold start and idle memory on the same store (every size;
//! see [`desktop`]).

mod billing;
mod clinical;
mod desktop;
mod inventory;
mod schedule;
mod server_bulk;
mod sync;

use clap::Parser;
use clinic_client::{demo, Password, SystemClock, Workstation};
use clinic_core::patients::format_patient_number;
use clinic_demo::{demo_patient, DemoSize};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(about = "Clinic benchmarks on deterministic data")]
struct Args {
    /// Data size: S, L or XL
    #[arg(long, default_value = "S")]
    size: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Search queries per kind
    #[arg(long, default_value_t = 400)]
    queries: usize,
    /// Where to write the JSON result
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Also write docs/benchmarks/<SIZE>.json and .md (the figures in the docs)
    #[arg(long)]
    record: bool,
    /// Patients of the sync section: the first N of the size's (default:
    /// all of them; a smaller N keeps the debug smoke run short)
    #[arg(long)]
    sync_patients: Option<u64>,
    /// Live-propagation samples of the sync section (0 skips that part)
    #[arg(long, default_value_t = 200)]
    live_samples: usize,
    /// Sync over plain HTTP on loopback instead of HTTPS (the figures
    /// before the server spoke TLS)
    #[arg(long)]
    plain_http: bool,
    /// Skip the sync section (it runs at sizes S and L)
    #[arg(long)]
    no_sync: bool,
    /// Skip the scheduling section and the demo calendar (it runs at sizes
    /// S and L)
    #[arg(long)]
    no_schedule: bool,
    /// Skip the desktop section (the real app under Xvfb; needs
    /// scripts/setup.sh's packages)
    #[arg(long)]
    no_desktop: bool,
    /// Launches of the desktop app to time
    #[arg(long, default_value_t = 10)]
    desktop_launches: usize,
    /// Seconds the desktop app sits idle before its memory is read
    #[arg(long, default_value_t = 30)]
    desktop_idle_secs: u64,
    /// Rounds of the desktop UI timings (check in, open a patient, calendar,
    /// week, book) after the last launch
    #[arg(long, default_value_t = 10)]
    ui_rounds: usize,
}

const PASSPHRASE: &str = "benchmark passphrase";
/// The demo clinic's front-desk user, and every demo user's password here.
const DESK_EMAIL: &str = "reception1@demo.clinic";
const DEMO_PASSWORD: &str = "bench-password-1";

#[derive(Debug, Serialize)]
struct Figure {
    name: String,
    workload: String,
    unit: String,
    samples: usize,
    median: f64,
    p95: f64,
    p99: f64,
    max: f64,
    target: Option<String>,
}

/// (name with its workload, value, unit with the target if any).
type Scalar = (String, f64, String);

#[derive(Debug, Serialize)]
struct Report {
    size: String,
    seed: u64,
    machine: String,
    profile: &'static str,
    generated_at: String,
    peak_rss_mib: f64,
    figures: Vec<Figure>,
    scalars: Vec<Scalar>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn figure(name: &str, workload: &str, target: Option<&str>, mut ms: Vec<f64>) -> Figure {
    ms.sort_by(|a, b| a.total_cmp(b));
    Figure {
        name: name.into(),
        workload: workload.into(),
        unit: "ms".into(),
        samples: ms.len(),
        median: percentile(&ms, 50.0),
        p95: percentile(&ms, 95.0),
        p99: percentile(&ms, 99.0),
        max: ms.last().copied().unwrap_or(f64::NAN),
        target: target.map(str::to_string),
    }
}

fn peak_rss_mib() -> f64 {
    sync::mib(sync::status_kib("VmHWM:"))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores, {}", std::env::consts::OS)
}

/// One adjacent transposition in the middle of the word (a typical typo).
fn typo(word: &str) -> String {
    let mut c: Vec<char> = word.chars().collect();
    if c.len() >= 4 {
        let i = c.len() / 2;
        if c[i] != c[i - 1] {
            c.swap(i - 1, i);
        } else {
            c[i] = if c[i] == 'e' { 'a' } else { 'e' };
        }
    }
    c.into_iter().collect()
}

fn main() {
    let args = Args::parse();
    let size = DemoSize::parse(&args.size).unwrap_or_else(|| {
        eprintln!("error: --size must be S, L or XL");
        std::process::exit(2)
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("ws");
    let clock = Arc::new(SystemClock);
    let passphrase = clinic_store::keys::Passphrase::new(PASSPHRASE.into()).expect("valid");
    let mut ws = Workstation::create_empty(&data, "Bench Clinic", passphrase, None, clock)
        .expect("create store");
    let password = Password::new(DEMO_PASSWORD.into());

    let with_schedule = !args.no_schedule && size.appointments() > 0;
    eprintln!("generating size {size:?} (seed {}) ...", args.seed);
    let options = demo::DemoOptions {
        appointments: with_schedule,
    };
    let report = demo::generate_with(
        &mut ws,
        size,
        args.seed,
        &password,
        options,
        |done, total| {
            if done % 100_000 == 0 && total >= 100_000 {
                eprintln!("  {done}/{total}");
            }
        },
    )
    .expect("demo data");
    let patient_seconds = report.seconds - report.appointment_seconds - report.encounter_seconds;
    // The appointments' time runs to the commit; the stock written after
    // them has its own figure.
    let appointment_seconds = report.appointment_seconds - report.inventory_seconds;
    let mut scalars = vec![
        (
            "bulk load: patients/s (validate + insert + index + vocabulary, one transaction)"
                .to_string(),
            report.patients as f64 / patient_seconds,
            "rows/s".to_string(),
        ),
        (
            "bulk load: seconds".to_string(),
            patient_seconds,
            "s".to_string(),
        ),
    ];
    if with_schedule {
        scalars.push((
            format!(
                "bulk load: appointments/s ({} appointments: generate + row, 6 indexes and JSON document, after the patients in the same transaction; its commit counted here)",
                report.appointments
            ),
            report.appointments as f64 / appointment_seconds,
            "rows/s".to_string(),
        ));
        scalars.push((
            "bulk load: appointment seconds".to_string(),
            appointment_seconds,
            "s".to_string(),
        ));
        scalars.push((
            format!(
                "bulk load: stock movements/s ({} items, {} movements over two sites and two years: planned, applied by the inventory rules in memory, rows written, on-hand kept by triggers)",
                report.stock_items, report.stock_movements
            ),
            report.stock_movements as f64 / report.inventory_seconds,
            "rows/s".to_string(),
        ));
        scalars.push((
            "bulk load: inventory seconds".to_string(),
            report.inventory_seconds,
            "s".to_string(),
        ));
        scalars.push((
            format!(
                "bulk load: consultations/s ({} signed notes of ~1 KB with vitals and a diagnosis, their SHA-256 and JSON document)",
                report.encounters
            ),
            report.encounters as f64 / report.encounter_seconds,
            "rows/s".to_string(),
        ));
    }
    ws.login(DESK_EMAIL, &password).expect("login");

    // Raw JSON size of the same patients (and appointments) versus the
    // encrypted database.
    let raw_json: u64 = (0..size.patients())
        .map(|i| {
            serde_json::to_vec(&demo_patient(args.seed, i))
                .map(|v| v.len() as u64)
                .unwrap_or(0)
        })
        .sum();
    let calendar = with_schedule.then(|| {
        eprintln!(
            "{} appointments written in {:.1} s; reading them back ...",
            report.appointments, appointment_seconds
        );
        let cal = schedule::read_calendar(&data, PASSPHRASE, ws.now(), report.appointments)
            .expect("read the calendar back");
        if cal.appointments != report.appointments {
            eprintln!(
                "error: {} appointments written, {} read back",
                report.appointments, cal.appointments
            );
            std::process::exit(1);
        }
        cal
    });
    let appointment_json = calendar.as_ref().map_or(0, |c| c.json_bytes);
    let encounter_json =
        clinical::json_bytes(&data, PASSPHRASE).expect("read the consultations back");
    let stock_json = inventory::json_bytes(&data, PASSPHRASE).expect("read the stock back");
    ws.checkpoint().expect("checkpoint");
    let db_bytes = std::fs::metadata(data.join("clinic.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    scalars.push((
        if with_schedule {
            "local database size / raw JSON size (patients incl. search index, appointments, consultations, invoices and payments, stock items, lots and movements)"
        } else {
            "local database size / raw JSON size (patients incl. search index)"
        }
        .into(),
        db_bytes as f64 / (raw_json + appointment_json + encounter_json + stock_json) as f64,
        "ratio (target <= 1.5)".into(),
    ));
    scalars.push((
        "local database size".into(),
        db_bytes as f64 / 1_048_576.0,
        "MiB".into(),
    ));
    // Where the size goes: the ten largest tables and indexes.
    for (object, bytes) in ws.space_by_object().expect("dbstat").into_iter().take(10) {
        scalars.push((
            format!(
                "local database size: {object} (SQLite dbstat, pages incl. free space in them)"
            ),
            bytes as f64 / 1_048_576.0,
            "MiB".into(),
        ));
    }

    // Query sets drawn from the data itself (deterministic).
    let n = size.patients();
    let step = (n / args.queries as u64).max(1);
    let samples: Vec<_> = (0..args.queries as u64)
        .map(|k| (k * step + 7) % n)
        .map(|i| (i, demo_patient(args.seed, i).0))
        .collect();
    let mut kinds: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "search: prefix as you type",
            "each keystroke of a last name, 2..=6 letters",
            vec![],
        ),
        (
            "search: first + last name",
            "\"first last\" prefixes (3 + 4 letters)",
            vec![],
        ),
        (
            "search: typo-tolerant",
            "last name with two adjacent letters swapped",
            vec![],
        ),
        (
            "search: phone",
            "phone digits as read out (no spaces)",
            vec![],
        ),
        ("search: date of birth", "DD/MM/YYYY", vec![]),
        (
            "search: patient number",
            "exact number with check digit",
            vec![],
        ),
    ];
    for (i, d) in &samples {
        let last = clinic_core::search::fold(&d.last_name);
        for l in 2..=last.chars().count().min(6) {
            kinds[0].2.push(last.chars().take(l).collect());
        }
        let first = clinic_core::search::fold(&d.first_name);
        kinds[1].2.push(format!(
            "{} {}",
            first.chars().take(3).collect::<String>(),
            last.chars().take(4).collect::<String>()
        ));
        if last.chars().count() >= 5 {
            kinds[2].2.push(typo(&last));
        }
        kinds[3]
            .2
            .push(d.phone.clone().unwrap_or_default().replace(' ', ""));
        kinds[4].2.push(
            d.date_of_birth
                .map(|x| x.format("%d/%m/%Y").to_string())
                .unwrap_or_default(),
        );
        kinds[5].2.push(format_patient_number(i + 1));
    }
    let target = match size {
        DemoSize::XL => Some("p99 <= 30 ms (XL)"),
        DemoSize::L => Some("p99 <= 10 ms (L)"),
        DemoSize::S => None,
    };
    let mut figures = Vec::new();
    let mut all = Vec::new();
    let mut empty = 0usize;
    // Warm the page cache and statement cache the way a running app would be.
    for q in kinds.iter().flat_map(|k| k.2.iter()).take(200) {
        let _ = ws.patients().search(q, 20);
    }
    for (name, workload, queries) in &kinds {
        let mut ms = Vec::with_capacity(queries.len());
        for q in queries {
            let t = Instant::now();
            let hits = ws.patients().search(q, 20).expect("search");
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            if hits.is_empty() {
                empty += 1;
            }
        }
        all.extend_from_slice(&ms);
        figures.push(figure(name, workload, target, ms));
    }
    figures.push(figure(
        "search: all kinds together",
        "every query above, 20 results each",
        target,
        all,
    ));
    scalars.push((
        "search queries that found nothing (should be 0)".into(),
        empty as f64,
        "queries".into(),
    ));

    let mut refused = 0;
    if let Some(cal) = &calendar {
        eprintln!("schedule: calendar, slot search and booking ...");
        let r = schedule::run(
            &mut ws,
            cal,
            schedule::ScheduleArgs {
                size,
                samples: args.queries,
            },
        )
        .unwrap_or_else(|e| fail("scheduling benchmark", e));
        figures.extend(r.figures);
        scalars.extend(r.scalars);
        refused = r.refused;
    }
    if with_schedule {
        eprintln!("clinical: charts, autosave and signing ...");
        let r = clinical::run(
            &mut ws,
            clinical::ClinicalArgs {
                data: &data,
                passphrase: PASSPHRASE,
                password: &password,
                samples: args.queries.min(500),
            },
        )
        .unwrap_or_else(|e| fail("clinical benchmark", e));
        figures.extend(r.figures);
        scalars.extend(r.scalars);
        eprintln!("billing: issuing, a patient's balance, the clinic's outstanding balances ...");
        let r = billing::run(
            &mut ws,
            billing::BillingArgs {
                data: &data,
                passphrase: PASSPHRASE,
                password: &password,
                samples: args.queries.min(500),
            },
        )
        .unwrap_or_else(|e| fail("billing benchmark", e));
        figures.extend(r.figures);
        scalars.extend(r.scalars);
        eprintln!("inventory: stock list, dispensing, valuation, alerts, item detail ...");
        let r = inventory::run(
            &mut ws,
            inventory::InventoryArgs {
                data: &data,
                passphrase: PASSPHRASE,
                password: &password,
                samples: args.queries.min(500),
            },
        )
        .unwrap_or_else(|e| fail("inventory benchmark", e));
        figures.extend(r.figures);
        scalars.extend(r.scalars);
    }
    eprintln!("printouts: a 300-row day sheet ...");
    figures.push(print_figure(args.seed, (args.queries / 10).clamp(1, 30)));
    if !args.no_desktop && args.ui_rounds > 0 {
        // Patients to check in on today's list whatever the weekday,
        // booked at the front desk.
        ws.login(DESK_EMAIL, &password)
            .map(|_| ())
            .and_then(|()| desktop::book_today(&mut ws, args.ui_rounds))
            .unwrap_or_else(|e| fail("booking today's patients for the UI timings", e));
    }
    drop(ws);
    if !args.no_desktop {
        eprintln!("desktop: cold start and idle memory ...");
        let r = desktop::find_app()
            .and_then(|app| {
                desktop::run(&desktop::DesktopArgs {
                    app,
                    data: data.clone(),
                    passphrase: PASSPHRASE.into(),
                    email: DESK_EMAIL.into(),
                    password: DEMO_PASSWORD.into(),
                    launches: args.desktop_launches,
                    idle: std::time::Duration::from_secs(args.desktop_idle_secs),
                    ui_rounds: args.ui_rounds,
                    shots: args.out.join("screenshots"),
                })
            })
            .unwrap_or_else(|e| fail("desktop benchmark", e));
        figures.extend(r.figures);
        scalars.extend(r.scalars);
    }
    drop(dir);
    scalars.push((
        "peak RSS of bulk load, search and scheduling (before the sync section)".into(),
        peak_rss_mib(),
        "MiB".into(),
    ));

    let mut peak_rss = f64::NAN;
    if !args.no_sync && size != DemoSize::XL {
        let r = sync::run(sync::SyncArgs {
            size,
            seed: args.seed,
            patients: args.sync_patients,
            live_samples: args.live_samples,
            plain_http: args.plain_http,
        })
        .unwrap_or_else(|e| fail("sync benchmark", e));
        figures.extend(r.figures);
        scalars.extend(r.scalars);
        peak_rss = r.peak_rss_before_bootstrap_mib;
        eprintln!("server: bulk load against COPY ...");
        let n = args
            .sync_patients
            .unwrap_or(size.patients())
            .min(size.patients());
        scalars
            .extend(server_bulk::run(args.seed, n).unwrap_or_else(|e| fail("server bulk load", e)));
    }

    let result = Report {
        size: format!("{size:?}"),
        seed: args.seed,
        machine: machine(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        generated_at: chrono::Utc::now().to_rfc3339(),
        peak_rss_mib: peak_rss_mib().max(peak_rss),
        figures,
        scalars,
    };
    let mut md = format!(
        "### Size {} (seed {}), {} build\n\nMachine: {}. Peak RSS {:.0} MiB. Measured {}.\n\n| figure | workload | n | median ms | p95 ms | p99 ms | max ms | target |\n|---|---|---|---|---|---|---|---|\n",
        result.size, result.seed, result.profile, result.machine, result.peak_rss_mib, result.generated_at
    );
    for f in &result.figures {
        md.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} |\n",
            f.name,
            f.workload,
            f.samples,
            f.median,
            f.p95,
            f.p99,
            f.max,
            f.target.clone().unwrap_or_default()
        ));
    }
    md.push_str("\n| figure | value | unit |\n|---|---|---|\n");
    for (n, v, u) in &result.scalars {
        md.push_str(&format!("| {n} | {v:.2} | {u} |\n"));
    }
    println!("{md}");
    let json = serde_json::to_string_pretty(&result).expect("json");
    std::fs::create_dir_all(&args.out).expect("out dir");
    let path = args.out.join(format!("bench-{}.json", result.size));
    std::fs::write(&path, &json).expect("write json");
    eprintln!("wrote {}", path.display());
    if args.record {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks");
        std::fs::create_dir_all(&docs).expect("docs dir");
        std::fs::write(docs.join(format!("{}.json", result.size)), &json).expect("write");
        std::fs::write(docs.join(format!("{}.md", result.size)), &md).expect("write");
        eprintln!("recorded in {}", docs.display());
    }
    if empty > 0 {
        eprintln!("error: {empty} queries found nothing");
        std::process::exit(1);
    }
    if refused > 0 {
        eprintln!("error: {refused} bookings of free slots were refused");
        std::process::exit(1);
    }
}

/// Rendering a 300-row day sheet (the demo clinic's first 300 patients'
/// names) to PDF with its fonts embedded, `runs` times.
fn print_figure(seed: u64, runs: usize) -> Figure {
    use clinic_print::{render, DaySheet, DaySheetRow, Paper};
    let names: Vec<(String, String)> = (0..300u64)
        .map(|i| {
            let d = demo_patient(seed, i).0;
            (
                format!("{} {}", d.first_name, d.last_name),
                clinic_core::patients::format_patient_number(i + 1),
            )
        })
        .collect();
    let sheet = |run: usize| DaySheet {
        title: format!("Day sheet: clinician {run}"),
        subtitle: "Benchmark site, Monday 23 November 2026".into(),
        detail_heading: "Type".into(),
        rows: names
            .iter()
            .enumerate()
            .map(|(i, (name, number))| DaySheetRow {
                time: format!("{:02}:{:02}", 8 + i / 30, (i % 30) * 2),
                patient: name.clone(),
                patient_number: number.clone(),
                detail: "Consultation".into(),
                room: format!("Room {}", i % 4 + 1),
                status: "scheduled".into(),
                attention: false,
            })
            .collect(),
        footer: "Printed by the benchmark".into(),
        ..Default::default()
    };
    // The first render also loads the fonts and templates: left out.
    render(&sheet(0), Paper::A4).expect("a day sheet renders");
    let ms = (1..=runs.max(1))
        .map(|run| {
            let doc = sheet(run);
            let t = std::time::Instant::now();
            let pdf = render(&doc, Paper::A4).expect("a day sheet renders");
            assert!(pdf.starts_with(b"%PDF"));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    figure(
        "printouts: day sheet to PDF",
        "300 rows of the demo clinic's patients, A4, fonts embedded (clinic-print)",
        Some("<= 200 ms"),
        ms,
    )
}

/// Stops the run on an error of one benchmark section.
fn fail<T>(section: &str, e: clinic_core::ClinicError) -> T {
    eprintln!("error: {section}: {}: {}", e.code, e.message);
    std::process::exit(1)
}
