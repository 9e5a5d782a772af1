//! The snapshot of each printed document: every value it prints, already
//! formatted (dates, times, money as decimal strings with the currency's
//! minor digits, tax rates), so that a reprint of an issued document shows
//! exactly what was printed the first time, whatever changed since.
//!
//! The structs are plain data (serde), kept with the issued record by the
//! domain that issues it; `crate::render` turns one into PDF bytes.

use serde::{Deserialize, Serialize};

/// The issuing site's details, printed at the top of every document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letterhead {
    /// The name people know the site by ("Riverside Practice").
    pub name: String,
    #[serde(default)]
    pub address_lines: Vec<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// The legal entity that issues the document, when it differs from the
    /// name or must be printed (invoices, receipts, credit notes).
    #[serde(default)]
    pub legal_name: Option<String>,
    /// The tax registration, with its label ("VAT GB 123 4567 89").
    #[serde(default)]
    pub tax_id: Option<String>,
    /// A PNG (or JPEG) image printed left of the name, about 18 mm high.
    /// Kept as base64 text when the snapshot is serialised.
    #[serde(default, with = "base64_bytes")]
    pub logo_png: Option<Vec<u8>>,
}

/// A postal block: a name and its address lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addressee {
    pub name: String,
    #[serde(default)]
    pub lines: Vec<String>,
}

/// The patient a document is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientDetails {
    pub name: String,
    /// The human patient number ("P0000013").
    pub number: String,
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub address_lines: Vec<String>,
}

/// A clinician who signs or prescribes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clinician {
    pub name: String,
    /// Role and qualifications ("General practitioner, MBBS").
    #[serde(default)]
    pub role: Option<String>,
    /// Professional registration ("GMC 7654321").
    #[serde(default)]
    pub registration: Option<String>,
}

/// A clinician's or a room's list of the day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySheet {
    pub letterhead: Letterhead,
    /// "Day sheet: Dr Grace Hopper".
    pub title: String,
    /// "Northside Clinic, Monday 23 November 2026".
    pub subtitle: String,
    /// The heading of the fourth column: "Type" on one clinician's sheet,
    /// "Clinician" on the site's.
    pub detail_heading: String,
    pub rows: Vec<DaySheetRow>,
    /// "Printed 22 Nov 2026 10:15 by Ada Admin".
    pub footer: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySheetRow {
    /// "09:30–10:00".
    pub time: String,
    pub patient: String,
    pub patient_number: String,
    /// The appointment type or the clinician (see `DaySheet::detail_heading`).
    pub detail: String,
    #[serde(default)]
    pub room: String,
    /// "arrived", "DOUBLE BOOKED", …
    pub status: String,
    /// Printed in bold: the row needs the desk's attention.
    #[serde(default)]
    pub attention: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prescription {
    pub letterhead: Letterhead,
    /// The prescription's number in its series.
    pub number: String,
    /// The date it was issued, as printed.
    pub issued: String,
    pub patient: PatientDetails,
    pub prescriber: Clinician,
    pub items: Vec<PrescriptionItem>,
    /// Free lines under the items (allergies checked, pharmacy notes…).
    #[serde(default)]
    pub notes: Vec<String>,
    /// "Signed electronically by … on …", or none for a wet signature line.
    #[serde(default)]
    pub signature: Option<String>,
    pub footer: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrescriptionItem {
    /// Medicine, form and strength ("Amoxicillin 500 mg capsules").
    pub medicine: String,
    /// "One capsule three times a day for 7 days".
    pub directions: String,
    /// "21 capsules".
    pub quantity: String,
    #[serde(default)]
    pub repeats: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralLetter {
    pub letterhead: Letterhead,
    /// The letter's date, as printed.
    pub date: String,
    /// "Our ref: R-2026-0042".
    #[serde(default)]
    pub reference: Option<String>,
    pub recipient: Addressee,
    pub patient: PatientDetails,
    /// "Dear Dr Okafor,".
    pub salutation: String,
    /// The body, one string a paragraph.
    pub paragraphs: Vec<String>,
    /// "Yours sincerely,".
    pub closing: String,
    pub author: Clinician,
    pub footer: String,
}

/// One line of an invoice or credit note; amounts are formatted decimals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeLine {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    /// The tax rate as printed ("20%", "exempt").
    pub tax_rate: String,
    pub amount: String,
}

/// A labelled amount under the lines: a tax, a total, a payment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountLine {
    pub label: String,
    pub amount: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub letterhead: Letterhead,
    pub number: String,
    pub issue_date: String,
    #[serde(default)]
    pub due_date: Option<String>,
    pub bill_to: Addressee,
    #[serde(default)]
    pub patient: Option<PatientDetails>,
    /// The ISO currency code every amount is in ("EUR").
    pub currency: String,
    pub lines: Vec<ChargeLine>,
    pub subtotal: String,
    /// One line per tax rate ("VAT 20%").
    #[serde(default)]
    pub taxes: Vec<AmountLine>,
    pub total: String,
    /// Payments and credits already applied, each as its own line.
    #[serde(default)]
    pub payments: Vec<AmountLine>,
    pub balance_due: String,
    /// "Payable within 30 days to IBAN …".
    #[serde(default)]
    pub payment_terms: Option<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    pub footer: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub letterhead: Letterhead,
    pub number: String,
    /// Money paid back to the patient (a refund) rather than received.
    #[serde(default)]
    pub refund: bool,
    pub date: String,
    pub received_from: Addressee,
    pub currency: String,
    pub amount: String,
    /// "Card", "Cash", "Bank transfer".
    pub method: String,
    /// The card terminal's or bank's reference.
    #[serde(default)]
    pub reference: Option<String>,
    /// What the money paid: one line per invoice ("Invoice INV-0042").
    #[serde(default)]
    pub allocations: Vec<AmountLine>,
    #[serde(default)]
    pub notes: Vec<String>,
    pub footer: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditNote {
    pub letterhead: Letterhead,
    pub number: String,
    pub date: String,
    /// The number of the invoice it credits.
    pub invoice_number: String,
    pub bill_to: Addressee,
    pub reason: String,
    pub currency: String,
    pub lines: Vec<ChargeLine>,
    pub subtotal: String,
    #[serde(default)]
    pub taxes: Vec<AmountLine>,
    pub total: String,
    #[serde(default)]
    pub notes: Vec<String>,
    pub footer: String,
}

/// A titled table and optional summary lines (a report of any domain).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub letterhead: Letterhead,
    pub title: String,
    #[serde(default)]
    pub subtitle: Option<String>,
    pub columns: Vec<ReportColumn>,
    /// One string per column in each row.
    pub rows: Vec<Vec<String>>,
    /// Totals and counts printed under the table.
    #[serde(default)]
    pub summary: Vec<AmountLine>,
    pub footer: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportColumn {
    pub heading: String,
    /// Right-aligned (amounts, counts) rather than left.
    #[serde(default)]
    pub numeric: bool,
}

/// A logo's bytes as base64 text in a serialised snapshot.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}
