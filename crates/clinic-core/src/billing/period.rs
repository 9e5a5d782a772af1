//! Closing the books: the period lock and the desk's cash-up.
//!
//! A period is closed up to a day by a manager, online (the use-case pushes
//! and pulls first and lists the desks that have not synced since the
//! period ended). Invoices issued, credit notes, payments and refunds dated
//! on or before that day are then refused at entry on a desk that knows
//! (`PERIOD_CLOSED`), and **accepted** when they arrive from a desk that did
//! not: money already in the drawer is never undone. Such a document is
//! raised on its invoice as a `PERIOD_CLOSED` conflict, which a manager
//! posts into the first open period, its own date kept.
//!
//! A cash-up closes one desk's day: its takings by method (cash, card,
//! bank transfer), as the payments on this desk add up, against what was counted, the difference kept with
//! a reason. A payment for that day entered after the close is "late" and
//! shows on the desk's next cash-up.

use super::money::{check_amount, RULE_DIGITS};
use super::payment::PaymentMethod;
use super::settings::derived_id;
use crate::error::{ClinicError, ClinicResult, ErrorCode};
use crate::permissions::{Action, Module, Permission, SensitiveFlag};
use crate::sync::{Applied, Context, Merge, MutationKind, RecordKind, Records};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One closing of the books.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PeriodClose {
    /// Closed up to and including this day.
    pub until: NaiveDate,
    pub by: Uuid,
    pub at: DateTime<Utc>,
    /// The desks that had not synced since the period ended when it was
    /// closed (what may still arrive), as the manager was shown them.
    #[serde(default)]
    pub unsynced_desks: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// The tenant's closed periods: one record per tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PeriodLock {
    /// [`PeriodLock::id_for`] the tenant.
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Every day up to this one is closed.
    pub closed_until: NaiveDate,
    /// Each close, oldest first.
    pub closes: Vec<PeriodClose>,
    pub updated_at: DateTime<Utc>,
}

impl RecordKind for PeriodLock {
    const KIND: &'static str = "period_lock";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl PeriodLock {
    /// The id of a tenant's lock (the same on every desk).
    pub fn id_for(tenant: Uuid) -> Uuid {
        derived_id(tenant, "period-lock")
    }

    /// The first day still open.
    pub fn first_open_day(&self) -> NaiveDate {
        self.closed_until + chrono::Duration::days(1)
    }
}

/// The day up to which `tenant`'s books are closed, as `recs` know it
/// (the lock is loaded by the mutations that check it).
pub fn closed_until(recs: &Records, tenant: Uuid) -> Option<NaiveDate> {
    recs.get::<PeriodLock>(PeriodLock::id_for(tenant))
        .map(|l| l.closed_until)
}

/// The refusal at entry of a document dated `on` inside the closed period.
pub fn period_closed_error(what: &str, on: NaiveDate, until: NaiveDate) -> ClinicError {
    ClinicError::new(
        ErrorCode::PeriodClosed,
        format!(
            "The books are closed up to {until}: {what} cannot be dated {on}. Date it {} or later.",
            until + chrono::Duration::days(1)
        ),
    )
}

/// The permission to close a period: a manager's (administration, with
/// the financial-data flag), not a billing clerk's.
pub fn closing_permission() -> Permission {
    Permission::new(Module::Admin, Action::Edit).with_flags([SensitiveFlag::FinancialData])
}

/// Closes the books up to a day (never reopened; a later close moves the
/// line forward).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosePeriod {
    pub tenant: Uuid,
    pub until: NaiveDate,
    #[serde(default)]
    pub unsynced_desks: Vec<String>,
    #[serde(default)]
    pub note: String,
}

impl MutationKind for ClosePeriod {
    const NAME: &'static str = "close_period";

    fn touches(&self) -> Vec<Uuid> {
        vec![PeriodLock::id_for(self.tenant)]
    }

    fn permission(&self) -> Permission {
        closing_permission()
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if self.tenant != cx.tenant {
            return Err(ClinicError::field("tenant", "is not this clinic"));
        }
        if self.until >= cx.today() + chrono::Duration::days(1) {
            return Err(ClinicError::field(
                "until",
                "a period is closed once it has ended (yesterday at the latest)",
            ));
        }
        if self.note.chars().count() > 500
            || self.unsynced_desks.len() > 1000
            || self.unsynced_desks.iter().any(|d| d.chars().count() > 200)
        {
            return Err(ClinicError::field("note", "is too long"));
        }
        let id = PeriodLock::id_for(cx.tenant);
        let close = PeriodClose {
            until: self.until,
            by: cx.user.unwrap_or_default(),
            at: cx.at,
            unsynced_desks: self.unsynced_desks.clone(),
            note: self.note.trim().to_string(),
        };
        let lock = match recs.get::<PeriodLock>(id).cloned() {
            Some(l) if l.closed_until >= self.until => {
                return Err(ClinicError::conflict(format!(
                    "The books are already closed up to {}.",
                    l.closed_until
                )))
            }
            Some(mut l) => {
                l.closed_until = self.until;
                l.closes.push(close);
                l.updated_at = cx.at;
                l
            }
            None => PeriodLock {
                id,
                tenant_id: cx.tenant,
                closed_until: self.until,
                closes: vec![close],
                updated_at: cx.at,
            },
        };
        recs.put(lock);
        Ok(Applied::one(id))
    }
}

/// One method's line of a cash-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CashUpLine {
    pub method: PaymentMethod,
    /// Payments less refunds on this desk for the day.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub expected: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub counted: Decimal,
    /// counted − expected.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub difference: Decimal,
}

/// A desk's closed day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CashUp {
    /// [`CashUp::id_for`] the desk and day.
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub desk_id: Uuid,
    #[serde(default)]
    pub desk_name: String,
    pub day: NaiveDate,
    pub currency: String,
    pub lines: Vec<CashUpLine>,
    /// The payments and refunds it counted (a later one for the day is late).
    pub payments: Vec<Uuid>,
    /// Why the count differs (required when it does).
    #[serde(default)]
    pub reason: Option<String>,
    pub closed_by: Uuid,
    pub closed_at: DateTime<Utc>,
}

impl RecordKind for CashUp {
    const KIND: &'static str = "cash_up";
    const MERGE: Merge = Merge::Ledger;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl CashUp {
    pub fn id_for(desk: Uuid, day: NaiveDate) -> Uuid {
        derived_id(desk, &format!("cash-up {day}"))
    }

    /// Σ counted − Σ expected.
    pub fn difference(&self) -> Decimal {
        self.lines.iter().map(|l| l.difference).sum()
    }
}

/// Closes a desk's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloseCashUp {
    pub cash_up: CashUp,
}

impl MutationKind for CloseCashUp {
    const NAME: &'static str = "close_cash_up";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.cash_up.id]
    }

    fn permission(&self) -> Permission {
        super::mutations::billing(Action::Create)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let c = &self.cash_up;
        if c.id != CashUp::id_for(c.desk_id, c.day) {
            return Err(ClinicError::field(
                "id",
                "a cash-up has the id of its desk and day",
            ));
        }
        if let Some(have) = recs.get::<CashUp>(c.id) {
            if have.payments == c.payments && have.lines == c.lines {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(format!(
                "This desk's day {} was already cashed up.",
                c.day
            )));
        }
        if c.day > cx.today() + chrono::Duration::days(1) {
            return Err(ClinicError::field("date", "must not be in the future"));
        }
        if c.lines.is_empty() || c.lines.len() > 8 || c.payments.len() > 100_000 {
            return Err(ClinicError::field("counted", "one line per payment method"));
        }
        let mut seen = Vec::new();
        for l in &c.lines {
            if seen.contains(&l.method) || !PaymentMethod::COUNTED.contains(&l.method) {
                return Err(ClinicError::field(
                    "counted",
                    "one line per method counted (cash, card, bank transfer)",
                ));
            }
            seen.push(l.method);
            for (name, v) in [("expected", l.expected), ("counted", l.counted)] {
                check_amount(v.abs(), RULE_DIGITS, true)
                    .map_err(|e| ClinicError::field(name, e))?;
            }
            if l.difference != l.counted - l.expected {
                return Err(ClinicError::field(
                    "difference",
                    "is what was counted less what was expected",
                ));
            }
        }
        let reason = c.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > 500) {
            return Err(ClinicError::field("reason", "at most 500 characters"));
        }
        if reason.is_none() && c.lines.iter().any(|l| !l.difference.is_zero()) {
            return Err(ClinicError::field(
                "reason",
                "say why the count differs from the takings",
            ));
        }
        let mut c = c.clone();
        c.tenant_id = cx.tenant;
        c.reason = reason.map(str::to_string);
        c.closed_by = cx.user.unwrap_or(c.closed_by);
        c.closed_at = cx.at;
        let id = c.id;
        recs.put(c);
        Ok(Applied::one(id))
    }
}
