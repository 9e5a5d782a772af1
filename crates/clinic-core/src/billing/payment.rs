//! Payments, refunds and credit notes: insert-only records (a ledger), each
//! also entered in its invoice's ledger by the mutation that records it.
//! Money that moved is never refused after the fact: a refund beyond what
//! was paid, or a line credited twice on two offline desks, is accepted and
//! raised on the invoice as a conflict for a manager.

use super::invoice::{BillingPrint, InvoiceLine, Totals};
use crate::sync::{Merge, RecordKind};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
    BankTransfer,
    Insurance,
    /// The patient's credit from another invoice (no money changes hands).
    Credit,
}

impl PaymentMethod {
    pub const TAKEN: [PaymentMethod; 4] =
        [Self::Cash, Self::Card, Self::BankTransfer, Self::Insurance];
    /// What a desk's cash-up counts (an insurer's payment is settled by
    /// its claim, credit moves no money).
    pub const COUNTED: [PaymentMethod; 3] = [Self::Cash, Self::Card, Self::BankTransfer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
            Self::BankTransfer => "bank_transfer",
            Self::Insurance => "insurance",
            Self::Credit => "credit",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Cash => "Cash",
            Self::Card => "Card",
            Self::BankTransfer => "Bank transfer",
            Self::Insurance => "Insurance",
            Self::Credit => "Credit from another invoice",
        }
    }
    pub fn parse(s: &str) -> Option<PaymentMethod> {
        let s = s.trim().to_lowercase().replace(['-', ' '], "_");
        [
            Self::Cash,
            Self::Card,
            Self::BankTransfer,
            Self::Insurance,
            Self::Credit,
        ]
        .into_iter()
        .find(|m| m.as_str() == s || (s == "transfer" && *m == Self::BankTransfer))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    Payment,
    Refund,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Payment {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub patient_id: Uuid,
    pub invoice_id: Uuid,
    pub kind: PaymentKind,
    pub method: PaymentMethod,
    /// Always positive; a refund's direction is its kind.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub amount: Decimal,
    pub currency: String,
    /// The day the money was received or paid back (site's calendar).
    pub received_on: NaiveDate,
    /// The card terminal's or bank's reference.
    #[serde(default)]
    pub reference: Option<String>,
    /// A refund's payment.
    #[serde(default)]
    pub refund_of: Option<Uuid>,
    /// Why a refund was made.
    #[serde(default)]
    pub reason: Option<String>,
    /// The receipt's number (`RCT-000045`); none for a transfer of credit.
    #[serde(default)]
    pub receipt_number: Option<String>,
    /// The invoice's number when the money was taken.
    #[serde(default)]
    pub invoice_number: Option<String>,
    pub recorded_by: Uuid,
    pub recorded_at: DateTime<Utc>,
    /// What the receipt printed.
    #[serde(default)]
    pub print: BillingPrint,
    /// The workstation that took or paid it back (its cash-up counts it).
    #[serde(default)]
    pub desk_id: Option<Uuid>,
}

impl RecordKind for Payment {
    const KIND: &'static str = "payment";
    const MERGE: Merge = Merge::Ledger;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreditNote {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub invoice_id: Uuid,
    pub patient_id: Uuid,
    /// `CN-000012`.
    pub number: String,
    pub invoice_number: String,
    /// The invoice's lines it credits (indexes; empty: every line).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub line_indexes: Vec<usize>,
    /// Copies of the credited lines, as the invoice priced them.
    pub lines: Vec<InvoiceLine>,
    pub totals: Totals,
    pub currency: String,
    pub reason: String,
    pub issued_by: Uuid,
    pub issued_at: DateTime<Utc>,
    pub issued_on: NaiveDate,
    #[serde(default)]
    pub print: BillingPrint,
}

impl RecordKind for CreditNote {
    const KIND: &'static str = "credit_note";
    const MERGE: Merge = Merge::Ledger;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}
