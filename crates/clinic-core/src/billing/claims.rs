//! Insurance: claims against an invoice (numbered offline from their own
//! series), decided by the insurer — an approved amount posts an insurance
//! payment on the invoice, so its balance follows on every desk — and
//! eligibility checks recorded against the patient's cover.

use super::invoice::Invoice;
use super::money::{check_amount, RULE_DIGITS};
use super::mutations::billing;
use super::payment::{Payment, PaymentKind, PaymentMethod};
use super::period::PeriodLock;
use super::CLAIM_NUMBERS;
use crate::error::{ClinicError, ClinicResult};
use crate::patients::Patient;
use crate::permissions::{Action, Permission};
use crate::sync::{Applied, Context, IssuedNumber, Merge, MutationKind, RecordKind, Records, Ref};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    Pending,
    /// The insurer approved (all or part of) what was claimed; decided.
    Approved,
    /// The insurer paid part and may pay more (a later decision adds to it).
    PartiallyPaid,
    Denied,
}

impl ClaimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::PartiallyPaid => "partially_paid",
            Self::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<ClaimStatus> {
        let s = s.trim().to_lowercase().replace(['-', ' '], "_");
        [
            Self::Pending,
            Self::Approved,
            Self::PartiallyPaid,
            Self::Denied,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
    /// Whether the insurer may still decide (more).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::PartiallyPaid)
    }
}

/// A claim to an insurer for (part of) an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InsuranceClaim {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `CLM-000012`.
    pub number: String,
    pub invoice_id: Uuid,
    pub invoice_number: String,
    pub patient_id: Uuid,
    pub provider: String,
    #[serde(default)]
    pub policy_number: Option<String>,
    pub currency: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub claimed: Decimal,
    /// What the insurer approved so far (posted as insurance payments).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub approved: Decimal,
    pub status: ClaimStatus,
    pub submitted_on: NaiveDate,
    #[serde(default)]
    pub decided_on: Option<NaiveDate>,
    /// The insurer's reason (a denial's is required).
    #[serde(default)]
    pub reason: Option<String>,
    /// The insurance payments its approvals posted.
    #[serde(default)]
    pub payments: Vec<Uuid>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordKind for InsuranceClaim {
    const KIND: &'static str = "insurance_claim";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

fn text(field: &str, v: &str, max: usize, required: bool) -> ClinicResult<String> {
    let t = v.trim();
    if (required && t.is_empty()) || t.chars().count() > max {
        return Err(ClinicError::field(
            field,
            if required {
                format!("is required (at most {max} characters)")
            } else {
                format!("at most {max} characters")
            },
        ));
    }
    Ok(t.to_string())
}

/// Submits a claim for an issued invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitClaim {
    pub claim: InsuranceClaim,
}

impl MutationKind for SubmitClaim {
    const NAME: &'static str = "submit_claim";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.claim.id, self.claim.invoice_id]
    }

    fn permission(&self) -> Permission {
        billing(Action::Create)
    }

    fn numbers(&self) -> Vec<IssuedNumber> {
        (CLAIM_NUMBERS.parse)(&self.claim.number)
            .map(|value| IssuedNumber {
                series: CLAIM_NUMBERS.name,
                value,
                record: self.claim.id,
            })
            .into_iter()
            .collect()
    }

    fn refs(&self) -> Vec<Ref> {
        vec![Ref::to::<Patient>(self.claim.patient_id, "patient")]
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let c = &self.claim;
        if let Some(have) = recs.get::<InsuranceClaim>(c.id) {
            if have.number == c.number && have.invoice_id == c.invoice_id {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(
                "A different record already has this id.",
            ));
        }
        if (CLAIM_NUMBERS.parse)(&c.number).is_none() {
            return Err(ClinicError::field("number", "is not a claim number"));
        }
        let inv = recs
            .get::<Invoice>(c.invoice_id)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Invoice"))?;
        if !inv.status.is_open() {
            return Err(ClinicError::conflict(
                "Only an issued invoice is claimed from an insurer.",
            ));
        }
        if inv.patient_id != c.patient_id || inv.currency != c.currency {
            return Err(ClinicError::field(
                "invoice",
                "is not this patient's invoice in this currency",
            ));
        }
        check_amount(c.claimed, RULE_DIGITS, false).map_err(|e| ClinicError::field("amount", e))?;
        if c.claimed > inv.totals.total {
            return Err(ClinicError::field(
                "amount",
                format!("is more than the invoice's total ({})", inv.totals.total),
            ));
        }
        if c.submitted_on > cx.today() + chrono::Duration::days(1) {
            return Err(ClinicError::field("date", "must not be in the future"));
        }
        let claim = InsuranceClaim {
            tenant_id: cx.tenant,
            invoice_number: inv.number.clone().unwrap_or_default(),
            provider: text("provider", &c.provider, 200, true)?,
            policy_number: c
                .policy_number
                .as_deref()
                .map(|p| text("policy_number", p, 60, false))
                .transpose()?
                .filter(|p| !p.is_empty()),
            approved: Decimal::ZERO,
            status: ClaimStatus::Pending,
            decided_on: None,
            reason: None,
            payments: vec![],
            created_by: cx.user.unwrap_or(c.created_by),
            created_at: cx.at,
            updated_at: cx.at,
            ..c.clone()
        };
        recs.put(claim);
        Ok(Applied::one(c.id))
    }
}

/// The insurer's decision on a claim. An approval (or a part paid) posts
/// the newly approved amount as an insurance payment on the invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideClaim {
    pub claim: Uuid,
    pub status: ClaimStatus,
    /// The total approved so far, after this decision.
    #[serde(default)]
    pub approved: Decimal,
    pub decided_on: NaiveDate,
    #[serde(default)]
    pub reason: Option<String>,
    /// The insurance payment of what this decision adds (approved − what
    /// was approved before), with its receipt number.
    #[serde(default)]
    pub payment: Option<Payment>,
}

impl MutationKind for DecideClaim {
    const NAME: &'static str = "decide_claim";

    fn touches(&self) -> Vec<Uuid> {
        let mut t = vec![self.claim];
        if let Some(p) = &self.payment {
            t.extend([p.id, p.invoice_id, PeriodLock::id_for(p.tenant_id)]);
        }
        t
    }

    fn permission(&self) -> Permission {
        billing(Action::Edit)
    }

    fn numbers(&self) -> Vec<IssuedNumber> {
        self.payment
            .as_ref()
            .and_then(|p| {
                p.receipt_number
                    .as_deref()
                    .and_then(super::RECEIPT_NUMBERS.parse)
                    .map(|value| IssuedNumber {
                        series: super::RECEIPT_NUMBERS.name,
                        value,
                        record: p.id,
                    })
            })
            .into_iter()
            .collect()
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut claim = recs
            .get::<InsuranceClaim>(self.claim)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Claim"))?;
        if claim.status == self.status
            && claim.approved == self.approved
            && claim.decided_on == Some(self.decided_on)
        {
            return Ok(Applied::nothing());
        }
        if !claim.status.is_open() {
            return Err(ClinicError::conflict(format!(
                "Claim {} was already decided ({}).",
                claim.number,
                claim.status.as_str()
            )));
        }
        if self.decided_on > cx.today() + chrono::Duration::days(1)
            || self.decided_on < claim.submitted_on
        {
            return Err(ClinicError::field(
                "date",
                "is between the claim's submission and today",
            ));
        }
        let reason = self
            .reason
            .as_deref()
            .map(|r| text("reason", r, 500, false))
            .transpose()?
            .filter(|r| !r.is_empty());
        let added = self.approved - claim.approved;
        match self.status {
            ClaimStatus::Pending => {
                return Err(ClinicError::field(
                    "status",
                    "a decision approves, pays part of or denies the claim",
                ))
            }
            ClaimStatus::Denied => {
                if reason.is_none() {
                    return Err(ClinicError::field("reason", "say why it was denied"));
                }
                if added != Decimal::ZERO || self.payment.is_some() {
                    return Err(ClinicError::field(
                        "approved",
                        "a denial approves nothing more",
                    ));
                }
            }
            ClaimStatus::Approved | ClaimStatus::PartiallyPaid => {
                check_amount(self.approved, RULE_DIGITS, false)
                    .map_err(|e| ClinicError::field("approved", e))?;
                if self.approved > claim.claimed {
                    return Err(ClinicError::field(
                        "approved",
                        format!("is more than was claimed ({})", claim.claimed),
                    ));
                }
                if added < Decimal::ZERO {
                    return Err(ClinicError::field(
                        "approved",
                        format!("is less than already approved ({})", claim.approved),
                    ));
                }
                if self.status == ClaimStatus::PartiallyPaid && self.approved == claim.claimed {
                    return Err(ClinicError::field(
                        "status",
                        "all that was claimed is approved: the claim is approved",
                    ));
                }
            }
        }
        let mut applied = Applied::one(claim.id);
        match (&self.payment, added > Decimal::ZERO) {
            (Some(p), true) => {
                if p.amount != added
                    || p.method != PaymentMethod::Insurance
                    || p.kind != PaymentKind::Payment
                    || p.invoice_id != claim.invoice_id
                {
                    return Err(ClinicError::field(
                        "payment",
                        format!(
                            "an approval posts an insurance payment of what it adds ({added}) on the claim's invoice"
                        ),
                    ));
                }
                let posted = super::mutations::take_money(cx, recs, p)?;
                applied.changed.extend(posted.changed);
                claim.payments.push(p.id);
            }
            (None, false) => {}
            _ => {
                return Err(ClinicError::field(
                    "payment",
                    "an approval posts one insurance payment of what it adds",
                ))
            }
        }
        claim.status = self.status;
        claim.approved = self.approved;
        claim.decided_on = Some(self.decided_on);
        claim.reason = reason;
        claim.updated_at = cx.at;
        recs.put(claim);
        Ok(applied)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Eligibility {
    Eligible,
    NotEligible,
    /// The insurer could not say (try again).
    Unknown,
}

impl Eligibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eligible => "eligible",
            Self::NotEligible => "not_eligible",
            Self::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Eligibility> {
        let s = s.trim().to_lowercase().replace(['-', ' '], "_");
        [Self::Eligible, Self::NotEligible, Self::Unknown]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// An eligibility check of a patient's cover, as the insurer answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EligibilityCheck {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub patient_id: Uuid,
    pub provider: String,
    #[serde(default)]
    pub policy_number: Option<String>,
    pub status: Eligibility,
    pub checked_on: NaiveDate,
    /// What the cover includes, as the insurer said it.
    #[serde(default)]
    pub benefits: String,
    pub checked_by: Uuid,
    pub checked_at: DateTime<Utc>,
}

impl RecordKind for EligibilityCheck {
    const KIND: &'static str = "eligibility_check";
    const MERGE: Merge = Merge::Ledger;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordEligibility {
    pub check: EligibilityCheck,
}

impl MutationKind for RecordEligibility {
    const NAME: &'static str = "record_eligibility";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.check.id]
    }

    fn permission(&self) -> Permission {
        billing(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        vec![Ref::to::<Patient>(self.check.patient_id, "patient")]
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let c = &self.check;
        if recs.any(c.id).is_some() {
            return Ok(Applied::nothing());
        }
        if c.checked_on > cx.today() + chrono::Duration::days(1) {
            return Err(ClinicError::field("date", "must not be in the future"));
        }
        let check = EligibilityCheck {
            tenant_id: cx.tenant,
            provider: text("provider", &c.provider, 200, true)?,
            policy_number: c
                .policy_number
                .as_deref()
                .map(|p| text("policy_number", p, 60, false))
                .transpose()?
                .filter(|p| !p.is_empty()),
            benefits: text("benefits", &c.benefits, 4000, false)?,
            checked_by: cx.user.unwrap_or(c.checked_by),
            checked_at: cx.at,
            ..c.clone()
        };
        recs.put(check);
        Ok(Applied::one(c.id))
    }
}
