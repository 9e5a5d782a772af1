//! Billing use-cases: the clinic's settings and price list, invoices from
//! draft to issue (numbered from this desk's leased blocks, with a copy of
//! what they print), payments, refunds, credit notes and receipts, and the
//! balances of a patient and of the clinic. The rules live in
//! `clinic_core::billing`; here they meet the session, the store and the
//! printer.

pub mod closing;
pub mod demo;
pub mod desk;
pub mod discounts;
pub mod insurance;
pub mod invoices;
pub mod payments;
pub mod print;

use crate::workstation::{Session, Workstation};
use chrono::{DateTime, NaiveDate, Utc};
use clinic_core::audit::AuditEntry;
use clinic_core::billing::money::{parse_amount, parse_percent};
use clinic_core::billing::*;
use clinic_core::permissions::{Action, Module, SensitiveFlag};
use clinic_core::sync::{Mutation, RecordKind, SaveDocument};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// The billing use-cases of a workstation: `ws.billing()`.
#[derive(Debug)]
pub struct Billing<'w> {
    pub(crate) ws: &'w mut Workstation,
}

impl Workstation {
    pub fn billing(&mut self) -> Billing<'_> {
        Billing { ws: self }
    }
}

/// A price-list item as a list shows it: the price valid today.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PriceView {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: PriceKind,
    pub appointment_type: Option<String>,
    pub sku: Option<String>,
    /// Today's price (`None`: none valid yet).
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub price: Option<Decimal>,
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub tax_rate: Option<Decimal>,
    pub active: bool,
    pub prices: Vec<PriceVersion>,
}

/// A new price-list item as typed.
#[derive(Debug, Clone, Default)]
pub struct NewPrice {
    pub code: String,
    pub name: String,
    pub price: String,
    pub tax_rate: String,
    pub kind: PriceKind,
    pub appointment_type: Option<String>,
    pub sku: Option<String>,
    /// From when (today when not given).
    pub from: Option<NaiveDate>,
}

impl Billing<'_> {
    /// The session and time, for a billing action (which also needs the
    /// financial-data flag).
    pub(crate) fn act(&mut self, action: Action) -> ClinicResult<(Session, DateTime<Utc>)> {
        let (s, now) = self.ws.act(Module::Billing, action)?;
        s.permissions.require_flag(SensitiveFlag::FinancialData)?;
        Ok((s, now))
    }

    /// The clinic's settings (currency, taxes, legal details).
    pub fn settings(&self) -> ClinicResult<ClinicSettings> {
        Ok(self.ws.store()?.db().clinic_settings()?)
    }

    /// The clinic's closed periods, as this desk knows them.
    pub fn period_lock(&self) -> ClinicResult<Option<PeriodLock>> {
        let db = self.ws.store()?.db();
        let id = PeriodLock::id_for(db.tenant()?.id);
        Ok(db.document::<PeriodLock>(id)?)
    }

    /// Refuses at entry a document dated inside a period this desk knows
    /// is closed (`PERIOD_CLOSED`): date it in the open period instead.
    pub(crate) fn ensure_open(&self, what: &str, on: NaiveDate) -> ClinicResult<()> {
        match self.period_lock()? {
            Some(l) if on <= l.closed_until => Err(period_closed_error(what, on, l.closed_until)),
            _ => Ok(()),
        }
    }

    /// Today in the home site's time zone.
    pub(crate) fn today(&self, now: DateTime<Utc>) -> ClinicResult<NaiveDate> {
        let site = self.ws.home_site()?;
        let tz: chrono_tz::Tz = site.timezone.parse().unwrap_or(chrono_tz::UTC);
        Ok(now.with_timezone(&tz).date_naive())
    }

    /// Saves the clinic's settings (administrators).
    pub fn save_settings(&mut self, mut settings: ClinicSettings) -> ClinicResult<ClinicSettings> {
        let (s, now) = self.ws.act(Module::Admin, Action::Edit)?;
        let tenant = self.ws.store()?.db().tenant()?.id;
        settings.tenant_id = tenant;
        settings.id = ClinicSettings::id_for(tenant);
        settings.updated_at = now;
        settings.validate()?;
        let id = settings.id;
        self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(SaveDocument::new(settings))),
            |_| {
                vec![AuditEntry {
                    action: "settings.save",
                    entity_type: ClinicSettings::KIND,
                    entity_id: Some(id),
                    patient_id: None,
                    details: json!({}),
                }]
            },
        )?;
        self.settings()
    }

    /// The price list, by code, with today's prices.
    pub fn prices(&mut self) -> ClinicResult<Vec<PriceView>> {
        let (_, now) = self.act(Action::View)?;
        let today = self.today(now)?;
        let items = self.ws.store()?.db().price_items()?;
        Ok(items.into_iter().map(|i| price_view(i, today)).collect())
    }

    /// The item with `code`, as the list holds it.
    pub fn price_item(&self, code: &str) -> ClinicResult<PriceItem> {
        let code = normalize_code(code).map_err(|e| ClinicError::field("code", e))?;
        let db = self.ws.store()?.db();
        let tenant = db.tenant()?.id;
        db.price_item(PriceItem::id_for(tenant, &code))?
            .ok_or_else(|| {
                ClinicError::new(
                    ErrorCode::NotFound,
                    format!("{code} is not in the price list."),
                )
            })
    }

    /// Adds an item to the price list.
    pub fn add_price(&mut self, p: NewPrice) -> ClinicResult<PriceView> {
        let (s, now) = self.ws.act(Module::Admin, Action::Create)?;
        let today = self.today(now)?;
        let digits = self.settings()?.minor_digits();
        let code = normalize_code(&p.code).map_err(|e| ClinicError::field("code", e))?;
        let price =
            parse_amount(&p.price, digits, true).map_err(|e| ClinicError::field("price", e))?;
        let tax_rate = parse_percent(&p.tax_rate).map_err(|e| ClinicError::field("tax_rate", e))?;
        let tenant = self.ws.store()?.db().tenant()?.id;
        let id = PriceItem::id_for(tenant, &code);
        if self.ws.store()?.db().price_item(id)?.is_some() {
            return Err(ClinicError::conflict(format!(
                "{code} is already in the price list; change its price instead."
            )));
        }
        let item = PriceItem {
            id,
            tenant_id: tenant,
            code: code.clone(),
            name: p.name.trim().to_string(),
            kind: p.kind,
            appointment_type: p.appointment_type.filter(|t| !t.trim().is_empty()),
            sku: p.sku.filter(|t| !t.trim().is_empty()),
            prices: vec![PriceVersion {
                from: p.from.unwrap_or(today),
                price,
                tax_rate,
            }],
            active: true,
            updated_at: now,
        };
        item.validate(digits)?;
        let c = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(AddPriceItem { item })),
            |_| {
                vec![price_audit(
                    "price.add",
                    id,
                    json!({"code": code, "price": price}),
                )]
            },
        )?;
        Ok(price_view(c.after::<PriceItem>(id)?, today))
    }

    /// A new price (and tax rate) for an item from a date, or its name,
    /// appointment type or whether it is offered.
    pub fn change_price(
        &mut self,
        code: &str,
        mut change: ChangePriceItem,
        price: Option<(&str, &str, Option<NaiveDate>)>,
    ) -> ClinicResult<PriceView> {
        let (s, now) = self.ws.act(Module::Admin, Action::Edit)?;
        let today = self.today(now)?;
        let digits = self.settings()?.minor_digits();
        let item = self.price_item(code)?;
        change.item = item.id;
        if let Some((p, t, from)) = price {
            change.price = Some(PriceVersion {
                from: from.unwrap_or(today),
                price: parse_amount(p, digits, true).map_err(|e| ClinicError::field("price", e))?,
                tax_rate: parse_percent(t).map_err(|e| ClinicError::field("tax_rate", e))?,
            });
        }
        let id = item.id;
        let c = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(change)),
            |_| vec![price_audit("price.change", id, json!({"code": item.code}))],
        )?;
        Ok(price_view(c.after::<PriceItem>(id)?, today))
    }
}

fn price_audit(action: &'static str, id: Uuid, details: serde_json::Value) -> AuditEntry {
    AuditEntry {
        action,
        entity_type: PriceItem::KIND,
        entity_id: Some(id),
        patient_id: None,
        details,
    }
}

fn price_view(i: PriceItem, today: NaiveDate) -> PriceView {
    let now = i.price_on(today).cloned();
    PriceView {
        id: i.id,
        code: i.code,
        name: i.name,
        kind: i.kind,
        appointment_type: i.appointment_type,
        sku: i.sku,
        price: now.as_ref().map(|v| v.price),
        tax_rate: now.as_ref().map(|v| v.tax_rate),
        active: i.active,
        prices: i.prices,
    }
}

/// Reads `percent` as typed, or zero.
pub(crate) fn percent_or_zero(text: Option<&str>, field: &str) -> ClinicResult<Decimal> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(Decimal::ZERO),
        Some(t) => parse_percent(t).map_err(|e| ClinicError::field(field, e)),
    }
}
