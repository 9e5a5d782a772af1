//! Purchase orders: numbered from the kernel's series when created,
//! approved by someone who may see money, sent, and received (in parts)
//! into lots by [`super::ReceiveStock`]. What is still to come is the
//! back-order.

use super::catalogue::{StockItem, Supplier, COST_DIGITS, MAX_QUANTITY};
use super::inventory;
use super::ledger::check_reason;
use super::PURCHASE_ORDER_NUMBERS;
use crate::billing::money::check_amount;
use crate::error::{ClinicError, ClinicResult};
use crate::permissions::{Action, Permission, SensitiveFlag};
use crate::sync::{Applied, Context, IssuedNumber, Merge, MutationKind, RecordKind, Records, Ref};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Waiting for approval.
    Pending,
    Approved,
    Sent,
    PartiallyReceived,
    Received,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Sent => "sent",
            Self::PartiallyReceived => "partially_received",
            Self::Received => "received",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Waiting for approval",
            Self::Approved => "Approved",
            Self::Sent => "Sent",
            Self::PartiallyReceived => "Partly received",
            Self::Received => "Received",
            Self::Cancelled => "Cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OrderLine {
    pub item_id: Uuid,
    /// The SKU and name when ordered (what the order printed).
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub unit_cost: Decimal,
    /// Units received so far (more than ordered is possible: what
    /// arrived is recorded).
    #[serde(default)]
    pub received: i64,
}

impl OrderLine {
    /// Still to come (the back-order).
    pub fn outstanding(&self) -> i64 {
        (self.quantity - self.received).max(0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PurchaseOrder {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `PO-000012`.
    pub number: String,
    pub supplier_id: Uuid,
    /// The supplier's name when ordered.
    pub supplier_name: String,
    /// The site it is delivered to.
    pub site_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub status: OrderStatus,
    #[serde(default)]
    pub expected_on: Option<NaiveDate>,
    #[serde(default)]
    pub notes: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub approved_by: Option<Uuid>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl RecordKind for PurchaseOrder {
    const KIND: &'static str = "purchase_order";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl PurchaseOrder {
    /// Σ quantity × unit cost, exact.
    pub fn total(&self) -> Decimal {
        self.lines
            .iter()
            .map(|l| Decimal::from(l.quantity) * l.unit_cost)
            .sum()
    }

    /// Records `qty` of line `line` received.
    pub(crate) fn receive(
        &mut self,
        line: usize,
        item: Uuid,
        qty: i64,
        at: DateTime<Utc>,
    ) -> ClinicResult<()> {
        let l = self
            .lines
            .get_mut(line)
            .ok_or_else(|| ClinicError::field("line", "is not a line of the order"))?;
        if l.item_id != item {
            return Err(ClinicError::field("line", "orders another item"));
        }
        l.received += qty;
        self.status = if self.lines.iter().all(|l| l.outstanding() == 0) {
            OrderStatus::Received
        } else {
            OrderStatus::PartiallyReceived
        };
        self.updated_at = at;
        Ok(())
    }
}

pub(crate) fn order(recs: &Records, id: Uuid) -> ClinicResult<PurchaseOrder> {
    recs.get::<PurchaseOrder>(id)
        .cloned()
        .ok_or_else(|| ClinicError::not_found("Purchase order"))
}

/// The order, when goods may be received against it (approved or later,
/// not cancelled). A delivery for a fully received order is still
/// recorded: what arrived arrived.
pub(crate) fn receivable(recs: &Records, id: Uuid) -> ClinicResult<PurchaseOrder> {
    let o = order(recs, id)?;
    match o.status {
        OrderStatus::Pending => Err(ClinicError::conflict(format!(
            "Order {} is not approved yet.",
            o.number
        ))),
        OrderStatus::Cancelled => Err(ClinicError::conflict(format!(
            "Order {} was cancelled.",
            o.number
        ))),
        _ => Ok(o),
    }
}

/// Creates an order under the next number of the series (waiting for
/// approval).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePurchaseOrder {
    pub order: PurchaseOrder,
}

impl MutationKind for CreatePurchaseOrder {
    const NAME: &'static str = "create_purchase_order";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.order.id]
    }

    fn permission(&self) -> Permission {
        inventory(Action::Create)
    }

    fn numbers(&self) -> Vec<IssuedNumber> {
        (PURCHASE_ORDER_NUMBERS.parse)(&self.order.number)
            .map(|value| IssuedNumber {
                series: PURCHASE_ORDER_NUMBERS.name,
                value,
                record: self.order.id,
            })
            .into_iter()
            .collect()
    }

    fn refs(&self) -> Vec<Ref> {
        let mut r = vec![
            Ref::to::<Supplier>(self.order.supplier_id, "supplier"),
            Ref::to::<crate::directory::SiteDoc>(self.order.site_id, "site"),
        ];
        for l in &self.order.lines {
            let x = Ref::to::<StockItem>(l.item_id, "stock item");
            if !r.contains(&x) {
                r.push(x);
            }
        }
        r
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let o = &self.order;
        if let Some(have) = recs.get::<PurchaseOrder>(o.id) {
            return if have.number == o.number {
                Ok(Applied::nothing())
            } else {
                Err(ClinicError::conflict(
                    "A different order already has this id.",
                ))
            };
        }
        if (PURCHASE_ORDER_NUMBERS.parse)(&o.number).is_none() {
            return Err(ClinicError::field(
                "number",
                "is not a purchase order number",
            ));
        }
        if o.lines.is_empty() || o.lines.len() > 500 {
            return Err(ClinicError::field("lines", "an order has 1 to 500 lines"));
        }
        for l in &o.lines {
            if l.quantity <= 0 || l.quantity > MAX_QUANTITY {
                return Err(ClinicError::field(
                    "quantity",
                    "must be a whole number above zero",
                ));
            }
            check_amount(l.unit_cost, COST_DIGITS, true)
                .map_err(|e| ClinicError::field("cost", e))?;
        }
        if o.notes.chars().count() > 2000 {
            return Err(ClinicError::field(
                "notes",
                "must be at most 2000 characters",
            ));
        }
        let mut rec = o.clone();
        rec.tenant_id = cx.tenant;
        rec.status = OrderStatus::Pending;
        for l in &mut rec.lines {
            l.received = 0;
        }
        rec.created_by = cx.user.unwrap_or(o.created_by);
        rec.created_at = cx.at;
        rec.approved_by = None;
        rec.approved_at = None;
        rec.sent_at = None;
        rec.cancel_reason = None;
        rec.updated_at = cx.at;
        recs.put(rec);
        Ok(Applied::one(o.id))
    }
}

/// The three changes of an order's state after it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStep {
    Approve,
    MarkSent,
    Cancel,
}

/// Approves an order (it spends money: needs the financial-data flag),
/// marks it sent to the supplier, or cancels it (before anything is
/// received).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeOrderStatus {
    pub order: Uuid,
    pub step: OrderStep,
    #[serde(default)]
    pub reason: Option<String>,
}

impl MutationKind for ChangeOrderStatus {
    const NAME: &'static str = "change_order_status";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.order]
    }

    fn permission(&self) -> Permission {
        match self.step {
            OrderStep::Approve => {
                inventory(Action::Edit).with_flags([SensitiveFlag::FinancialData])
            }
            OrderStep::MarkSent => inventory(Action::Edit),
            OrderStep::Cancel => inventory(Action::Delete),
        }
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut o = order(recs, self.order)?;
        use OrderStatus as S;
        let next = match (self.step, o.status) {
            (OrderStep::Approve, S::Pending) => S::Approved,
            (OrderStep::Approve, S::Approved | S::Sent) => return Ok(Applied::nothing()),
            (OrderStep::MarkSent, S::Approved) => S::Sent,
            (OrderStep::MarkSent, S::Sent) => return Ok(Applied::nothing()),
            (OrderStep::Cancel, S::Cancelled) => return Ok(Applied::nothing()),
            (OrderStep::Cancel, S::Pending | S::Approved | S::Sent) => S::Cancelled,
            (step, now) => {
                return Err(ClinicError::conflict(format!(
                    "Order {} is {}: it cannot be {}.",
                    o.number,
                    now.label().to_lowercase(),
                    match step {
                        OrderStep::Approve => "approved",
                        OrderStep::MarkSent => "marked sent (approve it first)",
                        OrderStep::Cancel => "cancelled (goods were received against it)",
                    }
                )))
            }
        };
        match self.step {
            OrderStep::Approve => {
                o.approved_by = cx.user;
                o.approved_at = Some(cx.at);
            }
            OrderStep::MarkSent => o.sent_at = Some(cx.at),
            OrderStep::Cancel => {
                o.cancel_reason = Some(check_reason("reason", self.reason.as_deref())?)
            }
        }
        o.status = next;
        o.updated_at = cx.at;
        recs.put(o);
        Ok(Applied::one(self.order))
    }
}
