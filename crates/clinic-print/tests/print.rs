//! Printed documents read back by an independent tool: poppler's
//! `pdftotext`, `pdfinfo` and `pdffonts` (Debian's poppler-utils, installed by
//! scripts/setup.sh). A missing tool fails the test; nothing is skipped.

#[path = "print/samples.rs"]
mod samples;

use clinic_print::*;
use samples::NAMES;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `pdf` into a fresh folder (kept alive by the returned guard).
fn saved(pdf: &[u8]) -> (tempfile::TempDir, PathBuf) {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    write_pdf(&path, pdf).unwrap();
    (dir, path)
}

fn poppler(tool: &str, args: &[&str], path: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(path)
        .args(if tool == "pdftotext" {
            &["-"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils, see scripts/setup.sh): {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text of page `page` (from 1), in reading layout.
fn page_text(path: &Path, page: usize) -> String {
    let n = page.to_string();
    poppler(
        "pdftotext",
        &["-layout", "-enc", "UTF-8", "-f", &n, "-l", &n],
        path,
    )
}

fn all_text(path: &Path) -> String {
    poppler("pdftotext", &["-enc", "UTF-8"], path)
}

fn info(path: &Path, key: &str) -> String {
    poppler("pdfinfo", &[], path)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("pdfinfo shows no {key}"))
        .trim()
        .to_string()
}

fn pages(path: &Path) -> usize {
    info(path, "Pages").parse().unwrap()
}

/// Text compared with white space squeezed, and without the embedding
/// marks (U+202A..U+202E) pdftotext puts around a right-to-left run.
fn squeezed(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").replace(
        ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}'],
        "",
    )
}

/// `expected` as pdftotext reads it back. Arabic is shaped, so lam followed
/// by alef is one glyph (a ligature) whose text is the two letters; poppler
/// reverses a right-to-left run character by character, so it gives those
/// two letters back swapped ("الأحمد" reads "األحمد"). Every other
/// character of a name reads as written. An unshaped (unjoined) name would
/// read literally and fail the comparison.
fn as_poppler_reads(expected: &str) -> String {
    let mut out = squeezed(expected);
    for alef in ['ا', 'أ', 'إ', 'آ'] {
        out = out.replace(&format!("ل{alef}"), &format!("{alef}ل"));
    }
    out
}

fn contains_all(text: &str, wanted: &[&str]) {
    let text = squeezed(text);
    for w in wanted {
        assert!(
            text.contains(&as_poppler_reads(w)),
            "{w:?} is not in the printed text:\n{text}"
        );
    }
}

#[test]
fn a_day_sheet_prints_every_name_as_written() {
    let sheet = samples::day_sheet(12);
    let (_dir, path) = saved(&render(&sheet, Paper::A4).unwrap());
    let text = all_text(&path);
    contains_all(&text, &NAMES);
    contains_all(
        &text,
        &[
            "Riverside Practice",
            "Day sheet: Dr Grace Hopper",
            "Riverside Practice, Monday 23 November 2026",
            "08:00–08:10",
            "P0001000",
            "DOUBLE BOOKED",
            "Printed 22 Nov 2026 10:15 by Ada Admin",
            "12 appointments",
            "Page 1 of 1",
        ],
    );
    assert!(!text.contains('?'), "a character was replaced:\n{text}");
}

#[test]
fn a_long_day_sheet_repeats_its_header_and_numbers_its_pages() {
    let sheet = samples::day_sheet(110);
    let (_dir, path) = saved(&render(&sheet, Paper::A4).unwrap());
    assert_eq!(pages(&path), 3, "110 rows fill three A4 pages");
    let mut seen = Vec::new();
    for page in 1..=3 {
        let text = page_text(&path, page);
        let header = text
            .lines()
            .find(|l| squeezed(l) == "Time Patient Number Type Room Status");
        assert!(header.is_some(), "page {page} has no header row:\n{text}");
        contains_all(
            &text,
            &[
                &format!("Page {page} of 3"),
                "Printed 22 Nov 2026 10:15 by Ada Admin",
            ],
        );
        seen.extend(
            text.split_whitespace()
                .filter(|w| w.len() == 8 && w.starts_with("P0001"))
                .map(str::to_string),
        );
    }
    // Every row printed once, in order, none lost at a page break.
    let expected: Vec<String> = (0..110).map(|i| format!("P{:07}", 1000 + i)).collect();
    assert_eq!(seen, expected);
    contains_all(&page_text(&path, 1), &NAMES);
    contains_all(&page_text(&path, 3), &["110 appointments"]);
}

#[test]
fn every_font_is_embedded() {
    let (_dir, path) = saved(&render(&samples::day_sheet(5), Paper::A4).unwrap());
    let fonts = poppler("pdffonts", &[], &path);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    // Latin, Latin bold (headings), Arabic and Chinese.
    for family in [
        "NotoSans-Regular",
        "NotoSans-Bold",
        "NotoSansArabic",
        "NotoSansCJKsc",
    ] {
        assert!(
            rows.iter().any(|r| r.contains(family)),
            "{family} is not used:\n{fonts}"
        );
    }
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name type [encoding…] emb sub uni object-id generation
        let emb = cols[cols.len() - 5];
        assert_eq!(emb, "yes", "a font is not embedded:\n{fonts}");
    }
}

#[test]
fn paper_is_a4_or_us_letter() {
    let sheet = samples::day_sheet(3);
    let (_a4_dir, a4) = saved(&render(&sheet, Paper::A4).unwrap());
    let (_letter_dir, letter) = saved(&render(&sheet, Paper::UsLetter).unwrap());
    assert_eq!(info(&a4, "Page size"), "595.276 x 841.89 pts (A4)");
    assert_eq!(info(&letter, "Page size"), "612 x 792 pts (letter)");
}

#[test]
fn names_that_look_like_markup_print_literally() {
    let tricky = [
        "#set page(width: 5cm)",
        "]",
        "\"",
        "\\",
        "#panic(\"boom\")",
        "*not bold* _not italic_",
        "$x^2$ `raw` <label> @ref",
        "// not a comment",
        "/* nor this */ end",
        "{ let x = 1 }",
        "#import \"/common.typ\": *",
        "= Not a heading",
    ];
    let mut sheet = samples::day_sheet(tricky.len());
    for (row, name) in sheet.rows.iter_mut().zip(tricky) {
        row.patient = name.to_string();
    }
    sheet.title = "]#text(red)[".into();
    sheet.footer = "\\ #pagebreak() \"".into();
    let (_dir, path) = saved(&render(&sheet, Paper::A4).unwrap());
    assert_eq!(info(&path, "Page size"), "595.276 x 841.89 pts (A4)");
    assert_eq!(pages(&path), 1);
    let text = all_text(&path);
    contains_all(&text, &tricky);
    contains_all(&text, &["]#text(red)[", "\\ #pagebreak() \""]);
}

#[test]
fn a_name_too_long_for_its_column_wraps_inside_the_page() {
    let surname = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessen";
    let mut sheet = samples::day_sheet(2);
    sheet.rows[0].patient = format!("Hubert Blaine {surname}");
    let (_dir, path) = saved(&render(&sheet, Paper::A4).unwrap());
    // Every word's right edge stays inside the right margin (18 mm).
    let right_margin = 595.276 - 18.0 * 72.0 / 25.4;
    let bbox = poppler("pdftotext", &["-bbox"], &path);
    let mut words = Vec::new();
    for line in bbox.lines().filter(|l| l.contains("<word ")) {
        let x_max: f64 = line
            .split("xMax=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        let word = line.split('>').nth(1).unwrap().trim_end_matches("</word");
        assert!(x_max <= right_margin + 0.5, "{word:?} ends at {x_max} pt");
        words.push(word.to_string());
    }
    // The surname comes back whole once its line breaks are joined.
    let patient_words: String = words
        .iter()
        .skip_while(|w| *w != "Blaine")
        .skip(1)
        .take_while(|w| !w.starts_with("P0001000"))
        .map(String::as_str)
        .collect();
    assert_eq!(patient_words, surname);
}

#[test]
fn an_empty_day_sheet_says_so() {
    let mut sheet = samples::day_sheet(0);
    sheet.letterhead.logo_png = None;
    let (_dir, path) = saved(&render(&sheet, Paper::A4).unwrap());
    contains_all(&all_text(&path), &["No appointments.", "Page 1 of 1"]);
}

#[test]
fn the_logo_is_printed_and_a_broken_one_is_an_error() {
    let sheet = samples::day_sheet(1);
    let (_dir, path) = saved(&render(&sheet, Paper::A4).unwrap());
    let images = poppler("pdfimages", &["-list"], &path);
    let pictures: Vec<&str> = images
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("image"))
        .collect();
    assert_eq!(pictures.len(), 1, "one image (the logo):\n{images}");
    assert!(
        pictures[0].contains("96    96"),
        "the 96 px logo:\n{images}"
    );
    let mut broken = sheet.clone();
    broken.letterhead.logo_png = Some(b"not a picture".to_vec());
    let err = render(&broken, Paper::A4).unwrap_err();
    assert!(matches!(err, PrintError::Typeset(_)), "{err}");
}

#[test]
fn the_letterhead_prints_the_sites_legal_details() {
    let (_dir, path) = saved(&render(&samples::invoice(), Paper::A4).unwrap());
    contains_all(
        &page_text(&path, 1),
        &[
            "Riverside Practice",
            "12 Mill Lane, Leeds LS1 4AB, United Kingdom",
            "Riverside Medical Partnership LLP",
            "VAT GB 123 4567 89",
            "+44 113 496 0000",
            "desk@riverside.example",
        ],
    );
}

#[test]
fn a_prescription_prints_its_items_and_prescriber() {
    let (_dir, path) = saved(&render(&samples::prescription(), Paper::A4).unwrap());
    contains_all(
        &all_text(&path),
        &[
            "Prescription",
            "RX-2026-000417",
            "Nguyễn Thị Minh",
            "P0000013",
            "Born 1985-12-10",
            "Dr Grace Hopper",
            "GMC 7654321",
            "Amoxicillin 500 mg capsules",
            "One capsule three times a day for 7 days",
            "21 capsules",
            "1 repeat",
            "Allergies checked: none known.",
            "Signed electronically by Dr Grace Hopper on 23 Nov 2026 at 10:42",
            "Page 1 of 1",
        ],
    );
}

#[test]
fn a_referral_letter_prints_recipient_patient_and_body() {
    let (_dir, path) = saved(&render(&samples::referral_letter(), Paper::A4).unwrap());
    contains_all(
        &all_text(&path),
        &[
            "Dr Chidi Okafor",
            "Department of Cardiology",
            "23 November 2026",
            "Our ref: R-2026-0042",
            "Re: Αλέξης Παπαδόπουλος",
            "Dear Dr Okafor,",
            "three episodes of palpitations",
            "an ambulatory ECG.",
            "Yours sincerely,",
            "General practitioner, MBBS MRCGP",
        ],
    );
}

#[test]
fn an_invoice_prints_lines_taxes_and_totals() {
    let (_dir, path) = saved(&render(&samples::invoice(), Paper::UsLetter).unwrap());
    let text = page_text(&path, 1);
    contains_all(
        &text,
        &[
            "Invoice INV-2026-001234",
            "محمد الأحمد",
            "Nguyễn Thị Minh",
            "23 Dec 2026",
            "Consultation, 30 minutes",
            "85.00",
            "12.50",
            "VAT 20% on 25.00",
            "Subtotal",
            "110.00",
            "Total (GBP)",
            "115.00",
            "-50.00",
            "Balance due (GBP)",
            "65.00",
            "Payable within 30 days",
        ],
    );
}

#[test]
fn a_receipt_prints_amount_method_and_allocation() {
    let (_dir, path) = saved(&render(&samples::receipt(), Paper::A4).unwrap());
    contains_all(
        &all_text(&path),
        &[
            "Receipt RCT-2026-000321",
            "王秀英",
            "GBP 50.00",
            "Card",
            "Terminal auth 845213",
            "Invoice INV-2026-001234",
        ],
    );
}

#[test]
fn a_refund_receipt_says_the_money_was_paid_back() {
    let refund = clinic_print::Receipt {
        refund: true,
        ..samples::receipt()
    };
    let text = all_text(&saved(&render(&refund, Paper::A4).unwrap()).1);
    contains_all(
        &text,
        &[
            "Refund receipt RCT-2026-000321",
            "PAID BACK TO", // section titles print in capitals
            "Amount paid back",
        ],
    );
    assert!(!text.contains("Amount received"), "{text}");
}

#[test]
fn a_credit_note_prints_the_invoice_it_credits() {
    let (_dir, path) = saved(&render(&samples::credit_note(), Paper::A4).unwrap());
    contains_all(
        &all_text(&path),
        &[
            "Credit note CN-2026-000045",
            "Credits invoice INV-2026-001234",
            "Łukasz Wróbel",
            "Vaccination certificate issued twice in error",
            "Total credited (GBP)",
            "15.00",
        ],
    );
}

#[test]
fn a_report_prints_its_table_and_summary() {
    let (_dir, path) = saved(&render(&samples::report(), Paper::A4).unwrap());
    contains_all(
        &page_text(&path, 1),
        &[
            "Takings by clinician",
            "1–30 November 2026",
            "Clinician Appointments Invoiced (GBP)",
            "Dr Chidi Okafor 187 15,895.50",
            "33,915.50",
            "Printed 1 Dec 2026 09:00 by Mia Manager",
        ],
    );
}

#[test]
fn the_file_is_written_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("day.pdf");
    // An older, world-readable file of that name is replaced.
    std::fs::write(&path, b"old").unwrap();
    let pdf = render(&samples::day_sheet(2), Paper::A4).unwrap();
    write_pdf(&path, &pdf).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), pdf);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("day.pdf")]);
}

#[test]
fn a_snapshot_keeps_everything_through_json() {
    let invoice = samples::invoice();
    let json = serde_json::to_string(&invoice).unwrap();
    assert!(
        json.contains("\"logo_png\":\"iVBORw0KGgo"),
        "the logo is kept as base64"
    );
    let back: Invoice = serde_json::from_str(&json).unwrap();
    assert_eq!(back, invoice);
    // The same snapshot prints the same document.
    assert_eq!(
        render(&back, Paper::A4).unwrap(),
        render(&invoice, Paper::A4).unwrap()
    );
}
