//! The billing section: issuing an invoice (a number from the desk's block,
//! the printed copy, the change queued and audited), a patient's balance,
//! the outstanding balances of the whole clinic and their ageing, and a
//! desk's cash-up of its busiest day, on the demo invoices of
//! `performance.md` sizes (one per consultation: S 20,000, L 200,000).

use crate::{figure, Figure, Scalar};
use clinic_client::billing::invoices::LineSpec;
use clinic_client::{Password, Workstation};
use clinic_core::ClinicResult;
use clinic_store::keys::{Passphrase, Unlock};
use clinic_store::Store;
use std::path::Path;
use std::time::Instant;
use uuid::Uuid;

pub struct BillingArgs<'a> {
    pub data: &'a Path,
    pub passphrase: &'a str,
    pub password: &'a Password,
    pub samples: usize,
}

pub struct BillingResult {
    pub figures: Vec<Figure>,
    pub scalars: Vec<Scalar>,
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

pub fn run(ws: &mut Workstation, a: BillingArgs) -> ClinicResult<BillingResult> {
    // Patients with invoices, spread over the data set.
    let (patients, invoices, busiest) = {
        let store = Store::open(
            a.data,
            &Unlock::Passphrase(Passphrase::for_unlock(a.passphrase.into())),
        )?;
        let db = store.db();
        let invoices = db.invoice_count()?;
        let step = (invoices / a.samples.max(1) as i64).max(1);
        let docs = db.query_docs(
            "SELECT json_object('p', patient_id) FROM invoices WHERE rowid % ?1 = 0 LIMIT ?2",
            &[&step, &(a.samples as i64)],
        )?;
        let patients: Vec<Uuid> = docs
            .iter()
            .filter_map(|d| d["p"].as_str().and_then(|s| s.parse().ok()))
            .collect();
        let busiest = db
            .query_docs(
                "SELECT json_object('d', received_on, 'n', count(*)) FROM payments
                 GROUP BY received_on ORDER BY count(*) DESC, received_on LIMIT 1",
                &[],
            )?
            .first()
            .map(|d| {
                (
                    d["d"].as_str().and_then(|s| s.parse().ok()),
                    d["n"].as_i64().unwrap_or(0),
                )
            })
            .unwrap_or((None, 0));
        (patients, invoices, busiest)
    };
    ws.login("manager@demo.clinic", a.password)?;
    let mut balance = Vec::new();
    for p in &patients {
        let t = Instant::now();
        let acc = ws.billing().account(*p)?;
        balance.push(ms_since(t));
        assert!(acc.owed >= rust_decimal::Decimal::ZERO);
    }
    let mut outstanding = Vec::new();
    let mut owing = 0;
    for _ in 0..a.samples.clamp(5, 30) {
        let t = Instant::now();
        owing = ws.billing().outstanding()?.len();
        outstanding.push(ms_since(t));
    }
    let mut ageing = Vec::new();
    for _ in 0..a.samples.clamp(5, 30) {
        let t = Instant::now();
        let g = ws.billing().ageing()?;
        ageing.push(ms_since(t));
        assert_eq!(g.buckets.len(), 4);
    }
    let mut cash_up = Vec::new();
    let mut counted = 0;
    for _ in 0..a.samples.clamp(5, 30) {
        let t = Instant::now();
        let v = ws.billing().cash_up(busiest.0)?;
        cash_up.push(ms_since(t));
        counted = v.takings.iter().map(|t| t.count).sum::<u32>();
    }
    // Invoices issued (each drafted first, not timed).
    let mut issue = Vec::new();
    let lines = [LineSpec {
        code: Some("CONS".into()),
        quantity: "1".into(),
        ..Default::default()
    }];
    for p in &patients {
        let draft = ws.billing().create_invoice(*p, &lines, None, None, None)?;
        let t = Instant::now();
        let issued = ws.billing().issue_invoice(draft.id)?;
        issue.push(ms_since(t));
        assert!(issued.number.is_some());
    }
    Ok(BillingResult {
        figures: vec![
            figure(
                "billing: issue an invoice",
                "a draft issued: the next number of the desk's block, the printed copy, the change queued and audited",
                Some("p99 <= 5 ms"),
                issue,
            ),
            figure(
                "billing: a patient's balance",
                "what a patient owes and holds in credit, over their invoices",
                Some("p99 <= 5 ms"),
                balance,
            ),
            figure(
                "billing: the clinic's outstanding balances",
                "every patient who owes or holds credit, most owed first, with names",
                Some("<= 200 ms at L"),
                outstanding,
            ),
            figure(
                "billing: ageing of outstanding balances",
                "what is owed by age of invoice: 0-30, 31-60, 61-90, 90+ days",
                Some("<= 200 ms at L"),
                ageing,
            ),
            figure(
                "billing: cash-up of a busy day",
                "a desk's takings on its busiest day by method, and late payments of closed days",
                Some("<= 50 ms at L"),
                cash_up,
            ),
        ],
        scalars: vec![
            ("billing: invoices in the store".into(), invoices as f64, "invoices".into()),
            ("billing: patients owing or in credit".into(), owing as f64, "patients".into()),
            ("billing: payments on the busiest day".into(), busiest.1 as f64, "payments".into()),
            ("billing: payments counted by its cash-up".into(), counted as f64, "payments".into()),
        ],
    })
}
