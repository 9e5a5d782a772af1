//! Scheduling use-cases: book, move, change status, resolve double
//! bookings, find free slots, the day plan, working time, appointment
//! types and the waitlist. The rules live in `clinic_core::scheduling`; here
//! they are checked against the local store, committed as mutations with
//! their audit events, and refused with words a receptionist understands.

pub mod ical;
pub mod setup;

use crate::workstation::{new_id, Session, Workstation};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use clinic_core::audit::AuditEntry;
use clinic_core::permissions::{Action, BuiltinRole, Module};
use clinic_core::scheduling::*;
use clinic_core::sync::{Mutation, RecordKind, SaveDocument};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::directory::{Site, User};
use clinic_store::scheduling::AppointmentFilter;
use clinic_store::Db;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// Working hours assumed for a clinician without a schedule at a site
/// (slot search only; booking is not limited by hours nobody set).
const DEFAULT_DAY: (u32, u32) = (9, 17);
/// Free-slot marks, in minutes past the start of a working period.
pub const SLOT_STEP: u32 = 15;

#[derive(Debug, Clone, Default)]
pub struct BookRequest {
    pub patient: Uuid,
    pub clinician: Uuid,
    pub start: DateTime<Utc>,
    /// Defaults to the type's length.
    pub minutes: Option<u32>,
    /// An appointment type by name ("Consultation" when not given).
    pub type_name: Option<String>,
    pub room: Option<Uuid>,
    /// Defaults to this workstation's site.
    pub site: Option<Uuid>,
    pub mode: AppointmentMode,
    pub meeting_link: Option<String>,
    pub notes: Option<String>,
    /// Book despite an overlap or outside working hours (audited).
    pub override_checks: bool,
    pub repeat: Option<Recurrence>,
}

#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub start: DateTime<Utc>,
    pub minutes: Option<u32>,
    pub clinician: Option<Uuid>,
    /// `Some(None)` takes the appointment out of its room.
    pub room: Option<Option<Uuid>>,
    pub override_checks: bool,
    pub scope: SeriesScope,
}

/// One line of a day plan, in the site's wall-clock time.
#[derive(Debug, Clone, Serialize)]
pub struct DayPlanRow {
    pub appointment_id: Uuid,
    pub start: DateTime<Utc>,
    pub local_start: String,
    pub local_end: String,
    pub clinician: String,
    pub patient: String,
    pub patient_number: String,
    pub appointment_type: String,
    pub room: Option<String>,
    pub status: AppointmentStatus,
    pub mode: AppointmentMode,
    pub conflict: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayPlan {
    pub site: String,
    pub timezone: String,
    pub date: NaiveDate,
    pub clinician: Option<String>,
    pub rows: Vec<DayPlanRow>,
}

/// A double booking waiting in the inbox, with what a person needs to decide.
#[derive(Debug, Clone, Serialize)]
pub struct BookingConflictView {
    pub appointment: Appointment,
    pub patient: String,
    pub clinician: String,
    pub local_time: String,
    pub overlaps: Vec<Appointment>,
    pub reason: String,
}

/// "Mon 23 Nov 09:00" in `tz`.
pub fn local_label(tz: chrono_tz::Tz, t: DateTime<Utc>) -> String {
    utc_to_local(tz, t).format("%a %d %b %H:%M").to_string()
}

fn clinician_of(db: &Db, id: Uuid) -> ClinicResult<User> {
    let u = db
        .user(id)?
        .ok_or_else(|| ClinicError::field("clinician", "is not a member of staff here"))?;
    if u.status != "active" {
        return Err(ClinicError::field(
            "clinician",
            format!("{} is disabled", u.name),
        ));
    }
    if !u.roles.iter().any(|r| r == BuiltinRole::Clinician.key()) {
        return Err(ClinicError::field(
            "clinician",
            format!("{} is not a clinician", u.name),
        ));
    }
    Ok(u)
}

/// The workstation's own site (where it was enrolled), else the first.
pub fn home_site(db: &Db) -> ClinicResult<Site> {
    let sites = db.sites()?;
    let enrolled = db.meta("site_id")?.and_then(|s| Uuid::parse_str(&s).ok());
    enrolled
        .and_then(|id| sites.iter().find(|s| s.id == id).cloned())
        .or_else(|| sites.into_iter().next())
        .ok_or_else(|| ClinicError::not_found("Site"))
}

/// The clinic's appointment types in use (the built-in ones until it sets its own).
pub fn appointment_types(db: &Db) -> ClinicResult<Vec<AppointmentType>> {
    let mut types: Vec<AppointmentType> = db
        .documents::<AppointmentType>()?
        .into_iter()
        .filter(|t| !t.archived)
        .collect();
    if types.is_empty() {
        // Stable ids, so that every workstation's built-ins are the same.
        let mut n = 0u128;
        types = default_types(|| {
            n += 1;
            Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0000 | n)
        });
    }
    types.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(types)
}

/// How a person reads an appointment: the patient (with their number)
/// and the clinician.
pub fn appointment_labels(db: &Db, a: &Appointment) -> (String, String) {
    let patient = db
        .patient(a.patient_id)
        .ok()
        .flatten()
        .map(|p| {
            format!(
                "{} {} ({})",
                p.details.first_name, p.details.last_name, p.patient_number
            )
        })
        .unwrap_or_else(|| "(patient not on this workstation yet)".into());
    let clinician = db
        .user(a.clinician_id)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    (patient, clinician)
}

/// The scheduling use-cases of a workstation: `ws.scheduling()`.
#[derive(Debug)]
pub struct Scheduling<'w> {
    pub(crate) ws: &'w mut Workstation,
}

impl Workstation {
    pub fn scheduling(&mut self) -> Scheduling<'_> {
        Scheduling { ws: self }
    }
}

impl Scheduling<'_> {
    /// This workstation's site (the enrolled one, else the first).
    pub fn home_site(&self) -> ClinicResult<Site> {
        home_site(&self.ws.store()?.db())
    }

    fn site_or_home(&self, site: Option<Uuid>) -> ClinicResult<Site> {
        match site {
            None => self.home_site(),
            Some(id) => self
                .ws
                .store()?
                .db()
                .sites()?
                .into_iter()
                .find(|s| s.id == id)
                .ok_or_else(|| ClinicError::field("site", "does not exist")),
        }
    }

    /// A clinician by e-mail (the CLI's and scripts' way of naming staff).
    pub fn clinician_by_email(&self, email: &str) -> ClinicResult<User> {
        let db = self.ws.store()?.db();
        let email = email.trim().to_lowercase();
        let id = db.credentials(&email)?.map(|c| c.user_id).ok_or_else(|| {
            ClinicError::field(
                "clinician",
                format!("no member of staff has the e-mail {email}"),
            )
        })?;
        clinician_of(&db, id)
    }

    pub fn clinicians(&mut self) -> ClinicResult<Vec<User>> {
        self.ws.act(Module::Appointments, Action::View)?;
        Ok(self
            .ws
            .store()?
            .db()
            .users()?
            .into_iter()
            .filter(|u| u.status == "active" && u.roles.iter().any(|r| r == "clinician"))
            .collect())
    }

    /// Appointment types (the built-in ones until the clinic adds its own).
    pub fn appointment_types(&self) -> ClinicResult<Vec<AppointmentType>> {
        appointment_types(&self.ws.store()?.db())
    }

    /// Creates or changes an appointment type (managers).
    pub fn save_appointment_type(&mut self, t: AppointmentType) -> ClinicResult<AppointmentType> {
        let (s, now) = self.ws.act(Module::Admin, Action::Edit)?;
        t.validate()?;
        self.save_document(&s, now, t.clone(), "appointment_type.save")?;
        Ok(t)
    }

    fn save_document<T: RecordKind>(
        &mut self,
        s: &Session,
        now: DateTime<Utc>,
        doc: T,
        action: &'static str,
    ) -> ClinicResult<()> {
        let id = doc.id();
        let kind = T::KIND;
        self.ws.store_mut()?.write(|db| {
            let c =
                db.commit_mutation(Some(s.user_id), now, &Mutation::new(SaveDocument::new(doc)))?;
            db.append_audit(
                new_id(now),
                Some(s.user_id),
                now,
                c.named(AuditEntry {
                    action,
                    entity_type: kind,
                    entity_id: Some(id),
                    patient_id: None,
                    details: json!({}),
                }),
            )?;
            Ok(())
        })
    }

    // ---- working time ----

    /// The schedule of a clinician at a site, if one was set.
    pub fn clinician_schedule(
        &self,
        clinician: Uuid,
        site: Uuid,
    ) -> ClinicResult<Option<ClinicianSchedule>> {
        Ok(self
            .ws
            .store()?
            .db()
            .documents::<ClinicianSchedule>()?
            .into_iter()
            .find(|s| s.clinician_id == clinician && s.site_id == site))
    }

    /// Changes a clinician's working time at a site with `edit` (managers).
    pub fn edit_schedule(
        &mut self,
        clinician: Uuid,
        site: Option<Uuid>,
        edit: impl FnOnce(&mut ClinicianSchedule),
    ) -> ClinicResult<ClinicianSchedule> {
        let (s, now) = self.ws.act(Module::Admin, Action::Edit)?;
        clinician_of(&self.ws.store()?.db(), clinician)?;
        let site = self.site_or_home(site)?;
        let mut sched = self
            .clinician_schedule(clinician, site.id)?
            .unwrap_or(ClinicianSchedule {
                id: new_id(now),
                clinician_id: clinician,
                site_id: site.id,
                timezone: site.timezone.clone(),
                valid_from: now.date_naive(),
                valid_until: None,
                hours: vec![],
                exceptions: vec![],
                shifts: vec![],
                updated_at: now,
            });
        edit(&mut sched);
        sched.updated_at = now;
        sched.validate()?;
        self.save_document(&s, now, sched.clone(), "schedule.save")?;
        Ok(sched)
    }

    /// Working time of a clinician at a site over local dates (the default
    /// day when no schedule was set, for slot search).
    fn working_spans(
        &self,
        clinician: Uuid,
        site: &Site,
        from: NaiveDate,
        to: NaiveDate,
    ) -> ClinicResult<(Vec<Span>, bool)> {
        if let Some(s) = self.clinician_schedule(clinician, site.id)? {
            return Ok((s.working_spans(from, to), true));
        }
        let tz = parse_tz(&site.timezone)?;
        let mut out = Vec::new();
        let mut d = from;
        while d <= to {
            use chrono::Datelike;
            if d.weekday().number_from_monday() <= 5 {
                let t = |h| d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default());
                out.push(Span::new(
                    local_to_utc(tz, t(DEFAULT_DAY.0)),
                    local_to_utc(tz, t(DEFAULT_DAY.1)),
                ));
            }
            d += Duration::days(1);
        }
        Ok((out, false))
    }

    /// The next `n` free starts for a clinician from `from` within `days`.
    pub fn find_slots(
        &mut self,
        clinician: Uuid,
        minutes: u32,
        from: DateTime<Utc>,
        days: u32,
        n: usize,
        site: Option<Uuid>,
    ) -> ClinicResult<Vec<DateTime<Utc>>> {
        self.ws.act(Module::Appointments, Action::View)?;
        clinician_of(&self.ws.store()?.db(), clinician)?;
        let site = self.site_or_home(site)?;
        self.slots_for(clinician, &site, minutes, 0, 0, from, days, n)
    }

    #[allow(clippy::too_many_arguments)]
    fn slots_for(
        &self,
        clinician: Uuid,
        site: &Site,
        minutes: u32,
        before: u32,
        after: u32,
        from: DateTime<Utc>,
        days: u32,
        n: usize,
    ) -> ClinicResult<Vec<DateTime<Utc>>> {
        if !(5..=MAX_MINUTES).contains(&minutes) {
            return Err(ClinicError::field(
                "minutes",
                format!("must be between 5 and {MAX_MINUTES}"),
            ));
        }
        let tz = parse_tz(&site.timezone)?;
        let first = utc_to_local(tz, from).date();
        let last = first + Duration::days(days.clamp(1, 92) as i64 - 1);
        let (working, _) = self.working_spans(clinician, site, first, last)?;
        let Some(range) = working
            .first()
            .zip(working.last())
            .map(|(a, b)| Span::new(a.start, b.end))
        else {
            return Ok(vec![]);
        };
        let busy: Vec<Span> = self
            .ws
            .store()?
            .db()
            .appointments(&AppointmentFilter {
                clinician_id: Some(clinician),
                span: Some(range),
                ..Default::default()
            })?
            .iter()
            .map(Appointment::occupied)
            .collect();
        Ok(free_slots(
            &working, &busy, from, minutes, before, after, SLOT_STEP, n,
        ))
    }

    // ---- booking ----

    /// Books an appointment (or a recurring series): refused when it
    /// overlaps another or falls outside working hours, unless overridden
    /// (the override is audited). Offers the next free slots when refused.
    pub fn book_appointment(&mut self, req: BookRequest) -> ClinicResult<Vec<Appointment>> {
        let (s, now) = self.ws.act(Module::Appointments, Action::Create)?;
        let db = self.ws.store()?.db();
        let patient = db
            .patient(req.patient)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        if patient.archived_at.is_some() {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                format!(
                    "Patient {} is archived; restore the record before booking.",
                    patient.patient_number
                ),
            ));
        }
        let clinician = clinician_of(&db, req.clinician)?;
        let site = self.site_or_home(req.site)?;
        let tz = parse_tz(&site.timezone)?;
        let type_name = req
            .type_name
            .clone()
            .unwrap_or_else(|| "Consultation".into());
        let kind = self
            .appointment_types()?
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(type_name.trim()))
            .ok_or_else(|| {
                ClinicError::field(
                    "type",
                    format!("{type_name} is not an appointment type here"),
                )
            })?;
        if let Some(room) = req.room {
            let known = db.rooms_of(site.id)?.iter().any(|r| r.0 == room);
            if !known {
                return Err(ClinicError::field("room", "is not a room of this site"));
            }
        }
        let minutes = req.minutes.unwrap_or(kind.default_minutes);
        let starts = match req.repeat {
            Some(r) => r.starts(tz, req.start)?,
            None => vec![req.start],
        };
        let series_id = req.repeat.map(|_| new_id(now));
        let mut planned: Vec<(Appointment, bool, bool)> = Vec::new();
        for (i, start) in starts.iter().enumerate() {
            let a = Appointment {
                id: new_id(now),
                tenant_id: db.tenant_id,
                site_id: site.id,
                patient_id: patient.id,
                clinician_id: clinician.id,
                room_id: req.room,
                type_id: Some(kind.id),
                type_name: kind.name.clone(),
                start: *start,
                minutes,
                buffer_before: kind.buffer_before,
                buffer_after: kind.buffer_after,
                timezone: site.timezone.clone(),
                mode: req.mode,
                meeting_link: req.meeting_link.clone().filter(|l| !l.trim().is_empty()),
                notes: req.notes.clone().filter(|n| !n.trim().is_empty()),
                status: AppointmentStatus::Scheduled,
                status_reason: None,
                series: series_id.map(|id| SeriesRef {
                    id,
                    index: i as u32,
                    rule: req.repeat.unwrap_or(Recurrence::Days {
                        interval: 1,
                        count: 1,
                    }),
                }),
                double_booking_accepted: false,
                outside_hours_accepted: false,
                conflict: None,
                booked_by: Some(s.user_id),
                created_at: now,
                updated_at: now,
            };
            a.validate()?;
            let earlier: Vec<Appointment> = planned.iter().map(|p| p.0.clone()).collect();
            let (clashes, outside) =
                self.check_slot_with(&a, &clinician, &site, &earlier, req.override_checks, &[])?;
            planned.push((a, clashes, outside));
        }
        let mut out = Vec::new();
        self.ws.store_mut()?.write(|db| {
            for (mut a, clashes, outside) in planned {
                a.outside_hours_accepted = outside;
                let m = Mutation::new(BookAppointment {
                    appointment: a.clone(),
                    override_overlap: clashes,
                });
                let c = db.commit_mutation(Some(s.user_id), now, &m)?;
                let booked = c.after::<Appointment>(a.id)?;
                db.append_audit(
                    new_id(now),
                    Some(s.user_id),
                    now,
                    c.named(AuditEntry {
                        action: "appointment.book",
                        entity_type: "appointment",
                        entity_id: Some(a.id),
                        patient_id: Some(a.patient_id),
                        details: json!({
                            "start": a.start, "minutes": a.minutes, "clinician": a.clinician_id,
                            "override_overlap": clashes, "override_hours": outside,
                        }),
                    }),
                )?;
                out.push(booked);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Checks a planned appointment against the local calendar (`also`:
    /// more planned ones; `ignore`: ones being moved with it): returns
    /// (overlaps, outside hours) when the person overrode them, and a
    /// refusal naming the problem and the next free slots when not.
    fn check_slot_with(
        &self,
        a: &Appointment,
        clinician: &User,
        site: &Site,
        also: &[Appointment],
        override_checks: bool,
        ignore: &[Uuid],
    ) -> ClinicResult<(bool, bool)> {
        let tz = parse_tz(&site.timezone)?;
        let db = self.ws.store()?.db();
        let mut others = db.overlap_candidates(&OverlapProbe::for_appointment(a))?;
        others.extend(also.iter().cloned());
        others.retain(|o| !ignore.contains(&o.id));
        let clashes = find_clashes(a, others.iter());
        let day = utc_to_local(tz, a.start).date();
        let (working, has_schedule) = self.working_spans(a.clinician_id, site, day, day)?;
        let outside = has_schedule && !working.iter().any(|w| w.contains(&a.span()));
        if override_checks || (clashes.is_empty() && !outside) {
            return Ok((!clashes.is_empty(), outside));
        }
        let when = format!(
            "{}–{}",
            local_label(tz, a.start),
            utc_to_local(tz, a.end()).format("%H:%M")
        );
        let mut problem = if !clashes.is_empty() {
            format!(
                "{} at {when}",
                clash_message(&clashes).replacen("The clinician", &clinician.name, 1)
            )
        } else {
            format!("{when} is outside {}'s working hours", clinician.name)
        };
        let slots = self.slots_for(
            a.clinician_id,
            site,
            a.minutes,
            a.buffer_before,
            a.buffer_after,
            a.start - Duration::hours(2),
            7,
            5,
        )?;
        if !slots.is_empty() {
            let list: Vec<String> = slots.iter().map(|t| local_label(tz, *t)).collect();
            problem.push_str(&format!(". Next free: {}", list.join(", ")));
        }
        problem.push_str(". Choose another time, or override to book anyway.");
        Err(ClinicError::new(ErrorCode::Conflict, problem))
    }

    fn appointment_or_404(&self, id: Uuid) -> ClinicResult<Appointment> {
        self.ws
            .store()?
            .db()
            .appointment(id)?
            .ok_or_else(|| ClinicError::not_found("Appointment"))
    }

    fn series_targets(
        &self,
        a: &Appointment,
        scope: SeriesScope,
    ) -> ClinicResult<Vec<Appointment>> {
        let Some(sref) = &a.series else {
            return Ok(vec![a.clone()]);
        };
        if scope == SeriesScope::This {
            return Ok(vec![a.clone()]);
        }
        let all = self.ws.store()?.db().appointments(&AppointmentFilter {
            series_id: Some(sref.id),
            include_ended: true,
            ..Default::default()
        })?;
        let ids = series_scope(&all, a, scope);
        Ok(all.into_iter().filter(|x| ids.contains(&x.id)).collect())
    }

    /// Commits one change per appointment, with its audit event.
    fn change_appointments(
        &mut self,
        s: &Session,
        now: DateTime<Utc>,
        changes: Vec<(Uuid, Uuid, AppointmentChange)>,
        action: &'static str,
        details: serde_json::Value,
    ) -> ClinicResult<Vec<Appointment>> {
        let mut out = Vec::new();
        self.ws.store_mut()?.write(|db| {
            for (id, patient, change) in changes {
                let m = Mutation::new(ChangeAppointment {
                    appointment: id,
                    change,
                });
                let c = db.commit_mutation(Some(s.user_id), now, &m)?;
                db.append_audit(
                    new_id(now),
                    Some(s.user_id),
                    now,
                    c.named(AuditEntry {
                        action,
                        entity_type: "appointment",
                        entity_id: Some(id),
                        patient_id: Some(patient),
                        details: details.clone(),
                    }),
                )?;
                out.push(c.after::<Appointment>(id)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Moves an appointment (or its series: the same wall-clock shift for
    /// each occurrence), with the same checks as booking.
    pub fn move_appointment(
        &mut self,
        id: Uuid,
        req: MoveRequest,
    ) -> ClinicResult<Vec<Appointment>> {
        let (s, now) = self.ws.act(Module::Appointments, Action::Edit)?;
        let a = self.appointment_or_404(id)?;
        if !a.status.is_open() {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                format!(
                    "The appointment is {}; it can no longer be moved.",
                    a.status.as_str().replace('_', " ")
                ),
            ));
        }
        let site = self.site_or_home(Some(a.site_id))?;
        let clinician = clinician_of(
            &self.ws.store()?.db(),
            req.clinician.unwrap_or(a.clinician_id),
        )?;
        let targets = self.series_targets(&a, req.scope)?;
        let tz = a.tz();
        let delta = utc_to_local(tz, req.start) - utc_to_local(tz, a.start);
        let ignore: Vec<Uuid> = targets.iter().map(|t| t.id).collect();
        let mut changes = Vec::new();
        let mut moved: Vec<Appointment> = Vec::new();
        for t in &targets {
            let mut m = t.clone();
            m.start = if t.id == a.id {
                req.start
            } else {
                shift_wall_clock(t, delta)
            };
            m.minutes = req.minutes.unwrap_or(t.minutes);
            m.clinician_id = clinician.id;
            if let Some(room) = req.room {
                m.room_id = room;
            }
            m.validate()?;
            let (clashes, _) =
                self.check_slot_with(&m, &clinician, &site, &moved, req.override_checks, &ignore)?;
            changes.push((
                t.id,
                t.patient_id,
                AppointmentChange::Move {
                    start: m.start,
                    minutes: m.minutes,
                    clinician_id: m.clinician_id,
                    room_id: m.room_id,
                    override_overlap: clashes,
                },
            ));
            moved.push(m);
        }
        self.change_appointments(
            &s,
            now,
            changes,
            "appointment.move",
            json!({"from": a.start, "to": req.start, "scope": req.scope, "override": req.override_checks}),
        )
    }

    /// Confirms, checks in, starts, completes, cancels (with a reason) or
    /// marks a no-show.
    pub fn set_appointment_status(
        &mut self,
        id: Uuid,
        to: AppointmentStatus,
        reason: Option<String>,
        scope: SeriesScope,
    ) -> ClinicResult<Vec<Appointment>> {
        let action = if to == AppointmentStatus::Cancelled {
            Action::Delete
        } else {
            Action::Edit
        };
        let (s, now) = self.ws.act(Module::Appointments, action)?;
        let a = self.appointment_or_404(id)?;
        if !a.status.can_become(to) && a.status != to {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                format!(
                    "An appointment that is {} cannot become {}.",
                    a.status.as_str().replace('_', " "),
                    to.as_str().replace('_', " ")
                ),
            ));
        }
        if to == AppointmentStatus::Cancelled
            && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(ClinicError::field(
                "reason",
                "say why the appointment is cancelled",
            ));
        }
        let targets = self.series_targets(&a, scope)?;
        let changes = targets
            .iter()
            .filter(|t| t.id == a.id || t.status.can_become(to))
            .map(|t| {
                (
                    t.id,
                    t.patient_id,
                    AppointmentChange::Status {
                        to,
                        reason: reason.clone(),
                    },
                )
            })
            .collect();
        self.change_appointments(
            &s,
            now,
            changes,
            "appointment.status",
            json!({"to": to, "reason": reason}),
        )
    }

    pub fn show_appointment(&mut self, id: Uuid) -> ClinicResult<Appointment> {
        self.ws.act(Module::Appointments, Action::View)?;
        self.appointment_or_404(id)
    }

    pub fn list_appointments(&mut self, f: &AppointmentFilter) -> ClinicResult<Vec<Appointment>> {
        self.ws.act(Module::Appointments, Action::View)?;
        Ok(self.ws.store()?.db().appointments(f)?)
    }

    /// The appointments of one local day at a site (and clinician).
    pub fn day_plan(
        &mut self,
        site: Option<Uuid>,
        clinician: Option<Uuid>,
        date: NaiveDate,
    ) -> ClinicResult<DayPlan> {
        self.ws.act(Module::Appointments, Action::View)?;
        let site = self.site_or_home(site)?;
        let tz = parse_tz(&site.timezone)?;
        let day = Span::new(
            local_to_utc(tz, date.and_time(NaiveTime::MIN)),
            local_to_utc(tz, (date + Duration::days(1)).and_time(NaiveTime::MIN)),
        );
        let db = self.ws.store()?.db();
        let appts = db.appointments(&AppointmentFilter {
            site_id: Some(site.id),
            clinician_id: clinician,
            span: Some(day),
            include_ended: true,
            ..Default::default()
        })?;
        let staff: std::collections::HashMap<Uuid, String> =
            db.users()?.into_iter().map(|u| (u.id, u.name)).collect();
        let rooms: std::collections::HashMap<Uuid, String> =
            db.rooms_of(site.id)?.into_iter().collect();
        let mut rows = Vec::with_capacity(appts.len());
        for a in appts {
            let p = db.patient(a.patient_id)?;
            rows.push(DayPlanRow {
                appointment_id: a.id,
                start: a.start,
                local_start: utc_to_local(tz, a.start).format("%H:%M").to_string(),
                local_end: utc_to_local(tz, a.end()).format("%H:%M").to_string(),
                clinician: staff
                    .get(&a.clinician_id)
                    .cloned()
                    .unwrap_or_else(|| "(unknown clinician)".into()),
                patient: p
                    .as_ref()
                    .map(|p| format!("{} {}", p.details.first_name, p.details.last_name))
                    .unwrap_or_else(|| "(patient not on this workstation yet)".into()),
                patient_number: p.map(|p| p.patient_number).unwrap_or_default(),
                appointment_type: a.type_name.clone(),
                room: a.room_id.and_then(|r| rooms.get(&r).cloned()),
                status: a.status,
                mode: a.mode,
                conflict: a.conflict.as_ref().map(|c| c.reason.clone()),
                notes: a.notes.clone(),
            });
        }
        Ok(DayPlan {
            site: site.name,
            timezone: site.timezone,
            date,
            clinician: clinician.and_then(|c| staff.get(&c).cloned()),
            rows,
        })
    }

    // ---- the conflict inbox ----

    /// Double bookings found by the server at this workstation's site,
    /// until someone resolves them (on any workstation).
    pub fn booking_conflicts(&mut self) -> ClinicResult<Vec<BookingConflictView>> {
        self.ws.act(Module::Appointments, Action::View)?;
        let site = self.home_site()?;
        let tz = parse_tz(&site.timezone)?;
        let db = self.ws.store()?.db();
        let mut out = Vec::new();
        for a in db.appointment_conflicts(Some(site.id))? {
            let c = a.conflict.clone().unwrap_or(BookingConflict {
                with: vec![],
                reason: String::new(),
                detected_at: a.updated_at,
            });
            let mut overlaps = Vec::new();
            for id in &c.with {
                if let Some(o) = db.appointment(*id)? {
                    overlaps.push(o);
                }
            }
            out.push(BookingConflictView {
                patient: db
                    .patient(a.patient_id)?
                    .map(|p| {
                        format!(
                            "{} {} ({})",
                            p.details.first_name, p.details.last_name, p.patient_number
                        )
                    })
                    .unwrap_or_default(),
                clinician: db.user(a.clinician_id)?.map(|u| u.name).unwrap_or_default(),
                local_time: local_label(tz, a.start),
                reason: c.reason,
                overlaps,
                appointment: a,
            });
        }
        Ok(out)
    }

    /// Resolves a double booking: move it, cancel it, or keep both.
    pub fn resolve_booking_conflict(
        &mut self,
        id: Uuid,
        resolution: Resolution,
    ) -> ClinicResult<Appointment> {
        let (s, now) = self.ws.act(Module::Appointments, Action::Edit)?;
        let a = self.appointment_or_404(id)?;
        if a.conflict.is_none() {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                "This appointment has no open double booking (it may have been resolved on another workstation).",
            ));
        }
        if let Resolution::Move {
            start,
            minutes,
            clinician_id,
            room_id,
        } = &resolution
        {
            let site = self.site_or_home(Some(a.site_id))?;
            let clinician = clinician_of(&self.ws.store()?.db(), *clinician_id)?;
            let mut m = a.clone();
            m.start = *start;
            m.minutes = *minutes;
            m.clinician_id = *clinician_id;
            m.room_id = *room_id;
            m.validate()?;
            self.check_slot_with(&m, &clinician, &site, &[], false, &[a.id])?;
        }
        let how = match &resolution {
            Resolution::AcceptDoubleBooking => "accept",
            Resolution::Cancel { .. } => "cancel",
            Resolution::Move { .. } => "move",
        };
        let mut done = self.change_appointments(
            &s,
            now,
            vec![(id, a.patient_id, AppointmentChange::Resolve { resolution })],
            "appointment.resolve_conflict",
            json!({"how": how}),
        )?;
        done.pop().ok_or_else(|| ClinicError::internal("no change"))
    }

    /// (id, name) of a site's rooms.
    pub fn site_rooms(&self, site: Uuid) -> ClinicResult<Vec<(Uuid, String)>> {
        Ok(self.ws.store()?.db().rooms_of(site)?)
    }

    /// A clinician's appointments in `span` as an iCalendar file (RFC 5545);
    /// returns the text and the number of events.
    pub fn export_calendar(
        &mut self,
        clinician: Uuid,
        span: Span,
    ) -> ClinicResult<(String, usize)> {
        let (_, now) = self.ws.act(Module::Appointments, Action::View)?;
        let c = clinician_of(&self.ws.store()?.db(), clinician)?;
        let site = self.home_site()?;
        let list = self.ws.store()?.db().appointments(&AppointmentFilter {
            clinician_id: Some(c.id),
            span: Some(span),
            include_ended: true,
            ..Default::default()
        })?;
        let rooms: std::collections::HashMap<Uuid, String> =
            self.site_rooms(site.id)?.into_iter().collect();
        let db = self.ws.store()?.db();
        let events: Vec<ical::CalendarEvent> = list
            .into_iter()
            .map(|a| ical::CalendarEvent {
                room_name: a.room_id.and_then(|r| rooms.get(&r).cloned()),
                patient_label: appointment_labels(&db, &a).0,
                appointment: a,
            })
            .collect();
        let n = events.len();
        let text = ical::clinician_calendar(&ical::CalendarInput {
            clinician_name: c.name,
            clinician_email: Some(c.email),
            site_name: site.name,
            timezone: site.timezone,
            appointments: events,
            generated_at: now,
        });
        Ok((text, n))
    }

    // ---- waitlist ----

    pub fn add_to_waitlist(&mut self, mut entry: WaitlistEntry) -> ClinicResult<WaitlistEntry> {
        let (s, now) = self.ws.act(Module::Appointments, Action::Create)?;
        self.ws
            .store()?
            .db()
            .patient(entry.patient_id)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        entry.id = new_id(now);
        entry.created_at = now;
        entry.status = "waiting".into();
        entry.validate()?;
        self.save_document(&s, now, entry.clone(), "waitlist.add")?;
        Ok(entry)
    }

    pub fn waitlist(&mut self) -> ClinicResult<Vec<WaitlistEntry>> {
        self.ws.act(Module::Appointments, Action::View)?;
        let mut out: Vec<WaitlistEntry> = self
            .ws
            .store()?
            .db()
            .documents::<WaitlistEntry>()?
            .into_iter()
            .filter(|w| w.status == "waiting")
            .collect();
        out.sort_by_key(|w| (w.earliest, w.created_at));
        Ok(out)
    }

    /// Takes a waitlist entry off the list (booked or no longer needed).
    pub fn close_waitlist_entry(
        &mut self,
        id: Uuid,
        appointment: Option<Uuid>,
    ) -> ClinicResult<WaitlistEntry> {
        let (s, now) = self.ws.act(Module::Appointments, Action::Edit)?;
        let Some(mut w) = self.ws.store()?.db().document::<WaitlistEntry>(id)? else {
            return Err(ClinicError::not_found("Waitlist entry"));
        };
        w.status = if appointment.is_some() {
            "booked"
        } else {
            "removed"
        }
        .into();
        w.appointment_id = appointment;
        self.save_document(&s, now, w.clone(), "waitlist.close")?;
        Ok(w)
    }
}
