//! `clinic appointment|slots|dayplan|calendar|availability|waitlist` and the
//! double-booking half of `clinic conflicts`.

use super::Ctx;
use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc, Weekday};
use clap::Subcommand;
use clinic_client::input::{parse_date, parse_time};
use clinic_client::scheduling::{local_label, BookRequest, MoveRequest};
use clinic_client::Workstation;
use clinic_core::scheduling::*;
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::scheduling::AppointmentFilter;
use std::path::PathBuf;
use uuid::Uuid;

fn parse_instant(s: &str) -> ClinicResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ClinicError::field("start", format!("{s} is not a date and time like 2026-11-23T09:30:00Z (RFC 3339, with its offset)")))
}

fn parse_scope(s: &str) -> ClinicResult<SeriesScope> {
    SeriesScope::parse(s).ok_or_else(|| ClinicError::field("scope", "is this, following or all"))
}

fn parse_weekdays(s: &str) -> ClinicResult<Vec<Weekday>> {
    let all = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let day = |d: &str| {
        d.trim()
            .parse::<Weekday>()
            .map_err(|_| ClinicError::field("weekdays", format!("{d} is not a day (mon … sun)")))
    };
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    day(a)?.num_days_from_monday(),
                    day(b)?.num_days_from_monday(),
                );
                if b < a {
                    return Err(ClinicError::field(
                        "weekdays",
                        "a range runs forwards, like mon-fri",
                    ));
                }
                out.extend(&all[a as usize..=b as usize]);
            }
            None => out.push(day(part)?),
        }
    }
    Ok(out)
}

#[derive(Subcommand, Debug)]
pub enum AppointmentCmd {
    /// Book an appointment (refused if it overlaps another or is out of hours, unless --override)
    Book {
        /// Patient number or id
        #[arg(long)]
        patient: String,
        /// The clinician's e-mail
        #[arg(long)]
        clinician: String,
        /// Start, RFC 3339 with offset (e.g. 2026-11-23T09:30:00+00:00)
        #[arg(long)]
        start: String,
        /// Length in minutes (default: the type's)
        #[arg(long)]
        minutes: Option<u32>,
        /// Appointment type by name (default: Consultation)
        #[arg(long = "type")]
        kind: Option<String>,
        /// Room name at the site
        #[arg(long)]
        room: Option<String>,
        /// in-person, virtual or phone
        #[arg(long, default_value = "in-person")]
        mode: String,
        /// Meeting link of a virtual appointment
        #[arg(long)]
        link: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        /// Repeat every N weeks (with --count)
        #[arg(long)]
        every_weeks: Option<u32>,
        /// Number of appointments in the series
        #[arg(long)]
        count: Option<u32>,
        /// Book despite an overlap or outside working hours (audited)
        #[arg(long = "override")]
        override_checks: bool,
    },
    /// Move an appointment (or its series) to a new start
    Move {
        id: Uuid,
        #[arg(long)]
        start: String,
        #[arg(long)]
        minutes: Option<u32>,
        #[arg(long)]
        clinician: Option<String>,
        /// this, following or all (for a series)
        #[arg(long, default_value = "this")]
        scope: String,
        #[arg(long = "override")]
        override_checks: bool,
    },
    /// Cancel an appointment, saying why
    Cancel {
        id: Uuid,
        #[arg(long)]
        reason: String,
        #[arg(long, default_value = "this")]
        scope: String,
    },
    /// Change the status: confirmed, arrived, in_progress, completed, no_show, …
    Status {
        id: Uuid,
        status: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long, default_value = "this")]
        scope: String,
    },
    Show {
        id: Uuid,
    },
    /// Appointments of a day (default today) at this site
    List {
        #[arg(long)]
        date: Option<String>,
        #[arg(long, default_value_t = 1)]
        days: u32,
        #[arg(long)]
        clinician: Option<String>,
        #[arg(long)]
        patient: Option<String>,
        /// Include cancelled and no-show
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum CalendarCmd {
    /// Export a clinician's appointments as iCalendar (RFC 5545)
    Export {
        #[arg(long)]
        clinician: String,
        #[arg(long)]
        out: PathBuf,
        /// Days before today to include
        #[arg(long, default_value_t = 30)]
        days_back: u32,
        /// Days after today to include
        #[arg(long, default_value_t = 365)]
        days_ahead: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum AvailabilityCmd {
    /// Show a clinician's working time at this site
    Show {
        #[arg(long)]
        clinician: String,
    },
    /// Set weekly working hours for some days (replacing those days' hours)
    Hours {
        #[arg(long)]
        clinician: String,
        /// e.g. mon-fri or mon,wed,fri
        #[arg(long)]
        weekdays: String,
        /// Start, e.g. 09:00 (several periods: run again with --add)
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Add this period to the days' hours instead of replacing them
        #[arg(long)]
        add: bool,
        #[arg(long)]
        valid_from: Option<String>,
        #[arg(long)]
        valid_until: Option<String>,
    },
    /// Leave or blocked time, local times like 2026-12-24T13:00
    Block {
        #[arg(long)]
        clinician: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// leave or blocked
        #[arg(long, default_value = "leave")]
        kind: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// A dated shift: regular, on-call, overtime or absent
    Shift {
        #[arg(long)]
        clinician: String,
        #[arg(long)]
        date: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "overtime")]
        kind: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum WaitlistCmd {
    Add {
        #[arg(long)]
        patient: String,
        #[arg(long)]
        clinician: Option<String>,
        #[arg(long)]
        earliest: Option<String>,
        #[arg(long)]
        latest: Option<String>,
        #[arg(long)]
        notes: Option<String>,
    },
    List,
    /// Take an entry off the list (with --appointment when it was booked)
    Remove {
        id: Uuid,
        #[arg(long)]
        appointment: Option<Uuid>,
    },
}

fn appointment_line(ws: &Workstation, a: &Appointment) -> String {
    let tz = a.tz();
    let (patient, clinician) = ws.appointment_labels(a);
    let mut line = format!(
        "{}  {}–{}  {:<11} {}  with {}  {}",
        a.id,
        local_label(tz, a.start),
        utc_to_local(tz, a.end()).format("%H:%M"),
        a.status.as_str(),
        a.type_name,
        clinician,
        patient
    );
    if let Some(c) = &a.conflict {
        line.push_str(&format!("  DOUBLE BOOKED: {}", c.reason));
    }
    line
}

fn print_appointments(ctx: &Ctx, ws: &Workstation, list: &[Appointment]) {
    if list.len() == 1 {
        ctx.print(&list[0], |a| appointment_line(ws, a));
    } else {
        ctx.print(&list, |l| {
            if l.is_empty() {
                "No appointments.".into()
            } else {
                l.iter()
                    .map(|a| appointment_line(ws, a))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        });
    }
}

pub fn appointment(ctx: &Ctx, cmd: AppointmentCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match cmd {
        AppointmentCmd::Book {
            patient,
            clinician,
            start,
            minutes,
            kind,
            room,
            mode,
            link,
            notes,
            every_weeks,
            count,
            override_checks,
        } => {
            let patient = ws.patients().resolve(&patient)?;
            let clinician = ws.scheduling().clinician_by_email(&clinician)?.id;
            let site = ws.scheduling().home_site()?;
            let room = match room {
                None => None,
                Some(name) => Some(
                    ws.scheduling()
                        .site_rooms(site.id)?
                        .into_iter()
                        .find(|r| r.1.eq_ignore_ascii_case(name.trim()))
                        .map(|r| r.0)
                        .ok_or_else(|| {
                            ClinicError::field(
                                "room",
                                format!("{name} is not a room of {}", site.name),
                            )
                        })?,
                ),
            };
            let repeat = match (every_weeks, count) {
                (None, None) => None,
                (w, c) => Some(Recurrence::Weeks {
                    interval: w.unwrap_or(1),
                    count: c.unwrap_or(1),
                }),
            };
            let booked = ws.scheduling().book_appointment(BookRequest {
                patient,
                clinician,
                start: parse_instant(&start)?,
                minutes,
                type_name: kind,
                room,
                site: None,
                mode: AppointmentMode::parse(&mode)
                    .ok_or_else(|| ClinicError::field("mode", "is in-person, virtual or phone"))?,
                meeting_link: link,
                notes,
                override_checks,
                repeat,
            })?;
            print_appointments(ctx, &ws, &booked);
        }
        AppointmentCmd::Move {
            id,
            start,
            minutes,
            clinician,
            scope,
            override_checks,
        } => {
            let clinician = clinician
                .map(|c| ws.scheduling().clinician_by_email(&c))
                .transpose()?
                .map(|u| u.id);
            let moved = ws.scheduling().move_appointment(
                id,
                MoveRequest {
                    start: parse_instant(&start)?,
                    minutes,
                    clinician,
                    room: None,
                    override_checks,
                    scope: parse_scope(&scope)?,
                },
            )?;
            print_appointments(ctx, &ws, &moved);
        }
        AppointmentCmd::Cancel { id, reason, scope } => {
            let done = ws.scheduling().set_appointment_status(
                id,
                AppointmentStatus::Cancelled,
                Some(reason),
                parse_scope(&scope)?,
            )?;
            print_appointments(ctx, &ws, &done);
        }
        AppointmentCmd::Status {
            id,
            status,
            reason,
            scope,
        } => {
            let to = AppointmentStatus::parse(&status).ok_or_else(|| {
                ClinicError::field("status", "is scheduled, confirmed, arrived, in_progress, completed, cancelled, no_show or rescheduled")
            })?;
            let done =
                ws.scheduling()
                    .set_appointment_status(id, to, reason, parse_scope(&scope)?)?;
            print_appointments(ctx, &ws, &done);
        }
        AppointmentCmd::Show { id } => {
            let a = ws.scheduling().show_appointment(id)?;
            let line = appointment_line(&ws, &a);
            ctx.print_record(&mut ws, a.id, &a, |_| line)?;
        }
        AppointmentCmd::List {
            date,
            days,
            clinician,
            patient,
            all,
        } => {
            let site = ws.scheduling().home_site()?;
            let tz = parse_tz(&site.timezone)?;
            let first = match date {
                Some(d) => parse_date("date", &d)?,
                None => utc_to_local(tz, ws.now()).date(),
            };
            let span = Span::new(
                local_to_utc(tz, first.and_time(NaiveTime::MIN)),
                local_to_utc(
                    tz,
                    (first + Duration::days(days.clamp(1, 366) as i64)).and_time(NaiveTime::MIN),
                ),
            );
            let clinician_id = clinician
                .map(|c| ws.scheduling().clinician_by_email(&c))
                .transpose()?
                .map(|u| u.id);
            let patient_id = patient.map(|p| ws.patients().resolve(&p)).transpose()?;
            let list = ws.scheduling().list_appointments(&AppointmentFilter {
                site_id: Some(site.id),
                clinician_id,
                patient_id,
                span: Some(span),
                include_ended: all,
                ..Default::default()
            })?;
            ctx.print(&list, |l| {
                if l.is_empty() {
                    "No appointments.".into()
                } else {
                    l.iter()
                        .map(|a| appointment_line(&ws, a))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
        }
    }
    Ok(())
}

pub fn slots(
    ctx: &Ctx,
    clinician: &str,
    minutes: u32,
    from: Option<String>,
    days: u32,
    count: usize,
) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let c = ws.scheduling().clinician_by_email(clinician)?;
    let from = match from {
        Some(f) => parse_instant(&f)?,
        None => ws.now(),
    };
    let found = ws
        .scheduling()
        .find_slots(c.id, minutes, from, days, count, None)?;
    let tz = parse_tz(&ws.scheduling().home_site()?.timezone)?;
    ctx.print(&found, |l| {
        if l.is_empty() {
            format!(
                "No free {minutes}-minute slot for {} in the next {days} day(s).",
                c.name
            )
        } else {
            let mut out = format!("Next free {minutes}-minute slots for {}:", c.name);
            for t in l {
                out.push_str(&format!(
                    "\n  {}  ({})",
                    local_label(tz, *t),
                    t.to_rfc3339()
                ));
            }
            out
        }
    });
    Ok(())
}

pub fn dayplan(
    ctx: &Ctx,
    date: Option<String>,
    clinician: Option<String>,
    pdf: Option<PathBuf>,
) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let site = ws.scheduling().home_site()?;
    let tz = parse_tz(&site.timezone)?;
    let date = match date {
        Some(d) => parse_date("date", &d)?,
        None => utc_to_local(tz, ws.now()).date(),
    };
    let clinician = clinician
        .map(|c| ws.scheduling().clinician_by_email(&c))
        .transpose()?
        .map(|u| u.id);
    let plan = ws.scheduling().day_plan(None, clinician, date)?;
    let title = match &plan.clinician {
        Some(c) => format!("Day sheet: {c}"),
        None => "Day sheet".into(),
    };
    let subtitle = format!("{}, {}", plan.site, plan.date.format("%A %d %B %Y"));
    if let Some(path) = pdf {
        let sheet = clinic_print::DaySheet {
            letterhead: clinic_print::Letterhead {
                name: plan.site.clone(),
                ..Default::default()
            },
            title: title.clone(),
            subtitle: subtitle.clone(),
            detail_heading: if plan.clinician.is_some() {
                "Type"
            } else {
                "Clinician"
            }
            .into(),
            rows: plan
                .rows
                .iter()
                .map(|r| clinic_print::DaySheetRow {
                    time: format!("{}–{}", r.local_start, r.local_end),
                    patient: r.patient.clone(),
                    patient_number: r.patient_number.clone(),
                    detail: if plan.clinician.is_some() {
                        r.appointment_type.clone()
                    } else {
                        r.clinician.clone()
                    },
                    room: r.room.clone().unwrap_or_default(),
                    status: match &r.conflict {
                        Some(_) => "DOUBLE BOOKED".into(),
                        None => r.status.as_str().replace('_', " "),
                    },
                    attention: r.conflict.is_some(),
                })
                .collect(),
            footer: format!(
                "Printed {} by {}",
                local_label(tz, ws.now()),
                ws.session().map(|s| s.name.clone()).unwrap_or_default()
            ),
        };
        let bytes = clinic_print::render(&sheet, clinic_print::Paper::A4)
            .map_err(|e| ClinicError::internal(e.to_string()))?;
        clinic_print::write_pdf(&path, &bytes)
            .map_err(|e| ClinicError::internal(format!("writing {}: {e}", path.display())))?;
    }
    ctx.print(&plan, |p| {
        let mut out = format!("{title} — {subtitle}");
        if p.rows.is_empty() {
            out.push_str("\nNo appointments.");
        }
        for r in &p.rows {
            out.push_str(&format!(
                "\n{}–{}  {:<28} {:<9} {:<24} {:<8} {}{}",
                r.local_start,
                r.local_end,
                r.patient,
                r.patient_number,
                if p.clinician.is_some() {
                    &r.appointment_type
                } else {
                    &r.clinician
                },
                r.room.clone().unwrap_or_default(),
                r.status.as_str().replace('_', " "),
                r.conflict
                    .as_ref()
                    .map(|c| format!("  DOUBLE BOOKED: {c}"))
                    .unwrap_or_default()
            ));
        }
        out
    });
    Ok(())
}

pub fn calendar(ctx: &Ctx, cmd: CalendarCmd) -> ClinicResult<()> {
    let CalendarCmd::Export {
        clinician,
        out,
        days_back,
        days_ahead,
    } = cmd;
    let mut ws = ctx.signed_in()?;
    let c = ws.scheduling().clinician_by_email(&clinician)?;
    let now = ws.now();
    let span = Span::new(
        now - Duration::days(days_back as i64),
        now + Duration::days(days_ahead as i64),
    );
    let (text, n) = ws.scheduling().export_calendar(c.id, span)?;
    // Patients' names and times: readable by this user only, as printouts.
    clinic_print::write_private(&out, text.as_bytes())
        .map_err(|e| ClinicError::internal(format!("writing {}: {e}", out.display())))?;
    ctx.print(&serde_json::json!({"events": n, "out": out}), |_| {
        format!(
            "Wrote {n} appointment(s) of {} to {}.",
            c.name,
            out.display()
        )
    });
    Ok(())
}

pub fn availability(ctx: &Ctx, cmd: AvailabilityCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let show = |s: &ClinicianSchedule| {
        let mut out = format!(
            "Working time at this site ({}), from {}",
            s.timezone, s.valid_from
        );
        if let Some(u) = s.valid_until {
            out.push_str(&format!(" until {u}"));
        }
        for h in &s.hours {
            out.push_str(&format!(
                "\n  {}  {}–{}",
                h.weekday,
                h.start.format("%H:%M"),
                h.end.format("%H:%M")
            ));
        }
        for x in &s.exceptions {
            out.push_str(&format!(
                "\n  {:?} {} – {} {}",
                x.kind,
                x.start,
                x.end,
                x.reason.clone().unwrap_or_default()
            ));
        }
        for sh in &s.shifts {
            out.push_str(&format!(
                "\n  {:?} shift {} {}–{}",
                sh.kind,
                sh.date,
                sh.start.format("%H:%M"),
                sh.end.format("%H:%M")
            ));
        }
        out
    };
    let sched = match cmd {
        AvailabilityCmd::Show { clinician } => {
            let c = ws.scheduling().clinician_by_email(&clinician)?;
            let site = ws.scheduling().home_site()?;
            match ws.scheduling().clinician_schedule(c.id, site.id)? {
                Some(s) => s,
                None => {
                    ctx.print(&serde_json::Value::Null, |_| {
                        format!(
                            "No working hours set for {} here (bookings are not limited by hours).",
                            c.name
                        )
                    });
                    return Ok(());
                }
            }
        }
        AvailabilityCmd::Hours {
            clinician,
            weekdays,
            from,
            to,
            add,
            valid_from,
            valid_until,
        } => {
            let c = ws.scheduling().clinician_by_email(&clinician)?;
            let days = parse_weekdays(&weekdays)?;
            let (start, end) = (parse_time("from", &from)?, parse_time("to", &to)?);
            let valid_from = valid_from
                .map(|d| parse_date("valid_from", &d))
                .transpose()?;
            let valid_until = valid_until
                .map(|d| parse_date("valid_until", &d))
                .transpose()?;
            ws.scheduling().edit_schedule(c.id, None, |s| {
                if !add {
                    s.hours.retain(|h| !days.contains(&h.weekday));
                }
                for d in &days {
                    s.hours.push(WeeklyHours {
                        weekday: *d,
                        start,
                        end,
                    });
                }
                s.hours
                    .sort_by_key(|h| (h.weekday.num_days_from_monday(), h.start));
                if let Some(f) = valid_from {
                    s.valid_from = f;
                }
                if valid_until.is_some() {
                    s.valid_until = valid_until;
                }
            })?
        }
        AvailabilityCmd::Block {
            clinician,
            from,
            to,
            kind,
            reason,
        } => {
            let c = ws.scheduling().clinician_by_email(&clinician)?;
            let local = |f: &str, v: &str| {
                NaiveDateTime::parse_from_str(v.trim(), "%Y-%m-%dT%H:%M").map_err(|_| {
                    ClinicError::field(f, format!("{v} is not a local time like 2026-12-24T13:00"))
                })
            };
            let (start, end) = (local("from", &from)?, local("to", &to)?);
            let kind = match kind.as_str() {
                "leave" => ExceptionKind::Leave,
                "blocked" => ExceptionKind::Blocked,
                _ => return Err(ClinicError::field("kind", "is leave or blocked")),
            };
            let id = clinic_store::new_uuid_v7(ws.now());
            ws.scheduling().edit_schedule(c.id, None, |s| {
                s.exceptions.push(ScheduleException {
                    id,
                    kind,
                    start,
                    end,
                    reason,
                })
            })?
        }
        AvailabilityCmd::Shift {
            clinician,
            date,
            from,
            to,
            kind,
        } => {
            let c = ws.scheduling().clinician_by_email(&clinician)?;
            let kind = match kind.replace('-', "_").as_str() {
                "regular" => ShiftKind::Regular,
                "on_call" => ShiftKind::OnCall,
                "overtime" => ShiftKind::Overtime,
                "absent" => ShiftKind::Absent,
                _ => {
                    return Err(ClinicError::field(
                        "kind",
                        "is regular, on-call, overtime or absent",
                    ))
                }
            };
            let (date, start, end) = (
                parse_date("date", &date)?,
                parse_time("from", &from)?,
                parse_time("to", &to)?,
            );
            let id = clinic_store::new_uuid_v7(ws.now());
            ws.scheduling().edit_schedule(c.id, None, |s| {
                s.shifts.push(Shift {
                    id,
                    kind,
                    date,
                    start,
                    end,
                })
            })?
        }
    };
    ctx.print(&sched, show);
    Ok(())
}

pub fn waitlist(ctx: &Ctx, cmd: WaitlistCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match cmd {
        WaitlistCmd::Add {
            patient,
            clinician,
            earliest,
            latest,
            notes,
        } => {
            let patient_id = ws.patients().resolve(&patient)?;
            let clinician_id = clinician
                .map(|c| ws.scheduling().clinician_by_email(&c))
                .transpose()?
                .map(|u| u.id);
            let site = ws.scheduling().home_site()?;
            let today = ws.now().date_naive();
            let created_at = ws.now();
            let e = ws.scheduling().add_to_waitlist(WaitlistEntry {
                id: Uuid::nil(),
                site_id: site.id,
                patient_id,
                clinician_id,
                type_id: None,
                earliest: earliest
                    .map(|d| parse_date("earliest", &d))
                    .transpose()?
                    .unwrap_or(today),
                latest: latest.map(|d| parse_date("latest", &d)).transpose()?,
                notes,
                status: "waiting".into(),
                appointment_id: None,
                created_at,
            })?;
            ctx.print(&e, |e| format!("Added to the waitlist ({}).", e.id));
        }
        WaitlistCmd::List => {
            let list = ws.scheduling().waitlist()?;
            ctx.print(&list, |l| {
                if l.is_empty() {
                    return "Nobody is waiting.".into();
                }
                l.iter()
                    .map(|w| {
                        format!(
                            "{}  from {}  {}",
                            w.id,
                            w.earliest,
                            w.notes.clone().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        WaitlistCmd::Remove { id, appointment } => {
            let w = ws.scheduling().close_waitlist_entry(id, appointment)?;
            ctx.print(&w, |w| {
                format!("Waitlist entry {} is now {}.", w.id, w.status)
            });
        }
    }
    Ok(())
}

/// The double bookings in `clinic conflicts list`, as JSON objects.
pub fn booking_conflicts_json(ws: &mut Workstation) -> ClinicResult<Vec<serde_json::Value>> {
    Ok(ws
        .scheduling()
        .booking_conflicts()?
        .into_iter()
        .map(|c| {
            let mut v = serde_json::to_value(&c).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("kind".into(), "double_booking".into());
                o.insert("id".into(), serde_json::json!(c.appointment.id));
            }
            v
        })
        .collect())
}

pub fn booking_conflict_lines(ws: &mut Workstation) -> ClinicResult<Vec<String>> {
    Ok(ws
        .scheduling()
        .booking_conflicts()?
        .into_iter()
        .map(|c| {
            format!(
                "{}  double booking: {} with {} at {} — {}. Resolve with --accept, --cancel REASON or --move START.",
                c.appointment.id, c.patient, c.clinician, c.local_time, c.reason
            )
        })
        .collect())
}

/// `clinic conflicts resolve APPOINTMENT_ID --accept|--cancel R|--move START`.
pub fn resolve_booking(
    ctx: &Ctx,
    ws: &mut Workstation,
    id: Uuid,
    accept: bool,
    cancel: Option<String>,
    move_to: Option<String>,
) -> ClinicResult<()> {
    let resolution =
        match (accept, cancel, move_to) {
            (true, None, None) => Resolution::AcceptDoubleBooking,
            (false, Some(reason), None) => Resolution::Cancel { reason },
            (false, None, Some(start)) => {
                let a = ws.scheduling().show_appointment(id)?;
                Resolution::Move {
                    start: parse_instant(&start)?,
                    minutes: a.minutes,
                    clinician_id: a.clinician_id,
                    room_id: a.room_id,
                }
            }
            _ => return Err(ClinicError::field(
                "resolution",
                "say how to resolve it: exactly one of --accept, --cancel REASON or --move START",
            )),
        };
    let a = ws.scheduling().resolve_booking_conflict(id, resolution)?;
    ctx.print(&a, |a| format!("Resolved. {}", appointment_line(ws, a)));
    Ok(())
}
