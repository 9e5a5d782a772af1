//! Invoices from draft to issue: lines from the price list (or free text),
//! numbered from this desk's leased block when issued, with a copy of what
//! they print; voiding; the views of one invoice, of a list, and of what a
//! patient and the clinic are owed.

use super::{percent_or_zero, Billing};
use crate::workstation::new_id;
use chrono::{DateTime, Utc};
use clinic_core::audit::AuditEntry;
use clinic_core::billing::money::{check_quantity, parse_amount, round};
use clinic_core::billing::*;
use clinic_core::permissions::Action;
use clinic_core::scheduling::AppointmentStatus;
use clinic_core::sync::{Mutation, RecordKind};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::billing::{from_minor, BalanceRow, InvoiceFilter};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use std::str::FromStr;
use uuid::Uuid;

/// One age band of what the clinic is owed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AgeingBucket {
    pub label: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub owed: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub invoices: i64,
}

/// Outstanding balances by age (0–30, 31–60, 61–90, 90+ days since issue).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Ageing {
    pub on: chrono::NaiveDate,
    pub currency: String,
    pub buckets: Vec<AgeingBucket>,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub total: Decimal,
}

/// A line as typed: a price-list code (its price and tax unless given) or
/// free text with a price.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineSpec {
    pub code: Option<String>,
    /// Free text (or a description replacing the item's name).
    pub description: Option<String>,
    pub quantity: String,
    pub unit_price: Option<String>,
    pub discount_percent: Option<String>,
    pub tax_rate: Option<String>,
    /// A discount code (approved, valid today, not used up): its percentage
    /// replaces `discount_percent`.
    pub discount_code: Option<String>,
}

impl LineSpec {
    /// `CODE:QTY[:UNIT_PRICE[:DISCOUNT_PERCENT or DISCOUNT_CODE]]`, as the
    /// CLI takes it (`CONS30:1::SPRING10`).
    pub fn parse(text: &str) -> ClinicResult<LineSpec> {
        let parts: Vec<&str> = text.split(':').map(str::trim).collect();
        if parts.len() < 2 || parts.len() > 4 || parts[0].is_empty() || parts[1].is_empty() {
            return Err(ClinicError::field(
                "line",
                format!("{text:?} must be CODE:QTY[:UNIT_PRICE[:DISCOUNT_PERCENT]] (e.g. CONS30:1 or CONS30:2:40.00:10)"),
            ));
        }
        Ok(LineSpec {
            code: Some(parts[0].to_string()),
            description: None,
            quantity: parts[1].to_string(),
            unit_price: parts
                .get(2)
                .filter(|p| !p.is_empty())
                .map(|p| p.to_string()),
            discount_percent: parts
                .get(3)
                .filter(|p| !p.is_empty() && p.parse::<Decimal>().is_ok())
                .map(|p| p.to_string()),
            discount_code: parts
                .get(3)
                .filter(|p| !p.is_empty() && p.parse::<Decimal>().is_err())
                .map(|p| p.to_string()),
            tax_rate: None,
        })
    }
}

/// An invoice as shown: the record, whom it bills, its money, and what the
/// patient holds in credit across their invoices.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InvoiceView {
    #[serde(flatten)]
    pub invoice: Invoice,
    pub patient_name: String,
    pub patient_number: String,
    /// `total − credited − paid + refunded` (negative: credit).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub balance: Decimal,
    pub payments: Vec<Payment>,
    pub credit_notes: Vec<CreditNote>,
    /// The patient's credit across all their invoices.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub patient_credit: Decimal,
    /// Lines not yet credited (indexes), for a credit note.
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub creditable_lines: Vec<usize>,
}

/// One invoice in a list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InvoiceRow {
    pub id: Uuid,
    pub number: Option<String>,
    pub status: InvoiceStatus,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub patient_number: String,
    pub created_at: DateTime<Utc>,
    pub issued_on: Option<chrono::NaiveDate>,
    pub due_on: Option<chrono::NaiveDate>,
    pub currency: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub total: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub balance: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub open_conflicts: usize,
}

/// What a patient owes and holds in credit.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountView {
    pub patient_id: Uuid,
    pub patient_name: String,
    pub patient_number: String,
    pub currency: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub owed: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub credit: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub open_invoices: i64,
}

impl Billing<'_> {
    /// An invoice id or number (`INV-000123`) as typed.
    pub fn resolve_invoice(&self, text: &str) -> ClinicResult<Uuid> {
        let db = self.ws.store()?.db();
        let found = match Uuid::parse_str(text.trim()) {
            Ok(id) => db.invoice(id)?,
            Err(_) => db.invoice_by_number(text)?,
        };
        found.map(|i| i.id).ok_or_else(|| {
            ClinicError::new(ErrorCode::NotFound, "No invoice has that id or number.")
        })
    }

    pub(crate) fn load(&self, id: Uuid) -> ClinicResult<Invoice> {
        self.ws
            .store()?
            .db()
            .invoice(id)?
            .ok_or_else(|| ClinicError::not_found("Invoice"))
    }

    /// Lines as typed, priced from the price list on `today`.
    fn lines_from(
        &self,
        specs: &[LineSpec],
        today: chrono::NaiveDate,
    ) -> ClinicResult<Vec<LineInput>> {
        let digits = self.settings()?.minor_digits();
        let mut out = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let n = i + 1;
            let at = |field: &str, e: clinic_core::error::Invalid| {
                ClinicError::field(field, format!("line {n}: {e}"))
            };
            let quantity = Decimal::from_str(s.quantity.trim()).map_err(|_| {
                ClinicError::field(
                    "quantity",
                    format!("line {n}: must be a number like 1 or 2.5"),
                )
            })?;
            check_quantity(quantity).map_err(|e| at("quantity", e))?;
            let item = match &s.code {
                Some(code) => Some(self.price_item(code)?),
                None => None,
            };
            let version = item.as_ref().map(|it| {
                it.price_on(today).cloned().ok_or_else(|| {
                    ClinicError::field(
                        "code",
                        format!("line {n}: {} has no price valid today", it.code),
                    )
                })
            });
            let version = version.transpose()?;
            if item.as_ref().is_some_and(|it| !it.active) {
                return Err(ClinicError::field(
                    "code",
                    format!(
                        "line {n}: {} is no longer offered",
                        s.code.as_deref().unwrap_or_default()
                    ),
                ));
            }
            let unit_price = match (&s.unit_price, &version) {
                (Some(p), _) => parse_amount(p, digits, true).map_err(|e| at("unit_price", e))?,
                (None, Some(v)) => v.price,
                (None, None) => {
                    return Err(ClinicError::field(
                        "unit_price",
                        format!("line {n}: a free-text line needs a price"),
                    ))
                }
            };
            let tax_rate = match (&s.tax_rate, &version) {
                (Some(t), _) => percent_or_zero(Some(t), "tax_rate")?,
                (None, Some(v)) => v.tax_rate,
                (None, None) => Decimal::ZERO,
            };
            let description = s
                .description
                .clone()
                .filter(|d| !d.trim().is_empty())
                .or_else(|| item.as_ref().map(|it| it.name.clone()))
                .ok_or_else(|| {
                    ClinicError::field("description", format!("line {n}: is required"))
                })?;
            let (discount_percent, discount_code) = match s
                .discount_code
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
            {
                Some(c) => {
                    let code = self.discount_code(c)?;
                    if let Some(why) = code.unusable_on(today) {
                        return Err(ClinicError::field(
                            "discount_code",
                            format!("line {n}: {why}"),
                        ));
                    }
                    (code.percent, Some(code.code))
                }
                None => (
                    percent_or_zero(s.discount_percent.as_deref(), "discount")?,
                    None,
                ),
            };
            out.push(LineInput {
                item: item.as_ref().map(|it| it.id),
                code: item.map(|it| it.code),
                description: description.trim().to_string(),
                quantity: quantity.normalize(),
                unit_price,
                tax_rate,
                discount_percent,
                discount_code,
            });
        }
        validate_lines(&out, Decimal::ZERO, digits)?;
        Ok(out)
    }

    /// Drafts an invoice for a patient (for an appointment: at most one).
    pub fn create_invoice(
        &mut self,
        patient: Uuid,
        specs: &[LineSpec],
        appointment: Option<Uuid>,
        encounter: Option<Uuid>,
        discount: Option<&str>,
    ) -> ClinicResult<Invoice> {
        let (s, now) = self.act(Action::Create)?;
        let today = self.today(now)?;
        let lines = self.lines_from(specs, today)?;
        let discount_percent = percent_or_zero(discount, "discount")?;
        let settings = self.settings()?;
        {
            let db = self.ws.store()?.db();
            db.patient(patient)?
                .ok_or_else(|| ClinicError::not_found("Patient"))?;
            let derived = appointment
                .map(Invoice::id_for_appointment)
                .or(encounter.map(Invoice::id_for_encounter));
            if let Some(id) = derived {
                if let Some(existing) = db
                    .invoice(id)?
                    .filter(|i| i.status != InvoiceStatus::Discarded)
                {
                    return Err(ClinicError::conflict(format!(
                        "This {} already has {}.",
                        if appointment.is_some() {
                            "appointment"
                        } else {
                            "consultation"
                        },
                        existing
                            .number
                            .map(|n| format!("invoice {n}"))
                            .unwrap_or_else(|| "a draft invoice".into())
                    )));
                }
            }
        }
        let id = match (appointment, encounter) {
            (Some(a), _) => Invoice::id_for_appointment(a),
            (None, Some(e)) => Invoice::id_for_encounter(e),
            (None, None) => new_id(now),
        };
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(CreateInvoice {
                    invoice: id,
                    patient,
                    appointment,
                    encounter,
                    currency: settings.currency.clone(),
                    prices_include_tax: settings.prices_include_tax,
                    lines,
                    discount_percent,
                    notes: String::new(),
                }))
            },
            |_| {
                vec![invoice_audit(
                    "invoice.create",
                    id,
                    patient,
                    json!({"appointment": appointment}),
                )]
            },
        )?;
        Ok(c.after::<Invoice>(id)?)
    }

    /// A draft invoice for a completed appointment from the price list
    /// (the items linked to its type), or the one it already has.
    pub fn draft_for_appointment(&mut self, appointment: Uuid) -> ClinicResult<Invoice> {
        let (_, now) = self.act(Action::Create)?;
        let today = self.today(now)?;
        let (a, existing, items) = {
            let db = self.ws.store()?.db();
            let a = db
                .appointment(appointment)?
                .ok_or_else(|| ClinicError::not_found("Appointment"))?;
            (a, db.appointment_invoice(appointment)?, db.price_items()?)
        };
        if let Some(i) = existing.filter(|i| i.status != InvoiceStatus::Discarded) {
            return Ok(i);
        }
        if !matches!(
            a.status,
            AppointmentStatus::Completed
                | AppointmentStatus::InProgress
                | AppointmentStatus::Arrived
        ) {
            return Err(ClinicError::conflict(
                "An invoice is drafted for an appointment the patient came to.",
            ));
        }
        let specs = linked_lines(&items, &a.type_name, today)?;
        self.create_invoice(a.patient_id, &specs, Some(appointment), None, None)
    }

    /// A draft invoice for a signed walk-in consultation (one without an
    /// appointment; an appointment's is drafted for the appointment) from
    /// the price list items of its type, or the one it already has.
    pub fn draft_for_encounter(&mut self, encounter: Uuid) -> ClinicResult<Invoice> {
        let (_, now) = self.act(Action::Create)?;
        let today = self.today(now)?;
        let (e, existing, items) = {
            let db = self.ws.store()?.db();
            let e = db
                .encounter(encounter)?
                .ok_or_else(|| ClinicError::not_found("Encounter"))?;
            (
                e,
                db.invoice(Invoice::id_for_encounter(encounter))?,
                db.price_items()?,
            )
        };
        if let Some(a) = e.appointment_id {
            return self.draft_for_appointment(a);
        }
        if let Some(i) = existing.filter(|i| i.status != InvoiceStatus::Discarded) {
            return Ok(i);
        }
        if !e.is_signed() {
            return Err(ClinicError::conflict(
                "A consultation is invoiced once its note is signed.",
            ));
        }
        let kind = clinic_core::clinical::encounter_type(&e.encounter_type)
            .map(|t| t.name)
            .unwrap_or("Consultation");
        let specs = linked_lines(&items, kind, today)?;
        self.create_invoice(e.patient_id, &specs, None, Some(encounter), None)
    }

    /// Changes a draft's lines, discount or notes (an issued invoice is
    /// refused: `ALREADY_ISSUED`).
    pub fn edit_invoice(
        &mut self,
        id: Uuid,
        specs: Option<&[LineSpec]>,
        discount: Option<&str>,
        notes: Option<&str>,
    ) -> ClinicResult<Invoice> {
        let (s, now) = self.act(Action::Edit)?;
        let inv = self.load(id)?;
        inv.ensure_draft()?;
        let today = self.today(now)?;
        let lines = specs.map(|sp| self.lines_from(sp, today)).transpose()?;
        let discount_percent = discount
            .map(|d| percent_or_zero(Some(d), "discount"))
            .transpose()?;
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(EditInvoice {
                    invoice: id,
                    lines,
                    discount_percent,
                    notes: notes.map(str::to_string),
                }))
            },
            |_| vec![invoice_audit("invoice.edit", id, inv.patient_id, json!({}))],
        )?;
        Ok(c.after::<Invoice>(id)?)
    }

    /// Discards a draft.
    pub fn discard_invoice(&mut self, id: Uuid) -> ClinicResult<Invoice> {
        let (s, now) = self.act(Action::Edit)?;
        let inv = self.load(id)?;
        inv.ensure_draft()?;
        let c = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(DiscardInvoice { invoice: id })),
            |_| {
                vec![invoice_audit(
                    "invoice.discard",
                    id,
                    inv.patient_id,
                    json!({}),
                )]
            },
        )?;
        Ok(c.after::<Invoice>(id)?)
    }

    /// Issues a draft: the next invoice number of this desk's block, taken
    /// in the same transaction, and a copy of what it prints.
    pub fn issue_invoice(&mut self, id: Uuid) -> ClinicResult<Invoice> {
        let (s, now) = self.act(Action::Create)?;
        let inv = self.load(id)?;
        inv.ensure_draft()?;
        let today = self.today(now)?;
        let settings = self.settings()?;
        let print = self.print_snapshot(inv.patient_id, &settings)?;
        let due_on = today + chrono::Duration::days(settings.payment_days as i64);
        self.ensure_open("An invoice", today)?;
        let mut codes: Vec<Uuid> = inv
            .lines
            .iter()
            .filter_map(|l| l.input.discount_code.as_deref())
            .map(|c| DiscountCode::id_for(inv.tenant_id, c))
            .collect();
        codes.sort_unstable();
        codes.dedup();
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                let number = (INVOICE_NUMBERS.format)(db.next_number(INVOICE_NUMBERS.name)?);
                Ok(Mutation::new(IssueInvoice {
                    invoice: id,
                    number,
                    issued_on: today,
                    due_on,
                    total: inv.totals.total,
                    print,
                    tenant: Some(inv.tenant_id),
                    discount_codes: codes.clone(),
                }))
            },
            |c| {
                let number = c.after.get::<Invoice>(id).and_then(|i| i.number.clone());
                vec![invoice_audit(
                    "invoice.issue",
                    id,
                    inv.patient_id,
                    json!({"number": number, "total": inv.totals.total}),
                )]
            },
        )?;
        Ok(c.after::<Invoice>(id)?)
    }

    /// Voids a wrongly issued invoice with a reason (it keeps its number).
    pub fn void_invoice(&mut self, id: Uuid, reason: &str) -> ClinicResult<Invoice> {
        let (s, now) = self.act(Action::Delete)?;
        let inv = self.load(id)?;
        if !inv.net_paid().is_zero() || !inv.credited.is_zero() {
            return Err(ClinicError::conflict(
                "This invoice has payments or credit notes against it: refund or credit them first.",
            ));
        }
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(VoidInvoice {
                    invoice: id,
                    reason: reason.to_string(),
                }))
            },
            |_| {
                vec![invoice_audit(
                    "invoice.void",
                    id,
                    inv.patient_id,
                    json!({"reason": reason}),
                )]
            },
        )?;
        Ok(c.after::<Invoice>(id)?)
    }

    /// One invoice with its payments and credit notes (an audited read).
    pub fn show_invoice(&mut self, id: Uuid) -> ClinicResult<InvoiceView> {
        let (s, now) = self.act(Action::View)?;
        let view = self.invoice_view(id)?;
        self.ws.audit_read(
            &s,
            now,
            invoice_audit("invoice.read", id, view.invoice.patient_id, json!({})),
        )?;
        Ok(view)
    }

    /// The invoice as it stands after a change its caller just made (no
    /// read event of its own: the change was audited).
    pub fn after_change(&mut self, id: Uuid) -> ClinicResult<InvoiceView> {
        self.act(Action::View)?;
        self.invoice_view(id)
    }

    pub(crate) fn invoice_view(&self, id: Uuid) -> ClinicResult<InvoiceView> {
        let invoice = self.load(id)?;
        let db = self.ws.store()?.db();
        let (patient_name, patient_number) = patient_label(&db, invoice.patient_id)?;
        let credit = db
            .patient_balance(invoice.patient_id)?
            .into_iter()
            .filter(|r| r.currency == invoice.currency)
            .map(|r| from_minor(r.credit_minor, &r.currency))
            .sum::<Decimal>();
        let credited = invoice.credited_lines();
        Ok(InvoiceView {
            balance: invoice.balance(),
            payments: db.invoice_payments(id)?,
            credit_notes: db.invoice_credit_notes(id)?,
            patient_credit: round(credit, invoice.digits()),
            creditable_lines: (0..invoice.lines.len())
                .filter(|i| !credited.contains(i))
                .collect(),
            patient_name,
            patient_number,
            invoice,
        })
    }

    /// Invoices with their balances, newest first.
    pub fn invoices(&mut self, f: &InvoiceFilter) -> ClinicResult<Vec<InvoiceRow>> {
        self.act(Action::View)?;
        let db = self.ws.store()?.db();
        let rows = db.invoices(f)?;
        let mut names = std::collections::HashMap::new();
        rows.into_iter()
            .map(|i| {
                let (name, number) = match names.get(&i.patient_id) {
                    Some(x) => Clone::clone(x),
                    None => {
                        let l = patient_label(&db, i.patient_id)?;
                        names.insert(i.patient_id, l.clone());
                        l
                    }
                };
                Ok(InvoiceRow {
                    id: i.id,
                    number: i.number.clone(),
                    status: i.status,
                    patient_id: i.patient_id,
                    patient_name: name,
                    patient_number: number,
                    created_at: i.created_at,
                    issued_on: i.issued_on,
                    due_on: i.due_on,
                    currency: i.currency.clone(),
                    total: i.totals.total,
                    balance: i.balance(),
                    open_conflicts: i.open_conflicts(),
                })
            })
            .collect()
    }

    /// What a patient owes and holds in credit (in the clinic's currency).
    pub fn account(&mut self, patient: Uuid) -> ClinicResult<AccountView> {
        self.act(Action::View)?;
        let currency = self.settings()?.currency;
        let db = self.ws.store()?.db();
        let rows = db.patient_balance(patient)?;
        let row = rows
            .into_iter()
            .find(|r| r.currency == currency)
            .unwrap_or_else(|| {
                let (patient_name, patient_number) =
                    patient_label(&db, patient).unwrap_or_default();
                BalanceRow {
                    patient_id: patient,
                    currency: currency.clone(),
                    owed_minor: 0,
                    credit_minor: 0,
                    open_invoices: 0,
                    patient_name,
                    patient_number,
                }
            });
        Ok(account_view(row))
    }

    /// What the clinic is owed by the age of the invoices today (days since
    /// issue): 0–30, 31–60, 61–90 and over 90 days.
    pub fn ageing(&mut self) -> ClinicResult<Ageing> {
        let (_, now) = self.act(Action::View)?;
        let today = self.today(now)?;
        let currency = self.settings()?.currency;
        let rows = self.ws.store()?.db().ageing(&currency, today)?;
        let labels = ["0–30 days", "31–60 days", "61–90 days", "over 90 days"];
        let buckets: Vec<AgeingBucket> = labels
            .iter()
            .zip(rows)
            .map(|(label, (minor, invoices))| AgeingBucket {
                label: label.to_string(),
                owed: clinic_store::billing::from_minor(minor, &currency),
                invoices,
            })
            .collect();
        let total = buckets.iter().map(|b| b.owed).sum();
        Ok(Ageing {
            on: today,
            currency,
            buckets,
            total,
        })
    }

    /// Everyone who owes the clinic or holds credit, most owed first.
    pub fn outstanding(&mut self) -> ClinicResult<Vec<AccountView>> {
        self.act(Action::View)?;
        let db = self.ws.store()?.db();
        Ok(db
            .outstanding_balances()?
            .into_iter()
            .map(account_view)
            .collect())
    }
}

/// One line for each price-list item linked to a kind of visit (an
/// appointment type, a consultation type), priced as the list has it today.
fn linked_lines(
    items: &[PriceItem],
    kind: &str,
    today: chrono::NaiveDate,
) -> ClinicResult<Vec<LineSpec>> {
    let specs: Vec<LineSpec> = items
        .iter()
        .filter(|i| i.active && i.price_on(today).is_some())
        .filter(|i| {
            i.appointment_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
        .map(|i| LineSpec {
            code: Some(i.code.clone()),
            quantity: "1".into(),
            ..Default::default()
        })
        .collect();
    if specs.is_empty() {
        return Err(ClinicError::new(
            ErrorCode::NotFound,
            format!("No price-list item is linked to {kind} visits; add the lines by hand."),
        ));
    }
    Ok(specs)
}

fn account_view(r: BalanceRow) -> AccountView {
    AccountView {
        patient_id: r.patient_id,
        patient_name: r.patient_name,
        patient_number: r.patient_number,
        owed: from_minor(r.owed_minor, &r.currency),
        credit: from_minor(r.credit_minor, &r.currency),
        currency: r.currency,
        open_invoices: r.open_invoices,
    }
}

/// A patient's name and number as lists show them.
pub(crate) fn patient_label(
    db: &clinic_store::Db,
    patient: Uuid,
) -> ClinicResult<(String, String)> {
    Ok(db
        .patient(patient)?
        .map(|p| {
            (
                format!("{} {}", p.details.first_name, p.details.last_name),
                p.patient_number,
            )
        })
        .unwrap_or_else(|| ("(unknown patient)".into(), String::new())))
}

pub(crate) fn invoice_audit(
    action: &'static str,
    id: Uuid,
    patient: Uuid,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        action,
        entity_type: Invoice::KIND,
        entity_id: Some(id),
        patient_id: Some(patient),
        details,
    }
}
