//! The rules of stock: receiving into lots, dispensing (never refused for
//! the quantity, refused for an expired lot without an override),
//! transfers, purchase orders and stocktakes; and, as a property, that
//! movements applied in any order on any number of copies add up to the
//! same on-hand, a second delivery counting nothing.

use super::*;
use crate::error::ErrorCode;
use crate::sync::{apply, Context, Mutation, MutationKind, Records};
use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

const TENANT: Uuid = Uuid::from_u128(1);
const USER: Uuid = Uuid::from_u128(2);
const SITE_A: Uuid = Uuid::from_u128(3);
const SITE_B: Uuid = Uuid::from_u128(4);

fn uid() -> Uuid {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1000);
    Uuid::from_u128(NEXT.fetch_add(1, Ordering::Relaxed) as u128 | (7 << 100))
}

fn at(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + n * 60, 0).unwrap()
}

fn cx(n: i64) -> Context {
    Context {
        tenant: TENANT,
        at: at(n),
        user: Some(USER),
    }
}

fn today() -> NaiveDate {
    at(0).date_naive()
}

fn item(sku: &str, batches: bool) -> StockItem {
    StockItem {
        id: StockItem::id_for(TENANT, sku),
        tenant_id: TENANT,
        sku: sku.into(),
        barcode: None,
        name: format!("Item {sku}"),
        generic_name: None,
        brand_name: None,
        manufacturer: None,
        category_id: None,
        unit: "box".into(),
        pack_size: 1,
        purchase_price: Decimal::new(150, 2),
        sale_price: Decimal::new(300, 2),
        tax_rate: Decimal::ZERO,
        min_stock: 0,
        max_stock: None,
        reorder_point: 5,
        track_batches: batches,
        track_expiry: batches,
        prescription_required: false,
        storage: None,
        discontinued: false,
        updated_at: at(0),
    }
}

fn run<M: crate::sync::MutationKind>(
    recs: &mut Records,
    n: i64,
    m: M,
) -> crate::ClinicResult<crate::sync::Applied> {
    apply(&Mutation::new(m), &cx(n), recs)
}

fn setup(sku: &str) -> (Records, StockItem) {
    let mut recs = Records::default();
    let it = item(sku, true);
    run(&mut recs, 0, AddStockItem { item: it.clone() }).unwrap();
    (recs, it)
}

fn receipt(it: &StockItem, lot: &str, expiry_days: i64, qty: i64, cost: i64) -> Receipt {
    let b = StockBatch::id_for(it.id, lot);
    let mut m = StockMovement::new(
        uid(),
        MovementKind::Receipt,
        &stub_batch(it, b),
        SITE_A,
        qty,
        today(),
    );
    m.unit_cost = Decimal::new(cost, 2);
    Receipt {
        movement: m,
        lot: lot.into(),
        expiry: Some(today() + chrono::Duration::days(expiry_days)),
        order_line: None,
    }
}

fn stub_batch(it: &StockItem, id: Uuid) -> StockBatch {
    StockBatch {
        id,
        tenant_id: TENANT,
        item_id: it.id,
        lot: String::new(),
        expiry: None,
        unit_cost: Decimal::ZERO,
        received: 0,
        received_value: Decimal::ZERO,
        supplier_id: None,
        first_received_at: at(0),
        updated_at: at(0),
    }
}

fn receive(recs: &mut Records, r: Receipt) -> crate::ClinicResult<crate::sync::Applied> {
    run(
        recs,
        1,
        ReceiveStock {
            receipts: vec![r],
            supplier: None,
            purchase_order: None,
        },
    )
}

fn out(recs: &Records, it: &StockItem, lot: &str, site: Uuid, qty: i64) -> StockMovement {
    let b = recs
        .get::<StockBatch>(StockBatch::id_for(it.id, lot))
        .unwrap();
    StockMovement::new(uid(), MovementKind::Dispense, b, site, -qty, today())
}

fn on_hand(recs: &Records) -> BTreeMap<(Uuid, Uuid), i64> {
    let mut m = BTreeMap::new();
    for mv in recs.all::<StockMovement>() {
        *m.entry((mv.batch_id, mv.site_id)).or_insert(0) += mv.quantity;
    }
    m
}

#[test]
fn receiving_creates_the_lot_and_averages_its_cost_on_a_second_receipt() {
    let (mut recs, it) = setup("AMOX500");
    receive(&mut recs, receipt(&it, "l1", 200, 10, 100)).unwrap();
    let b = recs
        .get::<StockBatch>(StockBatch::id_for(it.id, "L1"))
        .unwrap()
        .clone();
    assert_eq!(
        (b.lot.as_str(), b.received, b.unit_cost),
        ("L1", 10, Decimal::new(1, 0))
    );
    receive(&mut recs, receipt(&it, "L1", 200, 30, 200)).unwrap();
    let b = recs.get::<StockBatch>(b.id).unwrap().clone();
    assert_eq!(b.received, 40);
    assert_eq!(b.unit_cost, Decimal::new(175, 2), "(10×1 + 30×2) / 40");
    // The same lot with another expiry is refused, nothing changed.
    let err = receive(&mut recs, receipt(&it, "L1", 100, 5, 100)).unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert_eq!(recs.get::<StockBatch>(b.id).unwrap().received, 40);
    assert_eq!(on_hand(&recs)[&(b.id, SITE_A)], 40);
}

#[test]
fn a_lot_is_required_for_an_item_kept_by_lot_and_quantities_have_their_sign() {
    let (mut recs, it) = setup("AMOX500");
    let mut r = receipt(&it, "", 100, 10, 100);
    r.movement.batch_id = StockBatch::id_for(it.id, "");
    let e = receive(&mut recs, r).unwrap_err();
    assert!(e.message.contains("lot") || format!("{e:?}").contains("lot"));
    let e = receive(&mut recs, receipt(&it, "L1", 100, -3, 100)).unwrap_err();
    assert_eq!(e.code, ErrorCode::Validation);
    assert!(recs.all::<StockMovement>().next().is_none());
}

#[test]
fn dispensing_more_than_there_is_is_recorded_and_the_cost_is_the_lots() {
    let (mut recs, it) = setup("AMOX500");
    receive(&mut recs, receipt(&it, "L1", 100, 1, 250)).unwrap();
    for _ in 0..2 {
        let mut m = out(&recs, &it, "L1", SITE_A, 1);
        m.unit_cost = Decimal::new(999, 0); // what a desk claims is ignored
        run(&mut recs, 2, DispenseStock { movements: vec![m] }).unwrap();
    }
    let b = StockBatch::id_for(it.id, "L1");
    assert_eq!(on_hand(&recs)[&(b, SITE_A)], -1);
    assert!(recs
        .all::<StockMovement>()
        .all(|m| m.unit_cost == Decimal::new(250, 2)));
}

#[test]
fn an_expired_lot_is_dispensed_only_with_an_override_and_a_reason() {
    let (mut recs, it) = setup("AMOX500");
    receive(&mut recs, receipt(&it, "OLD", -1, 5, 100)).unwrap();
    let m = out(&recs, &it, "OLD", SITE_A, 1);
    let e = run(
        &mut recs,
        2,
        DispenseStock {
            movements: vec![m.clone()],
        },
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfirmationNeeded);
    let mut blank = m.clone();
    blank.override_reason = Some("  ".into());
    assert_eq!(
        run(
            &mut recs,
            2,
            DispenseStock {
                movements: vec![blank]
            }
        )
        .unwrap_err()
        .code,
        ErrorCode::Validation
    );
    let mut ok = m;
    ok.override_reason = Some("No other stock; checked with the prescriber".into());
    run(
        &mut recs,
        2,
        DispenseStock {
            movements: vec![ok],
        },
    )
    .unwrap();
    assert_eq!(recs.all::<StockMovement>().count(), 2);
}

#[test]
fn a_prescription_only_item_needs_a_prescription_or_an_override() {
    let mut recs = Records::default();
    let mut it = item("MORPH10", true);
    it.prescription_required = true;
    run(&mut recs, 0, AddStockItem { item: it.clone() }).unwrap();
    receive(&mut recs, receipt(&it, "L1", 100, 5, 100)).unwrap();
    let m = out(&recs, &it, "L1", SITE_A, 1);
    let e = run(
        &mut recs,
        2,
        DispenseStock {
            movements: vec![m.clone()],
        },
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfirmationNeeded);
    assert!(e.message.contains("prescription-only"));
}

#[test]
fn a_reallocation_moves_one_quantity_between_two_lots_with_a_reason() {
    let (mut recs, it) = setup("AMOX500");
    receive(&mut recs, receipt(&it, "A", 100, 5, 100)).unwrap();
    receive(&mut recs, receipt(&it, "B", 200, 5, 100)).unwrap();
    let mk = |lot: &str, q: i64, recs: &Records| {
        let mut m = out(recs, &it, lot, SITE_A, 0);
        m.kind = MovementKind::Reallocation;
        m.quantity = q;
        m.reason = Some("Dispensed from B, recorded against A".into());
        m
    };
    let bad = vec![mk("A", 2, &recs), mk("B", -3, &recs)];
    assert!(run(&mut recs, 3, AdjustStock { movements: bad }).is_err());
    let good = vec![mk("A", 2, &recs), mk("B", -2, &recs)];
    run(
        &mut recs,
        3,
        AdjustStock {
            movements: good.clone(),
        },
    )
    .unwrap();
    // A second delivery changes nothing.
    assert!(run(&mut recs, 4, AdjustStock { movements: good })
        .unwrap()
        .changed
        .is_empty());
    let oh = on_hand(&recs);
    assert_eq!(oh[&(StockBatch::id_for(it.id, "A"), SITE_A)], 7);
    assert_eq!(oh[&(StockBatch::id_for(it.id, "B"), SITE_A)], 3);
    let mut no_reason = mk("A", -1, &recs);
    no_reason.kind = MovementKind::Adjustment;
    no_reason.reason = None;
    assert!(run(
        &mut recs,
        5,
        AdjustStock {
            movements: vec![no_reason]
        }
    )
    .is_err());
}

#[test]
fn a_transfer_is_in_transit_until_received_once() {
    let (mut recs, it) = setup("AMOX500");
    receive(&mut recs, receipt(&it, "A", 100, 10, 100)).unwrap();
    let b = StockBatch::id_for(it.id, "A");
    let t = StockTransfer {
        id: uid(),
        tenant_id: TENANT,
        from_site: SITE_A,
        to_site: SITE_B,
        lines: vec![TransferLine {
            item_id: it.id,
            batch_id: b,
            quantity: 4,
        }],
        status: TransferStatus::InTransit,
        note: None,
        sent_by: USER,
        sent_at: at(0),
        received_by: None,
        received_at: None,
    };
    let mv = |kind, site, q: i64, recs: &Records| {
        let mut m = out(recs, &it, "A", site, 0);
        m.kind = kind;
        m.quantity = q;
        m.transfer_id = Some(t.id);
        m
    };
    let send = SendTransfer {
        transfer: t.clone(),
        movements: vec![mv(MovementKind::TransferOut, SITE_A, -4, &recs)],
    };
    run(&mut recs, 2, send).unwrap();
    assert_eq!(on_hand(&recs).get(&(b, SITE_B)), None);
    assert_eq!(on_hand(&recs)[&(b, SITE_A)], 6);
    let recv = |recs: &Records| ReceiveTransfer {
        transfer: t.id,
        movements: vec![mv(MovementKind::TransferIn, SITE_B, 4, recs)],
    };
    let first = recv(&recs);
    run(&mut recs, 3, first).unwrap();
    assert_eq!(on_hand(&recs)[&(b, SITE_B)], 4);
    let again = recv(&recs);
    assert_eq!(
        run(&mut recs, 4, again).unwrap_err().code,
        ErrorCode::Conflict
    );
    assert_eq!(
        recs.get::<StockTransfer>(t.id).unwrap().status,
        TransferStatus::Received
    );
}

fn order(it: &StockItem, n: u64) -> PurchaseOrder {
    PurchaseOrder {
        id: uid(),
        tenant_id: TENANT,
        number: (PURCHASE_ORDER_NUMBERS.format)(n),
        supplier_id: Uuid::from_u128(9),
        supplier_name: "Pharma Ltd".into(),
        site_id: SITE_A,
        lines: vec![OrderLine {
            item_id: it.id,
            sku: it.sku.clone(),
            name: it.name.clone(),
            quantity: 10,
            unit_cost: Decimal::new(120, 2),
            received: 0,
        }],
        status: OrderStatus::Pending,
        expected_on: None,
        notes: String::new(),
        created_by: USER,
        created_at: at(0),
        approved_by: None,
        approved_at: None,
        sent_at: None,
        cancel_reason: None,
        updated_at: at(0),
    }
}

#[test]
fn an_order_is_approved_then_received_in_parts_into_lots() {
    let (mut recs, it) = setup("AMOX500");
    let o = order(&it, 1);
    run(&mut recs, 1, CreatePurchaseOrder { order: o.clone() }).unwrap();
    let rcv = |lot: &str, q: i64| {
        let mut r = receipt(&it, lot, 300, q, 120);
        r.order_line = Some(0);
        ReceiveStock {
            receipts: vec![r],
            supplier: None,
            purchase_order: Some(o.id),
        }
    };
    // Not approved yet: nothing is received against it.
    assert_eq!(
        run(&mut recs, 2, rcv("L1", 6)).unwrap_err().code,
        ErrorCode::Conflict
    );
    let step = |s| ChangeOrderStatus {
        order: o.id,
        step: s,
        reason: None,
    };
    assert!(step(OrderStep::Approve)
        .permission()
        .flags
        .contains(&crate::permissions::SensitiveFlag::FinancialData));
    run(&mut recs, 3, step(OrderStep::Approve)).unwrap();
    run(&mut recs, 4, rcv("L1", 6)).unwrap();
    let po = recs.get::<PurchaseOrder>(o.id).unwrap();
    assert_eq!(
        (po.status, po.lines[0].outstanding()),
        (OrderStatus::PartiallyReceived, 4)
    );
    run(&mut recs, 5, rcv("L2", 4)).unwrap();
    let po = recs.get::<PurchaseOrder>(o.id).unwrap();
    assert_eq!(po.status, OrderStatus::Received);
    assert!(recs
        .all::<StockMovement>()
        .all(|m| m.purchase_order_id == Some(o.id)));
    // Goods came in: it is no longer cancelled.
    let mut cancel = step(OrderStep::Cancel);
    cancel.reason = Some("Changed supplier".into());
    assert_eq!(
        run(&mut recs, 6, cancel).unwrap_err().code,
        ErrorCode::Conflict
    );
}

#[test]
fn a_stocktake_posts_counted_minus_shown_and_refuses_a_stale_review() {
    let (mut recs, it) = setup("AMOX500");
    receive(&mut recs, receipt(&it, "A", 100, 10, 100)).unwrap();
    let b = StockBatch::id_for(it.id, "A");
    let st = Stocktake {
        id: uid(),
        tenant_id: TENANT,
        site_id: SITE_A,
        category_id: None,
        status: StocktakeStatus::Counting,
        counts: vec![],
        started_by: USER,
        started_at: at(0),
        posted_by: None,
        posted_at: None,
        corrections: vec![],
    };
    run(
        &mut recs,
        2,
        StartStocktake {
            stocktake: st.clone(),
        },
    )
    .unwrap();
    let count = |counted, shown| CountStock {
        stocktake: st.id,
        count: StockCount {
            item_id: it.id,
            batch_id: b,
            counted,
            shown,
            by: USER,
            at: at(0),
        },
    };
    run(&mut recs, 3, count(7, 10)).unwrap();
    // Meanwhile another desk dispensed 2 (applied whenever it arrives).
    let d = out(&recs, &it, "A", SITE_A, 2);
    run(&mut recs, 4, DispenseStock { movements: vec![d] }).unwrap();
    let corr = |q: i64, recs: &Records| {
        let mut m = out(recs, &it, "A", SITE_A, 0);
        m.kind = MovementKind::StocktakeCorrection;
        m.quantity = q;
        m.stocktake_id = Some(st.id);
        m
    };
    // A review that does not match the counts is refused.
    let stale = PostStocktake {
        stocktake: st.id,
        movements: vec![corr(-2, &recs)],
    };
    assert_eq!(
        run(&mut recs, 5, stale).unwrap_err().code,
        ErrorCode::Conflict
    );
    let post = PostStocktake {
        stocktake: st.id,
        movements: vec![corr(-3, &recs)],
    };
    run(&mut recs, 6, post.clone()).unwrap();
    assert!(run(&mut recs, 7, post).unwrap().changed.is_empty());
    // Counted 7 when 10 showed; the 2 dispensed elsewhere come on top.
    assert_eq!(on_hand(&recs)[&(b, SITE_A)], 5);
    assert_eq!(
        run(&mut recs, 8, count(1, 1)).unwrap_err().code,
        ErrorCode::Conflict
    );
}

#[test]
fn skus_and_numbers_read_back() {
    assert_eq!(normalize_sku(" amox-500 ").unwrap(), "AMOX-500");
    assert!(normalize_sku("").is_err());
    assert!(normalize_sku("a b").is_err());
    for v in [1u64, 42, 999_999, 1_234_567] {
        let s = (PURCHASE_ORDER_NUMBERS.format)(v);
        assert_eq!((PURCHASE_ORDER_NUMBERS.parse)(&s), Some(v));
        assert_eq!((PURCHASE_ORDER_NUMBERS.parse)(&s.to_lowercase()), Some(v));
    }
    assert_eq!((PURCHASE_ORDER_NUMBERS.parse)("PO-"), None);
    assert_eq!((PURCHASE_ORDER_NUMBERS.parse)("INV-000001"), None);
    assert_eq!(
        StockItem::id_for(TENANT, "amox500"),
        StockItem::id_for(TENANT, "AMOX500")
    );
}

/// A desk's movement: which lot (of three), site, kind and how many.
#[derive(Debug, Clone)]
struct Op {
    lot: usize,
    site: bool,
    kind: u8,
    qty: i64,
}

fn op() -> impl Strategy<Value = Op> {
    (0usize..3, any::<bool>(), 0u8..4, 1i64..20).prop_map(|(lot, site, kind, qty)| Op {
        lot,
        site,
        kind,
        qty,
    })
}

proptest! {
    /// Movements made on several desks, delivered in any order and some
    /// twice, give every copy the same on-hand per lot and site, equal to
    /// the sum of the ledger; none is refused for the quantity on hand.
    #[test]
    fn movements_add_up_the_same_in_any_order(
        desks in prop::collection::vec(prop::collection::vec(op(), 1..8), 1..4),
        seed in any::<u64>(),
    ) {
        let (base, it) = setup("AMOX500");
        let mut base = base;
        for lot in ["A", "B", "C"] {
            receive(&mut base, receipt(&it, lot, 100, 5, 100)).unwrap();
        }
        let lots: Vec<Uuid> = ["A", "B", "C"].iter().map(|l| StockBatch::id_for(it.id, l)).collect();
        let mut made: Vec<Mutation> = vec![];
        for ops in &desks {
            for o in ops {
                let b = base.get::<StockBatch>(lots[o.lot]).unwrap().clone();
                let site = if o.site { SITE_A } else { SITE_B };
                let (kind, q) = match o.kind {
                    0 => (MovementKind::Dispense, -o.qty),
                    1 => (MovementKind::Adjustment, o.qty),
                    2 => (MovementKind::ExpiryWriteOff, -o.qty),
                    _ => (MovementKind::Adjustment, -o.qty),
                };
                let mut m = StockMovement::new(uid(), kind, &b, site, q, today());
                m.reason = Some("counted".into());
                made.push(if kind == MovementKind::Dispense {
                    Mutation::new(DispenseStock { movements: vec![m] })
                } else {
                    Mutation::new(AdjustStock { movements: vec![m] })
                });
            }
        }
        // Two copies: one in the order made, one shuffled with repeats.
        let mut order: Vec<usize> = (0..made.len()).collect();
        let mut s = seed;
        for i in (1..order.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut a = base.clone();
        let mut b = base.clone();
        for m in &made {
            apply(m, &cx(10), &mut a).expect("never refused for the quantity");
        }
        for (k, i) in order.iter().enumerate() {
            apply(&made[*i], &cx(20 + k as i64), &mut b).unwrap();
            if k % 2 == 0 {
                let again = apply(&made[*i], &cx(40), &mut b).unwrap();
                prop_assert!(again.changed.is_empty(), "a second delivery counts nothing");
            }
        }
        prop_assert_eq!(on_hand(&a), on_hand(&b));
        let mut expect: BTreeMap<(Uuid, Uuid), i64> = BTreeMap::new();
        for l in &lots {
            *expect.entry((*l, SITE_A)).or_insert(0) += 5;
        }
        for m in &made {
            let mv = m.get::<DispenseStock>().map(|d| &d.movements[0])
                .or_else(|| m.get::<AdjustStock>().map(|d| &d.movements[0])).unwrap();
            *expect.entry((mv.batch_id, mv.site_id)).or_insert(0) += mv.quantity;
        }
        prop_assert_eq!(on_hand(&a), expect);
    }
}
