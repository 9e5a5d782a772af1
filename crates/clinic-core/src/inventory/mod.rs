//! Inventory: the catalogue (categories, suppliers, items), stock as an
//! insert-only ledger of movements per item, lot and site (on-hand is
//! their sum), purchase orders received into lots, transfers between
//! sites, and stocktakes whose corrections add up with whatever other
//! desks did meanwhile.
//!
//! Valuation is by lot cost: each lot carries what it cost (the weighted
//! average of its receipts, nearly always one), stock is worth on-hand ×
//! its lot's cost, and dispensing first-expiry-first-out makes the oldest
//! costs leave first.

pub mod catalogue;
pub mod ledger;
pub mod orders;
pub mod stocktake;

pub use catalogue::*;
pub use ledger::*;
pub use orders::*;
pub use stocktake::*;

use crate::permissions::{Action, Module, Permission};
use crate::sync::{NumberSeries, Registry};

pub(crate) fn inventory(action: Action) -> Permission {
    Permission::new(Module::Inventory, action)
}

fn format_po(v: u64) -> String {
    format!("PO-{v:06}")
}

fn parse_po(t: &str) -> Option<u64> {
    let t = t.trim();
    let head = t.get(..3)?;
    if !head.eq_ignore_ascii_case("PO-") {
        return None;
    }
    let digits = &t[3..];
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|v| *v > 0)
}

/// Purchase order numbers: `PO-000012`, unique per tenant, issued offline.
pub const PURCHASE_ORDER_NUMBERS: NumberSeries = NumberSeries {
    name: "purchase_order",
    lease: 100,
    low_water: 20,
    format: format_po,
    parse: parse_po,
};

pub fn register(r: &mut Registry) {
    r.record::<StockCategory>()
        .record::<Supplier>()
        .record::<StockItem>()
        .record::<StockBatch>()
        .record::<StockMovement>()
        .record::<StockTransfer>()
        .record::<PurchaseOrder>()
        .record::<Stocktake>()
        .series(PURCHASE_ORDER_NUMBERS)
        .mutation::<AddStockItem>()
        .mutation::<ChangeStockItem>()
        .mutation::<ReceiveStock>()
        .mutation::<DispenseStock>()
        .mutation::<AdjustStock>()
        .mutation::<SendTransfer>()
        .mutation::<ReceiveTransfer>()
        .mutation::<CreatePurchaseOrder>()
        .mutation::<ChangeOrderStatus>()
        .mutation::<StartStocktake>()
        .mutation::<CountStock>()
        .mutation::<PostStocktake>();
}

#[cfg(test)]
mod tests;
