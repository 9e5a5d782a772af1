//! Billing across workstations and the real server: invoice numbers issued
//! offline on three desks and after a restore, payments and refunds made
//! on two desks offline (money is never refused after the fact: an
//! overpayment is credit, an over-refund a conflict), issued invoices that
//! no desk edits, and reprints that show what was issued.

use crate::kernel::{city, reopen, PASSPHRASE};
use crate::{ada, signed_in, sync};
use clinic_client::billing::invoices::LineSpec;
use clinic_client::billing::NewPrice;
use clinic_client::Workstation;
use clinic_core::billing::{EditInvoice, Invoice, InvoiceStatus, PaymentMethod};
use clinic_core::sync::MutationKind;
use clinic_core::ErrorCode;
use std::collections::BTreeSet;
use uuid::Uuid;

fn line(code: &str, qty: &str) -> LineSpec {
    LineSpec {
        code: Some(code.into()),
        quantity: qty.into(),
        ..Default::default()
    }
}

fn local(ws: &Workstation, id: Uuid) -> Invoice {
    ws.store_for_tests()
        .unwrap()
        .db()
        .invoice(id)
        .unwrap()
        .unwrap()
}

/// A desk with the price list and a patient, synced.
fn priced_desk(
    server: &sync_server::testing::TestServer,
    dir: &std::path::Path,
) -> (Workstation, Uuid) {
    let mut a = signed_in(server, dir);
    a.billing()
        .add_price(NewPrice {
            code: "CONS30".into(),
            name: "Consultation 30 min".into(),
            price: "45.00".into(),
            tax_rate: "20".into(),
            ..Default::default()
        })
        .unwrap();
    let patient = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient
        .id;
    sync(&mut a);
    (a, patient)
}

fn issued(ws: &mut Workstation, patient: Uuid) -> Invoice {
    let draft = ws
        .billing()
        .create_invoice(patient, &[line("CONS30", "1")], None, None, None)
        .unwrap();
    ws.billing().issue_invoice(draft.id).unwrap()
}

fn server_invoice(server: &sync_server::testing::TestServer, id: Uuid) -> Vec<Vec<Option<String>>> {
    server.query(&format!(
        "SELECT status, number, total::text, balance::text, jsonb_array_length(doc->'conflicts')::text
         FROM invoices WHERE id = '{id}'"
    ))
}

#[test]
fn invoice_numbers_issued_offline_on_three_desks_are_unique_and_never_reissued_after_a_restore() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let (mut a, patient) = priced_desk(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let mut c = signed_in(&server, &t.path().join("c"));
    sync(&mut b);
    sync(&mut c);
    let backup = t.path().join("backup");
    a.backup(
        &backup,
        &clinic_store::keys::Passphrase::new(PASSPHRASE.into()).unwrap(),
    )
    .unwrap();
    // Offline, each desk issues three invoices.
    let mut numbers = BTreeSet::new();
    for ws in [&mut a, &mut b, &mut c] {
        for _ in 0..3 {
            let inv = issued(ws, patient);
            assert!(
                numbers.insert(inv.number.clone().unwrap()),
                "{:?}",
                inv.number
            );
        }
    }
    for ws in [&mut a, &mut b, &mut c] {
        sync(ws);
    }
    for ws in [&mut a, &mut b, &mut c] {
        sync(ws);
    }
    let on_server: BTreeSet<String> = server
        .query("SELECT number FROM invoices")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(on_server, numbers, "nine invoices, nine numbers, all kept");
    assert_eq!(
        a.billing()
            .invoices(&clinic_store::billing::InvoiceFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap()
            .len(),
        9,
        "every desk holds every invoice"
    );
    drop(a);

    // Desk A is lost; its backup (taken before it issued its three) is put
    // back in service. It issues no number until it has synced …
    let mut r = reopen(&backup);
    let draft = r
        .billing()
        .create_invoice(patient, &[line("CONS30", "1")], None, None, None)
        .unwrap();
    let e = r.billing().issue_invoice(draft.id).unwrap_err();
    assert_eq!(e.code, ErrorCode::NumbersExhausted);
    // … and then none the lost desk may have issued.
    sync(&mut r);
    let again = r.billing().issue_invoice(draft.id).unwrap();
    let n = again.number.clone().unwrap();
    assert!(!numbers.contains(&n), "{n} was issued before");
    sync(&mut r);
    assert_eq!(
        server_invoice(&server, draft.id)[0][1].as_deref(),
        Some(n.as_str())
    );
}

#[test]
fn two_offline_payments_on_one_invoice_both_arrive_and_the_overpayment_is_credit_on_both_desks() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let (mut a, patient) = priced_desk(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let inv = issued(&mut a, patient);
    assert_eq!(inv.totals.total.to_string(), "54.00");
    sync(&mut a);
    sync(&mut b);
    // The patient pays in full at both desks, which are offline.
    let pa = a
        .billing()
        .take_payment(inv.id, "54.00", PaymentMethod::Card, None, None)
        .unwrap();
    let pb = b
        .billing()
        .take_payment(inv.id, "54", PaymentMethod::Cash, None, None)
        .unwrap();
    // Each desk computed the invoice paid in full, before the server saw either.
    let (before_a, before_b) = (local(&a, inv.id), local(&b, inv.id));
    assert_eq!(before_a.status, InvoiceStatus::Paid);
    assert_eq!(before_b.balance().to_string(), "0.00");
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    let (ia, ib) = (local(&a, inv.id), local(&b, inv.id));
    assert_eq!(ia, ib, "both desks hold the same invoice");
    assert_eq!(ia.paid.to_string(), "108.00", "two payments, both kept");
    assert_eq!(ia.balance().to_string(), "-54.00");
    assert_eq!(ia.status, InvoiceStatus::Paid);
    assert!(
        ia.conflicts.is_empty(),
        "an overpayment is credit, not a conflict"
    );
    // The server computed the same figures the desks did.
    assert_eq!(
        server_invoice(&server, inv.id),
        vec![vec![
            Some("paid".into()),
            inv.number.clone(),
            Some("54.00".into()),
            Some("-54.00".into()),
            Some("0".into())
        ]]
    );
    for ws in [&mut a, &mut b] {
        let acc = ws.billing().account(patient).unwrap();
        assert_eq!(
            (acc.owed.to_string(), acc.credit.to_string()),
            ("0.00".into(), "54.00".into())
        );
        let v = ws.billing().show_invoice(inv.id).unwrap();
        let ids: BTreeSet<Uuid> = v.payments.iter().map(|p| p.id).collect();
        assert_eq!(ids, BTreeSet::from([pa.id, pb.id]));
    }
    // The credit pays the patient's next invoice.
    let next = issued(&mut b, patient);
    b.billing().use_credit(inv.id, next.id, None).unwrap();
    sync(&mut b);
    sync(&mut a);
    assert_eq!(local(&a, next.id).status, InvoiceStatus::Paid);
    assert_eq!(local(&a, inv.id).balance().to_string(), "0.00");
    assert_eq!(
        a.billing().account(patient).unwrap().credit.to_string(),
        "0.00"
    );
}

#[test]
fn two_offline_refunds_exceeding_the_payment_both_arrive_as_a_conflict_for_a_manager() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let (mut a, patient) = priced_desk(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let inv = issued(&mut a, patient);
    let paid = a
        .billing()
        .take_payment(inv.id, "54.00", PaymentMethod::Card, None, None)
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    // Each desk refunds 40.00 of the 54.00, offline: each was allowed.
    let ra = a
        .billing()
        .refund(paid.id, "40.00", "cancelled test", None)
        .unwrap();
    let rb = b
        .billing()
        .refund(paid.id, "40.00", "changed mind", None)
        .unwrap();
    // On one desk, a second refund beyond what is left is refused.
    let e = a
        .billing()
        .refund(paid.id, "20.00", "again", None)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OverRefund);
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    let (ia, ib) = (local(&a, inv.id), local(&b, inv.id));
    assert_eq!(ia, ib);
    assert_eq!(
        ia.refunded.to_string(),
        "80.00",
        "both refunds were accepted"
    );
    assert_eq!(ia.balance().to_string(), "80.00");
    let open: Vec<&str> = ia.conflicts.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        open,
        ["OVER_REFUND"],
        "raised once, on the refund that went too far"
    );
    assert!([ra.id, rb.id].contains(&ia.conflicts[0].entry));
    assert_eq!(
        server.query(&format!(
            "SELECT count(*) FROM payments WHERE invoice_id = '{}' AND kind = 'refund'",
            inv.id
        )),
        vec![vec![Some("2".into())]]
    );
    // It is in the managers' list, until one resolves it.
    let listed = a
        .billing()
        .invoices(&clinic_store::billing::InvoiceFilter {
            conflicts_only: true,
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    a.billing()
        .resolve_conflict(
            inv.id,
            ia.conflicts[0].entry,
            "Patient repaid 26.00 in cash",
        )
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    assert_eq!(local(&b, inv.id).open_conflicts(), 0);
}

#[test]
fn an_edit_of_an_issued_invoice_is_refused_on_both_sides_and_kept_for_a_person() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let (mut a, patient) = priced_desk(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let draft = a
        .billing()
        .create_invoice(patient, &[line("CONS30", "1")], None, None, None)
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    // A issues it; B, offline, still sees a draft and changes it.
    let inv = a.billing().issue_invoice(draft.id).unwrap();
    b.billing()
        .edit_invoice(draft.id, Some(&[line("CONS30", "3")]), None, None)
        .unwrap();
    assert_eq!(local(&b, draft.id).totals.total.to_string(), "162.00");
    // The desk that issued it refuses the edit itself.
    let e = a
        .billing()
        .edit_invoice(draft.id, Some(&[line("CONS30", "2")]), None, None)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AlreadyIssued);
    sync(&mut a);
    sync(&mut b);
    // The server refused B's edit: B holds the invoice as issued, and the
    // edit it made is kept, shown, with its code.
    assert_eq!(local(&b, draft.id), local(&a, draft.id));
    assert_eq!(local(&b, draft.id).totals.total.to_string(), "54.00");
    assert_eq!(local(&b, draft.id).number, inv.number);
    let refused = b.sync_conflicts().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].kind, EditInvoice::NAME);
    assert_eq!(refused[0].code.as_deref(), Some("ALREADY_ISSUED"));
    assert_eq!(
        refused[0]
            .mutation
            .get::<EditInvoice>()
            .unwrap()
            .lines
            .as_ref()
            .unwrap()[0]
            .quantity
            .to_string(),
        "3",
        "what the person typed is kept whole"
    );
    assert_eq!(
        server_invoice(&server, draft.id)[0][2].as_deref(),
        Some("54.00")
    );
    // The master refuses to change an issued invoice, a payment, or a
    // number, whatever writes to the tables.
    let e = server
        .try_query(&format!(
            "UPDATE invoices SET doc = jsonb_set(doc, '{{lines,0,description}}', '\"Nothing\"') WHERE id = '{}'",
            draft.id
        ))
        .unwrap_err();
    assert!(e.contains("is never edited"), "{e}");
    let paid = a
        .billing()
        .take_payment(draft.id, "10.00", PaymentMethod::Cash, None, None)
        .unwrap();
    sync(&mut a);
    let e = server
        .try_query(&format!(
            "UPDATE payments SET doc = jsonb_set(doc, '{{amount}}', '\"1.00\"') WHERE id = '{}'",
            paid.id
        ))
        .unwrap_err();
    assert!(e.contains("never changes"), "{e}");
    let e = server
        .try_query(&format!(
            "UPDATE invoices SET number = 'INV-999999' WHERE id = '{}'",
            draft.id
        ))
        .unwrap_err();
    assert!(e.contains("is never edited"), "{e}");
}

fn pdf_text(pdf: &[u8]) -> String {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("x.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_reprint_after_the_patients_address_changed_shows_the_address_as_issued() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let (mut a, patient) = priced_desk(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    city(&mut a, patient, "Leeds");
    let inv = issued(&mut a, patient);
    let paid = a
        .billing()
        .take_payment(inv.id, "20.00", PaymentMethod::Cash, None, None)
        .unwrap();
    sync(&mut a);
    // The patient moves; another desk prints the invoice and the receipt.
    city(&mut a, patient, "York");
    sync(&mut a);
    sync(&mut b);
    let text = pdf_text(&b.billing().invoice_pdf(inv.id).unwrap());
    assert!(text.contains("Leeds") && !text.contains("York"), "{text}");
    assert!(text.contains(inv.number.as_deref().unwrap()), "{text}");
    assert!(
        text.contains("34.00"),
        "the balance after the payment: {text}"
    );
    let receipt = pdf_text(&b.billing().receipt_pdf(paid.id).unwrap());
    assert!(
        receipt.contains("Leeds") && !receipt.contains("York"),
        "{receipt}"
    );
    // A new invoice prints the new address.
    let next = issued(&mut b, patient);
    let text = pdf_text(&b.billing().invoice_pdf(next.id).unwrap());
    assert!(text.contains("York") && !text.contains("Leeds"), "{text}");
}

/// The payment's date on a desk's clock: `days` before today in the home
/// site's time zone.
fn days_ago(ws: &mut Workstation, days: i64) -> chrono::NaiveDate {
    let today = ws.billing().cash_up(None).unwrap().day;
    today - chrono::Duration::days(days)
}

#[test]
fn a_payment_from_an_offline_desk_dated_in_a_period_closed_meanwhile_is_a_conflict_posted_into_the_open_period(
) {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let (mut a, patient) = priced_desk(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let inv = issued(&mut a, patient);
    sync(&mut a);
    sync(&mut b);
    let yesterday = days_ago(&mut a, 1);
    // Desk A, offline, takes a payment dated yesterday.
    let late = a
        .billing()
        .take_payment(inv.id, "20.00", PaymentMethod::Cash, Some(yesterday), None)
        .unwrap();
    // A third desk last reached the server three days ago.
    let c = signed_in(&server, &t.path().join("c"));
    let c_id = c.store_for_tests().unwrap().device_id();
    server.query(&format!(
        "UPDATE devices SET last_seen_at = now() - interval '3 days' WHERE id = '{c_id}' RETURNING 1"
    ));
    // The manager on desk B previews, then closes the books up to yesterday.
    let preview = b.billing().preview_close(yesterday).unwrap();
    assert!(!preview.closed);
    assert!(
        b.billing().period_lock().unwrap().is_none(),
        "a preview closes nothing"
    );
    let names: Vec<Uuid> = preview.unsynced_desks.iter().map(|d| d.id).collect();
    assert_eq!(
        names,
        [c_id],
        "only the desk not seen since the period ended"
    );
    let closed = b.billing().close_period(yesterday, "November").unwrap();
    assert!(closed.closed && closed.sent, "{closed:?}");
    assert_eq!(
        server.query(
            "SELECT (doc->>'closed_until') FROM sync_records WHERE entity_type = 'period_lock'"
        ),
        vec![vec![Some(yesterday.to_string())]]
    );
    // Desk B knows: a new payment dated inside the period is refused at
    // entry, and dated today it is taken.
    let e = b
        .billing()
        .take_payment(inv.id, "5.00", PaymentMethod::Card, Some(yesterday), None)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PeriodClosed, "{e}");
    assert_eq!(
        local(&b, inv.id).paid.to_string(),
        "0.00",
        "nothing changed"
    );
    b.billing()
        .take_payment(inv.id, "5.00", PaymentMethod::Card, None, None)
        .unwrap();
    // A closing again up to the same day is refused.
    let e = b.billing().close_period(yesterday, "again").unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    // Desk A comes back: its payment is accepted (the cash is in the
    // drawer) and raised on the invoice on every desk.
    sync(&mut b);
    sync(&mut a);
    sync(&mut b);
    let (ia, ib) = (local(&a, inv.id), local(&b, inv.id));
    assert_eq!(ia, ib);
    assert_eq!(ia.paid.to_string(), "25.00", "both payments stand");
    let open: Vec<(&str, Uuid)> = ia
        .conflicts
        .iter()
        .map(|c| (c.code.as_str(), c.entry))
        .collect();
    assert_eq!(open, [("PERIOD_CLOSED", late.id)]);
    assert_eq!(server_invoice(&server, inv.id)[0][4].as_deref(), Some("1"));
    // Desk A now knows the period is closed too.
    let e = a
        .billing()
        .take_payment(inv.id, "1.00", PaymentMethod::Cash, Some(yesterday), None)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::PeriodClosed);
    // The manager posts it into the open period: its own date is kept.
    let today = days_ago(&mut b, 0);
    let after = b
        .billing()
        .resolve_conflict(inv.id, late.id, "Cash taken on desk A while offline")
        .unwrap();
    let r = after.conflicts[0].resolved.clone().unwrap();
    assert_eq!(r.posted_on, Some(today));
    sync(&mut b);
    sync(&mut a);
    assert_eq!(local(&a, inv.id), local(&b, inv.id));
    assert_eq!(local(&a, inv.id).open_conflicts(), 0);
    let kept = a
        .store_for_tests()
        .unwrap()
        .db()
        .payment(late.id)
        .unwrap()
        .unwrap();
    assert_eq!(kept.received_on, yesterday, "the payment keeps its date");
    assert_eq!(
        server.query(&format!(
            "SELECT received_on::text FROM payments WHERE id = '{}'",
            late.id
        )),
        vec![vec![Some(yesterday.to_string())]]
    );
}

#[test]
fn a_claim_approved_on_one_desk_posts_an_insurance_payment_and_instalments_are_due_alike_on_both() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let (mut a, patient) = priced_desk(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let inv = issued(&mut a, patient);
    assert_eq!(inv.totals.total.to_string(), "54.00");
    let claim = a
        .billing()
        .add_claim(inv.id, "Bupa", "40.00", Some("POL-1"))
        .unwrap();
    assert_eq!(claim.claim.number, "CLM-000001");
    sync(&mut a);
    sync(&mut b);
    // Desk B records the insurer's approval of 30.00 of the 40.00 claimed.
    let decided = b
        .billing()
        .decide_claim(
            "clm-000001",
            clinic_client::billing::insurance::ClaimDecision {
                status: "approved".into(),
                approved: Some("30.00".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(decided.invoice_balance.to_string(), "24.00");
    // Deciding it again is refused: it was decided.
    let e = b
        .billing()
        .decide_claim(
            &claim.claim.id.to_string(),
            clinic_client::billing::insurance::ClaimDecision {
                status: "denied".into(),
                reason: Some("x".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    sync(&mut b);
    sync(&mut a);
    let (ia, ib) = (local(&a, inv.id), local(&b, inv.id));
    assert_eq!(ia, ib);
    assert_eq!(ia.balance().to_string(), "24.00");
    assert_eq!(ia.status, InvoiceStatus::PartiallyPaid);
    let insurer = a
        .store_for_tests()
        .unwrap()
        .db()
        .invoice_payments(inv.id)
        .unwrap();
    assert_eq!(insurer.len(), 1);
    assert_eq!(insurer[0].method, PaymentMethod::Insurance);
    assert_eq!(insurer[0].amount.to_string(), "30.00");
    assert_eq!(
        server.query(&format!(
            "SELECT method, amount::text FROM payments WHERE invoice_id = '{}'",
            inv.id
        )),
        vec![vec![Some("insurance".into()), Some("30.00".into())]]
    );
    // What is left goes on a plan: 3 monthly instalments from today.
    let plan = a
        .billing()
        .add_plan(inv.id, 3, clinic_core::billing::Every::Month, None)
        .unwrap();
    let amounts: Vec<String> = plan
        .plan
        .instalments
        .iter()
        .map(|i| i.amount.to_string())
        .collect();
    assert_eq!(amounts, ["8.00", "8.00", "8.00"]);
    assert_eq!(
        plan.progress.overdue.to_string(),
        "8.00",
        "the first is due today"
    );
    assert_eq!(plan.progress.overdue_instalments, [1]);
    sync(&mut a);
    sync(&mut b);
    // A second plan on the invoice is refused.
    let e = b
        .billing()
        .add_plan(inv.id, 2, clinic_core::billing::Every::Week, None)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict, "{e}");
    // Both desks say the same of it, and a payment moves it on both.
    let plans = |ws: &mut Workstation| {
        let p = ws.billing().plans(Some(patient), false).unwrap();
        serde_json::to_value(&p).unwrap()
    };
    assert_eq!(plans(&mut a), plans(&mut b));
    b.billing()
        .take_payment(inv.id, "8.00", PaymentMethod::Cash, None, None)
        .unwrap();
    sync(&mut b);
    sync(&mut a);
    assert_eq!(plans(&mut a), plans(&mut b));
    let now = a.billing().plans(None, false).unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].progress.paid.to_string(), "8.00");
    assert!(now[0].progress.overdue.is_zero());
    assert!(
        a.billing().plans(None, true).unwrap().is_empty(),
        "nothing overdue"
    );
}

#[test]
fn a_cash_up_counts_this_desks_takings_by_method_and_shows_a_late_payment_on_the_next() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let (mut a, patient) = priced_desk(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let inv = issued(&mut a, patient);
    sync(&mut a);
    sync(&mut b);
    let yesterday = days_ago(&mut a, 1);
    let cash = a
        .billing()
        .take_payment(inv.id, "20.00", PaymentMethod::Cash, Some(yesterday), None)
        .unwrap();
    a.billing()
        .take_payment(inv.id, "30.00", PaymentMethod::Card, Some(yesterday), None)
        .unwrap();
    a.billing()
        .refund(cash.id, "5.00", "change given wrong", None)
        .unwrap();
    // Desk B's takings are not desk A's.
    b.billing()
        .take_payment(inv.id, "4.00", PaymentMethod::Cash, Some(yesterday), None)
        .unwrap();
    sync(&mut b);
    sync(&mut a);
    let day = a.billing().cash_up(Some(yesterday)).unwrap();
    let by: Vec<(PaymentMethod, String)> = day
        .takings
        .iter()
        .map(|t| (t.method, t.expected.to_string()))
        .collect();
    assert_eq!(
        by,
        [
            (PaymentMethod::Cash, "20.00".into()),
            (PaymentMethod::Card, "30.00".into())
        ],
        "the refund is today's, desk B's payment is B's"
    );
    // A count that differs needs a reason.
    let counted = [
        (PaymentMethod::Cash, "19.50".to_string()),
        (PaymentMethod::Card, "30.00".to_string()),
    ];
    let e = a
        .billing()
        .close_cash_up(Some(yesterday), &counted, None)
        .unwrap_err();
    assert_eq!(e.fields[0].field, "reason");
    let e = a
        .billing()
        .close_cash_up(Some(yesterday), &counted[..1], Some("short"))
        .unwrap_err();
    assert_eq!(
        e.fields[0].field, "counted",
        "card takings must be counted too"
    );
    let closed = a
        .billing()
        .close_cash_up(Some(yesterday), &counted, Some("50p short in the float"))
        .unwrap();
    let c = closed.closed.clone().unwrap();
    assert_eq!(c.difference().to_string(), "-0.50");
    assert_eq!(c.payments.len(), 2);
    // A payment for yesterday entered afterwards is late, shown on today's.
    let late = a
        .billing()
        .take_payment(inv.id, "1.00", PaymentMethod::Cash, Some(yesterday), None)
        .unwrap();
    let today = a.billing().cash_up(None).unwrap();
    let late_ids: Vec<Uuid> = today.late.iter().map(|l| l.payment_id).collect();
    assert_eq!(late_ids, [late.id]);
    assert_eq!(today.takings[0].refunded.to_string(), "5.00");
    assert!(a
        .billing()
        .close_cash_up(Some(yesterday), &counted, Some("again"))
        .is_err());
    sync(&mut a);
    sync(&mut b);
    assert_eq!(
        b.store_for_tests()
            .unwrap()
            .db()
            .document::<clinic_core::billing::CashUp>(c.id)
            .unwrap(),
        Some(c),
        "the cash-up reached the other desk as it was closed"
    );
}
