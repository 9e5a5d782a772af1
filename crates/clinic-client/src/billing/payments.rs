//! Money against invoices: payments (numbered receipts), refunds (never
//! more than is left of the payment on this desk), credit notes by line or
//! in full, credit moved from an overpaid invoice to another, and a
//! manager's answer to a conflict of money that arrived from two desks.

use super::invoices::invoice_audit;
use super::Billing;
use crate::workstation::new_id;
use chrono::NaiveDate;
use clinic_core::billing::money::parse_amount;
use clinic_core::billing::*;
use clinic_core::permissions::Action;
use clinic_core::sync::Mutation;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

impl Billing<'_> {
    /// A payment or refund by id or receipt number (`RCT-000045`).
    pub fn resolve_payment(&self, text: &str) -> ClinicResult<Uuid> {
        let db = self.ws.store()?.db();
        let found = match Uuid::parse_str(text.trim()) {
            Ok(id) => db.payment(id)?,
            Err(_) => db.payment_by_receipt(text)?,
        };
        found.map(|p| p.id).ok_or_else(|| {
            ClinicError::new(
                ErrorCode::NotFound,
                "No payment has that id or receipt number.",
            )
        })
    }

    /// A credit note by id or number (`CN-000012`).
    pub fn resolve_credit_note(&self, text: &str) -> ClinicResult<Uuid> {
        let db = self.ws.store()?.db();
        let found = match Uuid::parse_str(text.trim()) {
            Ok(id) => db.credit_note(id)?,
            Err(_) => db.credit_note_by_number(text)?,
        };
        found.map(|c| c.id).ok_or_else(|| {
            ClinicError::new(ErrorCode::NotFound, "No credit note has that id or number.")
        })
    }

    pub(crate) fn load_payment(&self, id: Uuid) -> ClinicResult<Payment> {
        self.ws
            .store()?
            .db()
            .payment(id)?
            .ok_or_else(|| ClinicError::not_found("Payment"))
    }

    /// Takes a payment against an issued invoice: any amount (what goes
    /// beyond the balance is the patient's credit), a numbered receipt.
    pub fn take_payment(
        &mut self,
        invoice: Uuid,
        amount: &str,
        method: PaymentMethod,
        date: Option<NaiveDate>,
        reference: Option<&str>,
    ) -> ClinicResult<Payment> {
        let (s, now) = self.act(Action::Create)?;
        let inv = self.load(invoice)?;
        if !inv.status.is_open() {
            return Err(ClinicError::conflict(match inv.status {
                InvoiceStatus::Draft => "Issue the invoice before taking a payment for it.",
                _ => "This invoice is not open for payment.",
            }));
        }
        if method == PaymentMethod::Credit {
            return Err(ClinicError::field(
                "method",
                "credit is used with `use credit`, not taken as a payment",
            ));
        }
        let amount = parse_amount(amount, inv.digits(), false)
            .map_err(|e| ClinicError::field("amount", e))?;
        let today = self.today(now)?;
        let received_on = date.unwrap_or(today);
        if received_on > today {
            return Err(ClinicError::field("date", "must not be in the future"));
        }
        self.ensure_open("A payment", received_on)?;
        let settings = self.settings()?;
        let print = self.print_snapshot(inv.patient_id, &settings)?;
        let id = new_id(now);
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                Ok(Mutation::new(RecordPayment {
                    payment: Payment {
                        reference: reference
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(str::to_string),
                        ..received(db, &inv, (id, method, amount, received_on), &s, now, print)?
                    },
                }))
            },
            |_| {
                vec![invoice_audit(
                    "payment.record",
                    invoice,
                    inv.patient_id,
                    json!({"payment": id, "amount": amount, "method": method.as_str()}),
                )]
            },
        )?;
        Ok(c.after::<Payment>(id)?)
    }

    /// Pays back part or all of a payment, with a reason: never more than
    /// is left of it (`OVER_REFUND`).
    pub fn refund(
        &mut self,
        payment: Uuid,
        amount: &str,
        reason: &str,
        method: Option<PaymentMethod>,
    ) -> ClinicResult<Payment> {
        let (s, now) = self.act(Action::Delete)?;
        let p = self.load_payment(payment)?;
        if p.kind != PaymentKind::Payment || p.method == PaymentMethod::Credit {
            return Err(ClinicError::field(
                "payment",
                "is not money received (a refund or a transfer of credit)",
            ));
        }
        let inv = self.load(p.invoice_id)?;
        let amount = parse_amount(amount, inv.digits(), false)
            .map_err(|e| ClinicError::field("amount", e))?;
        let left = inv.refundable(payment);
        if amount > left {
            return Err(ClinicError::new(
                ErrorCode::OverRefund,
                format!(
                    "Only {left} of this payment is left to refund ({} was paid).",
                    p.amount
                ),
            ));
        }
        if reason.trim().is_empty() {
            return Err(ClinicError::field("reason", "is required"));
        }
        let method = method.unwrap_or(p.method);
        if method == PaymentMethod::Credit {
            return Err(ClinicError::field("method", "a refund pays money back"));
        }
        let today = self.today(now)?;
        self.ensure_open("A refund", today)?;
        let settings = self.settings()?;
        let print = self.print_snapshot(inv.patient_id, &settings)?;
        let id = new_id(now);
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                Ok(Mutation::new(RefundPayment {
                    refund: Payment {
                        id,
                        tenant_id: inv.tenant_id,
                        patient_id: inv.patient_id,
                        invoice_id: inv.id,
                        kind: PaymentKind::Refund,
                        method,
                        amount,
                        currency: inv.currency.clone(),
                        received_on: today,
                        reference: None,
                        refund_of: Some(payment),
                        reason: Some(reason.trim().to_string()),
                        receipt_number: Some((RECEIPT_NUMBERS.format)(
                            db.next_number(RECEIPT_NUMBERS.name)?,
                        )),
                        invoice_number: inv.number.clone(),
                        recorded_by: s.user_id,
                        recorded_at: now,
                        print,
                        desk_id: Some(db.device_id),
                    },
                }))
            },
            |_| {
                vec![invoice_audit(
                    "payment.refund",
                    inv.id,
                    inv.patient_id,
                    json!({"refund": id, "of": payment, "amount": amount, "reason": reason.trim()}),
                )]
            },
        )?;
        Ok(c.after::<Payment>(id)?)
    }

    /// Issues a credit note for an invoice: the given lines (0-based), or
    /// every line not yet credited. A line already credited is refused.
    pub fn credit(
        &mut self,
        invoice: Uuid,
        lines: &[usize],
        reason: &str,
    ) -> ClinicResult<CreditNote> {
        let (s, now) = self.act(Action::Delete)?;
        let inv = self.load(invoice)?;
        if !inv.status.is_open() {
            return Err(ClinicError::conflict(format!(
                "Only an issued invoice is credited (this one is {}).",
                inv.status.as_str()
            )));
        }
        let done = inv.credited_lines();
        if let Some(l) = lines.iter().find(|l| **l >= inv.lines.len()) {
            return Err(ClinicError::field(
                "line",
                format!(
                    "{} is not a line of this invoice (it has {})",
                    l + 1,
                    inv.lines.len()
                ),
            ));
        }
        if let Some(l) = lines.iter().find(|l| done.contains(l)) {
            return Err(ClinicError::new(
                ErrorCode::OverRefund,
                format!("Line {} was already credited.", l + 1),
            ));
        }
        let chosen: Vec<usize> = if lines.is_empty() {
            (0..inv.lines.len()).filter(|i| !done.contains(i)).collect()
        } else {
            lines.to_vec()
        };
        if chosen.is_empty() {
            return Err(ClinicError::new(
                ErrorCode::OverRefund,
                "Every line of this invoice was already credited.",
            ));
        }
        // A full credit of an invoice with nothing credited yet names no lines.
        let line_indexes = if chosen.len() == inv.lines.len() {
            vec![]
        } else {
            chosen
        };
        if reason.trim().is_empty() {
            return Err(ClinicError::field("reason", "is required"));
        }
        let today = self.today(now)?;
        self.ensure_open("A credit note", today)?;
        let print = inv.print.clone().unwrap_or_default();
        let id = new_id(now);
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                Ok(Mutation::new(IssueCreditNote {
                    note: CreditNote {
                        id,
                        tenant_id: inv.tenant_id,
                        invoice_id: invoice,
                        patient_id: inv.patient_id,
                        number: (CREDIT_NOTE_NUMBERS.format)(
                            db.next_number(CREDIT_NOTE_NUMBERS.name)?,
                        ),
                        invoice_number: inv.number.clone().unwrap_or_default(),
                        line_indexes,
                        lines: vec![],
                        totals: Totals::default(),
                        currency: inv.currency.clone(),
                        reason: reason.trim().to_string(),
                        issued_by: s.user_id,
                        issued_at: now,
                        issued_on: today,
                        print,
                    },
                }))
            },
            |_| {
                vec![invoice_audit(
                    "invoice.credit",
                    invoice,
                    inv.patient_id,
                    json!({"credit_note": id, "reason": reason.trim()}),
                )]
            },
        )?;
        Ok(c.after::<CreditNote>(id)?)
    }

    /// Uses credit a patient holds on `from` (an overpaid invoice) to pay
    /// `to`: at most the credit, at most what `to` still owes.
    pub fn use_credit(
        &mut self,
        from: Uuid,
        to: Uuid,
        amount: Option<&str>,
    ) -> ClinicResult<(Payment, Payment)> {
        let (s, now) = self.act(Action::Edit)?;
        let (a, b) = (self.load(from)?, self.load(to)?);
        if a.patient_id != b.patient_id {
            return Err(ClinicError::field(
                "invoice",
                "credit moves between one patient's invoices",
            ));
        }
        if !b.status.is_open() {
            return Err(ClinicError::conflict(
                "Credit is used on an issued invoice.",
            ));
        }
        let available = -a.balance();
        let owed = b.balance();
        if available <= Decimal::ZERO {
            return Err(ClinicError::new(
                ErrorCode::OverRefund,
                "That invoice holds no credit.",
            ));
        }
        let amount = match amount {
            Some(t) => {
                parse_amount(t, a.digits(), false).map_err(|e| ClinicError::field("amount", e))?
            }
            None => available.min(owed),
        };
        if amount <= Decimal::ZERO {
            return Err(ClinicError::conflict("The invoice to pay owes nothing."));
        }
        if amount > available {
            return Err(ClinicError::new(
                ErrorCode::OverRefund,
                format!("Only {available} of credit is available."),
            ));
        }
        let today = self.today(now)?;
        self.ensure_open("Credit used", today)?;
        let desk = self.ws.store()?.device_id();
        let (out_id, in_id) = (new_id(now), new_id(now));
        let transfer = |id, inv: &Invoice, kind| Payment {
            id,
            tenant_id: inv.tenant_id,
            patient_id: inv.patient_id,
            invoice_id: inv.id,
            kind,
            method: PaymentMethod::Credit,
            amount,
            currency: inv.currency.clone(),
            received_on: today,
            reference: None,
            refund_of: None,
            reason: Some("credit moved between invoices".into()),
            receipt_number: None,
            invoice_number: inv.number.clone(),
            recorded_by: s.user_id,
            recorded_at: now,
            print: BillingPrint::default(),
            desk_id: Some(desk),
        };
        let m = ApplyCredit {
            out_of: transfer(out_id, &a, PaymentKind::Refund),
            into: transfer(in_id, &b, PaymentKind::Payment),
        };
        let c = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(m)),
            |_| {
                vec![invoice_audit(
                    "invoice.credit_used",
                    to,
                    b.patient_id,
                    json!({"from": from, "amount": amount}),
                )]
            },
        )?;
        Ok((c.after::<Payment>(out_id)?, c.after::<Payment>(in_id)?))
    }

    /// A manager's answer to a conflict of money on an invoice. A document
    /// that arrived after its period was closed is posted into the first
    /// open period (today, or the first open day if later), keeping its
    /// own date.
    pub fn resolve_conflict(
        &mut self,
        invoice: Uuid,
        entry: Uuid,
        note: &str,
    ) -> ClinicResult<Invoice> {
        let (s, now) = self.act(Action::Delete)?;
        let inv = self.load(invoice)?;
        let late = inv
            .conflicts
            .iter()
            .any(|c| c.entry == entry && c.resolved.is_none() && c.code == "PERIOD_CLOSED");
        let post_on = if late {
            let today = self.today(now)?;
            Some(match self.period_lock()? {
                Some(l) => l.first_open_day().max(today),
                None => today,
            })
        } else {
            None
        };
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(ResolveMoneyConflict {
                    invoice,
                    entry,
                    note: note.to_string(),
                    tenant: Some(inv.tenant_id),
                    post_on,
                }))
            },
            |_| {
                vec![invoice_audit(
                    "invoice.conflict_resolved",
                    invoice,
                    inv.patient_id,
                    json!({"entry": entry, "note": note, "posted_on": post_on}),
                )]
            },
        )?;
        Ok(c.after::<Invoice>(invoice)?)
    }
}

/// Money received against `inv` on this desk, under the next receipt
/// number of its block: `(id, method, amount, day received)`.
pub(crate) fn received(
    db: &clinic_store::Db,
    inv: &Invoice,
    (id, method, amount, received_on): (Uuid, PaymentMethod, Decimal, NaiveDate),
    s: &crate::workstation::Session,
    now: chrono::DateTime<chrono::Utc>,
    print: BillingPrint,
) -> ClinicResult<Payment> {
    Ok(Payment {
        id,
        tenant_id: inv.tenant_id,
        patient_id: inv.patient_id,
        invoice_id: inv.id,
        kind: PaymentKind::Payment,
        method,
        amount,
        currency: inv.currency.clone(),
        received_on,
        reference: None,
        refund_of: None,
        reason: None,
        receipt_number: Some((RECEIPT_NUMBERS.format)(
            db.next_number(RECEIPT_NUMBERS.name)?,
        )),
        invoice_number: inv.number.clone(),
        recorded_by: s.user_id,
        recorded_at: now,
        print,
        desk_id: Some(db.device_id),
    })
}
