//! `clinic claim …`, `clinic plan …`, `clinic cashup` and `clinic period
//! close` as a script drives them (the contract of issue #23), on a desk
//! enrolled with a real server (closing a period is done online).

use super::cli::{ok, refused, s, Clinic};
use serde_json::Value;
use std::process::Output;

const ADMIN: &str = "admin@accounts.example";
const PASSWORD: &str = "admin-password-1";

fn admin(c: &Clinic, args: &[&str]) -> Output {
    let mut a = args.to_vec();
    a.push("--json");
    c.as_user(ADMIN, PASSWORD, &a)
}

fn day(v: &Value) -> chrono::NaiveDate {
    s(v, "day").parse().unwrap()
}

#[test]
fn a_manager_claims_approves_plans_cashes_up_and_closes_the_period_from_the_command_line() {
    let server = sync_server::testing::TestServer::start("accounts");
    let c = Clinic::new();
    let mut cmd = c.cmd(&[
        "enroll",
        "--server",
        &server.url,
        "--tenant",
        "accounts",
        "--user",
        ADMIN,
        "--device-name",
        "Front desk 1",
        "--json",
    ]);
    cmd.env("CLINIC_PASSWORD", PASSWORD);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    ok(admin(
        &c,
        &[
            "price",
            "add",
            "--code",
            "CONS30",
            "--name",
            "Consultation",
            "--price",
            "45.00",
            "--tax-rate",
            "20",
        ],
    ));
    let p = ok(admin(
        &c,
        &[
            "patient",
            "add",
            "--first-name",
            "Zoë",
            "--last-name",
            "Ōtsuka-Nguyễn",
            "--dob",
            "1980-01-02",
        ],
    ));
    let patient = s(&p, "patient_number");
    let draft = ok(admin(
        &c,
        &[
            "invoice",
            "create",
            "--patient",
            &patient,
            "--line",
            "CONS30:1",
        ],
    ));
    let inv = ok(admin(&c, &["invoice", "issue", &s(&draft, "id")]));
    let number = s(&inv, "number");
    assert_eq!(s(&inv, "total"), "54.00");

    // A claim, numbered from the claim series.
    let claim = ok(admin(
        &c,
        &[
            "claim",
            "add",
            "--invoice",
            &number,
            "--provider",
            "AXA Health",
            "--amount",
            "12.34",
        ],
    ));
    assert_eq!(
        (
            s(&claim, "number"),
            s(&claim, "status"),
            s(&claim, "claimed")
        ),
        ("CLM-000001".into(), "pending".into(), "12.34".into())
    );
    let (code, e) = refused(&admin(
        &c,
        &[
            "claim",
            "add",
            "--invoice",
            &number,
            "--provider",
            "AXA",
            "--amount",
            "99.00",
        ],
    ));
    assert_eq!((code, e["code"].as_str()), (3, Some("VALIDATION")), "{e}");
    // The insurer approves 10.00: an insurance payment is posted.
    let set = ok(admin(
        &c,
        &[
            "claim",
            "set",
            "CLM-000001",
            "--status",
            "approved",
            "--approved",
            "10.00",
        ],
    ));
    assert_eq!(
        (
            s(&set, "status"),
            s(&set, "approved"),
            s(&set, "invoice_balance")
        ),
        ("approved".into(), "10.00".into(), "44.00".into())
    );
    let shown = ok(admin(&c, &["invoice", "show", &number]));
    assert_eq!(s(&shown, "balance"), "44.00", "{shown}");
    let (code, e) = refused(&admin(
        &c,
        &[
            "claim",
            "set",
            "CLM-000001",
            "--status",
            "denied",
            "--reason",
            "late",
        ],
    ));
    assert_eq!((code, e["code"].as_str()), (7, Some("CONFLICT")));
    let listed = ok(admin(&c, &["claim", "list"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(ok(admin(&c, &["claim", "list", "--open"]))
        .as_array()
        .unwrap()
        .is_empty());

    // The rest in three monthly instalments.
    let plan = ok(admin(
        &c,
        &[
            "plan",
            "add",
            "--invoice",
            &number,
            "--instalments",
            "3",
            "--every",
            "month",
        ],
    ));
    let amounts: Vec<String> = plan["plan"]["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| s(i, "amount"))
        .collect();
    assert_eq!(amounts, ["14.66", "14.66", "14.68"]);
    let (code, _) = refused(&admin(
        &c,
        &[
            "plan",
            "add",
            "--invoice",
            &number,
            "--instalments",
            "12",
            "--every",
            "month",
        ],
    ));
    assert_eq!(code, 3, "2 to 9 instalments");
    let overdue = ok(admin(&c, &["plan", "list", "--overdue"]));
    assert_eq!(
        overdue[0]["progress"]["overdue"], "14.66",
        "the first instalment is due today: {overdue}"
    );

    // Cash-up: a cash payment today, counted short with a reason.
    ok(admin(
        &c,
        &[
            "payment",
            "add",
            "--invoice",
            &number,
            "--amount",
            "20.00",
            "--method",
            "cash",
        ],
    ));
    let open = ok(admin(&c, &["cashup"]));
    let today = day(&open);
    assert_eq!(
        open["takings"].as_array().unwrap().len(),
        1,
        "cash only: the insurer's payment is settled by its claim: {open}"
    );
    assert_eq!(open["takings"][0]["method"], "cash");
    assert_eq!(s(&open, "expected_total"), "20.00");
    let (code, e) = refused(&admin(&c, &["cashup", "--counted", "cash=19.00"]));
    assert_eq!(
        (code, e["fields"][0]["field"].as_str()),
        (3, Some("reason"))
    );
    let closed = ok(admin(
        &c,
        &[
            "cashup",
            "--date",
            &today.to_string(),
            "--counted",
            "cash=19.00",
            "--reason",
            "1.00 given as change twice",
        ],
    ));
    assert_eq!(closed["closed"]["lines"][0]["difference"], "-1.00");

    // The period up to yesterday, closed online: every desk synced since.
    let yesterday = (today - chrono::Duration::days(1)).to_string();
    let (code, e) = refused(&admin(
        &c,
        &["period", "close", "--until", &today.to_string()],
    ));
    assert_eq!((code, e["code"].as_str()), (3, Some("VALIDATION")), "{e}");
    let shut = ok(admin(&c, &["period", "close", "--until", &yesterday]));
    assert_eq!(shut["closed"], true);
    assert_eq!(shut["sent"], true);
    assert_eq!(shut["unsynced_desks"], serde_json::json!([]));
    let (code, e) = refused(&admin(
        &c,
        &[
            "payment",
            "add",
            "--invoice",
            &number,
            "--amount",
            "1.00",
            "--method",
            "cash",
            "--date",
            &yesterday,
        ],
    ));
    assert_eq!((code, e["code"].as_str()), (7, Some("PERIOD_CLOSED")));
    let shown = ok(admin(&c, &["period", "show"]));
    assert_eq!(s(&shown, "closed_until"), yesterday);
    assert_eq!(
        server.query(
            "SELECT doc->>'closed_until' FROM sync_records WHERE entity_type = 'period_lock'"
        ),
        vec![vec![Some(yesterday.clone())]]
    );
    // What is owed, by age: today's invoices are 0–30 days old.
    let ageing = ok(admin(&c, &["ageing"]));
    assert_eq!(ageing["buckets"][0]["invoices"], 1, "{ageing}");
    assert_eq!(s(&ageing["buckets"][0], "owed"), s(&ageing, "total"));
    assert_eq!(s(&ageing["buckets"][3], "owed"), "0.00");
    // A discount code: proposed, usable only once approved, once.
    let d = ok(admin(
        &c,
        &[
            "discount",
            "add",
            "--code",
            "spring10",
            "--percent",
            "10",
            "--max-uses",
            "1",
        ],
    ));
    assert_eq!(
        (s(&d, "code"), s(&d, "approval")),
        ("SPRING10".into(), "pending".into())
    );
    let line = "CONS30:1::SPRING10";
    let (code, e) = refused(&admin(
        &c,
        &["invoice", "create", "--patient", &patient, "--line", line],
    ));
    assert_eq!(
        (code, e["fields"][0]["field"].as_str()),
        (3, Some("discount_code")),
        "{e}"
    );
    ok(admin(&c, &["discount", "approve", "SPRING10"]));
    let draft = ok(admin(
        &c,
        &["invoice", "create", "--patient", &patient, "--line", line],
    ));
    assert_eq!(s(&draft, "total"), "48.60", "45.00 less 10 % plus 20 % tax");
    ok(admin(&c, &["invoice", "issue", &s(&draft, "id")]));
    let used = ok(admin(&c, &["discount", "list"]));
    assert_eq!(used[0]["uses"], 1);
    let (code, e) = refused(&admin(
        &c,
        &["invoice", "create", "--patient", &patient, "--line", line],
    ));
    assert_eq!(code, 3, "used up: {e}");

    // The audit trail names each step.
    let audit = ok(admin(&c, &["audit", "log"]));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "claim.submit",
        "claim.decide",
        "plan.create",
        "cashup.close",
        "period.close",
        "discount.add",
        "discount.approve",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
}
