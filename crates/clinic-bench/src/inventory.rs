//! The inventory section: on the demo stock of `performance.md` sizes (S
//! 1,000 items and 20,000 movements, L 5,000 and 200,000, two sites),
//! signed in as the pharmacist: a site's stock list (every item with its
//! on-hand, reorder state and first expiry, as the desktop shows it) and
//! the raw on-hand totals under it, dispensing one unit first expiry first
//! out (the whole use-case: the change queued and audited in one
//! transaction), a site's valuation, the alerts, and an item's detail.

use crate::{figure, Figure, Scalar};
use clinic_client::inventory::stock::DispenseReq;
use clinic_client::{Password, Workstation};
use clinic_core::ClinicResult;
use clinic_store::inventory::ItemFilter;
use clinic_store::keys::{Passphrase, Unlock};
use clinic_store::Store;
use std::path::Path;
use std::time::Instant;
use uuid::Uuid;

pub struct InventoryArgs<'a> {
    pub data: &'a Path,
    pub passphrase: &'a str,
    pub password: &'a Password,
    pub samples: usize,
}

pub struct InventoryResult {
    pub figures: Vec<Figure>,
    pub scalars: Vec<Scalar>,
}

/// The pharmacist of the demo clinic (the inventory's desk).
const PHARMACY: &str = "pharmacy@demo.clinic";

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn open(data: &Path, passphrase: &str) -> ClinicResult<Store> {
    Ok(Store::open(
        data,
        &Unlock::Passphrase(Passphrase::for_unlock(passphrase.into())),
    )?)
}

fn number(db: &clinic_store::Db, sql: &str) -> ClinicResult<i64> {
    Ok(db
        .query_docs(&format!("SELECT json_object('n', ({sql}))"), &[])?
        .first()
        .and_then(|d| d["n"].as_i64())
        .unwrap_or(0))
}

/// The bytes of the stock items', lots' and movements' JSON documents as
/// stored (their raw JSON, for the size ratio).
pub fn json_bytes(data: &Path, passphrase: &str) -> ClinicResult<u64> {
    let store = open(data, passphrase)?;
    let n = number(
        &store.db(),
        "SELECT (SELECT coalesce(sum(length(doc)), 0) FROM stock_items)
             + (SELECT coalesce(sum(length(doc)), 0) FROM stock_batches)
             + (SELECT coalesce(sum(length(doc)), 0) FROM stock_movements)",
    )?;
    Ok(n.max(0) as u64)
}

pub fn run(ws: &mut Workstation, a: InventoryArgs) -> ClinicResult<InventoryResult> {
    // The sites, and items with usable stock at the home site spread over
    // the catalogue (a second connection, as a report would read; kept
    // open for the raw on-hand query).
    let store = open(a.data, a.passphrase)?;
    let db = store.db();
    let sites: Vec<Uuid> = {
        let home = db.meta("site_id")?.and_then(|s| Uuid::parse_str(&s).ok());
        let mut s: Vec<_> = db.sites()?;
        s.sort_by_key(|x| (Some(x.id) != home, x.name.clone()));
        s.into_iter().map(|x| x.id).collect()
    };
    let home = sites[0];
    let items = number(&db, "SELECT count(*) FROM stock_items")?;
    let movements = number(&db, "SELECT count(*) FROM stock_movements")?;
    let lots = number(&db, "SELECT count(*) FROM stock_batches")?;
    let today = ws.now().date_naive().to_string();
    let in_stock: Vec<String> = db
        .query_docs(
            "SELECT json_object('sku', i.sku) FROM stock_items i
             WHERE i.discontinued = 0 AND EXISTS (
                 SELECT 1 FROM stock_onhand o JOIN stock_batches b ON b.id = o.batch_id
                 WHERE o.item_id = i.id AND o.site_id = ?1 AND o.quantity > 1
                   AND (b.expiry IS NULL OR b.expiry >= ?2))
             ORDER BY i.rowid",
            &[&home.to_string(), &today],
        )?
        .iter()
        .filter_map(|d| d["sku"].as_str().map(str::to_string))
        .collect();
    let step = (in_stock.len() / a.samples.max(1)).max(1);
    let skus: Vec<&String> = in_stock.iter().step_by(step).take(a.samples).collect();
    ws.login(PHARMACY, a.password)?;
    let all = ItemFilter {
        limit: u32::MAX,
        include_discontinued: true,
        ..Default::default()
    };
    let whole = a.samples.clamp(10, 100);
    let few = a.samples.clamp(5, 30);
    // Warm: the first run of each reads its pages and prepares its
    // statements, as a desk that has been open a while has.
    for s in &sites {
        ws.inventory().stock_list(Some(*s), &all)?;
        db.item_totals(*s)?;
        ws.inventory().valuation(Some(*s))?;
    }
    ws.inventory().alerts(90)?;

    let mut list = Vec::new();
    let mut rows = 0;
    for k in 0..whole {
        let site = sites[k % sites.len()];
        let t = Instant::now();
        rows = ws.inventory().stock_list(Some(site), &all)?.len();
        list.push(ms_since(t));
    }
    let mut totals = Vec::new();
    for k in 0..a.samples.max(10) {
        let site = sites[k % sites.len()];
        let t = Instant::now();
        let n = db.item_totals(site)?.len();
        totals.push(ms_since(t));
        assert!(n > 0);
    }
    let mut valuation = Vec::new();
    let mut worth = rust_decimal::Decimal::ZERO;
    for k in 0..whole {
        let site = sites[k % sites.len()];
        let t = Instant::now();
        let v = ws.inventory().valuation(Some(site))?;
        valuation.push(ms_since(t));
        if site == home {
            worth = v.total;
        }
    }
    let mut alerts = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..few {
        let t = Instant::now();
        let all = ws.inventory().alerts(90)?;
        alerts.push(ms_since(t));
        counts.clear();
        for x in &all {
            *counts.entry(format!("{:?}", x.kind)).or_insert(0usize) += 1;
        }
    }
    let mut detail = Vec::new();
    for sku in &skus {
        let t = Instant::now();
        let d = ws.inventory().item_detail(sku)?;
        detail.push(ms_since(t));
        assert!(!d.lots.is_empty());
    }
    // One unit each, first expiry first out, at the home site; a
    // prescription-only item against a paper prescription (an override
    // with its reason, as the desk records it).
    let mut dispense = Vec::new();
    for sku in &skus {
        let rx = ws.inventory().item(sku)?.prescription_required;
        let req = DispenseReq {
            item: sku.to_string(),
            quantity: 1,
            site: Some(home),
            override_reason: rx.then(|| "Paper prescription (FP10) checked at the desk".into()),
            ..Default::default()
        };
        let t = Instant::now();
        let done = ws.inventory().dispense(req)?;
        dispense.push(ms_since(t));
        assert_eq!(done.quantity, 1);
    }
    let mut scalars: Vec<Scalar> = vec![
        (
            "inventory: stock items".into(),
            items as f64,
            "items".into(),
        ),
        (
            "inventory: stock movements in the ledger".into(),
            movements as f64,
            "movements".into(),
        ),
        ("inventory: lots".into(), lots as f64, "lots".into()),
        (
            "inventory: rows of a site's stock list".into(),
            rows as f64,
            "items".into(),
        ),
        (
            "inventory: the home site's stock at cost".into(),
            worth.to_string().parse().unwrap_or(0.0),
            "GBP".into(),
        ),
    ];
    for (kind, n) in counts {
        scalars.push((
            format!("inventory: alerts ({kind})"),
            n as f64,
            "alerts".into(),
        ));
    }
    Ok(InventoryResult {
        figures: vec![
            figure(
                "inventory: a site's stock list",
                "every item (discontinued too) with its on-hand at the site, reorder state, first expiry and category, by name",
                Some("p99 <= 20 ms"),
                list,
            ),
            figure(
                "inventory: a site's on-hand totals (raw query)",
                "Db::item_totals: each item's on-hand at the site, summed over its lots from the trigger-kept on-hand",
                Some("p99 <= 20 ms"),
                totals,
            ),
            figure(
                "inventory: dispense one unit",
                "first expiry first out at the home site: item, lots, checks, the change queued and audited in one transaction, on-hand after",
                Some("p99 <= 5 ms"),
                dispense,
            ),
            figure(
                "inventory: a site's valuation",
                "on-hand x each lot's cost over every lot with stock at the site",
                Some("<= 200 ms at L"),
                valuation,
            ),
            figure(
                "inventory: alerts",
                "lots below zero (with their causes and a proposal), expired and expiring within 90 days, items below their reorder point at each site",
                Some("<= 500 ms at L (a report)"),
                alerts,
            ),
            figure(
                "inventory: an item's detail",
                "the item, its lots and totals at each site, its last 50 movements with names",
                None,
                detail,
            ),
        ],
        scalars,
    })
}
