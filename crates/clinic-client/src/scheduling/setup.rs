//! Setting up the appointment book from the desktop (what was only the
//! CLI's before): each clinician's weekly hours and leave at this site, the
//! site's rooms and the clinic's appointment types. The permissions are the
//! ones these documents already have: working time and appointment types
//! are saved by whoever may edit the administration (managers too), rooms
//! by a full administrator (premises). The views are in the site's wall
//! clock: "HH:MM" and "YYYY-MM-DDTHH:MM:SS".

use super::{appointment_types, Scheduling};
use crate::workstation::new_id;
use chrono::{NaiveDateTime, NaiveTime, Weekday};
use clinic_core::directory::RoomDoc;
use clinic_core::permissions::{Action, Module, Permission};
use clinic_core::scheduling::*;
use clinic_core::{ClinicError, ClinicResult};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// One period of a weekday's hours: weekday 1 (Monday) to 7 (Sunday).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct HoursLine {
    pub weekday: u8,
    /// "09:00"
    pub start: String,
    /// "17:30"
    pub end: String,
}

/// Leave or blocked time, in the site's wall clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct LeaveLine {
    pub id: Uuid,
    /// "leave" or "blocked"
    pub kind: String,
    pub start_local: String,
    pub end_local: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ClinicianSetup {
    pub id: Uuid,
    pub name: String,
    pub hours: Vec<HoursLine>,
    pub leave: Vec<LeaveLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct RoomLine {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct TypeLine {
    pub id: Uuid,
    pub name: String,
    pub minutes: u32,
    /// "#rrggbb"
    pub colour: String,
    pub archived: bool,
}

/// Everything the setup screens show for this workstation's site.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SetupView {
    pub site_name: String,
    pub timezone: String,
    pub clinicians: Vec<ClinicianSetup>,
    pub rooms: Vec<RoomLine>,
    pub types: Vec<TypeLine>,
    /// May save hours, leave and appointment types (administration edit).
    pub can_edit: bool,
    /// May add and rename rooms (a full administrator: premises).
    pub can_edit_rooms: bool,
}

impl From<AppointmentType> for TypeLine {
    fn from(t: AppointmentType) -> Self {
        TypeLine {
            id: t.id,
            name: t.name,
            minutes: t.default_minutes,
            colour: t.colour,
            archived: t.archived,
        }
    }
}

/// "leave" or "blocked", as the screens and requests name an exception.
fn kind_word(k: ExceptionKind) -> String {
    match k {
        ExceptionKind::Leave => "leave",
        ExceptionKind::Blocked => "blocked",
    }
    .into()
}

const TIME: &str = "%H:%M";
const LOCAL: &str = "%Y-%m-%dT%H:%M:%S";

fn time(field: &str, s: &str) -> ClinicResult<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), TIME)
        .map_err(|_| ClinicError::field(field, format!("{s} is not a time like 09:00")))
}

fn local(field: &str, s: &str) -> ClinicResult<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, LOCAL)
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            ClinicError::field(
                field,
                format!("{s} is not a local time like 2026-12-24T13:00"),
            )
        })
}

/// Every appointment type the clinic has, archived ones too, and whether
/// they are still the built-in ones (until it saves its own).
fn all_types(db: &clinic_store::Db) -> ClinicResult<(Vec<AppointmentType>, bool)> {
    let mut saved = db.documents::<AppointmentType>()?;
    if saved.is_empty() {
        return Ok((appointment_types(db)?, true));
    }
    saved.sort_by(|a, b| (a.archived, &a.name).cmp(&(b.archived, &b.name)));
    Ok((saved, false))
}

fn weekday(n: u8) -> ClinicResult<Weekday> {
    match n {
        1..=7 => Ok(Weekday::try_from(n - 1).unwrap_or(Weekday::Mon)),
        _ => Err(ClinicError::field("weekday", "is 1 (Monday) to 7 (Sunday)")),
    }
}

impl Scheduling<'_> {
    /// The setup of this workstation's site: every clinician's hours and
    /// leave here, the rooms, the appointment types.
    pub fn setup_view(&mut self) -> ClinicResult<SetupView> {
        let (s, _) = self.ws.act(Module::Admin, Action::View)?;
        let site = self.home_site()?;
        let mut clinicians = Vec::new();
        for c in self.clinicians()? {
            let sched = self.clinician_schedule(c.id, site.id)?;
            let (hours, leave) = sched.map_or_else(Default::default, |s| {
                let hours = s
                    .hours
                    .iter()
                    .map(|h| HoursLine {
                        weekday: h.weekday.number_from_monday() as u8,
                        start: h.start.format(TIME).to_string(),
                        end: h.end.format(TIME).to_string(),
                    })
                    .collect();
                let mut leave: Vec<LeaveLine> = s
                    .exceptions
                    .iter()
                    .map(|x| LeaveLine {
                        id: x.id,
                        kind: kind_word(x.kind),
                        start_local: x.start.format(LOCAL).to_string(),
                        end_local: x.end.format(LOCAL).to_string(),
                        reason: x.reason.clone(),
                    })
                    .collect();
                leave.sort_by(|a, b| a.start_local.cmp(&b.start_local));
                (hours, leave)
            });
            clinicians.push(ClinicianSetup {
                id: c.id,
                name: c.name,
                hours,
                leave,
            });
        }
        let db = self.ws.store()?.db();
        let mut rooms = db
            .documents::<RoomDoc>()?
            .into_iter()
            .filter(|r| r.site_id == site.id)
            .map(|r| RoomLine {
                id: r.id,
                name: r.name,
                kind: r.kind,
            })
            .collect::<Vec<_>>();
        let types = all_types(&db)?.0.into_iter().map(TypeLine::from).collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(SetupView {
            site_name: site.name,
            timezone: site.timezone,
            clinicians,
            rooms,
            types,
            can_edit: s.permissions.allows(Module::Admin, Action::Edit),
            can_edit_rooms: s.permissions.check(&Permission::admin()).is_ok(),
        })
    }

    /// Replaces a clinician's weekly hours at this site (every weekday at
    /// once; periods of one day may not overlap).
    pub fn set_weekly_hours(&mut self, clinician: Uuid, lines: &[HoursLine]) -> ClinicResult<()> {
        let mut hours = Vec::new();
        for l in lines {
            hours.push(WeeklyHours {
                weekday: weekday(l.weekday)?,
                start: time("start", &l.start)?,
                end: time("end", &l.end)?,
            });
        }
        hours.sort_by_key(|h| (h.weekday.num_days_from_monday(), h.start));
        if let Some(w) = hours
            .windows(2)
            .find(|w| w[0].weekday == w[1].weekday && w[1].start < w[0].end)
        {
            return Err(ClinicError::field(
                "hours",
                format!(
                    "two periods on {} overlap ({}–{} and {}–{})",
                    w[0].weekday,
                    w[0].start.format(TIME),
                    w[0].end.format(TIME),
                    w[1].start.format(TIME),
                    w[1].end.format(TIME)
                ),
            ));
        }
        self.edit_schedule(clinician, None, |s| s.hours = hours)?;
        Ok(())
    }

    /// Adds leave (or blocked time) to a clinician's schedule at this site.
    pub fn add_leave(
        &mut self,
        clinician: Uuid,
        kind: &str,
        start_local: &str,
        end_local: &str,
        reason: Option<String>,
    ) -> ClinicResult<LeaveLine> {
        let kind = match kind {
            "leave" => ExceptionKind::Leave,
            "blocked" => ExceptionKind::Blocked,
            _ => return Err(ClinicError::field("kind", "is leave or blocked")),
        };
        let (start, end) = (local("start", start_local)?, local("end", end_local)?);
        if end <= start {
            return Err(ClinicError::field("end", "must be after the start"));
        }
        let id = new_id(self.ws.now());
        let reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        self.edit_schedule(clinician, None, |s| {
            s.exceptions.push(ScheduleException {
                id,
                kind,
                start,
                end,
                reason: reason.clone(),
            })
        })?;
        Ok(LeaveLine {
            id,
            kind: kind_word(kind),
            start_local: start.format(LOCAL).to_string(),
            end_local: end.format(LOCAL).to_string(),
            reason,
        })
    }

    /// Takes leave (or blocked time) off a clinician's schedule here.
    pub fn remove_leave(&mut self, clinician: Uuid, id: Uuid) -> ClinicResult<()> {
        let site = self.home_site()?;
        let known = self
            .clinician_schedule(clinician, site.id)?
            .is_some_and(|s| s.exceptions.iter().any(|x| x.id == id));
        if !known {
            return Err(ClinicError::not_found(
                "That leave is not on the schedule (removed on another desk?).",
            ));
        }
        self.edit_schedule(clinician, None, |s| s.exceptions.retain(|x| x.id != id))?;
        Ok(())
    }

    /// Adds a room to this site, or renames one (full administrators).
    pub fn save_room(
        &mut self,
        id: Option<Uuid>,
        name: &str,
        kind: &str,
    ) -> ClinicResult<RoomLine> {
        let (s, now) = self.ws.act(Module::Admin, Action::Edit)?;
        s.permissions.check(&Permission::admin())?;
        let site = self.home_site()?;
        let room = RoomDoc {
            id: id.unwrap_or_else(|| new_id(now)),
            site_id: site.id,
            name: name.trim().to_string(),
            kind: if kind.trim().is_empty() {
                "consulting".into()
            } else {
                kind.trim().to_string()
            },
        };
        room.validate()?;
        if self
            .ws
            .store()?
            .db()
            .documents::<RoomDoc>()?
            .iter()
            .any(|r| {
                r.site_id == site.id && r.id != room.id && r.name.eq_ignore_ascii_case(&room.name)
            })
        {
            return Err(ClinicError::field(
                "name",
                "another room here has that name",
            ));
        }
        self.save_document(&s, now, room.clone(), "room.save")?;
        Ok(RoomLine {
            id: room.id,
            name: room.name,
            kind: room.kind,
        })
    }

    /// Adds an appointment type (the nil id: a new one) or changes one (its
    /// length, colour, name; archived types are no longer offered when
    /// booking).
    pub fn save_type(&mut self, mut line: TypeLine) -> ClinicResult<TypeLine> {
        if line.id.is_nil() {
            line.id = new_id(self.ws.now());
        }
        let (db_types, built_in) = all_types(&self.ws.store()?.db())?;
        if db_types
            .iter()
            .any(|t| t.id != line.id && t.name.eq_ignore_ascii_case(line.name.trim()))
        {
            return Err(ClinicError::field(
                "name",
                "another appointment type has that name",
            ));
        }
        let old = db_types.iter().find(|t| t.id == line.id).cloned();
        // The first change to the built-in types keeps the others: they are
        // saved as the clinic's own first (else they would vanish with it).
        if built_in {
            for t in db_types.into_iter().filter(|t| t.id != line.id) {
                self.save_appointment_type(t)?;
            }
        }
        let t = AppointmentType {
            id: line.id,
            name: line.name.trim().to_string(),
            default_minutes: line.minutes,
            colour: line.colour.trim().to_lowercase(),
            buffer_before: old.as_ref().map_or(0, |o| o.buffer_before),
            buffer_after: old.as_ref().map_or(0, |o| o.buffer_after),
            archived: line.archived,
        };
        Ok(self.save_appointment_type(t)?.into())
    }
}
