//! Invoices, receipts and credit notes on paper: each printed from the copy
//! it keeps of what it printed when it was issued (names, addresses, the
//! clinic's legal details), in the site's locale, whatever changed since.

use super::Billing;
use clinic_core::billing::*;
use clinic_core::locale::{format_date, format_decimal};
use clinic_core::patients::address_lines;
use clinic_core::permissions::Action;
use clinic_core::{ClinicError, ClinicResult};
use rust_decimal::Decimal;
use uuid::Uuid;

fn letterhead(p: &BillingPrint) -> clinic_print::Letterhead {
    clinic_print::Letterhead {
        name: p.clinic_name.clone(),
        address_lines: p.clinic_address.clone(),
        phone: p.phone.clone(),
        email: p.email.clone(),
        legal_name: Some(p.legal_name.clone()).filter(|l| !l.is_empty()),
        tax_id: p.tax_id.clone(),
        logo_png: None,
    }
}

fn bill_to(p: &BillingPrint) -> clinic_print::Addressee {
    clinic_print::Addressee {
        name: p.patient_name.clone(),
        lines: p.patient_address.clone(),
    }
}

fn charge_lines(lines: &[InvoiceLine], locale: &str) -> Vec<clinic_print::ChargeLine> {
    lines
        .iter()
        .map(|l| clinic_print::ChargeLine {
            description: match l.input.discount_percent.is_zero() {
                true => l.input.description.clone(),
                false => format!(
                    "{} (less {}%)",
                    l.input.description,
                    format_decimal(l.input.discount_percent.normalize(), locale)
                ),
            },
            quantity: format_decimal(l.input.quantity.normalize(), locale),
            unit_price: format_decimal(l.input.unit_price, locale),
            tax_rate: rate_label(l.input.tax_rate, locale),
            amount: format_decimal(l.total, locale),
        })
        .collect()
}

fn rate_label(rate: Decimal, locale: &str) -> String {
    if rate.is_zero() {
        "exempt".into()
    } else {
        format!("{}%", format_decimal(rate.normalize(), locale))
    }
}

fn tax_lines(lines: &[InvoiceLine], include: bool, locale: &str) -> Vec<clinic_print::AmountLine> {
    taxes_by_rate(lines)
        .into_iter()
        .filter(|(r, _)| !r.is_zero())
        .map(|(r, t)| clinic_print::AmountLine {
            label: format!(
                "Tax {}{}",
                rate_label(r, locale),
                if include { " (included)" } else { "" }
            ),
            amount: format_decimal(t, locale),
        })
        .collect()
}

fn render<D: clinic_print::Printable>(doc: &D, what: &str) -> ClinicResult<Vec<u8>> {
    clinic_print::render(doc, clinic_print::Paper::A4)
        .map_err(|e| ClinicError::internal(format!("printing the {what}: {e}")))
}

impl Billing<'_> {
    /// What an issued document prints about the patient and the clinic now
    /// (kept with it from then on).
    pub(crate) fn print_snapshot(
        &self,
        patient: Uuid,
        settings: &ClinicSettings,
    ) -> ClinicResult<BillingPrint> {
        let db = self.ws.store()?.db();
        let p = db
            .patient(patient)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        let site = self.ws.home_site()?;
        let tenant = db.tenant()?;
        let details = settings.site(site.id).cloned().unwrap_or_default();
        Ok(BillingPrint {
            patient_name: format!("{} {}", p.details.first_name, p.details.last_name),
            patient_number: p.patient_number.clone(),
            date_of_birth: p.details.date_of_birth,
            patient_address: address_lines(&p.details),
            clinic_name: if tenant.name == site.name {
                tenant.name
            } else {
                format!("{} — {}", tenant.name, site.name)
            },
            legal_name: settings.legal_name.clone(),
            clinic_address: details.address_lines,
            phone: details.phone,
            email: details.email,
            tax_id: settings.tax_id.clone(),
            payment_terms: settings.payment_terms.clone(),
            footer: settings.invoice_footer.clone(),
            locale: settings.locale.clone(),
        })
    }

    /// An issued invoice as printed (a draft prints marked as such).
    pub fn invoice_pdf(&mut self, id: Uuid) -> ClinicResult<Vec<u8>> {
        let v = self.show_invoice(id)?;
        let inv = &v.invoice;
        let settings = self.settings()?;
        let p = match &inv.print {
            Some(p) => p.clone(),
            None => self.print_snapshot(inv.patient_id, &settings)?,
        };
        let loc = p.locale.as_str();
        let date = |d: chrono::NaiveDate| format_date(d, loc);
        let mut payments: Vec<clinic_print::AmountLine> = v
            .payments
            .iter()
            .map(|x| clinic_print::AmountLine {
                label: match x.kind {
                    PaymentKind::Payment => {
                        format!("Paid {} ({})", date(x.received_on), x.method.label())
                    }
                    PaymentKind::Refund => format!("Refunded {}", date(x.received_on)),
                },
                amount: format_decimal(
                    if x.kind == PaymentKind::Payment {
                        -x.amount
                    } else {
                        x.amount
                    },
                    loc,
                ),
            })
            .collect();
        payments.extend(v.credit_notes.iter().map(|c| clinic_print::AmountLine {
            label: format!("Credit note {}", c.number),
            amount: format_decimal(-c.totals.total, loc),
        }));
        let mut notes: Vec<String> = [inv.notes.clone()]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect();
        match inv.status {
            InvoiceStatus::Draft => notes.push("DRAFT — not a valid invoice until issued.".into()),
            InvoiceStatus::Void => notes.push(format!(
                "VOID — {}",
                inv.void_reason.as_deref().unwrap_or_default()
            )),
            _ if v.balance < Decimal::ZERO => notes.push(format!(
                "The patient holds {} {} in credit on this invoice.",
                inv.currency,
                format_decimal(-v.balance, loc)
            )),
            _ => {}
        }
        let doc = clinic_print::Invoice {
            letterhead: letterhead(&p),
            number: inv.number.clone().unwrap_or_else(|| "DRAFT".into()),
            issue_date: date(inv.issued_on.unwrap_or_else(|| inv.created_at.date_naive())),
            due_date: inv.due_on.map(date),
            bill_to: bill_to(&p),
            patient: Some(clinic_print::PatientDetails {
                name: p.patient_name.clone(),
                number: p.patient_number.clone(),
                date_of_birth: p.date_of_birth.map(date),
                address_lines: vec![],
            }),
            currency: inv.currency.clone(),
            lines: charge_lines(&inv.lines, loc),
            subtotal: format_decimal(inv.totals.subtotal - inv.totals.discount, loc),
            taxes: tax_lines(&inv.lines, inv.prices_include_tax, loc),
            total: format_decimal(inv.totals.total, loc),
            payments,
            balance_due: format_decimal(v.balance, loc),
            payment_terms: Some(p.payment_terms.clone()).filter(|t| !t.is_empty()),
            notes,
            footer: p.footer.clone(),
        };
        render(&doc, "invoice")
    }

    /// A receipt (or refund receipt) as printed.
    pub fn receipt_pdf(&mut self, payment: Uuid) -> ClinicResult<Vec<u8>> {
        self.act(Action::View)?;
        let x = self.load_payment(payment)?;
        let number = x.receipt_number.clone().ok_or_else(|| {
            ClinicError::conflict("A transfer of credit between invoices has no receipt.")
        })?;
        let v = self.show_invoice(x.invoice_id)?;
        let p = &x.print;
        let loc = p.locale.as_str();
        let refund = x.kind == PaymentKind::Refund;
        let mut notes = vec![];
        if refund {
            let of = x
                .refund_of
                .and_then(|o| v.payments.iter().find(|q| q.id == o))
                .and_then(|q| q.receipt_number.clone())
                .unwrap_or_default();
            notes.push(format!(
                "Refund of receipt {of}: {}",
                x.reason.as_deref().unwrap_or_default()
            ));
        }
        let doc = clinic_print::Receipt {
            letterhead: letterhead(p),
            number,
            refund,
            date: format_date(x.received_on, loc),
            received_from: bill_to(p),
            currency: x.currency.clone(),
            amount: format_decimal(x.amount, loc),
            method: x.method.label().into(),
            reference: x.reference.clone(),
            allocations: vec![clinic_print::AmountLine {
                label: format!(
                    "Invoice {}",
                    x.invoice_number.as_deref().unwrap_or_default()
                ),
                amount: format_decimal(x.amount, loc),
            }],
            notes,
            footer: p.footer.clone(),
        };
        render(&doc, "receipt")
    }

    /// A credit note as printed.
    pub fn credit_note_pdf(&mut self, id: Uuid) -> ClinicResult<Vec<u8>> {
        self.act(Action::View)?;
        let c = self
            .ws
            .store()?
            .db()
            .credit_note(id)?
            .ok_or_else(|| ClinicError::not_found("Credit note"))?;
        let inv = self.load(c.invoice_id)?;
        let p = &c.print;
        let loc = p.locale.as_str();
        let doc = clinic_print::CreditNote {
            letterhead: letterhead(p),
            number: c.number.clone(),
            date: format_date(c.issued_on, loc),
            invoice_number: c.invoice_number.clone(),
            bill_to: bill_to(p),
            reason: c.reason.clone(),
            currency: c.currency.clone(),
            lines: charge_lines(&c.lines, loc),
            subtotal: format_decimal(c.totals.subtotal - c.totals.discount, loc),
            taxes: tax_lines(&c.lines, inv.prices_include_tax, loc),
            total: format_decimal(c.totals.total, loc),
            notes: vec![],
            footer: p.footer.clone(),
        };
        render(&doc, "credit note")
    }
}
