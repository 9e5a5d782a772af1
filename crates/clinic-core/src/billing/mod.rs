//! Billing: the clinic's settings (currency, taxes, legal details), the
//! price list, invoices numbered offline and never edited after issue,
//! payments, refunds, credit notes and receipts. Exact decimal arithmetic
//! with one rounding rule ([`money`]).

pub mod claims;
pub mod discounts;
pub mod invoice;
pub mod money;
pub mod mutations;
pub mod payment;
pub mod period;
pub mod plans;
pub mod prices;
pub mod settings;

pub use claims::*;
pub use discounts::*;
pub use invoice::*;
pub use mutations::*;
pub use payment::*;
pub use period::*;
pub use plans::*;
pub use prices::*;
pub use settings::*;

use crate::sync::{NumberSeries, Registry};

/// Numbers in each block a device leases: a busy desk issues a few dozen
/// invoices a day, so a block lasts weeks and numbers stay short.
const LEASE: i64 = 1_000;

fn parse_prefixed(prefix: &str, text: &str) -> Option<u64> {
    let t = text.trim();
    let head = t.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let digits = &t[prefix.len()..];
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|v| *v > 0)
}

fn format_invoice(v: u64) -> String {
    format!("INV-{v:06}")
}
fn parse_invoice(t: &str) -> Option<u64> {
    parse_prefixed("INV-", t)
}
fn format_receipt(v: u64) -> String {
    format!("RCT-{v:06}")
}
fn parse_receipt(t: &str) -> Option<u64> {
    parse_prefixed("RCT-", t)
}
fn format_credit_note(v: u64) -> String {
    format!("CN-{v:06}")
}
fn parse_credit_note(t: &str) -> Option<u64> {
    parse_prefixed("CN-", t)
}
fn format_claim(v: u64) -> String {
    format!("CLM-{v:06}")
}
fn parse_claim(t: &str) -> Option<u64> {
    parse_prefixed("CLM-", t)
}

/// Invoice numbers: `INV-000123`, unique per tenant, issued offline.
pub const INVOICE_NUMBERS: NumberSeries = NumberSeries {
    name: "invoice",
    lease: LEASE,
    low_water: LEASE / 5,
    format: format_invoice,
    parse: parse_invoice,
};

/// Receipt numbers (payments and refunds): `RCT-000045`.
pub const RECEIPT_NUMBERS: NumberSeries = NumberSeries {
    name: "receipt",
    lease: LEASE,
    low_water: LEASE / 5,
    format: format_receipt,
    parse: parse_receipt,
};

/// Credit note numbers: `CN-000012`.
pub const CREDIT_NOTE_NUMBERS: NumberSeries = NumberSeries {
    name: "credit_note",
    lease: LEASE,
    low_water: LEASE / 5,
    format: format_credit_note,
    parse: parse_credit_note,
};

/// Insurance claim numbers: `CLM-000007` (a desk claims a few a week).
pub const CLAIM_NUMBERS: NumberSeries = NumberSeries {
    name: "claim",
    lease: 100,
    low_water: 20,
    format: format_claim,
    parse: parse_claim,
};

pub fn register(r: &mut Registry) {
    r.record::<ClinicSettings>()
        .record::<PriceItem>()
        .mutation::<AddPriceItem>()
        .mutation::<ChangePriceItem>()
        .record::<Invoice>()
        .record::<Payment>()
        .record::<CreditNote>()
        .series(INVOICE_NUMBERS)
        .series(RECEIPT_NUMBERS)
        .series(CREDIT_NOTE_NUMBERS)
        .mutation::<CreateInvoice>()
        .mutation::<EditInvoice>()
        .mutation::<DiscardInvoice>()
        .mutation::<IssueInvoice>()
        .mutation::<VoidInvoice>()
        .mutation::<RecordPayment>()
        .mutation::<RefundPayment>()
        .mutation::<IssueCreditNote>()
        .mutation::<ApplyCredit>()
        .mutation::<ResolveMoneyConflict>()
        .record::<PeriodLock>()
        .mutation::<ClosePeriod>()
        .record::<CashUp>()
        .mutation::<CloseCashUp>()
        .record::<InsuranceClaim>()
        .series(CLAIM_NUMBERS)
        .mutation::<SubmitClaim>()
        .mutation::<DecideClaim>()
        .record::<EligibilityCheck>()
        .mutation::<RecordEligibility>()
        .record::<InstalmentPlan>()
        .mutation::<CreatePlan>()
        .record::<DiscountCode>()
        .mutation::<AddDiscountCode>()
        .mutation::<DecideDiscountCode>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_as_typed() {
        for s in [
            INVOICE_NUMBERS,
            RECEIPT_NUMBERS,
            CREDIT_NOTE_NUMBERS,
            CLAIM_NUMBERS,
        ] {
            for v in [1u64, 42, 999_999, 1_234_567] {
                assert_eq!((s.parse)(&(s.format)(v)), Some(v));
                assert_eq!((s.parse)(&(s.format)(v).to_lowercase()), Some(v));
            }
            assert_eq!((s.parse)("12"), None);
            assert_eq!((s.parse)(""), None);
        }
        assert_eq!(parse_invoice("INV-"), None);
        assert_eq!(parse_invoice("INV-0"), None);
        assert_eq!(parse_invoice("RCT-000001"), None);
        assert_eq!(parse_invoice("INV-12a"), None);
        assert_eq!(parse_invoice("inv-000007"), Some(7));
    }
}

#[cfg(test)]
mod proptests;
