//! Time-based one-time passwords (RFC 6238, HMAC-SHA1, 30-second steps,
//! 6 digits) for multi-factor sign-in, and the base32 the authenticator
//! apps expect. Pure: time is passed in.

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_SECONDS: i64 = 30;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s
        .trim_end_matches('=')
        .bytes()
        .filter(|c| !c.is_ascii_whitespace())
    {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push(((buf >> (bits - 8)) & 0xff) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

/// HOTP (RFC 4226) value for `counter`, as `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let code = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    code % 10u32.pow(digits)
}

/// The time step of a Unix time.
pub fn step(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The 6-digit code of a step.
pub fn code(secret: &[u8], step: i64) -> String {
    format!("{:06}", hotp(secret, step as u64, 6))
}

/// Checks a typed code against the current step and one either side (clock
/// drift). Returns the matching step, which must be later than `last_used`
/// so that a code can never be used twice.
pub fn verify(
    secret: &[u8],
    typed: &str,
    unix_seconds: i64,
    last_used: Option<i64>,
) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != 6 || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step(unix_seconds);
    (now - 1..=now + 1).find(|s| last_used.is_none_or(|l| *s > l) && code(secret, *s) == typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        let secret = b"12345678901234567890";
        for (t, expected) in [
            (59i64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
        ] {
            assert_eq!(hotp(secret, step(t) as u64, 8), expected, "t={t}");
        }
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1"), None);
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(base32_decode(&base32_encode(&bytes)).unwrap(), bytes);
    }

    #[test]
    fn codes_are_accepted_once_within_a_step_of_drift() {
        let secret = b"an-mfa-secret-of-20b";
        let t = 1_800_000_000;
        let c = code(secret, step(t));
        let used = verify(secret, &c, t, None).expect("current code");
        assert_eq!(verify(secret, &c, t, Some(used)), None, "replay");
        assert!(
            verify(secret, &code(secret, step(t) - 1), t, None).is_some(),
            "previous step"
        );
        assert!(
            verify(secret, &code(secret, step(t) + 2), t, None).is_none(),
            "too far ahead"
        );
        assert!(verify(secret, "12345", t, None).is_none());
        assert!(verify(secret, "abcdef", t, None).is_none());
    }
}
