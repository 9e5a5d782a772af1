//! The named changes of billing, applied alike on every desk and on the
//! server. Drafts change freely; issuing takes a number from the invoice
//! series and freezes the invoice; money (payments, refunds, credit notes,
//! credit moved between invoices) is recorded as insert-only records and
//! entered in the invoice's ledger — never refused for being too much, but
//! raised as a conflict for a manager.

use super::discounts::DiscountCode;
use super::invoice::*;
use super::money::{check_amount, check_currency, RULE_DIGITS};
use super::payment::*;
use super::period::{closed_until, PeriodLock};
use super::settings::derived_id;
use super::{CREDIT_NOTE_NUMBERS, INVOICE_NUMBERS, RECEIPT_NUMBERS};
use crate::clinical::Encounter;
use crate::error::{ClinicError, ClinicResult, ErrorCode};
use crate::patients::Patient;
use crate::permissions::{Action, Module, Permission, SensitiveFlag};
use crate::scheduling::Appointment;
use crate::sync::{Applied, Context, IssuedNumber, MutationKind, NumberSeries, Records, Ref};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A billing action: the billing module and the financial-data flag.
pub(super) fn billing(action: Action) -> Permission {
    Permission::new(Module::Billing, action).with_flags([SensitiveFlag::FinancialData])
}

fn issued(series: &NumberSeries, number: Option<&str>, record: Uuid) -> Vec<IssuedNumber> {
    number
        .and_then(series.parse)
        .map(|value| IssuedNumber {
            series: series.name,
            value,
            record,
        })
        .into_iter()
        .collect()
}

fn invoice(recs: &Records, id: Uuid) -> ClinicResult<Invoice> {
    recs.get::<Invoice>(id)
        .cloned()
        .ok_or_else(|| ClinicError::not_found("Invoice"))
}

fn check_reason(reason: &str) -> ClinicResult<String> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 500 {
        return Err(ClinicError::field(
            "reason",
            "is required (at most 500 characters)",
        ));
    }
    Ok(r.to_string())
}

fn check_number(series: &NumberSeries, number: &str) -> ClinicResult<()> {
    if (series.parse)(number).is_none() {
        return Err(ClinicError::field(
            "number",
            format!("is not a {} number", series.name.replace('_', " ")),
        ));
    }
    Ok(())
}

/// A document of this tenant (its lock is the one loaded).
fn check_tenant(tenant: Uuid, cx: &Context) -> ClinicResult<()> {
    if tenant != cx.tenant {
        return Err(ClinicError::field("tenant", "is not this clinic"));
    }
    Ok(())
}

/// A document dated inside a closed period is accepted (it arrived from a
/// desk that did not know) and raised on its invoice for a manager to post
/// into the open period, its own date kept.
fn raise_if_closed(
    recs: &Records,
    cx: &Context,
    inv: &mut Invoice,
    entry: Uuid,
    what: String,
    on: NaiveDate,
) {
    if let Some(until) = closed_until(recs, cx.tenant).filter(|u| on <= *u) {
        inv.raise(
            entry,
            "PERIOD_CLOSED",
            format!(
                "{what} dated {on} arrived after the books were closed up to {until}: post it into the open period (its date is kept)."
            ),
            cx.at,
        );
    }
}

impl Invoice {
    /// The id of an appointment's invoice: one per appointment, whichever
    /// desk drafts it.
    pub fn id_for_appointment(appointment: Uuid) -> Uuid {
        derived_id(appointment, "invoice")
    }

    /// The id of a walk-in encounter's invoice (one per encounter; two
    /// desks drafting it offline meet on this id).
    pub fn id_for_encounter(encounter: Uuid) -> Uuid {
        derived_id(encounter, "encounter-invoice")
    }
}

/// Drafts an invoice (for an appointment, an encounter, or neither).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateInvoice {
    pub invoice: Uuid,
    pub patient: Uuid,
    #[serde(default)]
    pub appointment: Option<Uuid>,
    #[serde(default)]
    pub encounter: Option<Uuid>,
    pub currency: String,
    pub prices_include_tax: bool,
    pub lines: Vec<LineInput>,
    #[serde(default)]
    pub discount_percent: Decimal,
    #[serde(default)]
    pub notes: String,
}

impl MutationKind for CreateInvoice {
    const NAME: &'static str = "create_invoice";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.invoice]
    }

    fn permission(&self) -> Permission {
        billing(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        let mut r = vec![Ref::to::<Patient>(self.patient, "patient")];
        r.extend(
            self.appointment
                .map(|a| Ref::to::<Appointment>(a, "appointment")),
        );
        r.extend(self.encounter.map(|e| Ref::to::<Encounter>(e, "encounter")));
        r
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if let Some(a) = self.appointment {
            if self.invoice != Invoice::id_for_appointment(a) {
                return Err(ClinicError::field(
                    "invoice",
                    "an appointment's invoice has the id derived from the appointment",
                ));
            }
        }
        if let Some(existing) = recs.get::<Invoice>(self.invoice) {
            let inputs: Vec<&LineInput> = existing.lines.iter().map(|l| &l.input).collect();
            let same = existing.patient_id == self.patient
                && inputs == self.lines.iter().collect::<Vec<_>>()
                && existing.discount_percent == self.discount_percent;
            if same {
                return Ok(Applied::nothing());
            }
            if existing.status != InvoiceStatus::Discarded {
                return Err(ClinicError::conflict(
                    match (self.appointment, &existing.number) {
                        (Some(_), Some(n)) => format!("This appointment already has invoice {n}."),
                        (Some(_), None) => {
                            "This appointment already has a draft invoice.".to_string()
                        }
                        (None, Some(n)) if self.encounter.is_some() => {
                            format!("This consultation already has invoice {n}.")
                        }
                        _ => "A different invoice already has this id.".to_string(),
                    },
                ));
            }
        }
        check_currency(&self.currency).map_err(|e| ClinicError::field("currency", e))?;
        if self.notes.chars().count() > 2000 {
            return Err(ClinicError::field(
                "notes",
                "must be at most 2000 characters",
            ));
        }
        let mut inv = Invoice {
            id: self.invoice,
            tenant_id: cx.tenant,
            patient_id: self.patient,
            appointment_id: self.appointment,
            encounter_id: self.encounter,
            status: InvoiceStatus::Draft,
            number: None,
            currency: self.currency.clone(),
            prices_include_tax: self.prices_include_tax,
            lines: vec![],
            discount_percent: Decimal::ZERO,
            notes: self.notes.trim().to_string(),
            totals: Totals::default(),
            created_by: cx.user.unwrap_or_default(),
            created_at: cx.at,
            issued_by: None,
            issued_at: None,
            issued_on: None,
            due_on: None,
            print: None,
            void_reason: None,
            entries: vec![],
            paid: Decimal::ZERO,
            refunded: Decimal::ZERO,
            credited: Decimal::ZERO,
            conflicts: vec![],
            updated_at: cx.at,
        };
        // A discarded draft of the appointment is drafted again: its money
        // (if any was taken on it) stays with it.
        if let Some(old) = recs.get::<Invoice>(self.invoice) {
            inv.entries = old.entries.clone();
            inv.conflicts = old.conflicts.clone();
            inv.created_at = old.created_at;
        }
        inv.set_lines(&self.lines, self.discount_percent)?;
        inv.settle();
        recs.put(inv);
        Ok(Applied::one(self.invoice))
    }
}

/// Changes a draft: its lines, discount or notes (an issued invoice is
/// refused: `ALREADY_ISSUED`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EditInvoice {
    pub invoice: Uuid,
    pub lines: Option<Vec<LineInput>>,
    pub discount_percent: Option<Decimal>,
    pub notes: Option<String>,
}

impl MutationKind for EditInvoice {
    const NAME: &'static str = "edit_invoice";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.invoice]
    }

    fn permission(&self) -> Permission {
        billing(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut inv = invoice(recs, self.invoice)?;
        inv.ensure_draft()?;
        let lines = match &self.lines {
            Some(l) => l.clone(),
            None => inv.lines.iter().map(|l| l.input.clone()).collect(),
        };
        let discount = self.discount_percent.unwrap_or(inv.discount_percent);
        inv.set_lines(&lines, discount)?;
        if let Some(n) = &self.notes {
            if n.chars().count() > 2000 {
                return Err(ClinicError::field(
                    "notes",
                    "must be at most 2000 characters",
                ));
            }
            inv.notes = n.trim().to_string();
        }
        inv.updated_at = cx.at;
        recs.put(inv);
        Ok(Applied::one(self.invoice))
    }
}

/// Discards a draft (kept, out of the lists; never an issued invoice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscardInvoice {
    pub invoice: Uuid,
}

impl MutationKind for DiscardInvoice {
    const NAME: &'static str = "discard_invoice";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.invoice]
    }

    fn permission(&self) -> Permission {
        billing(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut inv = invoice(recs, self.invoice)?;
        if inv.status == InvoiceStatus::Discarded {
            return Ok(Applied::nothing());
        }
        inv.ensure_draft()?;
        inv.status = InvoiceStatus::Discarded;
        inv.updated_at = cx.at;
        recs.put(inv);
        Ok(Applied::one(self.invoice))
    }
}

/// Issues a draft under the next number of the invoice series, with a copy
/// of what it prints. `total` is the total the person saw: a draft changed
/// on another desk meanwhile is not issued unseen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueInvoice {
    pub invoice: Uuid,
    pub number: String,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub total: Decimal,
    pub print: BillingPrint,
    /// The tenant, whose period lock is checked (absent in changes queued
    /// before period locks).
    #[serde(default)]
    pub tenant: Option<Uuid>,
    /// The discount codes its lines carry ([`DiscountCode::id_for`]), each
    /// counted as used once.
    #[serde(default)]
    pub discount_codes: Vec<Uuid>,
}

impl MutationKind for IssueInvoice {
    const NAME: &'static str = "issue_invoice";

    fn touches(&self) -> Vec<Uuid> {
        let mut t = vec![self.invoice];
        t.extend(self.tenant.map(PeriodLock::id_for));
        t.extend(self.discount_codes.iter().copied());
        t
    }

    fn permission(&self) -> Permission {
        billing(Action::Create)
    }

    fn numbers(&self) -> Vec<IssuedNumber> {
        issued(&INVOICE_NUMBERS, Some(&self.number), self.invoice)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut inv = invoice(recs, self.invoice)?;
        if inv.number.as_deref() == Some(self.number.as_str()) {
            return Ok(Applied::nothing());
        }
        inv.ensure_draft()?;
        check_number(&INVOICE_NUMBERS, &self.number)?;
        if inv.totals.total != self.total {
            return Err(ClinicError::conflict(format!(
                "The draft changed on another desk (its total is now {}, not {}); review it and issue it again.",
                inv.totals.total, self.total
            )));
        }
        if (self.issued_on - cx.today()).num_days().abs() > 1 {
            return Err(ClinicError::field("issued_on", "must be today"));
        }
        if self.due_on < self.issued_on || (self.due_on - self.issued_on).num_days() > 365 {
            return Err(ClinicError::field(
                "due_on",
                "must be within a year after the issue date",
            ));
        }
        self.print.validate()?;
        // The lock is loaded only when the change names the tenant (one
        // queued before period locks does not, and is never raised).
        if let Some(t) = self.tenant {
            check_tenant(t, cx)?;
            raise_if_closed(
                recs,
                cx,
                &mut inv,
                self.invoice,
                format!("Invoice {}", self.number),
                self.issued_on,
            );
        }
        let mut codes: Vec<Uuid> = inv
            .lines
            .iter()
            .filter_map(|l| l.input.discount_code.as_deref())
            .map(|c| DiscountCode::id_for(cx.tenant, c))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        let mut named = self.discount_codes.clone();
        named.sort_unstable();
        named.dedup();
        if codes != named {
            return Err(ClinicError::field(
                "discount_codes",
                "are the codes the invoice's lines carry",
            ));
        }
        let mut changed = vec![self.invoice];
        changed.extend(super::discounts::count_uses(recs, &codes, cx.at));
        inv.status = InvoiceStatus::Issued;
        inv.number = Some(self.number.clone());
        inv.issued_by = cx.user;
        inv.issued_at = Some(cx.at);
        inv.issued_on = Some(self.issued_on);
        inv.due_on = Some(self.due_on);
        inv.print = Some(self.print.clone());
        inv.updated_at = cx.at;
        inv.settle();
        recs.put(inv);
        Ok(Applied { changed })
    }
}

/// Voids a wrongly issued invoice (it keeps its number; refused while money
/// or credit stands against it: refund or credit it first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoidInvoice {
    pub invoice: Uuid,
    pub reason: String,
}

impl MutationKind for VoidInvoice {
    const NAME: &'static str = "void_invoice";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.invoice]
    }

    fn permission(&self) -> Permission {
        billing(Action::Delete)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut inv = invoice(recs, self.invoice)?;
        if inv.status == InvoiceStatus::Void {
            return Ok(Applied::nothing());
        }
        if !inv.status.is_open() {
            return Err(ClinicError::conflict(
                "Only an issued invoice is voided; a draft is discarded.",
            ));
        }
        if !inv.net_paid().is_zero() || !inv.credited.is_zero() {
            return Err(ClinicError::conflict(format!(
                "Invoice {} has payments or credit notes against it: refund the payments before voiding it (an invoice with a credit note is already corrected by it and is not voided).",
                inv.number.as_deref().unwrap_or("")
            )));
        }
        inv.void_reason = Some(check_reason(&self.reason)?);
        inv.status = InvoiceStatus::Void;
        inv.updated_at = cx.at;
        recs.put(inv);
        Ok(Applied::one(self.invoice))
    }
}

/// Checks a payment or refund as the desk sent it (not how much: that is
/// never refused).
fn check_payment(p: &Payment, inv: &Invoice, cx: &Context) -> ClinicResult<()> {
    check_amount(p.amount, RULE_DIGITS, false).map_err(|e| ClinicError::field("amount", e))?;
    if p.currency != inv.currency {
        return Err(ClinicError::field(
            "currency",
            format!("must be the invoice's ({})", inv.currency),
        ));
    }
    if p.patient_id != inv.patient_id {
        return Err(ClinicError::field(
            "patient",
            "is not the invoice's patient",
        ));
    }
    if p.received_on > cx.today() + chrono::Duration::days(1) {
        return Err(ClinicError::field("date", "must not be in the future"));
    }
    if p.reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > 120)
    {
        return Err(ClinicError::field(
            "reference",
            "must be at most 120 characters",
        ));
    }
    p.print.validate()
}

/// Puts a payment or refund and its entry in the invoice's ledger.
fn record_money(
    cx: &Context,
    recs: &mut Records,
    mut p: Payment,
    mut inv: Invoice,
    entry: MoneyEntry,
) -> Applied {
    p.tenant_id = cx.tenant;
    p.recorded_at = cx.at;
    p.recorded_by = cx.user.unwrap_or(p.recorded_by);
    inv.entries.push(entry);
    inv.settle();
    inv.updated_at = cx.at;
    let ids = vec![p.id, inv.id];
    recs.put(p);
    recs.put(inv);
    Applied { changed: ids }
}

/// A second delivery of money already recorded is nothing; another record
/// under its id is a conflict.
fn existing_money<T: MoneyRecord>(recs: &Records, sent: &T) -> Option<ClinicResult<Applied>> {
    recs.any(sent.money_id()).map(|have| match have.get::<T>() {
        Some(h) if h.same_money(sent) => Ok(Applied::nothing()),
        _ => Err(ClinicError::conflict(
            "A different record already has this id.",
        )),
    })
}

trait MoneyRecord: crate::sync::RecordKind {
    fn money_id(&self) -> Uuid;
    fn same_money(&self, other: &Self) -> bool;
}

impl MoneyRecord for Payment {
    fn money_id(&self) -> Uuid {
        self.id
    }
    fn same_money(&self, o: &Self) -> bool {
        (
            self.invoice_id,
            self.kind,
            self.amount,
            &self.receipt_number,
        ) == (o.invoice_id, o.kind, o.amount, &o.receipt_number)
    }
}

impl MoneyRecord for CreditNote {
    fn money_id(&self) -> Uuid {
        self.id
    }
    fn same_money(&self, o: &Self) -> bool {
        (self.invoice_id, &self.number) == (o.invoice_id, &o.number)
    }
}

/// Records money received against an invoice. Always accepted: two desks
/// taking payment for one invoice offline are two payments, and what is
/// paid beyond the balance is the patient's credit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPayment {
    pub payment: Payment,
}

impl MutationKind for RecordPayment {
    const NAME: &'static str = "record_payment";

    fn touches(&self) -> Vec<Uuid> {
        vec![
            self.payment.id,
            self.payment.invoice_id,
            PeriodLock::id_for(self.payment.tenant_id),
        ]
    }

    fn permission(&self) -> Permission {
        billing(Action::Create)
    }

    fn numbers(&self) -> Vec<IssuedNumber> {
        issued(
            &RECEIPT_NUMBERS,
            self.payment.receipt_number.as_deref(),
            self.payment.id,
        )
    }

    fn refs(&self) -> Vec<Ref> {
        vec![Ref::to::<Patient>(self.payment.patient_id, "patient")]
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        take_money(cx, recs, &self.payment)
    }
}

/// Records a payment received (also an insurer's, from a claim's approval).
pub(super) fn take_money(cx: &Context, recs: &mut Records, p: &Payment) -> ClinicResult<Applied> {
    {
        if let Some(done) = existing_money(recs, p) {
            return done;
        }
        let mut inv = invoice(recs, p.invoice_id)?;
        check_tenant(p.tenant_id, cx)?;
        if p.kind != PaymentKind::Payment
            || p.method == PaymentMethod::Credit
            || p.refund_of.is_some()
        {
            return Err(ClinicError::field(
                "kind",
                "a payment is money received (cash, card, bank transfer or insurance)",
            ));
        }
        match &p.receipt_number {
            Some(n) => check_number(&RECEIPT_NUMBERS, n)?,
            None => return Err(ClinicError::field("receipt_number", "is required")),
        }
        check_payment(p, &inv, cx)?;
        if !inv.status.is_open() {
            inv.raise(
                p.id,
                "NOT_ISSUED",
                format!(
                    "A payment of {} was taken while the invoice was {}; it stands as the patient's credit.",
                    p.amount,
                    inv.status.as_str()
                ),
                cx.at,
            );
        }
        raise_if_closed(
            recs,
            cx,
            &mut inv,
            p.id,
            format!("A payment of {}", p.amount),
            p.received_on,
        );
        let entry = MoneyEntry::new(p.id, EntryKind::Payment, p.amount, None, cx.at);
        Ok(record_money(cx, recs, p.clone(), inv, entry))
    }
}

/// Pays back (part of) a payment. Always accepted: a refund beyond what is
/// left of the payment (two desks refunding offline) is raised as a
/// conflict for a manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundPayment {
    pub refund: Payment,
}

impl MutationKind for RefundPayment {
    const NAME: &'static str = "refund_payment";

    fn touches(&self) -> Vec<Uuid> {
        vec![
            self.refund.id,
            self.refund.invoice_id,
            PeriodLock::id_for(self.refund.tenant_id),
        ]
    }

    fn permission(&self) -> Permission {
        billing(Action::Delete)
    }

    fn numbers(&self) -> Vec<IssuedNumber> {
        issued(
            &RECEIPT_NUMBERS,
            self.refund.receipt_number.as_deref(),
            self.refund.id,
        )
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let r = &self.refund;
        if let Some(done) = existing_money(recs, r) {
            return done;
        }
        let mut inv = invoice(recs, r.invoice_id)?;
        check_tenant(r.tenant_id, cx)?;
        let of = r
            .refund_of
            .filter(|p| {
                inv.entries
                    .iter()
                    .any(|e| e.id == *p && e.kind == EntryKind::Payment)
            })
            .ok_or_else(|| ClinicError::not_found("Payment refunded"))?;
        if r.kind != PaymentKind::Refund || r.method == PaymentMethod::Credit {
            return Err(ClinicError::field("kind", "a refund pays money back"));
        }
        if let Some(n) = &r.receipt_number {
            check_number(&RECEIPT_NUMBERS, n)?;
        }
        check_reason(r.reason.as_deref().unwrap_or_default())?;
        check_payment(r, &inv, cx)?;
        let left = inv.refundable(of);
        if r.amount > left {
            inv.raise(
                r.id,
                "OVER_REFUND",
                format!(
                    "A refund of {} was made when only {} of the payment was left to refund (refunds on two desks).",
                    r.amount, left
                ),
                cx.at,
            );
        }
        raise_if_closed(
            recs,
            cx,
            &mut inv,
            r.id,
            format!("A refund of {}", r.amount),
            r.received_on,
        );
        let entry = MoneyEntry::new(r.id, EntryKind::Refund, r.amount, Some(of), cx.at);
        Ok(record_money(cx, recs, r.clone(), inv, entry))
    }
}

/// Credits an issued invoice in full or by lines, under the next credit
/// note number. A line credited twice (two desks) is accepted and raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueCreditNote {
    pub note: CreditNote,
}

impl MutationKind for IssueCreditNote {
    const NAME: &'static str = "issue_credit_note";

    fn touches(&self) -> Vec<Uuid> {
        vec![
            self.note.id,
            self.note.invoice_id,
            PeriodLock::id_for(self.note.tenant_id),
        ]
    }

    fn permission(&self) -> Permission {
        billing(Action::Delete)
    }

    fn numbers(&self) -> Vec<IssuedNumber> {
        issued(&CREDIT_NOTE_NUMBERS, Some(&self.note.number), self.note.id)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let sent = &self.note;
        if let Some(done) = existing_money(recs, sent) {
            return done;
        }
        let mut inv = invoice(recs, sent.invoice_id)?;
        check_tenant(sent.tenant_id, cx)?;
        if !inv.status.is_open() {
            return Err(ClinicError::conflict(format!(
                "Only an issued invoice is credited (this one is {}).",
                inv.status.as_str()
            )));
        }
        check_number(&CREDIT_NOTE_NUMBERS, &sent.number)?;
        let reason = check_reason(&sent.reason)?;
        sent.print.validate()?;
        let mut indexes = sent.line_indexes.clone();
        indexes.sort_unstable();
        indexes.dedup();
        if indexes.iter().any(|i| *i >= inv.lines.len()) {
            return Err(ClinicError::field(
                "line",
                format!("the invoice has {} lines", inv.lines.len()),
            ));
        }
        let chosen: Vec<usize> = if indexes.is_empty() {
            (0..inv.lines.len()).collect()
        } else {
            indexes.clone()
        };
        let before = inv.credited_lines();
        if chosen.iter().any(|i| before.contains(i)) {
            inv.raise(
                sent.id,
                "LINE_CREDITED_TWICE",
                format!(
                    "Credit note {} credits a line already credited (credit notes on two desks).",
                    sent.number
                ),
                cx.at,
            );
        }
        raise_if_closed(
            recs,
            cx,
            &mut inv,
            sent.id,
            format!("Credit note {}", sent.number),
            sent.issued_on,
        );
        let lines: Vec<InvoiceLine> = chosen.iter().map(|i| inv.lines[*i].clone()).collect();
        let totals = totals_of(&lines, inv.digits());
        let note = CreditNote {
            tenant_id: cx.tenant,
            patient_id: inv.patient_id,
            invoice_number: inv.number.clone().unwrap_or_default(),
            line_indexes: indexes,
            lines,
            totals: totals.clone(),
            currency: inv.currency.clone(),
            reason,
            issued_by: cx.user.unwrap_or(sent.issued_by),
            issued_at: cx.at,
            ..sent.clone()
        };
        inv.entries.push(MoneyEntry {
            id: note.id,
            kind: EntryKind::CreditNote,
            amount: totals.total,
            refund_of: None,
            lines: note.line_indexes.clone(),
            at: cx.at,
        });
        inv.settle();
        if inv.credited > inv.totals.total {
            inv.raise(
                note.id,
                "OVER_CREDIT",
                format!(
                    "The invoice is now credited {} of a total of {}.",
                    inv.credited, inv.totals.total
                ),
                cx.at,
            );
        }
        inv.updated_at = cx.at;
        let ids = vec![note.id, inv.id];
        recs.put(note);
        recs.put(inv);
        Ok(Applied { changed: ids })
    }
}

/// Uses a patient's credit on one invoice (an overpayment) to pay another:
/// a transfer out of the first and a payment of the second, no money
/// changing hands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyCredit {
    /// The transfer out (a refund of method `credit`) and the payment in.
    pub out_of: Payment,
    pub into: Payment,
}

impl MutationKind for ApplyCredit {
    const NAME: &'static str = "apply_credit";

    fn touches(&self) -> Vec<Uuid> {
        vec![
            self.out_of.id,
            self.into.id,
            self.out_of.invoice_id,
            self.into.invoice_id,
            PeriodLock::id_for(self.out_of.tenant_id),
        ]
    }

    fn permission(&self) -> Permission {
        billing(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let (o, i) = (&self.out_of, &self.into);
        if let Some(done) = existing_money(recs, o) {
            return done;
        }
        if o.invoice_id == i.invoice_id || o.amount != i.amount || o.id == i.id {
            return Err(ClinicError::field(
                "invoice",
                "credit moves between two invoices, the same amount out and in",
            ));
        }
        let mut from = invoice(recs, o.invoice_id)?;
        let mut to = invoice(recs, i.invoice_id)?;
        check_tenant(o.tenant_id, cx)?;
        check_tenant(i.tenant_id, cx)?;
        if (o.kind, o.method, i.kind, i.method)
            != (
                PaymentKind::Refund,
                PaymentMethod::Credit,
                PaymentKind::Payment,
                PaymentMethod::Credit,
            )
            || o.refund_of.is_some()
        {
            return Err(ClinicError::field(
                "kind",
                "a transfer of credit is a credit refund and a credit payment",
            ));
        }
        if from.currency != to.currency {
            return Err(ClinicError::field(
                "currency",
                "the invoices are in different currencies",
            ));
        }
        if from.patient_id != to.patient_id {
            return Err(ClinicError::field(
                "invoice",
                "credit moves between one patient's invoices",
            ));
        }
        check_payment(o, &from, cx)?;
        check_payment(i, &to, cx)?;
        if !to.status.is_open() {
            return Err(ClinicError::conflict(
                "Credit is used on an issued invoice.",
            ));
        }
        let available = -from.balance();
        if o.amount > available {
            from.raise(
                o.id,
                "OVER_REFUND",
                format!(
                    "{} of credit was used when the invoice held {} (credit used on two desks).",
                    o.amount,
                    available.max(Decimal::ZERO)
                ),
                cx.at,
            );
        }
        raise_if_closed(
            recs,
            cx,
            &mut to,
            i.id,
            format!("Credit of {} used", i.amount),
            i.received_on,
        );
        let entry_out = MoneyEntry::new(o.id, EntryKind::Refund, o.amount, None, cx.at);
        let entry_in = MoneyEntry::new(i.id, EntryKind::Payment, i.amount, None, cx.at);
        for (p, inv, e) in [(o, &mut from, entry_out), (i, &mut to, entry_in)] {
            let mut p = p.clone();
            p.tenant_id = cx.tenant;
            p.recorded_at = cx.at;
            p.recorded_by = cx.user.unwrap_or(p.recorded_by);
            inv.entries.push(e);
            inv.settle();
            inv.updated_at = cx.at;
            recs.put(p);
        }
        let ids = vec![o.id, i.id, from.id, to.id];
        recs.put(from);
        recs.put(to);
        Ok(Applied { changed: ids })
    }
}

/// A manager's answer to a conflict of money on an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolveMoneyConflict {
    pub invoice: Uuid,
    /// The entry whose conflict is resolved.
    pub entry: Uuid,
    pub note: String,
    /// The tenant, whose period lock a late document is posted past.
    #[serde(default)]
    pub tenant: Option<Uuid>,
    /// A `PERIOD_CLOSED` conflict's posting day: in the first open period.
    #[serde(default)]
    pub post_on: Option<NaiveDate>,
}

impl MutationKind for ResolveMoneyConflict {
    const NAME: &'static str = "resolve_money_conflict";

    fn touches(&self) -> Vec<Uuid> {
        let mut t = vec![self.invoice];
        t.extend(self.tenant.map(PeriodLock::id_for));
        t
    }

    fn permission(&self) -> Permission {
        billing(Action::Delete)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut inv = invoice(recs, self.invoice)?;
        let note = check_reason(&self.note)
            .map_err(|_| ClinicError::field("note", "is required (at most 500 characters)"))?;
        // The entry's first conflict not settled yet (one entry may raise
        // two: a line credited twice and more credited than the total).
        let raised = inv.conflicts.iter().any(|c| c.entry == self.entry);
        let Some(c) = inv
            .conflicts
            .iter_mut()
            .find(|c| c.entry == self.entry && c.resolved.is_none())
        else {
            return Err(if raised {
                ClinicError::new(ErrorCode::Conflict, "This conflict was already resolved.")
            } else {
                ClinicError::not_found("Conflict")
            });
        };
        let posted_on = if c.code == "PERIOD_CLOSED" {
            let on = self.post_on.ok_or_else(|| {
                ClinicError::field(
                    "post_on",
                    "a document that arrived after its period closed is posted into an open period",
                )
            })?;
            check_tenant(self.tenant.unwrap_or_default(), cx)?;
            if let Some(until) = closed_until(recs, cx.tenant).filter(|u| on <= *u) {
                return Err(super::period::period_closed_error("the posting", on, until));
            }
            Some(on)
        } else {
            None
        };
        c.resolved = Some(Resolution {
            by: cx.user.unwrap_or_default(),
            at: cx.at,
            note,
            posted_on,
        });
        inv.updated_at = cx.at;
        recs.put(inv);
        Ok(Applied::one(self.invoice))
    }
}
