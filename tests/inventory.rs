//! Stock across workstations and the real server: two offline desks give
//! out the last box (both succeed; after sync the lot is below zero on
//! every desk and the server, with an alert naming both and a
//! reallocation proposed, applied only when a manager says so), first
//! expiry first out over three lots, and a stocktake posted while another
//! desk dispensed during the count.

use crate::{signed_in, sync};
use clinic_client::inventory::stock::{AlertKind, DispenseReq, ReceiveReq};
use clinic_client::inventory::NewItem;
use clinic_client::Workstation;
use std::collections::BTreeMap;
use uuid::Uuid;

fn day(offset: i64) -> chrono::NaiveDate {
    chrono::Utc::now().date_naive() + chrono::Duration::days(offset)
}

fn add_item(ws: &mut Workstation, sku: &str, reorder: i64) {
    ws.inventory()
        .add_item(NewItem {
            sku: sku.into(),
            name: format!("{sku} 500 mg capsules"),
            unit: "box".into(),
            reorder_point: reorder,
            purchase_price: Some("2.00".into()),
            track_expiry: true,
            ..Default::default()
        })
        .unwrap();
}

fn receive(ws: &mut Workstation, sku: &str, lot: &str, expiry_days: i64, qty: i64, cost: &str) {
    ws.inventory()
        .receive(ReceiveReq {
            item: sku.into(),
            lot: Some(lot.into()),
            expiry: Some(day(expiry_days)),
            quantity: qty,
            cost: Some(cost.into()),
            ..Default::default()
        })
        .unwrap();
}

fn dispense(ws: &mut Workstation, sku: &str, qty: i64) -> Vec<(String, i64)> {
    ws.inventory()
        .dispense(DispenseReq {
            item: sku.into(),
            quantity: qty,
            ..Default::default()
        })
        .unwrap()
        .batches
        .into_iter()
        .map(|b| (b.lot, b.quantity))
        .collect()
}

/// On-hand per lot (by lot number) at every site, on a desk.
fn desk_onhand(ws: &mut Workstation, sku: &str) -> BTreeMap<String, i64> {
    ws.inventory()
        .onhand(Some(sku), None)
        .unwrap()
        .into_iter()
        .map(|r| (r.lot, r.quantity))
        .collect()
}

/// The server's on-hand per lot id, and the sum of its ledger per lot id.
fn server_onhand(
    server: &sync_server::testing::TestServer,
) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let read = |sql: &str| -> BTreeMap<String, i64> {
        server
            .query(sql)
            .into_iter()
            .map(|r| {
                (
                    r[0].clone().unwrap(),
                    r[1].clone().unwrap().parse().unwrap(),
                )
            })
            .collect()
    };
    (
        read("SELECT batch_id::text, quantity::text FROM stock_onhand"),
        read("SELECT batch_id::text, sum(quantity)::text FROM stock_movements GROUP BY batch_id"),
    )
}

/// On-hand per lot id on a desk, as the server keys it.
fn desk_by_id(ws: &mut Workstation) -> BTreeMap<String, i64> {
    ws.inventory()
        .onhand(None, None)
        .unwrap()
        .into_iter()
        .map(|r| (r.batch_id.to_string(), r.quantity))
        .collect()
}

#[test]
fn two_offline_desks_give_out_the_last_box_and_every_desk_shows_it_below_zero_with_an_alert() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    add_item(&mut a, "AMOX", 0);
    receive(&mut a, "AMOX", "SOON", 30, 1, "2.00");
    receive(&mut a, "AMOX", "LATER", 300, 3, "2.50");
    sync(&mut a);
    sync(&mut b);
    // Offline, both desks give out one box: the first-expiring lot's last.
    assert_eq!(dispense(&mut a, "AMOX", 1), vec![("SOON".to_string(), 1)]);
    assert_eq!(dispense(&mut b, "AMOX", 1), vec![("SOON".to_string(), 1)]);
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    let expect: BTreeMap<String, i64> = [("LATER".to_string(), 3), ("SOON".to_string(), -1)].into();
    for ws in [&mut a, &mut b] {
        assert_eq!(desk_onhand(ws, "AMOX"), expect);
        let alerts = ws.inventory().alerts(90).unwrap();
        let neg: Vec<_> = alerts
            .iter()
            .filter(|x| x.kind == AlertKind::Negative)
            .collect();
        assert_eq!(neg.len(), 1, "{alerts:?}");
        assert_eq!(neg[0].quantity, -1);
        assert_eq!(
            neg[0].caused_by.len(),
            2,
            "both desks' dispenses are named: {:?}",
            neg[0].caused_by
        );
        let p = neg[0].proposal.clone().expect("another lot has stock");
        assert_eq!(
            (p.from_lot.as_str(), p.to_lot.as_str(), p.quantity),
            ("LATER", "SOON", 1)
        );
    }
    let (onhand, ledger) = server_onhand(&server);
    assert_eq!(onhand, ledger, "the server's on-hand is its ledger's sum");
    assert_eq!(desk_by_id(&mut a), onhand);
    assert_eq!(desk_by_id(&mut b), onhand);
    // Nothing applies the proposal by itself; a manager does.
    sync(&mut a);
    assert_eq!(desk_onhand(&mut a, "AMOX")["SOON"], -1);
    a.inventory()
        .reallocate(
            "AMOX",
            Some("LATER"),
            Some("SOON"),
            1,
            "The box given out was from LATER",
            None,
        )
        .unwrap();
    for ws in [&mut a, &mut b] {
        sync(ws);
    }
    let fixed: BTreeMap<String, i64> = [("LATER".to_string(), 2), ("SOON".to_string(), 0)].into();
    assert_eq!(desk_onhand(&mut b, "AMOX"), fixed);
    assert!(b
        .inventory()
        .alerts(90)
        .unwrap()
        .iter()
        .all(|x| x.kind != AlertKind::Negative));
    let (onhand, _) = server_onhand(&server);
    assert_eq!(desk_by_id(&mut b), onhand);
}

#[test]
fn dispensing_takes_the_first_expiring_of_three_lots_first_on_every_desk() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    add_item(&mut a, "PARA", 5);
    // Received out of expiry order; one lot already expired.
    receive(&mut a, "PARA", "MID", 90, 4, "1.00");
    receive(&mut a, "PARA", "LAST", 400, 10, "1.10");
    receive(&mut a, "PARA", "FIRST", 20, 3, "0.90");
    receive(&mut a, "PARA", "GONE", -2, 5, "0.80");
    sync(&mut a);
    sync(&mut b);
    assert_eq!(
        dispense(&mut b, "PARA", 5),
        vec![("FIRST".to_string(), 3), ("MID".to_string(), 2)],
        "first expiry first, the expired lot skipped"
    );
    assert_eq!(
        dispense(&mut b, "PARA", 4),
        vec![("MID".to_string(), 2), ("LAST".to_string(), 2)]
    );
    // A chosen lot is taken as chosen.
    let chosen = b
        .inventory()
        .dispense(DispenseReq {
            item: "PARA".into(),
            quantity: 1,
            lot: Some("last".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(chosen.batches[0].lot, "LAST");
    sync(&mut b);
    sync(&mut a);
    let expect: BTreeMap<String, i64> = [
        ("FIRST".to_string(), 0),
        ("GONE".to_string(), 5),
        ("LAST".to_string(), 7),
        ("MID".to_string(), 0),
    ]
    .into();
    assert_eq!(desk_onhand(&mut a, "PARA"), expect);
    // Dispensing is costed at each lot's cost when the server applied it.
    let costs: Vec<(i64, String)> = server
        .query("SELECT quantity::text, round(unit_cost, 2)::text FROM stock_movements WHERE kind = 'dispense' ORDER BY stock_movements.quantity, stock_movements.unit_cost")
        .into_iter()
        .map(|r| (r[0].clone().unwrap().parse().unwrap(), r[1].clone().unwrap()))
        .collect();
    assert_eq!(
        costs,
        vec![
            (-3, "0.90".to_string()),
            (-2, "1.00".to_string()),
            (-2, "1.00".to_string()),
            (-2, "1.10".to_string()),
            (-1, "1.10".to_string())
        ]
    );
    let (onhand, ledger) = server_onhand(&server);
    assert_eq!(onhand, ledger);
    assert_eq!(desk_by_id(&mut a), onhand);
    // 7 in date is not below the reorder point of 5; the expired lot alerts.
    let alerts = a.inventory().alerts(30).unwrap();
    assert!(alerts
        .iter()
        .any(|x| x.kind == AlertKind::Expired && x.lot.as_deref() == Some("GONE")));
    assert!(!alerts.iter().any(|x| x.kind == AlertKind::Low));
}

#[test]
fn a_stocktake_posted_while_another_desk_dispensed_during_the_count_ends_with_the_right_on_hand() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    add_item(&mut a, "IBU", 0);
    receive(&mut a, "IBU", "L1", 200, 10, "3.00");
    let st = a.inventory().start_stocktake(None, None).unwrap();
    let id = st.stocktake.id.to_string();
    sync(&mut a);
    sync(&mut b);
    // The counter on desk A finds 9 (one box broken); meanwhile desk B,
    // offline, gives out 2. A's count is against the 10 it showed.
    let counted = a.inventory().count(&id, "IBU", Some("L1"), 9).unwrap();
    assert_eq!(counted.lines[0].variance, Some(-1));
    assert_eq!(dispense(&mut b, "IBU", 2), vec![("L1".to_string(), 2)]);
    a.inventory().post_stocktake(&id).unwrap();
    // Whatever order they sync in, the result is 10 − 1 − 2.
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    for ws in [&mut a, &mut b] {
        assert_eq!(desk_onhand(ws, "IBU")["L1"], 7);
    }
    let (onhand, ledger) = server_onhand(&server);
    assert_eq!(onhand, ledger);
    assert_eq!(onhand.values().copied().collect::<Vec<_>>(), vec![7]);
    // The stocktake is posted everywhere, once.
    let seen = b.inventory().stocktake(&id).unwrap();
    assert_eq!(
        seen.stocktake.status,
        clinic_core::inventory::StocktakeStatus::Posted
    );
    assert_eq!(seen.stocktake.corrections.len(), 1);
    let _: Uuid = seen.stocktake.corrections[0];
}
