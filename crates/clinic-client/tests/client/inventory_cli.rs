//! `clinic stock …`, `clinic po …` and `clinic stocktake …` as a script
//! drives them (the contract of issue #22), on a local store: a manager
//! orders and receives into two lots, a pharmacist dispenses first expiry
//! first out, an expired lot needs an override, a stocktake corrects what
//! was counted, and the alerts and valuation say what they should.

use super::cli::{ok, refused, s, Clinic};
use serde_json::Value;
use std::process::Output;

fn as_pharmacist(c: &Clinic, args: &[&str]) -> Output {
    c.as_user("pharm@test.clinic", "pharm-password-1", args)
}

fn day(offset: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(offset)).to_string()
}

/// (lot, quantity) of each row of `stock onhand --json`.
fn lots(v: &Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (s(r, "lot"), r["quantity"].as_i64().unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn a_manager_orders_and_receives_and_a_pharmacist_dispenses_first_expiry_first_from_the_command_line(
) {
    let c = Clinic::new();
    c.init();
    c.add_user(
        "pharm@test.clinic",
        "Pat Pharmacist",
        "pharmacist",
        "pharm-password-1",
    );
    c.admin(&[
        "stock",
        "supplier",
        "add",
        "--name",
        "Pharma Ltd",
        "--terms",
        "Net 30",
    ]);
    c.admin(&["stock", "category", "add", "--name", "Medicines"]);
    let item = c.admin(&[
        "stock",
        "item",
        "add",
        "--sku",
        "amox500",
        "--name",
        "Amoxicillin 500 mg capsules",
        "--unit",
        "box",
        "--reorder",
        "10",
        "--expiry",
        "--category",
        "Medicines",
        "--purchase-price",
        "1.20",
        "--sale-price",
        "4.50",
    ]);
    assert_eq!(s(&item, "sku"), "AMOX500");
    assert_eq!(item["track_batches"], true, "expiry is kept per lot");
    // The same SKU again is refused, whatever its case.
    let (code, e) = refused(&c.run(&[
        "--user",
        "admin@test.clinic",
        "stock",
        "item",
        "add",
        "--sku",
        "AMOX500",
        "--name",
        "x",
        "--unit",
        "box",
        "--json",
    ]));
    assert_eq!((code, s(&e, "code")), (7, "CONFLICT".into()));

    let po = c.admin(&[
        "po",
        "create",
        "--supplier",
        "Pharma Ltd",
        "--line",
        "AMOX500:20:1.20",
    ]);
    assert_eq!(s(&po, "number"), "PO-000001");
    let po_id = s(&po, "id");
    // Not approved: nothing is received against it; a pharmacist may not
    // approve (it spends money).
    let (code, _) = refused(&c.run(&[
        "--user",
        "admin@test.clinic",
        "po",
        "receive",
        &po_id,
        "--line",
        "AMOX500:8",
        "--lot",
        "A1",
        "--expiry",
        &day(30),
        "--json",
    ]));
    assert_eq!(code, 7);
    let (code, e) = refused(&as_pharmacist(&c, &["po", "approve", &po_id, "--json"]));
    assert_eq!((code, s(&e, "code")), (5, "FORBIDDEN".into()));
    c.admin(&["po", "approve", &po_id]);
    let part = c.admin(&[
        "po",
        "receive",
        &po_id,
        "--line",
        "AMOX500:8",
        "--lot",
        "A1",
        "--expiry",
        &day(30),
    ]);
    assert_eq!(part["order"]["status"], "partially_received");
    assert_eq!(part["outstanding"], 12);
    let full = c.admin(&[
        "po",
        "receive",
        &po_id,
        "--line",
        "AMOX500:12",
        "--lot",
        "B2",
        "--expiry",
        &day(200),
    ]);
    assert_eq!(full["order"]["status"], "received");
    // An expired lot on the shelf, received without an order.
    c.admin(&[
        "stock",
        "receive",
        "--sku",
        "AMOX500",
        "--lot",
        "OLD",
        "--expiry",
        &day(-1),
        "--qty",
        "2",
        "--cost",
        "1.00",
        "--supplier",
        "Pharma Ltd",
    ]);

    // First expiry first out: A1 (8) then B2, never the expired lot.
    let d = ok(as_pharmacist(
        &c,
        &[
            "stock", "dispense", "--sku", "AMOX500", "--qty", "10", "--json",
        ],
    ));
    let used: Vec<(String, i64)> = d["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (s(b, "lot"), b["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(used, vec![("A1".into(), 8), ("B2".into(), 2)]);
    assert_eq!(d["on_hand_after"], 12);
    // The expired lot only with an override and a reason.
    let (code, e) = refused(&as_pharmacist(
        &c,
        &[
            "stock", "dispense", "--sku", "AMOX500", "--qty", "1", "--batch", "OLD", "--json",
        ],
    ));
    assert_eq!((code, s(&e, "code")), (7, "CONFIRMATION_NEEDED".into()));
    assert!(s(&e, "message").contains("expired"), "{e}");
    ok(as_pharmacist(
        &c,
        &[
            "stock",
            "dispense",
            "--sku",
            "AMOX500",
            "--qty",
            "1",
            "--batch",
            "OLD",
            "--override",
            "--reason",
            "Patient leaving the country today; prescriber agreed",
            "--json",
        ],
    ));
    let onhand = ok(as_pharmacist(
        &c,
        &["stock", "onhand", "--sku", "AMOX500", "--json"],
    ));
    assert_eq!(
        lots(&onhand),
        vec![("A1".into(), 0), ("B2".into(), 10), ("OLD".into(), 1)]
    );

    // Alerts: the expired lot with stock; not yet low (11 ≥ 10).
    let alerts = ok(as_pharmacist(&c, &["stock", "alerts", "--json"]));
    let kinds: Vec<String> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| s(a, "kind"))
        .collect();
    assert!(kinds.contains(&"expired".to_string()), "{alerts}");
    assert!(
        !kinds.contains(&"expiring".to_string()),
        "A1 expires in 30 days but is empty; B2 expires in 200: {alerts}"
    );
    assert!(!kinds.contains(&"low".to_string()), "{alerts}");
    ok(as_pharmacist(
        &c,
        &[
            "stock", "dispense", "--sku", "AMOX500", "--qty", "2", "--json",
        ],
    ));
    let alerts = ok(as_pharmacist(&c, &["stock", "alerts", "--json"]));
    let low: Vec<&Value> = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "low")
        .collect();
    assert_eq!(low.len(), 1, "{alerts}");
    assert_eq!(low[0]["quantity"], 9);

    // A stocktake: 7 counted where 8 showed in B2; the correction is −1.
    let st = ok(as_pharmacist(&c, &["stocktake", "start", "--json"]));
    let st_id = s(&st, "id");
    let counted = ok(as_pharmacist(
        &c,
        &[
            "stocktake",
            "count",
            &st_id,
            "--sku",
            "AMOX500",
            "--lot",
            "B2",
            "--qty",
            "7",
            "--json",
        ],
    ));
    let line = counted["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lot"] == "B2")
        .unwrap()
        .clone();
    assert_eq!(
        (line["shown"].as_i64(), line["variance"].as_i64()),
        (Some(8), Some(-1))
    );
    ok(as_pharmacist(&c, &["stocktake", "post", &st_id, "--json"]));
    let onhand = ok(as_pharmacist(
        &c,
        &["stock", "onhand", "--sku", "AMOX500", "--json"],
    ));
    assert_eq!(
        lots(&onhand),
        vec![("A1".into(), 0), ("B2".into(), 7), ("OLD".into(), 1)]
    );
    let (code, _) = refused(&as_pharmacist(&c, &["stocktake", "post", &st_id, "--json"]));
    assert_eq!(code, 7, "a stocktake is posted once");

    // What it is worth: 7 × 1.20 + 1 × 1.00.
    let v = ok(as_pharmacist(&c, &["stock", "valuation", "--json"]));
    assert_eq!(s(&v, "total"), "9.40");
    // Bad input changes nothing.
    let (code, _) = refused(&as_pharmacist(
        &c,
        &["stock", "dispense", "--sku", "NOPE", "--qty", "1", "--json"],
    ));
    assert_eq!(code, 4);
    let (code, _) = refused(&as_pharmacist(
        &c,
        &[
            "stock", "dispense", "--sku", "AMOX500", "--qty", "0", "--json",
        ],
    ));
    assert_eq!(code, 3);
    // Sold on an invoice: a draft gets a line at the item's sale price; an
    // issued invoice's line is linked once.
    c.admin(&[
        "price",
        "add",
        "--code",
        "CONS",
        "--name",
        "Consultation",
        "--price",
        "30",
    ]);
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        "Zoë",
        "--last-name",
        "Ōtsuka",
        "--dob",
        "1980-01-02",
    ]);
    let patient = s(&p, "patient_number");
    let draft = c.admin(&[
        "invoice",
        "create",
        "--patient",
        &patient,
        "--line",
        "CONS:1",
    ]);
    let inv = s(&draft, "id");
    let sold = c.admin(&[
        "stock",
        "dispense",
        "--sku",
        "AMOX500",
        "--qty",
        "2",
        "--patient",
        &patient,
        "--invoice",
        &inv,
    ]);
    assert_eq!(sold["invoice_line"], 1);
    let shown = c.admin(&["invoice", "show", &inv]);
    let line = &shown["lines"][1];
    assert_eq!(
        (s(line, "code"), s(line, "quantity"), s(line, "unit_price")),
        ("AMOX500".into(), "2".into(), "4.50".into()),
        "{shown}"
    );
    c.admin(&["invoice", "issue", &inv]);
    let (code, e) = refused(&c.run(&[
        "--user",
        "admin@test.clinic",
        "stock",
        "dispense",
        "--sku",
        "AMOX500",
        "--qty",
        "1",
        "--invoice",
        &inv,
        "--json",
    ]));
    assert_eq!(
        code, 7,
        "the issued invoice's one line for it is linked already: {e}"
    );
    let item = ok(as_pharmacist(
        &c,
        &["stock", "item", "show", "AMOX500", "--json"],
    ));
    assert_eq!(item["sites"][0]["on_hand"], 6);
    // The sale to the patient is in their audit trail; a receptionist may
    // not give out stock.
    let log = c.admin(&["audit", "log", "--patient", &patient]);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "stock.dispense"),
        "{log}"
    );
    c.add_receptionist("desk@test.clinic");
    let (code, _) = refused(&c.as_user(
        "desk@test.clinic",
        "desk-password-1",
        &[
            "stock", "dispense", "--sku", "AMOX500", "--qty", "1", "--json",
        ],
    ));
    assert_eq!(code, 5);
    assert!(item["movements"].as_array().unwrap().len() >= 8);
}
