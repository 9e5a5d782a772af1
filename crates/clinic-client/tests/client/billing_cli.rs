//! `clinic price …`, `clinic invoice …`, `clinic payment …` and the PDFs as
//! a script drives them (the contract of issue #21), on a local store.

use super::cli::{ok, refused, s, Clinic};
use std::process::Output;

fn as_desk(c: &Clinic, args: &[&str]) -> Output {
    c.as_user("desk@test.clinic", "desk-password-1", args)
}

#[test]
fn the_front_desk_bills_takes_payment_and_a_manager_refunds_and_credits_from_the_command_line() {
    let c = Clinic::new();
    c.init();
    c.add_receptionist("desk@test.clinic");
    c.admin(&[
        "settings",
        "--legal-name",
        "Canary Clinic Ltd",
        "--tax-id",
        "VAT GB 123 4567 89",
        "--address",
        "1 High Street",
        "--address",
        "Leeds LS1 1AA",
    ]);
    let added = c.admin(&[
        "price",
        "add",
        "--code",
        "cons30",
        "--name",
        "Consultation (30 min)",
        "--price",
        "45.00",
        "--tax-rate",
        "20",
    ]);
    assert_eq!(s(&added, "code"), "CONS30");
    c.admin(&[
        "price",
        "add",
        "--code",
        "BT",
        "--name",
        "Blood test",
        "--price",
        "12.5",
    ]);
    let list = c.admin(&["price", "list"]);
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .map(|i| (s(i, "code"), s(i, "price"), s(i, "tax_rate")))
            .collect::<Vec<_>>(),
        [
            ("BT".into(), "12.50".into(), "0".into()),
            ("CONS30".into(), "45.00".into(), "20".into())
        ]
    );
    // A price with more decimals than the currency has is refused.
    let o = c.run(&[
        "--user",
        "admin@test.clinic",
        "price",
        "add",
        "--code",
        "X1",
        "--name",
        "X",
        "--price",
        "1.005",
        "--json",
    ]);
    let (code, e) = refused(&o);
    assert_eq!((code, e["code"].as_str()), (3, Some("VALIDATION")));
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        "Zoë",
        "--last-name",
        "Ōtsuka-Nguyễn",
        "--dob",
        "1980-01-02",
    ]);
    let patient = s(&p, "patient_number");

    // The receptionist drafts, issues and takes payment.
    let draft = ok(as_desk(
        &c,
        &[
            "invoice",
            "create",
            "--patient",
            &patient,
            "--line",
            "CONS30:1",
            "--line",
            "BT:2:10.00:10",
            "--json",
        ],
    ));
    assert_eq!(s(&draft, "status"), "draft");
    // 45.00 + 20 % tax = 54.00; 2 × 10.00 less 10 % = 18.00 (no tax).
    assert_eq!(s(&draft, "total"), "72.00");
    let id = s(&draft, "id");
    let bad = as_desk(
        &c,
        &[
            "invoice",
            "create",
            "--patient",
            &patient,
            "--line",
            "NOPE:1",
            "--json",
        ],
    );
    assert_eq!(refused(&bad).1["code"], "NOT_FOUND");
    let bad = as_desk(
        &c,
        &[
            "invoice",
            "create",
            "--patient",
            &patient,
            "--line",
            "CONS30",
            "--json",
        ],
    );
    assert_eq!(refused(&bad).1["code"], "VALIDATION");
    let edited = ok(as_desk(
        &c,
        &[
            "invoice",
            "edit",
            &id,
            "--line",
            "CONS30:1",
            "--line",
            "BT:2:10.00:10",
            "--notes",
            "Thank you",
            "--json",
        ],
    ));
    assert_eq!(s(&edited, "notes"), "Thank you");
    let issued = ok(as_desk(&c, &["invoice", "issue", &id, "--json"]));
    assert_eq!(
        (s(&issued, "status"), s(&issued, "total")),
        ("issued".into(), "72.00".into())
    );
    let number = s(&issued, "number");
    assert!(number.starts_with("INV-"), "{number}");
    let (code, e) = refused(&as_desk(
        &c,
        &["invoice", "edit", &number, "--line", "CONS30:2", "--json"],
    ));
    assert_eq!((code, e["code"].as_str()), (7, Some("ALREADY_ISSUED")));
    let card = ok(as_desk(
        &c,
        &[
            "payment",
            "add",
            "--invoice",
            &number,
            "--amount",
            "30",
            "--method",
            "card",
            "--json",
        ],
    ));
    assert_eq!(s(&card, "amount"), "30.00");
    assert_eq!(s(&card, "invoice_status"), "partially_paid");
    let cash = ok(as_desk(
        &c,
        &[
            "payment",
            "add",
            "--invoice",
            &number,
            "--amount",
            "42.00",
            "--method",
            "cash",
            "--date",
            "2026-01-15",
            "--json",
        ],
    ));
    assert_eq!(
        (
            s(&cash, "invoice_status"),
            s(&cash, "invoice_balance"),
            s(&cash, "received_on")
        ),
        ("paid".into(), "0.00".into(), "2026-01-15".into())
    );
    let receipt = s(&cash, "receipt_number");
    let out = c.tmp().join("receipt.pdf");
    ok(as_desk(
        &c,
        &[
            "receipt",
            "pdf",
            &receipt,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    ));
    assert!(std::fs::read(&out).unwrap().starts_with(b"%PDF"));
    // A receptionist does not refund.
    let (code, e) = refused(&as_desk(
        &c,
        &[
            "payment", "refund", &receipt, "--amount", "1", "--reason", "x", "--json",
        ],
    ));
    assert_eq!((code, e["code"].as_str()), (5, Some("FORBIDDEN")));

    // The manager (the admin here) refunds part, never more than is left.
    let refund = c.admin(&[
        "payment",
        "refund",
        &receipt,
        "--amount",
        "12.00",
        "--reason",
        "Blood test not taken",
    ]);
    assert_eq!(s(&refund, "kind"), "refund");
    assert_eq!(s(&refund, "invoice_balance"), "12.00");
    let o = c.run(&[
        "--user",
        "admin@test.clinic",
        "payment",
        "refund",
        &receipt,
        "--amount",
        "30.01",
        "--reason",
        "again",
        "--json",
    ]);
    let (code, e) = refused(&o);
    assert_eq!((code, e["code"].as_str()), (7, Some("OVER_REFUND")));
    // … and credits the blood test line.
    let note = c.admin(&[
        "invoice",
        "credit",
        &number,
        "--line",
        "2",
        "--reason",
        "Blood test not taken",
    ]);
    assert_eq!(s(&note, "total"), "18.00");
    assert_eq!(
        s(&note, "invoice_balance"),
        "-6.00",
        "the patient now holds credit"
    );
    let o = c.run(&[
        "--user",
        "admin@test.clinic",
        "invoice",
        "credit",
        &number,
        "--line",
        "2",
        "--reason",
        "twice",
        "--json",
    ]);
    assert_eq!(refused(&o).0, 7);

    let shown = ok(as_desk(&c, &["invoice", "show", &number, "--json"]));
    assert_eq!(s(&shown, "total"), "72.00");
    assert_eq!(s(&shown, "balance"), "-6.00");
    assert_eq!(shown["lines"].as_array().unwrap().len(), 2);
    assert_eq!(s(&shown["lines"][1], "total"), "18.00");
    assert_eq!(shown["payments"].as_array().unwrap().len(), 3);
    assert_eq!(s(&shown["totals"], "tax"), "9.00");
    assert_eq!(s(&shown, "patient_credit"), "6.00");
    let pdf = c.tmp().join("invoice.pdf");
    ok(as_desk(
        &c,
        &[
            "invoice",
            "pdf",
            &number,
            "--out",
            pdf.to_str().unwrap(),
            "--json",
        ],
    ));
    let text = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let text = String::from_utf8(text.stdout).unwrap();
    for want in [
        number.as_str(),
        "Zoë Ōtsuka-Nguyễn",
        "Canary Clinic Ltd",
        "VAT GB 123 4567 89",
        "Leeds LS1 1AA",
        "72.00",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    let balance = ok(as_desk(&c, &["balance", &patient, "--json"]));
    assert_eq!(
        (s(&balance, "owed"), s(&balance, "credit")),
        ("0.00".into(), "6.00".into())
    );

    // A wrongly issued invoice is voided and keeps its number.
    let other = ok(as_desk(
        &c,
        &[
            "invoice",
            "create",
            "--patient",
            &patient,
            "--line",
            "BT:1",
            "--json",
        ],
    ));
    let other = ok(as_desk(
        &c,
        &["invoice", "issue", &s(&other, "id"), "--json"],
    ));
    let voided = c.admin(&[
        "invoice",
        "void",
        &s(&other, "number"),
        "--reason",
        "Wrong patient",
    ]);
    assert_eq!(
        (s(&voided, "status"), s(&voided, "number")),
        ("void".into(), s(&other, "number"))
    );
    let listed = ok(as_desk(
        &c,
        &["invoice", "list", "--patient", &patient, "--json"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[test]
fn a_signed_walk_in_consultation_is_drafted_once_from_the_price_list() {
    let c = Clinic::new();
    c.init();
    c.add_receptionist("desk@test.clinic");
    c.add_user(
        "grace@test.clinic",
        "Dr Grace Hopper",
        "clinician",
        "doctor-password-1",
    );
    c.admin(&[
        "price",
        "add",
        "--code",
        "CONS",
        "--name",
        "Consultation",
        "--price",
        "45",
        "--appointment-type",
        "Consultation",
    ]);
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--dob",
        "1985-12-10",
    ]);
    let doctor = |args: &[&str]| {
        let mut cmd = c.cmd(args);
        cmd.env("CLINIC_PASSWORD", "doctor-password-1")
            .env("CLINIC_USER", "grace@test.clinic");
        ok(cmd.output().unwrap())
    };
    let e = doctor(&[
        "encounter",
        "start",
        "--patient",
        &s(&p, "patient_number"),
        "--json",
    ]);
    let id = s(&e, "id");
    // Not before the note is signed.
    let (code, err) = refused(&as_desk(
        &c,
        &["invoice", "draft", "--encounter", &id, "--json"],
    ));
    assert_eq!((code, err["code"].as_str()), (7, Some("CONFLICT")));
    doctor(&[
        "encounter",
        "edit",
        &id,
        "--field",
        "assessment",
        "--text",
        "Viral URTI",
        "--json",
    ]);
    doctor(&["encounter", "sign", &id, "--json"]);
    let draft = ok(as_desk(
        &c,
        &["invoice", "draft", "--encounter", &id, "--json"],
    ));
    assert_eq!(
        (s(&draft, "status"), s(&draft, "total")),
        ("draft".into(), "45.00".into())
    );
    assert_eq!(s(&draft, "encounter_id"), id);
    // Asking again opens the same draft; a second one for it is refused.
    let again = ok(as_desk(
        &c,
        &["invoice", "draft", "--encounter", &id, "--json"],
    ));
    assert_eq!(s(&again, "id"), s(&draft, "id"));
}
