//! Invoices: lines priced exactly (see [`super::money`] for the rounding
//! rule), numbered when issued, never edited after. The invoice also keeps
//! the ledger of the money against it (payments, refunds, credit notes, as
//! entries the mutations that record them append in server order), so its
//! balance and status are the same on every desk once synced:
//!
//! `balance = total − credited − paid + refunded` (void: `− paid + refunded`).
//!
//! A negative balance is the patient's credit: an overpayment is shown,
//! never lost.

use super::money::{check_amount, check_percent, check_quantity, percent_of, round, RULE_DIGITS};
use crate::error::{ClinicError, ClinicResult, ErrorCode, FieldErrors};
use crate::sync::{Merge, RecordKind};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The most lines an invoice has.
pub const MAX_LINES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    /// A draft nobody will issue (kept, not shown in lists).
    Discarded,
    Issued,
    PartiallyPaid,
    Paid,
    /// Wrongly issued: cancelled with a reason, keeps its number.
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Discarded => "discarded",
            Self::Issued => "issued",
            Self::PartiallyPaid => "partially_paid",
            Self::Paid => "paid",
            Self::Void => "void",
        }
    }
    /// Issued and not void: it asks for money.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Issued | Self::PartiallyPaid | Self::Paid)
    }
}

/// A line as a person enters it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LineInput {
    /// The price-list item it was taken from (`None`: free text).
    #[serde(default)]
    pub item: Option<Uuid>,
    #[serde(default)]
    pub code: Option<String>,
    pub description: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub quantity: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub unit_price: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub tax_rate: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub discount_percent: Decimal,
    /// The discount code that set `discount_percent` (counted as used when
    /// the invoice is issued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_code: Option<String>,
}

/// A priced line: what was entered and every amount computed from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InvoiceLine {
    #[serde(flatten)]
    pub input: LineInput,
    /// quantity × unit price.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub gross: Decimal,
    /// The line's own discount plus its share of the invoice discount.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub discount: Decimal,
    /// The tax on the line (included in `gross` when prices include tax).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub tax: Decimal,
    /// What the line adds to the total.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Totals {
    /// Σ gross.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub subtotal: Decimal,
    /// Σ discount.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub discount: Decimal,
    /// Σ tax.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub tax: Decimal,
    /// Σ line totals: subtotal − discount + tax, or subtotal − discount
    /// when prices include tax.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub total: Decimal,
}

/// Prices one line (the rounding rule of [`super::money`]): gross, then
/// the line's discount, then the invoice discount's share of what is left,
/// then tax on the rest — each rounded to the minor unit.
pub fn price_line(
    input: &LineInput,
    invoice_discount: Decimal,
    include_tax: bool,
    digits: u32,
) -> InvoiceLine {
    let gross = round(input.quantity * input.unit_price, digits);
    let own = percent_of(gross, input.discount_percent, digits);
    let shared = percent_of(gross - own, invoice_discount, digits);
    let discount = own + shared;
    let net = gross - discount;
    let (tax, total) = if include_tax {
        let tax = round(
            net * input.tax_rate / (Decimal::ONE_HUNDRED + input.tax_rate),
            digits,
        );
        (tax, net)
    } else {
        let tax = percent_of(net, input.tax_rate, digits);
        (tax, net + tax)
    };
    InvoiceLine {
        input: input.clone(),
        gross,
        discount,
        tax,
        total,
    }
}

/// The totals of priced lines: sums, so they always equal their parts.
pub fn totals_of(lines: &[InvoiceLine], digits: u32) -> Totals {
    let mut t = Totals {
        subtotal: round(Decimal::ZERO, digits),
        discount: round(Decimal::ZERO, digits),
        tax: round(Decimal::ZERO, digits),
        total: round(Decimal::ZERO, digits),
    };
    for l in lines {
        t.subtotal += l.gross;
        t.discount += l.discount;
        t.tax += l.tax;
        t.total += l.total;
    }
    t
}

/// One tax rate's share of an invoice, as printed ("VAT 20%: 8.00").
pub fn taxes_by_rate(lines: &[InvoiceLine]) -> Vec<(Decimal, Decimal)> {
    let mut out: Vec<(Decimal, Decimal)> = Vec::new();
    for l in lines {
        let rate = l.input.tax_rate.normalize();
        match out.iter_mut().find(|(r, _)| *r == rate) {
            Some((_, sum)) => *sum += l.tax,
            None => out.push((rate, l.tax)),
        }
    }
    out.sort_by_key(|x| x.0);
    out
}

/// Checks lines as entered (rules use [`RULE_DIGITS`]; use-cases the
/// currency's own digits).
pub fn validate_lines(
    lines: &[LineInput],
    invoice_discount: Decimal,
    digits: u32,
) -> ClinicResult<()> {
    let mut errs = FieldErrors::default();
    if lines.is_empty() || lines.len() > MAX_LINES {
        errs.add("lines", format!("an invoice has 1 to {MAX_LINES} lines"));
    }
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        if l.description.trim().is_empty() || l.description.chars().count() > 300 {
            errs.add(
                "description",
                format!("line {n}: a description of 1 to 300 characters is required"),
            );
        }
        if let Err(e) = check_quantity(l.quantity) {
            errs.add("quantity", format!("line {n}: {e}"));
        }
        if let Err(e) = check_amount(l.unit_price, digits, true) {
            errs.add("unit_price", format!("line {n}: {e}"));
        }
        if let Err(e) = check_percent(l.tax_rate) {
            errs.add("tax_rate", format!("line {n}: {e}"));
        }
        if let Err(e) = check_percent(l.discount_percent) {
            errs.add("discount", format!("line {n}: {e}"));
        }
        if l.code.as_ref().is_some_and(|c| c.chars().count() > 20) {
            errs.add("code", format!("line {n}: at most 20 characters"));
        }
        if l.discount_code
            .as_ref()
            .is_some_and(|c| super::prices::normalize_code(c).is_err())
        {
            errs.add("discount_code", format!("line {n}: not a discount code"));
        }
    }
    if let Err(e) = check_percent(invoice_discount) {
        errs.add("discount", e);
    }
    errs.into_result()
}

/// What an issued invoice printed about the people and the clinic, kept so
/// a reprint shows the same whatever changed since.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct BillingPrint {
    pub patient_name: String,
    pub patient_number: String,
    pub date_of_birth: Option<NaiveDate>,
    pub patient_address: Vec<String>,
    pub clinic_name: String,
    pub legal_name: String,
    pub clinic_address: Vec<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub tax_id: Option<String>,
    pub payment_terms: String,
    pub footer: String,
    /// The locale it was printed in.
    pub locale: String,
}

impl BillingPrint {
    pub fn validate(&self) -> ClinicResult<()> {
        let long = [
            &self.patient_name,
            &self.patient_number,
            &self.clinic_name,
            &self.legal_name,
            &self.payment_terms,
            &self.footer,
            &self.locale,
        ]
        .into_iter()
        .any(|s| s.chars().count() > 600)
            || self.patient_address.len() > 8
            || self.clinic_address.len() > 8
            || self
                .patient_address
                .iter()
                .chain(&self.clinic_address)
                .any(|l| l.chars().count() > 200);
        if long {
            return Err(ClinicError::field("print", "is too long"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Payment,
    Refund,
    CreditNote,
}

/// One movement of money (or credit) against an invoice, in server order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MoneyEntry {
    /// The payment, refund or credit note.
    pub id: Uuid,
    pub kind: EntryKind,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub amount: Decimal,
    /// A refund's payment.
    #[serde(default)]
    pub refund_of: Option<Uuid>,
    /// A credit note's lines (indexes into the invoice's lines; empty: all).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub lines: Vec<usize>,
    pub at: DateTime<Utc>,
}

impl MoneyEntry {
    /// A payment or refund (a credit note names its lines).
    pub fn new(
        id: Uuid,
        kind: EntryKind,
        amount: Decimal,
        refund_of: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Self {
        MoneyEntry {
            id,
            kind,
            amount,
            refund_of,
            lines: vec![],
            at,
        }
    }
}

/// Money that moved against the rules (two desks refunding more than was
/// paid, offline): accepted, and raised here for a manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MoneyConflict {
    /// The entry that made it.
    pub entry: Uuid,
    /// `OVER_REFUND`, `OVER_CREDIT`, `LINE_CREDITED_TWICE`, `NOT_ISSUED`,
    /// `PERIOD_CLOSED`.
    pub code: String,
    pub message: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub resolved: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Resolution {
    pub by: Uuid,
    pub at: DateTime<Utc>,
    pub note: String,
    /// Where a document that arrived after its period closed was posted
    /// (the first open period; the document keeps its own date).
    #[serde(default)]
    pub posted_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Invoice {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub patient_id: Uuid,
    #[serde(default)]
    pub appointment_id: Option<Uuid>,
    #[serde(default)]
    pub encounter_id: Option<Uuid>,
    pub status: InvoiceStatus,
    /// The human number, from issue (`INV-000123`).
    #[serde(default)]
    pub number: Option<String>,
    pub currency: String,
    pub prices_include_tax: bool,
    pub lines: Vec<InvoiceLine>,
    /// A discount on every line, after the line's own.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub discount_percent: Decimal,
    #[serde(default)]
    pub notes: String,
    pub totals: Totals,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub issued_by: Option<Uuid>,
    #[serde(default)]
    pub issued_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub issued_on: Option<NaiveDate>,
    #[serde(default)]
    pub due_on: Option<NaiveDate>,
    /// What it printed, from issue.
    #[serde(default)]
    pub print: Option<BillingPrint>,
    #[serde(default)]
    pub void_reason: Option<String>,
    #[serde(default)]
    pub entries: Vec<MoneyEntry>,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub paid: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub refunded: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub credited: Decimal,
    #[serde(default)]
    pub conflicts: Vec<MoneyConflict>,
    pub updated_at: DateTime<Utc>,
}

impl RecordKind for Invoice {
    const KIND: &'static str = "invoice";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl Invoice {
    pub fn digits(&self) -> u32 {
        super::money::minor_digits(&self.currency)
    }

    /// What is owed before any payment: the total less credit notes (a
    /// void invoice owes nothing).
    pub fn due(&self) -> Decimal {
        match self.status {
            InvoiceStatus::Void | InvoiceStatus::Discarded | InvoiceStatus::Draft => {
                round(Decimal::ZERO, self.digits())
            }
            _ => self.totals.total - self.credited,
        }
    }

    /// `total − credited − paid + refunded`: negative is the patient's credit.
    pub fn balance(&self) -> Decimal {
        self.due() - self.paid + self.refunded
    }

    /// What the patient has paid and not had back.
    pub fn net_paid(&self) -> Decimal {
        self.paid - self.refunded
    }

    /// How much of payment `id` is still refundable: what is left of it,
    /// and never more than the invoice still holds of what was paid
    /// (credit moved to another invoice counts).
    pub fn refundable(&self, payment: Uuid) -> Decimal {
        let paid: Decimal = self
            .entries
            .iter()
            .filter(|e| e.id == payment && e.kind == EntryKind::Payment)
            .map(|e| e.amount)
            .sum();
        let back: Decimal = self
            .entries
            .iter()
            .filter(|e| e.refund_of == Some(payment) && e.kind == EntryKind::Refund)
            .map(|e| e.amount)
            .sum();
        let held: Decimal = self
            .entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::Payment => e.amount,
                EntryKind::Refund => -e.amount,
                EntryKind::CreditNote => Decimal::ZERO,
            })
            .sum();
        (paid - back).min(held)
    }

    /// The lines already credited (`None` in the list: a full credit).
    pub fn credited_lines(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::CreditNote)
        {
            if e.lines.is_empty() {
                out.extend(0..self.lines.len());
            } else {
                out.extend(e.lines.iter().copied());
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Recomputes the money sums from the entries and the status from them.
    pub fn settle(&mut self) {
        let d = self.digits();
        let sum = |k: EntryKind| -> Decimal {
            self.entries
                .iter()
                .filter(|e| e.kind == k)
                .fold(round(Decimal::ZERO, d), |s, e| s + e.amount)
        };
        self.paid = sum(EntryKind::Payment);
        self.refunded = sum(EntryKind::Refund);
        self.credited = sum(EntryKind::CreditNote);
        if self.status.is_open() {
            self.status = if self.balance() <= Decimal::ZERO {
                InvoiceStatus::Paid
            } else if self.net_paid() > Decimal::ZERO || self.credited > Decimal::ZERO {
                InvoiceStatus::PartiallyPaid
            } else {
                InvoiceStatus::Issued
            };
        }
    }

    /// Refuses a change to anything but a draft (`ALREADY_ISSUED`).
    pub fn ensure_draft(&self) -> ClinicResult<()> {
        match self.status {
            InvoiceStatus::Draft => Ok(()),
            InvoiceStatus::Discarded => Err(ClinicError::conflict("This draft was discarded.")),
            _ => Err(ClinicError::new(
                ErrorCode::AlreadyIssued,
                format!(
                    "Invoice {} was issued and is never edited: correct it with a credit note.",
                    self.number.as_deref().unwrap_or("")
                ),
            )),
        }
    }

    /// Prices `lines` into this draft.
    pub fn set_lines(&mut self, lines: &[LineInput], discount: Decimal) -> ClinicResult<()> {
        validate_lines(lines, discount, RULE_DIGITS)?;
        let d = self.digits();
        self.discount_percent = discount;
        self.lines = lines
            .iter()
            .map(|l| price_line(l, discount, self.prices_include_tax, d))
            .collect();
        self.totals = totals_of(&self.lines, d);
        Ok(())
    }

    /// Adds a conflict for a manager.
    pub fn raise(&mut self, entry: Uuid, code: &str, message: String, at: DateTime<Utc>) {
        if !self
            .conflicts
            .iter()
            .any(|c| c.entry == entry && c.code == code)
        {
            self.conflicts.push(MoneyConflict {
                entry,
                code: code.into(),
                message,
                at,
                resolved: None,
            });
        }
    }

    pub fn open_conflicts(&self) -> usize {
        self.conflicts
            .iter()
            .filter(|c| c.resolved.is_none())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn line(q: &str, p: &str, tax: &str, disc: &str) -> LineInput {
        LineInput {
            item: None,
            code: None,
            description: "x".into(),
            quantity: d(q),
            unit_price: d(p),
            tax_rate: d(tax),
            discount_percent: d(disc),
            discount_code: None,
        }
    }

    #[test]
    fn a_line_is_rounded_per_step_with_discounts_before_tax() {
        // 3 × 33.33 = 99.99; 10 % off = 10.00 (9.999 half-up); 5 % of 89.99 = 4.50
        // (4.4995 half-up); tax 20 % of 85.49 = 17.10 (17.098).
        let l = price_line(&line("3", "33.33", "20", "10"), d("5"), false, 2);
        assert_eq!(l.gross.to_string(), "99.99");
        assert_eq!(l.discount.to_string(), "14.50");
        assert_eq!(l.tax.to_string(), "17.10");
        assert_eq!(l.total.to_string(), "102.59");
        // Tax included: 120.00 at 20 % holds 20.00 of tax.
        let l = price_line(&line("1", "120", "20", "0"), d("0"), true, 2);
        assert_eq!(
            (l.tax.to_string(), l.total.to_string()),
            ("20.00".into(), "120.00".into())
        );
        // A currency without minor unit.
        let l = price_line(&line("1.5", "333", "7", "0"), d("0"), false, 0);
        assert_eq!(
            (l.gross.to_string(), l.tax.to_string()),
            ("500".into(), "35".into())
        );
    }

    #[test]
    fn lines_as_entered_are_checked() {
        assert!(validate_lines(&[line("1", "45", "20", "0")], d("0"), 2).is_ok());
        let e = validate_lines(&[line("0", "45.001", "120", "-1")], d("101"), 2).unwrap_err();
        let fields: Vec<_> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            ["quantity", "unit_price", "tax_rate", "discount", "discount"]
        );
        assert!(validate_lines(&[], d("0"), 2).is_err());
    }
}
