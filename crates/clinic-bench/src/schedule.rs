//! The scheduling benchmarks, on the store the bench built with the demo
//! clinic's calendar (`demo-data`: `clinic_demo::demo_appointments`,
//! inserted in its transaction; the load itself is a bulk-load scalar).
//!
//! 1. Calendar: one site's appointments of one local day and of one local
//!    week, as the desktop calendar loads them (`list_appointments`), and
//!    the day plan with names (`day_plan`), on many different days.
//! 2. Slot search: `find_slots`, the next 5 free 30-minute slots of a
//!    clinician over a week.
//! 3. Booking: `book_appointment` into free slots found by `find_slots`
//!    (conflict check, mutation, outbox and audit in one transaction).

use crate::{figure, Figure, Scalar};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use clinic_client::scheduling::BookRequest;
use clinic_client::Workstation;
use clinic_core::scheduling::{local_to_utc, parse_tz, utc_to_local, Span};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_demo::{DemoSize, DEMO_WEEKS_AHEAD};
use clinic_store::directory::Site;
use clinic_store::keys::{Passphrase, Unlock};
use clinic_store::scheduling::AppointmentFilter;
use clinic_store::Store;
use std::path::Path;
use std::time::Instant;

/// What the scheduling section is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleArgs {
    pub size: DemoSize,
    /// Samples per figure (the bench's `--queries`).
    pub samples: usize,
}

#[derive(Debug)]
pub struct ScheduleResult {
    pub figures: Vec<Figure>,
    pub scalars: Vec<Scalar>,
    /// Bookings refused although their slot was free (should be 0).
    pub refused: usize,
}

/// What the section needs to know of the store besides the use-cases:
/// every site, and the stored calendar (its appointments, the bytes of
/// their JSON documents — the raw JSON of the data set — and the oldest
/// start).
#[derive(Debug, Clone)]
pub struct Calendar {
    pub sites: Vec<Site>,
    pub appointments: u64,
    pub json_bytes: u64,
    pub oldest: Option<DateTime<Utc>>,
}

/// Reads the calendar back through a second connection to the bench's
/// store, closed again before anything is measured (kept open, it slowed
/// the workstation's own searches in a first version of this bench). Site
/// by site and 30 days at a time from the newest
/// (each counted in the window it starts in; by site, as no index leads
/// with the start), until `expected` are found.
pub fn read_calendar(
    dir: &Path,
    passphrase: &str,
    now: DateTime<Utc>,
    expected: u64,
) -> ClinicResult<Calendar> {
    let store = Store::open(
        dir,
        &Unlock::Passphrase(Passphrase::for_unlock(passphrase.into())),
    )?;
    let db = store.db();
    let mut out = Calendar {
        sites: db.sites()?,
        appointments: 0,
        json_bytes: 0,
        oldest: None,
    };
    let day0 = now.date_naive().and_time(NaiveTime::MIN).and_utc();
    let mut end = day0 + Duration::weeks(DEMO_WEEKS_AHEAD + 2);
    // The generator gives up 40 years back.
    let stop = day0 - Duration::days(41 * 366);
    while out.appointments < expected && end > stop {
        let start = end - Duration::days(30);
        for site in &out.sites {
            for a in db.appointments(&AppointmentFilter {
                site_id: Some(site.id),
                span: Some(Span::new(start, end)),
                include_ended: true,
                ..Default::default()
            })? {
                if a.start < start {
                    continue;
                }
                out.appointments += 1;
                out.json_bytes +=
                    serde_json::to_vec(&a).map_err(ClinicError::internal)?.len() as u64;
                out.oldest = Some(out.oldest.map_or(a.start, |o| o.min(a.start)));
            }
        }
        end = start;
    }
    Ok(out)
}

/// Local days `first..first + days` at a site of zone `tz` (an IANA name).
fn day_span(tz: &str, first: NaiveDate, days: i64) -> ClinicResult<Span> {
    let tz = parse_tz(tz)?;
    Ok(Span::new(
        local_to_utc(tz, first.and_time(NaiveTime::MIN)),
        local_to_utc(tz, (first + Duration::days(days)).and_time(NaiveTime::MIN)),
    ))
}

/// 08:00 local on `d`.
fn morning(tz: &str, d: NaiveDate) -> ClinicResult<DateTime<Utc>> {
    Ok(local_to_utc(
        parse_tz(tz)?,
        d.and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default()),
    ))
}

/// The weekday on or before `d`.
fn weekday_on_or_before(d: NaiveDate) -> NaiveDate {
    match d.weekday().number_from_monday() {
        6 => d - Duration::days(1),
        7 => d - Duration::days(2),
        _ => d,
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn scalar(name: &str, value: f64, unit: &str) -> Scalar {
    (name.to_string(), value, unit.to_string())
}

/// Runs the section on `ws` (signed in as a receptionist, store filled by
/// `demo-data` with its calendar, read back as `cal`).
pub fn run(
    ws: &mut Workstation,
    cal: &Calendar,
    args: ScheduleArgs,
) -> ClinicResult<ScheduleResult> {
    let n = args.samples.max(1);
    let now = ws.now();
    let oldest = cal.oldest.unwrap_or(now);
    let sites: Vec<_> = cal
        .sites
        .iter()
        .map(|s| (s.id, s.timezone.clone()))
        .collect();
    let clinicians: Vec<_> = ws
        .scheduling()
        .clinicians()?
        .into_iter()
        .map(|u| u.id)
        .collect();
    if sites.is_empty() || clinicians.is_empty() {
        return Err(ClinicError::internal("the demo clinic has no calendar"));
    }
    // Each clinician's site: where their appointments of the next weeks are.
    let mut site_of = Vec::with_capacity(clinicians.len());
    for c in &clinicians {
        let next = ws.scheduling().list_appointments(&AppointmentFilter {
            clinician_id: Some(*c),
            span: Some(Span::new(now, now + Duration::days(14))),
            ..Default::default()
        })?;
        let site = next.first().map(|a| a.site_id).unwrap_or(sites[0].0);
        let tz = sites
            .iter()
            .find(|s| s.0 == site)
            .map(|s| s.1.as_str())
            .unwrap_or(&sites[0].1);
        site_of.push((site, tz));
    }
    let tz0 = parse_tz(&sites[0].1)?;
    let today = utc_to_local(tz0, now).date();
    let newest = today + Duration::weeks(DEMO_WEEKS_AHEAD);
    let first = utc_to_local(tz0, oldest).date();
    let range_days = (newest - first).num_days().max(1) as usize;
    // Days spread over the whole calendar (deterministic), weekdays only.
    let sample_day = |k: usize| {
        weekday_on_or_before(first + Duration::days(((k * 7919 + 13) % range_days) as i64))
    };
    let mut figures = Vec::new();
    let mut scalars = Vec::new();
    let l_target = |t: &str| (args.size == DemoSize::L).then(|| format!("{t} (L)"));

    // ---- 1. Calendar --------------------------------------------------
    let calendar = |ws: &mut Workstation, site, span| {
        ws.scheduling().list_appointments(&AppointmentFilter {
            site_id: Some(site),
            span: Some(span),
            include_ended: true,
            ..Default::default()
        })
    };
    // Warm the statement cache and pages as a running app would be.
    for k in 0..n.min(20) {
        let (site, tz) = &sites[k % sites.len()];
        calendar(ws, *site, day_span(tz, sample_day(k + 1_000), 7)?)?;
    }
    let (mut day_ms, mut plan_ms, mut week_ms) = (vec![], vec![], vec![]);
    let (mut day_rows, mut week_rows) = (0usize, 0usize);
    // Patients to book for: those of the calendars loaded.
    let mut patients = Vec::new();
    for k in 0..n {
        let (site, tz) = (sites[k % sites.len()].0, &sites[k % sites.len()].1);
        let day = sample_day(k);
        let span = day_span(tz, day, 1)?;
        let t = Instant::now();
        let rows = calendar(ws, site, span)?;
        day_ms.push(ms_since(t));
        day_rows += rows.len();
        let t = Instant::now();
        let plan = ws.scheduling().day_plan(Some(site), None, day)?;
        plan_ms.push(ms_since(t));
        if plan.rows.len() != rows.len() {
            return Err(ClinicError::internal(format!(
                "day plan of {day}: {} rows, calendar {}",
                plan.rows.len(),
                rows.len()
            )));
        }
        let monday = day - Duration::days(day.weekday().num_days_from_monday() as i64);
        let span = day_span(tz, monday, 7)?;
        let t = Instant::now();
        let rows = calendar(ws, site, span)?;
        week_ms.push(ms_since(t));
        week_rows += rows.len();
        patients.extend(rows.iter().step_by(97).map(|a| a.patient_id));
    }
    let clin_per_site = clinicians.len().div_ceil(sites.len());
    figures.push(figure(
        "calendar: one site's day",
        &format!(
            "list_appointments as the desktop calendar loads it: permission check, indexed range query (site, start), every status, {clin_per_site} clinicians; {n} different weekdays over the whole calendar, {:.0} appointments a day on average",
            day_rows as f64 / n as f64
        ),
        l_target("p99 <= 5 ms").as_deref(),
        day_ms,
    ));
    figures.push(figure(
        "calendar: one site's week",
        &format!(
            "the same for the 7 local days Monday to Sunday around each day above, {:.0} appointments a week on average",
            week_rows as f64 / n as f64
        ),
        l_target("p99 <= 20 ms").as_deref(),
        week_ms,
    ));
    figures.push(figure(
        "calendar: one site's day plan",
        "day_plan of the same days: the day's appointments with clinician, patient (one lookup per row) and room names",
        None,
        plan_ms,
    ));

    // ---- 2. Slot search -------------------------------------------------
    let ahead = (DEMO_WEEKS_AHEAD * 7 - 8).max(1) as usize;
    let (mut slot_ms, mut found) = (vec![], 0usize);
    for k in 0..n {
        let ci = k % clinicians.len();
        let (site, tz) = site_of[ci];
        let from = morning(tz, today + Duration::days(1 + ((k * 13) % ahead) as i64))?;
        let t = Instant::now();
        let slots = ws
            .scheduling()
            .find_slots(clinicians[ci], 30, from, 7, 5, Some(site))?;
        slot_ms.push(ms_since(t));
        found += slots.len();
    }
    figures.push(figure(
        "slot search: next 5 free slots",
        &format!(
            "find_slots: one clinician, 30 minutes, the 7 days from 08:00 of a day in the {DEMO_WEEKS_AHEAD} booked weeks ahead (working time, the clinician's appointments, free-slot scan); {:.1} slots found on average",
            found as f64 / n as f64
        ),
        None,
        slot_ms,
    ));

    // ---- 3. Booking -----------------------------------------------------
    patients.sort();
    patients.dedup();
    if patients.is_empty() {
        return Err(ClinicError::internal("the calendar has no patients"));
    }
    let (mut book_ms, mut refused, mut no_slot) = (vec![], 0usize, 0usize);
    for k in 0..n {
        let ci = (k * 7) % clinicians.len();
        let (site, tz) = site_of[ci];
        let from = morning(tz, today + Duration::days(1 + ((k * 11) % ahead) as i64))?;
        // Untimed: a free time, and a patient free then.
        let slots = ws
            .scheduling()
            .find_slots(clinicians[ci], 15, from, 7, 3, Some(site))?;
        let Some(start) = slots.get(k % slots.len().max(1)).copied() else {
            no_slot += 1;
            continue;
        };
        let mut patient = None;
        for j in 0..50 {
            let p = patients[(k * 7919 + j * 104_729) % patients.len()];
            let busy = ws.scheduling().list_appointments(&AppointmentFilter {
                patient_id: Some(p),
                span: Some(Span::new(start, start + Duration::minutes(15))),
                ..Default::default()
            })?;
            if busy.is_empty() {
                patient = Some(p);
                break;
            }
        }
        let Some(patient) = patient else {
            no_slot += 1;
            continue;
        };
        let req = BookRequest {
            patient,
            clinician: clinicians[ci],
            start,
            minutes: Some(15),
            type_name: Some("Follow-up".into()),
            site: Some(site),
            ..Default::default()
        };
        let t = Instant::now();
        match ws.scheduling().book_appointment(req) {
            Ok(_) => book_ms.push(ms_since(t)),
            Err(e) if e.code == ErrorCode::Conflict => {
                eprintln!("schedule: booking refused: {}", e.message);
                refused += 1;
            }
            Err(e) => return Err(e),
        }
    }
    figures.push(figure(
        "booking: book an appointment",
        "book_appointment into a free 15-minute slot (found by find_slots beforehand, a different time each): checks of patient, clinician, type and overlaps with the clinician's, patient's and room's appointments, then the BookAppointment mutation, outbox entry and audit event in one SQLCipher transaction",
        Some("p99 <= 5 ms"),
        book_ms,
    ));
    scalars.push(scalar(
        "booking: refused although free (should be 0)",
        refused as f64,
        "bookings",
    ));
    scalars.push(scalar(
        "booking: samples skipped (no free 15-minute slot in the week, or no free patient)",
        no_slot as f64,
        "bookings",
    ));
    scalars.push(scalar(
        &format!(
            "demo calendar: local days from the oldest appointment to {DEMO_WEEKS_AHEAD} weeks ahead"
        ),
        range_days as f64,
        "days",
    ));
    Ok(ScheduleResult {
        figures,
        scalars,
        refused,
    })
}
