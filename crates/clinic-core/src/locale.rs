//! Showing numbers, money and dates in the site's locale (a synced site
//! setting): the separators and date order people of that locale read.
//! The CLI stays locale-neutral (ISO dates, plain decimals); screens and
//! printed documents use these.

use chrono::NaiveDate;
use rust_decimal::Decimal;

fn language(locale: &str) -> (&str, &str) {
    let mut parts = locale.split(['-', '_']);
    let lang = parts.next().unwrap_or("en");
    let region = parts.find(|p| p.len() == 2).unwrap_or("");
    (lang, region)
}

/// (grouping, decimal) separators of `locale`.
fn separators(locale: &str) -> (&'static str, &'static str) {
    match language(locale) {
        ("de", "CH") | ("it", "CH") => ("’", "."),
        (
            "de" | "es" | "it" | "nl" | "pt" | "id" | "tr" | "da" | "el" | "ro" | "hr" | "sl"
            | "sr",
            _,
        ) => (".", ","),
        (
            "fr" | "ru" | "pl" | "cs" | "sk" | "sv" | "nb" | "no" | "fi" | "uk" | "hu" | "bg"
            | "lt" | "lv" | "et",
            _,
        ) => ("\u{202f}", ","),
        _ => (",", "."),
    }
}

/// `x` as people of `locale` write it, keeping its decimals
/// (`1234.50` → `1,234.50` in en-GB, `1.234,50` in de-DE).
pub fn format_decimal(x: Decimal, locale: &str) -> String {
    let (group, point) = separators(locale);
    let text = x.abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push_str(group);
        }
        out.push(ch);
    }
    if !frac.is_empty() {
        out.push_str(point);
        out.push_str(frac);
    }
    if x.is_sign_negative() && !x.is_zero() {
        out.insert(0, '-');
    }
    out
}

/// A date as people of `locale` write it (`5 Dec 2026`, `05.12.2026`,
/// `05/12/2026`, `Dec 5, 2026`, `2026-12-05`).
pub fn format_date(d: NaiveDate, locale: &str) -> String {
    let pattern = match language(locale) {
        ("en", "US") => "%b %-d, %Y",
        ("en", _) => "%-d %b %Y",
        (
            "de" | "ru" | "pl" | "cs" | "sk" | "fi" | "nb" | "no" | "da" | "tr" | "uk" | "ro"
            | "hr" | "sl",
            _,
        ) => "%d.%m.%Y",
        ("fr" | "es" | "it" | "pt" | "nl" | "el" | "id", _) => "%d/%m/%Y",
        _ => "%Y-%m-%d",
    };
    d.format(pattern).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn numbers_and_dates_in_a_locale() {
        let x = Decimal::from_str("1234567.50").unwrap();
        assert_eq!(format_decimal(x, "en-GB"), "1,234,567.50");
        assert_eq!(format_decimal(x, "de-DE"), "1.234.567,50");
        assert_eq!(format_decimal(x, "fr-FR"), "1\u{202f}234\u{202f}567,50");
        assert_eq!(format_decimal(x, "de-CH"), "1’234’567.50");
        assert_eq!(
            format_decimal(Decimal::from_str("-12.5").unwrap(), "en"),
            "-12.5"
        );
        assert_eq!(
            format_decimal(Decimal::from_str("999").unwrap(), "en"),
            "999"
        );
        let d = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert_eq!(format_date(d, "en-GB"), "5 Dec 2026");
        assert_eq!(format_date(d, "en-US"), "Dec 5, 2026");
        assert_eq!(format_date(d, "de-DE"), "05.12.2026");
        assert_eq!(format_date(d, "fr-FR"), "05/12/2026");
        assert_eq!(format_date(d, "ja-JP"), "2026-12-05");
    }
}
