//! Money: exact decimals (`rust_decimal`), one rounding rule, and the
//! checks of amounts people type.
//!
//! **The rounding rule.** Every amount is rounded once, per invoice line,
//! half away from zero to the currency's minor unit (0.005 → 0.01), in this
//! order: the line's gross (quantity × unit price), its discount, the
//! invoice discount's share of it, then its tax on what is left. Discounts
//! apply before tax. An invoice's totals are the sums of its rounded lines,
//! so they always equal the sum of their parts to the cent — on every desk
//! and on the server, which run the same code.

use crate::error::Invalid;
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

pub use rust_decimal::Decimal as Amount;

/// The currencies whose minor unit is not the cent (ISO 4217 exponents);
/// every other currency has two minor digits.
const MINOR_DIGITS: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// The digits after the decimal point of `currency`'s minor unit.
pub fn minor_digits(currency: &str) -> u32 {
    MINOR_DIGITS
        .iter()
        .find(|(c, _)| *c == currency)
        .map(|(_, d)| *d)
        .unwrap_or(2)
}

/// Checks an ISO 4217 code as a person typed it: three capital letters.
pub fn check_currency(code: &str) -> Result<(), Invalid> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(Invalid::new(
            "must be an ISO 4217 currency code of three capital letters (EUR, GBP, USD)",
        ))
    }
}

/// `x` rounded half away from zero to `digits` decimals, always written
/// with exactly that many (`45` → `45.00`).
pub fn round(x: Decimal, digits: u32) -> Decimal {
    let mut r = x.round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(digits);
    r
}

/// The most decimals an amount may carry in a rule, which does not load the
/// clinic's settings: the largest minor unit of any currency. The use-cases
/// check an amount against the clinic's currency before it becomes a change.
pub const RULE_DIGITS: u32 = 3;

/// The largest amount anyone types (a billion in any currency).
pub fn max_amount() -> Decimal {
    Decimal::from(1_000_000_000u64)
}

/// Reads an amount of money: a plain decimal (`12.34`), positive (or zero
/// when `zero_ok`), with at most the currency's minor digits.
pub fn parse_amount(text: &str, digits: u32, zero_ok: bool) -> Result<Decimal, Invalid> {
    let t = text.trim();
    let x = Decimal::from_str(t)
        .ok()
        .filter(|_| !t.contains(['e', 'E', '_', '+']))
        .ok_or_else(|| Invalid::new(format!("must be an amount like 12.50 (not {t:?})")))?;
    check_amount(x, digits, zero_ok)?;
    Ok(round(x, digits))
}

/// Checks an amount: not negative (not zero unless `zero_ok`), at most the
/// currency's minor digits, below a billion.
pub fn check_amount(x: Decimal, digits: u32, zero_ok: bool) -> Result<(), Invalid> {
    if x.is_sign_negative() && !x.is_zero() {
        return Err(Invalid::new("must not be negative"));
    }
    if x.is_zero() && !zero_ok {
        return Err(Invalid::new("must be more than zero"));
    }
    if x.normalize().scale() > digits {
        return Err(Invalid::new(if digits == 0 {
            "must be a whole amount (this currency has no minor unit)".to_string()
        } else {
            format!("must have at most {digits} decimals")
        }));
    }
    if x >= max_amount() {
        return Err(Invalid::new("is too large"));
    }
    Ok(())
}

/// Checks a percentage (a tax rate, a discount): 0 to 100 with at most
/// two decimals.
pub fn check_percent(x: Decimal) -> Result<(), Invalid> {
    if x.is_sign_negative() && !x.is_zero() || x > Decimal::ONE_HUNDRED {
        return Err(Invalid::new("must be between 0 and 100"));
    }
    if x.normalize().scale() > 2 {
        return Err(Invalid::new("must have at most 2 decimals"));
    }
    Ok(())
}

/// Reads a percentage as typed (`20`, `7.5`).
pub fn parse_percent(text: &str) -> Result<Decimal, Invalid> {
    let t = text.trim().trim_end_matches('%').trim();
    let x = Decimal::from_str(t)
        .ok()
        .filter(|_| !t.contains(['e', 'E', '_', '+']))
        .ok_or_else(|| Invalid::new(format!("must be a percentage like 20 or 7.5 (not {t:?})")))?;
    check_percent(x)?;
    Ok(x.normalize())
}

/// Checks a quantity: more than zero, at most three decimals, at most 10,000.
pub fn check_quantity(x: Decimal) -> Result<(), Invalid> {
    if x <= Decimal::ZERO {
        return Err(Invalid::new("must be more than zero"));
    }
    if x.normalize().scale() > 3 {
        return Err(Invalid::new("must have at most 3 decimals"));
    }
    if x > Decimal::from(10_000) {
        return Err(Invalid::new("must be at most 10000"));
    }
    Ok(())
}

/// `percent` % of `x`, rounded to `digits`.
pub fn percent_of(x: Decimal, percent: Decimal, digits: u32) -> Decimal {
    round(x * percent / Decimal::ONE_HUNDRED, digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn rounding_is_half_away_from_zero_to_the_minor_unit() {
        assert_eq!(round(d("0.005"), 2).to_string(), "0.01");
        assert_eq!(round(d("0.0049"), 2).to_string(), "0.00");
        assert_eq!(round(d("-0.005"), 2).to_string(), "-0.01");
        assert_eq!(round(d("2.5"), 0).to_string(), "3");
        assert_eq!(round(d("45"), 2).to_string(), "45.00");
        assert_eq!(round(d("1.0005"), 3).to_string(), "1.001");
    }

    #[test]
    fn currencies_have_their_minor_digits() {
        assert_eq!(minor_digits("EUR"), 2);
        assert_eq!(minor_digits("JPY"), 0);
        assert_eq!(minor_digits("KWD"), 3);
        assert!(check_currency("GBP").is_ok());
        assert!(check_currency("gbp").is_err());
        assert!(check_currency("EURO").is_err());
    }

    #[test]
    fn amounts_as_typed() {
        assert_eq!(parse_amount("12.3", 2, false).unwrap().to_string(), "12.30");
        assert_eq!(parse_amount(" 45 ", 2, false).unwrap().to_string(), "45.00");
        assert!(parse_amount("12.345", 2, false).is_err());
        assert!(parse_amount("12.340", 2, false).is_ok());
        assert!(parse_amount("0", 2, false).is_err());
        assert!(parse_amount("0", 2, true).is_ok());
        assert!(parse_amount("-1", 2, false).is_err());
        assert!(parse_amount("1e3", 2, false).is_err());
        assert!(parse_amount("abc", 2, false).is_err());
        assert!(parse_amount("1000000000", 2, false).is_err());
        assert!(parse_amount("10.5", 0, false).is_err());
        assert_eq!(parse_percent("20%").unwrap().to_string(), "20");
        assert!(parse_percent("100.5").is_err());
        assert!(parse_percent("7.125").is_err());
        assert!(check_quantity(d("0")).is_err());
        assert!(check_quantity(d("1.5")).is_ok());
        assert!(check_quantity(d("1.0005")).is_err());
    }
}
