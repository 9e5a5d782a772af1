//! iCalendar (RFC 5545) export of one clinician's appointments, pure: the
//! text a calendar program (Outlook, Google, Apple) subscribes to or imports.
//!
//! What makes such a feed work well in those programs:
//! - every appointment keeps one `UID` (`<id>@clinic`) for life, and its
//!   `SEQUENCE` grows with each change, so a moved or cancelled appointment
//!   updates the event the reader already has instead of adding another;
//! - times are wall-clock times of the site's zone (`DTSTART;TZID=…`) with a
//!   `VTIMEZONE` that spells out that zone's offsets for the years the events
//!   span. Its observances are the zone's actual transitions, found in the
//!   chrono-tz database and emitted as dated observances (no `RRULE`), so
//!   they are exact even for years whose rules differ from today's;
//! - the text is escaped, CRLF-terminated and folded at 75 octets without
//!   ever splitting a UTF-8 character, as the RFC requires.

use chrono::{DateTime, Datelike, Duration, LocalResult, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use clinic_core::scheduling::{utc_to_local, Appointment, AppointmentMode, AppointmentStatus};
use std::collections::BTreeMap;

pub const PRODID: &str = "-//Clinic//Clinic Scheduling//EN";

/// One clinician's calendar as exported.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarInput {
    pub clinician_name: String,
    /// Shown as the events' organiser when given.
    pub clinician_email: Option<String>,
    pub site_name: String,
    /// The site's IANA zone: every time is given in it. An unknown name
    /// falls back to each appointment's own zone.
    pub timezone: String,
    pub appointments: Vec<CalendarEvent>,
    /// The export's time (`DTSTAMP`); passed in, as the domain has no clock.
    pub generated_at: DateTime<Utc>,
}

/// An appointment with the names it is shown with.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarEvent {
    pub appointment: Appointment,
    /// How the patient is named, e.g. "Ada Okafor (P-000123)".
    pub patient_label: String,
    pub room_name: Option<String>,
}

/// The whole `VCALENDAR`, CRLF-terminated and folded.
pub fn clinician_calendar(cal: &CalendarInput) -> String {
    let site_tz = cal.timezone.parse::<Tz>().ok();
    let zone_of = |a: &Appointment| site_tz.unwrap_or_else(|| a.tz());
    let mut events: Vec<&CalendarEvent> = cal.appointments.iter().collect();
    events.sort_by_key(|e| (e.appointment.start, e.appointment.id));

    // The local years each zone's events fall in, for its VTIMEZONE.
    let mut zones: BTreeMap<&'static str, (Tz, i32, i32)> = BTreeMap::new();
    for e in &events {
        let tz = zone_of(&e.appointment);
        for t in [e.appointment.start, e.appointment.end()] {
            let y = utc_to_local(tz, t).year();
            let z = zones.entry(tz.name()).or_insert((tz, y, y));
            (z.1, z.2) = (z.1.min(y), z.2.max(y));
        }
    }

    let calname = format!("{} – {}", cal.clinician_name, cal.site_name);
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        format!("PRODID:{PRODID}"),
        "VERSION:2.0".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("X-WR-CALNAME:{}", escape_text(&calname)),
    ];
    if let Some(tz) = site_tz {
        lines.push(format!("X-WR-TIMEZONE:{}", tz.name()));
    }
    for (tz, first, last) in zones.values() {
        lines.extend(vtimezone(*tz, *first, *last));
    }
    for e in events {
        lines.extend(vevent(cal, e, zone_of(&e.appointment)));
    }
    lines.push("END:VCALENDAR".into());

    let mut out = String::new();
    for l in lines {
        out.push_str(&fold_line(&l));
        out.push_str("\r\n");
    }
    out
}

fn vevent(cal: &CalendarInput, e: &CalendarEvent, tz: Tz) -> Vec<String> {
    let a = &e.appointment;
    // Seconds between booking and the last change: grows with every change.
    let sequence = (a.updated_at - a.created_at)
        .num_seconds()
        .clamp(0, i32::MAX as i64);
    let location = std::iter::once(cal.site_name.trim())
        .chain(e.room_name.as_deref().map(str::trim))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let link = a
        .meeting_link
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty() && a.mode == AppointmentMode::Virtual);

    let mut l = vec![
        "BEGIN:VEVENT".to_string(),
        format!("UID:{}@clinic", a.id),
        format!("DTSTAMP:{}", utc_stamp(cal.generated_at)),
        format!("CREATED:{}", utc_stamp(a.created_at)),
        format!("LAST-MODIFIED:{}", utc_stamp(a.updated_at)),
        format!("SEQUENCE:{sequence}"),
        zoned("DTSTART", tz, a.start),
        zoned("DTEND", tz, a.end()),
        format!(
            "SUMMARY:{}",
            escape_text(&format!(
                "{}: {}",
                a.type_name.trim(),
                e.patient_label.trim()
            ))
        ),
    ];
    if !location.is_empty() {
        l.push(format!("LOCATION:{}", escape_text(&location)));
    }
    let description = description(a);
    if !description.is_empty() {
        l.push(format!("DESCRIPTION:{}", escape_text(&description)));
    }
    if let Some(link) = link {
        // A URI, not TEXT: no escaping, only no line breaks.
        l.push(format!(
            "URL:{}",
            link.replace(|c: char| c.is_control(), "")
        ));
    }
    l.push(format!("STATUS:{}", event_status(a.status)));
    l.push(format!(
        "TRANSP:{}",
        if a.status.occupies() {
            "OPAQUE"
        } else {
            "TRANSPARENT"
        }
    ));
    // Patient names: a hint to shared calendars to show only "busy".
    l.push("CLASS:PRIVATE".into());
    l.push(format!("CATEGORIES:{}", escape_text(a.type_name.trim())));
    if let Some(email) = cal.clinician_email.as_deref().map(str::trim) {
        if !email.is_empty() {
            l.push(format!(
                "ORGANIZER;CN={}:mailto:{email}",
                param_value(&cal.clinician_name)
            ));
        }
    }
    l.push("END:VEVENT".into());
    l
}

/// The event's DESCRIPTION before escaping: the notes, then how to join.
pub fn description(a: &Appointment) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(n) = a.notes.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        parts.push(n.to_string());
    }
    match (a.mode, a.meeting_link.as_deref().map(str::trim)) {
        (AppointmentMode::Virtual, Some(link)) if !link.is_empty() => {
            parts.push(format!("Video call: {link}"))
        }
        (AppointmentMode::Virtual, _) => parts.push("Video call".into()),
        (AppointmentMode::Phone, _) => parts.push("By phone".into()),
        (AppointmentMode::InPerson, _) => {}
    }
    parts.join("\n")
}

/// VEVENT `STATUS` of an appointment status.
pub fn event_status(s: AppointmentStatus) -> &'static str {
    use AppointmentStatus::*;
    match s {
        Scheduled => "TENTATIVE",
        Confirmed | Arrived | InProgress | Completed => "CONFIRMED",
        Cancelled | NoShow | Rescheduled => "CANCELLED",
    }
}

/// TEXT value escaping (RFC 5545 3.3.11): `\` `;` `,` and line breaks;
/// other control characters (not allowed in TEXT) are dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value, quoted when it holds `:` `;` or `,` (a quote itself
/// cannot appear in one and becomes `'`).
fn param_value(s: &str) -> String {
    let s: String = s
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' { '\'' } else { c })
        .collect();
    if s.contains([':', ';', ',']) {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// One content line folded (RFC 5545 3.1): physical lines of at most 75
/// octets, continuation lines starting with a space; a character is never
/// split. Without the final CRLF.
pub fn fold_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 37);
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `NAME;TZID=zone:local` — or, for the second of two equal wall-clock
/// times of an autumn night (which RFC 5545 reads as the first), the
/// instant in UTC, so every time converts back exactly.
fn zoned(name: &str, tz: Tz, t: DateTime<Utc>) -> String {
    let local = utc_to_local(tz, t);
    match tz.from_local_datetime(&local) {
        LocalResult::Ambiguous(first, _) if first.with_timezone(&Utc) != t => {
            format!("{name}:{}", utc_stamp(t))
        }
        _ => format!(
            "{name};TZID={}:{}",
            tz.name(),
            local.format("%Y%m%dT%H%M%S")
        ),
    }
}

/// (total offset, daylight-saving part) in seconds at an instant.
fn offset_at(tz: Tz, t: DateTime<Utc>) -> (i32, i64) {
    let o = tz.offset_from_utc_datetime(&t.naive_utc());
    (o.fix().local_minus_utc(), o.dst_offset().num_seconds())
}

/// The instants in `[from, to]` at which `tz`'s offset changes: scanned in
/// 6-hour steps (no zone changes twice within 6 hours), then pinned to the
/// second by bisection.
fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let next = (t + Duration::hours(6)).min(to);
        if offset_at(tz, t) != offset_at(tz, next) {
            // `lo` has the old offset, `hi` the new one.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == offset_at(tz, lo) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(hi);
        }
        t = next;
    }
    out
}

/// `±HHMM` (or `±HHMMSS` for the odd historical offset).
fn utc_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

/// The observance that starts at `at`, when the offset before was `from`.
fn observance(tz: Tz, at: DateTime<Utc>, from: i32) -> Vec<String> {
    let o = tz.offset_from_utc_datetime(&at.naive_utc());
    let kind = if o.dst_offset().is_zero() {
        "STANDARD"
    } else {
        "DAYLIGHT"
    };
    // DTSTART is the onset in the wall-clock time in force before it.
    let onset = (at + Duration::seconds(from as i64)).naive_utc();
    let mut l = vec![
        format!("BEGIN:{kind}"),
        format!("DTSTART:{}", onset.format("%Y%m%dT%H%M%S")),
        format!("TZOFFSETFROM:{}", utc_offset(from)),
        format!("TZOFFSETTO:{}", utc_offset(o.fix().local_minus_utc())),
    ];
    if let Some(name) = o.abbreviation() {
        l.push(format!("TZNAME:{}", escape_text(name)));
    }
    l.push(format!("END:{kind}"));
    l
}

/// The `VTIMEZONE` of `tz` for local times of `first_year..=last_year`: the
/// offset in force when that range begins, then each transition in it.
pub fn vtimezone(tz: Tz, first_year: i32, last_year: i32) -> Vec<String> {
    // A day's margin either side covers every local time of those years,
    // whatever the offset.
    let year_start = |y| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).single();
    let (Some(from), Some(to)) = (year_start(first_year), year_start(last_year + 1)) else {
        return Vec::new();
    };
    let (from, to) = (from - Duration::days(1), to + Duration::days(1));
    let mut l = vec!["BEGIN:VTIMEZONE".to_string(), format!("TZID:{}", tz.name())];
    l.extend(observance(tz, from, offset_at(tz, from).0));
    for t in transitions(tz, from, to) {
        l.extend(observance(tz, t, offset_at(tz, t - Duration::seconds(1)).0));
    }
    l.push("END:VTIMEZONE".into());
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use icalendar::parser::{read_calendar, unfold, Component};
    use uuid::Uuid;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn appt(id: u128, start: &str, minutes: u32) -> Appointment {
        serde_json::from_value(serde_json::json!({
            "id": Uuid::from_u128(id), "tenant_id": Uuid::from_u128(1), "site_id": Uuid::from_u128(2),
            "patient_id": Uuid::from_u128(200), "clinician_id": Uuid::from_u128(100),
            "type_name": "Consultation", "start": start, "minutes": minutes,
            "timezone": "Europe/London", "status": "scheduled",
            "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-05T10:00:00Z"
        }))
        .unwrap()
    }

    fn event(a: Appointment, label: &str, room: Option<&str>) -> CalendarEvent {
        CalendarEvent {
            appointment: a,
            patient_label: label.into(),
            room_name: room.map(Into::into),
        }
    }

    fn calendar(tz: &str, appointments: Vec<CalendarEvent>) -> CalendarInput {
        CalendarInput {
            clinician_name: "Dr Grace Hopper".into(),
            clinician_email: Some("grace@example.org".into()),
            site_name: "Northside Clinic".into(),
            timezone: tz.into(),
            appointments,
            generated_at: at("2026-11-22T10:15:00Z"),
        }
    }

    fn prop<'a>(c: &'a Component, name: &str) -> &'a str {
        c.find_prop(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .val
            .as_str()
    }

    fn param<'a>(c: &'a Component, name: &str, key: &str) -> Option<&'a str> {
        let p = c.find_prop(name)?.params.iter().find(|p| p.key == key)?;
        p.val.as_ref().map(|v| v.as_str())
    }

    /// Parses unfolded text with the independent `icalendar` crate:
    /// (VTIMEZONEs, VEVENTs).
    fn parse(unfolded: &str) -> (Vec<Component<'_>>, Vec<Component<'_>>) {
        let cal = read_calendar(unfolded).expect("parses");
        let of = |n: &str| -> Vec<Component<'_>> {
            cal.components
                .iter()
                .filter(|c| c.name == n)
                .cloned()
                .collect()
        };
        (of("VTIMEZONE"), of("VEVENT"))
    }

    fn offset_secs(s: &str) -> i64 {
        let sign = if s.starts_with('-') { -1 } else { 1 };
        let d: Vec<i64> = s.as_bytes()[1..]
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
            .collect();
        sign * (d[0] * 3600 + d[1] * 60 + d.get(2).copied().unwrap_or(0))
    }

    /// The UTC instant of a local time, read with nothing but the VTIMEZONE
    /// observances as emitted (independently of chrono-tz).
    fn resolve(vtz: &Component, local: NaiveDateTime) -> DateTime<Utc> {
        // Each observance: its onset in UTC and the offset it brings.
        let mut obs: Vec<(NaiveDateTime, i64)> = vtz
            .components
            .iter()
            .map(|o| {
                let start =
                    NaiveDateTime::parse_from_str(prop(o, "DTSTART"), "%Y%m%dT%H%M%S").unwrap();
                let from = offset_secs(prop(o, "TZOFFSETFROM"));
                (
                    start - Duration::seconds(from),
                    offset_secs(prop(o, "TZOFFSETTO")),
                )
            })
            .collect();
        obs.sort();
        // An observance holds from its onset to the next one's. A time of
        // the repeated autumn hour fits two: RFC 5545 means the first.
        (0..obs.len())
            .filter_map(|i| {
                let utc = local - Duration::seconds(obs[i].1);
                let next = obs.get(i + 1).map(|o| o.0);
                (utc >= obs[i].0 && next.is_none_or(|n| utc < n)).then_some(utc)
            })
            .min()
            .map(|utc| Utc.from_utc_datetime(&utc))
            .expect("the VTIMEZONE covers the time")
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap()
    }

    #[test]
    fn folding_keeps_lines_within_75_octets_and_never_splits_a_character() {
        assert_eq!(fold_line("SUMMARY:short"), "SUMMARY:short");
        for text in [
            "a".repeat(300),
            "é".repeat(200),
            "日本語のメモ".repeat(40),
            "x🙂".repeat(90),
        ] {
            let line = format!("DESCRIPTION:{text}");
            let folded = fold_line(&line);
            let physical: Vec<&str> = folded.split("\r\n").collect();
            assert!(physical.len() > 1);
            for (i, p) in physical.iter().enumerate() {
                assert!(p.len() <= 75, "{} octets", p.len());
                assert_eq!(i > 0, p.starts_with(' '));
            }
            // Full lines are used up to what a character allows.
            assert!(physical[0].len() > 71);
            assert_eq!(folded.replace("\r\n ", ""), line);
        }
    }

    #[test]
    fn text_escaping_covers_backslash_semicolon_comma_and_line_breaks() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\r\nf\rg\u{7}h\ti"),
            "a\\\\b\\;c\\,d\\ne\\nf\\ngh\ti"
        );
        assert_eq!(escape_text("Ada Okafor"), "Ada Okafor");
        assert_eq!(param_value("Dr Hopper"), "Dr Hopper");
        assert_eq!(param_value("Hopper, \"G\""), "\"Hopper, 'G'\"");
    }

    #[test]
    fn status_maps_to_event_status() {
        use AppointmentStatus::*;
        for (s, want) in [
            (Scheduled, "TENTATIVE"),
            (Confirmed, "CONFIRMED"),
            (Arrived, "CONFIRMED"),
            (InProgress, "CONFIRMED"),
            (Completed, "CONFIRMED"),
            (Cancelled, "CANCELLED"),
            (NoShow, "CANCELLED"),
            (Rescheduled, "CANCELLED"),
        ] {
            assert_eq!(event_status(s), want, "{s:?}");
        }
    }

    /// Appointments either side of both 2026 London transitions.
    fn sample() -> CalendarInput {
        let mut a = appt(11, "2026-03-27T09:00:00Z", 30); // 09:00 GMT
        a.status = AppointmentStatus::Confirmed;
        a.notes = Some("Bring the referral letter\nFasting since 8pm".into());
        let mut b = appt(12, "2026-03-30T08:00:00Z", 45); // 09:00 BST
        b.mode = AppointmentMode::Virtual;
        b.meeting_link = Some("https://meet.example.org/room/4f2a?pwd=x;y".into());
        b.notes = Some(
            "Follow-up of the knee MRI — discuss physiotherapy, the café-au-lait \
             spots on the left shin; and whether the patient can drive, cycle \
             or climb stairs without pain. Résumé: improving."
                .into(),
        );
        b.type_name = "Follow-up".into();
        let mut c = appt(13, "2026-10-23T13:00:00Z", 20); // 14:00 BST
        c.status = AppointmentStatus::Cancelled;
        let mut d = appt(14, "2026-10-26T09:00:00Z", 30); // 09:00 GMT
        d.status = AppointmentStatus::Completed;
        d.mode = AppointmentMode::Phone;
        calendar(
            "Europe/London",
            vec![
                event(d, "Lin Wei (P-000125)", None),
                event(a, "Okafor, Ada; \"Ada\" (P-000123)", Some("Room 2")),
                event(b, "Jean Dupont (P-000124)", None),
                event(c, "Lin Wei (P-000125)", Some("Room 3")),
            ],
        )
    }

    #[test]
    fn export_parses_with_an_independent_parser() {
        let cal = sample();
        let text = clinician_calendar(&cal);
        // CRLF everywhere, 75 octets at most, and the long description folded.
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert!(!text.replace("\r\n", "").contains(['\n', '\r']));
        assert!(text.split("\r\n").all(|l| l.len() <= 75));
        assert!(text.contains("\r\n "));

        let unfolded = unfold(&text);
        let parsed = read_calendar(&unfolded).expect("parses");
        let head = |n: &str| {
            parsed
                .properties
                .iter()
                .find(|p| p.name == n)
                .map(|p| p.val.as_str().to_string())
        };
        assert_eq!(head("VERSION").as_deref(), Some("2.0"));
        assert_eq!(head("PRODID").as_deref(), Some(PRODID));
        assert_eq!(head("CALSCALE").as_deref(), Some("GREGORIAN"));
        assert_eq!(head("METHOD").as_deref(), Some("PUBLISH"));
        assert_eq!(
            head("X-WR-CALNAME").as_deref(),
            Some("Dr Grace Hopper – Northside Clinic")
        );

        let (zones, events) = parse(&unfolded);
        assert_eq!(events.len(), 4);
        let uids: Vec<&str> = events.iter().map(|e| prop(e, "UID")).collect();
        let want: Vec<String> = (11..=14)
            .map(|i| format!("{}@clinic", Uuid::from_u128(i)))
            .collect();
        assert_eq!(uids, want, "one event each, in time order");
        let starts: Vec<(&str, Option<&str>)> = events
            .iter()
            .map(|e| (prop(e, "DTSTART"), param(e, "DTSTART", "TZID")))
            .collect();
        let london = Some("Europe/London");
        assert_eq!(
            starts,
            vec![
                ("20260327T090000", london),
                ("20260330T090000", london),
                ("20261023T140000", london),
                ("20261026T090000", london),
            ]
        );
        assert_eq!(prop(&events[1], "DTEND"), "20260330T094500");
        assert_eq!(param(&events[1], "DTEND", "TZID"), london);
        assert_eq!(prop(&events[0], "DTSTAMP"), "20261122T101500Z");

        // TEXT round trips: comma, semicolon, quotes, line break.
        assert_eq!(
            prop(&events[0], "SUMMARY"),
            "Consultation: Okafor, Ada; \"Ada\" (P-000123)"
        );
        assert_eq!(
            prop(&events[0], "DESCRIPTION"),
            "Bring the referral letter\nFasting since 8pm"
        );
        assert_eq!(prop(&events[0], "LOCATION"), "Northside Clinic, Room 2");
        let b = &cal.appointments[2].appointment;
        let long = format!(
            "{}\nVideo call: {}",
            b.notes.as_deref().unwrap(),
            b.meeting_link.as_deref().unwrap()
        );
        assert!(long.len() > 200);
        assert_eq!(prop(&events[1], "DESCRIPTION"), long);
        assert_eq!(
            prop(&events[1], "URL"),
            "https://meet.example.org/room/4f2a?pwd=x;y"
        );
        assert_eq!(prop(&events[1], "CATEGORIES"), "Follow-up");
        assert_eq!(prop(&events[3], "DESCRIPTION"), "By phone");
        assert!(events[0].find_prop("URL").is_none());
        let statuses: Vec<&str> = events.iter().map(|e| prop(e, "STATUS")).collect();
        assert_eq!(
            statuses,
            ["CONFIRMED", "TENTATIVE", "CANCELLED", "CONFIRMED"]
        );
        assert_eq!(prop(&events[2], "TRANSP"), "TRANSPARENT");
        assert_eq!(prop(&events[0], "ORGANIZER"), "mailto:grace@example.org");
        assert_eq!(
            param(&events[0], "ORGANIZER", "CN"),
            Some("Dr Grace Hopper")
        );

        // One VTIMEZONE whose observances are the 2026 transitions.
        assert_eq!(zones.len(), 1);
        assert_eq!(prop(&zones[0], "TZID"), "Europe/London");
        let obs: Vec<(String, &str, &str, &str)> = zones[0]
            .components
            .iter()
            .map(|o| {
                (
                    o.name.as_str().to_string(),
                    prop(o, "DTSTART"),
                    prop(o, "TZOFFSETFROM"),
                    prop(o, "TZOFFSETTO"),
                )
            })
            .collect();
        let o = |k: &str, s, f, t| (k.to_string(), s, f, t);
        assert_eq!(
            obs,
            vec![
                o("STANDARD", "20251231T000000", "+0000", "+0000"),
                o("DAYLIGHT", "20260329T010000", "+0000", "+0100"),
                o("STANDARD", "20261025T020000", "+0100", "+0000"),
            ]
        );
        assert_eq!(prop(&zones[0].components[1], "TZNAME"), "BST");
    }

    #[test]
    fn uid_stays_and_sequence_grows_when_an_appointment_is_moved() {
        let mut cal = calendar(
            "Europe/London",
            vec![event(appt(21, "2026-03-30T08:00:00Z", 30), "A (P-1)", None)],
        );
        let export = |cal: &CalendarInput| unfold(&clinician_calendar(cal));
        let text = export(&cal);
        let before = parse(&text).1;
        let a = &mut cal.appointments[0].appointment;
        a.start = at("2026-03-31T13:00:00Z");
        a.updated_at = at("2026-03-20T16:00:00Z");
        cal.generated_at = at("2026-03-21T08:00:00Z");
        let text = export(&cal);
        let after = parse(&text).1;
        assert_eq!(prop(&before[0], "UID"), prop(&after[0], "UID"));
        let seq = |e: &Component| prop(e, "SEQUENCE").parse::<i64>().unwrap();
        assert_eq!(seq(&before[0]), 0);
        assert!(seq(&after[0]) > seq(&before[0]));
        assert_eq!(prop(&after[0], "DTSTART"), "20260331T140000");
        assert_eq!(prop(&after[0], "DTSTAMP"), "20260321T080000Z");
        // A later change gives a higher number again.
        cal.appointments[0].appointment.updated_at = at("2026-03-22T09:00:00Z");
        let text = export(&cal);
        let later = parse(&text).1;
        assert!(seq(&later[0]) > seq(&after[0]));
    }

    #[test]
    fn local_times_with_the_emitted_offsets_give_back_the_utc_start() {
        let cases: [(&str, &[&str]); 3] = [
            (
                "Europe/London",
                &[
                    "2026-01-02T09:00:00Z",
                    "2026-03-27T09:00:00Z",
                    "2026-03-29T00:30:00Z", // 00:30 GMT, just before the gap
                    "2026-03-29T01:30:00Z", // 02:30 BST, just after it
                    "2026-03-30T08:00:00Z",
                    "2026-10-23T13:00:00Z",
                    "2026-10-25T00:30:00Z", // 01:30 BST, the first 01:30
                    "2026-10-25T01:30:00Z", // 01:30 GMT, the second 01:30
                    "2026-10-26T09:00:00Z",
                    "2027-01-04T09:00:00Z",
                    "2027-03-29T08:00:00Z",
                ],
            ),
            (
                "America/New_York",
                &[
                    "2026-03-06T14:00:00Z",
                    "2026-03-09T13:00:00Z",
                    "2026-10-30T13:00:00Z",
                    "2026-11-02T14:00:00Z",
                ],
            ),
            (
                // Southern hemisphere: summer time over the new year.
                "Australia/Sydney",
                &[
                    "2026-01-05T22:00:00Z",
                    "2026-04-02T22:00:00Z",
                    "2026-04-06T23:00:00Z",
                    "2026-10-01T23:00:00Z",
                    "2026-10-05T22:00:00Z",
                ],
            ),
        ];
        for (zone, starts) in cases {
            let events = starts
                .iter()
                .enumerate()
                .map(|(i, s)| event(appt(i as u128 + 1, s, 30), "P", None))
                .collect();
            let text = unfold(&clinician_calendar(&calendar(zone, events)));
            let (zones, parsed) = parse(&text);
            assert_eq!(zones.len(), 1);
            assert_eq!(parsed.len(), starts.len());
            let instant = |e: &Component, name: &str| match param(e, name, "TZID") {
                Some(tzid) => {
                    assert_eq!(tzid, zone);
                    resolve(&zones[0], local(prop(e, name)))
                }
                // Only a time of the repeated autumn hour is given in UTC.
                None => Utc.from_utc_datetime(&local(prop(e, name).trim_end_matches('Z'))),
            };
            for (e, s) in parsed.iter().zip(starts.iter()) {
                assert_eq!(instant(e, "DTSTART"), at(s), "{zone} {s}");
                let end = at(s) + Duration::minutes(30);
                assert_eq!(instant(e, "DTEND"), end, "{zone} {s}");
            }
        }
        // The second 01:30 of 25 October is named in UTC, the first by TZID.
        let text = clinician_calendar(&calendar(
            "Europe/London",
            vec![
                event(appt(1, "2026-10-25T00:30:00Z", 30), "P", None),
                event(appt(2, "2026-10-25T01:30:00Z", 30), "P", None),
            ],
        ));
        assert!(text.contains("DTSTART;TZID=Europe/London:20261025T013000\r\n"));
        assert!(text.contains("DTSTART:20261025T013000Z\r\n"));
    }

    #[test]
    fn an_unknown_site_zone_falls_back_to_the_appointments_zone() {
        let mut a = appt(1, "2026-07-01T12:00:00Z", 30);
        a.timezone = "Asia/Tokyo".into();
        let text = clinician_calendar(&calendar("Nowhere/Else", vec![event(a, "P", None)]));
        assert!(text.contains("DTSTART;TZID=Asia/Tokyo:20260701T210000\r\n"));
        let text = unfold(&text);
        let (zones, _) = parse(&text);
        assert_eq!(prop(&zones[0], "TZID"), "Asia/Tokyo");
        assert_eq!(zones[0].components.len(), 1, "no transitions in Tokyo");
        assert_eq!(prop(&zones[0].components[0], "TZOFFSETTO"), "+0900");
        // An empty calendar is still a valid one.
        let empty = unfold(&clinician_calendar(&calendar("Europe/London", vec![])));
        let (zones, events) = parse(&empty);
        assert!(zones.is_empty() && events.is_empty());
    }
}
