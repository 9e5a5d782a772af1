//! The price list: services (linked to appointment types) and sellable
//! stock items (by SKU), each with prices and tax rates valid from a date.
//!
//! An item's id derives from its code, so two desks adding the same code
//! offline name one record: the second addition meets the first and is
//! refused (kept, shown) instead of making a duplicate.

use super::money::{check_amount, check_percent, RULE_DIGITS};
use super::settings::derived_id;
use crate::error::{ClinicError, ClinicResult, FieldErrors, Invalid};
use crate::permissions::{Action, Module, Permission};
use crate::sync::{Applied, Context, Merge, MutationKind, RecordKind, Records};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PriceKind {
    #[default]
    Service,
    StockItem,
}

/// A price and its tax rate from a date (until the next version's date).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PriceVersion {
    pub from: NaiveDate,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub price: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub tax_rate: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PriceItem {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// What people type ("CONS30"): capitals, digits, `-`, `_`, `.`.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub kind: PriceKind,
    /// The appointment type it is charged for (drafts of invoices for a
    /// completed appointment of that type offer it).
    #[serde(default)]
    pub appointment_type: Option<String>,
    /// The stock item's SKU, for items sold from stock.
    #[serde(default)]
    pub sku: Option<String>,
    /// Oldest first; each applies from its date until the next one's.
    pub prices: Vec<PriceVersion>,
    #[serde(default = "yes")]
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

impl RecordKind for PriceItem {
    const KIND: &'static str = "price_item";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

/// A price-list code as people type it, made canonical (upper case).
pub fn normalize_code(code: &str) -> Result<String, Invalid> {
    let c = code.trim().to_uppercase();
    if c.is_empty()
        || c.chars().count() > 20
        || !c
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
    {
        return Err(Invalid::new(
            "must be 1 to 20 letters, digits, '-', '_' or '.' (e.g. CONS30)",
        ));
    }
    Ok(c)
}

impl PriceItem {
    /// The id of the item with `code` in `tenant`'s price list.
    pub fn id_for(tenant: Uuid, code: &str) -> Uuid {
        derived_id(tenant, &format!("price:{}", code.to_uppercase()))
    }

    /// The price valid on `date` (`None`: none yet).
    pub fn price_on(&self, date: NaiveDate) -> Option<&PriceVersion> {
        self.prices.iter().rev().find(|v| v.from <= date)
    }

    /// Checks the item, its prices with at most `digits` decimals (the
    /// currency's, where it is known; [`RULE_DIGITS`] in the rules).
    pub fn validate(&self, digits: u32) -> ClinicResult<()> {
        let mut errs = FieldErrors::default();
        if let Err(e) = normalize_code(&self.code) {
            errs.add("code", e);
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            errs.add("name", "is required (at most 200 characters)");
        }
        for (field, v) in [
            ("appointment_type", &self.appointment_type),
            ("sku", &self.sku),
        ] {
            if v.as_ref().is_some_and(|x| x.chars().count() > 60) {
                errs.add(field, "must be at most 60 characters");
            }
        }
        if self.prices.is_empty() || self.prices.len() > 100 {
            errs.add("price", "an item has 1 to 100 prices");
        }
        for v in &self.prices {
            if let Err(e) = check_amount(v.price, digits, true) {
                errs.add("price", e);
            }
            if let Err(e) = check_percent(v.tax_rate) {
                errs.add("tax_rate", e);
            }
        }
        if self.prices.windows(2).any(|w| w[0].from >= w[1].from) {
            errs.add("from", "prices must be in date order, one per date");
        }
        errs.into_result()
    }
}

fn price_list(action: Action) -> Permission {
    // Prices are the clinic's configuration: whoever may change settings.
    Permission::new(Module::Admin, action)
}

/// Adds an item to the price list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddPriceItem {
    pub item: PriceItem,
}

impl MutationKind for AddPriceItem {
    const NAME: &'static str = "add_price_item";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.item.id]
    }

    fn permission(&self) -> Permission {
        price_list(Action::Create)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut item = self.item.clone();
        item.code = normalize_code(&item.code).map_err(|e| ClinicError::field("code", e))?;
        if item.id != PriceItem::id_for(cx.tenant, &item.code) {
            return Err(ClinicError::field("id", "does not match the code"));
        }
        if let Some(existing) = recs.get::<PriceItem>(item.id) {
            if existing.name == item.name && existing.prices == item.prices {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(format!(
                "The price list already has {} ({}).",
                existing.code, existing.name
            )));
        }
        item.name = item.name.trim().to_string();
        item.validate(RULE_DIGITS)?;
        item.tenant_id = cx.tenant;
        item.updated_at = cx.at;
        recs.put(item);
        Ok(Applied::one(self.item.id))
    }
}

/// Changes an item: a new price from a date (replacing one from the same
/// date), its name, appointment type or whether it is still offered.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangePriceItem {
    pub item: Uuid,
    pub name: Option<String>,
    pub price: Option<PriceVersion>,
    /// `Some(None)` unlinks it from any appointment type.
    pub appointment_type: Option<Option<String>>,
    pub active: Option<bool>,
}

impl MutationKind for ChangePriceItem {
    const NAME: &'static str = "change_price_item";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.item]
    }

    fn permission(&self) -> Permission {
        price_list(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut item = recs
            .get::<PriceItem>(self.item)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Price-list item"))?;
        if let Some(n) = &self.name {
            item.name = n.trim().to_string();
        }
        if let Some(v) = &self.price {
            item.prices.retain(|p| p.from != v.from);
            item.prices.push(v.clone());
            item.prices.sort_by_key(|p| p.from);
        }
        if let Some(t) = &self.appointment_type {
            item.appointment_type = t.clone();
        }
        if let Some(a) = self.active {
            item.active = a;
        }
        item.validate(RULE_DIGITS)?;
        item.updated_at = cx.at;
        recs.put(item);
        Ok(Applied::one(self.item))
    }
}
