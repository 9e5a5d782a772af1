//! Storage of inventory: items, lots and the movement ledger in tables of
//! their own; on-hand per lot and site in `stock_onhand`, kept by triggers
//! from the ledger (see the migration) and only read here. Categories,
//! suppliers, purchase orders, transfers and stocktakes are documents in
//! `records`.

use crate::{ts, Db, StoreResult};
use clinic_core::inventory::{
    PurchaseOrder, StockBatch, StockCategory, StockItem, StockMovement, StockTransfer, Stocktake,
    Supplier,
};
use clinic_core::ClinicError;
use rusqlite::params;
use rust_decimal::Decimal;
use std::str::FromStr;
use uuid::Uuid;

/// One lot's on-hand at one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnHand {
    pub item_id: Uuid,
    pub batch_id: Uuid,
    pub site_id: Uuid,
    pub quantity: i64,
}

/// A lot of an item with what is on hand of it at one site.
#[derive(Debug, Clone, PartialEq)]
pub struct LotStock {
    pub batch: StockBatch,
    pub quantity: i64,
}

/// An item as a site's stock list shows it: the item's listed fields,
/// its on-hand there (summed over its lots) and the first expiry among its
/// lots with stock there.
#[derive(Debug, Clone, PartialEq)]
pub struct StockRow {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub category_id: Option<Uuid>,
    pub reorder_point: i64,
    pub prescription_required: bool,
    pub discontinued: bool,
    pub on_hand: i64,
    pub next_expiry: Option<chrono::NaiveDate>,
}

/// Which items a list shows.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// Part of the SKU, name or barcode.
    pub text: Option<String>,
    pub category: Option<Uuid>,
    pub include_discontinued: bool,
    pub limit: u32,
}

/// Each item's on-hand at a site and the first expiry among its lots with
/// stock there (see [`Db::stock_rows`]): ?1 site. The on-hand from the
/// covering index `stock_onhand_site`; a lot's expiry is looked up only for
/// lots with stock.
const SQL_SITE_STOCK: &str = "SELECT o.item_id, sum(o.quantity),
        min(CASE WHEN o.quantity > 0 THEN (SELECT b.expiry FROM stock_batches b WHERE b.id = o.batch_id) END)
 FROM stock_onhand o WHERE o.site_id = ?1 GROUP BY o.item_id";

/// The items a stock list shows (see [`Db::stock_rows`]): ?1 text (LIKE
/// pattern), ?2 category, ?3 discontinued too. In table order: sorted by
/// the caller (through the name index, each row would be a seek).
const SQL_STOCK_ITEMS: &str =
    "SELECT i.id, i.sku, i.name, i.doc, i.category_id, i.reorder_point, i.discontinued
 FROM stock_items i
 WHERE (?1 IS NULL OR i.sku LIKE ?1 OR i.name LIKE ?1 OR i.barcode LIKE ?1)
   AND (?2 IS NULL OR i.category_id = ?2)
   AND (?3 OR i.discontinued = 0)
 ";

/// One item's on-hand at a site: ?1 site, ?2 item.
const SQL_ITEM_TOTAL: &str =
    "SELECT coalesce(sum(quantity), 0) FROM stock_onhand WHERE site_id = ?1 AND item_id = ?2";

/// An item document's `unit` and `prescription_required`, the two listed
/// fields that have no column. The document is written by
/// [`Db::put_stock_item`] (serde, top-level keys only, no nesting), so each
/// key is found as written and only its value is decoded; anything else
/// falls back to decoding the whole item. (Four times cheaper than
/// SQLite's `json_extract`, which parses the whole document.)
fn listed_fields(doc: &str) -> StoreResult<(String, bool)> {
    use serde::Deserialize;
    // Where `key`'s value starts, looking from `from` on.
    let value = |from: usize, key: &str| {
        doc.get(from..)
            .and_then(|d| d.find(key))
            .map(|at| from + at + key.len())
    };
    let u = value(0, "\"unit\":");
    let unit = u.and_then(|at| {
        String::deserialize(&mut serde_json::Deserializer::from_str(&doc[at..])).ok()
    });
    // Written after `unit`.
    let key = "\"prescription_required\":";
    let rx = value(u.unwrap_or(0), key)
        .or_else(|| value(0, key))
        .and_then(|at| match doc.as_bytes().get(at) {
            Some(b't') => Some(true),
            Some(b'f') => Some(false),
            _ => None,
        });
    match (unit, rx) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => {
            let i: StockItem = serde_json::from_str(doc)?;
            Ok((i.unit, i.prescription_required))
        }
    }
}

fn uuid_col(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Uuid> {
    Ok(crate::parse_uuid(&r.get::<_, String>(i)?))
}

impl Db<'_> {
    pub fn put_stock_item(&self, i: &StockItem) -> StoreResult<()> {
        let doc = serde_json::to_string(i).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO stock_items (id, tenant_id, sku, barcode, name, category_id, reorder_point,
                     discontinued, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, barcode = excluded.barcode,
                     name = excluded.name, category_id = excluded.category_id,
                     reorder_point = excluded.reorder_point, discontinued = excluded.discontinued,
                     doc = excluded.doc",
            )?
            .execute(params![
                i.id.to_string(),
                i.tenant_id.to_string(),
                i.sku,
                i.barcode,
                i.name,
                i.category_id.map(|c| c.to_string()),
                i.reorder_point,
                i.discontinued,
                doc,
            ])?;
        Ok(())
    }

    pub fn stock_item(&self, id: Uuid) -> StoreResult<Option<StockItem>> {
        self.doc(
            "SELECT doc FROM stock_items WHERE id = ?1",
            &[&id.to_string()],
        )
    }

    /// The item a SKU or a scanned barcode names.
    pub fn stock_item_by_code(&self, code: &str) -> StoreResult<Option<StockItem>> {
        let c = code.trim();
        self.doc(
            "SELECT doc FROM stock_items WHERE sku = ?1 OR barcode = ?2 ORDER BY sku = ?1 DESC LIMIT 1",
            &[&c.to_uppercase(), &c],
        )
    }

    /// Items by name.
    pub fn stock_items(&self, f: &ItemFilter) -> StoreResult<Vec<StockItem>> {
        let like = f
            .text
            .as_ref()
            .map(|t| format!("%{}%", t.trim().replace(['%', '_'], "")));
        self.docs(
            "SELECT doc FROM stock_items
             WHERE (?1 IS NULL OR sku LIKE ?1 OR name LIKE ?1 OR barcode LIKE ?1)
               AND (?2 IS NULL OR category_id = ?2)
               AND (?3 OR discontinued = 0)
             ORDER BY name COLLATE NOCASE, sku LIMIT ?4",
            &[
                &like,
                &f.category.map(|c| c.to_string()),
                &f.include_discontinued,
                &f.limit.max(1),
            ],
        )
    }

    /// The stock list of `site`: the items `f` selects, in its order, each
    /// with its on-hand there and first expiry. Two statements joined here
    /// (one over the site's on-hand, one over the items' typed columns; no
    /// item or lot document decoded): SQLite's own join of the two costs
    /// more than both (an automatic index over the aggregate each time).
    pub fn stock_rows(&self, site: Uuid, f: &ItemFilter) -> StoreResult<Vec<StockRow>> {
        fn text<'r>(r: &'r rusqlite::Row, i: usize) -> rusqlite::Result<&'r str> {
            Ok(r.get_ref(i)?.as_str()?)
        }
        fn opt_text<'r>(r: &'r rusqlite::Row, i: usize) -> rusqlite::Result<Option<&'r str>> {
            Ok(r.get_ref(i)?.as_str_or_null()?)
        }
        let mut here: std::collections::HashMap<Uuid, (i64, Option<chrono::NaiveDate>)> =
            std::collections::HashMap::new();
        {
            let mut st = self.conn.prepare_cached(SQL_SITE_STOCK)?;
            let mut rows = st.query([site.to_string()])?;
            while let Some(r) = rows.next()? {
                let expiry = match opt_text(r, 2)? {
                    Some(d) => d.parse().ok(),
                    None => None,
                };
                here.insert(crate::parse_uuid(text(r, 0)?), (r.get(1)?, expiry));
            }
        }
        let like = f
            .text
            .as_ref()
            .map(|t| format!("%{}%", t.trim().replace(['%', '_'], "")));
        let mut st = self.conn.prepare_cached(SQL_STOCK_ITEMS)?;
        let mut rows = st.query(params![
            like,
            f.category.map(|c| c.to_string()),
            f.include_discontinued,
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id = crate::parse_uuid(text(r, 0)?);
            let (on_hand, next_expiry) = here.get(&id).copied().unwrap_or((0, None));
            let (unit, prescription_required) = listed_fields(text(r, 3)?)?;
            out.push(StockRow {
                id,
                sku: r.get(1)?,
                name: r.get(2)?,
                unit,
                category_id: opt_text(r, 4)?.map(crate::parse_uuid),
                reorder_point: r.get(5)?,
                prescription_required,
                discontinued: r.get(6)?,
                on_hand,
                next_expiry,
            });
        }
        // By name as SQLite's NOCASE orders it (ASCII letters folded), then
        // SKU (unique).
        out.sort_by_cached_key(|r| (r.name.to_ascii_lowercase(), r.sku.clone()));
        out.truncate(f.limit.max(1) as usize);
        Ok(out)
    }

    /// `EXPLAIN QUERY PLAN` of the stock list's two statements and of one
    /// item's on-hand (what a dispense reads after it), for tests that
    /// guard against a plan regressing to a scan of every lot or item.
    #[doc(hidden)]
    pub fn inventory_query_plans(&self) -> StoreResult<Vec<(&'static str, String)>> {
        use rusqlite::types::Value as V;
        let id = || V::Text(Uuid::nil().to_string());
        self.query_plans([
            ("site stock", SQL_SITE_STOCK, vec![id()]),
            (
                "stock items",
                SQL_STOCK_ITEMS,
                vec![V::Null, V::Null, V::Integer(1)],
            ),
            ("item total", SQL_ITEM_TOTAL, vec![id(), id()]),
        ])
    }

    pub fn stock_item_count(&self) -> StoreResult<i64> {
        Ok(self.query_row("SELECT count(*) FROM stock_items", [], |r| r.get(0))?)
    }

    pub fn put_batch(&self, b: &StockBatch) -> StoreResult<()> {
        let doc = serde_json::to_string(b).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO stock_batches (id, tenant_id, item_id, lot, expiry, unit_cost, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET expiry = excluded.expiry,
                     unit_cost = excluded.unit_cost, doc = excluded.doc",
            )?
            .execute(params![
                b.id.to_string(),
                b.tenant_id.to_string(),
                b.item_id.to_string(),
                b.lot,
                b.expiry.map(|d| d.to_string()),
                b.unit_cost.to_string(),
                doc,
            ])?;
        Ok(())
    }

    pub fn batch(&self, id: Uuid) -> StoreResult<Option<StockBatch>> {
        self.doc(
            "SELECT doc FROM stock_batches WHERE id = ?1",
            &[&id.to_string()],
        )
    }

    /// An item's lots with what is on hand of each at `site`, first
    /// expiry first (lots without expiry last), then by lot.
    pub fn lots_at(&self, item: Uuid, site: Uuid) -> StoreResult<Vec<LotStock>> {
        let mut st = self.conn.prepare_cached(
            "SELECT b.doc, coalesce(o.quantity, 0) FROM stock_batches b
             LEFT JOIN stock_onhand o ON o.batch_id = b.id AND o.site_id = ?2
             WHERE b.item_id = ?1
             ORDER BY b.expiry IS NULL, b.expiry, b.lot",
        )?;
        let rows = st
            .query_map(params![item.to_string(), site.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(d, q)| {
                Ok(LotStock {
                    batch: serde_json::from_str(&d)?,
                    quantity: q,
                })
            })
            .collect()
    }

    pub fn put_movement(&self, m: &StockMovement) -> StoreResult<()> {
        let doc = serde_json::to_string(m).map_err(ClinicError::internal)?;
        self.conn
            .prepare_cached(
                "INSERT INTO stock_movements (id, tenant_id, item_id, batch_id, site_id, kind, quantity,
                     on_day, at, prescription_id, invoice_id, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (id) DO UPDATE SET quantity = excluded.quantity, at = excluded.at,
                     doc = excluded.doc",
            )?
            .execute(params![
                m.id.to_string(),
                m.tenant_id.to_string(),
                m.item_id.to_string(),
                m.batch_id.to_string(),
                m.site_id.to_string(),
                m.kind.as_str(),
                m.quantity,
                m.on.to_string(),
                ts(m.at),
                m.prescription_id.map(|p| p.to_string()),
                m.invoice_id.map(|p| p.to_string()),
                doc,
            ])?;
        Ok(())
    }

    pub fn movement(&self, id: Uuid) -> StoreResult<Option<StockMovement>> {
        self.doc(
            "SELECT doc FROM stock_movements WHERE id = ?1",
            &[&id.to_string()],
        )
    }

    /// An item's ledger, newest first.
    pub fn item_movements(&self, item: Uuid, limit: u32) -> StoreResult<Vec<StockMovement>> {
        self.docs(
            "SELECT doc FROM stock_movements WHERE item_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
            &[&item.to_string(), &limit.max(1)],
        )
    }

    /// One lot's ledger at one site, oldest first.
    pub fn lot_movements(&self, batch: Uuid, site: Uuid) -> StoreResult<Vec<StockMovement>> {
        self.docs(
            "SELECT doc FROM stock_movements WHERE batch_id = ?1 AND site_id = ?2 ORDER BY at, id",
            &[&batch.to_string(), &site.to_string()],
        )
    }

    /// What was dispensed against a prescription.
    pub fn prescription_movements(&self, prescription: Uuid) -> StoreResult<Vec<StockMovement>> {
        self.docs(
            "SELECT doc FROM stock_movements WHERE prescription_id = ?1 ORDER BY at, id",
            &[&prescription.to_string()],
        )
    }

    /// What an invoice sold from stock.
    pub fn invoice_movements(&self, invoice: Uuid) -> StoreResult<Vec<StockMovement>> {
        self.docs(
            "SELECT doc FROM stock_movements WHERE invoice_id = ?1 ORDER BY at, id",
            &[&invoice.to_string()],
        )
    }

    pub fn movement_count(&self) -> StoreResult<i64> {
        Ok(self.query_row("SELECT count(*) FROM stock_movements", [], |r| r.get(0))?)
    }

    fn onhand_rows(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> StoreResult<Vec<OnHand>> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st
            .query_map(args, |r| {
                Ok(OnHand {
                    item_id: uuid_col(r, 0)?,
                    batch_id: uuid_col(r, 1)?,
                    site_id: uuid_col(r, 2)?,
                    quantity: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// On-hand of every lot at `site` (`None`: every site).
    pub fn onhand(&self, site: Option<Uuid>) -> StoreResult<Vec<OnHand>> {
        self.onhand_rows(
            "SELECT item_id, batch_id, site_id, quantity FROM stock_onhand
             WHERE ?1 IS NULL OR site_id = ?1 ORDER BY item_id, batch_id, site_id",
            &[&site.map(|s| s.to_string())],
        )
    }

    /// On-hand of one item's lots at every site.
    pub fn item_onhand(&self, item: Uuid) -> StoreResult<Vec<OnHand>> {
        self.onhand_rows(
            "SELECT item_id, batch_id, site_id, quantity FROM stock_onhand
             WHERE item_id = ?1 ORDER BY site_id, batch_id",
            &[&item.to_string()],
        )
    }

    /// Each item's total on-hand at `site` (items with no lot there are
    /// absent).
    pub fn item_totals(&self, site: Uuid) -> StoreResult<Vec<(Uuid, i64)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT item_id, sum(quantity) FROM stock_onhand WHERE site_id = ?1 GROUP BY item_id",
        )?;
        let rows = st
            .query_map([site.to_string()], |r| Ok((uuid_col(r, 0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// One item's total on-hand at `site` (its lots summed; 0 when it has
    /// none there): an index range of `stock_onhand_site`.
    pub fn item_total(&self, item: Uuid, site: Uuid) -> StoreResult<i64> {
        Ok(
            self.query_row(SQL_ITEM_TOTAL, [site.to_string(), item.to_string()], |r| {
                r.get(0)
            })?,
        )
    }

    /// Lots below zero anywhere (after two desks gave out the same stock).
    pub fn negative_onhand(&self) -> StoreResult<Vec<OnHand>> {
        self.onhand_rows(
            "SELECT item_id, batch_id, site_id, quantity FROM stock_onhand
             WHERE quantity < 0 ORDER BY item_id, batch_id, site_id",
            &[],
        )
    }

    /// Lots with stock at `site` (every site: `None`) expiring on or
    /// before `until`, soonest first, with their on-hand.
    pub fn expiring(
        &self,
        site: Option<Uuid>,
        until: chrono::NaiveDate,
    ) -> StoreResult<Vec<(StockBatch, OnHand)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT b.doc, o.item_id, o.batch_id, o.site_id, o.quantity
             FROM stock_batches b JOIN stock_onhand o ON o.batch_id = b.id
             WHERE b.expiry IS NOT NULL AND b.expiry <= ?1 AND o.quantity > 0
               AND (?2 IS NULL OR o.site_id = ?2)
             ORDER BY b.expiry, b.lot",
        )?;
        let rows = st
            .query_map(
                params![until.to_string(), site.map(|s| s.to_string())],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        OnHand {
                            item_id: uuid_col(r, 1)?,
                            batch_id: uuid_col(r, 2)?,
                            site_id: uuid_col(r, 3)?,
                            quantity: r.get(4)?,
                        },
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(d, o)| Ok((serde_json::from_str(&d)?, o)))
            .collect()
    }

    /// (on-hand, unit cost) of every lot with stock at `site`: what
    /// valuation multiplies.
    pub fn lot_costs(&self, site: Option<Uuid>) -> StoreResult<Vec<(Uuid, i64, Decimal)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT o.item_id, o.quantity, b.unit_cost FROM stock_onhand o
             JOIN stock_batches b ON b.id = o.batch_id
             WHERE o.quantity <> 0 AND (?1 IS NULL OR o.site_id = ?1)",
        )?;
        let rows = st
            .query_map([site.map(|s| s.to_string())], |r| {
                Ok((uuid_col(r, 0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .map(|(i, q, c)| (i, q, Decimal::from_str(&c).unwrap_or_default()))
            .collect())
    }

    /// (id, reorder point) of every item that has one, not discontinued.
    pub fn reorder_points(&self) -> StoreResult<Vec<(Uuid, i64)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, reorder_point FROM stock_items WHERE reorder_point > 0 AND discontinued = 0",
        )?;
        let rows = st
            .query_map([], |r| Ok((uuid_col(r, 0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn stock_categories(&self) -> StoreResult<Vec<StockCategory>> {
        let mut v: Vec<StockCategory> = self.documents()?;
        v.sort_by_key(|c| c.name.to_lowercase());
        Ok(v)
    }

    pub fn suppliers(&self) -> StoreResult<Vec<Supplier>> {
        let mut v: Vec<Supplier> = self.documents()?;
        v.sort_by_key(|c| c.name.to_lowercase());
        Ok(v)
    }

    /// Purchase orders, newest first.
    pub fn purchase_orders(&self) -> StoreResult<Vec<PurchaseOrder>> {
        let mut v: Vec<PurchaseOrder> = self.documents()?;
        v.sort_by(|a, b| b.number.cmp(&a.number));
        Ok(v)
    }

    /// Transfers, newest first.
    pub fn stock_transfers(&self) -> StoreResult<Vec<StockTransfer>> {
        let mut v: Vec<StockTransfer> = self.documents()?;
        v.sort_by_key(|t| std::cmp::Reverse(t.sent_at));
        Ok(v)
    }

    /// Stocktakes, newest first.
    pub fn stocktakes(&self) -> StoreResult<Vec<Stocktake>> {
        let mut v: Vec<Stocktake> = self.documents()?;
        v.sort_by_key(|t| std::cmp::Reverse(t.started_at));
        Ok(v)
    }
}

use crate::records::table_projection;

table_projection!(
    ItemProjection,
    ITEMS,
    StockItem,
    "stock_items",
    stock_item,
    put_stock_item
);
table_projection!(
    BatchProjection,
    BATCHES,
    StockBatch,
    "stock_batches",
    batch,
    put_batch
);
table_projection!(
    MovementProjection,
    MOVEMENTS,
    StockMovement,
    "stock_movements",
    movement,
    put_movement
);
