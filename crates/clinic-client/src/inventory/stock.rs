//! Stock on a desk: receiving, dispensing first-expiry-first-out (or from
//! a chosen lot), adjustments, write-offs, reallocations between lots,
//! transfers between sites; on-hand, an item's lots and ledger, valuation
//! and alerts (low, expiring, expired, negative with the movements that
//! made it so and a reallocation to propose).

use super::{decimal_or_zero, Inventory};
use crate::workstation::new_id;
use chrono::NaiveDate;
use clinic_core::audit::AuditEntry;
use clinic_core::billing::money::round;
use clinic_core::billing::{EditInvoice, Invoice, InvoiceStatus, LineInput};
use clinic_core::clinical::PrescriptionStatus;
use clinic_core::inventory::*;
use clinic_core::permissions::{Action, Module, SensitiveFlag};
use clinic_core::sync::{Mutation, RecordKind};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::inventory::{LotStock, OnHand};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// A lot of an item at a site.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LotView {
    pub batch_id: Uuid,
    pub lot: String,
    pub expiry: Option<NaiveDate>,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub unit_cost: Decimal,
    pub site_id: Uuid,
    pub site_name: String,
    pub quantity: i64,
    pub expired: bool,
}

/// One line of an item's ledger as people read it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MovementView {
    pub id: Uuid,
    pub kind: MovementKind,
    pub label: String,
    pub lot: String,
    pub site_id: Uuid,
    pub site_name: String,
    pub quantity: i64,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub unit_cost: Decimal,
    pub on: NaiveDate,
    pub at: chrono::DateTime<chrono::Utc>,
    pub by_name: String,
    pub reason: Option<String>,
    pub patient_id: Option<Uuid>,
    pub prescription_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub purchase_order_id: Option<Uuid>,
    pub override_reason: Option<String>,
    /// What the links name, as people read them.
    pub patient_name: Option<String>,
    pub prescription_number: Option<String>,
    pub invoice_number: Option<String>,
    pub purchase_order_number: Option<String>,
}

/// An item's total at one site.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SiteStock {
    pub site_id: Uuid,
    pub site_name: String,
    pub on_hand: i64,
    pub low: bool,
}

/// An item with its lots, totals per site and latest movements.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ItemDetail {
    pub item: StockItem,
    pub category: Option<String>,
    pub sites: Vec<SiteStock>,
    pub lots: Vec<LotView>,
    pub movements: Vec<MovementView>,
}

/// What a dispense took from each lot.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LotUsed {
    pub movement_id: Uuid,
    pub batch_id: Uuid,
    pub lot: String,
    pub expiry: Option<NaiveDate>,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Dispensed {
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub site_id: Uuid,
    pub site_name: String,
    pub quantity: i64,
    /// The lots (batches) it took, first expiry first.
    pub batches: Vec<LotUsed>,
    pub patient_id: Option<Uuid>,
    pub prescription_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    /// The invoice's line billing it (0-based).
    pub invoice_line: Option<u32>,
    /// What is left of the item at the site after it.
    pub on_hand_after: i64,
}

/// What a dispense would take (nothing written yet): the dialog shows it
/// before the pharmacist confirms.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DispensePlan {
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub site_id: Uuid,
    pub site_name: String,
    pub quantity: i64,
    /// The lots it takes, first expiry first (`movement_id` is nil).
    pub batches: Vec<LotUsed>,
    /// The item's on-hand at the site now.
    pub on_hand: i64,
    pub prescription_required: bool,
}

/// A prescription of the patient's that a dispense may fill.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RxToFill {
    pub id: Uuid,
    /// `RX-XXXX-XXXXXXXX`, as printed.
    pub number: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub expires_on: NaiveDate,
    pub prescriber_name: String,
    pub lines: Vec<RxLineToFill>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RxLineToFill {
    /// 0-based, as dispensing names it.
    pub index: u32,
    pub line: clinic_core::clinical::PrescriptionLine,
    /// Units dispensed against this line so far.
    pub dispensed: i64,
}

/// What a dispense and its plan both start from.
struct DispenseStart {
    now: chrono::DateTime<chrono::Utc>,
    today: NaiveDate,
    item: StockItem,
    site: Uuid,
    reason: Option<String>,
    plan: Vec<(StockBatch, i64)>,
}

/// A dispense as asked for.
#[derive(Debug, Clone, Default)]
pub struct DispenseReq {
    /// SKU, scanned barcode or id.
    pub item: String,
    pub quantity: i64,
    /// A chosen lot (first expiry first out when not given).
    pub lot: Option<String>,
    pub site: Option<Uuid>,
    pub patient: Option<Uuid>,
    pub prescription: Option<Uuid>,
    /// The prescription's line (0-based; found by the medicine's name
    /// when not given).
    pub prescription_line: Option<u32>,
    /// A draft invoice to bill it on (a line is added), or an issued one
    /// with a line for the item.
    pub invoice: Option<Uuid>,
    /// Dispense an expired lot, a prescription-only item without a
    /// prescription, or more than is on hand: why.
    pub override_reason: Option<String>,
}

/// A receipt as typed.
#[derive(Debug, Clone, Default)]
pub struct ReceiveReq {
    pub item: String,
    pub lot: Option<String>,
    pub expiry: Option<NaiveDate>,
    pub quantity: i64,
    pub cost: Option<String>,
    pub supplier: Option<String>,
    pub site: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Received {
    pub item_id: Uuid,
    pub sku: String,
    pub batch_id: Uuid,
    pub lot: String,
    pub expiry: Option<NaiveDate>,
    pub quantity: i64,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub unit_cost: Decimal,
    pub movement_id: Uuid,
    pub site_name: String,
}

/// One lot's on-hand at one site, named.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OnHandRow {
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub batch_id: Uuid,
    pub lot: String,
    pub expiry: Option<NaiveDate>,
    pub site_id: Uuid,
    pub site_name: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Negative,
    Expired,
    Expiring,
    Low,
}

/// Stock moved on paper from one lot to another, proposed for a lot
/// below zero (never applied by itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reallocation {
    pub site_id: Uuid,
    pub from_batch: Uuid,
    pub from_lot: String,
    pub to_batch: Uuid,
    pub to_lot: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Alert {
    pub kind: AlertKind,
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    /// The item's unit ("box").
    pub unit: String,
    pub site_id: Uuid,
    pub site_name: String,
    pub batch_id: Option<Uuid>,
    pub lot: Option<String>,
    pub expiry: Option<NaiveDate>,
    pub quantity: i64,
    pub reorder_point: Option<i64>,
    pub message: String,
    /// For a lot below zero: the movements that took it there.
    pub caused_by: Vec<MovementView>,
    pub proposal: Option<Reallocation>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Valuation {
    pub site_id: Option<Uuid>,
    pub site_name: String,
    /// How stock is valued.
    pub method: String,
    pub currency: String,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub total: Decimal,
    pub lots: usize,
    pub items: usize,
}

/// Takes `qty` from `lots` (first expiry first, as the store orders them):
/// lots with stock that have not expired on `today`, then — only with an
/// override — expired ones, then the rest on the last lot used (the
/// balance goes below zero).
pub fn plan_fefo(
    lots: &[LotStock],
    qty: i64,
    today: NaiveDate,
    overridden: bool,
) -> Result<Vec<(StockBatch, i64)>, i64> {
    let mut left = qty;
    let mut plan: Vec<(StockBatch, i64)> = vec![];
    let mut take = |pred: &dyn Fn(&LotStock) -> bool, left: &mut i64| {
        for l in lots.iter().filter(|l| pred(l)) {
            if *left == 0 {
                break;
            }
            let n = l.quantity.min(*left);
            plan.push((l.batch.clone(), n));
            *left -= n;
        }
    };
    take(&|l| l.quantity > 0 && !l.batch.expired_on(today), &mut left);
    if left > 0 && !overridden {
        return Err(qty - left);
    }
    take(&|l| l.quantity > 0 && l.batch.expired_on(today), &mut left);
    if left > 0 {
        match plan.last_mut() {
            Some(last) => last.1 += left,
            None => match lots
                .iter()
                .rev()
                .find(|l| !l.batch.expired_on(today))
                .or(lots.last())
            {
                Some(l) => plan.push((l.batch.clone(), left)),
                None => return Err(0),
            },
        }
    }
    Ok(plan)
}

impl Inventory<'_> {
    fn movement_view(&self, m: &StockMovement, lots: &mut HashMap<Uuid, String>) -> MovementView {
        let db = self.ws.store().ok().map(|s| s.db());
        let lot = lots
            .entry(m.batch_id)
            .or_insert_with(|| {
                db.as_ref()
                    .and_then(|d| d.batch(m.batch_id).ok().flatten())
                    .map(|b| b.lot)
                    .unwrap_or_default()
            })
            .clone();
        let by_name = db
            .as_ref()
            .and_then(|d| d.user(m.by).ok().flatten())
            .map(|u| u.name)
            .unwrap_or_default();
        MovementView {
            id: m.id,
            kind: m.kind,
            label: m.kind.label().into(),
            lot,
            site_id: m.site_id,
            site_name: self.site_name(m.site_id),
            quantity: m.quantity,
            unit_cost: m.unit_cost,
            on: m.on,
            at: m.at,
            by_name,
            reason: m.reason.clone(),
            patient_id: m.patient_id,
            prescription_id: m.prescription_id,
            invoice_id: m.invoice_id,
            purchase_order_id: m.purchase_order_id,
            override_reason: m.override_reason.clone(),
            patient_name: m
                .patient_id
                .and_then(|p| db.as_ref()?.patient(p).ok().flatten())
                .map(|p| format!("{} {}", p.details.first_name, p.details.last_name)),
            prescription_number: m
                .prescription_id
                .map(crate::clinical::prescriptions::prescription_number),
            invoice_number: m
                .invoice_id
                .and_then(|i| db.as_ref()?.invoice(i).ok().flatten()?.number),
            purchase_order_number: m
                .purchase_order_id
                .and_then(|o| db.as_ref()?.document::<PurchaseOrder>(o).ok().flatten())
                .map(|o| o.number),
        }
    }

    /// Commits movements under one mutation, with one audit event.
    pub(crate) fn commit_movements(
        &mut self,
        action: Action,
        mutation: Mutation,
        audit_action: &'static str,
        patient: Option<Uuid>,
        details: serde_json::Value,
    ) -> ClinicResult<clinic_store::sync::Committed> {
        let (s, now) = self.act(action)?;
        let id = mutation.touches().first().copied();
        self.ws.commit_change(
            &s,
            now,
            |_| Ok(mutation),
            |_| {
                vec![AuditEntry {
                    action: audit_action,
                    entity_type: StockMovement::KIND,
                    entity_id: id,
                    patient_id: patient,
                    details,
                }]
            },
        )
    }

    /// Receives stock into a lot (created the first time it is seen).
    pub fn receive(&mut self, r: ReceiveReq) -> ClinicResult<Received> {
        let (_, now) = self.act(Action::Create)?;
        let today = self.today(now)?;
        let item = self.item(&r.item)?;
        let site = self.site_or_home(r.site)?;
        let supplier = match r.supplier.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(self.supplier(s)?.id),
            None => None,
        };
        let lot = normalize_lot(r.lot.as_deref().unwrap_or(""))
            .map_err(|e| ClinicError::field("lot", e))?;
        let lot = if item.track_batches {
            lot
        } else {
            String::new()
        };
        let cost = match r.cost.as_deref() {
            Some(c) => decimal_or_zero(Some(c), "cost")?,
            None => item.purchase_price,
        };
        let batch_id = StockBatch::id_for(item.id, &lot);
        let stub = self.batch_or_stub(&item, batch_id)?;
        let mut m = StockMovement::new(
            new_id(now),
            MovementKind::Receipt,
            &stub,
            site,
            r.quantity,
            today,
        );
        m.unit_cost = cost;
        let mid = m.id;
        let receipt = Receipt {
            movement: m,
            lot: lot.clone(),
            expiry: r.expiry,
            order_line: None,
        };
        self.commit_movements(
            Action::Create,
            Mutation::new(ReceiveStock {
                receipts: vec![receipt],
                supplier,
                purchase_order: None,
            }),
            "stock.receive",
            None,
            json!({"sku": item.sku, "lot": lot, "quantity": r.quantity, "cost": cost}),
        )?;
        let b = self
            .ws
            .store()?
            .db()
            .batch(batch_id)?
            .ok_or_else(|| ClinicError::internal("the lot received is missing"))?;
        Ok(Received {
            item_id: item.id,
            sku: item.sku,
            batch_id,
            lot,
            expiry: b.expiry,
            quantity: r.quantity,
            unit_cost: cost,
            movement_id: mid,
            site_name: self.site_name(site),
        })
    }

    /// The lot as stored, or a stand-in naming it (for a lot received for
    /// the first time).
    pub(crate) fn batch_or_stub(&self, item: &StockItem, id: Uuid) -> ClinicResult<StockBatch> {
        Ok(self.ws.store()?.db().batch(id)?.unwrap_or(StockBatch {
            id,
            tenant_id: item.tenant_id,
            item_id: item.id,
            lot: String::new(),
            expiry: None,
            unit_cost: Decimal::ZERO,
            received: 0,
            received_value: Decimal::ZERO,
            supplier_id: None,
            first_received_at: chrono::DateTime::<chrono::Utc>::default(),
            updated_at: chrono::DateTime::<chrono::Utc>::default(),
        }))
    }

    /// An item's lot by its number (for an item not kept by lot, its one lot).
    pub(crate) fn lot(&self, item: &StockItem, lot: Option<&str>) -> ClinicResult<StockBatch> {
        let l = normalize_lot(lot.unwrap_or("")).map_err(|e| ClinicError::field("lot", e))?;
        let l = if item.track_batches { l } else { String::new() };
        self.ws
            .store()?
            .db()
            .batch(StockBatch::id_for(item.id, &l))?
            .ok_or_else(|| {
                ClinicError::new(
                    ErrorCode::NotFound,
                    if l.is_empty() {
                        format!("No stock of {} has been received yet.", item.sku)
                    } else {
                        format!("{} has no lot {l}.", item.sku)
                    },
                )
            })
    }

    /// Dispenses an item: first expiry first out unless a lot is chosen.
    /// Prints (returns) the lots used.
    pub fn dispense(&mut self, r: DispenseReq) -> ClinicResult<Dispensed> {
        let DispenseStart {
            now,
            today,
            item,
            site,
            reason,
            plan,
        } = self.start_dispense(&r, Action::Create)?;
        if item.prescription_required && r.prescription.is_none() && reason.is_none() {
            return Err(ClinicError::new(
                ErrorCode::ConfirmationNeeded,
                format!(
                    "{} is prescription-only: dispense it against a prescription, or with an override and a reason.",
                    item.sku
                ),
            ));
        }
        let (patient, rx_line) = match r.prescription {
            Some(p) => {
                let (pt, line) = self.prescription_line(p, r.prescription_line, &item, today)?;
                if r.patient.is_some_and(|x| x != pt) {
                    return Err(ClinicError::field(
                        "patient",
                        "is not the prescription's patient",
                    ));
                }
                (Some(pt), Some(line))
            }
            None => (r.patient, None),
        };
        let invoice_line = match r.invoice {
            Some(inv) => Some(self.bill_line(inv, &item, r.quantity, patient)?),
            None => None,
        };
        let mut used = vec![];
        let mut ms = vec![];
        for (b, q) in &plan {
            let mut m = StockMovement::new(new_id(now), MovementKind::Dispense, b, site, -q, today);
            m.patient_id = patient;
            m.prescription_id = r.prescription;
            m.prescription_line = rx_line;
            m.invoice_id = r.invoice;
            m.invoice_line = invoice_line;
            m.override_reason = reason.clone();
            used.push(LotUsed {
                movement_id: m.id,
                batch_id: b.id,
                lot: b.lot.clone(),
                expiry: b.expiry,
                quantity: *q,
            });
            ms.push(m);
        }
        self.commit_movements(
            Action::Create,
            Mutation::new(DispenseStock { movements: ms }),
            "stock.dispense",
            patient,
            json!({"sku": item.sku, "quantity": r.quantity, "lots": used.iter().map(|u| &u.lot).collect::<Vec<_>>(),
                   "prescription": r.prescription, "invoice": r.invoice, "override": reason}),
        )?;
        let after = self.on_hand_at(item.id, site)?;
        Ok(Dispensed {
            item_id: item.id,
            sku: item.sku,
            name: item.name,
            site_id: site,
            site_name: self.site_name(site),
            quantity: r.quantity,
            batches: used,
            patient_id: patient,
            prescription_id: r.prescription,
            invoice_id: r.invoice,
            invoice_line,
            on_hand_after: after,
        })
    }

    /// What dispensing `r` would take from each lot now, refused as the
    /// dispense itself would be (`CONFIRMATION_NEEDED` for stock it cannot
    /// cover without an override). Nothing is written.
    pub fn dispense_plan(&mut self, r: &DispenseReq) -> ClinicResult<DispensePlan> {
        let DispenseStart {
            item, site, plan, ..
        } = self.start_dispense(r, Action::View)?;
        let on_hand = self.on_hand_at(item.id, site)?;
        Ok(DispensePlan {
            item_id: item.id,
            sku: item.sku,
            name: item.name,
            unit: item.unit,
            site_id: site,
            site_name: self.site_name(site),
            quantity: r.quantity,
            batches: plan
                .into_iter()
                .map(|(b, q)| LotUsed {
                    movement_id: Uuid::nil(),
                    batch_id: b.id,
                    lot: b.lot,
                    expiry: b.expiry,
                    quantity: q,
                })
                .collect(),
            on_hand,
            prescription_required: item.prescription_required,
        })
    }

    /// A patient's prescriptions still to be dispensed (active, not
    /// expired), newest first, with what was dispensed against each line.
    /// A read of health data: audited.
    pub fn prescriptions_to_fill(&mut self, patient: Uuid) -> ClinicResult<Vec<RxToFill>> {
        let (s, now) = self.ws.act(Module::Prescriptions, Action::View)?;
        let today = self.today(now)?;
        let db = self.ws.store()?.db();
        let mut out = vec![];
        for rx in db.patient_prescriptions(patient, true)? {
            if !clinic_store::clinical::is_current(&rx, today) {
                continue;
            }
            let given = db.prescription_movements(rx.id)?;
            out.push(RxToFill {
                id: rx.id,
                number: crate::clinical::prescriptions::prescription_number(rx.id),
                issued_at: rx.issued_at,
                expires_on: rx.expires_on,
                prescriber_name: rx.print.prescriber_name.clone(),
                lines: rx
                    .lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, line)| RxLineToFill {
                        index: i as u32,
                        dispensed: given
                            .iter()
                            .filter(|m| m.prescription_line == Some(i as u32))
                            .map(|m| -m.quantity)
                            .sum(),
                        line,
                    })
                    .collect(),
            });
        }
        self.ws.audit_read(
            &s,
            now,
            AuditEntry {
                action: "prescription.list_to_dispense",
                entity_type: clinic_core::clinical::Prescription::KIND,
                entity_id: None,
                patient_id: Some(patient),
                details: json!({"shown": out.len()}),
            },
        )?;
        Ok(out)
    }

    /// Today at the home site (what expiry is judged against).
    pub fn today_here(&self) -> ClinicResult<NaiveDate> {
        self.today(self.ws.now())
    }

    /// What a dispense and its plan both start from: the session's time,
    /// today at the site, the item, the site, the override's reason, and
    /// the lots it takes.
    fn start_dispense(&mut self, r: &DispenseReq, action: Action) -> ClinicResult<DispenseStart> {
        let (_, now) = self.act(action)?;
        let today = self.today(now)?;
        let item = self.item(&r.item)?;
        if r.quantity <= 0 || r.quantity > MAX_QUANTITY {
            return Err(ClinicError::field(
                "quantity",
                "must be a whole number above zero",
            ));
        }
        let site = self.site_or_home(r.site)?;
        let reason = r
            .override_reason
            .as_deref()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string);
        let plan = self.plan_dispense(&item, r, site, today, reason.is_some())?;
        Ok(DispenseStart {
            now,
            today,
            item,
            site,
            reason,
            plan,
        })
    }

    /// An item's total on hand at a site.
    fn on_hand_at(&self, item: Uuid, site: Uuid) -> ClinicResult<i64> {
        Ok(self.ws.store()?.db().item_total(item, site)?)
    }

    /// The lots a dispense takes at `site` on `today`: the chosen one, or
    /// first expiry first out; refused (`CONFIRMATION_NEEDED`) for stock it
    /// cannot cover without an override.
    fn plan_dispense(
        &self,
        item: &StockItem,
        r: &DispenseReq,
        site: Uuid,
        today: NaiveDate,
        overridden: bool,
    ) -> ClinicResult<Vec<(StockBatch, i64)>> {
        let lots = self.ws.store()?.db().lots_at(item.id, site)?;
        Ok(match &r.lot {
            Some(l) => {
                let b = self.lot(item, Some(l))?;
                let have = lots
                    .iter()
                    .find(|x| x.batch.id == b.id)
                    .map_or(0, |x| x.quantity);
                if have < r.quantity && !overridden {
                    return Err(short(item, have, &self.site_name(site)));
                }
                if b.expired_on(today) && !overridden {
                    return Err(expired(
                        item,
                        &b,
                        &self.show_date(b.expiry.unwrap_or_default()),
                    ));
                }
                vec![(b, r.quantity)]
            }
            None => match plan_fefo(&lots, r.quantity, today, overridden) {
                Ok(p) => p,
                Err(have) => {
                    let only_expired = lots
                        .iter()
                        .any(|l| l.quantity > 0 && l.batch.expired_on(today));
                    return Err(if have == 0 && only_expired {
                        ClinicError::new(
                            ErrorCode::ConfirmationNeeded,
                            format!(
                                "Every lot of {} on hand here has expired: dispense one only with an override and a reason.",
                                item.sku
                            ),
                        )
                    } else if lots.is_empty() {
                        ClinicError::new(
                            ErrorCode::NotFound,
                            format!("No stock of {} has been received yet.", item.sku),
                        )
                    } else {
                        short(item, have, &self.site_name(site))
                    });
                }
            },
        })
    }

    /// The prescription's patient and the line the item fills.
    fn prescription_line(
        &self,
        id: Uuid,
        line: Option<u32>,
        item: &StockItem,
        today: NaiveDate,
    ) -> ClinicResult<(Uuid, u32)> {
        let rx = self
            .ws
            .store()?
            .db()
            .prescription(id)?
            .ok_or_else(|| ClinicError::not_found("Prescription"))?;
        if rx.status != PrescriptionStatus::Active {
            return Err(ClinicError::conflict(format!(
                "This prescription is {}: nothing more is dispensed against it.",
                rx.status.as_str()
            )));
        }
        if rx.expires_on < today {
            return Err(ClinicError::conflict(format!(
                "This prescription expired on {}.",
                self.show_date(rx.expires_on)
            )));
        }
        let n = rx.lines.len() as u32;
        let chosen = match line {
            Some(l) if l < n => l,
            Some(_) => {
                return Err(ClinicError::field(
                    "line",
                    format!("the prescription has {n} lines"),
                ))
            }
            None => {
                let names: Vec<String> = [
                    Some(&item.name),
                    item.generic_name.as_ref(),
                    item.brand_name.as_ref(),
                ]
                .into_iter()
                .flatten()
                .map(|s| s.to_lowercase())
                .collect();
                let found = rx.lines.iter().position(|l| {
                    let drug = l.drug.to_lowercase();
                    !drug.is_empty()
                        && names
                            .iter()
                            .any(|nm| nm.contains(&drug) || drug.contains(nm.as_str()))
                });
                match (found, n) {
                    (Some(i), _) => i as u32,
                    (None, 1) => 0,
                    _ => {
                        return Err(ClinicError::field(
                            "line",
                            format!("name the prescription's line this fills (it has {n})"),
                        ))
                    }
                }
            }
        };
        Ok((rx.patient_id, chosen))
    }

    /// The invoice line that bills `qty` of `item`: a new line on a draft,
    /// or an issued invoice's line for the item not yet dispensed.
    fn bill_line(
        &mut self,
        id: Uuid,
        item: &StockItem,
        qty: i64,
        patient: Option<Uuid>,
    ) -> ClinicResult<u32> {
        let (s, now) = self.ws.act(Module::Billing, Action::Edit)?;
        s.permissions.require_flag(SensitiveFlag::FinancialData)?;
        let db = self.ws.store()?.db();
        let inv: Invoice = db
            .invoice(id)?
            .ok_or_else(|| ClinicError::not_found("Invoice"))?;
        if patient.is_some_and(|p| p != inv.patient_id) {
            return Err(ClinicError::field("invoice", "is another patient's"));
        }
        let priced = db.price_items()?.into_iter().find(|p| {
            p.sku
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(&item.sku))
        });
        let code_matches = |l: &LineInput| {
            l.code.as_deref().is_some_and(|c| {
                c.eq_ignore_ascii_case(&item.sku)
                    || priced
                        .as_ref()
                        .is_some_and(|p| p.code.eq_ignore_ascii_case(c))
            })
        };
        match inv.status {
            InvoiceStatus::Draft => {
                let digits = db.clinic_settings()?.minor_digits();
                let today = self.today(now)?;
                let (item_ref, code, price, tax) = match priced
                    .as_ref()
                    .and_then(|p| p.price_on(today).map(|v| (p, v)))
                {
                    Some((p, v)) => (Some(p.id), p.code.clone(), v.price, v.tax_rate),
                    None => (None, item.sku.clone(), item.sale_price, item.tax_rate),
                };
                let mut lines: Vec<LineInput> = inv.lines.iter().map(|l| l.input.clone()).collect();
                lines.push(LineInput {
                    item: item_ref,
                    code: Some(code),
                    description: item.name.clone(),
                    quantity: Decimal::from(qty),
                    unit_price: round(price, digits),
                    tax_rate: tax,
                    discount_percent: Decimal::ZERO,
                    discount_code: None,
                });
                let index = (lines.len() - 1) as u32;
                let patient_id = inv.patient_id;
                self.ws.commit_change(
                    &s,
                    now,
                    |_| {
                        Ok(Mutation::new(EditInvoice {
                            invoice: id,
                            lines: Some(lines),
                            ..Default::default()
                        }))
                    },
                    |_| {
                        vec![AuditEntry {
                            action: "invoice.edit",
                            entity_type: Invoice::KIND,
                            entity_id: Some(id),
                            patient_id: Some(patient_id),
                            details: json!({"added": item.sku, "quantity": qty}),
                        }]
                    },
                )?;
                Ok(index)
            }
            st if st.is_open() => {
                let linked: Vec<u32> = db
                    .invoice_movements(id)?
                    .iter()
                    .filter_map(|m| m.invoice_line)
                    .collect();
                inv.lines
                    .iter()
                    .enumerate()
                    .find(|(i, l)| code_matches(&l.input) && !linked.contains(&(*i as u32)))
                    .map(|(i, _)| i as u32)
                    .ok_or_else(|| {
                        ClinicError::conflict(format!(
                            "Invoice {} is issued and has no line for {} left to link: dispense against a draft invoice.",
                            inv.number.as_deref().unwrap_or(""),
                            item.sku
                        ))
                    })
            }
            st => Err(ClinicError::conflict(format!(
                "This invoice is {}: nothing is billed on it.",
                st.as_str()
            ))),
        }
    }

    /// An adjustment (+ or −) of a lot with a reason, or an expired lot
    /// written off (its whole on-hand when no quantity is given).
    pub fn adjust(
        &mut self,
        code: &str,
        lot: Option<&str>,
        quantity: Option<i64>,
        reason: &str,
        write_off: bool,
        site: Option<Uuid>,
    ) -> ClinicResult<MovementView> {
        let (_, now) = self.act(Action::Edit)?;
        let today = self.today(now)?;
        let item = self.item(code)?;
        let b = self.lot(&item, lot)?;
        let site = self.site_or_home(site)?;
        let here = self
            .ws
            .store()?
            .db()
            .lots_at(item.id, site)?
            .into_iter()
            .find(|l| l.batch.id == b.id)
            .map_or(0, |l| l.quantity);
        let q = match (write_off, quantity) {
            (true, Some(q)) => -q.abs(),
            (true, None) if here > 0 => -here,
            (true, None) => {
                return Err(ClinicError::conflict(format!(
                    "Nothing of lot {} is on hand here to write off.",
                    b.lot
                )))
            }
            (false, Some(q)) => q,
            (false, None) => return Err(ClinicError::field("quantity", "is required")),
        };
        let kind = if write_off {
            MovementKind::ExpiryWriteOff
        } else {
            MovementKind::Adjustment
        };
        let mut m = StockMovement::new(new_id(now), kind, &b, site, q, today);
        m.reason = Some(reason.trim().to_string());
        let view_of = m.clone();
        self.commit_movements(
            Action::Edit,
            Mutation::new(AdjustStock { movements: vec![m] }),
            if write_off {
                "stock.write_off"
            } else {
                "stock.adjust"
            },
            None,
            json!({"sku": item.sku, "lot": b.lot, "quantity": q, "reason": reason}),
        )?;
        let stored = self
            .ws
            .store()?
            .db()
            .movement(view_of.id)?
            .unwrap_or(view_of);
        Ok(self.movement_view(&stored, &mut HashMap::new()))
    }

    /// Moves `quantity` on paper from one lot to another of the same item
    /// at a site (the answer to a lot below zero), with a reason.
    pub fn reallocate(
        &mut self,
        code: &str,
        from: Option<&str>,
        to: Option<&str>,
        quantity: i64,
        reason: &str,
        site: Option<Uuid>,
    ) -> ClinicResult<Vec<MovementView>> {
        let (_, now) = self.act(Action::Edit)?;
        let today = self.today(now)?;
        let item = self.item(code)?;
        let (a, b) = (self.lot(&item, from)?, self.lot(&item, to)?);
        let site = self.site_or_home(site)?;
        if quantity <= 0 {
            return Err(ClinicError::field("quantity", "must be above zero"));
        }
        let mk = |batch: &StockBatch, q: i64| {
            let mut m = StockMovement::new(
                new_id(now),
                MovementKind::Reallocation,
                batch,
                site,
                q,
                today,
            );
            m.reason = Some(reason.trim().to_string());
            m
        };
        let ms = vec![mk(&a, -quantity), mk(&b, quantity)];
        let copy = ms.clone();
        self.commit_movements(
            Action::Edit,
            Mutation::new(AdjustStock { movements: ms }),
            "stock.reallocate",
            None,
            json!({"sku": item.sku, "from": a.lot, "to": b.lot, "quantity": quantity, "reason": reason}),
        )?;
        let mut lots = HashMap::new();
        Ok(copy
            .iter()
            .map(|m| self.movement_view(m, &mut lots))
            .collect())
    }

    /// On-hand per lot and site (of one item, or of every item at a site).
    pub fn onhand(
        &mut self,
        code: Option<&str>,
        site: Option<Uuid>,
    ) -> ClinicResult<Vec<OnHandRow>> {
        self.act(Action::View)?;
        let db = self.ws.store()?.db();
        let rows: Vec<OnHand> = match code {
            Some(c) => {
                let it = self.item(c)?;
                db.item_onhand(it.id)?
                    .into_iter()
                    .filter(|o| site.is_none_or(|s| s == o.site_id))
                    .collect()
            }
            None => db.onhand(site)?,
        };
        let mut items: HashMap<Uuid, StockItem> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for o in rows {
            let it = match items.get(&o.item_id) {
                Some(i) => i.clone(),
                None => {
                    let i = db
                        .stock_item(o.item_id)?
                        .ok_or_else(|| ClinicError::internal("an item on hand is missing"))?;
                    items.insert(o.item_id, i.clone());
                    i
                }
            };
            let b = db.batch(o.batch_id)?;
            out.push(OnHandRow {
                item_id: o.item_id,
                sku: it.sku,
                name: it.name,
                batch_id: o.batch_id,
                lot: b.as_ref().map(|b| b.lot.clone()).unwrap_or_default(),
                expiry: b.and_then(|b| b.expiry),
                site_id: o.site_id,
                site_name: self.site_name(o.site_id),
                quantity: o.quantity,
            });
        }
        Ok(out)
    }

    /// An item with its lots at every site, totals and latest movements.
    pub fn item_detail(&mut self, code: &str) -> ClinicResult<ItemDetail> {
        let (_, now) = self.act(Action::View)?;
        let today = self.today(now)?;
        let item = self.item(code)?;
        let sites = self.sites()?;
        let db = self.ws.store()?.db();
        let mut lots = vec![];
        let mut totals = vec![];
        for s in &sites {
            let mut total = 0;
            for l in db.lots_at(item.id, s.id)? {
                total += l.quantity;
                if l.quantity != 0 {
                    lots.push(LotView {
                        batch_id: l.batch.id,
                        expired: l.batch.expired_on(today),
                        lot: l.batch.lot,
                        expiry: l.batch.expiry,
                        unit_cost: l.batch.unit_cost,
                        site_id: s.id,
                        site_name: s.name.clone(),
                        quantity: l.quantity,
                    });
                }
            }
            totals.push(SiteStock {
                site_id: s.id,
                site_name: s.name.clone(),
                on_hand: total,
                low: item.reorder_point > 0 && total < item.reorder_point,
            });
        }
        let category = match item.category_id {
            Some(c) => db
                .stock_categories()?
                .into_iter()
                .find(|x| x.id == c)
                .map(|x| x.name),
            None => None,
        };
        let ms = db.item_movements(item.id, 50)?;
        let mut names = HashMap::new();
        let movements = ms
            .iter()
            .map(|m| self.movement_view(m, &mut names))
            .collect();
        Ok(ItemDetail {
            item,
            category,
            sites: totals,
            lots,
            movements,
        })
    }

    /// What stock is worth at a site (every site: `None`): on-hand × the
    /// lot's cost, to the currency's minor unit.
    pub fn valuation(&mut self, site: Option<Uuid>) -> ClinicResult<Valuation> {
        self.act(Action::View)?;
        let db = self.ws.store()?.db();
        let settings = db.clinic_settings()?;
        let rows = db.lot_costs(site)?;
        let mut total = Decimal::ZERO;
        let mut items = std::collections::HashSet::new();
        for (item, q, cost) in &rows {
            total += Decimal::from(*q) * cost;
            items.insert(*item);
        }
        Ok(Valuation {
            site_id: site,
            site_name: site.map_or_else(|| "All sites".to_string(), |s| self.site_name(s)),
            method: "Lot cost: on-hand × what each lot cost (the average of its receipts); dispensing first-expiry-first-out uses up the oldest costs first".into(),
            currency: settings.currency.clone(),
            total: round(total, settings.minor_digits()),
            lots: rows.len(),
            items: items.len(),
        })
    }

    /// Alerts: lots below zero (with the movements that took them there
    /// and a reallocation to propose), expired lots with stock, lots
    /// expiring within `days`, items below their reorder point at a site.
    pub fn alerts(&mut self, days: i64) -> ClinicResult<Vec<Alert>> {
        let (_, now) = self.act(Action::View)?;
        let today = self.today(now)?;
        let sites = self.sites()?;
        let db = self.ws.store()?.db();
        let mut items: HashMap<Uuid, StockItem> = HashMap::new();
        let item_of = |id: Uuid, items: &mut HashMap<Uuid, StockItem>| -> ClinicResult<StockItem> {
            if let Some(i) = items.get(&id) {
                return Ok(i.clone());
            }
            let i = db
                .stock_item(id)?
                .ok_or_else(|| ClinicError::internal("an item is missing"))?;
            items.insert(id, i.clone());
            Ok(i)
        };
        let mut out = vec![];
        let mut lot_names = HashMap::new();
        for o in db.negative_onhand()? {
            let it = item_of(o.item_id, &mut items)?;
            let b = db.batch(o.batch_id)?;
            let lot = b.as_ref().map(|b| b.lot.clone()).unwrap_or_default();
            let ledger = db.lot_movements(o.batch_id, o.site_id)?;
            let causes = causes_of_negative(&ledger);
            let caused_by = causes
                .iter()
                .map(|m| self.movement_view(m, &mut lot_names))
                .collect();
            let proposal = db
                .lots_at(o.item_id, o.site_id)?
                .into_iter()
                .find(|l| l.batch.id != o.batch_id && l.quantity > 0 && !l.batch.expired_on(today))
                .map(|l| Reallocation {
                    site_id: o.site_id,
                    from_batch: l.batch.id,
                    from_lot: l.batch.lot.clone(),
                    to_batch: o.batch_id,
                    to_lot: lot.clone(),
                    quantity: l.quantity.min(-o.quantity),
                });
            let site_name = self.site_name(o.site_id);
            out.push(Alert {
                kind: AlertKind::Negative,
                message: format!(
                    "{} lot {} at {} is at {} {}: more was given out than was recorded (on two desks, or stock not received). {}",
                    it.sku,
                    if lot.is_empty() { "-" } else { &lot },
                    site_name,
                    o.quantity,
                    it.unit,
                    match &proposal {
                        Some(p) => format!("Lot {} has {} on hand: move {} to lot {} if that is where it came from.", p.from_lot, p.quantity, p.quantity, p.to_lot),
                        None => "Count it, then record what arrived or correct it.".into(),
                    }
                ),
                item_id: it.id,
                sku: it.sku,
                name: it.name,
                unit: it.unit,
                site_id: o.site_id,
                site_name,
                batch_id: Some(o.batch_id),
                lot: Some(lot),
                expiry: b.and_then(|b| b.expiry),
                quantity: o.quantity,
                reorder_point: None,
                caused_by,
                proposal,
            });
        }
        let until = today + chrono::Duration::days(days.max(0));
        for (b, o) in db.expiring(None, until)? {
            let it = item_of(o.item_id, &mut items)?;
            let expired = b.expired_on(today);
            let site_name = self.site_name(o.site_id);
            out.push(Alert {
                kind: if expired {
                    AlertKind::Expired
                } else {
                    AlertKind::Expiring
                },
                message: if expired {
                    format!(
                        "{} lot {} at {} expired on {} ({} {} on hand): write it off.",
                        it.sku,
                        b.lot,
                        site_name,
                        self.show_date(b.expiry.unwrap_or_default()),
                        o.quantity,
                        it.unit
                    )
                } else {
                    format!(
                        "{} lot {} at {} expires on {} ({} {} on hand).",
                        it.sku,
                        b.lot,
                        site_name,
                        self.show_date(b.expiry.unwrap_or_default()),
                        o.quantity,
                        it.unit
                    )
                },
                item_id: it.id,
                sku: it.sku,
                name: it.name,
                unit: it.unit,
                site_id: o.site_id,
                site_name,
                batch_id: Some(b.id),
                lot: Some(b.lot.clone()),
                expiry: b.expiry,
                quantity: o.quantity,
                reorder_point: None,
                caused_by: vec![],
                proposal: None,
            });
        }
        let points = db.reorder_points()?;
        for s in &sites {
            let totals: HashMap<Uuid, i64> = db.item_totals(s.id)?.into_iter().collect();
            for (id, point) in &points {
                let q = totals.get(id).copied().unwrap_or(0);
                if q < *point {
                    let it = item_of(*id, &mut items)?;
                    out.push(Alert {
                        kind: AlertKind::Low,
                        message: format!(
                            "{} at {}: {} {} on hand, below the reorder point of {}.",
                            it.sku, s.name, q, it.unit, point
                        ),
                        item_id: it.id,
                        sku: it.sku,
                        name: it.name,
                        unit: it.unit,
                        site_id: s.id,
                        site_name: s.name.clone(),
                        batch_id: None,
                        lot: None,
                        expiry: None,
                        quantity: q,
                        reorder_point: Some(*point),
                        caused_by: vec![],
                        proposal: None,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The movements that took a lot below zero: the ones taking stock out
/// since its balance last stood above zero (two desks giving out the last
/// box are both named).
pub fn causes_of_negative(ledger: &[StockMovement]) -> Vec<StockMovement> {
    let mut sum = 0;
    let mut last_ok = 0;
    for (i, m) in ledger.iter().enumerate() {
        sum += m.quantity;
        if sum > 0 {
            last_ok = i + 1;
        }
    }
    ledger[last_ok..]
        .iter()
        .filter(|m| m.quantity < 0)
        .cloned()
        .collect()
}

fn short(item: &StockItem, have: i64, site: &str) -> ClinicError {
    ClinicError::new(
        ErrorCode::ConfirmationNeeded,
        format!(
            "Only {have} {} of {} {} on hand at {site} (not expired): dispense more only with an override and a reason.",
            item.unit,
            item.sku,
            if have == 1 { "is" } else { "are" }
        ),
    )
}

fn expired(item: &StockItem, b: &StockBatch, on: &str) -> ClinicError {
    ClinicError::new(
        ErrorCode::ConfirmationNeeded,
        format!(
            "Lot {} of {} expired on {on}: dispense it only with an override and a reason.",
            b.lot, item.sku
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn lot(name: &str, expiry: Option<i64>, qty: i64) -> LotStock {
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        LotStock {
            batch: StockBatch {
                id: StockBatch::id_for(Uuid::nil(), name),
                tenant_id: Uuid::nil(),
                item_id: Uuid::nil(),
                lot: name.into(),
                expiry: expiry.map(|d| today + chrono::Duration::days(d)),
                unit_cost: Decimal::ONE,
                received: qty.max(0),
                received_value: Decimal::ZERO,
                supplier_id: None,
                first_received_at: DateTime::<Utc>::default(),
                updated_at: DateTime::<Utc>::default(),
            },
            quantity: qty,
        }
    }

    fn names(p: &[(StockBatch, i64)]) -> Vec<(String, i64)> {
        p.iter().map(|(b, q)| (b.lot.clone(), *q)).collect()
    }

    #[test]
    fn fefo_skips_expired_and_empty_lots_and_needs_an_override_to_go_short() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        // As the store orders them: expiry first, no expiry last.
        let lots = vec![
            lot("GONE", Some(-1), 5),
            lot("EMPTY", Some(10), 0),
            lot("SOON", Some(20), 2),
            lot("LATER", Some(200), 3),
            lot("NODATE", None, 4),
        ];
        let p = plan_fefo(&lots, 6, today, false).unwrap();
        assert_eq!(
            names(&p),
            vec![
                ("SOON".into(), 2),
                ("LATER".into(), 3),
                ("NODATE".into(), 1)
            ]
        );
        // Short of what is in date: refused, saying how much there is.
        assert_eq!(plan_fefo(&lots, 10, today, false).unwrap_err(), 9);
        // With an override: then the expired lot, then below zero.
        let p = plan_fefo(&lots, 16, today, true).unwrap();
        assert_eq!(
            names(&p),
            vec![
                ("SOON".into(), 2),
                ("LATER".into(), 3),
                ("NODATE".into(), 4),
                ("GONE".into(), 7)
            ]
        );
        // A lot that ran out only takes an overridden dispense below zero.
        let empty = vec![lot("A", Some(30), 0)];
        assert_eq!(plan_fefo(&empty, 1, today, false).unwrap_err(), 0);
        assert_eq!(
            names(&plan_fefo(&empty, 1, today, true).unwrap()),
            vec![("A".into(), 1)]
        );
    }

    #[test]
    fn the_causes_of_a_lot_below_zero_are_the_outs_since_it_last_had_stock() {
        let mv = |q: i64| {
            let mut m = StockMovement::new(
                Uuid::from_u128(q.unsigned_abs() as u128 + if q < 0 { 100 } else { 0 }),
                if q < 0 {
                    MovementKind::Dispense
                } else {
                    MovementKind::Receipt
                },
                &lot("A", None, 0).batch,
                Uuid::nil(),
                q,
                NaiveDate::default(),
            );
            m.unit_cost = Decimal::ONE;
            m
        };
        // +5, −3, −1 (1 left), −1, −2: the last three took the last box and more.
        let ledger = vec![mv(5), mv(-3), mv(-1), mv(-1), mv(-2)];
        let c: Vec<i64> = causes_of_negative(&ledger)
            .iter()
            .map(|m| m.quantity)
            .collect();
        assert_eq!(c, vec![-1, -2]);
        let ledger = vec![mv(1), mv(-1), mv(-2)];
        let c: Vec<i64> = causes_of_negative(&ledger)
            .iter()
            .map(|m| m.quantity)
            .collect();
        assert_eq!(c, vec![-1, -2], "both desks that gave out the last box");
        assert!(causes_of_negative(&[mv(2), mv(-1)]).is_empty());
    }
}
