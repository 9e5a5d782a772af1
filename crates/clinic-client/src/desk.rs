//! What the desktop app's screens show, built from the same use-cases as
//! the CLI: the calendar of a site between two local dates, a patient's
//! summary, the conflict inbox, the people and settings screens. Times are
//! given as the site's wall clock ("YYYY-MM-DDTHH:MM:SS"), because a
//! receptionist's screen must show the clinic's time, not the computer's.
//!
//! Every type here is serialised to the UI and, with the `ts` feature,
//! described to TypeScript (`ui/src/lib/bindings.ts` is generated from them).

use crate::workstation::Workstation;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use clinic_core::patients::Patient;
use clinic_core::permissions::{Action, Module};
use clinic_core::scheduling::{
    local_to_utc, parse_tz, utc_to_local, Appointment, AppointmentStatus, Span,
};
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::directory::User;
use clinic_store::scheduling::AppointmentFilter;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// Wall-clock format of every `*_local` field.
pub use crate::input::{parse_date, parse_local, LOCAL_FORMAT};

/// Where the app is: no store yet, store locked, nobody signed in, working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Setup,
    Locked,
    SignIn,
    Ready,
}

/// The signed-in person and what their role lets the screens offer.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SessionView {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub can_register: bool,
    pub can_edit: bool,
    pub can_book: bool,
    /// May open charts and write notes (clinical records and the medical history).
    pub can_document: bool,
    /// Sees invoices and balances (billing with the financial-data flag).
    pub can_bill: bool,
    /// Drafts, issues and takes payment.
    pub can_take_payment: bool,
    /// Sees the stock list, lots, orders and alerts (inventory).
    pub can_view_stock: bool,
    /// Dispenses, receives deliveries and counts stock.
    pub can_dispense: bool,
    /// Adjusts and writes off stock, moves it between lots, posts
    /// stocktakes, marks orders sent.
    pub can_manage_stock: bool,
    /// Approves purchase orders (they spend money: the financial-data flag).
    pub can_approve_orders: bool,
    /// Cancels purchase orders.
    pub can_cancel_orders: bool,
    pub is_admin: bool,
    /// An administrator reset the password: a new one first.
    pub must_change_password: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct AppState {
    pub stage: Stage,
    pub data_dir: String,
    pub clinic_name: Option<String>,
    pub site_name: Option<String>,
    pub device_name: Option<String>,
    pub enrolled: bool,
    /// The OS keychain can unlock this store.
    pub keychain: bool,
    pub user: Option<SessionView>,
    pub idle_lock_minutes: u32,
    /// The clinic's locale (a synced setting): how every screen writes and
    /// reads dates, times and numbers ("en-GB" until the store is open).
    pub locale: String,
    /// Staff who signed in here can unlock it with their own password
    /// (`unlock_as`); the store passphrase is then for administrators.
    pub staff_unlock: bool,
}

/// A search result line (the store's summary: no clinical data).
pub use clinic_store::patients::search::PatientSummary as PatientHit;

/// An appointment as the calendar and lists show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct AppointmentView {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub patient_number: String,
    pub clinician_id: Uuid,
    pub clinician_name: String,
    pub room_id: Option<Uuid>,
    pub room_name: Option<String>,
    pub type_name: String,
    pub colour: Option<String>,
    pub start_local: String,
    pub end_local: String,
    /// "Mon 23 Nov 09:30–10:00".
    pub label: String,
    pub minutes: u32,
    pub status: AppointmentStatus,
    pub status_reason: Option<String>,
    pub notes: Option<String>,
    /// Why it is a double booking waiting in the inbox.
    pub conflict: Option<String>,
    pub double_booking_accepted: bool,
    pub outside_hours: bool,
    /// The statuses a person may move it to now.
    pub next_statuses: Vec<AppointmentStatus>,
    /// Changes made to it that the server did not apply (another desk's
    /// came first), kept so that nothing reported done is out of sight.
    pub not_applied: Vec<NotAppliedView>,
}

/// A change to a record that the server did not apply as made.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct NotAppliedView {
    /// "change appointment".
    pub what: String,
    pub by: Option<String>,
    /// When it was made, in the site's wall-clock time.
    pub at_local: String,
    /// Why it was not applied.
    pub message: String,
    /// What it carried, in words ("to: cancelled · reason: clinician ill").
    pub carried: String,
}

impl NotAppliedView {
    pub(crate) fn of(n: &clinic_core::sync::RefusedChange, tz: chrono_tz::Tz) -> Self {
        NotAppliedView {
            what: n.what(),
            by: n.user_name.clone(),
            at_local: utc_to_local(tz, n.made_at).format(LOCAL_FORMAT).to_string(),
            message: n.message.clone(),
            carried: carried(&n.change),
        }
    }
}

/// A record as a person names it: a patient by name and number, an
/// appointment by its patient and time, a member of staff by name.
fn record_label(db: &clinic_store::Db, id: Uuid) -> Option<String> {
    if let Ok(Some(p)) = db.patient(id) {
        return Some(format!(
            "{} {} ({})",
            p.details.first_name, p.details.last_name, p.patient_number
        ));
    }
    if let Ok(Some(a)) = db.appointment(id) {
        let (patient, _) = crate::scheduling::appointment_labels(db, &a);
        let tz = parse_tz(&a.timezone).ok()?;
        let at = utc_to_local(tz, a.start).format("%a %d %b %H:%M");
        return Some(format!("appointment of {patient}, {at}"));
    }
    if let Ok(Some(u)) = db.user(id) {
        return Some(u.name);
    }
    None
}

/// The values a change carried, leaf by leaf, without ids and its kind.
fn carried(v: &serde_json::Value) -> String {
    fn walk(key: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value as V;
        match v {
            V::Object(o) => {
                for (k, x) in o {
                    if k != "kind" && k != "id" && !k.ends_with("_id") {
                        walk(k, x, out);
                    }
                }
            }
            V::Array(a) => a.iter().for_each(|x| walk(key, x, out)),
            V::String(s) if uuid::Uuid::parse_str(s).is_ok() => {}
            V::String(s) => out.push(format!("{}: {s}", key.replace('_', " "))),
            V::Bool(b) => out.push(format!(
                "{}: {}",
                key.replace('_', " "),
                if *b { "yes" } else { "no" }
            )),
            V::Number(n) => out.push(format!("{}: {n}", key.replace('_', " "))),
            V::Null => {}
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out.join(" · ")
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PatientSummary {
    pub patient: Patient,
    pub upcoming: Vec<AppointmentView>,
    pub past: Vec<AppointmentView>,
    /// Changes to the record that the server did not apply as made.
    pub not_applied: Vec<NotAppliedView>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Resource {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WorkingSpan {
    pub clinician_id: Uuid,
    pub start_local: String,
    pub end_local: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct TypeView {
    pub name: String,
    pub minutes: u32,
    pub colour: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct CalendarView {
    pub site_id: Uuid,
    pub site_name: String,
    pub timezone: String,
    /// Today at the site, "YYYY-MM-DD".
    pub today: String,
    /// Now at the site, "YYYY-MM-DDTHH:MM:SS" (where the day view opens).
    pub now_local: String,
    pub clinicians: Vec<Resource>,
    pub rooms: Vec<Resource>,
    pub appointments: Vec<AppointmentView>,
    /// Working time of clinicians who have a schedule at this site.
    pub working: Vec<WorkingSpan>,
    /// The clinicians who have working hours set at this site (the others
    /// can be booked at any time).
    pub with_hours: Vec<Uuid>,
    pub types: Vec<TypeView>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Slot {
    pub start_local: String,
    pub end_local: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct BookingConflictRow {
    pub appointment: AppointmentView,
    pub reason: String,
    pub overlaps: Vec<AppointmentView>,
}

/// A change the server refused, waiting for a person.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct RefusedChange {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub device_seq: i64,
    pub kind: String,
    pub message: String,
    pub made_at: String,
    /// `conflict` (someone else's change came first) or `rejected` (not allowed).
    pub status: String,
    /// Who made it, by name.
    pub made_by: Option<String>,
    /// What it was about, as a person reads it ("Ada Lovelace (P0000013)").
    pub about: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ConflictsView {
    pub bookings: Vec<BookingConflictRow>,
    pub refused: Vec<RefusedChange>,
}

/// A role as the administrator chooses it: its key, and its name in words
/// ("billing_clerk" is "Billing clerk").
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct RoleChoice {
    pub key: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub disabled: bool,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            disabled: u.status != "active",
            id: u.id,
            email: u.email,
            name: u.name,
            roles: u.roles,
        }
    }
}

/// Sync as the status bar shows it.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SyncView {
    pub enrolled: bool,
    /// The last exchange with the server succeeded, recently.
    pub online: bool,
    pub server: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pending: i64,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub open_conflicts: i64,
    /// A first download (or a sync started by hand) is running.
    pub syncing: bool,
    pub progress: Option<Progress>,
    /// Whose changes wait for them to sign in here ("2 changes wait for
    /// Rita Okafor to sign in on this desk"), when someone's do.
    pub waiting_for_signature: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Progress {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub done: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: i64,
}

/// "2 changes wait for Rita Okafor to sign in on this desk" (and for
/// everyone else whose changes wait).
fn waiting_text(w: &[crate::sync::WaitingForSignature]) -> Option<String> {
    let parts: Vec<String> = w
        .iter()
        .map(|u| {
            let n = if u.changes == 1 {
                "1 change waits".to_string()
            } else {
                format!("{} changes wait", u.changes)
            };
            format!("{n} for {} to sign in on this desk", u.name)
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A recorded error without its machine code ("UNREACHABLE: The sync
/// server … cannot be reached" → "The sync server … cannot be reached").
fn plain_words(e: &str) -> String {
    match e.split_once(": ") {
        Some((code, rest))
            if !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
        {
            rest.to_string()
        }
        _ => e.to_string(),
    }
}

/// How long after the last successful exchange the status still says
/// "online" (the live loop pushes every 5 s, so three missed rounds).
pub const ONLINE_WITHIN_SECS: i64 = 20;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SettingsView {
    pub data_dir: String,
    pub log_dir: String,
    pub version: String,
    pub server_url: Option<String>,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub clinic_name: Option<String>,
    pub site_name: Option<String>,
    pub timezone: Option<String>,
    pub keychain_linked: bool,
}

/// How a double booking is settled from the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum ResolveAction {
    Accept,
    Cancel,
    Move,
}

impl SessionView {
    pub fn of(s: &crate::Session) -> Self {
        let p = &s.permissions;
        Self {
            user_id: s.user_id,
            email: s.email.clone(),
            name: s.name.clone(),
            roles: s.roles.clone(),
            can_register: p.allows(Module::Patients, Action::Create),
            can_edit: p.allows(Module::Patients, Action::Edit),
            can_book: p.allows(Module::Appointments, Action::Create),
            can_document: p.allows(Module::Clinical, Action::Edit)
                && p.has_flag(clinic_core::permissions::SensitiveFlag::MedicalHistory),
            can_bill: p.allows(Module::Billing, Action::View)
                && p.has_flag(clinic_core::permissions::SensitiveFlag::FinancialData),
            can_take_payment: p.allows(Module::Billing, Action::Create)
                && p.has_flag(clinic_core::permissions::SensitiveFlag::FinancialData),
            can_view_stock: p.allows(Module::Inventory, Action::View),
            can_dispense: p.allows(Module::Inventory, Action::Create),
            can_manage_stock: p.allows(Module::Inventory, Action::Edit),
            can_approve_orders: p.allows(Module::Inventory, Action::Edit)
                && p.has_flag(clinic_core::permissions::SensitiveFlag::FinancialData),
            can_cancel_orders: p.allows(Module::Inventory, Action::Delete),
            is_admin: p.allows(Module::Admin, Action::Edit),
            must_change_password: s.must_change_password,
        }
    }
}

/// Names looked up once per screen, not once per appointment.
struct Names {
    tz: chrono_tz::Tz,
    staff: HashMap<Uuid, String>,
    rooms: HashMap<Uuid, String>,
    colours: HashMap<String, String>,
    not_applied: HashMap<Uuid, Vec<NotAppliedView>>,
}

impl Workstation {
    fn names(&self, timezone: &str) -> ClinicResult<Names> {
        let db = self.store()?.db();
        let mut rooms = HashMap::new();
        for s in db.sites()? {
            rooms.extend(db.rooms_of(s.id)?);
        }
        let tz = parse_tz(timezone)?;
        let mut not_applied: HashMap<Uuid, Vec<NotAppliedView>> = HashMap::new();
        let perms = self
            .session()
            .map(|s| s.permissions.clone())
            .unwrap_or_default();
        let mut notes: Vec<_> = db
            .documents::<clinic_core::sync::RefusedChange>()?
            .into_iter()
            .map(|n| crate::sync::visible_to(n, &perms))
            .collect();
        notes.sort_by_key(|n| n.made_at);
        for n in &notes {
            for r in &n.records {
                not_applied
                    .entry(*r)
                    .or_default()
                    .push(NotAppliedView::of(n, tz));
            }
        }
        Ok(Names {
            not_applied,
            tz,
            staff: db.users()?.into_iter().map(|u| (u.id, u.name)).collect(),
            rooms,
            colours: crate::scheduling::appointment_types(&db)?
                .into_iter()
                .map(|t| (t.name, t.colour))
                .collect(),
        })
    }

    fn view_with(&self, n: &Names, a: &Appointment) -> ClinicResult<AppointmentView> {
        let p = self.store()?.db().patient(a.patient_id)?;
        let (start, end) = (utc_to_local(n.tz, a.start), utc_to_local(n.tz, a.end()));
        Ok(AppointmentView {
            id: a.id,
            patient_id: a.patient_id,
            patient_name: p
                .as_ref()
                .map(|p| format!("{} {}", p.details.first_name, p.details.last_name))
                .unwrap_or_else(|| "(patient not on this workstation yet)".into()),
            patient_number: p.map(|p| p.patient_number).unwrap_or_default(),
            clinician_id: a.clinician_id,
            clinician_name: n.staff.get(&a.clinician_id).cloned().unwrap_or_default(),
            room_id: a.room_id,
            room_name: a.room_id.and_then(|r| n.rooms.get(&r).cloned()),
            type_name: a.type_name.clone(),
            colour: n.colours.get(&a.type_name).cloned(),
            start_local: start.format(LOCAL_FORMAT).to_string(),
            end_local: end.format(LOCAL_FORMAT).to_string(),
            label: format!("{}–{}", start.format("%a %d %b %H:%M"), end.format("%H:%M")),
            minutes: a.minutes,
            status: a.status,
            status_reason: a.status_reason.clone(),
            notes: a.notes.clone(),
            conflict: a.conflict.as_ref().map(|c| c.reason.clone()),
            double_booking_accepted: a.double_booking_accepted,
            outside_hours: a.outside_hours_accepted,
            next_statuses: AppointmentStatus::ALL
                .into_iter()
                .filter(|s| a.status.can_become(*s))
                .collect(),
            not_applied: n.not_applied.get(&a.id).cloned().unwrap_or_default(),
        })
    }

    /// One appointment as the screens show it (in its site's time zone).
    pub fn appointment_view(&self, a: &Appointment) -> ClinicResult<AppointmentView> {
        self.view_with(&self.names(&a.timezone)?, a)
    }

    fn views(&self, appts: &[Appointment]) -> ClinicResult<Vec<AppointmentView>> {
        let Some(first) = appts.first() else {
            return Ok(vec![]);
        };
        let n = self.names(&first.timezone)?;
        appts.iter().map(|a| self.view_with(&n, a)).collect()
    }

    /// A patient's record with their upcoming and last 20 past appointments.
    pub fn patient_summary(&mut self, id: Uuid) -> ClinicResult<PatientSummary> {
        let patient = self.patients().show(id)?;
        let now = self.now();
        let mut all = self.scheduling().list_appointments(&AppointmentFilter {
            patient_id: Some(id),
            include_ended: true,
            ..Default::default()
        })?;
        all.sort_by_key(|a| a.start);
        let (past, upcoming): (Vec<_>, Vec<_>) = all.into_iter().partition(|a| a.end() <= now);
        let past: Vec<_> = past.into_iter().rev().take(20).collect();
        let tz = parse_tz(&self.home_site()?.timezone)?;
        let not_applied = self
            .not_applied(id)?
            .iter()
            .map(|n| NotAppliedView::of(n, tz))
            .collect();
        Ok(PatientSummary {
            patient,
            upcoming: self.views(&upcoming)?,
            past: self.views(&past)?,
            not_applied,
        })
    }

    /// The home site's calendar from local date `from` up to (not
    /// including) `to`: at most 42 days.
    pub fn calendar(&mut self, from: NaiveDate, to: NaiveDate) -> ClinicResult<CalendarView> {
        self.act(Module::Appointments, Action::View)?;
        let days = (to - from).num_days();
        if !(1..=42).contains(&days) {
            return Err(ClinicError::field(
                "to",
                "must be 1 to 42 days after the first day",
            ));
        }
        let site = crate::scheduling::home_site(&self.store()?.db())?;
        let tz = parse_tz(&site.timezone)?;
        let span = Span::new(
            local_to_utc(tz, from.and_time(NaiveTime::MIN)),
            local_to_utc(tz, to.and_time(NaiveTime::MIN)),
        );
        let appts = self.store()?.db().appointments(&AppointmentFilter {
            site_id: Some(site.id),
            span: Some(span),
            include_ended: true,
            ..Default::default()
        })?;
        let n = self.names(&site.timezone)?;
        let appointments = appts
            .iter()
            .map(|a| self.view_with(&n, a))
            .collect::<ClinicResult<Vec<_>>>()?;
        let clinicians = self.scheduling().clinicians()?;
        let mut working = Vec::new();
        let mut with_hours = Vec::new();
        for c in &clinicians {
            if let Some(s) = self.scheduling().clinician_schedule(c.id, site.id)? {
                if !s.hours.is_empty() || !s.shifts.is_empty() {
                    with_hours.push(c.id);
                }
                for w in s.working_spans(from, to - Duration::days(1)) {
                    working.push(WorkingSpan {
                        clinician_id: c.id,
                        start_local: utc_to_local(tz, w.start).format(LOCAL_FORMAT).to_string(),
                        end_local: utc_to_local(tz, w.end).format(LOCAL_FORMAT).to_string(),
                    });
                }
            }
        }
        Ok(CalendarView {
            site_id: site.id,
            today: utc_to_local(tz, self.now()).date().to_string(),
            now_local: utc_to_local(tz, self.now())
                .format(LOCAL_FORMAT)
                .to_string(),
            rooms: self
                .scheduling()
                .site_rooms(site.id)?
                .into_iter()
                .map(|(id, name)| Resource { id, name })
                .collect(),
            clinicians: clinicians
                .into_iter()
                .map(|u| Resource {
                    id: u.id,
                    name: u.name,
                })
                .collect(),
            appointments,
            working,
            with_hours,
            types: self
                .scheduling()
                .appointment_types()?
                .into_iter()
                .map(|t| TypeView {
                    name: t.name,
                    minutes: t.default_minutes,
                    colour: Some(t.colour),
                })
                .collect(),
            site_name: site.name,
            timezone: site.timezone,
        })
    }

    /// A wall-clock time at the home site as an instant.
    pub fn home_instant(&self, field_name: &str, local: &str) -> ClinicResult<DateTime<Utc>> {
        let site = crate::scheduling::home_site(&self.store()?.db())?;
        Ok(local_to_utc(
            parse_tz(&site.timezone)?,
            parse_local(field_name, local)?,
        ))
    }

    /// The next `count` free starts (up to two weeks ahead) as the finder lists them.
    pub fn slot_views(
        &mut self,
        clinician: Uuid,
        minutes: u32,
        from_local: &str,
        count: usize,
    ) -> ClinicResult<Vec<Slot>> {
        let from = self.home_instant("from_local", from_local)?;
        let tz = parse_tz(&self.scheduling().home_site()?.timezone)?;
        Ok(self
            .scheduling()
            .find_slots(clinician, minutes, from, 14, count.clamp(1, 20), None)?
            .into_iter()
            .map(|s| {
                let (a, b) = (
                    utc_to_local(tz, s),
                    utc_to_local(tz, s + Duration::minutes(minutes as i64)),
                );
                Slot {
                    start_local: a.format(LOCAL_FORMAT).to_string(),
                    end_local: b.format(LOCAL_FORMAT).to_string(),
                    label: format!("{}–{}", a.format("%a %d %b %H:%M"), b.format("%H:%M")),
                }
            })
            .collect())
    }

    /// The inbox: double bookings at this site, then refused changes.
    pub fn conflicts_view(&mut self) -> ClinicResult<ConflictsView> {
        let mut bookings = Vec::new();
        for c in self.scheduling().booking_conflicts()? {
            bookings.push(BookingConflictRow {
                appointment: self.appointment_view(&c.appointment)?,
                reason: c.reason,
                overlaps: self.views(&c.overlaps)?,
            });
        }
        let problems = self.sync_conflicts()?;
        let db = self.store()?.db();
        let mut refused = Vec::with_capacity(problems.len());
        for e in problems {
            let made_by = match e.user_id {
                Some(u) => db.user(u)?.map(|u| u.name),
                None => None,
            };
            let about = e
                .mutation
                .touches()
                .into_iter()
                .find_map(|id| record_label(&db, id));
            refused.push(RefusedChange {
                device_seq: e.device_seq,
                message: e
                    .message
                    .clone()
                    .unwrap_or_else(|| "The server refused this change.".into()),
                kind: e.kind.replace('_', " "),
                made_at: e.at.to_rfc3339(),
                status: e.status,
                made_by,
                about,
            });
        }
        Ok(ConflictsView { bookings, refused })
    }

    /// Settles a double booking from the inbox.
    pub fn resolve_from_inbox(
        &mut self,
        id: Uuid,
        action: ResolveAction,
        reason: Option<String>,
        start_local: Option<&str>,
    ) -> ClinicResult<Appointment> {
        use clinic_core::scheduling::Resolution;
        let resolution = match action {
            ResolveAction::Accept => Resolution::AcceptDoubleBooking,
            ResolveAction::Cancel => Resolution::Cancel {
                reason: reason.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                    ClinicError::field("reason", "say why the appointment is cancelled")
                })?,
            },
            ResolveAction::Move => {
                let a = self.scheduling().show_appointment(id)?;
                let start = self.home_instant(
                    "start_local",
                    start_local
                        .ok_or_else(|| ClinicError::field("start_local", "is required to move"))?,
                )?;
                Resolution::Move {
                    start,
                    minutes: a.minutes,
                    clinician_id: a.clinician_id,
                    room_id: a.room_id,
                }
            }
        };
        self.scheduling().resolve_booking_conflict(id, resolution)
    }

    /// The status bar's figures (no network call: "online" means the live
    /// loop's last exchange succeeded within [`ONLINE_WITHIN_SECS`]).
    pub fn sync_view(&self) -> ClinicResult<SyncView> {
        let s = self.sync_status(false)?;
        let now = self.now();
        let recent = s
            .last_success
            .is_some_and(|t| (now - t).num_seconds() <= ONLINE_WITHIN_SECS);
        Ok(SyncView {
            enrolled: s.enrolled,
            online: s.enrolled && recent && s.last_error.is_none(),
            server: s.server,
            pending: s.pending,
            last_success: s.last_success.map(|t| t.to_rfc3339()),
            last_error: s.last_error.map(|e| plain_words(&e)),
            open_conflicts: s.open_conflicts as i64 + self.open_booking_conflicts()?,
            syncing: false,
            progress: None,
            waiting_for_signature: waiting_text(&s.waiting_for_signature),
        })
    }

    fn open_booking_conflicts(&self) -> ClinicResult<i64> {
        let db = self.store()?.db();
        let site = crate::scheduling::home_site(&db).ok().map(|s| s.id);
        Ok(db.appointment_conflicts(site)?.len() as i64)
    }

    /// The name given to this workstation when it was enrolled.
    pub fn device_name(&self) -> ClinicResult<Option<String>> {
        Ok(self.store()?.db().meta("device_name")?)
    }

    pub fn user_views(&mut self) -> ClinicResult<Vec<UserView>> {
        Ok(self
            .directory()
            .list_users()?
            .into_iter()
            .map(UserView::from)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_errors_lose_their_machine_code_only() {
        assert_eq!(
            super::plain_words(
                "UNREACHABLE: The sync server at http://x cannot be reached: refused"
            ),
            "The sync server at http://x cannot be reached: refused"
        );
        assert_eq!(
            super::plain_words("Disk full: no space"),
            "Disk full: no space"
        );
        assert_eq!(
            crate::input::parse_local("x", "2026-11-23T09:30")
                .unwrap()
                .to_string(),
            "2026-11-23 09:30:00"
        );
        assert_eq!(
            crate::input::parse_local("start", "23/11/2026")
                .unwrap_err()
                .fields[0]
                .field,
            "start"
        );
    }
}
