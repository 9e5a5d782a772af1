//! The demo clinic's billing (`performance.md` sizes): its settings, a
//! price list linked to the appointment types, and an invoice for each of
//! the newest completed appointments (as many as consultations), most paid
//! by card or cash, some in part, a few not yet, a few overpaid.
//!
//! Every figure comes from the billing rules themselves: on a standalone
//! store the mutations are applied in memory and their records written; on
//! an enrolled one they are queued, as a desk queues them, for the last
//! [`crate::demo::SYNCED_APPOINTMENT_DAYS`] days (as many as the desk's
//! number blocks allow).

use crate::workstation::new_id;
use chrono::{DateTime, Duration, Utc};
use clinic_core::billing::*;
use clinic_core::patients::address_lines;
use clinic_core::sync::{apply, Context, Mutation, Records, SaveDocument};
use clinic_core::{ClinicError, ClinicResult};
use clinic_demo::{DemoRng, DemoSize};
use clinic_store::Db;
use rust_decimal::Decimal;
use std::str::FromStr;
use uuid::Uuid;

/// (code, name, price, tax rate, appointment type, SKU).
type PriceRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

const PRICES: &[PriceRow] = &[
    (
        "CONS",
        "Consultation",
        "45.00",
        "0",
        Some("Consultation"),
        None,
    ),
    (
        "FOLLOW",
        "Follow-up visit",
        "30.00",
        "0",
        Some("Follow-up"),
        None,
    ),
    (
        "PROC",
        "Minor procedure",
        "120.00",
        "0",
        Some("Procedure"),
        None,
    ),
    (
        "URGENT",
        "Urgent appointment",
        "80.00",
        "0",
        Some("Emergency"),
        None,
    ),
    (
        "CHECK",
        "Routine check-up",
        "50.00",
        "0",
        Some("Routine check-up"),
        None,
    ),
    (
        "HEALTH",
        "Health check",
        "95.00",
        "0",
        Some("Health check"),
        None,
    ),
    (
        "BLOODS",
        "Blood test (venepuncture)",
        "12.50",
        "0",
        None,
        None,
    ),
    ("CERT", "Medical certificate", "25.00", "20", None, None),
    (
        "DRESS",
        "Dressing pack",
        "8.00",
        "20",
        None,
        Some("DRS-001"),
    ),
];

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

/// What [`write_demo_billing`] wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DemoBilling {
    pub invoices: u64,
    pub payments: u64,
}

/// Writes the demo clinic's settings, price list, invoices and payments.
pub fn write_demo_billing(
    db: &Db,
    seed: u64,
    size: DemoSize,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> ClinicResult<DemoBilling> {
    let synced = db.is_synced()?;
    let tenant = db.tenant()?;
    let mut settings = ClinicSettings::defaults_for(tenant.id);
    settings.currency = "GBP".into();
    settings.legal_name = format!("{} Ltd", tenant.name);
    settings.tax_id = Some("VAT GB 123 4567 89".into());
    settings.payment_terms =
        "Payable within 30 days by card, cash or bank transfer (sort code 00-00-00, account 12345678).".into();
    settings.invoice_footer = "Thank you. Questions about an invoice: accounts@demo.clinic".into();
    settings.sites = db
        .sites()?
        .iter()
        .enumerate()
        .map(|(i, s)| SiteDetails {
            site_id: s.id,
            address_lines: vec![
                format!("{} Health Centre", s.name),
                format!("{} High Street", 10 + i * 7),
                "Leeds LS1 4AP".into(),
            ],
            phone: Some(format!("0113 496 0{i}00")),
            email: Some("reception@demo.clinic".into()),
        })
        .collect();
    settings.updated_at = now;
    db.commit_mutation(
        actor,
        now,
        &Mutation::new(SaveDocument::new(settings.clone())),
    )?;
    let from = (now - Duration::days(800)).date_naive();
    let mut items = Vec::new();
    for (code, name, price, tax, kind, sku) in PRICES {
        let item = PriceItem {
            id: PriceItem::id_for(tenant.id, code),
            tenant_id: tenant.id,
            code: code.to_string(),
            name: name.to_string(),
            kind: if sku.is_some() {
                PriceKind::StockItem
            } else {
                PriceKind::Service
            },
            appointment_type: kind.map(str::to_string),
            sku: sku.map(str::to_string),
            prices: vec![PriceVersion {
                from,
                price: d(price),
                tax_rate: d(tax),
            }],
            active: true,
            updated_at: now,
        };
        db.commit_mutation(
            actor,
            now,
            &Mutation::new(AddPriceItem { item: item.clone() }),
        )?;
        items.push(item);
    }
    let line = |code: &str| -> LineInput {
        let it = items.iter().find(|i| i.code == code).unwrap_or(&items[0]);
        LineInput {
            item: Some(it.id),
            code: Some(it.code.clone()),
            description: it.name.clone(),
            quantity: Decimal::ONE,
            unit_price: it.prices[0].price,
            tax_rate: it.prices[0].tax_rate,
            discount_percent: Decimal::ZERO,
            discount_code: None,
        }
    };
    let mut wanted = size.invoices();
    if synced {
        wanted = wanted
            .min(db.numbers_left(INVOICE_NUMBERS.name)?.max(0) as u64)
            .min(db.numbers_left(RECEIPT_NUMBERS.name)?.max(0) as u64 / 2);
    }
    let window = now - Duration::days(crate::demo::SYNCED_APPOINTMENT_DAYS);
    let rows = db.completed_without_invoice(wanted as u32)?;
    let mut out = DemoBilling::default();
    let site = crate::scheduling::home_site(db)?;
    let details = settings.site(site.id).cloned().unwrap_or_default();
    // Oldest first, so numbers follow the calendar.
    let rows = rows
        .into_iter()
        .rev()
        .filter(|r| !synced || r.start >= window);
    for (k, row) in rows.enumerate() {
        let clinic_store::billing::Uninvoiced {
            appointment,
            patient,
            type_name,
            start,
        } = row;
        let mut rng = DemoRng::for_item(seed, 9, k as u64);
        let code = items
            .iter()
            .find(|i| i.appointment_type.as_deref() == Some(type_name.as_str()))
            .map_or("CONS", |i| i.code.as_str());
        let mut lines = vec![line(code)];
        if rng.chance(20) {
            lines.push(line("BLOODS"));
        }
        if rng.chance(5) {
            lines.push(line("CERT"));
        }
        let at = if synced {
            now
        } else {
            start + Duration::minutes(40)
        };
        let issued_on = at.date_naive();
        let p = db
            .patient(patient)?
            .ok_or_else(|| ClinicError::internal("a demo appointment's patient is missing"))?;
        let print = BillingPrint {
            patient_name: format!("{} {}", p.details.first_name, p.details.last_name),
            patient_number: p.patient_number.clone(),
            date_of_birth: p.details.date_of_birth,
            patient_address: address_lines(&p.details),
            clinic_name: format!("{} — {}", tenant.name, site.name),
            legal_name: settings.legal_name.clone(),
            clinic_address: details.address_lines.clone(),
            phone: details.phone.clone(),
            email: details.email.clone(),
            tax_id: settings.tax_id.clone(),
            payment_terms: settings.payment_terms.clone(),
            footer: settings.invoice_footer.clone(),
            locale: settings.locale.clone(),
        };
        let priced: Vec<InvoiceLine> = lines
            .iter()
            .map(|l| price_line(l, Decimal::ZERO, false, 2))
            .collect();
        let total = totals_of(&priced, 2).total;
        let id = Invoice::id_for_appointment(appointment);
        let mut steps = vec![
            Mutation::new(CreateInvoice {
                invoice: id,
                patient,
                appointment: Some(appointment),
                encounter: None,
                currency: settings.currency.clone(),
                prices_include_tax: false,
                lines,
                discount_percent: Decimal::ZERO,
                notes: String::new(),
            }),
            Mutation::new(IssueInvoice {
                invoice: id,
                number: (INVOICE_NUMBERS.format)(db.next_number(INVOICE_NUMBERS.name)?),
                issued_on,
                due_on: issued_on + Duration::days(settings.payment_days as i64),
                total,
                print: print.clone(),
                tenant: Some(tenant.id),
                discount_codes: vec![],
            }),
        ];
        let roll = rng.below(100);
        let amounts: Vec<Decimal> = match roll {
            0..=74 => vec![total],
            75..=84 => vec![(total / Decimal::TWO).round_dp(2)],
            85..=98 => vec![],
            _ => vec![total, Decimal::TEN],
        };
        for amount in amounts {
            let pid = new_id(at);
            steps.push(Mutation::new(RecordPayment {
                payment: Payment {
                    id: pid,
                    tenant_id: tenant.id,
                    patient_id: patient,
                    invoice_id: id,
                    kind: PaymentKind::Payment,
                    method: if rng.chance(60) {
                        PaymentMethod::Card
                    } else {
                        PaymentMethod::Cash
                    },
                    amount: money::round(amount, 2),
                    currency: settings.currency.clone(),
                    received_on: issued_on,
                    reference: None,
                    refund_of: None,
                    reason: None,
                    receipt_number: Some((RECEIPT_NUMBERS.format)(
                        db.next_number(RECEIPT_NUMBERS.name)?,
                    )),
                    invoice_number: None,
                    recorded_by: actor.unwrap_or_default(),
                    recorded_at: at,
                    print: print.clone(),
                    desk_id: Some(db.device_id),
                },
            }));
            out.payments += 1;
        }
        if synced {
            for m in &steps {
                db.commit_mutation(actor, now, m)?;
            }
        } else {
            let cx = Context {
                tenant: tenant.id,
                at,
                user: actor,
            };
            let mut recs = Records::default();
            for m in &steps {
                apply(m, &cx, &mut recs)?;
            }
            for p in recs.all::<Payment>() {
                db.put_payment(p)?;
            }
            let inv = recs
                .get::<Invoice>(id)
                .ok_or_else(|| ClinicError::internal("a demo invoice was not made"))?;
            db.put_invoice(inv)?;
        }
        out.invoices += 1;
    }
    Ok(out)
}
