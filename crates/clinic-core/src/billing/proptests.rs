//! Property tests of the money rules: for random invoices (lines, taxes,
//! discounts) and random money against them (payments, refunds beyond
//! what was paid, credit notes by line or in full), totals are the sums of
//! their parts to the minor unit, the balance is `total − credited − paid +
//! refunded`, money is never refused, and a record survives its JSON.

use super::*;
use crate::sync::{apply, Context, Mutation, Records};
use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

fn at(n: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + n as i64 * 60, 0).unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Pay(u64),
    /// Refund `amount` of the `k`-th payment (modulo how many there are).
    Refund(usize, u64),
    Credit(Vec<usize>),
}

fn line() -> impl Strategy<Value = LineInput> {
    (
        1u32..=40,
        0u64..=200_000,
        prop::sample::select(vec!["0", "5", "7.5", "20", "21"]),
        prop::sample::select(vec!["0", "5", "12.5", "33.33", "100"]),
    )
        .prop_map(|(q, p, tax, disc)| LineInput {
            item: None,
            code: None,
            description: "Consultation".into(),
            quantity: Decimal::new(q as i64 * 5, 1),
            unit_price: Decimal::new(p as i64, 2),
            tax_rate: tax.parse().unwrap(),
            discount_percent: disc.parse().unwrap(),
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..=150_000).prop_map(Op::Pay),
        (0usize..4, 1u64..=150_000).prop_map(|(k, a)| Op::Refund(k, a)),
        prop::collection::vec(0usize..6, 0..3).prop_map(Op::Credit),
    ]
}

fn scale(currency: &str, minor: u64) -> Decimal {
    let d = money::minor_digits(currency);
    money::round(Decimal::new(minor as i64, 2), d).max(money::round(Decimal::ONE, d))
}

fn check_sums(inv: &Invoice) -> Result<(), TestCaseError> {
    let d = inv.digits();
    let mut sum = Totals::default();
    for l in &inv.lines {
        for x in [l.gross, l.discount, l.tax, l.total] {
            prop_assert_eq!(x.scale(), d, "every amount has the currency's minor digits");
        }
        let expect = if inv.prices_include_tax {
            l.gross - l.discount
        } else {
            l.gross - l.discount + l.tax
        };
        prop_assert_eq!(l.total, expect);
        prop_assert!(l.discount <= l.gross && l.tax >= Decimal::ZERO);
        sum.subtotal += l.gross;
        sum.discount += l.discount;
        sum.tax += l.tax;
        sum.total += l.total;
    }
    let t = &inv.totals;
    prop_assert_eq!(
        (t.subtotal, t.discount, t.tax, t.total),
        (sum.subtotal, sum.discount, sum.tax, sum.total)
    );
    let expect = if inv.prices_include_tax {
        t.subtotal - t.discount
    } else {
        t.subtotal - t.discount + t.tax
    };
    prop_assert_eq!(t.total, expect);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn invoices_add_up_and_money_is_never_refused(
        lines in prop::collection::vec(line(), 1..6),
        discount in prop::sample::select(vec!["0", "3", "10"]),
        include_tax in any::<bool>(),
        currency in prop::sample::select(vec!["EUR", "JPY", "KWD"]),
        ops in prop::collection::vec(op(), 0..12),
    ) {
        let tenant = Uuid::from_u128(1);
        let user = Uuid::from_u128(2);
        let patient = Uuid::from_u128(3);
        let id = Uuid::from_u128(10);
        let mut recs = Records::default();
        let mut n = 0u64;
        let mut run = |recs: &mut Records, m: Mutation| {
            n += 1;
            apply(&m, &Context { tenant, at: at(n), user: Some(user) }, recs)
        };
        let today: NaiveDate = at(1).date_naive();
        let create = CreateInvoice {
            invoice: id,
            patient,
            appointment: None,
            encounter: None,
            currency: currency.to_string(),
            prices_include_tax: include_tax,
            lines: lines.clone(),
            discount_percent: discount.parse().unwrap(),
            notes: String::new(),
        };
        run(&mut recs, Mutation::new(create)).unwrap();
        let total = recs.get::<Invoice>(id).unwrap().totals.total;
        check_sums(recs.get::<Invoice>(id).unwrap())?;
        run(&mut recs, Mutation::new(IssueInvoice {
            invoice: id,
            number: "INV-000001".into(),
            issued_on: today,
            due_on: today,
            total,
            print: BillingPrint::default(),
        })).unwrap();
        // An issued invoice is never edited.
        let edit = run(&mut recs, Mutation::new(EditInvoice { invoice: id, notes: Some("x".into()), ..Default::default() }));
        prop_assert_eq!(edit.unwrap_err().code, crate::ErrorCode::AlreadyIssued);

        let mut payments: Vec<(Uuid, Decimal)> = vec![];
        let mut refunds_of: std::collections::HashMap<Uuid, Decimal> = Default::default();
        let mut over_refund = false;
        let mut credited_lines: Vec<usize> = vec![];
        let mut twice = false;
        for (k, o) in ops.iter().enumerate() {
            let pid = Uuid::from_u128(100 + k as u128);
            let money = |kind, amount, refund_of| Payment {
                id: pid,
                tenant_id: tenant,
                patient_id: patient,
                invoice_id: id,
                kind,
                method: PaymentMethod::Card,
                amount,
                currency: currency.to_string(),
                received_on: today,
                reference: None,
                refund_of,
                reason: Some("asked".into()),
                receipt_number: Some(format!("RCT-{:06}", k + 1)),
                invoice_number: None,
                recorded_by: user,
                recorded_at: at(0),
                print: BillingPrint::default(),
            };
            match o {
                Op::Pay(a) => {
                    let a = scale(currency, *a);
                    run(&mut recs, Mutation::new(RecordPayment { payment: money(PaymentKind::Payment, a, None) })).unwrap();
                    payments.push((pid, a));
                }
                Op::Refund(j, a) => {
                    if payments.is_empty() { continue; }
                    let (of, paid) = payments[j % payments.len()];
                    let a = scale(currency, *a);
                    let before = refunds_of.get(&of).copied().unwrap_or_default();
                    over_refund |= before + a > paid;
                    refunds_of.insert(of, before + a);
                    run(&mut recs, Mutation::new(RefundPayment { refund: money(PaymentKind::Refund, a, Some(of)) })).unwrap();
                }
                Op::Credit(ls) => {
                    let n_lines = lines.len();
                    let idx: Vec<usize> = ls.iter().map(|i| i % n_lines).collect();
                    let chosen: Vec<usize> = if idx.is_empty() { (0..n_lines).collect() } else { idx.clone() };
                    twice |= chosen.iter().any(|i| credited_lines.contains(i));
                    credited_lines.extend(chosen);
                    let note = CreditNote {
                        id: pid,
                        tenant_id: tenant,
                        invoice_id: id,
                        patient_id: patient,
                        number: format!("CN-{:06}", k + 1),
                        invoice_number: String::new(),
                        line_indexes: idx,
                        lines: vec![],
                        totals: Totals::default(),
                        currency: currency.to_string(),
                        reason: "wrong item".into(),
                        issued_by: user,
                        issued_at: at(0),
                        issued_on: today,
                        print: BillingPrint::default(),
                    };
                    run(&mut recs, Mutation::new(IssueCreditNote { note })).unwrap();
                }
            }
            let inv = recs.get::<Invoice>(id).unwrap();
            check_sums(inv)?;
            let paid: Decimal = recs.all::<Payment>().filter(|p| p.kind == PaymentKind::Payment).map(|p| p.amount).sum();
            let refunded: Decimal = recs.all::<Payment>().filter(|p| p.kind == PaymentKind::Refund).map(|p| p.amount).sum();
            let credited: Decimal = recs.all::<CreditNote>().map(|c| c.totals.total).sum();
            prop_assert_eq!((inv.paid, inv.refunded, inv.credited), (paid, refunded, credited));
            prop_assert_eq!(inv.balance(), inv.totals.total - credited - paid + refunded);
            prop_assert_eq!(inv.status == InvoiceStatus::Paid, inv.balance() <= Decimal::ZERO);
            let raised = |code: &str| inv.conflicts.iter().any(|c| c.code == code);
            prop_assert_eq!(raised("OVER_REFUND"), over_refund);
            prop_assert_eq!(raised("LINE_CREDITED_TWICE"), twice);
            for c in recs.all::<CreditNote>() {
                check_sums(&Invoice { lines: c.lines.clone(), totals: c.totals.clone(), ..inv.clone() })?;
            }
            // What the server stores and sends back reads as the same invoice.
            let json = serde_json::to_value(inv).unwrap();
            prop_assert_eq!(&serde_json::from_value::<Invoice>(json.clone()).unwrap(), inv);
            prop_assert!(json["totals"]["total"].is_string(), "money travels as a decimal string");
        }
    }
}

/// The cases the simulation's independent model found.
mod found {
    use super::*;

    struct Desk {
        recs: Records,
        n: u64,
    }

    const TENANT: Uuid = Uuid::from_u128(1);
    const USER: Uuid = Uuid::from_u128(2);

    impl Desk {
        fn run(&mut self, m: impl crate::sync::MutationKind) -> crate::ClinicResult<()> {
            self.n += 1;
            let cx = Context {
                tenant: TENANT,
                at: at(self.n),
                user: Some(USER),
            };
            apply(&Mutation::new(m), &cx, &mut self.recs).map(|_| ())
        }

        fn issued(&mut self, id: u128, patient: u128, price: &str, number: u64) -> Uuid {
            let id = Uuid::from_u128(id);
            self.run(CreateInvoice {
                invoice: id,
                patient: Uuid::from_u128(patient),
                appointment: None,
                encounter: None,
                currency: "EUR".into(),
                prices_include_tax: false,
                lines: vec![LineInput {
                    item: None,
                    code: None,
                    description: "Consultation".into(),
                    quantity: Decimal::ONE,
                    unit_price: price.parse().unwrap(),
                    tax_rate: Decimal::ZERO,
                    discount_percent: Decimal::ZERO,
                }],
                discount_percent: Decimal::ZERO,
                notes: String::new(),
            })
            .unwrap();
            let total = self.recs.get::<Invoice>(id).unwrap().totals.total;
            self.run(IssueInvoice {
                invoice: id,
                number: format!("INV-{number:06}"),
                issued_on: at(1).date_naive(),
                due_on: at(1).date_naive(),
                total,
                print: BillingPrint::default(),
            })
            .unwrap();
            id
        }

        fn invoice(&self, id: Uuid) -> &Invoice {
            self.recs.get::<Invoice>(id).unwrap()
        }
    }

    fn money(
        id: u128,
        invoice: Uuid,
        patient: u128,
        kind: PaymentKind,
        method: PaymentMethod,
        amount: &str,
    ) -> Payment {
        Payment {
            id: Uuid::from_u128(id),
            tenant_id: TENANT,
            patient_id: Uuid::from_u128(patient),
            invoice_id: invoice,
            kind,
            method,
            amount: amount.parse().unwrap(),
            currency: "EUR".into(),
            received_on: at(1).date_naive(),
            reference: None,
            refund_of: None,
            reason: Some("asked".into()),
            receipt_number: (method != PaymentMethod::Credit).then(|| format!("RCT-{id:06}")),
            invoice_number: None,
            recorded_by: USER,
            recorded_at: at(1),
            print: BillingPrint::default(),
        }
    }

    fn note(id: u128, invoice: Uuid, number: u64) -> CreditNote {
        CreditNote {
            id: Uuid::from_u128(id),
            tenant_id: TENANT,
            invoice_id: invoice,
            patient_id: Uuid::from_u128(3),
            number: format!("CN-{number:06}"),
            invoice_number: String::new(),
            line_indexes: vec![],
            lines: vec![],
            totals: Totals::default(),
            currency: "EUR".into(),
            reason: "wrong".into(),
            issued_by: USER,
            issued_at: at(1),
            issued_on: at(1).date_naive(),
            print: BillingPrint::default(),
        }
    }

    #[test]
    fn both_conflicts_one_credit_note_raises_are_settled_one_after_the_other() {
        let mut d = Desk {
            recs: Records::default(),
            n: 1,
        };
        let inv = d.issued(10, 3, "50.00", 1);
        d.run(IssueCreditNote {
            note: note(20, inv, 1),
        })
        .unwrap();
        d.run(IssueCreditNote {
            note: note(21, inv, 2),
        })
        .unwrap();
        let codes: Vec<&str> = d
            .invoice(inv)
            .conflicts
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(codes, ["LINE_CREDITED_TWICE", "OVER_CREDIT"]);
        let settle = || ResolveMoneyConflict {
            invoice: inv,
            entry: Uuid::from_u128(21),
            note: "ok".into(),
        };
        d.run(settle()).unwrap();
        d.run(settle()).unwrap();
        assert_eq!(d.invoice(inv).open_conflicts(), 0);
        assert_eq!(
            d.run(settle()).unwrap_err().code,
            crate::ErrorCode::Conflict
        );
    }

    #[test]
    fn credit_moves_only_between_one_patients_invoices() {
        let mut d = Desk {
            recs: Records::default(),
            n: 1,
        };
        let a = d.issued(10, 3, "15.00", 1);
        let b = d.issued(11, 4, "15.00", 2);
        d.run(RecordPayment {
            payment: money(30, a, 3, PaymentKind::Payment, PaymentMethod::Card, "25.00"),
        })
        .unwrap();
        let e = d
            .run(ApplyCredit {
                out_of: money(
                    31,
                    a,
                    3,
                    PaymentKind::Refund,
                    PaymentMethod::Credit,
                    "10.00",
                ),
                into: money(
                    32,
                    b,
                    4,
                    PaymentKind::Payment,
                    PaymentMethod::Credit,
                    "10.00",
                ),
            })
            .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::Validation);
        assert_eq!(d.invoice(b).paid, Decimal::ZERO);
    }

    #[test]
    fn credit_moved_out_counts_against_refunds_of_the_payment() {
        let mut d = Desk {
            recs: Records::default(),
            n: 1,
        };
        let a = d.issued(10, 3, "15.00", 1);
        let b = d.issued(11, 3, "15.00", 2);
        d.run(RecordPayment {
            payment: money(30, a, 3, PaymentKind::Payment, PaymentMethod::Card, "25.00"),
        })
        .unwrap();
        d.run(ApplyCredit {
            out_of: money(
                31,
                a,
                3,
                PaymentKind::Refund,
                PaymentMethod::Credit,
                "10.00",
            ),
            into: money(
                32,
                b,
                3,
                PaymentKind::Payment,
                PaymentMethod::Credit,
                "10.00",
            ),
        })
        .unwrap();
        assert_eq!(
            d.invoice(a).refundable(Uuid::from_u128(30)).to_string(),
            "15.00"
        );
        let mut refund = money(33, a, 3, PaymentKind::Refund, PaymentMethod::Card, "25.00");
        refund.refund_of = Some(Uuid::from_u128(30));
        d.run(RefundPayment { refund }).unwrap();
        let codes: Vec<&str> = d
            .invoice(a)
            .conflicts
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(codes, ["OVER_REFUND"], "35.00 back of 25.00 paid is raised");
    }
}
