//! Discount codes: a percentage off invoice lines, valid between two days,
//! usable a limited number of times, and usable only once a manager has
//! approved it. A use is counted when an invoice carrying the code is
//! issued (by the server, in the order issues arrive); two desks issuing
//! the last use offline both keep their invoice — a number printed is never
//! taken back — and the code then shows more uses than its limit.

use super::money::check_percent;
use super::period::closing_permission;
use super::prices::normalize_code;
use super::settings::derived_id;
use crate::error::{ClinicError, ClinicResult, FieldErrors};
use crate::permissions::{Action, Permission};
use crate::sync::{Applied, Context, Merge, MutationKind, RecordKind, Records};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DiscountCode {
    /// [`DiscountCode::id_for`] the tenant and code.
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `SPRING10`: letters, digits, `-`, `_`, `.`; kept upper-case.
    pub code: String,
    pub description: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub percent: Decimal,
    pub valid_from: NaiveDate,
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// At most this many issued invoices (`None`: no limit).
    #[serde(default)]
    pub max_uses: Option<u32>,
    /// Issued invoices that carried it.
    #[serde(default)]
    pub uses: u32,
    pub approval: Approval,
    #[serde(default)]
    pub decided_by: Option<Uuid>,
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordKind for DiscountCode {
    const KIND: &'static str = "discount_code";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl DiscountCode {
    pub fn id_for(tenant: Uuid, code: &str) -> Uuid {
        derived_id(tenant, &format!("discount:{}", code.trim().to_uppercase()))
    }

    /// Why the code cannot be used on `day` (`None`: it can).
    pub fn unusable_on(&self, day: NaiveDate) -> Option<String> {
        let c = &self.code;
        match self.approval {
            Approval::Pending => return Some(format!("{c} is waiting for a manager's approval.")),
            Approval::Rejected => return Some(format!("{c} was not approved.")),
            Approval::Approved => {}
        }
        if day < self.valid_from {
            return Some(format!("{c} is valid from {}.", self.valid_from));
        }
        if let Some(u) = self.valid_until.filter(|u| day > *u) {
            return Some(format!("{c} expired on {u}."));
        }
        if let Some(m) = self.max_uses.filter(|m| self.uses >= *m) {
            return Some(format!("{c} was used {m} times, its limit."));
        }
        None
    }

    fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        if let Err(x) = normalize_code(&self.code) {
            e.add("code", x);
        }
        if self.description.chars().count() > 200 {
            e.add("description", "at most 200 characters");
        }
        if let Err(x) = check_percent(self.percent) {
            e.add("percent", x);
        }
        if self.percent <= Decimal::ZERO {
            e.add("percent", "must be more than 0");
        }
        if self.valid_until.is_some_and(|u| u < self.valid_from) {
            e.add("valid_until", "is before the first valid day");
        }
        if self.max_uses == Some(0) {
            e.add("max_uses", "must be at least 1");
        }
        e.into_result()
    }
}

/// Proposes a discount code (usable once a manager approves it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddDiscountCode {
    pub code: DiscountCode,
}

impl MutationKind for AddDiscountCode {
    const NAME: &'static str = "add_discount_code";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.code.id]
    }

    fn permission(&self) -> Permission {
        super::mutations::billing(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let c = &self.code;
        c.validate()?;
        if c.id != DiscountCode::id_for(cx.tenant, &c.code) {
            return Err(ClinicError::field(
                "code",
                "a code's id is derived from the clinic and the code",
            ));
        }
        if let Some(have) = recs.get::<DiscountCode>(c.id) {
            if have.percent == c.percent && have.valid_from == c.valid_from {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(format!(
                "{} is already a discount code.",
                have.code
            )));
        }
        let code = DiscountCode {
            tenant_id: cx.tenant,
            code: c.code.trim().to_uppercase(),
            description: c.description.trim().to_string(),
            uses: 0,
            approval: Approval::Pending,
            decided_by: None,
            decided_at: None,
            created_by: cx.user.unwrap_or(c.created_by),
            created_at: cx.at,
            updated_at: cx.at,
            ..c.clone()
        };
        recs.put(code);
        Ok(Applied::one(c.id))
    }
}

/// A manager approves (or rejects) a proposed code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideDiscountCode {
    pub code: Uuid,
    pub approve: bool,
}

impl MutationKind for DecideDiscountCode {
    const NAME: &'static str = "decide_discount_code";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.code]
    }

    fn permission(&self) -> Permission {
        closing_permission()
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut c = recs
            .get::<DiscountCode>(self.code)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Discount code"))?;
        let want = if self.approve {
            Approval::Approved
        } else {
            Approval::Rejected
        };
        if c.approval == want {
            return Ok(Applied::nothing());
        }
        if c.approval != Approval::Pending {
            return Err(ClinicError::conflict(format!(
                "{} was already {}.",
                c.code,
                if c.approval == Approval::Approved {
                    "approved"
                } else {
                    "rejected"
                }
            )));
        }
        c.approval = want;
        c.decided_by = cx.user;
        c.decided_at = Some(cx.at);
        c.updated_at = cx.at;
        recs.put(c);
        Ok(Applied::one(self.code))
    }
}

/// Counts one use of each code an issued invoice carries (never refused:
/// the invoice's number is printed).
pub(super) fn count_uses(recs: &mut Records, codes: &[Uuid], at: DateTime<Utc>) -> Vec<Uuid> {
    let mut changed = Vec::new();
    for id in codes {
        if let Some(mut c) = recs.get::<DiscountCode>(*id).cloned() {
            c.uses += 1;
            c.updated_at = at;
            recs.put(c);
            changed.push(*id);
        }
    }
    changed
}
