//! Instalment plans: what is left on an invoice, paid in 2 to 9 weekly or
//! monthly instalments. What is due, overdue and paid is computed from the
//! plan and the invoice's balance alone (a pure function of synced records
//! and the day), so every desk says the same.

use super::invoice::Invoice;
use super::money::round;
use super::settings::derived_id;
use crate::error::{ClinicError, ClinicResult};
use crate::permissions::{Action, Permission};
use crate::sync::{Applied, Context, Merge, MutationKind, RecordKind, Records};
use chrono::{DateTime, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An instalment unpaid this many days after it was due defaults the plan.
pub const DEFAULT_AFTER_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Every {
    Week,
    Month,
}

impl Every {
    pub fn parse(s: &str) -> Option<Every> {
        match s.trim().to_lowercase().as_str() {
            "week" | "weekly" | "w" => Some(Every::Week),
            "month" | "monthly" | "m" => Some(Every::Month),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Instalment {
    /// 1-based.
    pub n: u8,
    pub due_on: NaiveDate,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstalmentPlan {
    /// [`InstalmentPlan::id_for`] the invoice: one plan per invoice.
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_number: String,
    pub patient_id: Uuid,
    pub currency: String,
    /// The invoice's balance when the plan was made: what it spreads.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub amount: Decimal,
    pub every: Every,
    pub instalments: Vec<Instalment>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl RecordKind for InstalmentPlan {
    const KIND: &'static str = "instalment_plan";
    const MERGE: Merge = Merge::Ledger;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Active,
    Completed,
    /// An instalment is unpaid [`DEFAULT_AFTER_DAYS`] after it was due.
    Defaulted,
}

/// Where a plan stands on a day.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanProgress {
    pub status: PlanStatus,
    /// Paid toward the plan: what it spreads less the invoice's balance.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub paid: Decimal,
    /// Due by the day and not paid.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub overdue: Decimal,
    /// The instalments due by the day and not (fully) paid.
    pub overdue_instalments: Vec<u8>,
    /// The next instalment not yet due.
    pub next: Option<Instalment>,
}

impl InstalmentPlan {
    pub fn id_for(invoice: Uuid) -> Uuid {
        derived_id(invoice, "instalment-plan")
    }

    /// Splits `amount` into `count` instalments from `first`: equal parts
    /// rounded down to the minor unit, the remainder on the last.
    pub fn schedule(
        amount: Decimal,
        count: u8,
        every: Every,
        first: NaiveDate,
        digits: u32,
    ) -> Vec<Instalment> {
        let n = Decimal::from(count);
        let part = (amount / n).trunc_with_scale(digits);
        let part = round(part, digits);
        (0..count)
            .map(|i| {
                let due_on = match every {
                    Every::Week => first + chrono::Duration::weeks(i64::from(i)),
                    Every::Month => first
                        .checked_add_months(Months::new(u32::from(i)))
                        .unwrap_or(first),
                };
                let amount = if i + 1 == count {
                    amount - part * Decimal::from(count - 1)
                } else {
                    part
                };
                Instalment {
                    n: i + 1,
                    due_on,
                    amount,
                }
            })
            .collect()
    }

    /// Where the plan stands on `today`, given its invoice as synced.
    pub fn progress(&self, invoice: &Invoice, today: NaiveDate) -> PlanProgress {
        let zero = round(Decimal::ZERO, invoice.digits());
        let paid = (self.amount - invoice.balance()).clamp(zero, self.amount);
        let mut cumulative = zero;
        let mut overdue_instalments = Vec::new();
        let mut overdue = zero;
        let mut oldest_overdue: Option<NaiveDate> = None;
        let mut next = None;
        for i in &self.instalments {
            cumulative += i.amount;
            if i.due_on <= today {
                if paid < cumulative {
                    overdue_instalments.push(i.n);
                    oldest_overdue.get_or_insert(i.due_on);
                    overdue = cumulative - paid;
                }
            } else if next.is_none() {
                next = Some(i.clone());
            }
        }
        let status = if paid >= self.amount {
            PlanStatus::Completed
        } else if oldest_overdue.is_some_and(|d| (today - d).num_days() > DEFAULT_AFTER_DAYS) {
            PlanStatus::Defaulted
        } else {
            PlanStatus::Active
        };
        PlanProgress {
            status,
            paid,
            overdue,
            overdue_instalments,
            next,
        }
    }
}

/// Spreads what is left on an invoice over instalments. The server works
/// out the amounts from the invoice as it has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePlan {
    pub invoice: Uuid,
    pub count: u8,
    pub every: Every,
    pub first_due: NaiveDate,
}

impl MutationKind for CreatePlan {
    const NAME: &'static str = "create_instalment_plan";

    fn touches(&self) -> Vec<Uuid> {
        vec![InstalmentPlan::id_for(self.invoice), self.invoice]
    }

    fn permission(&self) -> Permission {
        super::mutations::billing(Action::Create)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let id = InstalmentPlan::id_for(self.invoice);
        if let Some(p) = recs.get::<InstalmentPlan>(id) {
            if usize::from(self.count) == p.instalments.len()
                && p.every == self.every
                && p.instalments.first().map(|i| i.due_on) == Some(self.first_due)
            {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(format!(
                "Invoice {} already has an instalment plan.",
                p.invoice_number
            )));
        }
        if !(2..=9).contains(&self.count) {
            return Err(ClinicError::field(
                "instalments",
                "a plan has 2 to 9 instalments",
            ));
        }
        let inv = recs
            .get::<Invoice>(self.invoice)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Invoice"))?;
        let amount = inv.balance();
        if !inv.status.is_open() || amount <= Decimal::ZERO {
            return Err(ClinicError::conflict(
                "Only an issued invoice with something owing is paid in instalments.",
            ));
        }
        let today = cx.today();
        if self.first_due < today - chrono::Duration::days(1)
            || (self.first_due - today).num_days() > 366
        {
            return Err(ClinicError::field(
                "first_due",
                "is between today and a year from now",
            ));
        }
        let plan = InstalmentPlan {
            id,
            tenant_id: cx.tenant,
            invoice_id: inv.id,
            invoice_number: inv.number.clone().unwrap_or_default(),
            patient_id: inv.patient_id,
            currency: inv.currency.clone(),
            amount,
            every: self.every,
            instalments: InstalmentPlan::schedule(
                amount,
                self.count,
                self.every,
                self.first_due,
                inv.digits(),
            ),
            created_by: cx.user.unwrap_or_default(),
            created_at: cx.at,
        };
        recs.put(plan);
        Ok(Applied::one(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    #[test]
    fn instalments_add_up_to_the_amount_with_the_remainder_last() {
        let s = InstalmentPlan::schedule(d("100.00"), 3, Every::Month, day("2026-01-31"), 2);
        let amounts: Vec<String> = s.iter().map(|i| i.amount.to_string()).collect();
        assert_eq!(amounts, ["33.33", "33.33", "33.34"]);
        let dates: Vec<String> = s.iter().map(|i| i.due_on.to_string()).collect();
        // Month ends clamp (31 January, then 28 February, then 31 March).
        assert_eq!(dates, ["2026-01-31", "2026-02-28", "2026-03-31"]);
        let w = InstalmentPlan::schedule(d("10"), 9, Every::Week, day("2026-01-01"), 0);
        assert_eq!(w.iter().map(|i| i.amount).sum::<Decimal>(), d("10"));
        assert_eq!(w[8].due_on, day("2026-02-26"));
        assert_eq!(w[8].amount, d("2"));
    }
}
