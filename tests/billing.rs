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
