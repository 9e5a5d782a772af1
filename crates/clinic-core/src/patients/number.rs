//! Human-readable patient numbers that any workstation can issue offline.
//!
//! Scheme: a number is `P` + a sequence value (at least six digits, zero
//! padded) + one Damm check digit, e.g. sequence 42 → `P0000427`. The check
//! digit catches every single-digit typo and every adjacent transposition when
//! a number is read out over the phone.
//!
//! Uniqueness without coordination: sequence values come from blocks
//! `[start, end)` that a workstation owns. A standalone store (created by
//! `clinic init`) owns the first block of the tenant's whole space; once a
//! sync server exists it leases disjoint blocks to each device while online
//! and a device keeps spare blocks so it can register patients for days
//! offline. A value is used at most once because the store advances its
//! block's cursor in the same transaction that inserts the patient, and
//! blocks never overlap because only one party (the server) hands them out.

/// The Damm algorithm's quasigroup table (order 10, weakly totally anti-symmetric).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn damm_interim(digits: &str) -> u8 {
    digits
        .bytes()
        .fold(0u8, |i, b| DAMM[i as usize][(b - b'0') as usize])
}

/// Formats a sequence value as a patient number.
pub fn format_patient_number(seq: u64) -> String {
    let body = format!("{seq:06}");
    let check = damm_interim(&body);
    format!("P{body}{check}")
}

/// Parses a typed patient number (case-insensitive `P`, optional spaces or
/// dashes) and returns its sequence value if the check digit is right.
pub fn parse_patient_number(text: &str) -> Option<u64> {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let digits = t.strip_prefix(['P', 'p'])?;
    if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if damm_interim(digits) != 0 {
        return None;
    }
    digits[..digits.len() - 1].parse().ok()
}

/// The first block of a standalone tenant's number space.
pub const STANDALONE_BLOCK: (u64, u64) = (1, 1_000_000_000);

/// How many numbers the server leases to a device at a time.
pub const LEASE_SIZE: i64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_round_trip() {
        assert_eq!(format_patient_number(42).len(), 8);
        for seq in [1, 42, 999_999, 1_000_000, 123_456_789] {
            let n = format_patient_number(seq);
            assert_eq!(parse_patient_number(&n), Some(seq), "{n}");
            assert_eq!(parse_patient_number(&n.to_lowercase()), Some(seq));
        }
        assert_eq!(parse_patient_number("hello"), None);
        assert_eq!(parse_patient_number("P12"), None);
    }

    proptest::proptest! {
        #[test]
        fn check_digit_catches_typos_and_transpositions(seq in 1u64..100_000_000, pos in 0usize..6, delta in 1u8..10) {
            let n = format_patient_number(seq);
            let mut b = n.clone().into_bytes();
            // single-digit substitution
            let i = 1 + pos;
            b[i] = b'0' + (b[i] - b'0' + delta) % 10;
            proptest::prop_assert_eq!(parse_patient_number(std::str::from_utf8(&b).unwrap()), None);
            // adjacent transposition of two different digits
            let mut t = n.clone().into_bytes();
            if t[i] != t[i + 1] {
                t.swap(i, i + 1);
                proptest::prop_assert_eq!(parse_patient_number(std::str::from_utf8(&t).unwrap()), None);
            }
        }
    }
}
