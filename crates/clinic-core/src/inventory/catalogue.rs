//! The catalogue: nested categories, suppliers, and stock items.
//!
//! An item's id derives from its SKU, so two desks adding the same SKU
//! offline name one record: the second addition meets the first and is
//! refused (kept, shown) instead of making a duplicate.

use super::inventory;
use crate::billing::derived_id;
use crate::billing::money::{check_amount, check_percent};
use crate::error::{ClinicError, ClinicResult, FieldErrors, Invalid};
use crate::permissions::Action;
use crate::sync::{Applied, Context, Merge, MutationKind, RecordKind, Records};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Unit costs and prices carry at most this many decimals.
pub const COST_DIGITS: u32 = 4;

/// The most of anything one movement or count may move.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

fn check_text(errs: &mut FieldErrors, field: &str, v: &Option<String>, max: usize) {
    if v.as_ref().is_some_and(|x| x.chars().count() > max) {
        errs.add(field, format!("must be at most {max} characters"));
    }
}

fn check_name(errs: &mut FieldErrors, field: &str, v: &str) {
    if v.trim().is_empty() || v.chars().count() > 200 {
        errs.add(field, "is required (at most 200 characters)");
    }
}

/// A group of items ("Antibiotics" under "Medicines").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockCategory {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

impl StockCategory {
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        check_name(&mut e, "name", &self.name);
        check_text(&mut e, "description", &self.description, 500);
        if self.parent_id == Some(self.id) {
            e.add("parent", "a category is not its own parent");
        }
        e.into_result()
    }
    fn named_refs(&self) -> Vec<crate::sync::Ref> {
        self.parent_id
            .map(|p| crate::sync::Ref::to::<StockCategory>(p, "parent category"))
            .into_iter()
            .collect()
    }
}

// Whoever keeps the stock keeps its catalogue.
crate::document_kind!(
    StockCategory,
    "stock_category",
    inventory(Action::Edit),
    refs
);

/// Someone the clinic buys from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct Supplier {
    pub id: Uuid,
    pub name: String,
    pub contact_person: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub tax_id: Option<String>,
    /// "Net 30".
    pub payment_terms: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

impl Default for Supplier {
    fn default() -> Self {
        Supplier {
            id: Uuid::nil(),
            name: String::new(),
            contact_person: None,
            email: None,
            phone: None,
            address: None,
            tax_id: None,
            payment_terms: None,
            active: true,
        }
    }
}

impl Supplier {
    pub fn validate(&self) -> ClinicResult<()> {
        let mut e = FieldErrors::default();
        check_name(&mut e, "name", &self.name);
        for (f, v, max) in [
            ("contact_person", &self.contact_person, 200),
            ("email", &self.email, 200),
            ("phone", &self.phone, 40),
            ("address", &self.address, 500),
            ("tax_id", &self.tax_id, 60),
            ("payment_terms", &self.payment_terms, 100),
        ] {
            check_text(&mut e, f, v, max);
        }
        if let Some(m) = self.email.as_deref().filter(|m| !m.is_empty()) {
            if crate::patients::validate_email(m).is_err() {
                e.add("email", "is not an e-mail address");
            }
        }
        e.into_result()
    }
}

crate::document_kind!(Supplier, "supplier", inventory(Action::Edit));

fn yes() -> bool {
    true
}

/// Something the clinic keeps in stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockItem {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// What people type or scan ("AMOX500"): capitals, digits, `-_./`.
    pub sku: String,
    #[serde(default)]
    pub barcode: Option<String>,
    pub name: String,
    #[serde(default)]
    pub generic_name: Option<String>,
    #[serde(default)]
    pub brand_name: Option<String>,
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub category_id: Option<Uuid>,
    /// "box", "tablet", "ml".
    pub unit: String,
    #[serde(default = "one")]
    pub pack_size: u32,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub purchase_price: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub sale_price: Decimal,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub tax_rate: Decimal,
    #[serde(default)]
    pub min_stock: i64,
    #[serde(default)]
    pub max_stock: Option<i64>,
    /// Below this on-hand at a site, the item shows as low.
    #[serde(default)]
    pub reorder_point: i64,
    /// Stock is kept by lot (receiving names a lot).
    #[serde(default)]
    pub track_batches: bool,
    /// Lots carry an expiry date (receiving needs one).
    #[serde(default)]
    pub track_expiry: bool,
    /// Dispensed only against a prescription (or with an override).
    #[serde(default)]
    pub prescription_required: bool,
    #[serde(default)]
    pub storage: Option<String>,
    #[serde(default)]
    pub discontinued: bool,
    pub updated_at: DateTime<Utc>,
}

fn one() -> u32 {
    1
}

impl RecordKind for StockItem {
    const KIND: &'static str = "stock_item";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

/// A SKU as people type it, made canonical (upper case).
pub fn normalize_sku(sku: &str) -> Result<String, Invalid> {
    let c = sku.trim().to_uppercase();
    if c.is_empty()
        || c.chars().count() > 40
        || !c
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | '/'))
    {
        return Err(Invalid::new(
            "must be 1 to 40 letters, digits, '-', '_', '.' or '/' (e.g. AMOX500)",
        ));
    }
    Ok(c)
}

impl StockItem {
    /// The id of the item with `sku` in `tenant`'s catalogue.
    pub fn id_for(tenant: Uuid, sku: &str) -> Uuid {
        derived_id(tenant, &format!("stock:{}", sku.trim().to_uppercase()))
    }

    pub fn validate(&self) -> ClinicResult<()> {
        let mut errs = FieldErrors::default();
        if let Err(e) = normalize_sku(&self.sku) {
            errs.add("sku", e);
        } else if self.sku != self.sku.trim().to_uppercase() {
            errs.add("sku", "must be in capitals");
        }
        check_name(&mut errs, "name", &self.name);
        for (f, v, max) in [
            ("barcode", &self.barcode, 60),
            ("generic_name", &self.generic_name, 200),
            ("brand_name", &self.brand_name, 200),
            ("manufacturer", &self.manufacturer, 200),
            ("storage", &self.storage, 200),
        ] {
            check_text(&mut errs, f, v, max);
        }
        if self.unit.trim().is_empty() || self.unit.chars().count() > 20 {
            errs.add("unit", "is required (at most 20 characters, e.g. box)");
        }
        if self.pack_size == 0 || self.pack_size > 100_000 {
            errs.add("pack_size", "must be 1 to 100000");
        }
        for (f, v) in [
            ("purchase_price", self.purchase_price),
            ("sale_price", self.sale_price),
        ] {
            if let Err(e) = check_amount(v, COST_DIGITS, true) {
                errs.add(f, e);
            }
        }
        if let Err(e) = check_percent(self.tax_rate) {
            errs.add("tax_rate", e);
        }
        for (f, v) in [
            ("min_stock", self.min_stock),
            ("reorder_point", self.reorder_point),
            ("max_stock", self.max_stock.unwrap_or(0)),
        ] {
            if !(0..MAX_QUANTITY).contains(&v) {
                errs.add(f, "must be a whole number from 0");
            }
        }
        if self.max_stock.is_some_and(|m| m < self.reorder_point) {
            errs.add("max_stock", "must not be below the reorder point");
        }
        if self.track_expiry && !self.track_batches {
            errs.add(
                "track_expiry",
                "expiry is kept per lot: track batches as well",
            );
        }
        errs.into_result()
    }
}

/// Adds an item to the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddStockItem {
    pub item: StockItem,
}

impl MutationKind for AddStockItem {
    const NAME: &'static str = "add_stock_item";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.item.id]
    }

    fn permission(&self) -> crate::permissions::Permission {
        inventory(Action::Create)
    }

    fn refs(&self) -> Vec<crate::sync::Ref> {
        self.item
            .category_id
            .map(|c| crate::sync::Ref::to::<StockCategory>(c, "category"))
            .into_iter()
            .collect()
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut item = self.item.clone();
        item.sku = normalize_sku(&item.sku).map_err(|e| ClinicError::field("sku", e))?;
        if item.id != StockItem::id_for(cx.tenant, &item.sku) {
            return Err(ClinicError::field("id", "does not match the SKU"));
        }
        item.tenant_id = cx.tenant;
        item.name = item.name.trim().to_string();
        if let Some(existing) = recs.get::<StockItem>(item.id) {
            let mut same = existing.clone();
            same.updated_at = item.updated_at;
            if same == item {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(format!(
                "The catalogue already has {} ({}).",
                existing.sku, existing.name
            )));
        }
        item.validate()?;
        item.updated_at = cx.at;
        recs.put(item);
        Ok(Applied::one(self.item.id))
    }
}

/// Changes an item's details (never its SKU: the id derives from it).
/// Only the fields given change, so two desks changing different fields
/// both keep theirs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangeStockItem {
    pub item: Uuid,
    pub name: Option<String>,
    pub barcode: Option<Option<String>>,
    pub generic_name: Option<Option<String>>,
    pub brand_name: Option<Option<String>>,
    pub manufacturer: Option<Option<String>>,
    pub category_id: Option<Option<Uuid>>,
    pub unit: Option<String>,
    pub pack_size: Option<u32>,
    pub purchase_price: Option<Decimal>,
    pub sale_price: Option<Decimal>,
    pub tax_rate: Option<Decimal>,
    pub min_stock: Option<i64>,
    pub max_stock: Option<Option<i64>>,
    pub reorder_point: Option<i64>,
    pub prescription_required: Option<bool>,
    pub storage: Option<Option<String>>,
    pub discontinued: Option<bool>,
}

impl MutationKind for ChangeStockItem {
    const NAME: &'static str = "change_stock_item";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.item]
    }

    fn permission(&self) -> crate::permissions::Permission {
        inventory(Action::Edit)
    }

    fn refs(&self) -> Vec<crate::sync::Ref> {
        self.category_id
            .flatten()
            .map(|c| crate::sync::Ref::to::<StockCategory>(c, "category"))
            .into_iter()
            .collect()
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut i = recs
            .get::<StockItem>(self.item)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Stock item"))?;
        fn set<T: Clone>(to: &mut T, v: &Option<T>) {
            if let Some(v) = v {
                *to = v.clone();
            }
        }
        set(
            &mut i.name,
            &self.name.as_ref().map(|n| n.trim().to_string()),
        );
        set(&mut i.barcode, &self.barcode);
        set(&mut i.generic_name, &self.generic_name);
        set(&mut i.brand_name, &self.brand_name);
        set(&mut i.manufacturer, &self.manufacturer);
        set(&mut i.category_id, &self.category_id);
        set(&mut i.unit, &self.unit);
        set(&mut i.pack_size, &self.pack_size);
        set(&mut i.purchase_price, &self.purchase_price);
        set(&mut i.sale_price, &self.sale_price);
        set(&mut i.tax_rate, &self.tax_rate);
        set(&mut i.min_stock, &self.min_stock);
        set(&mut i.max_stock, &self.max_stock);
        set(&mut i.reorder_point, &self.reorder_point);
        set(&mut i.prescription_required, &self.prescription_required);
        set(&mut i.storage, &self.storage);
        set(&mut i.discontinued, &self.discontinued);
        i.validate()?;
        i.updated_at = cx.at;
        recs.put(i);
        Ok(Applied::one(self.item))
    }
}
