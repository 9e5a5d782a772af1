//! `clinic price …`, `clinic invoice …`, `clinic payment …`, `clinic
//! receipt pdf`, `clinic credit-note pdf`, `clinic balance` and `clinic
//! settings`: billing from the command line (the scripting contract of
//! issue #21). Money is printed as decimal strings with the currency's
//! minor digits; dates are ISO.

use super::{date_arg, Ctx};
use chrono::NaiveDate;
use clap::Subcommand;
use clinic_client::billing::invoices::{InvoiceView, LineSpec};
use clinic_client::billing::NewPrice;
use clinic_core::billing::{
    ChangePriceItem, ClinicSettings, Invoice, PaymentMethod, PriceKind, TaxRate,
};
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::billing::InvoiceFilter;
use serde_json::{json, Value};
use std::path::PathBuf;
use uuid::Uuid;

#[derive(Subcommand, Debug)]
pub enum PriceCmd {
    /// The price list with today's prices: [{code, name, price, tax_rate}]
    List,
    /// Add an item to the price list
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// Unit price (45.00)
        #[arg(long)]
        price: String,
        /// Tax rate in percent (20)
        #[arg(long = "tax-rate", default_value = "0")]
        tax_rate: String,
        /// The appointment type it is charged for (drafts for such appointments offer it)
        #[arg(long = "appointment-type")]
        appointment_type: Option<String>,
        /// A stock item sold by SKU (rather than a service)
        #[arg(long)]
        sku: Option<String>,
        /// Valid from (YYYY-MM-DD; today when not given)
        #[arg(long, value_parser = date_arg)]
        from: Option<NaiveDate>,
    },
    /// Change an item: a new price from a date, its name, type link, or whether it is offered
    Change {
        code: String,
        #[arg(long)]
        price: Option<String>,
        #[arg(long = "tax-rate")]
        tax_rate: Option<String>,
        #[arg(long, value_parser = date_arg)]
        from: Option<NaiveDate>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "appointment-type")]
        appointment_type: Option<String>,
        /// No longer offered on new invoices
        #[arg(long, conflicts_with = "active")]
        inactive: bool,
        #[arg(long)]
        active: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum InvoiceCmd {
    /// Draft an invoice: --line CODE:QTY[:UNIT_PRICE[:DISCOUNT_PERCENT]] (CODE from the price list)
    Create {
        /// Patient number or id
        #[arg(long)]
        patient: String,
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
        /// The appointment it bills (at most one invoice each)
        #[arg(long)]
        appointment: Option<Uuid>,
        /// A discount on every line, in percent
        #[arg(long)]
        discount: Option<String>,
    },
    /// Draft the invoice of a completed appointment, or of a signed walk-in consultation, from the price list
    Draft {
        #[arg(
            long,
            required_unless_present = "encounter",
            conflicts_with = "encounter"
        )]
        appointment: Option<Uuid>,
        #[arg(long)]
        encounter: Option<Uuid>,
    },
    /// Change a draft's lines, discount or notes (an issued invoice is refused)
    Edit {
        /// Invoice id or number
        id: String,
        #[arg(long = "line")]
        lines: Vec<String>,
        #[arg(long)]
        discount: Option<String>,
        #[arg(long)]
        notes: Option<String>,
    },
    /// Discard a draft
    Discard { id: String },
    /// Issue a draft under the next invoice number
    Issue { id: String },
    /// Void a wrongly issued invoice (it keeps its number)
    Void {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// An invoice with its lines, totals, payments and balance
    Show { id: String },
    /// Invoices with their balances, newest first
    List {
        #[arg(long)]
        patient: Option<String>,
        /// draft, issued, partially_paid, paid, void, discarded
        #[arg(long)]
        status: Vec<String>,
        /// Only those with something owed
        #[arg(long)]
        unpaid: bool,
        /// Only those with a conflict of money for a manager
        #[arg(long)]
        conflicts: bool,
        #[arg(long, value_parser = date_arg)]
        from: Option<NaiveDate>,
        #[arg(long, value_parser = date_arg)]
        to: Option<NaiveDate>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Issue a credit note: the whole invoice, or lines by number (1 = the first)
    Credit {
        id: String,
        #[arg(long = "line")]
        lines: Vec<usize>,
        #[arg(long)]
        reason: String,
    },
    /// The invoice as printed
    Pdf {
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Settle a conflict of money (a manager), naming the entry that raised it
    Resolve {
        id: String,
        #[arg(long)]
        entry: Uuid,
        #[arg(long)]
        note: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PaymentCmd {
    /// Take a payment against an issued invoice (a numbered receipt)
    Add {
        /// Invoice id or number
        #[arg(long)]
        invoice: String,
        #[arg(long)]
        amount: String,
        /// cash, card, bank_transfer or insurance
        #[arg(long)]
        method: String,
        /// The day it was received (YYYY-MM-DD; today when not given)
        #[arg(long, value_parser = date_arg)]
        date: Option<NaiveDate>,
        /// The card terminal's or bank's reference
        #[arg(long)]
        reference: Option<String>,
    },
    /// Pay back part or all of a payment (never more than is left of it)
    Refund {
        /// Payment id or receipt number
        id: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reason: String,
        /// How it is paid back (the payment's method when not given)
        #[arg(long)]
        method: Option<String>,
    },
    /// Use the credit an overpaid invoice holds to pay another of the patient's
    UseCredit {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// At most the credit (all of it that the invoice needs when not given)
        #[arg(long)]
        amount: Option<String>,
    },
}

fn method(text: &str) -> ClinicResult<PaymentMethod> {
    PaymentMethod::parse(text).ok_or_else(|| {
        ClinicError::field("method", "must be cash, card, bank_transfer or insurance")
    })
}

fn specs(lines: &[String]) -> ClinicResult<Vec<LineSpec>> {
    lines.iter().map(|l| LineSpec::parse(l)).collect()
}

/// An invoice as the CLI prints it: the record with its total and balance
/// at the top.
fn invoice_json(i: &Invoice) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("total".into(), json!(i.totals.total));
        o.insert("balance".into(), json!(i.balance()));
    }
    v
}

fn invoice_line(i: &Invoice) -> String {
    format!(
        "{} {} total {} {} balance {}",
        i.number.as_deref().unwrap_or("(draft)"),
        i.status.as_str(),
        i.currency,
        i.totals.total,
        i.balance()
    )
}

fn view_card(v: &InvoiceView) -> String {
    let i = &v.invoice;
    let mut out = vec![format!(
        "{} — {} ({})",
        invoice_line(i),
        v.patient_name,
        v.patient_number
    )];
    for (n, l) in i.lines.iter().enumerate() {
        out.push(format!(
            "  {}. {} × {} {} at {} tax {}% = {}",
            n + 1,
            l.input.quantity,
            l.input.code.as_deref().unwrap_or(""),
            l.input.description,
            l.input.unit_price,
            l.input.tax_rate,
            l.total
        ));
    }
    for p in &v.payments {
        out.push(format!(
            "  {:?} {} {} {} {}",
            p.kind,
            p.receipt_number.as_deref().unwrap_or(""),
            p.received_on,
            p.method.as_str(),
            p.amount
        ));
    }
    for c in &v.credit_notes {
        out.push(format!("  credit note {} {}", c.number, c.totals.total));
    }
    for c in i.conflicts.iter().filter(|c| c.resolved.is_none()) {
        out.push(format!(
            "  CONFLICT {} (entry {}): {}",
            c.code, c.entry, c.message
        ));
    }
    out.join("\n")
}

fn write_pdf(ctx: &Ctx, id: Uuid, out: &PathBuf, pdf: &[u8]) -> ClinicResult<()> {
    clinic_print::write_pdf(out, pdf)
        .map_err(|e| ClinicError::field("out", format!("could not be written: {e}")))?;
    ctx.print(&json!({"id": id, "out": out, "bytes": pdf.len()}), |_| {
        format!("Wrote {} ({} bytes)", out.display(), pdf.len())
    });
    Ok(())
}

pub fn price(ctx: &Ctx, cmd: PriceCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let mut b = ws.billing();
    match cmd {
        PriceCmd::List => {
            let items = b.prices()?;
            let rows: Vec<Value> = items
                .iter()
                .map(|i| {
                    json!({"code": i.code, "name": i.name, "price": i.price, "tax_rate": i.tax_rate,
                           "kind": i.kind, "appointment_type": i.appointment_type, "sku": i.sku,
                           "active": i.active, "id": i.id})
                })
                .collect();
            ctx.print(&rows, |_| {
                items
                    .iter()
                    .map(|i| {
                        format!(
                            "{:<12} {:<40} {:>10} {:>6}%{}",
                            i.code,
                            i.name,
                            i.price.map(|p| p.to_string()).unwrap_or_default(),
                            i.tax_rate.map(|p| p.to_string()).unwrap_or_default(),
                            if i.active { "" } else { " (no longer offered)" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        PriceCmd::Add {
            code,
            name,
            price,
            tax_rate,
            appointment_type,
            sku,
            from,
        } => {
            let kind = if sku.is_some() {
                PriceKind::StockItem
            } else {
                PriceKind::Service
            };
            let v = b.add_price(NewPrice {
                code,
                name,
                price,
                tax_rate,
                kind,
                appointment_type,
                sku,
                from,
            })?;
            ctx.print(
                &json!({"code": v.code, "name": v.name, "price": v.price, "tax_rate": v.tax_rate, "id": v.id}),
                |_| format!("Added {} {}", v.code, v.name),
            );
        }
        PriceCmd::Change {
            code,
            price,
            tax_rate,
            from,
            name,
            appointment_type,
            inactive,
            active,
        } => {
            let change = ChangePriceItem {
                name,
                appointment_type: appointment_type
                    .map(|t| Some(t).filter(|t| !t.trim().is_empty())),
                active: (inactive || active).then_some(active),
                ..Default::default()
            };
            let current = b.price_item(&code)?;
            let today_rate = current
                .prices
                .last()
                .map(|p| p.tax_rate.to_string())
                .unwrap_or_default();
            let price_change = match (&price, &tax_rate) {
                (None, None) => None,
                (p, t) => Some((
                    p.clone().unwrap_or_else(|| {
                        current
                            .prices
                            .last()
                            .map(|v| v.price.to_string())
                            .unwrap_or_default()
                    }),
                    t.clone().unwrap_or(today_rate),
                )),
            };
            let v = b.change_price(
                &code,
                change,
                price_change
                    .as_ref()
                    .map(|(p, t)| (p.as_str(), t.as_str(), from)),
            )?;
            ctx.print(
                &json!({"code": v.code, "name": v.name, "price": v.price, "tax_rate": v.tax_rate, "active": v.active, "prices": v.prices}),
                |_| format!("Changed {} {}", v.code, v.name),
            );
        }
    }
    Ok(())
}

pub fn invoice(ctx: &Ctx, cmd: InvoiceCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let print_invoice = |i: &Invoice| ctx.print(&invoice_json(i), |_| invoice_line(i));
    match cmd {
        InvoiceCmd::Create {
            patient,
            lines,
            appointment,
            discount,
        } => {
            let patient = ws.patients().resolve(&patient)?;
            let lines = specs(&lines)?;
            let i = ws.billing().create_invoice(
                patient,
                &lines,
                appointment,
                None,
                discount.as_deref(),
            )?;
            print_invoice(&i);
        }
        InvoiceCmd::Draft {
            appointment,
            encounter,
        } => {
            let i = match (appointment, encounter) {
                (Some(a), _) => ws.billing().draft_for_appointment(a)?,
                (None, Some(e)) => ws.billing().draft_for_encounter(e)?,
                (None, None) => {
                    return Err(ClinicError::field(
                        "appointment",
                        "or --encounter is required",
                    ))
                }
            };
            print_invoice(&i);
        }
        InvoiceCmd::Edit {
            id,
            lines,
            discount,
            notes,
        } => {
            let mut b = ws.billing();
            let id = b.resolve_invoice(&id)?;
            let lines = specs(&lines)?;
            let i = b.edit_invoice(
                id,
                (!lines.is_empty()).then_some(lines.as_slice()),
                discount.as_deref(),
                notes.as_deref(),
            )?;
            print_invoice(&i);
        }
        InvoiceCmd::Discard { id } => {
            let mut b = ws.billing();
            let id = b.resolve_invoice(&id)?;
            print_invoice(&b.discard_invoice(id)?);
        }
        InvoiceCmd::Issue { id } => {
            let mut b = ws.billing();
            let id = b.resolve_invoice(&id)?;
            print_invoice(&b.issue_invoice(id)?);
        }
        InvoiceCmd::Void { id, reason } => {
            let mut b = ws.billing();
            let id = b.resolve_invoice(&id)?;
            print_invoice(&b.void_invoice(id, &reason)?);
        }
        InvoiceCmd::Show { id } => {
            let mut b = ws.billing();
            let id = b.resolve_invoice(&id)?;
            let v = b.show_invoice(id)?;
            let mut out = serde_json::to_value(&v).map_err(ClinicError::internal)?;
            if let Value::Object(o) = &mut out {
                o.insert("total".into(), json!(v.invoice.totals.total));
            }
            ctx.print(&out, |_| view_card(&v));
        }
        InvoiceCmd::List {
            patient,
            status,
            unpaid,
            conflicts,
            from,
            to,
            limit,
        } => {
            let patient = patient.map(|p| ws.patients().resolve(&p)).transpose()?;
            let rows = ws.billing().invoices(&InvoiceFilter {
                patient,
                statuses: (!status.is_empty()).then_some(status),
                unpaid_only: unpaid,
                conflicts_only: conflicts,
                from,
                to,
                limit: limit.clamp(1, 10_000),
            })?;
            ctx.print(&rows, |rows| {
                rows.iter()
                    .map(|r| {
                        format!(
                            "{:<11} {:<15} {:<30} {} {:>10} balance {:>10}",
                            r.number.as_deref().unwrap_or("(draft)"),
                            r.status.as_str(),
                            r.patient_name,
                            r.currency,
                            r.total,
                            r.balance
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        InvoiceCmd::Credit { id, lines, reason } => {
            let mut b = ws.billing();
            let id = b.resolve_invoice(&id)?;
            if lines.contains(&0) {
                return Err(ClinicError::field("line", "lines are numbered from 1"));
            }
            let idx: Vec<usize> = lines.iter().map(|l| l - 1).collect();
            let c = b.credit(id, &idx, &reason)?;
            let inv = b.after_change(id)?;
            let mut v = serde_json::to_value(&c).map_err(ClinicError::internal)?;
            if let Value::Object(o) = &mut v {
                o.insert("total".into(), json!(c.totals.total));
                o.insert("invoice_balance".into(), json!(inv.balance));
                o.insert("invoice_status".into(), json!(inv.invoice.status));
            }
            ctx.print(&v, |_| {
                format!(
                    "Credit note {} for {} {}",
                    c.number, c.currency, c.totals.total
                )
            });
        }
        InvoiceCmd::Pdf { id, out } => {
            let mut b = ws.billing();
            let id = b.resolve_invoice(&id)?;
            let pdf = b.invoice_pdf(id)?;
            write_pdf(ctx, id, &out, &pdf)?;
        }
        InvoiceCmd::Resolve { id, entry, note } => {
            let mut b = ws.billing();
            let id = b.resolve_invoice(&id)?;
            print_invoice(&b.resolve_conflict(id, entry, &note)?);
        }
    }
    Ok(())
}

fn money_json(p: &clinic_core::billing::Payment, inv: &InvoiceView) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("invoice_balance".into(), json!(inv.balance));
        o.insert("invoice_status".into(), json!(inv.invoice.status));
        o.insert("patient_credit".into(), json!(inv.patient_credit));
    }
    v
}

pub fn payment(ctx: &Ctx, cmd: PaymentCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let mut b = ws.billing();
    match cmd {
        PaymentCmd::Add {
            invoice,
            amount,
            method: m,
            date,
            reference,
        } => {
            let id = b.resolve_invoice(&invoice)?;
            let p = b.take_payment(id, &amount, method(&m)?, date, reference.as_deref())?;
            let v = b.after_change(id)?;
            ctx.print(&money_json(&p, &v), |_| {
                format!(
                    "Receipt {}: {} {} received; balance {}",
                    p.receipt_number.as_deref().unwrap_or_default(),
                    p.currency,
                    p.amount,
                    v.balance
                )
            });
        }
        PaymentCmd::Refund {
            id,
            amount,
            reason,
            method: m,
        } => {
            let id = b.resolve_payment(&id)?;
            let r = b.refund(id, &amount, &reason, m.as_deref().map(method).transpose()?)?;
            let v = b.after_change(r.invoice_id)?;
            ctx.print(&money_json(&r, &v), |_| {
                format!(
                    "Refund {}: {} {} paid back; balance {}",
                    r.receipt_number.as_deref().unwrap_or_default(),
                    r.currency,
                    r.amount,
                    v.balance
                )
            });
        }
        PaymentCmd::UseCredit { from, to, amount } => {
            let from = b.resolve_invoice(&from)?;
            let to = b.resolve_invoice(&to)?;
            let (_, into) = b.use_credit(from, to, amount.as_deref())?;
            let v = b.after_change(to)?;
            ctx.print(&money_json(&into, &v), |_| {
                format!(
                    "{} {} of credit used; balance {}",
                    into.currency, into.amount, v.balance
                )
            });
        }
    }
    Ok(())
}

/// `clinic receipt pdf ID --out FILE`.
pub fn receipt_pdf(ctx: &Ctx, id: &str, out: &PathBuf) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let mut b = ws.billing();
    let id = b.resolve_payment(id)?;
    let pdf = b.receipt_pdf(id)?;
    write_pdf(ctx, id, out, &pdf)
}

/// `clinic credit-note pdf ID --out FILE`.
pub fn credit_note_pdf(ctx: &Ctx, id: &str, out: &PathBuf) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let mut b = ws.billing();
    let id = b.resolve_credit_note(id)?;
    let pdf = b.credit_note_pdf(id)?;
    write_pdf(ctx, id, out, &pdf)
}

/// `clinic balance [PATIENT]`: a patient's account, or everyone who owes
/// the clinic or holds credit.
pub fn balance(ctx: &Ctx, patient: Option<String>) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match patient {
        Some(p) => {
            let id = ws.patients().resolve(&p)?;
            let a = ws.billing().account(id)?;
            ctx.print(&a, |a| {
                format!(
                    "{} ({}): owes {} {}, credit {} {}",
                    a.patient_name, a.patient_number, a.currency, a.owed, a.currency, a.credit
                )
            });
        }
        None => {
            let rows = ws.billing().outstanding()?;
            ctx.print(&rows, |rows| {
                rows.iter()
                    .map(|a| {
                        format!(
                            "{:<30} {:<10} owes {} {:>10} credit {:>10}",
                            a.patient_name, a.patient_number, a.currency, a.owed, a.credit
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

#[derive(clap::Args, Debug, Default)]
pub struct SettingsArgs {
    #[arg(long)]
    currency: Option<String>,
    #[arg(long)]
    locale: Option<String>,
    /// Whether price-list prices include tax (true/false)
    #[arg(long = "prices-include-tax")]
    prices_include_tax: Option<bool>,
    /// Tax rates people pick from, NAME:RATE (repeat; replaces the list)
    #[arg(long = "tax-rate")]
    tax_rates: Vec<String>,
    #[arg(long = "legal-name")]
    legal_name: Option<String>,
    #[arg(long = "tax-id")]
    tax_id: Option<String>,
    #[arg(long = "payment-days")]
    payment_days: Option<u16>,
    #[arg(long = "payment-terms")]
    payment_terms: Option<String>,
    #[arg(long)]
    footer: Option<String>,
    /// This site's address (repeat for each line; replaces them)
    #[arg(long = "address")]
    address: Vec<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    email: Option<String>,
}

/// `clinic settings [--currency …]`: shows the clinic's settings, or
/// changes those given (administrators).
pub fn settings(ctx: &Ctx, a: SettingsArgs) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let site = ws.home_site()?;
    let mut b = ws.billing();
    let mut s: ClinicSettings = b.settings()?;
    let before = s.clone();
    let set = |to: &mut String, v: Option<String>| {
        if let Some(v) = v {
            *to = v.trim().to_string();
        }
    };
    set(&mut s.currency, a.currency.map(|c| c.to_uppercase()));
    set(&mut s.locale, a.locale);
    set(&mut s.legal_name, a.legal_name);
    set(&mut s.payment_terms, a.payment_terms);
    set(&mut s.invoice_footer, a.footer);
    if let Some(x) = a.prices_include_tax {
        s.prices_include_tax = x;
    }
    if let Some(t) = a.tax_id {
        s.tax_id = Some(t).filter(|t| !t.trim().is_empty());
    }
    if let Some(d) = a.payment_days {
        s.payment_days = d;
    }
    if !a.tax_rates.is_empty() {
        s.tax_rates = a
            .tax_rates
            .iter()
            .map(|t| {
                let (name, rate) = t.rsplit_once(':').ok_or_else(|| {
                    ClinicError::field("tax_rate", format!("{t:?} must be NAME:RATE (Standard:20)"))
                })?;
                Ok(TaxRate {
                    name: name.trim().to_string(),
                    rate: clinic_core::billing::money::parse_percent(rate)
                        .map_err(|e| ClinicError::field("tax_rate", e))?,
                })
            })
            .collect::<ClinicResult<_>>()?;
    }
    if !a.address.is_empty() || a.phone.is_some() || a.email.is_some() {
        let i = match s.sites.iter().position(|d| d.site_id == site.id) {
            Some(i) => i,
            None => {
                s.sites.push(clinic_core::billing::SiteDetails {
                    site_id: site.id,
                    ..Default::default()
                });
                s.sites.len() - 1
            }
        };
        let d = &mut s.sites[i];
        if !a.address.is_empty() {
            d.address_lines = a
                .address
                .iter()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
        }
        if let Some(p) = a.phone {
            d.phone = Some(p).filter(|p| !p.trim().is_empty());
        }
        if let Some(e) = a.email {
            d.email = Some(e).filter(|e| !e.trim().is_empty());
        }
    }
    if s != before {
        s = b.save_settings(s)?;
    }
    ctx.print(&s, |s| {
        format!(
            "{} ({}), currency {}, locale {}, prices {} tax, due in {} days",
            if s.legal_name.is_empty() {
                "(no legal name)"
            } else {
                &s.legal_name
            },
            s.tax_id.as_deref().unwrap_or("no tax id"),
            s.currency,
            s.locale,
            if s.prices_include_tax {
                "include"
            } else {
                "exclude"
            },
            s.payment_days
        )
    });
    Ok(())
}
