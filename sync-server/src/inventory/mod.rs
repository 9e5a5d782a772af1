//! Inventory in the master: the movement ledger in a table of its own; the
//! database keeps on-hand per lot and site from it and refuses any change
//! to a written movement (see the migration). Everything else of the
//! domain is documents.

use crate::billing::write_rows;
use crate::records::{BoxFuture, Projection, Written};
use crate::ServerError;
use clinic_core::inventory::StockMovement;
use clinic_core::sync::RecordKind;
use deadpool_postgres::Transaction;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug)]
pub struct MovementProjection;
pub static MOVEMENTS: MovementProjection = MovementProjection;

impl Projection for MovementProjection {
    fn kinds(&self) -> &'static [&'static str] {
        &[StockMovement::KIND]
    }

    fn select(&self) -> &'static str {
        "SELECT 'stock_movement', id, doc_hash, doc FROM stock_movements"
    }

    fn write<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), ServerError>> {
        Box::pin(async move {
            let rows = rows
                .iter()
                .filter_map(|w| {
                    let m = w.record.get::<StockMovement>()?;
                    Some(json!({
                        "id": m.id, "item_id": m.item_id, "batch_id": m.batch_id, "site_id": m.site_id,
                        "kind": m.kind.as_str(), "quantity": m.quantity, "unit_cost": m.unit_cost,
                        "on_day": m.on, "doc": w.doc, "doc_hash": w.hash,
                    }))
                })
                .collect();
            write_rows(
                tx,
                tenant,
                "INSERT INTO stock_movements (tenant_id, id, item_id, batch_id, site_id, kind, quantity,
                     unit_cost, on_day, doc, doc_hash)
                 SELECT $1, x.id, x.item_id, x.batch_id, x.site_id, x.kind, x.quantity, x.unit_cost,
                     x.on_day, x.doc, x.doc_hash
                 FROM jsonb_to_recordset($2::jsonb) AS x(id uuid, item_id uuid, batch_id uuid, site_id uuid,
                     kind text, quantity bigint, unit_cost numeric, on_day date, doc jsonb, doc_hash text)
                 ON CONFLICT (tenant_id, id) DO UPDATE SET doc = EXCLUDED.doc, doc_hash = EXCLUDED.doc_hash",
                rows,
            )
            .await
        })
    }
}
