//! Insurance claims and eligibility checks, and instalment plans, on a
//! desk: claims numbered from this desk's block, an approval posting the
//! insurer's payment with a receipt, plans whose due and overdue
//! instalments every desk computes alike.

use super::invoices::invoice_audit;
use super::Billing;
use crate::workstation::new_id;
use chrono::NaiveDate;
use clinic_core::audit::AuditEntry;
use clinic_core::billing::money::parse_amount;
use clinic_core::billing::*;
use clinic_core::permissions::Action;
use clinic_core::sync::{Mutation, RecordKind};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// A claim as lists show it, with its invoice's balance now.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClaimView {
    #[serde(flatten)]
    pub claim: InsuranceClaim,
    pub patient_name: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub invoice_balance: Decimal,
}

/// A plan with where it stands today.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanView {
    pub plan: InstalmentPlan,
    pub progress: PlanProgress,
    pub patient_name: String,
}

/// A claim decision as typed.
#[derive(Debug, Clone, Default)]
pub struct ClaimDecision {
    pub status: String,
    /// The total approved so far (`None` with a denial).
    pub approved: Option<String>,
    pub reason: Option<String>,
    pub date: Option<NaiveDate>,
}

impl Billing<'_> {
    /// A claim by id or number (`CLM-000012`).
    pub fn resolve_claim(&self, text: &str) -> ClinicResult<InsuranceClaim> {
        let db = self.ws.store()?.db();
        let t = text.trim();
        let found = match Uuid::parse_str(t) {
            Ok(id) => db.document::<InsuranceClaim>(id)?,
            Err(_) => db
                .documents::<InsuranceClaim>()?
                .into_iter()
                .find(|c| c.number.eq_ignore_ascii_case(t)),
        };
        found
            .ok_or_else(|| ClinicError::new(ErrorCode::NotFound, "No claim has that id or number."))
    }

    fn claim_view(&self, claim: InsuranceClaim) -> ClinicResult<ClaimView> {
        let db = self.ws.store()?.db();
        let patient_name = db
            .patient(claim.patient_id)?
            .map(|p| format!("{} {}", p.details.first_name, p.details.last_name))
            .unwrap_or_default();
        let invoice_balance = db
            .invoice(claim.invoice_id)?
            .map(|i| i.balance())
            .unwrap_or_default();
        Ok(ClaimView {
            claim,
            patient_name,
            invoice_balance,
        })
    }

    /// Submits a claim to an insurer for (part of) an issued invoice.
    pub fn add_claim(
        &mut self,
        invoice: Uuid,
        provider: &str,
        amount: &str,
        policy_number: Option<&str>,
    ) -> ClinicResult<ClaimView> {
        let (s, now) = self.act(Action::Create)?;
        let inv = self.load(invoice)?;
        if !inv.status.is_open() {
            return Err(ClinicError::conflict(
                "Only an issued invoice is claimed from an insurer.",
            ));
        }
        let claimed = parse_amount(amount, inv.digits(), false)
            .map_err(|e| ClinicError::field("amount", e))?;
        if claimed > inv.totals.total {
            return Err(ClinicError::field(
                "amount",
                format!("is more than the invoice's total ({})", inv.totals.total),
            ));
        }
        if provider.trim().is_empty() {
            return Err(ClinicError::field("provider", "is required"));
        }
        let today = self.today(now)?;
        let id = new_id(now);
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                Ok(Mutation::new(SubmitClaim {
                    claim: InsuranceClaim {
                        id,
                        tenant_id: inv.tenant_id,
                        number: (CLAIM_NUMBERS.format)(db.next_number(CLAIM_NUMBERS.name)?),
                        invoice_id: inv.id,
                        invoice_number: inv.number.clone().unwrap_or_default(),
                        patient_id: inv.patient_id,
                        provider: provider.trim().to_string(),
                        policy_number: policy_number.map(str::to_string),
                        currency: inv.currency.clone(),
                        claimed,
                        approved: Decimal::ZERO,
                        status: ClaimStatus::Pending,
                        submitted_on: today,
                        decided_on: None,
                        reason: None,
                        payments: vec![],
                        created_by: s.user_id,
                        created_at: now,
                        updated_at: now,
                    },
                }))
            },
            |_| {
                vec![invoice_audit(
                    "claim.submit",
                    inv.id,
                    inv.patient_id,
                    json!({"claim": id, "provider": provider.trim(), "amount": claimed}),
                )]
            },
        )?;
        self.claim_view(c.after::<InsuranceClaim>(id)?)
    }

    /// Records the insurer's decision. An approved amount (the total
    /// approved so far) posts what it adds as an insurance payment.
    pub fn decide_claim(&mut self, claim: &str, d: ClaimDecision) -> ClinicResult<ClaimView> {
        let (s, now) = self.act(Action::Edit)?;
        let claim = self.resolve_claim(claim)?;
        let status = ClaimStatus::parse(&d.status)
            .ok_or_else(|| ClinicError::field("status", "is approved, partially_paid or denied"))?;
        if !claim.status.is_open() {
            return Err(ClinicError::conflict(format!(
                "Claim {} was already decided ({}).",
                claim.number,
                claim.status.as_str()
            )));
        }
        let inv = self.load(claim.invoice_id)?;
        let approved = match (&d.approved, status) {
            (_, ClaimStatus::Pending) => {
                return Err(ClinicError::field(
                    "status",
                    "is approved, partially_paid or denied",
                ))
            }
            (None, ClaimStatus::Denied) => claim.approved,
            (Some(_), ClaimStatus::Denied) => {
                return Err(ClinicError::field("approved", "a denial approves nothing"))
            }
            (None, _) => {
                return Err(ClinicError::field(
                    "approved",
                    "say how much the insurer approved",
                ))
            }
            (Some(t), _) => parse_amount(t, inv.digits(), false)
                .map_err(|e| ClinicError::field("approved", e))?,
        };
        if approved > claim.claimed {
            return Err(ClinicError::field(
                "approved",
                format!("is more than was claimed ({})", claim.claimed),
            ));
        }
        if approved < claim.approved {
            return Err(ClinicError::field(
                "approved",
                format!("is less than already approved ({})", claim.approved),
            ));
        }
        if status == ClaimStatus::Denied && d.reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(ClinicError::field("reason", "say why it was denied"));
        }
        let today = self.today(now)?;
        let decided_on = d.date.unwrap_or(today);
        let added = approved - claim.approved;
        if added > Decimal::ZERO {
            self.ensure_open("An insurance payment", decided_on)?;
        }
        let settings = self.settings()?;
        let print = self.print_snapshot(inv.patient_id, &settings)?;
        let pid = new_id(now);
        let id = claim.id;
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                let payment = (added > Decimal::ZERO)
                    .then(|| -> ClinicResult<Payment> {
                        Ok(Payment {
                            reference: Some(format!("{} {}", claim.number, claim.provider)),
                            ..super::payments::received(
                                db,
                                &inv,
                                (pid, PaymentMethod::Insurance, added, decided_on),
                                &s,
                                now,
                                print.clone(),
                            )?
                        })
                    })
                    .transpose()?;
                Ok(Mutation::new(DecideClaim {
                    claim: id,
                    status,
                    approved,
                    decided_on,
                    reason: d.reason.clone(),
                    payment,
                }))
            },
            |_| {
                vec![invoice_audit(
                    "claim.decide",
                    inv.id,
                    inv.patient_id,
                    json!({"claim": id, "status": status.as_str(), "approved": approved}),
                )]
            },
        )?;
        self.claim_view(c.after::<InsuranceClaim>(id)?)
    }

    /// Claims, newest first (`open`: pending or partly paid only).
    pub fn claims(&mut self, open: bool) -> ClinicResult<Vec<ClaimView>> {
        self.act(Action::View)?;
        let mut all = self.ws.store()?.db().documents::<InsuranceClaim>()?;
        all.retain(|c| !open || c.status.is_open());
        all.sort_by(|a, b| (b.submitted_on, &b.number).cmp(&(a.submitted_on, &a.number)));
        all.into_iter().map(|c| self.claim_view(c)).collect()
    }

    /// Records an insurer's answer on a patient's cover.
    pub fn record_eligibility(
        &mut self,
        patient: Uuid,
        provider: &str,
        status: &str,
        benefits: &str,
        policy_number: Option<&str>,
    ) -> ClinicResult<EligibilityCheck> {
        let (s, now) = self.act(Action::Create)?;
        let status = Eligibility::parse(status)
            .ok_or_else(|| ClinicError::field("status", "is eligible, not_eligible or unknown"))?;
        let db = self.ws.store()?.db();
        if db.patient(patient)?.is_none() {
            return Err(ClinicError::not_found("Patient"));
        }
        let tenant = db.tenant()?.id;
        let today = self.today(now)?;
        let id = new_id(now);
        let check = EligibilityCheck {
            id,
            tenant_id: tenant,
            patient_id: patient,
            provider: provider.trim().to_string(),
            policy_number: policy_number.map(str::to_string),
            status,
            checked_on: today,
            benefits: benefits.trim().to_string(),
            checked_by: s.user_id,
            checked_at: now,
        };
        let c = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(RecordEligibility { check })),
            |_| {
                vec![AuditEntry {
                    action: "eligibility.record",
                    entity_type: EligibilityCheck::KIND,
                    entity_id: Some(id),
                    patient_id: Some(patient),
                    details: json!({"status": status.as_str()}),
                }]
            },
        )?;
        Ok(c.after::<EligibilityCheck>(id)?)
    }

    /// A patient's eligibility checks, newest first.
    pub fn eligibility(&mut self, patient: Uuid) -> ClinicResult<Vec<EligibilityCheck>> {
        self.act(Action::View)?;
        let mut all: Vec<EligibilityCheck> = self
            .ws
            .store()?
            .db()
            .documents::<EligibilityCheck>()?
            .into_iter()
            .filter(|c| c.patient_id == patient)
            .collect();
        all.sort_by_key(|c| std::cmp::Reverse(c.checked_at));
        Ok(all)
    }

    /// Spreads what is owing on an issued invoice over 2 to 9 instalments,
    /// weekly or monthly, the first due on `first` (today when not given).
    pub fn add_plan(
        &mut self,
        invoice: Uuid,
        count: u8,
        every: Every,
        first: Option<NaiveDate>,
    ) -> ClinicResult<PlanView> {
        let (s, now) = self.act(Action::Create)?;
        let inv = self.load(invoice)?;
        if !(2..=9).contains(&count) {
            return Err(ClinicError::field(
                "instalments",
                "a plan has 2 to 9 instalments",
            ));
        }
        if !inv.status.is_open() || inv.balance() <= Decimal::ZERO {
            return Err(ClinicError::conflict(
                "Only an issued invoice with something owing is paid in instalments.",
            ));
        }
        let today = self.today(now)?;
        let first_due = first.unwrap_or(today);
        if first_due < today {
            return Err(ClinicError::field("first_due", "must not be in the past"));
        }
        let id = InstalmentPlan::id_for(invoice);
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(CreatePlan {
                    invoice,
                    count,
                    every,
                    first_due,
                }))
            },
            |_| {
                vec![invoice_audit(
                    "plan.create",
                    invoice,
                    inv.patient_id,
                    json!({"instalments": count, "every": every}),
                )]
            },
        )?;
        let plan = c.after::<InstalmentPlan>(id)?;
        self.plan_view(plan, today)
    }

    fn plan_view(&self, plan: InstalmentPlan, today: NaiveDate) -> ClinicResult<PlanView> {
        let db = self.ws.store()?.db();
        let inv = db
            .invoice(plan.invoice_id)?
            .ok_or_else(|| ClinicError::not_found("Invoice"))?;
        let patient_name = db
            .patient(plan.patient_id)?
            .map(|p| format!("{} {}", p.details.first_name, p.details.last_name))
            .unwrap_or_default();
        Ok(PlanView {
            progress: plan.progress(&inv, today),
            plan,
            patient_name,
        })
    }

    /// Instalment plans as they stand today: a patient's, or the clinic's
    /// (`overdue`: only those with an instalment overdue).
    pub fn plans(&mut self, patient: Option<Uuid>, overdue: bool) -> ClinicResult<Vec<PlanView>> {
        let (_, now) = self.act(Action::View)?;
        let today = self.today(now)?;
        self.plans_on(patient, overdue, today)
    }

    /// [`Billing::plans`] on `today`, for a caller that checked the session.
    pub(crate) fn plans_on(
        &self,
        patient: Option<Uuid>,
        overdue: bool,
        today: NaiveDate,
    ) -> ClinicResult<Vec<PlanView>> {
        let db = self.ws.store()?.db();
        let plans: Vec<InstalmentPlan> = match patient {
            Some(p) => db
                .query_docs(
                    "SELECT doc FROM records WHERE kind = 'instalment_plan'
                     AND json_extract(doc, '$.patient_id') = ?1",
                    &[&p.to_string()],
                )?
                .into_iter()
                .filter_map(|d| serde_json::from_value(d).ok())
                .collect(),
            None => db.documents::<InstalmentPlan>()?,
        };
        let mut out = Vec::new();
        for p in plans {
            let v = self.plan_view(p, today)?;
            if !overdue || v.progress.overdue > Decimal::ZERO {
                out.push(v);
            }
        }
        out.sort_by(|a, b| {
            b.progress
                .overdue
                .cmp(&a.progress.overdue)
                .then(a.plan.invoice_number.cmp(&b.plan.invoice_number))
        });
        Ok(out)
    }
}
