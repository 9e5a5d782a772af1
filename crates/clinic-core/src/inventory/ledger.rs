//! The stock ledger: every change of stock is an insert-only movement per
//! item, lot and site. On-hand is the sum of the movements (kept
//! incrementally by the storage of each side, never typed in), so
//! movements made on two offline desks simply add up: two desks dispensing
//! the last box both succeed, and the balance after sync is negative on
//! every desk, with an alert.
//!
//! Nothing here refuses a movement for the quantity on hand: stock that
//! physically moved is recorded. A movement's unit cost is fixed when the
//! rule applies it (the lot's cost then), so the server's order decides.

use super::catalogue::{StockItem, Supplier, COST_DIGITS, MAX_QUANTITY};
use super::inventory;
use crate::billing::derived_id;
use crate::billing::money::check_amount;
use crate::billing::Invoice;
use crate::clinical::Prescription;
use crate::directory::SiteDoc;
use crate::error::{ClinicError, ClinicResult, ErrorCode};
use crate::patients::Patient;
use crate::permissions::{Action, Permission};
use crate::sync::{Applied, Context, Merge, MutationKind, RecordKind, Records, Ref};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A lot of an item: its expiry and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockBatch {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub item_id: Uuid,
    /// The lot printed on the pack; empty for items not kept by lot.
    pub lot: String,
    #[serde(default)]
    pub expiry: Option<NaiveDate>,
    /// The cost of one unit: the average of what its receipts paid,
    /// weighted by quantity (a lot is nearly always received once).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub unit_cost: Decimal,
    /// Units received into it, and what they cost in all.
    pub received: i64,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub received_value: Decimal,
    #[serde(default)]
    pub supplier_id: Option<Uuid>,
    pub first_received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecordKind for StockBatch {
    const KIND: &'static str = "stock_batch";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

/// A lot as people type it (kept as printed, trimmed, capitals).
pub fn normalize_lot(lot: &str) -> Result<String, crate::error::Invalid> {
    let l = lot.trim().to_uppercase();
    if l.chars().count() > 60 || l.chars().any(char::is_control) {
        return Err(crate::error::Invalid::new("must be at most 60 characters"));
    }
    Ok(l)
}

impl StockBatch {
    /// The id of `item`'s lot `lot` ("" for an item not kept by lot).
    pub fn id_for(item: Uuid, lot: &str) -> Uuid {
        derived_id(item, &format!("lot:{}", lot.trim().to_uppercase()))
    }

    /// Expired on `day` (the expiry date is the last day it may be used).
    pub fn expired_on(&self, day: NaiveDate) -> bool {
        self.expiry.is_some_and(|e| e < day)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    Receipt,
    Dispense,
    Adjustment,
    TransferOut,
    TransferIn,
    ExpiryWriteOff,
    StocktakeCorrection,
    /// Stock moved from one lot to another on paper (after two desks
    /// dispensed from a lot that was not there).
    Reallocation,
}

impl MovementKind {
    pub const ALL: [MovementKind; 8] = [
        Self::Receipt,
        Self::Dispense,
        Self::Adjustment,
        Self::TransferOut,
        Self::TransferIn,
        Self::ExpiryWriteOff,
        Self::StocktakeCorrection,
        Self::Reallocation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::Dispense => "dispense",
            Self::Adjustment => "adjustment",
            Self::TransferOut => "transfer_out",
            Self::TransferIn => "transfer_in",
            Self::ExpiryWriteOff => "expiry_write_off",
            Self::StocktakeCorrection => "stocktake_correction",
            Self::Reallocation => "reallocation",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Receipt => "Received",
            Self::Dispense => "Dispensed",
            Self::Adjustment => "Adjusted",
            Self::TransferOut => "Sent to another site",
            Self::TransferIn => "Received from another site",
            Self::ExpiryWriteOff => "Written off (expired)",
            Self::StocktakeCorrection => "Stocktake correction",
            Self::Reallocation => "Moved between lots",
        }
    }

    /// +1: only into stock; -1: only out of it; 0: either way.
    pub fn direction(self) -> i8 {
        match self {
            Self::Receipt | Self::TransferIn => 1,
            Self::Dispense | Self::TransferOut | Self::ExpiryWriteOff => -1,
            Self::Adjustment | Self::StocktakeCorrection | Self::Reallocation => 0,
        }
    }
}

/// One change of stock of one lot at one site. Insert-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockMovement {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub item_id: Uuid,
    pub batch_id: Uuid,
    pub site_id: Uuid,
    pub kind: MovementKind,
    /// Units, signed: + into stock, − out of it.
    pub quantity: i64,
    /// What one unit cost: a receipt's price paid, otherwise the lot's
    /// cost when the movement was applied.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[serde(default)]
    pub unit_cost: Decimal,
    /// The day it happened (the site's calendar).
    pub on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescription_id: Option<Uuid>,
    /// The prescription's line (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescription_line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<Uuid>,
    /// The invoice's line billing it (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_order_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stocktake_id: Option<Uuid>,
    /// Why an expired lot, or a prescription-only item without a
    /// prescription, was dispensed anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
    pub by: Uuid,
    pub at: DateTime<Utc>,
}

impl RecordKind for StockMovement {
    const KIND: &'static str = "stock_movement";
    const MERGE: Merge = Merge::Ledger;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl StockMovement {
    /// A movement as a desk sends it (the rule fixes cost, author, time).
    pub fn new(
        id: Uuid,
        kind: MovementKind,
        batch: &StockBatch,
        site: Uuid,
        quantity: i64,
        on: NaiveDate,
    ) -> StockMovement {
        StockMovement {
            id,
            tenant_id: batch.tenant_id,
            item_id: batch.item_id,
            batch_id: batch.id,
            site_id: site,
            kind,
            quantity,
            unit_cost: batch.unit_cost,
            on,
            reason: None,
            patient_id: None,
            prescription_id: None,
            prescription_line: None,
            invoice_id: None,
            invoice_line: None,
            purchase_order_id: None,
            transfer_id: None,
            stocktake_id: None,
            override_reason: None,
            by: Uuid::nil(),
            at: DateTime::<Utc>::default(),
        }
    }

    /// What the movement is worth (quantity × unit cost, signed).
    pub fn value(&self) -> Decimal {
        Decimal::from(self.quantity) * self.unit_cost
    }

    /// The same movement as sent (a second delivery).
    fn same_as(&self, o: &StockMovement) -> bool {
        (
            self.item_id,
            self.batch_id,
            self.site_id,
            self.kind,
            self.quantity,
        ) == (o.item_id, o.batch_id, o.site_id, o.kind, o.quantity)
    }
}

pub(crate) fn check_reason(field: &str, r: Option<&str>) -> ClinicResult<String> {
    match r.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().count() <= 500 => Ok(r.to_string()),
        _ => Err(ClinicError::field(
            field,
            "is required (at most 500 characters)",
        )),
    }
}

pub(crate) fn batch(recs: &Records, id: Uuid) -> ClinicResult<StockBatch> {
    recs.get::<StockBatch>(id)
        .cloned()
        .ok_or_else(|| ClinicError::not_found("Lot"))
}

pub(crate) fn item(recs: &Records, id: Uuid) -> ClinicResult<StockItem> {
    recs.get::<StockItem>(id)
        .cloned()
        .ok_or_else(|| ClinicError::not_found("Stock item"))
}

/// The outcome of delivering movements a second time: nothing when every
/// one is already recorded as sent, a conflict when another record holds
/// one of their ids, `None` when none is recorded yet.
fn already_recorded(recs: &Records, ms: &[StockMovement]) -> Option<ClinicResult<Applied>> {
    let mut seen = 0;
    for m in ms {
        if let Some(have) = recs.any(m.id) {
            match have.get::<StockMovement>() {
                Some(h) if h.same_as(m) => seen += 1,
                _ => {
                    return Some(Err(ClinicError::conflict(
                        "A different record already has this id.",
                    )))
                }
            }
        }
    }
    match seen {
        0 => None,
        n if n == ms.len() => Some(Ok(Applied::nothing())),
        _ => Some(Err(ClinicError::conflict(
            "Part of these movements is already recorded.",
        ))),
    }
}

/// Checks a movement as a desk sent it and fixes what the rule decides:
/// tenant, author, time, and (unless it is a receipt) the lot's cost now.
fn settle_movement(
    cx: &Context,
    recs: &Records,
    m: &StockMovement,
    kinds: &[MovementKind],
) -> ClinicResult<StockMovement> {
    if !kinds.contains(&m.kind) {
        return Err(ClinicError::field(
            "kind",
            format!("{} is not recorded this way", m.kind.as_str()),
        ));
    }
    let b = batch(recs, m.batch_id)?;
    if b.item_id != m.item_id {
        return Err(ClinicError::field("batch", "is a lot of another item"));
    }
    item(recs, m.item_id)?;
    let q = m.quantity;
    let dir = m.kind.direction();
    if q == 0 || q.abs() > MAX_QUANTITY || (dir > 0 && q < 0) || (dir < 0 && q > 0) {
        return Err(ClinicError::field(
            "quantity",
            match dir {
                1 => "must be a whole number above zero",
                -1 => "must be a whole number above zero (it leaves stock)",
                _ => "must be a whole number other than zero",
            },
        ));
    }
    if m.on > cx.today() + chrono::Duration::days(1) {
        return Err(ClinicError::field("date", "must not be in the future"));
    }
    if let Some(r) = &m.reason {
        if r.chars().count() > 500 {
            return Err(ClinicError::field(
                "reason",
                "must be at most 500 characters",
            ));
        }
    }
    let mut out = m.clone();
    out.tenant_id = cx.tenant;
    out.by = cx.user.unwrap_or(m.by);
    out.at = cx.at;
    if m.kind != MovementKind::Receipt {
        out.unit_cost = b.unit_cost;
    }
    Ok(out)
}

fn site_ref(site: Uuid) -> Ref {
    Ref::to::<SiteDoc>(site, "site")
}

fn movement_touches(ms: &[StockMovement]) -> Vec<Uuid> {
    let mut t: Vec<Uuid> = ms.iter().map(|m| m.id).collect();
    for m in ms {
        for id in [m.batch_id, m.item_id] {
            if !t.contains(&id) {
                t.push(id);
            }
        }
    }
    t
}

fn movement_refs(ms: &[StockMovement]) -> Vec<Ref> {
    let mut r: Vec<Ref> = vec![];
    for m in ms {
        let mut add = |x: Ref| {
            if !r.contains(&x) {
                r.push(x)
            }
        };
        add(site_ref(m.site_id));
        if let Some(p) = m.patient_id {
            add(Ref::to::<Patient>(p, "patient"));
        }
        if let Some(p) = m.prescription_id {
            add(Ref::to::<Prescription>(p, "prescription"));
        }
        if let Some(i) = m.invoice_id {
            add(Ref::to::<Invoice>(i, "invoice"));
        }
    }
    r
}

/// One lot received: the movement (its cost is what was paid) and the lot
/// as printed on the pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub movement: StockMovement,
    pub lot: String,
    #[serde(default)]
    pub expiry: Option<NaiveDate>,
    /// The purchase order's line it receives (0-based).
    #[serde(default)]
    pub order_line: Option<u32>,
}

/// Receives stock into lots (a delivery, with or without a purchase
/// order). A lot seen for the first time is created; a lot received again
/// must carry the same expiry, and its cost becomes the weighted average.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiveStock {
    pub receipts: Vec<Receipt>,
    #[serde(default)]
    pub supplier: Option<Uuid>,
    #[serde(default)]
    pub purchase_order: Option<Uuid>,
}

impl MutationKind for ReceiveStock {
    const NAME: &'static str = "receive_stock";

    fn touches(&self) -> Vec<Uuid> {
        let ms: Vec<StockMovement> = self.receipts.iter().map(|r| r.movement.clone()).collect();
        let mut t = movement_touches(&ms);
        t.extend(self.purchase_order);
        t
    }

    fn permission(&self) -> Permission {
        inventory(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        let ms: Vec<StockMovement> = self.receipts.iter().map(|r| r.movement.clone()).collect();
        let mut r = movement_refs(&ms);
        r.extend(self.supplier.map(|s| Ref::to::<Supplier>(s, "supplier")));
        r
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let ms: Vec<StockMovement> = self.receipts.iter().map(|r| r.movement.clone()).collect();
        if let Some(done) = already_recorded(recs, &ms) {
            return done;
        }
        if self.receipts.is_empty() || self.receipts.len() > 500 {
            return Err(ClinicError::field("lines", "receive 1 to 500 lines"));
        }
        let mut order = match self.purchase_order {
            Some(po) => Some(super::orders::receivable(recs, po)?),
            None => None,
        };
        let mut changed = vec![];
        for r in &self.receipts {
            let m = &r.movement;
            let it = item(recs, m.item_id)?;
            let lot = normalize_lot(&r.lot).map_err(|e| ClinicError::field("lot", e))?;
            if it.track_batches && lot.is_empty() {
                return Err(ClinicError::field(
                    "lot",
                    format!("{} is kept by lot: give the lot number", it.sku),
                ));
            }
            if it.track_expiry && r.expiry.is_none() {
                return Err(ClinicError::field(
                    "expiry",
                    format!("{} is kept by expiry: give the expiry date", it.sku),
                ));
            }
            let lot = if it.track_batches { lot } else { String::new() };
            let expiry = if it.track_expiry { r.expiry } else { None };
            if m.batch_id != StockBatch::id_for(it.id, &lot) {
                return Err(ClinicError::field("batch", "does not match the lot"));
            }
            check_amount(m.unit_cost, COST_DIGITS, true)
                .map_err(|e| ClinicError::field("cost", e))?;
            let q = Decimal::from(m.quantity);
            let b = match recs.get::<StockBatch>(m.batch_id).cloned() {
                Some(mut b) => {
                    if b.expiry != expiry {
                        return Err(ClinicError::new(
                            ErrorCode::Conflict,
                            format!(
                                "Lot {} of {} is recorded with expiry {}; check the pack (a lot has one expiry date).",
                                if lot.is_empty() { "-" } else { &lot },
                                it.sku,
                                b.expiry.map(|d| d.to_string()).unwrap_or_else(|| "none".into())
                            ),
                        ));
                    }
                    if m.quantity > 0 {
                        b.received += m.quantity;
                        b.received_value += q * m.unit_cost;
                        b.unit_cost = average(b.received_value, b.received);
                    }
                    b.updated_at = cx.at;
                    b
                }
                None => StockBatch {
                    id: m.batch_id,
                    tenant_id: cx.tenant,
                    item_id: it.id,
                    lot,
                    expiry,
                    unit_cost: m.unit_cost,
                    received: m.quantity.max(0),
                    received_value: q.max(Decimal::ZERO) * m.unit_cost,
                    supplier_id: self.supplier,
                    first_received_at: cx.at,
                    updated_at: cx.at,
                },
            };
            // The lot exists before the movement is checked against it.
            recs.put(b.clone());
            let mut out = settle_movement(cx, recs, m, &[MovementKind::Receipt])?;
            out.purchase_order_id = self.purchase_order;
            if let Some(o) = order.as_mut() {
                let line = r
                    .order_line
                    .ok_or_else(|| ClinicError::field("line", "name the order's line"))?;
                o.receive(line as usize, it.id, m.quantity, cx.at)?;
            }
            for id in [b.id, out.id] {
                if !changed.contains(&id) {
                    changed.push(id);
                }
            }
            recs.put(out);
        }
        if let Some(o) = order {
            changed.push(o.id);
            recs.put(o);
        }
        Ok(Applied { changed })
    }
}

/// Value ÷ quantity to the cost's digits, half away from zero.
fn average(value: Decimal, qty: i64) -> Decimal {
    if qty <= 0 {
        return Decimal::ZERO;
    }
    (value / Decimal::from(qty))
        .round_dp_with_strategy(COST_DIGITS, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// Gives stock out (to a patient, over the counter, for a procedure), from
/// one or more lots. Never refused for the quantity on hand. An expired
/// lot, or a prescription-only item without a prescription, is dispensed
/// only with an override and its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispenseStock {
    pub movements: Vec<StockMovement>,
}

impl MutationKind for DispenseStock {
    const NAME: &'static str = "dispense_stock";

    fn touches(&self) -> Vec<Uuid> {
        movement_touches(&self.movements)
    }

    fn permission(&self) -> Permission {
        inventory(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        movement_refs(&self.movements)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if let Some(done) = already_recorded(recs, &self.movements) {
            return done;
        }
        if self.movements.is_empty() || self.movements.len() > 100 {
            return Err(ClinicError::field("lots", "dispense from 1 to 100 lots"));
        }
        let mut out = vec![];
        for m in &self.movements {
            let mut s = settle_movement(cx, recs, m, &[MovementKind::Dispense])?;
            let b = batch(recs, m.batch_id)?;
            let it = item(recs, m.item_id)?;
            let overridden = match &m.override_reason {
                Some(r) => Some(check_reason("reason", Some(r))?),
                None => None,
            };
            if b.expired_on(m.on) && overridden.is_none() {
                return Err(ClinicError::new(
                    ErrorCode::ConfirmationNeeded,
                    format!(
                        "Lot {} of {} expired on {}: dispense it only with an override and a reason.",
                        b.lot,
                        it.sku,
                        b.expiry.map(|d| d.to_string()).unwrap_or_default()
                    ),
                ));
            }
            if it.prescription_required && m.prescription_id.is_none() && overridden.is_none() {
                return Err(ClinicError::new(
                    ErrorCode::ConfirmationNeeded,
                    format!(
                        "{} is prescription-only: dispense it against a prescription, or with an override and a reason.",
                        it.sku
                    ),
                ));
            }
            if m.prescription_line.is_some() != m.prescription_id.is_some()
                || m.invoice_line.is_some() != m.invoice_id.is_some()
            {
                return Err(ClinicError::field(
                    "line",
                    "a prescription or invoice is named with its line",
                ));
            }
            if let (Some(p), Some(l)) = (m.prescription_id, m.prescription_line) {
                if let Some(rx) = recs.get::<Prescription>(p) {
                    if l as usize >= rx.lines.len() {
                        return Err(ClinicError::field(
                            "prescription_line",
                            format!("the prescription has {} lines", rx.lines.len()),
                        ));
                    }
                }
            }
            s.override_reason = overridden;
            out.push(s);
        }
        let changed = out.iter().map(|m| m.id).collect();
        for m in out {
            recs.put(m);
        }
        Ok(Applied { changed })
    }
}

/// Corrects stock with a reason: an adjustment (breakage, found, used in
/// the clinic), an expired lot written off, or stock moved on paper from
/// one lot to another (two movements, same item and site, opposite
/// quantities).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdjustStock {
    pub movements: Vec<StockMovement>,
}

impl MutationKind for AdjustStock {
    const NAME: &'static str = "adjust_stock";

    fn touches(&self) -> Vec<Uuid> {
        movement_touches(&self.movements)
    }

    fn permission(&self) -> Permission {
        inventory(Action::Edit)
    }

    fn refs(&self) -> Vec<Ref> {
        movement_refs(&self.movements)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if let Some(done) = already_recorded(recs, &self.movements) {
            return done;
        }
        let kinds = [
            MovementKind::Adjustment,
            MovementKind::ExpiryWriteOff,
            MovementKind::Reallocation,
        ];
        let ms = &self.movements;
        if ms.is_empty() || ms.len() > 100 {
            return Err(ClinicError::field("lots", "adjust 1 to 100 lots"));
        }
        let realloc = ms.iter().any(|m| m.kind == MovementKind::Reallocation);
        if realloc
            && !(ms.len() == 2
                && ms.iter().all(|m| m.kind == MovementKind::Reallocation)
                && ms[0].item_id == ms[1].item_id
                && ms[0].site_id == ms[1].site_id
                && ms[0].batch_id != ms[1].batch_id
                && ms[0].quantity == -ms[1].quantity)
        {
            return Err(ClinicError::field(
                "lots",
                "a reallocation moves one quantity between two lots of one item at one site",
            ));
        }
        let mut out = vec![];
        for m in ms {
            let mut s = settle_movement(cx, recs, m, &kinds)?;
            s.reason = Some(check_reason("reason", m.reason.as_deref())?);
            out.push(s);
        }
        let changed = out.iter().map(|m| m.id).collect();
        for m in out {
            recs.put(m);
        }
        Ok(Applied { changed })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    InTransit,
    Received,
}

/// One lot sent from a site to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TransferLine {
    pub item_id: Uuid,
    pub batch_id: Uuid,
    pub quantity: i64,
}

/// Stock on its way between two sites: out of the first when sent, into
/// the second when received; "in transit" between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockTransfer {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub from_site: Uuid,
    pub to_site: Uuid,
    pub lines: Vec<TransferLine>,
    pub status: TransferStatus,
    #[serde(default)]
    pub note: Option<String>,
    pub sent_by: Uuid,
    pub sent_at: DateTime<Utc>,
    #[serde(default)]
    pub received_by: Option<Uuid>,
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

impl RecordKind for StockTransfer {
    const KIND: &'static str = "stock_transfer";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

fn transfer_matches(lines: &[TransferLine], ms: &[StockMovement], site: Uuid, sign: i64) -> bool {
    lines.len() == ms.len()
        && lines.iter().zip(ms).all(|(l, m)| {
            l.item_id == m.item_id
                && l.batch_id == m.batch_id
                && m.quantity == sign * l.quantity
                && m.site_id == site
        })
}

/// Sends stock to another site: out of this one now, in transit until
/// the other receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendTransfer {
    pub transfer: StockTransfer,
    /// One `transfer_out` per line, in the lines' order.
    pub movements: Vec<StockMovement>,
}

impl MutationKind for SendTransfer {
    const NAME: &'static str = "send_transfer";

    fn touches(&self) -> Vec<Uuid> {
        let mut t = movement_touches(&self.movements);
        t.push(self.transfer.id);
        t
    }

    fn permission(&self) -> Permission {
        inventory(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        let mut r = movement_refs(&self.movements);
        r.push(site_ref(self.transfer.to_site));
        r
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let t = &self.transfer;
        if let Some(have) = recs.get::<StockTransfer>(t.id) {
            return if have.lines == t.lines {
                Ok(Applied::nothing())
            } else {
                Err(ClinicError::conflict(
                    "A different transfer already has this id.",
                ))
            };
        }
        if t.from_site == t.to_site {
            return Err(ClinicError::field(
                "to_site",
                "is the site the stock leaves",
            ));
        }
        if t.lines.is_empty() || t.lines.len() > 200 {
            return Err(ClinicError::field("lines", "send 1 to 200 lines"));
        }
        if t.lines.iter().any(|l| l.quantity <= 0) {
            return Err(ClinicError::field("quantity", "must be above zero"));
        }
        if !transfer_matches(&t.lines, &self.movements, t.from_site, -1)
            || self.movements.iter().any(|m| m.transfer_id != Some(t.id))
        {
            return Err(ClinicError::field(
                "movements",
                "one transfer_out per line, from the sending site",
            ));
        }
        let mut changed = vec![t.id];
        let mut out = vec![];
        for m in &self.movements {
            out.push(settle_movement(cx, recs, m, &[MovementKind::TransferOut])?);
        }
        if let Some(n) = &t.note {
            if n.chars().count() > 500 {
                return Err(ClinicError::field("note", "must be at most 500 characters"));
            }
        }
        let mut rec = t.clone();
        rec.tenant_id = cx.tenant;
        rec.status = TransferStatus::InTransit;
        rec.sent_by = cx.user.unwrap_or(t.sent_by);
        rec.sent_at = cx.at;
        rec.received_by = None;
        rec.received_at = None;
        recs.put(rec);
        for m in out {
            changed.push(m.id);
            recs.put(m);
        }
        Ok(Applied { changed })
    }
}

/// Receives a transfer at its destination, line for line. Received once:
/// a second receipt (two desks) is refused, kept and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiveTransfer {
    pub transfer: Uuid,
    /// One `transfer_in` per line, in the lines' order.
    pub movements: Vec<StockMovement>,
}

impl MutationKind for ReceiveTransfer {
    const NAME: &'static str = "receive_transfer";

    fn touches(&self) -> Vec<Uuid> {
        let mut t = movement_touches(&self.movements);
        t.push(self.transfer);
        t
    }

    fn permission(&self) -> Permission {
        inventory(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        movement_refs(&self.movements)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if let Some(done) = already_recorded(recs, &self.movements) {
            return done;
        }
        let mut t = recs
            .get::<StockTransfer>(self.transfer)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Transfer"))?;
        if t.status == TransferStatus::Received {
            return Err(ClinicError::conflict(
                "This transfer was already received (on another desk).",
            ));
        }
        if !transfer_matches(&t.lines, &self.movements, t.to_site, 1)
            || self.movements.iter().any(|m| m.transfer_id != Some(t.id))
        {
            return Err(ClinicError::field(
                "movements",
                "one transfer_in per line, at the receiving site",
            ));
        }
        let mut out = vec![];
        for m in &self.movements {
            out.push(settle_movement(cx, recs, m, &[MovementKind::TransferIn])?);
        }
        t.status = TransferStatus::Received;
        t.received_by = cx.user;
        t.received_at = Some(cx.at);
        let mut changed = vec![t.id];
        recs.put(t);
        for m in out {
            changed.push(m.id);
            recs.put(m);
        }
        Ok(Applied { changed })
    }
}
