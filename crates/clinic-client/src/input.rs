//! Dates and times as people type them, for both front ends (the `clinic`
//! CLI and the desktop app): ISO forms, refused with the field's name.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use clinic_core::{ClinicError, ClinicResult};

/// A site's wall-clock time as the desktop sends and shows it.
pub const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A wall-clock time typed or picked in the UI ("2026-11-23T09:30",
/// seconds optional) for `field_name`.
pub fn parse_local(field_name: &str, s: &str) -> ClinicResult<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, LOCAL_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            ClinicError::field(field_name, "must be a date and time like 2026-11-23T09:30")
        })
}

/// A date like 2026-11-23.
pub fn parse_date(field_name: &str, s: &str) -> ClinicResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ClinicError::field(
            field_name,
            "must be a date in the form YYYY-MM-DD, like 2026-11-23",
        )
    })
}

/// A time of day like 09:30.
pub fn parse_time(field: &str, s: &str) -> ClinicResult<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| ClinicError::field(field, format!("{s} is not a time like 09:30")))
}
