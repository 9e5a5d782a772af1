//! Scheduling, pure: availability, appointment types, appointments with their
//! status lifecycle, overlap rules with buffers, recurring series, free-slot
//! search and wall-clock time in a site's time zone (DST-correct).
//!
//! Time is stored as UTC instants; what a person sees and types is the
//! wall-clock time of the site's zone. A weekly series keeps its wall-clock
//! time across daylight-saving changes (09:00 stays 09:00), so its UTC
//! instants shift by an hour twice a year.

use crate::error::{ClinicError, ClinicResult, ErrorCode, FieldErrors};
use crate::sync::Records;
use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest appointment, buffer and search horizon accepted.
pub const MAX_MINUTES: u32 = 12 * 60;
pub const MAX_BUFFER: u32 = 120;
pub const MAX_SERIES: u32 = 104;

pub fn parse_tz(name: &str) -> ClinicResult<Tz> {
    name.parse::<Tz>().map_err(|_| {
        ClinicError::new(
            ErrorCode::Validation,
            format!("{name} is not a time zone (use a name such as Europe/London)."),
        )
    })
}

/// The instant of a wall-clock time in `tz`. In the autumn hour that
/// happens twice the first (summer-time) one is meant; a time in the spring
/// gap does not exist and moves forward by the gap (02:30 → 03:30 in London).
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => {
            let mut probe = local;
            for _ in 0..8 {
                probe += Duration::minutes(30);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    // The same distance past the gap's end as `local` was past its start.
                    let gap_end = t.with_timezone(&Utc);
                    return gap_end - (probe - local) + Duration::hours(1);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

pub fn utc_to_local(tz: Tz, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&tz).naive_local()
}

// ---- appointments ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    Arrived,
    InProgress,
    Completed,
    Cancelled,
    NoShow,
    Rescheduled,
}

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 8] = [
        Self::Scheduled,
        Self::Confirmed,
        Self::Arrived,
        Self::InProgress,
        Self::Completed,
        Self::Cancelled,
        Self::NoShow,
        Self::Rescheduled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Confirmed => "confirmed",
            Self::Arrived => "arrived",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::NoShow => "no_show",
            Self::Rescheduled => "rescheduled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the appointment holds its time (clinician, room, patient).
    pub fn occupies(self) -> bool {
        !matches!(self, Self::Cancelled | Self::NoShow | Self::Rescheduled)
    }

    /// Whether it can still be moved or edited.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Scheduled | Self::Confirmed)
    }

    /// The transitions a person may make.
    pub fn can_become(self, to: AppointmentStatus) -> bool {
        use AppointmentStatus::*;
        matches!(
            (self, to),
            (Scheduled, Confirmed | Arrived | Cancelled | NoShow | Rescheduled)
                | (Confirmed, Arrived | Cancelled | NoShow | Rescheduled)
                | (Arrived, InProgress | Completed | Cancelled)
                // A check-in undone (the wrong patient was checked in): a
                // change of its own, recorded and audited like any other;
                // the check-in it undoes stays in the history.
                | (Arrived, Scheduled)
                | (InProgress, Completed)
                // A patient marked no-show who turns up late after all.
                | (NoShow, Arrived)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentMode {
    #[default]
    InPerson,
    Virtual,
    Phone,
}

impl AppointmentMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "in_person" => Some(Self::InPerson),
            "virtual" | "video" => Some(Self::Virtual),
            "phone" => Some(Self::Phone),
            _ => None,
        }
    }
}

/// A repeating booking: every `interval` days or weeks, `count` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "every")]
pub enum Recurrence {
    Days { interval: u32, count: u32 },
    Weeks { interval: u32, count: u32 },
}

impl Recurrence {
    pub fn count(self) -> u32 {
        match self {
            Recurrence::Days { count, .. } | Recurrence::Weeks { count, .. } => count,
        }
    }

    fn validate(self) -> ClinicResult<()> {
        let (interval, count) = match self {
            Recurrence::Days { interval, count } | Recurrence::Weeks { interval, count } => {
                (interval, count)
            }
        };
        let mut e = FieldErrors::default();
        if !(1..=52).contains(&interval) {
            e.add("repeat", "the interval must be between 1 and 52");
        }
        if !(1..=MAX_SERIES).contains(&count) {
            e.add(
                "repeat",
                format!("a series has 1 to {MAX_SERIES} appointments"),
            );
        }
        e.into_result()
    }

    /// The starts of a series, each at the first one's wall-clock time in `tz`.
    pub fn starts(self, tz: Tz, first: DateTime<Utc>) -> ClinicResult<Vec<DateTime<Utc>>> {
        self.validate()?;
        let local = utc_to_local(tz, first);
        let (step_days, count) = match self {
            Recurrence::Days { interval, count } => (interval as i64, count),
            Recurrence::Weeks { interval, count } => (7 * interval as i64, count),
        };
        Ok((0..count as i64)
            .map(|i| local_to_utc(tz, local + Duration::days(step_days * i)))
            .collect())
    }
}

/// Which occurrences of a series a change applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesScope {
    This,
    ThisAndFollowing,
    All,
}

impl SeriesScope {
    pub fn parse(s: &str) -> Option<Self> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "this" | "one" => Some(Self::This),
            "this_and_following" | "following" => Some(Self::ThisAndFollowing),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesRef {
    pub id: Uuid,
    /// 0-based position in the series.
    pub index: u32,
    pub rule: Recurrence,
}

/// Why a booking that reached the server overlaps another: shown in the
/// conflict inbox of every workstation of the site until someone resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingConflict {
    /// The appointments it overlaps.
    pub with: Vec<Uuid>,
    pub reason: String,
    pub detected_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub site_id: Uuid,
    pub patient_id: Uuid,
    pub clinician_id: Uuid,
    #[serde(default)]
    pub room_id: Option<Uuid>,
    #[serde(default)]
    pub type_id: Option<Uuid>,
    /// The type's name when booked ("Consultation", "Follow-up", …).
    pub type_name: String,
    pub start: DateTime<Utc>,
    pub minutes: u32,
    /// Time kept free before and after (preparation, cleaning), from the type.
    #[serde(default)]
    pub buffer_before: u32,
    #[serde(default)]
    pub buffer_after: u32,
    /// The site's time zone when booked (wall-clock of a series).
    pub timezone: String,
    #[serde(default)]
    pub mode: AppointmentMode,
    #[serde(default)]
    pub meeting_link: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    pub status: AppointmentStatus,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub series: Option<SeriesRef>,
    /// Booked deliberately on top of another appointment (override or resolution).
    #[serde(default)]
    pub double_booking_accepted: bool,
    /// Booked outside working hours with an explicit override.
    #[serde(default)]
    pub outside_hours_accepted: bool,
    #[serde(default)]
    pub conflict: Option<BookingConflict>,
    #[serde(default)]
    pub booked_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A half-open interval of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Span { start, end }
    }
    pub fn overlaps(&self, o: &Span) -> bool {
        self.start < o.end && o.start < self.end
    }
    pub fn contains(&self, o: &Span) -> bool {
        self.start <= o.start && o.end <= self.end
    }
}

impl Appointment {
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::minutes(self.minutes as i64)
    }
    /// The time with the patient.
    pub fn span(&self) -> Span {
        Span::new(self.start, self.end())
    }
    /// The time the clinician and room are taken: the span with its buffers.
    pub fn occupied(&self) -> Span {
        Span::new(
            self.start - Duration::minutes(self.buffer_before as i64),
            self.end() + Duration::minutes(self.buffer_after as i64),
        )
    }
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
    /// Why this appointment and `other` cannot both hold their time, if they cannot.
    pub fn clash_with(&self, other: &Appointment) -> Option<String> {
        if self.id == other.id || !self.status.occupies() || !other.status.occupies() {
            return None;
        }
        if self.clinician_id == other.clinician_id && self.occupied().overlaps(&other.occupied()) {
            return Some("the clinician is already booked".into());
        }
        if self.room_id.is_some()
            && self.room_id == other.room_id
            && self.occupied().overlaps(&other.occupied())
        {
            return Some("the room is already booked".into());
        }
        if self.patient_id == other.patient_id && self.span().overlaps(&other.span()) {
            return Some("the patient already has an appointment then".into());
        }
        None
    }

    /// Field checks of a booking or a change.
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if !(5..=MAX_MINUTES).contains(&self.minutes) {
            e.add("minutes", format!("must be between 5 and {MAX_MINUTES}"));
        }
        if self.buffer_before > MAX_BUFFER || self.buffer_after > MAX_BUFFER {
            e.add(
                "buffer",
                format!("buffers are at most {MAX_BUFFER} minutes"),
            );
        }
        if self.timezone.parse::<Tz>().is_err() {
            e.add("timezone", "is not a time zone");
        }
        if self.type_name.trim().is_empty() || self.type_name.chars().count() > 80 {
            e.add("type", "is required (at most 80 characters)");
        }
        match (&self.mode, self.meeting_link.as_deref().map(str::trim)) {
            (AppointmentMode::Virtual, None | Some("")) => {
                e.add("meeting_link", "a virtual appointment needs a meeting link")
            }
            (_, Some(l)) if !(l.starts_with("https://") || l.starts_with("http://")) => {
                e.add("meeting_link", "must be a web address (https://…)")
            }
            _ => {}
        }
        if self
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > 2000)
        {
            e.add("notes", "are at most 2000 characters");
        }
        if self.start.timestamp() % 60 != 0 {
            e.add("start", "must be on a whole minute");
        }
        e.into_result()
    }
}

/// The first appointment among `others` that `a` clashes with, and why.
pub fn find_clashes<'a>(
    a: &Appointment,
    others: impl IntoIterator<Item = &'a Appointment>,
) -> Vec<(Uuid, String)> {
    let mut out: Vec<(Uuid, String)> = others
        .into_iter()
        .filter_map(|o| a.clash_with(o).map(|why| (o.id, why)))
        .collect();
    out.sort();
    out
}

/// The words of a clash for a person: "the clinician is already booked (09:00–09:30)".
pub fn clash_message(clashes: &[(Uuid, String)]) -> String {
    let mut reasons: Vec<&str> = clashes.iter().map(|(_, r)| r.as_str()).collect();
    reasons.dedup();
    let mut s = reasons.join("; ");
    if let Some(c) = s.get_mut(0..1) {
        c.make_ascii_uppercase();
    }
    s
}

/// A change to one appointment (a mutation's argument).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AppointmentChange {
    /// A new time, length, clinician or room.
    Move {
        start: DateTime<Utc>,
        minutes: u32,
        clinician_id: Uuid,
        #[serde(default)]
        room_id: Option<Uuid>,
        #[serde(default)]
        override_overlap: bool,
    },
    Status {
        to: AppointmentStatus,
        #[serde(default)]
        reason: Option<String>,
    },
    Details {
        #[serde(default)]
        notes: Option<String>,
        mode: AppointmentMode,
        #[serde(default)]
        meeting_link: Option<String>,
    },
    /// Settles a double booking found when the server applied it.
    Resolve { resolution: Resolution },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum Resolution {
    /// Both appointments stay: the clinic means to double-book.
    AcceptDoubleBooking,
    Cancel {
        reason: String,
    },
    Move {
        start: DateTime<Utc>,
        minutes: u32,
        clinician_id: Uuid,
        #[serde(default)]
        room_id: Option<Uuid>,
    },
}

impl AppointmentChange {
    /// The clinician and room a move (or a resolution by moving) names.
    pub fn destination(&self) -> Option<(Uuid, Option<Uuid>)> {
        match self {
            AppointmentChange::Move {
                clinician_id,
                room_id,
                ..
            }
            | AppointmentChange::Resolve {
                resolution:
                    Resolution::Move {
                        clinician_id,
                        room_id,
                        ..
                    },
            } => Some((*clinician_id, *room_id)),
            _ => None,
        }
    }

    /// Puts `a` where this change moves it; `None` when it is not a move.
    pub fn place(&self, a: &mut Appointment) -> Option<()> {
        match self {
            AppointmentChange::Move {
                start,
                minutes,
                clinician_id,
                room_id,
                ..
            }
            | AppointmentChange::Resolve {
                resolution:
                    Resolution::Move {
                        start,
                        minutes,
                        clinician_id,
                        room_id,
                    },
            } => {
                a.start = *start;
                a.minutes = *minutes;
                a.clinician_id = *clinician_id;
                a.room_id = *room_id;
                Some(())
            }
            _ => None,
        }
    }
}

fn conflict(msg: String) -> ClinicError {
    ClinicError::new(ErrorCode::Conflict, msg)
}

/// Marks `a` for its clashes with `others`: accepted as a deliberate double
/// booking when `override_overlap`, otherwise kept with a conflict for a
/// person to resolve. Never refused, never moved.
fn mark_clashes<'a>(
    a: &mut Appointment,
    others: impl IntoIterator<Item = &'a Appointment>,
    override_overlap: bool,
    at: DateTime<Utc>,
) {
    let clashes = find_clashes(a, others);
    a.conflict = None;
    a.double_booking_accepted = false;
    if clashes.is_empty() {
        return;
    }
    if override_overlap {
        a.double_booking_accepted = true;
    } else {
        a.conflict = Some(BookingConflict {
            with: clashes.iter().map(|(id, _)| *id).collect(),
            reason: clash_message(&clashes),
            detected_at: at,
        });
    }
}

/// The rule of `BookAppointment`: `appointments` holds every appointment
/// that may overlap it. Returns the ids written.
pub fn apply_booking(
    appointment: &Appointment,
    override_overlap: bool,
    tenant: Uuid,
    at: DateTime<Utc>,
    recs: &mut Records,
) -> ClinicResult<Vec<Uuid>> {
    if let Some(existing) = recs.get::<Appointment>(appointment.id) {
        // The same booking again (a replay over a version that has it).
        if existing.created_at == at && existing.booked_by == appointment.booked_by {
            return Ok(vec![]);
        }
        return Err(conflict("Another appointment already has this id.".into()));
    }
    let mut a = appointment.clone();
    a.validate()?;
    if !a.status.is_open() {
        return Err(ClinicError::field(
            "status",
            "a new appointment is scheduled or confirmed",
        ));
    }
    if a.tenant_id != tenant {
        return Err(ClinicError::forbidden(
            "This booking names another clinic; it was not applied.",
        ));
    }
    a.created_at = at;
    a.updated_at = at;
    let id = a.id;
    mark_clashes(&mut a, recs.all::<Appointment>(), override_overlap, at);
    recs.put(a);
    Ok(vec![id])
}

/// The rule of `ChangeAppointment`.
pub fn apply_change(
    id: Uuid,
    change: &AppointmentChange,
    at: DateTime<Utc>,
    recs: &mut Records,
) -> ClinicResult<Vec<Uuid>> {
    let current = recs
        .get::<Appointment>(id)
        .ok_or_else(|| ClinicError::not_found("Appointment"))?;
    let mut a = current.clone();
    match change {
        AppointmentChange::Move {
            override_overlap, ..
        } => {
            if !a.status.is_open() {
                return Err(conflict(format!(
                    "The appointment is {}; it can no longer be moved.",
                    a.status.as_str().replace('_', " ")
                )));
            }
            change.place(&mut a);
            a.validate()?;
            let others = recs.all::<Appointment>().filter(|o| o.id != id);
            mark_clashes(&mut a, others, *override_overlap, at);
        }
        AppointmentChange::Status { to, reason } => {
            if *to == a.status {
                return Ok(vec![]);
            }
            if !a.status.can_become(*to) {
                return Err(conflict(format!(
                    "An appointment that is {} cannot become {}.",
                    a.status.as_str().replace('_', " "),
                    to.as_str().replace('_', " ")
                )));
            }
            let reason = reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            if *to == AppointmentStatus::Cancelled && reason.is_none() {
                return Err(ClinicError::field(
                    "reason",
                    "say why the appointment is cancelled",
                ));
            }
            let takes_time_again = to.occupies() && !a.status.occupies();
            a.status = *to;
            a.status_reason = reason.map(str::to_string);
            if !to.occupies() {
                a.conflict = None;
            } else if takes_time_again {
                // A no-show who turns up after all holds their time again:
                // anything booked into it meanwhile makes it a double
                // booking for a person to resolve, never a silent one.
                let others = recs.all::<Appointment>().filter(|o| o.id != id);
                mark_clashes(&mut a, others, false, at);
            }
        }
        AppointmentChange::Details {
            notes,
            mode,
            meeting_link,
        } => {
            a.notes = notes.clone();
            a.mode = *mode;
            a.meeting_link = meeting_link.clone();
            a.validate()?;
        }
        AppointmentChange::Resolve { resolution } => {
            if a.conflict.is_none() {
                return Err(conflict(
                    "This double booking was already resolved on another workstation.".into(),
                ));
            }
            match resolution {
                Resolution::AcceptDoubleBooking => {
                    a.conflict = None;
                    a.double_booking_accepted = true;
                }
                Resolution::Cancel { reason } => {
                    if reason.trim().is_empty() {
                        return Err(ClinicError::field(
                            "reason",
                            "say why the appointment is cancelled",
                        ));
                    }
                    a.conflict = None;
                    a.status = AppointmentStatus::Cancelled;
                    a.status_reason = Some(reason.trim().to_string());
                }
                Resolution::Move { .. } => {
                    change.place(&mut a);
                    a.validate()?;
                    let others = recs.all::<Appointment>().filter(|o| o.id != id);
                    mark_clashes(&mut a, others, false, at);
                }
            }
        }
    }
    a.updated_at = at;
    recs.put(a);
    Ok(vec![id])
}

/// The occurrences of `pick`'s series a change applies to, in series order.
/// Occurrences already over (completed, cancelled, …) are left alone.
pub fn series_scope(all: &[Appointment], pick: &Appointment, scope: SeriesScope) -> Vec<Uuid> {
    let Some(sref) = &pick.series else {
        return vec![pick.id];
    };
    if scope == SeriesScope::This {
        return vec![pick.id];
    }
    let mut members: Vec<&Appointment> = all
        .iter()
        .filter(|a| a.series.as_ref().is_some_and(|s| s.id == sref.id))
        .filter(|a| a.status.is_open() || a.id == pick.id)
        .filter(|a| {
            scope == SeriesScope::All || a.series.as_ref().is_some_and(|s| s.index >= sref.index)
        })
        .collect();
    members.sort_by_key(|a| a.series.as_ref().map(|s| s.index));
    members.into_iter().map(|a| a.id).collect()
}

/// `a`'s start moved by `delta` of wall-clock time in its zone: moving a
/// weekly 09:00 series to 10:00 gives 10:00 on both sides of a DST change.
pub fn shift_wall_clock(a: &Appointment, delta: Duration) -> DateTime<Utc> {
    let tz = a.tz();
    local_to_utc(tz, utc_to_local(tz, a.start) + delta)
}

// ---- availability ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyHours {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    Leave,
    Blocked,
}

/// Time taken out of the working hours (leave, training, a blocked hour).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleException {
    pub id: Uuid,
    pub kind: ExceptionKind,
    /// Wall-clock times in the schedule's zone.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftKind {
    Regular,
    OnCall,
    Overtime,
    Absent,
}

/// A dated shift: extra working time, or an absence over the usual hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub id: Uuid,
    pub kind: ShiftKind,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// A clinician's working time at one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicianSchedule {
    pub id: Uuid,
    pub clinician_id: Uuid,
    pub site_id: Uuid,
    pub timezone: String,
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    #[serde(default)]
    pub hours: Vec<WeeklyHours>,
    #[serde(default)]
    pub exceptions: Vec<ScheduleException>,
    #[serde(default)]
    pub shifts: Vec<Shift>,
    pub updated_at: DateTime<Utc>,
}

impl ClinicianSchedule {
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if self.timezone.parse::<Tz>().is_err() {
            e.add(
                "timezone",
                "is not a time zone (use a name such as Europe/London)",
            );
        }
        if self.valid_until.is_some_and(|u| u < self.valid_from) {
            e.add("valid_until", "is before the start date");
        }
        if self.hours.iter().any(|h| h.end <= h.start) {
            e.add("hours", "each period must end after it starts");
        }
        if self.exceptions.iter().any(|x| x.end <= x.start) {
            e.add("exceptions", "each exception must end after it starts");
        }
        if self.shifts.iter().any(|s| s.end <= s.start) {
            e.add("shifts", "each shift must end after it starts");
        }
        e.into_result()
    }

    /// Working time on local dates `from..=to`, as UTC spans, sorted, merged:
    /// weekly hours within the validity dates, plus regular, on-call and
    /// overtime shifts, minus absences, leave and blocked time.
    pub fn working_spans(&self, from: NaiveDate, to: NaiveDate) -> Vec<Span> {
        let Ok(tz) = self.timezone.parse::<Tz>() else {
            return vec![];
        };
        let span = |d: NaiveDate, s: NaiveTime, e: NaiveTime| {
            Span::new(
                local_to_utc(tz, d.and_time(s)),
                local_to_utc(tz, d.and_time(e)),
            )
        };
        let mut add = Vec::new();
        let mut remove = Vec::new();
        let mut d = from;
        while d <= to {
            let valid = d >= self.valid_from && self.valid_until.is_none_or(|u| d <= u);
            if valid {
                for h in self.hours.iter().filter(|h| h.weekday == d.weekday()) {
                    add.push(span(d, h.start, h.end));
                }
            }
            for s in self.shifts.iter().filter(|s| s.date == d) {
                match s.kind {
                    ShiftKind::Absent => remove.push(span(d, s.start, s.end)),
                    _ => add.push(span(d, s.start, s.end)),
                }
            }
            d += Duration::days(1);
        }
        for x in &self.exceptions {
            remove.push(Span::new(
                local_to_utc(tz, x.start),
                local_to_utc(tz, x.end),
            ));
        }
        subtract(merge(add), &remove)
    }
}

/// Sorts and joins overlapping or touching spans.
pub fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// `spans` with every part covered by `holes` taken out.
pub fn subtract(spans: Vec<Span>, holes: &[Span]) -> Vec<Span> {
    let mut out = spans;
    for h in holes {
        let mut next = Vec::with_capacity(out.len() + 1);
        for s in out {
            if !s.overlaps(h) {
                next.push(s);
                continue;
            }
            if s.start < h.start {
                next.push(Span::new(s.start, h.start));
            }
            if h.end < s.end {
                next.push(Span::new(h.end, s.end));
            }
        }
        out = next;
    }
    out
}

/// An appointment type: name, category, default length, colour and buffers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentType {
    pub id: Uuid,
    pub name: String,
    pub default_minutes: u32,
    /// `#rrggbb`, shown on the calendar.
    pub colour: String,
    #[serde(default)]
    pub buffer_before: u32,
    #[serde(default)]
    pub buffer_after: u32,
    #[serde(default)]
    pub archived: bool,
}

impl AppointmentType {
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if self.name.trim().is_empty() || self.name.chars().count() > 80 {
            e.add("name", "is required (at most 80 characters)");
        }
        if !(5..=MAX_MINUTES).contains(&self.default_minutes) {
            e.add(
                "default_minutes",
                format!("must be between 5 and {MAX_MINUTES}"),
            );
        }
        let c = self.colour.as_bytes();
        if c.len() != 7 || c[0] != b'#' || !c[1..].iter().all(u8::is_ascii_hexdigit) {
            e.add("colour", "must look like #1f77b4");
        }
        if self.buffer_before > MAX_BUFFER || self.buffer_after > MAX_BUFFER {
            e.add(
                "buffer",
                format!("buffers are at most {MAX_BUFFER} minutes"),
            );
        }
        e.into_result()
    }
}

/// The built-in appointment types of a new clinic (`product.md`).
pub fn default_types(mut new_id: impl FnMut() -> Uuid) -> Vec<AppointmentType> {
    [
        ("Consultation", 20, "#2f6fdb", 0, 5),
        ("Follow-up", 15, "#3a9d5d", 0, 0),
        ("Procedure", 45, "#c2571a", 10, 15),
        ("Emergency", 30, "#c62828", 0, 0),
        ("Routine check-up", 30, "#7b5cc4", 0, 5),
        ("Health check", 40, "#00897b", 0, 5),
    ]
    .into_iter()
    .map(|(name, minutes, colour, before, after)| AppointmentType {
        id: new_id(),
        name: name.into(),
        default_minutes: minutes,
        colour: colour.into(),
        buffer_before: before,
        buffer_after: after,
        archived: false,
    })
    .collect()
}

/// A patient waiting for an earlier or any appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub site_id: Uuid,
    pub patient_id: Uuid,
    #[serde(default)]
    pub clinician_id: Option<Uuid>,
    #[serde(default)]
    pub type_id: Option<Uuid>,
    pub earliest: NaiveDate,
    #[serde(default)]
    pub latest: Option<NaiveDate>,
    #[serde(default)]
    pub notes: Option<String>,
    /// waiting, booked (appointment set) or removed.
    pub status: String,
    #[serde(default)]
    pub appointment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl WaitlistEntry {
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if !["waiting", "booked", "removed"].contains(&self.status.as_str()) {
            e.add("status", "must be waiting, booked or removed");
        }
        if self.latest.is_some_and(|l| l < self.earliest) {
            e.add("latest", "is before the earliest date");
        }
        e.into_result()
    }
}

// ---- free slots ----

/// The next `n` starts (on `step`-minute marks of the site's clock) from
/// `from` where an appointment of `minutes` with its buffers fits inside
/// `working` and clear of `busy` (occupied spans, buffers included).
#[allow(clippy::too_many_arguments)]
pub fn free_slots(
    working: &[Span],
    busy: &[Span],
    from: DateTime<Utc>,
    minutes: u32,
    buffer_before: u32,
    buffer_after: u32,
    step: u32,
    n: usize,
) -> Vec<DateTime<Utc>> {
    let step = Duration::minutes(step.max(1) as i64);
    let len = Duration::minutes(minutes as i64);
    let (bb, ba) = (
        Duration::minutes(buffer_before as i64),
        Duration::minutes(buffer_after as i64),
    );
    let mut busy = merge(busy.to_vec());
    busy.retain(|b| b.end > from - bb);
    let mut out = Vec::new();
    for w in working {
        if w.end <= from {
            continue;
        }
        // Marks are counted from the working period's start.
        let mut t = w.start;
        if t < from {
            let k = ((from - t).num_seconds() + step.num_seconds() - 1) / step.num_seconds();
            t += step * k as i32;
        }
        while t + len <= w.end {
            let need = Span::new(t - bb, t + len + ba);
            match busy.iter().find(|b| b.overlaps(&need)) {
                None => {
                    out.push(t);
                    if out.len() == n {
                        return out;
                    }
                    t += step;
                }
                Some(b) => {
                    // Jump past the clash to the next mark.
                    let past = b.end + bb;
                    let k =
                        ((past - t).num_seconds() + step.num_seconds() - 1) / step.num_seconds();
                    t += step * k.max(1) as i32;
                }
            }
        }
    }
    out
}

/// Test appointments, shared by this crate's unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    pub fn appointment(
        id: u128,
        clinician: u128,
        patient: u128,
        start: &str,
        minutes: u32,
    ) -> Appointment {
        Appointment {
            id: Uuid::from_u128(id),
            tenant_id: Uuid::from_u128(1),
            site_id: Uuid::from_u128(2),
            patient_id: Uuid::from_u128(patient),
            clinician_id: Uuid::from_u128(clinician),
            room_id: None,
            type_id: None,
            type_name: "Consultation".into(),
            start: at(start),
            minutes,
            buffer_before: 0,
            buffer_after: 0,
            timezone: "Europe/London".into(),
            mode: AppointmentMode::InPerson,
            meeting_link: None,
            notes: None,
            status: AppointmentStatus::Scheduled,
            status_reason: None,
            series: None,
            double_booking_accepted: false,
            outside_hours_accepted: false,
            conflict: None,
            booked_by: None,
            created_at: at(start),
            updated_at: at(start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    fn london() -> Tz {
        "Europe/London".parse().unwrap()
    }

    use super::fixtures::{appointment as appt, at};

    #[test]
    fn a_booking_that_overlaps_is_kept_as_a_conflict_or_accepted_when_overridden() {
        let t = Uuid::from_u128(1);
        let now = at("2026-11-22T10:00:00Z");
        let mut book = Records::default();
        let first = appt(10, 100, 200, "2026-11-23T09:00:00Z", 30);
        apply_booking(&first, false, t, now, &mut book).unwrap();
        let second = appt(11, 100, 201, "2026-11-23T09:15:00Z", 30);
        apply_booking(&second, false, t, now, &mut book).unwrap();
        let c = book
            .get::<Appointment>(second.id)
            .unwrap()
            .conflict
            .clone()
            .expect("marked");
        assert_eq!(c.with, vec![first.id]);
        assert!(c.reason.contains("clinician"), "{}", c.reason);
        assert!(
            book.get::<Appointment>(first.id)
                .unwrap()
                .conflict
                .is_none(),
            "the first keeps its slot"
        );
        let third = appt(12, 100, 202, "2026-11-23T09:10:00Z", 10);
        apply_booking(&third, true, t, now, &mut book).unwrap();
        assert!(
            book.get::<Appointment>(third.id)
                .unwrap()
                .double_booking_accepted
                && book
                    .get::<Appointment>(third.id)
                    .unwrap()
                    .conflict
                    .is_none()
        );
        // The same booking again is a no-op; a different one with its id is refused.
        assert_eq!(
            apply_booking(&first, false, t, now, &mut book).unwrap(),
            Vec::<Uuid>::new()
        );
        let mut clash = first.clone();
        clash.booked_by = Some(Uuid::from_u128(9));
        assert_eq!(
            apply_booking(&clash, false, t, now, &mut book)
                .unwrap_err()
                .code,
            ErrorCode::Conflict
        );
    }

    #[test]
    fn conflicts_are_resolved_by_moving_cancelling_or_accepting() {
        let t = Uuid::from_u128(1);
        let now = at("2026-11-22T10:00:00Z");
        let setup = || {
            let mut book = Records::default();
            apply_booking(
                &appt(10, 100, 200, "2026-11-23T09:00:00Z", 30),
                false,
                t,
                now,
                &mut book,
            )
            .unwrap();
            apply_booking(
                &appt(11, 100, 201, "2026-11-23T09:00:00Z", 30),
                false,
                t,
                now,
                &mut book,
            )
            .unwrap();
            book
        };
        let id = Uuid::from_u128(11);
        let resolve = |r: Resolution| AppointmentChange::Resolve { resolution: r };
        let mut b = setup();
        apply_change(id, &resolve(Resolution::AcceptDoubleBooking), now, &mut b).unwrap();
        assert!(
            b.get::<Appointment>(id).unwrap().conflict.is_none()
                && b.get::<Appointment>(id).unwrap().double_booking_accepted
        );
        // Resolving twice (two desks at once) is a conflict, not a silent repeat.
        let again = apply_change(id, &resolve(Resolution::AcceptDoubleBooking), now, &mut b);
        assert_eq!(again.unwrap_err().code, ErrorCode::Conflict);
        let mut b = setup();
        assert_eq!(
            apply_change(
                id,
                &resolve(Resolution::Cancel { reason: " ".into() }),
                now,
                &mut b
            )
            .unwrap_err()
            .code,
            ErrorCode::Validation
        );
        apply_change(
            id,
            &resolve(Resolution::Cancel {
                reason: "patient chose another day".into(),
            }),
            now,
            &mut b,
        )
        .unwrap();
        assert_eq!(
            b.get::<Appointment>(id).unwrap().status,
            AppointmentStatus::Cancelled
        );
        let mut b = setup();
        let to = |s: &str| Resolution::Move {
            start: at(s),
            minutes: 30,
            clinician_id: Uuid::from_u128(100),
            room_id: None,
        };
        apply_change(id, &resolve(to("2026-11-23T09:15:00Z")), now, &mut b).unwrap();
        assert!(
            b.get::<Appointment>(id).unwrap().conflict.is_some(),
            "still overlapping: still a conflict"
        );
        let mut b = setup();
        apply_change(id, &resolve(to("2026-11-23T09:30:00Z")), now, &mut b).unwrap();
        assert!(b.get::<Appointment>(id).unwrap().conflict.is_none());
        assert_eq!(
            b.get::<Appointment>(id).unwrap().start,
            at("2026-11-23T09:30:00Z")
        );
    }

    #[test]
    fn status_changes_follow_the_lifecycle_and_free_the_slot() {
        let t = Uuid::from_u128(1);
        let now = at("2026-11-22T10:00:00Z");
        let mut b = Records::default();
        let a = appt(10, 100, 200, "2026-11-23T09:00:00Z", 30);
        apply_booking(&a, false, t, now, &mut b).unwrap();
        let set = |to, reason: Option<&str>| AppointmentChange::Status {
            to,
            reason: reason.map(str::to_string),
        };
        let e =
            apply_change(a.id, &set(AppointmentStatus::Completed, None), now, &mut b).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(
            b.get::<Appointment>(a.id).unwrap().status,
            AppointmentStatus::Scheduled,
            "unchanged"
        );
        assert_eq!(
            apply_change(a.id, &set(AppointmentStatus::Cancelled, None), now, &mut b)
                .unwrap_err()
                .code,
            ErrorCode::Validation
        );
        apply_change(a.id, &set(AppointmentStatus::Arrived, None), now, &mut b).unwrap();
        // A second desk marking the same arrival is a no-op.
        assert!(
            apply_change(a.id, &set(AppointmentStatus::Arrived, None), now, &mut b)
                .unwrap()
                .is_empty()
        );
        let mv = AppointmentChange::Move {
            start: at("2026-11-23T11:00:00Z"),
            minutes: 30,
            clinician_id: a.clinician_id,
            room_id: None,
            override_overlap: false,
        };
        assert_eq!(
            apply_change(a.id, &mv, now, &mut b).unwrap_err().code,
            ErrorCode::Conflict,
            "arrived: no longer movable"
        );
        apply_change(a.id, &set(AppointmentStatus::InProgress, None), now, &mut b).unwrap();
        apply_change(a.id, &set(AppointmentStatus::Completed, None), now, &mut b).unwrap();
        // A cancelled appointment's time can be booked again without conflict.
        let c = appt(20, 101, 300, "2026-11-23T14:00:00Z", 30);
        apply_booking(&c, false, t, now, &mut b).unwrap();
        apply_change(
            c.id,
            &set(AppointmentStatus::Cancelled, Some("unwell")),
            now,
            &mut b,
        )
        .unwrap();
        apply_booking(
            &appt(21, 101, 301, "2026-11-23T14:00:00Z", 30),
            false,
            t,
            now,
            &mut b,
        )
        .unwrap();
        assert!(b
            .get::<Appointment>(Uuid::from_u128(21))
            .unwrap()
            .conflict
            .is_none());
    }

    #[test]
    fn a_no_show_who_turns_up_after_the_slot_was_rebooked_is_a_double_booking_to_resolve() {
        let t = Uuid::from_u128(1);
        let now = at("2026-11-22T10:00:00Z");
        let mut b = Records::default();
        let a = appt(10, 100, 200, "2026-11-23T09:00:00Z", 30);
        apply_booking(&a, false, t, now, &mut b).unwrap();
        let status = |to| AppointmentChange::Status { to, reason: None };
        apply_change(a.id, &status(AppointmentStatus::NoShow), now, &mut b).unwrap();
        // The clinician's time is given to someone else ...
        let c = appt(11, 100, 201, "2026-11-23T09:00:00Z", 30);
        apply_booking(&c, false, t, now, &mut b).unwrap();
        assert!(b.get::<Appointment>(c.id).unwrap().conflict.is_none());
        // ... and the first patient arrives after all.
        apply_change(a.id, &status(AppointmentStatus::Arrived), now, &mut b).unwrap();
        let back = b.get::<Appointment>(a.id).unwrap();
        assert_eq!(back.status, AppointmentStatus::Arrived);
        assert_eq!(
            back.conflict.as_ref().map(|x| x.with.clone()),
            Some(vec![c.id]),
            "marked for a person to resolve, not silently double-booked"
        );
    }

    #[test]
    fn series_edits_apply_to_one_following_or_all_and_keep_wall_clock() {
        let tz = london();
        let first = at("2026-03-16T09:00:00Z");
        let starts = Recurrence::Weeks {
            interval: 1,
            count: 4,
        }
        .starts(tz, first)
        .unwrap();
        let sid = Uuid::from_u128(77);
        let mut all: Vec<Appointment> = starts
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut a = appt(30 + i as u128, 100, 200, "2026-03-16T09:00:00Z", 30);
                a.start = *s;
                a.series = Some(SeriesRef {
                    id: sid,
                    index: i as u32,
                    rule: Recurrence::Weeks {
                        interval: 1,
                        count: 4,
                    },
                });
                a
            })
            .collect();
        all[0].status = AppointmentStatus::Completed;
        let ids = |v: &[u128]| v.iter().map(|i| Uuid::from_u128(*i)).collect::<Vec<_>>();
        assert_eq!(series_scope(&all, &all[2], SeriesScope::This), ids(&[32]));
        assert_eq!(
            series_scope(&all, &all[1], SeriesScope::ThisAndFollowing),
            ids(&[31, 32, 33])
        );
        assert_eq!(
            series_scope(&all, &all[2], SeriesScope::All),
            ids(&[31, 32, 33]),
            "the completed one stays"
        );
        // Moving the series an hour later keeps 10:00 local on both sides of 29 March.
        for a in &all[1..] {
            let moved = shift_wall_clock(a, Duration::hours(1));
            assert_eq!(utc_to_local(tz, moved).hour(), 10, "{moved}");
        }
        assert_eq!(
            shift_wall_clock(&all[1], Duration::hours(1)),
            at("2026-03-23T10:00:00Z")
        );
        assert_eq!(
            shift_wall_clock(&all[2], Duration::hours(1)),
            at("2026-03-30T09:00:00Z")
        );
    }

    #[test]
    fn every_status_transition_is_checked() {
        use AppointmentStatus::*;
        let allowed = [
            (Scheduled, Confirmed),
            (Scheduled, Arrived),
            (Scheduled, Cancelled),
            (Scheduled, NoShow),
            (Scheduled, Rescheduled),
            (Confirmed, Arrived),
            (Confirmed, Cancelled),
            (Confirmed, NoShow),
            (Confirmed, Rescheduled),
            (Arrived, InProgress),
            (Arrived, Completed),
            (Arrived, Scheduled),
            (Arrived, Cancelled),
            (InProgress, Completed),
            (NoShow, Arrived),
        ];
        for from in AppointmentStatus::ALL {
            for to in AppointmentStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
        for s in AppointmentStatus::ALL {
            assert_eq!(AppointmentStatus::parse(s.as_str()), Some(s));
        }
        assert!(!Cancelled.occupies() && !NoShow.occupies() && !Rescheduled.occupies());
        assert!(Completed.occupies() && Arrived.occupies());
    }

    #[test]
    fn overlap_rules_cover_clinician_room_and_patient() {
        let a = appt(10, 100, 200, "2026-11-23T09:00:00Z", 30);
        // Same clinician, overlapping.
        let b = appt(11, 100, 201, "2026-11-23T09:15:00Z", 30);
        assert!(a.clash_with(&b).unwrap().contains("clinician"));
        // Back to back is fine.
        let c = appt(12, 100, 201, "2026-11-23T09:30:00Z", 30);
        assert_eq!(a.clash_with(&c), None);
        // Same patient with another clinician.
        let d = appt(13, 101, 200, "2026-11-23T09:20:00Z", 30);
        assert!(a.clash_with(&d).unwrap().contains("patient"));
        // Same room, different people.
        let mut e = appt(14, 102, 202, "2026-11-23T09:10:00Z", 10);
        let mut a2 = a.clone();
        a2.room_id = Some(Uuid::from_u128(7));
        e.room_id = Some(Uuid::from_u128(7));
        assert!(a2.clash_with(&e).unwrap().contains("room"));
        e.room_id = Some(Uuid::from_u128(8));
        assert_eq!(a2.clash_with(&e), None);
        // A cancelled appointment frees its time.
        let mut f = b.clone();
        f.status = AppointmentStatus::Cancelled;
        assert_eq!(a.clash_with(&f), None);
        assert_eq!(find_clashes(&a, [&b, &c, &d, &f]).len(), 2);
    }

    #[test]
    fn buffers_hold_the_clinician_and_room_but_not_the_patient() {
        let mut a = appt(10, 100, 200, "2026-11-23T09:00:00Z", 30);
        a.buffer_after = 10;
        let next = appt(11, 100, 201, "2026-11-23T09:30:00Z", 30);
        assert!(a.clash_with(&next).is_some(), "cleaning time after 09:30");
        let later = appt(12, 100, 201, "2026-11-23T09:40:00Z", 30);
        assert_eq!(a.clash_with(&later), None);
        let mut before = appt(13, 100, 201, "2026-11-23T08:30:00Z", 30);
        assert_eq!(a.clash_with(&before), None);
        a.buffer_before = 5;
        assert!(a.clash_with(&before).is_some());
        before.clinician_id = Uuid::from_u128(101);
        before.patient_id = a.patient_id;
        assert_eq!(a.clash_with(&before), None, "the patient needs no buffer");
    }

    #[test]
    fn series_keep_wall_clock_time_across_spring_and_autumn_changes() {
        let tz = london();
        // Weekly at 09:00 London from 2026-03-22 (GMT) over 2026-03-29 (BST starts).
        let first = local_to_utc(
            tz,
            NaiveDate::from_ymd_opt(2026, 3, 22)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
        );
        assert_eq!(first, at("2026-03-22T09:00:00Z"));
        let starts = Recurrence::Weeks {
            interval: 1,
            count: 3,
        }
        .starts(tz, first)
        .unwrap();
        assert_eq!(starts[1], at("2026-03-29T08:00:00Z"));
        assert_eq!(starts[2], at("2026-04-05T08:00:00Z"));
        for s in &starts {
            assert_eq!(utc_to_local(tz, *s).hour(), 9);
        }
        // Autumn: 2026-10-25 BST ends.
        let first = local_to_utc(
            tz,
            NaiveDate::from_ymd_opt(2026, 10, 24)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
        );
        let starts = Recurrence::Days {
            interval: 1,
            count: 2,
        }
        .starts(tz, first)
        .unwrap();
        assert_eq!(
            starts,
            vec![at("2026-10-24T08:00:00Z"), at("2026-10-25T09:00:00Z")]
        );
    }

    #[test]
    fn times_in_the_dst_gap_and_overlap_are_resolved_predictably() {
        let tz = london();
        let d = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        // 01:30 does not exist on the spring-forward night: it becomes 02:30 BST.
        let t = local_to_utc(tz, d.and_hms_opt(1, 30, 0).unwrap());
        assert_eq!(t, at("2026-03-29T01:30:00Z"));
        assert_eq!(utc_to_local(tz, t), d.and_hms_opt(2, 30, 0).unwrap());
        // 01:30 happens twice on the autumn night: the first (BST) one is meant.
        let d = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        assert_eq!(
            local_to_utc(tz, d.and_hms_opt(1, 30, 0).unwrap()),
            at("2026-10-25T00:30:00Z")
        );
    }

    fn weekday_schedule() -> ClinicianSchedule {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        ClinicianSchedule {
            id: Uuid::from_u128(5),
            clinician_id: Uuid::from_u128(100),
            site_id: Uuid::from_u128(2),
            timezone: "Europe/London".into(),
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            valid_until: None,
            hours: [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]
            .into_iter()
            .flat_map(|w| {
                [
                    WeeklyHours {
                        weekday: w,
                        start: t(9, 0),
                        end: t(12, 30),
                    },
                    WeeklyHours {
                        weekday: w,
                        start: t(13, 30),
                        end: t(17, 0),
                    },
                ]
            })
            .collect(),
            exceptions: vec![],
            shifts: vec![],
            updated_at: at("2026-01-01T00:00:00Z"),
        }
    }

    #[test]
    fn working_time_follows_hours_exceptions_shifts_and_dst() {
        let mut s = weekday_schedule();
        let mon = NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(); // first Monday of BST
        let spans = s.working_spans(mon, mon);
        assert_eq!(
            spans,
            vec![
                Span::new(at("2026-03-30T08:00:00Z"), at("2026-03-30T11:30:00Z")),
                Span::new(at("2026-03-30T12:30:00Z"), at("2026-03-30T16:00:00Z")),
            ]
        );
        assert!(
            s.working_spans(mon + Duration::days(5), mon + Duration::days(6))
                .is_empty(),
            "weekend"
        );
        // Leave on Monday morning, an absence on Tuesday, overtime on Saturday.
        s.exceptions.push(ScheduleException {
            id: Uuid::from_u128(6),
            kind: ExceptionKind::Leave,
            start: mon.and_hms_opt(0, 0, 0).unwrap(),
            end: mon.and_hms_opt(12, 30, 0).unwrap(),
            reason: Some("dentist".into()),
        });
        let tue = mon + Duration::days(1);
        s.shifts.push(Shift {
            id: Uuid::from_u128(7),
            kind: ShiftKind::Absent,
            date: tue,
            start: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(23, 59, 0).unwrap(),
        });
        let sat = mon + Duration::days(5);
        s.shifts.push(Shift {
            id: Uuid::from_u128(8),
            kind: ShiftKind::Overtime,
            date: sat,
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(11, 0, 0).unwrap(),
        });
        assert_eq!(s.working_spans(mon, mon).len(), 1);
        assert!(s.working_spans(tue, tue).is_empty());
        assert_eq!(
            s.working_spans(sat, sat),
            vec![Span::new(
                at("2026-04-04T08:00:00Z"),
                at("2026-04-04T10:00:00Z")
            )]
        );
        // Validity dates end the weekly hours.
        s.valid_until = Some(mon + Duration::days(1));
        let wed = mon + Duration::days(2);
        assert!(s.working_spans(wed, wed).is_empty());
    }

    #[test]
    fn free_slots_skip_busy_time_with_buffers_and_stay_in_hours() {
        let s = weekday_schedule();
        let mon = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(); // GMT
        let working = s.working_spans(mon, mon);
        let a = appt(10, 100, 200, "2026-11-23T09:00:00Z", 30);
        let mut b = appt(11, 100, 201, "2026-11-23T10:00:00Z", 20);
        b.buffer_after = 10;
        let busy = vec![a.occupied(), b.occupied()];
        let from = at("2026-11-23T08:00:00Z");
        let slots = free_slots(&working, &busy, from, 30, 0, 0, 15, 5);
        let want: Vec<_> = ["09:30", "10:30", "10:45", "11:00", "11:15"]
            .iter()
            .map(|t| at(&format!("2026-11-23T{t}:00Z")))
            .collect();
        assert_eq!(slots, want);
        // Nothing that runs past lunch: 12:00 + 30 = 12:30 fits, 12:15 does not.
        let late = free_slots(&working, &busy, at("2026-11-23T12:00:00Z"), 30, 0, 0, 15, 2);
        assert_eq!(
            late,
            vec![at("2026-11-23T12:00:00Z"), at("2026-11-23T13:30:00Z")]
        );
        // A candidate with a buffer needs room for it too.
        let buffered = free_slots(&working, &busy, from, 20, 10, 10, 15, 1);
        assert_eq!(buffered, vec![at("2026-11-23T10:45:00Z")]);
        for t in slots {
            let candidate = Span::new(t, t + Duration::minutes(30));
            assert!(working.iter().any(|w| w.contains(&candidate)));
            assert!(!busy.iter().any(|b| b.overlaps(&candidate)));
        }
    }

    #[test]
    fn bad_bookings_and_types_are_refused_field_by_field() {
        let mut a = appt(10, 100, 200, "2026-11-23T09:00:00Z", 0);
        a.mode = AppointmentMode::Virtual;
        a.timezone = "Mars/Base".into();
        let e = a.validate().unwrap_err();
        let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["minutes", "timezone", "meeting_link"]);
        let t = AppointmentType {
            id: Uuid::from_u128(1),
            name: " ".into(),
            default_minutes: 20,
            colour: "blue".into(),
            buffer_before: 0,
            buffer_after: 500,
            archived: false,
        };
        assert_eq!(t.validate().unwrap_err().fields.len(), 3);
        assert!(Recurrence::Weeks {
            interval: 1,
            count: 0
        }
        .starts(london(), at("2026-11-23T09:00:00Z"))
        .is_err());
        for t in default_types(Uuid::now_v7) {
            t.validate().unwrap();
        }
    }
}
