//! Printed documents as PDF: one renderer for every document the clinic
//! prints (day sheet, prescription, referral letter, invoice, receipt,
//! credit note, report).
//!
//! Each document is a snapshot struct of everything it prints
//! ([`documents`]); [`render`] fills its Typst template (`templates/*.typ`)
//! with the snapshot as JSON data and typesets it with fonts embedded in
//! this crate (Noto: Latin, Greek, Cyrillic, Arabic, Chinese, kana, Hangul),
//! so any patient's name prints as written, on any workstation, with no
//! system fonts. [`write_pdf`] writes the result atomically with mode 0600.
//!
//! ```no_run
//! use clinic_print::{render, write_pdf, DaySheet, Letterhead, Paper};
//! let sheet = DaySheet {
//!     letterhead: Letterhead { name: "Riverside Practice".into(), ..Default::default() },
//!     title: "Day sheet".into(),
//!     ..Default::default()
//! };
//! let pdf = render(&sheet, Paper::A4)?;
//! write_pdf(std::path::Path::new("day.pdf"), &pdf)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod documents;
mod file;
mod typeset;

pub use documents::*;
pub use file::{write_pdf, write_private};

use serde::{Deserialize, Serialize};

/// The paper a document is laid out on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Paper {
    /// 210 × 297 mm.
    #[default]
    #[serde(rename = "a4")]
    A4,
    /// 8.5 × 11 in.
    #[serde(rename = "us-letter")]
    UsLetter,
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The template could not be typeset with this data (e.g. a logo that
    /// is not an image); the message names the template line.
    #[error("the document could not be typeset: {0}")]
    Typeset(String),
    #[error("the document's data could not be serialised: {0}")]
    Data(#[from] serde_json::Error),
}

/// A snapshot that has a template. Implemented for each struct of
/// [`documents`]; not for implementing elsewhere.
pub trait Printable: Serialize + sealed::Sealed {
    /// The template's file in `templates/`.
    #[doc(hidden)]
    const TEMPLATE: &'static str;
    #[doc(hidden)]
    fn letterhead(&self) -> &Letterhead;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! printable {
    ($($doc:ty => $template:literal),* $(,)?) => {$(
        impl sealed::Sealed for $doc {}
        impl Printable for $doc {
            const TEMPLATE: &'static str = $template;
            fn letterhead(&self) -> &Letterhead {
                &self.letterhead
            }
        }
    )*};
}

printable! {
    DaySheet => "day-sheet.typ",
    Prescription => "prescription.typ",
    ReferralLetter => "referral-letter.typ",
    Invoice => "invoice.typ",
    Receipt => "receipt.typ",
    CreditNote => "credit-note.typ",
    Report => "report.typ",
}

/// What a template reads from `/data.json`.
#[derive(Serialize)]
struct TemplateData<'a, D> {
    paper: Paper,
    /// Whether `/logo.png` exists (the letterhead's logo).
    logo: bool,
    doc: &'a D,
}

/// Typesets `doc` on `paper` and returns the PDF's bytes.
pub fn render<D: Printable>(doc: &D, paper: Paper) -> Result<Vec<u8>, PrintError> {
    let logo = doc.letterhead().logo_png.clone();
    let data = serde_json::to_vec(&TemplateData {
        paper,
        logo: logo.is_some(),
        doc,
    })?;
    typeset::pdf(D::TEMPLATE, data, logo)
}
