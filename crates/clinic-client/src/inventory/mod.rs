//! Inventory use-cases: the catalogue (items, categories, suppliers), stock
//! received, dispensed (first expiry first out), adjusted, written off,
//! moved between lots and sites, purchase orders, stocktakes, on-hand,
//! valuation and alerts. The rules live in `clinic_core::inventory`; here
//! they meet the session, the store and the site's calendar.

pub mod demo;
pub mod orders;
pub mod stock;
pub mod stocktake;

use crate::workstation::{new_id, Session, Workstation};
use chrono::{DateTime, NaiveDate, Utc};
use clinic_core::audit::AuditEntry;
use clinic_core::billing::money::parse_percent;
use clinic_core::inventory::*;
use clinic_core::permissions::{Action, Module};
use clinic_core::sync::{Mutation, RecordKind, SaveDocument};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::directory::Site;
use clinic_store::inventory::ItemFilter;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use std::str::FromStr;
use uuid::Uuid;

/// The inventory use-cases of a workstation: `ws.inventory()`.
#[derive(Debug)]
pub struct Inventory<'w> {
    pub(crate) ws: &'w mut Workstation,
}

impl Workstation {
    pub fn inventory(&mut self) -> Inventory<'_> {
        Inventory { ws: self }
    }
}

/// A new item as typed.
#[derive(Debug, Clone, Default)]
pub struct NewItem {
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub reorder_point: i64,
    pub barcode: Option<String>,
    pub generic_name: Option<String>,
    pub brand_name: Option<String>,
    pub manufacturer: Option<String>,
    /// The category's name or id.
    pub category: Option<String>,
    pub pack_size: Option<u32>,
    pub purchase_price: Option<String>,
    pub sale_price: Option<String>,
    pub tax_rate: Option<String>,
    pub min_stock: Option<i64>,
    pub max_stock: Option<i64>,
    pub track_batches: bool,
    pub track_expiry: bool,
    pub prescription_required: bool,
    pub storage: Option<String>,
}

/// An item as the stock list shows it at one site.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ItemRow {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub category: Option<String>,
    pub on_hand: i64,
    pub reorder_point: i64,
    /// Below its reorder point here.
    pub low: bool,
    /// The first expiry among the lots with stock here.
    pub next_expiry: Option<NaiveDate>,
    pub prescription_required: bool,
    pub discontinued: bool,
}

fn opt(s: Option<String>) -> Option<String> {
    s.map(|x| x.trim().to_string()).filter(|x| !x.is_empty())
}

/// A decimal as typed (`1.23`), or zero when not given.
pub(crate) fn decimal_or_zero(text: Option<&str>, field: &str) -> ClinicResult<Decimal> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(Decimal::ZERO),
        Some(t) => {
            let d = Decimal::from_str(t).map_err(|_| {
                ClinicError::field(field, "must be an amount such as 1.25 (a dot for decimals)")
            })?;
            clinic_core::billing::money::check_amount(d, COST_DIGITS, true)
                .map_err(|e| ClinicError::field(field, e))?;
            Ok(d.normalize())
        }
    }
}

fn audit(
    action: &'static str,
    kind: &'static str,
    id: Uuid,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        action,
        entity_type: kind,
        entity_id: Some(id),
        patient_id: None,
        details,
    }
}

impl Inventory<'_> {
    pub(crate) fn act(&mut self, action: Action) -> ClinicResult<(Session, DateTime<Utc>)> {
        self.ws.act(Module::Inventory, action)
    }

    /// Today in the home site's time zone.
    pub(crate) fn today(&self, now: DateTime<Utc>) -> ClinicResult<NaiveDate> {
        let site = self.ws.home_site()?;
        let tz: chrono_tz::Tz = site.timezone.parse().unwrap_or(chrono_tz::UTC);
        Ok(now.with_timezone(&tz).date_naive())
    }

    /// The clinic's sites (the home one first).
    pub fn sites(&self) -> ClinicResult<Vec<Site>> {
        let db = self.ws.store()?.db();
        let home = crate::scheduling::home_site(&db)?;
        let mut all = db.sites()?;
        all.sort_by_key(|s| (s.id != home.id, s.name.clone()));
        Ok(all)
    }

    /// The site a name or id names (the home site when none is given).
    pub fn site(&self, text: Option<&str>) -> ClinicResult<Site> {
        let sites = self.sites()?;
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => sites
                .into_iter()
                .next()
                .ok_or_else(|| ClinicError::not_found("Site")),
            Some(t) => sites
                .into_iter()
                .find(|s| s.id.to_string() == t || s.name.eq_ignore_ascii_case(t))
                .ok_or_else(|| {
                    ClinicError::new(ErrorCode::NotFound, format!("No site is called {t}."))
                }),
        }
    }

    /// A date as the clinic writes it (its locale).
    pub(crate) fn show_date(&self, d: NaiveDate) -> String {
        let locale = self
            .ws
            .store()
            .ok()
            .and_then(|s| s.db().clinic_settings().ok())
            .map(|c| c.locale)
            .unwrap_or_default();
        clinic_core::locale::format_date(d, &locale)
    }

    /// `site`, or the home site when none is given.
    pub(crate) fn site_or_home(&self, site: Option<Uuid>) -> ClinicResult<Uuid> {
        match site {
            Some(s) => Ok(s),
            None => Ok(self.site(None)?.id),
        }
    }

    pub(crate) fn site_name(&self, id: Uuid) -> String {
        self.sites()
            .ok()
            .and_then(|s| s.into_iter().find(|s| s.id == id))
            .map(|s| s.name)
            .unwrap_or_else(|| "(unknown site)".into())
    }

    /// The item a SKU, scanned barcode or id names.
    pub fn item(&self, code: &str) -> ClinicResult<StockItem> {
        let db = self.ws.store()?.db();
        let found = match Uuid::parse_str(code.trim()) {
            Ok(id) => db.stock_item(id)?,
            Err(_) => db.stock_item_by_code(code)?,
        };
        found.ok_or_else(|| {
            ClinicError::new(
                ErrorCode::NotFound,
                format!("No stock item has the SKU or barcode {}.", code.trim()),
            )
        })
    }

    /// The category a name or id names.
    pub fn category(&self, text: &str) -> ClinicResult<StockCategory> {
        let t = text.trim();
        self.ws
            .store()?
            .db()
            .stock_categories()?
            .into_iter()
            .find(|c| c.id.to_string() == t || c.name.eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                ClinicError::new(ErrorCode::NotFound, format!("No category is called {t}."))
            })
    }

    /// The supplier a name or id names.
    pub fn supplier(&self, text: &str) -> ClinicResult<Supplier> {
        let t = text.trim();
        self.ws
            .store()?
            .db()
            .suppliers()?
            .into_iter()
            .find(|c| c.id.to_string() == t || c.name.eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                ClinicError::new(ErrorCode::NotFound, format!("No supplier is called {t}."))
            })
    }

    pub fn categories(&mut self) -> ClinicResult<Vec<StockCategory>> {
        self.act(Action::View)?;
        Ok(self.ws.store()?.db().stock_categories()?)
    }

    pub fn suppliers(&mut self) -> ClinicResult<Vec<Supplier>> {
        self.act(Action::View)?;
        Ok(self.ws.store()?.db().suppliers()?)
    }

    /// Adds a category (under a parent, by name or id).
    pub fn add_category(
        &mut self,
        name: &str,
        parent: Option<&str>,
    ) -> ClinicResult<StockCategory> {
        let (s, now) = self.act(Action::Edit)?;
        if self.category(name).is_ok() {
            return Err(ClinicError::conflict(format!(
                "There is already a category called {}.",
                name.trim()
            )));
        }
        let parent_id = match parent {
            Some(p) => Some(self.category(p)?.id),
            None => None,
        };
        let c = StockCategory {
            id: new_id(now),
            name: name.trim().to_string(),
            parent_id,
            description: None,
            active: true,
        };
        c.validate()?;
        self.save_doc(&s, now, c.clone(), "stock.category.save")?;
        Ok(c)
    }

    /// Adds or changes a supplier (whole: the record as given).
    pub fn save_supplier(&mut self, mut sup: Supplier) -> ClinicResult<Supplier> {
        let (s, now) = self.act(Action::Edit)?;
        if sup.id.is_nil() {
            if self.supplier(&sup.name).is_ok() {
                return Err(ClinicError::conflict(format!(
                    "There is already a supplier called {}.",
                    sup.name.trim()
                )));
            }
            sup.id = new_id(now);
        }
        sup.name = sup.name.trim().to_string();
        for f in [
            &mut sup.contact_person,
            &mut sup.email,
            &mut sup.phone,
            &mut sup.address,
            &mut sup.tax_id,
            &mut sup.payment_terms,
        ] {
            *f = opt(f.take());
        }
        sup.validate()?;
        self.save_doc(&s, now, sup.clone(), "stock.supplier.save")?;
        Ok(sup)
    }

    fn save_doc<T: RecordKind>(
        &mut self,
        s: &Session,
        now: DateTime<Utc>,
        doc: T,
        action: &'static str,
    ) -> ClinicResult<()> {
        let id = doc.id();
        self.ws.commit_change(
            s,
            now,
            |_| Ok(Mutation::new(SaveDocument::new(doc))),
            |_| vec![audit(action, T::KIND, id, json!({}))],
        )?;
        Ok(())
    }

    /// Adds an item to the catalogue.
    pub fn add_item(&mut self, n: NewItem) -> ClinicResult<StockItem> {
        let (s, now) = self.act(Action::Create)?;
        let sku = normalize_sku(&n.sku).map_err(|e| ClinicError::field("sku", e))?;
        let tenant = self.ws.store()?.db().tenant()?.id;
        let id = StockItem::id_for(tenant, &sku);
        if self.ws.store()?.db().stock_item(id)?.is_some() {
            return Err(ClinicError::conflict(format!(
                "{sku} is already in the catalogue; change it instead."
            )));
        }
        let category_id = match n.category.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(c) => Some(self.category(c)?.id),
            None => None,
        };
        let item = StockItem {
            id,
            tenant_id: tenant,
            sku: sku.clone(),
            barcode: opt(n.barcode),
            name: n.name.trim().to_string(),
            generic_name: opt(n.generic_name),
            brand_name: opt(n.brand_name),
            manufacturer: opt(n.manufacturer),
            category_id,
            unit: n.unit.trim().to_string(),
            pack_size: n.pack_size.unwrap_or(1),
            purchase_price: decimal_or_zero(n.purchase_price.as_deref(), "purchase_price")?,
            sale_price: decimal_or_zero(n.sale_price.as_deref(), "sale_price")?,
            tax_rate: match n
                .tax_rate
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                Some(t) => parse_percent(t).map_err(|e| ClinicError::field("tax_rate", e))?,
                None => Decimal::ZERO,
            },
            min_stock: n.min_stock.unwrap_or(0),
            max_stock: n.max_stock,
            reorder_point: n.reorder_point,
            track_batches: n.track_batches || n.track_expiry,
            track_expiry: n.track_expiry,
            prescription_required: n.prescription_required,
            storage: opt(n.storage),
            discontinued: false,
            updated_at: now,
        };
        item.validate()?;
        let c = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(AddStockItem { item })),
            |_| {
                vec![audit(
                    "stock.item.add",
                    StockItem::KIND,
                    id,
                    json!({"sku": sku}),
                )]
            },
        )?;
        Ok(c.after::<StockItem>(id)?)
    }

    /// Changes an item's details (only those given).
    pub fn change_item(
        &mut self,
        code: &str,
        mut change: ChangeStockItem,
    ) -> ClinicResult<StockItem> {
        let (s, now) = self.act(Action::Edit)?;
        let item = self.item(code)?;
        change.item = item.id;
        let id = item.id;
        let c = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(change)),
            |_| {
                vec![audit(
                    "stock.item.change",
                    StockItem::KIND,
                    id,
                    json!({"sku": item.sku}),
                )]
            },
        )?;
        Ok(c.after::<StockItem>(id)?)
    }

    /// The stock list at a site: every item (or those matching `filter`)
    /// with its on-hand there, reorder state and first expiry.
    pub fn stock_list(
        &mut self,
        site: Option<Uuid>,
        filter: &ItemFilter,
    ) -> ClinicResult<Vec<ItemRow>> {
        self.act(Action::View)?;
        let site = self.site_or_home(site)?;
        let db = self.ws.store()?.db();
        let cats: std::collections::HashMap<Uuid, String> = db
            .stock_categories()?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        // One statement: the listed fields, on-hand and first expiry (no
        // item or lot document decoded; see `Db::stock_rows`).
        Ok(db
            .stock_rows(site, filter)?
            .into_iter()
            .map(|i| ItemRow {
                id: i.id,
                low: i.reorder_point > 0 && i.on_hand < i.reorder_point && !i.discontinued,
                next_expiry: i.next_expiry,
                category: i.category_id.and_then(|c| cats.get(&c).cloned()),
                sku: i.sku,
                name: i.name,
                unit: i.unit,
                on_hand: i.on_hand,
                reorder_point: i.reorder_point,
                prescription_required: i.prescription_required,
                discontinued: i.discontinued,
            })
            .collect())
    }
}
