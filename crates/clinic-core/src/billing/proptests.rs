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
            discount_code: None,
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
            tenant: Some(tenant),
            discount_codes: vec![],
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
                desk_id: None,
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
                    discount_code: None,
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
                tenant: Some(TENANT),
                discount_codes: vec![],
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
            desk_id: None,
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
            tenant: Some(TENANT),
            post_on: None,
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

    fn day(n: u64) -> NaiveDate {
        at(n).date_naive()
    }

    #[test]
    fn a_payment_dated_inside_a_closed_period_is_accepted_raised_and_posted_after_it() {
        let mut d = Desk {
            recs: Records::default(),
            n: 1,
        };
        let inv = d.issued(10, 3, "50.00", 1);
        // Closing a period that has not ended is refused.
        let close = |until| ClosePeriod {
            tenant: TENANT,
            until,
            unsynced_desks: vec!["Desk 2".into()],
            note: String::new(),
        };
        let e = d
            .run(close(day(1) + chrono::Duration::days(1)))
            .unwrap_err();
        assert_eq!(e.fields[0].field, "until");
        d.run(close(day(1))).unwrap();
        assert_eq!(
            d.run(close(day(1))).unwrap_err().code,
            crate::ErrorCode::Conflict,
            "already closed up to that day"
        );
        // Another tenant's id cannot open this tenant's books.
        let mut other = money(
            30,
            inv,
            3,
            PaymentKind::Payment,
            PaymentMethod::Cash,
            "5.00",
        );
        other.tenant_id = Uuid::from_u128(99);
        assert_eq!(
            d.run(RecordPayment { payment: other }).unwrap_err().fields[0].field,
            "tenant"
        );
        // A payment dated on the closed day: accepted, raised.
        let late = money(
            31,
            inv,
            3,
            PaymentKind::Payment,
            PaymentMethod::Cash,
            "20.00",
        );
        d.run(RecordPayment {
            payment: late.clone(),
        })
        .unwrap();
        let i = d.invoice(inv).clone();
        assert_eq!(i.paid.to_string(), "20.00", "the money stands");
        let codes: Vec<&str> = i.conflicts.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["PERIOD_CLOSED"]);
        // Settled only by posting it into an open period.
        let settle = |post_on| ResolveMoneyConflict {
            invoice: inv,
            entry: late.id,
            note: "posted".into(),
            tenant: Some(TENANT),
            post_on,
        };
        assert_eq!(d.run(settle(None)).unwrap_err().fields[0].field, "post_on");
        assert_eq!(
            d.run(settle(Some(day(1)))).unwrap_err().code,
            crate::ErrorCode::PeriodClosed
        );
        d.run(settle(Some(day(1) + chrono::Duration::days(1))))
            .unwrap();
        let r = d.invoice(inv).conflicts[0].resolved.clone().unwrap();
        assert_eq!(r.posted_on, Some(day(1) + chrono::Duration::days(1)));
    }

    #[test]
    fn a_claims_approvals_post_what_they_add_and_a_decided_claim_is_not_decided_again() {
        let mut d = Desk {
            recs: Records::default(),
            n: 1,
        };
        let inv = d.issued(10, 3, "50.00", 1);
        let claim = InsuranceClaim {
            id: Uuid::from_u128(40),
            tenant_id: TENANT,
            number: "CLM-000001".into(),
            invoice_id: inv,
            invoice_number: String::new(),
            patient_id: Uuid::from_u128(3),
            provider: "Bupa".into(),
            policy_number: None,
            currency: "EUR".into(),
            claimed: "40.00".parse().unwrap(),
            approved: Decimal::ZERO,
            status: ClaimStatus::Pending,
            submitted_on: day(1),
            decided_on: None,
            reason: None,
            payments: vec![],
            created_by: USER,
            created_at: at(1),
            updated_at: at(1),
        };
        let mut too_much = claim.clone();
        too_much.claimed = "60.00".parse().unwrap();
        assert_eq!(
            d.run(SubmitClaim { claim: too_much }).unwrap_err().fields[0].field,
            "amount"
        );
        d.run(SubmitClaim {
            claim: claim.clone(),
        })
        .unwrap();
        let pay = |id: u128, amount: &str| {
            let mut p = money(
                id,
                inv,
                3,
                PaymentKind::Payment,
                PaymentMethod::Insurance,
                amount,
            );
            p.receipt_number = Some(format!("RCT-{id:06}"));
            p
        };
        let decide = |status, approved: &str, payment| DecideClaim {
            claim: claim.id,
            status,
            approved: approved.parse().unwrap(),
            decided_on: day(1),
            reason: None,
            payment,
        };
        // The payment must be what the decision adds.
        let e = d
            .run(decide(
                ClaimStatus::PartiallyPaid,
                "15.00",
                Some(pay(50, "10.00")),
            ))
            .unwrap_err();
        assert_eq!(e.fields[0].field, "payment");
        d.run(decide(
            ClaimStatus::PartiallyPaid,
            "15.00",
            Some(pay(50, "15.00")),
        ))
        .unwrap();
        d.run(decide(
            ClaimStatus::Approved,
            "40.00",
            Some(pay(51, "25.00")),
        ))
        .unwrap();
        let c = d.recs.get::<InsuranceClaim>(claim.id).unwrap().clone();
        assert_eq!(
            (c.status, c.approved.to_string()),
            (ClaimStatus::Approved, "40.00".into())
        );
        assert_eq!(c.payments, [Uuid::from_u128(50), Uuid::from_u128(51)]);
        assert_eq!(d.invoice(inv).balance().to_string(), "10.00");
        let e = d
            .run(DecideClaim {
                reason: Some("late".into()),
                ..decide(ClaimStatus::Denied, "40.00", None)
            })
            .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::Conflict);
    }

    #[test]
    fn a_cash_up_states_its_differences_with_a_reason_once_per_desk_and_day() {
        let mut d = Desk {
            recs: Records::default(),
            n: 1,
        };
        let desk = Uuid::from_u128(7);
        let line = |m, e: &str, c: &str| {
            let (e, c): (Decimal, Decimal) = (e.parse().unwrap(), c.parse().unwrap());
            CashUpLine {
                method: m,
                expected: e,
                counted: c,
                difference: c - e,
            }
        };
        let cash_up = |lines: Vec<CashUpLine>, reason: Option<&str>| CloseCashUp {
            cash_up: CashUp {
                id: CashUp::id_for(desk, day(1)),
                tenant_id: TENANT,
                desk_id: desk,
                desk_name: "Desk 1".into(),
                day: day(1),
                currency: "EUR".into(),
                lines,
                payments: vec![],
                reason: reason.map(str::to_string),
                closed_by: USER,
                closed_at: at(1),
            },
        };
        let short = vec![line(PaymentMethod::Cash, "20.00", "19.50")];
        assert_eq!(
            d.run(cash_up(short.clone(), None)).unwrap_err().fields[0].field,
            "reason"
        );
        let mut lie = short.clone();
        lie[0].difference = Decimal::ZERO;
        assert_eq!(
            d.run(cash_up(lie, Some("x"))).unwrap_err().fields[0].field,
            "difference"
        );
        let insurer = vec![line(PaymentMethod::Insurance, "20.00", "20.00")];
        assert_eq!(
            d.run(cash_up(insurer, None)).unwrap_err().fields[0].field,
            "counted"
        );
        d.run(cash_up(short.clone(), Some("float short"))).unwrap();
        let even = vec![line(PaymentMethod::Cash, "20.00", "20.00")];
        assert_eq!(
            d.run(cash_up(even, None)).unwrap_err().code,
            crate::ErrorCode::Conflict,
            "the day is closed"
        );
    }

    #[test]
    fn an_issued_invoice_counts_one_use_of_each_code_its_lines_carry_past_the_limit_too() {
        let mut d = Desk {
            recs: Records::default(),
            n: 1,
        };
        let code = DiscountCode {
            id: DiscountCode::id_for(TENANT, "spring10"),
            tenant_id: TENANT,
            code: "SPRING10".into(),
            description: String::new(),
            percent: Decimal::TEN,
            valid_from: day(1),
            valid_until: None,
            max_uses: Some(1),
            uses: 0,
            approval: Approval::Pending,
            decided_by: None,
            decided_at: None,
            created_by: USER,
            created_at: at(1),
            updated_at: at(1),
        };
        let mut wrong = code.clone();
        wrong.id = Uuid::from_u128(5);
        assert_eq!(
            d.run(AddDiscountCode { code: wrong }).unwrap_err().fields[0].field,
            "code"
        );
        d.run(AddDiscountCode { code: code.clone() }).unwrap();
        fn stored(d: &Desk, id: Uuid) -> DiscountCode {
            d.recs.get::<DiscountCode>(id).unwrap().clone()
        }
        assert!(stored(&d, code.id)
            .unusable_on(day(1))
            .unwrap()
            .contains("approval"));
        d.run(DecideDiscountCode {
            code: code.id,
            approve: true,
        })
        .unwrap();
        assert_eq!(
            d.run(DecideDiscountCode {
                code: code.id,
                approve: false
            })
            .unwrap_err()
            .code,
            crate::ErrorCode::Conflict
        );
        // Two invoices with the code issued (two desks, offline): both stand.
        for (id, number) in [(60u128, 7u64), (61, 8)] {
            let inv = Uuid::from_u128(id);
            d.run(CreateInvoice {
                invoice: inv,
                patient: Uuid::from_u128(3),
                appointment: None,
                encounter: None,
                currency: "EUR".into(),
                prices_include_tax: false,
                lines: vec![LineInput {
                    item: None,
                    code: None,
                    description: "Consultation".into(),
                    quantity: Decimal::ONE,
                    unit_price: "50.00".parse().unwrap(),
                    tax_rate: Decimal::ZERO,
                    discount_percent: Decimal::TEN,
                    discount_code: Some("SPRING10".into()),
                }],
                discount_percent: Decimal::ZERO,
                notes: String::new(),
            })
            .unwrap();
            let issue = |codes: Vec<Uuid>| IssueInvoice {
                invoice: inv,
                number: format!("INV-{number:06}"),
                issued_on: day(1),
                due_on: day(1),
                total: "45.00".parse().unwrap(),
                print: BillingPrint::default(),
                tenant: Some(TENANT),
                discount_codes: codes,
            };
            assert_eq!(
                d.run(issue(vec![])).unwrap_err().fields[0].field,
                "discount_codes",
                "the codes it counts are the lines'"
            );
            d.run(issue(vec![code.id])).unwrap();
        }
        let c = stored(&d, code.id);
        assert_eq!(c.uses, 2, "counted past its limit, never refused");
        assert!(c.unusable_on(day(1)).unwrap().contains("limit"));
    }
}
