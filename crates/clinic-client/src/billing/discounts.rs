//! Discount codes on a desk: proposed by billing staff, approved by a
//! manager, then applied to invoice lines by their code while valid and
//! not used up (`CONS30:1::SPRING10` on the command line).

use super::Billing;
use chrono::NaiveDate;
use clinic_core::audit::AuditEntry;
use clinic_core::billing::money::parse_percent;
use clinic_core::billing::*;
use clinic_core::permissions::{Action, Module, SensitiveFlag};
use clinic_core::sync::{Mutation, RecordKind};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use serde_json::json;

/// A discount code as typed.
#[derive(Debug, Clone, Default)]
pub struct NewDiscountCode {
    pub code: String,
    pub description: String,
    pub percent: String,
    /// Today when not given.
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub max_uses: Option<u32>,
}

fn audit(action: &'static str, c: &DiscountCode) -> AuditEntry {
    AuditEntry {
        action,
        entity_type: DiscountCode::KIND,
        entity_id: Some(c.id),
        patient_id: None,
        details: json!({"code": c.code, "percent": c.percent}),
    }
}

impl Billing<'_> {
    /// A discount code by its code (any case).
    pub fn discount_code(&self, code: &str) -> ClinicResult<DiscountCode> {
        let db = self.ws.store()?.db();
        let id = DiscountCode::id_for(db.tenant()?.id, code);
        db.document::<DiscountCode>(id)?.ok_or_else(|| {
            ClinicError::new(
                ErrorCode::NotFound,
                format!("{} is not a discount code.", code.trim().to_uppercase()),
            )
        })
    }

    /// The clinic's discount codes, by code.
    pub fn discount_codes(&mut self) -> ClinicResult<Vec<DiscountCode>> {
        self.act(Action::View)?;
        let mut all = self.ws.store()?.db().documents::<DiscountCode>()?;
        all.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(all)
    }

    /// Proposes a code; it is usable once a manager approves it.
    pub fn add_discount_code(&mut self, n: NewDiscountCode) -> ClinicResult<DiscountCode> {
        let (s, now) = self.act(Action::Edit)?;
        let today = self.today(now)?;
        let percent = parse_percent(&n.percent).map_err(|e| ClinicError::field("percent", e))?;
        let tenant = self.ws.store()?.db().tenant()?.id;
        let code = n.code.trim().to_uppercase();
        let id = DiscountCode::id_for(tenant, &code);
        if self
            .ws
            .store()?
            .db()
            .document::<DiscountCode>(id)?
            .is_some()
        {
            return Err(ClinicError::conflict(format!(
                "{code} is already a discount code."
            )));
        }
        let c = DiscountCode {
            id,
            tenant_id: tenant,
            code,
            description: n.description.trim().to_string(),
            percent,
            valid_from: n.valid_from.unwrap_or(today),
            valid_until: n.valid_until,
            max_uses: n.max_uses,
            uses: 0,
            approval: Approval::Pending,
            decided_by: None,
            decided_at: None,
            created_by: s.user_id,
            created_at: now,
            updated_at: now,
        };
        let entry = audit("discount.add", &c);
        let done = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(AddDiscountCode { code: c })),
            |_| vec![entry],
        )?;
        Ok(done.after::<DiscountCode>(id)?)
    }

    /// A manager approves or rejects a proposed code.
    pub fn decide_discount_code(
        &mut self,
        code: &str,
        approve: bool,
    ) -> ClinicResult<DiscountCode> {
        let (s, now) = self.ws.act(Module::Admin, Action::Edit)?;
        s.permissions.require_flag(SensitiveFlag::FinancialData)?;
        let c = self.discount_code(code)?;
        if c.approval != Approval::Pending {
            return Err(ClinicError::conflict(format!(
                "{} was already decided.",
                c.code
            )));
        }
        let id = c.id;
        let entry = audit(
            if approve {
                "discount.approve"
            } else {
                "discount.reject"
            },
            &c,
        );
        let done = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(DecideDiscountCode { code: id, approve })),
            |_| vec![entry],
        )?;
        Ok(done.after::<DiscountCode>(id)?)
    }
}
