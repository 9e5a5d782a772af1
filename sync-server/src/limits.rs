//! Rate limits on what anyone can try without being signed in, or try
//! again and again once signed in: sign-in (and confirming a password at
//! multi-factor set-up), refresh and enrolment. Each is limited per client
//! address (the TCP peer; IPv6 by /64, since one machine commonly holds a
//! whole /64) and per account, with GCRA from `governor`: `n` a minute, all
//! of them usable in one burst, then one every `60 / n` seconds. A refusal
//! is 429 `RATE_LIMITED` with `Retry-After`.
//!
//! The limiters live in memory: each server process counts for itself.
//! Keys whose budget is full again are dropped now and then, so memory
//! follows recent traffic, not everything ever seen.

use crate::ServerError;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// Attempts a minute (each also the burst), per client address and per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_address: u32,
    pub per_account: u32,
}

/// The limits of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Sign-in (per account: tenant and e-mail) and mfa/setup (per user).
    pub sign_in: Rate,
    /// Refresh (per account: the user the token belongs to).
    pub refresh: Rate,
    /// Enrolment (per account: the administrator enrolling).
    pub enrol: Rate,
}

impl Default for RateLimits {
    /// A person signs in a few times a day, a workstation refreshes every
    /// 15 minutes and an administrator enrols a handful of desks; a clinic's
    /// desks may share one public address.
    fn default() -> Self {
        RateLimits {
            sign_in: Rate {
                per_address: 30,
                per_account: 10,
            },
            refresh: Rate {
                per_address: 60,
                per_account: 10,
            },
            enrol: Rate {
                per_address: 30,
                per_account: 10,
            },
        }
    }
}

impl RateLimits {
    /// Every limit `factor` times the default's (`CLINIC_RATE_LIMIT_SCALE`:
    /// a clinic whose many desks share one public address, or a test run).
    pub fn scaled(factor: u32) -> Self {
        let scale = |r: Rate| Rate {
            per_address: r.per_address.saturating_mul(factor.max(1)),
            per_account: r.per_account.saturating_mul(factor.max(1)),
        };
        let d = RateLimits::default();
        RateLimits {
            sign_in: scale(d.sign_in),
            refresh: scale(d.refresh),
            enrol: scale(d.enrol),
        }
    }
}

/// Drop keys whose budget is full again after this many checks.
const HOUSEKEEPING_EVERY: u64 = 4096;

/// The limiters of one kind of request.
#[derive(Debug)]
pub struct Limiter {
    address: DefaultKeyedRateLimiter<IpAddr>,
    account: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// The address a client is limited by: IPv4 as it is (also when mapped
/// into IPv6), IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
        v4 => v4,
    }
}

/// The account a sign-in names, spelled as sign-in reads it.
pub fn sign_in_account(tenant: &str, email: &str) -> String {
    format!(
        "{}\n{}",
        tenant.trim().to_lowercase(),
        email.trim().to_lowercase()
    )
}

/// A signed-in user's account.
pub fn user_account(tenant: Uuid, user: Uuid) -> String {
    format!("{tenant}/{user}")
}

impl Limiter {
    pub fn new(rate: Rate) -> Self {
        Limiter {
            address: DefaultKeyedRateLimiter::keyed(per_minute(rate.per_address)),
            account: DefaultKeyedRateLimiter::keyed(per_minute(rate.per_account)),
            checks: AtomicU64::new(0),
        }
    }

    fn housekeeping(&self) {
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(HOUSEKEEPING_EVERY)
        {
            self.address.retain_recent();
            self.address.shrink_to_fit();
            self.account.retain_recent();
            self.account.shrink_to_fit();
        }
    }

    /// One more attempt from `ip`.
    pub fn address(&self, ip: IpAddr) -> Result<(), ServerError> {
        self.housekeeping();
        self.address.check_key(&address_key(ip)).map_err(|refused| {
            ServerError::RateLimited(refused.wait_time_from(self.address.clock().now()))
        })
    }

    /// One more attempt for `account` (see [`sign_in_account`], [`user_account`]).
    pub fn account(&self, account: &str) -> Result<(), ServerError> {
        self.housekeeping();
        self.account
            .check_key(&account.to_string())
            .map_err(|refused| {
                ServerError::RateLimited(refused.wait_time_from(self.account.clock().now()))
            })
    }

    /// One more attempt from `ip` for `account`: the address is counted
    /// first, so guessing at many accounts from one address is limited too.
    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), ServerError> {
        self.address(ip)?;
        self.account(account)
    }
}

/// Every limiter of a server.
#[derive(Debug)]
pub struct Limiters {
    pub sign_in: Limiter,
    pub refresh: Limiter,
    pub enrol: Limiter,
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Self {
        Limiters {
            sign_in: Limiter::new(limits.sign_in),
            refresh: Limiter::new(limits.refresh),
            enrol: Limiter::new(limits.enrol),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_limited_by_ipv4_address_and_ipv6_slash_64() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
        assert_eq!(address_key("::ffff:192.0.2.7".parse().unwrap()), v4);
        assert_eq!(
            address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_burst_is_allowed_then_one_at_a_time_with_a_wait_to_say() {
        let limiter = Limiter::new(Rate {
            per_address: 3,
            per_account: 2,
        });
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let (a, b) = (
            sign_in_account(" Clinic ", "A@x.example"),
            sign_in_account("clinic", "a@x.EXAMPLE"),
        );
        assert_eq!(a, b, "one account however it is spelled");
        assert!(limiter.check(ip, &a).is_ok());
        assert!(limiter.check(ip, &b).is_ok());
        let Err(ServerError::RateLimited(wait)) = limiter.check(ip, &a) else {
            panic!("the third attempt for the account is refused");
        };
        assert!(wait.as_secs() <= 30 && !wait.is_zero(), "{wait:?}");
        let Err(ServerError::RateLimited(_)) = limiter.check(ip, "another") else {
            panic!("the fourth attempt from the address is refused");
        };
        assert!(limiter
            .check("192.0.2.8".parse().unwrap(), "another")
            .is_ok());
    }
}
