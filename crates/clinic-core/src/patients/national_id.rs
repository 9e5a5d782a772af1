//! National identifiers and their check digits.

use crate::error::Invalid;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum NationalIdKind {
    /// UK NHS number: 10 digits, modulus 11 check digit.
    Nhs,
    /// Canadian Social Insurance Number: 9 digits, Luhn.
    CaSin,
    /// Dutch burgerservicenummer: 9 digits, "elfproef".
    NlBsn,
    /// Swedish personnummer: YYMMDDNNNC (10 digits, optional century/separator), Luhn.
    SePersonnummer,
    /// US Social Security Number: AAA-GG-SSSS, structure only (no check digit exists).
    UsSsn,
    /// Any other identifier: 1–32 letters and digits, not checked.
    Other,
}

impl NationalIdKind {
    pub const ALL: [NationalIdKind; 6] = [
        NationalIdKind::Nhs,
        NationalIdKind::CaSin,
        NationalIdKind::NlBsn,
        NationalIdKind::SePersonnummer,
        NationalIdKind::UsSsn,
        NationalIdKind::Other,
    ];
    pub fn key(self) -> &'static str {
        match self {
            NationalIdKind::Nhs => "nhs",
            NationalIdKind::CaSin => "ca_sin",
            NationalIdKind::NlBsn => "nl_bsn",
            NationalIdKind::SePersonnummer => "se_personnummer",
            NationalIdKind::UsSsn => "us_ssn",
            NationalIdKind::Other => "other",
        }
    }
    pub fn from_key(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == s)
    }
    fn label(self) -> &'static str {
        match self {
            NationalIdKind::Nhs => "NHS number",
            NationalIdKind::CaSin => "SIN",
            NationalIdKind::NlBsn => "BSN",
            NationalIdKind::SePersonnummer => "personnummer",
            NationalIdKind::UsSsn => "SSN",
            NationalIdKind::Other => "identifier",
        }
    }
}

fn digits_only(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if !matches!(c, ' ' | '-' | '+') {
            return None;
        }
    }
    Some(out)
}

fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap_or(0);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// The NHS number check digit for the first nine digits, or `None` when the
/// remainder makes the number impossible (check value 10).
pub fn nhs_check_digit(first_nine: &[u32]) -> Option<u32> {
    let sum: u32 = first_nine
        .iter()
        .enumerate()
        .map(|(i, d)| d * (10 - i as u32))
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        c => Some(c),
    }
}

/// Validates `raw` as an identifier of `kind` and returns its normalised form
/// (digits only, or upper-case letters and digits for `Other`), or a message
/// for the person who typed it.
pub fn normalize_national_id(kind: NationalIdKind, raw: &str) -> Result<String, Invalid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Invalid::new(
            "enter the identifier or leave the field empty",
        ));
    }
    let label = kind.label();
    let need_digits = |n: usize| -> Result<String, Invalid> {
        let d =
            digits_only(raw).ok_or_else(|| Invalid(format!("a {label} contains only digits")))?;
        if d.len() != n {
            return Err(Invalid(format!(
                "a {label} has {n} digits (this has {})",
                d.len()
            )));
        }
        Ok(d)
    };
    match kind {
        NationalIdKind::Nhs => {
            let d = need_digits(10)?;
            let v: Vec<u32> = d.chars().filter_map(|c| c.to_digit(10)).collect();
            match nhs_check_digit(&v[..9]) {
                Some(c) if c == v[9] => Ok(d),
                _ => Err(Invalid::new(
                    "this NHS number's check digit is wrong; please re-check it",
                )),
            }
        }
        NationalIdKind::CaSin => {
            let d = need_digits(9)?;
            if luhn_valid(&d) {
                Ok(d)
            } else {
                Err(Invalid::new(
                    "this SIN's check digit is wrong; please re-check it",
                ))
            }
        }
        NationalIdKind::NlBsn => {
            let d = need_digits(9)?;
            let v: Vec<i64> = d
                .chars()
                .filter_map(|c| c.to_digit(10).map(i64::from))
                .collect();
            let sum: i64 = v[..8]
                .iter()
                .enumerate()
                .map(|(i, x)| x * (9 - i as i64))
                .sum::<i64>()
                - v[8];
            if sum % 11 == 0 && d != "000000000" {
                Ok(d)
            } else {
                Err(Invalid::new(
                    "this BSN fails the eleven-test; please re-check it",
                ))
            }
        }
        NationalIdKind::SePersonnummer => {
            let mut d = digits_only(raw)
                .ok_or_else(|| Invalid::new("a personnummer contains only digits"))?;
            if d.len() == 12 {
                d = d[2..].to_string();
            }
            if d.len() != 10 {
                return Err(Invalid(format!(
                    "a personnummer has 10 digits (this has {})",
                    d.len()
                )));
            }
            if luhn_valid(&d) {
                Ok(d)
            } else {
                Err(Invalid::new(
                    "this personnummer's check digit is wrong; please re-check it",
                ))
            }
        }
        NationalIdKind::UsSsn => {
            let d = need_digits(9)?;
            let (area, group, serial) = (&d[0..3], &d[3..5], &d[5..9]);
            if area == "000" || area == "666" || area.starts_with('9') {
                return Err(Invalid::new(
                    "this SSN's first three digits are not a valid area number",
                ));
            }
            if group == "00" || serial == "0000" {
                return Err(Invalid::new("this SSN has an all-zero group or serial"));
            }
            Ok(d)
        }
        NationalIdKind::Other => {
            let v: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            if v.is_empty() || v.len() > 32 || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Invalid::new("use 1 to 32 letters and digits"));
            }
            Ok(v.to_ascii_uppercase())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_and_invalid_numbers() {
        // NHS: 943 476 5919 is the NHS's published example.
        assert_eq!(
            normalize_national_id(NationalIdKind::Nhs, "943 476 5919").unwrap(),
            "9434765919"
        );
        assert!(normalize_national_id(NationalIdKind::Nhs, "943 476 5918").is_err());
        assert!(normalize_national_id(NationalIdKind::Nhs, "94347659").is_err());
        assert!(normalize_national_id(NationalIdKind::Nhs, "94347659AB").is_err());
        // SIN 046 454 286 is the Canadian government's example.
        assert!(normalize_national_id(NationalIdKind::CaSin, "046 454 286").is_ok());
        assert!(normalize_national_id(NationalIdKind::CaSin, "046 454 287").is_err());
        // BSN 111222333 passes the elfproef; 111222334 does not.
        assert!(normalize_national_id(NationalIdKind::NlBsn, "111222333").is_ok());
        assert!(normalize_national_id(NationalIdKind::NlBsn, "111222334").is_err());
        // Swedish test personnummer 811218-9876.
        assert_eq!(
            normalize_national_id(NationalIdKind::SePersonnummer, "19811218-9876").unwrap(),
            "8112189876"
        );
        assert!(normalize_national_id(NationalIdKind::SePersonnummer, "811218-9875").is_err());
        assert!(normalize_national_id(NationalIdKind::UsSsn, "123-45-6789").is_ok());
        assert!(normalize_national_id(NationalIdKind::UsSsn, "666-45-6789").is_err());
        assert!(normalize_national_id(NationalIdKind::UsSsn, "123-00-6789").is_err());
        assert_eq!(
            normalize_national_id(NationalIdKind::Other, "ab-12 c").unwrap(),
            "AB12C"
        );
        assert!(normalize_national_id(NationalIdKind::Other, "a/b").is_err());
    }

    proptest::proptest! {
        /// Every single-digit change to a valid NHS number is caught by the check digit.
        #[test]
        fn nhs_detects_single_digit_errors(body in proptest::collection::vec(0u32..10, 9), pos in 0usize..10, delta in 1u32..10) {
            if let Some(check) = nhs_check_digit(&body) {
                let mut digits = body.clone();
                digits.push(check);
                let ok: String = digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
                proptest::prop_assert!(normalize_national_id(NationalIdKind::Nhs, &ok).is_ok());
                digits[pos] = (digits[pos] + delta) % 10;
                let bad: String = digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
                proptest::prop_assert!(normalize_national_id(NationalIdKind::Nhs, &bad).is_err());
            }
        }

        /// Luhn catches every single-digit error in a SIN.
        #[test]
        fn sin_detects_single_digit_errors(body in proptest::collection::vec(0u32..10, 8), pos in 0usize..9, delta in 1u32..10) {
            let s: String = body.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
            let check = (0..10).find(|c| luhn_valid(&format!("{s}{c}"))).unwrap();
            let mut digits = body.clone();
            digits.push(check);
            digits[pos] = (digits[pos] + delta) % 10;
            let bad: String = digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
            proptest::prop_assert!(normalize_national_id(NationalIdKind::CaSin, &bad).is_err());
        }
    }
}
