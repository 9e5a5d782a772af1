//! Purchase orders on a desk: created under this desk's next number,
//! approved, marked sent, cancelled, and received (in parts) into lots;
//! transfers between sites.

use super::stock::LotUsed;
use super::{decimal_or_zero, Inventory};
use crate::workstation::new_id;
use chrono::NaiveDate;
use clinic_core::inventory::*;
use clinic_core::permissions::Action;
use clinic_core::sync::Mutation;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// An order with its total and what is still to come.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OrderView {
    pub order: PurchaseOrder,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub total: Decimal,
    /// Units still to come, over every line (the back-order).
    pub outstanding: i64,
    pub site_name: String,
}

/// A line received: how much of which ordered item, into which lot.
#[derive(Debug, Clone, Default)]
pub struct ReceiveLine {
    /// SKU, barcode or id (of a line of the order).
    pub item: String,
    pub quantity: i64,
    pub lot: Option<String>,
    pub expiry: Option<NaiveDate>,
    /// What one unit cost (the order's price when not given).
    pub cost: Option<String>,
}

/// A transfer with the names people read.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TransferView {
    pub transfer: StockTransfer,
    pub from_name: String,
    pub to_name: String,
    pub lots: Vec<LotUsed>,
}

impl Inventory<'_> {
    fn order_view(&self, o: PurchaseOrder) -> OrderView {
        OrderView {
            total: o.total(),
            outstanding: o.lines.iter().map(OrderLine::outstanding).sum(),
            site_name: self.site_name(o.site_id),
            order: o,
        }
    }

    /// The order an id or number names.
    pub fn resolve_order(&self, text: &str) -> ClinicResult<PurchaseOrder> {
        let t = text.trim();
        self.ws
            .store()?
            .db()
            .purchase_orders()?
            .into_iter()
            .find(|o| o.id.to_string() == t || o.number.eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                ClinicError::new(ErrorCode::NotFound, format!("No purchase order is {t}."))
            })
    }

    pub fn orders(&mut self) -> ClinicResult<Vec<OrderView>> {
        self.act(Action::View)?;
        let all = self.ws.store()?.db().purchase_orders()?;
        Ok(all.into_iter().map(|o| self.order_view(o)).collect())
    }

    pub fn order(&mut self, text: &str) -> ClinicResult<OrderView> {
        self.act(Action::View)?;
        let o = self.resolve_order(text)?;
        Ok(self.order_view(o))
    }

    /// Creates an order (waiting for approval) under this desk's next
    /// number: lines of (SKU, quantity, unit cost — the item's purchase
    /// price when not given).
    pub fn create_order(
        &mut self,
        supplier: &str,
        lines: &[(String, i64, Option<String>)],
        site: Option<Uuid>,
        expected_on: Option<NaiveDate>,
        notes: &str,
    ) -> ClinicResult<OrderView> {
        let (s, now) = self.act(Action::Create)?;
        let sup = self.supplier(supplier)?;
        let site = self.site_or_home(site)?;
        if lines.is_empty() {
            return Err(ClinicError::field(
                "line",
                "give at least one line (SKU:QTY:COST)",
            ));
        }
        let mut ol = vec![];
        for (code, qty, cost) in lines {
            let it = self.item(code)?;
            let unit_cost = match cost {
                Some(c) => decimal_or_zero(Some(c), "cost")?,
                None => it.purchase_price,
            };
            ol.push(OrderLine {
                item_id: it.id,
                sku: it.sku,
                name: it.name,
                quantity: *qty,
                unit_cost,
                received: 0,
            });
        }
        let tenant = self.ws.store()?.db().tenant()?.id;
        let id = new_id(now);
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                let number =
                    (PURCHASE_ORDER_NUMBERS.format)(db.next_number(PURCHASE_ORDER_NUMBERS.name)?);
                Ok(Mutation::new(CreatePurchaseOrder {
                    order: PurchaseOrder {
                        id,
                        tenant_id: tenant,
                        number,
                        supplier_id: sup.id,
                        supplier_name: sup.name.clone(),
                        site_id: site,
                        lines: ol,
                        status: OrderStatus::Pending,
                        expected_on,
                        notes: notes.trim().to_string(),
                        created_by: s.user_id,
                        created_at: now,
                        approved_by: None,
                        approved_at: None,
                        sent_at: None,
                        cancel_reason: None,
                        updated_at: now,
                    },
                }))
            },
            |c| {
                let number = c.after.get::<PurchaseOrder>(id).map(|o| o.number.clone());
                vec![clinic_core::audit::AuditEntry {
                    action: "purchase_order.create",
                    entity_type: "purchase_order",
                    entity_id: Some(id),
                    patient_id: None,
                    details: json!({"number": number, "supplier": sup.name}),
                }]
            },
        )?;
        Ok(self.order_view(c.after::<PurchaseOrder>(id)?))
    }

    /// Approves, marks sent or cancels an order.
    pub fn order_step(
        &mut self,
        text: &str,
        step: OrderStep,
        reason: Option<&str>,
    ) -> ClinicResult<OrderView> {
        let (s, now) = self.act(match step {
            OrderStep::Cancel => Action::Delete,
            _ => Action::Edit,
        })?;
        let o = self.resolve_order(text)?;
        let id = o.id;
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(ChangeOrderStatus {
                    order: id,
                    step,
                    reason: reason.map(str::to_string),
                }))
            },
            |_| {
                vec![clinic_core::audit::AuditEntry {
                    action: match step {
                        OrderStep::Approve => "purchase_order.approve",
                        OrderStep::MarkSent => "purchase_order.send",
                        OrderStep::Cancel => "purchase_order.cancel",
                    },
                    entity_type: "purchase_order",
                    entity_id: Some(id),
                    patient_id: None,
                    details: json!({"number": o.number, "reason": reason}),
                }]
            },
        )?;
        Ok(self.order_view(c.after::<PurchaseOrder>(id)?))
    }

    /// Receives goods against an order, each line into its lot.
    pub fn receive_order(&mut self, text: &str, lines: &[ReceiveLine]) -> ClinicResult<OrderView> {
        let (_, now) = self.act(Action::Create)?;
        let today = self.today(now)?;
        let o = self.resolve_order(text)?;
        if lines.is_empty() {
            return Err(ClinicError::field(
                "line",
                "give at least one line received (SKU:QTY)",
            ));
        }
        let mut receipts = vec![];
        for l in lines {
            let it = self.item(&l.item)?;
            // The first of the item's lines still to come (an order may list
            // an item twice), else its first line (an over-delivery).
            let index = o
                .lines
                .iter()
                .position(|x| x.item_id == it.id && x.outstanding() > 0)
                .or_else(|| o.lines.iter().position(|x| x.item_id == it.id))
                .ok_or_else(|| {
                    ClinicError::field("line", format!("{} is not on order {}", it.sku, o.number))
                })?;
            if l.quantity <= 0 {
                return Err(ClinicError::field("quantity", "must be above zero"));
            }
            let lot = normalize_lot(l.lot.as_deref().unwrap_or(""))
                .map_err(|e| ClinicError::field("lot", e))?;
            let lot = if it.track_batches { lot } else { String::new() };
            let stub = self.batch_or_stub(&it, StockBatch::id_for(it.id, &lot))?;
            let mut m = StockMovement::new(
                new_id(now),
                MovementKind::Receipt,
                &stub,
                o.site_id,
                l.quantity,
                today,
            );
            m.unit_cost = match &l.cost {
                Some(c) => decimal_or_zero(Some(c), "cost")?,
                None => o.lines[index].unit_cost,
            };
            receipts.push(Receipt {
                movement: m,
                lot,
                expiry: l.expiry,
                order_line: Some(index as u32),
            });
        }
        let detail = json!({"number": o.number, "lines": receipts.iter().map(|r| json!({"lot": r.lot, "quantity": r.movement.quantity})).collect::<Vec<_>>()});
        self.commit_movements(
            Action::Create,
            Mutation::new(ReceiveStock {
                receipts,
                supplier: Some(o.supplier_id),
                purchase_order: Some(o.id),
            }),
            "purchase_order.receive",
            None,
            detail,
        )?;
        let now_order = self.resolve_order(&o.id.to_string())?;
        Ok(self.order_view(now_order))
    }

    /// Sends stock of an item to another site (first expiry first unless
    /// a lot is chosen): out of this one now, in transit until received.
    pub fn send_transfer(
        &mut self,
        code: &str,
        quantity: i64,
        lot: Option<&str>,
        to: Uuid,
        from: Option<Uuid>,
    ) -> ClinicResult<TransferView> {
        let (s, now) = self.act(Action::Create)?;
        let today = self.today(now)?;
        let item = self.item(code)?;
        let from = self.site_or_home(from)?;
        let lots = self.ws.store()?.db().lots_at(item.id, from)?;
        let plan: Vec<(StockBatch, i64)> = match lot {
            Some(l) => vec![(self.lot(&item, Some(l))?, quantity)],
            None => super::stock::plan_fefo(&lots, quantity, today, false).map_err(|have| {
                ClinicError::new(
                    ErrorCode::ConfirmationNeeded,
                    format!(
                        "Only {have} {} of {} are on hand here (not expired).",
                        item.unit, item.sku
                    ),
                )
            })?,
        };
        let id = new_id(now);
        let lines: Vec<TransferLine> = plan
            .iter()
            .map(|(b, q)| TransferLine {
                item_id: item.id,
                batch_id: b.id,
                quantity: *q,
            })
            .collect();
        let ms: Vec<StockMovement> = plan
            .iter()
            .map(|(b, q)| {
                let mut m =
                    StockMovement::new(new_id(now), MovementKind::TransferOut, b, from, -q, today);
                m.transfer_id = Some(id);
                m
            })
            .collect();
        let tenant = self.ws.store()?.db().tenant()?.id;
        let t = StockTransfer {
            id,
            tenant_id: tenant,
            from_site: from,
            to_site: to,
            lines,
            status: TransferStatus::InTransit,
            note: None,
            sent_by: s.user_id,
            sent_at: now,
            received_by: None,
            received_at: None,
        };
        self.commit_movements(
            Action::Create,
            Mutation::new(SendTransfer {
                transfer: t,
                movements: ms,
            }),
            "stock.transfer.send",
            None,
            json!({"sku": item.sku, "quantity": quantity}),
        )?;
        self.transfer(&id.to_string())
    }

    /// A transfer by id.
    pub fn transfer(&mut self, text: &str) -> ClinicResult<TransferView> {
        self.act(Action::View)?;
        let id = Uuid::parse_str(text.trim())
            .map_err(|_| ClinicError::field("id", "is not a transfer id"))?;
        let db = self.ws.store()?.db();
        let t: StockTransfer = db
            .document(id)?
            .ok_or_else(|| ClinicError::not_found("Transfer"))?;
        let mut lots = vec![];
        for l in &t.lines {
            let b = db.batch(l.batch_id)?;
            lots.push(LotUsed {
                movement_id: Uuid::nil(),
                batch_id: l.batch_id,
                lot: b.as_ref().map(|b| b.lot.clone()).unwrap_or_default(),
                expiry: b.and_then(|b| b.expiry),
                quantity: l.quantity,
            });
        }
        Ok(TransferView {
            from_name: self.site_name(t.from_site),
            to_name: self.site_name(t.to_site),
            lots,
            transfer: t,
        })
    }

    pub fn transfers(&mut self) -> ClinicResult<Vec<TransferView>> {
        self.act(Action::View)?;
        let ids: Vec<Uuid> = self
            .ws
            .store()?
            .db()
            .stock_transfers()?
            .iter()
            .map(|t| t.id)
            .collect();
        ids.iter()
            .map(|id| self.transfer(&id.to_string()))
            .collect()
    }

    /// Receives a transfer at its destination, line for line.
    pub fn receive_transfer(&mut self, text: &str) -> ClinicResult<TransferView> {
        let (_, now) = self.act(Action::Create)?;
        let today = self.today(now)?;
        let v = self.transfer(text)?;
        let t = &v.transfer;
        if t.status == TransferStatus::Received {
            return Err(ClinicError::conflict("This transfer was already received."));
        }
        let db = self.ws.store()?.db();
        let mut ms = vec![];
        for l in &t.lines {
            let b = db
                .batch(l.batch_id)?
                .ok_or_else(|| ClinicError::not_found("Lot"))?;
            let mut m = StockMovement::new(
                new_id(now),
                MovementKind::TransferIn,
                &b,
                t.to_site,
                l.quantity,
                today,
            );
            m.transfer_id = Some(t.id);
            ms.push(m);
        }
        let id = t.id;
        self.commit_movements(
            Action::Create,
            Mutation::new(ReceiveTransfer {
                transfer: id,
                movements: ms,
            }),
            "stock.transfer.receive",
            None,
            json!({"transfer": id}),
        )?;
        self.transfer(&id.to_string())
    }
}
