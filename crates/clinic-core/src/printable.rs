//! Printable lists (a clinician's day sheet, a room's bookings) as PDF,
//! pure and dependency-free: a title, a subtitle line, a table that breaks
//! across A4 portrait pages with its header repeated, and a footer that
//! counts pages ("…, page 2 of 3").
//!
//! Why so small a writer: a list of text needs only the standard Helvetica
//! fonts every PDF reader has built in (no font embedding), uncompressed
//! content streams and a classic xref table — a few hundred lines instead of
//! a PDF library and its dependency tree in the domain crate.
//!
//! Text is encoded in WinAnsiEncoding (Latin-1 plus typographic quotes,
//! dashes, € …); characters it has no glyph for print as `?`. Columns are
//! sized from Helvetica's glyph widths and overlong cells end in "...".

use std::fmt::Write;

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 42.0;
const TITLE_SIZE: f32 = 16.0;
const SUBTITLE_SIZE: f32 = 10.0;
const TEXT_SIZE: f32 = 9.0;
const FOOTER_SIZE: f32 = 8.0;
const ROW_H: f32 = 14.0;
/// Space left and right of a cell's text.
const PAD: f32 = 4.0;
/// The lowest baseline a row may have (the footer sits below).
const ROWS_BOTTOM: f32 = MARGIN + 12.0;
const FOOTER_Y: f32 = 28.0;

/// The two fonts used: `/F1` and `/F2` in each page's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Helvetica,
    HelveticaBold,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Font::Helvetica => "F1",
            Font::HelveticaBold => "F2",
        }
    }
}

/// Advance widths (1/1000 em) of ASCII 32..=126, from the Adobe AFM files.
#[rustfmt::skip]
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,      // p..~
];
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// The characters WinAnsiEncoding puts at 0x80..=0x9F (where Latin-1 has
/// control codes); 0xA0..=0xFF are Latin-1's own.
const WIN_ANSI_EXTRA: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// A character's WinAnsiEncoding byte: `?` when the encoding has no glyph
/// for it; tabs and line breaks become spaces.
pub fn win_ansi(c: char) -> u8 {
    match c as u32 {
        0x20..=0x7E | 0xA0..=0xFF => c as u32 as u8,
        0x09..=0x0D => b' ',
        _ => WIN_ANSI_EXTRA
            .iter()
            .find(|(u, _)| *u == c)
            .map_or(b'?', |(_, b)| *b),
    }
}

/// Advance width of one encoded byte in 1/1000 em. Exact for ASCII; for
/// the rest an estimate on the wide side, so that text never overflows.
fn byte_width(b: u8, font: Font) -> f32 {
    let table = match font {
        Font::Helvetica => &HELVETICA,
        Font::HelveticaBold => &HELVETICA_BOLD,
    };
    f32::from(match b {
        0x20..=0x7E => table[(b - 0x20) as usize],
        0xA0 => 278,
        0x85 | 0x89 | 0x97 | 0x99 | 0x8C | 0x9C | 0xC6 | 0xE6 => 1000,
        0xC0..=0xDE => 778,
        _ => 611,
    })
}

/// Width of `s` in points at `size`.
pub fn text_width(s: &str, font: Font, size: f32) -> f32 {
    s.chars()
        .map(|c| byte_width(win_ansi(c), font))
        .sum::<f32>()
        * size
        / 1000.0
}

/// `s` cut to `max` points, ending in "..." when it had to be cut.
pub fn fit(s: &str, font: Font, size: f32, max: f32) -> String {
    if text_width(s, font, size) <= max {
        return s.to_string();
    }
    let ellipsis = text_width("...", font, size);
    if ellipsis > max {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0.0;
    for c in s.chars() {
        let cw = byte_width(win_ansi(c), font) * size / 1000.0;
        if w + cw + ellipsis > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.truncate(out.trim_end().len());
    out + "..."
}

/// A PDF literal string `(…)`: WinAnsi bytes, `\ ( )` escaped, bytes
/// outside printable ASCII as octal escapes so the file stays ASCII.
fn pdf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('(');
    for c in s.chars() {
        match win_ansi(c) {
            b @ (b'\\' | b'(' | b')') => {
                out.push('\\');
                out.push(b as char);
            }
            b @ 0x20..=0x7E => out.push(b as char),
            b => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push(')');
    out
}

/// A PDF text string for the document information (any Unicode): UTF-16BE
/// with a byte-order mark, as a hex string.
fn pdf_text_string(s: &str) -> String {
    let mut out = String::from("<FEFF");
    for u in s.encode_utf16() {
        let _ = write!(out, "{u:04X}");
    }
    out.push('>');
    out
}

fn show(out: &mut String, font: Font, size: f32, x: f32, y: f32, s: &str) {
    let _ = writeln!(
        out,
        "BT /{} {size} Tf {x:.2} {y:.2} Td {} Tj ET",
        font.resource(),
        pdf_string(s)
    );
}

/// Column widths filling the table width: a column narrower than its fair
/// share keeps its natural width; the wider ones share what is left.
fn column_widths(header: &[&str], rows: &[Vec<String>], cols: usize, total: f32) -> Vec<f32> {
    let natural: Vec<f32> = (0..cols)
        .map(|i| {
            let head = header
                .get(i)
                .map_or(0.0, |h| text_width(h, Font::HelveticaBold, TEXT_SIZE));
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| text_width(c, Font::Helvetica, TEXT_SIZE))
                .fold(head, f32::max)
                + 2.0 * PAD
        })
        .collect();
    let mut width: Vec<Option<f32>> = vec![None; cols];
    let (mut left, mut open) = (total, cols);
    loop {
        let share = left / open.max(1) as f32;
        let mut settled = false;
        for i in 0..cols {
            if width[i].is_none() && natural[i] <= share {
                width[i] = Some(natural[i]);
                left -= natural[i];
                open -= 1;
                settled = true;
            }
        }
        if !settled || open == 0 {
            break;
        }
    }
    if open == 0 {
        // Everything fits: spread the spare width in proportion.
        let used: f32 = natural.iter().sum();
        let k = if used > 0.0 { total / used } else { 1.0 };
        return natural.iter().map(|w| w * k).collect();
    }
    let share = left / open as f32;
    width.into_iter().map(|w| w.unwrap_or(share)).collect()
}

/// How many rows fit on a page under the title, subtitle and header.
fn rows_per_page() -> usize {
    ((first_row_y() - ROWS_BOTTOM) / ROW_H).floor() as usize + 1
}

fn title_y() -> f32 {
    PAGE_H - MARGIN - TITLE_SIZE
}
fn subtitle_y() -> f32 {
    title_y() - 18.0
}
fn header_y() -> f32 {
    subtitle_y() - 26.0
}
fn first_row_y() -> f32 {
    header_y() - ROW_H
}

/// A filled rectangle behind a row whose text baseline is `y`.
fn band(out: &mut String, y: f32, gray: f32) {
    let _ = writeln!(
        out,
        "{gray} g {MARGIN:.2} {:.2} {:.2} {ROW_H} re f 0 g",
        y - 4.0,
        PAGE_W - 2.0 * MARGIN
    );
}

/// The text of one row in its columns.
fn row_text(out: &mut String, cells: &[&str], widths: &[f32], y: f32, font: Font) {
    let mut x = MARGIN;
    for (i, w) in widths.iter().enumerate() {
        let cell = cells.get(i).copied().unwrap_or("");
        let text = fit(cell, font, TEXT_SIZE, w - 2.0 * PAD);
        if !text.is_empty() {
            show(out, font, TEXT_SIZE, x + PAD, y, &text);
        }
        x += w;
    }
}

/// A4 portrait PDF of a table: `title` and `subtitle` (e.g. site and date)
/// on every page, the `header` repeated above each page's rows, and
/// "`footer`, page N of M" at the bottom. Rows may be shorter or longer
/// than the header; there are as many columns as the longest.
pub fn text_pdf(
    title: &str,
    subtitle: &str,
    header: &[&str],
    rows: &[Vec<String>],
    footer: &str,
) -> Vec<u8> {
    let cols = rows.iter().map(Vec::len).fold(header.len(), usize::max);
    let table_w = PAGE_W - 2.0 * MARGIN;
    let widths = column_widths(header, rows, cols, table_w);
    let pages: Vec<&[Vec<String>]> = if rows.is_empty() {
        vec![&[]]
    } else {
        rows.chunks(rows_per_page()).collect()
    };
    let count = pages.len();

    let contents: Vec<String> = pages
        .iter()
        .enumerate()
        .map(|(p, chunk)| {
            let mut c = String::new();
            let line = |s: &str, font, size| fit(s, font, size, table_w);
            let t = line(title, Font::HelveticaBold, TITLE_SIZE);
            show(
                &mut c,
                Font::HelveticaBold,
                TITLE_SIZE,
                MARGIN,
                title_y(),
                &t,
            );
            let s = line(subtitle, Font::Helvetica, SUBTITLE_SIZE);
            c.push_str("0.3 g\n");
            show(
                &mut c,
                Font::Helvetica,
                SUBTITLE_SIZE,
                MARGIN,
                subtitle_y(),
                &s,
            );
            c.push_str("0 g\n");
            if cols > 0 {
                band(&mut c, header_y(), 0.85);
                row_text(&mut c, header, &widths, header_y(), Font::HelveticaBold);
            }
            for (i, row) in chunk.iter().enumerate() {
                let y = first_row_y() - i as f32 * ROW_H;
                if i % 2 == 1 {
                    band(&mut c, y, 0.95);
                }
                let cells: Vec<&str> = row.iter().map(String::as_str).collect();
                row_text(&mut c, &cells, &widths, y, Font::Helvetica);
            }
            if rows.is_empty() {
                show(
                    &mut c,
                    Font::Helvetica,
                    TEXT_SIZE,
                    MARGIN + PAD,
                    first_row_y(),
                    "Nothing to list.",
                );
            }
            let page_no = format!("page {} of {count}", p + 1);
            let foot = if footer.trim().is_empty() {
                format!("P{}", &page_no[1..])
            } else {
                format!("{}, {page_no}", footer.trim())
            };
            let foot = line(&foot, Font::Helvetica, FOOTER_SIZE);
            show(
                &mut c,
                Font::Helvetica,
                FOOTER_SIZE,
                MARGIN,
                FOOTER_Y,
                &foot,
            );
            c
        })
        .collect();
    assemble(title, &contents)
}

/// The file: objects 1 catalogue, 2 page tree, 3–4 fonts, 5 information,
/// then a page and its content stream for each page; xref and trailer.
fn assemble(title: &str, contents: &[String]) -> Vec<u8> {
    let font = |base: &str| {
        format!("<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>")
    };
    let kids: Vec<String> = (0..contents.len())
        .map(|i| format!("{} 0 R", 6 + 2 * i))
        .collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            contents.len()
        ),
        font("Helvetica"),
        font("Helvetica-Bold"),
        format!(
            "<< /Title {} /Producer (clinic-core) >>",
            pdf_text_string(title)
        ),
    ];
    for (i, content) in contents.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] \
             /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
            7 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }

    // A binary comment after the header marks the file as binary to tools.
    let mut pdf: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    // Each xref entry is exactly 20 bytes, its end of line included.
    let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        let _ = writeln!(tail, "{o:010} 00000 n ");
    }
    let _ = write!(
        tail,
        "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    pdf.extend_from_slice(tail.as_bytes());
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::Document;

    fn rows(n: usize) -> Vec<Vec<String>> {
        (0..n)
            .map(|i| {
                vec![
                    format!("{:02}:{:02}", 8 + i / 4, i % 4 * 15),
                    format!("Patient {i:03} (P-{:06})", 100 + i),
                    "Consultation".to_string(),
                    format!("Room {}", i % 3 + 1),
                ]
            })
            .collect()
    }

    const HEADER: [&str; 4] = ["Time", "Patient", "Type", "Room"];

    fn pdf(rows: &[Vec<String>]) -> Vec<u8> {
        text_pdf(
            "Day sheet: Dr Grace Hopper",
            "Northside Clinic, Monday 23 November 2026",
            &HEADER,
            rows,
            "Printed 22 Nov 2026 10:15 by Ada Admin",
        )
    }

    fn page_text(doc: &Document, page: u32) -> String {
        doc.extract_text(&[page]).expect("text")
    }

    #[test]
    fn page_count_follows_the_rows() {
        assert_eq!(rows_per_page(), 48);
        for (n, pages) in [(0, 1), (1, 1), (48, 1), (49, 2), (120, 3)] {
            let doc = Document::load_mem(&pdf(&rows(n))).expect("loads");
            assert_eq!(doc.get_pages().len(), pages, "{n} rows");
        }
        let doc = Document::load_mem(&pdf(&[])).unwrap();
        let text = page_text(&doc, 1);
        assert!(text.contains("Nothing to list."), "{text}");
        assert!(text.contains("Time"), "the header shows on an empty list");
    }

    #[test]
    fn text_round_trips_through_an_independent_reader() {
        let mut r = rows(3);
        r[1][1] = "Smith (née Jones) \\ O’Brien".into();
        r[2][2] = "Follow-up – 2 × 10 € 日本".into();
        let doc = Document::load_mem(&pdf(&r)).expect("loads");
        let text = page_text(&doc, 1);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for want in [
            "Day sheet: Dr Grace Hopper",
            "Northside Clinic, Monday 23 November 2026",
            "Time",
            "Patient",
            "08:00",
            "Patient 000 (P-000100)",
            "Room 1",
            "Smith (née Jones) \\ O’Brien",
            // No glyph in WinAnsi: question marks.
            "Follow-up – 2 × 10 € ??",
            "Printed 22 Nov 2026 10:15 by Ada Admin, page 1 of 1",
        ] {
            assert!(lines.contains(&want), "{want:?} not in {lines:?}");
        }
    }

    #[test]
    fn every_page_repeats_the_header_and_counts_pages() {
        let doc = Document::load_mem(&pdf(&rows(120))).unwrap();
        for page in 1..=3u32 {
            let text = page_text(&doc, page);
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            assert!(lines.contains(&"Day sheet: Dr Grace Hopper"));
            for h in HEADER {
                assert!(lines.contains(&h), "{h} on page {page}");
            }
            let foot = format!("Printed 22 Nov 2026 10:15 by Ada Admin, page {page} of 3");
            assert!(lines.contains(&foot.as_str()), "{lines:?}");
        }
        let second = page_text(&doc, 2);
        assert!(second.contains("Patient 048 (P-000148)"));
        assert!(second.contains("Patient 095 (P-000195)"));
        assert!(!second.contains("Patient 047 "));
        assert!(!second.contains("Patient 096 "));
        assert!(page_text(&doc, 3).contains("Patient 119 (P-000219)"));
        // Without a footer text the page count stands alone.
        let bare = text_pdf("T", "", &["A"], &[vec!["x".into()]], "");
        let doc = Document::load_mem(&bare).unwrap();
        assert!(page_text(&doc, 1)
            .lines()
            .any(|l| l.trim() == "Page 1 of 1"));
    }

    #[test]
    fn xref_offsets_point_at_their_objects() {
        let bytes = pdf(&rows(60));
        // ASCII but for the binary marker on line 2 (same length once masked).
        let masked: Vec<u8> = bytes
            .iter()
            .map(|&b| if b < 128 { b } else { b'?' })
            .collect();
        let text = String::from_utf8(masked).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .unwrap()
            .parse()
            .unwrap();
        let xref = &text[startxref..];
        let mut lines = xref.lines();
        assert_eq!(lines.next(), Some("xref"));
        let size: usize = lines.next().unwrap()["0 ".len()..].parse().unwrap();
        assert_eq!(size, 5 + 2 * 2 + 1);
        assert_eq!(
            &xref[xref.find("0000000000").unwrap()..][..20],
            "0000000000 65535 f \n"
        );
        for n in 1..size {
            let entry = &xref[xref.find("0000000000").unwrap() + 20 * n..][..20];
            assert!(entry.ends_with(" 00000 n \n"), "{entry:?}");
            let offset: usize = entry[..10].parse().unwrap();
            assert!(
                bytes[offset..].starts_with(format!("{n} 0 obj\n").as_bytes()),
                "object {n}"
            );
        }
        assert!(text.contains(&format!("/Size {size} ")));
    }

    #[test]
    fn long_cells_are_cut_to_their_column_and_widths_fill_the_page() {
        let long = "Very long note ".repeat(40);
        let mut r = rows(2);
        r[0][3] = long.clone();
        let widths = column_widths(&HEADER, &r, 4, 500.0);
        assert!((widths.iter().sum::<f32>() - 500.0).abs() < 0.01);
        // The short columns keep their natural width; the long one takes the rest.
        let time = text_width("08:00", Font::Helvetica, TEXT_SIZE).max(text_width(
            "Time",
            Font::HelveticaBold,
            TEXT_SIZE,
        )) + 2.0 * PAD;
        assert!((widths[0] - time).abs() < 0.01);
        let doc = Document::load_mem(&pdf(&r)).unwrap();
        let text = page_text(&doc, 1);
        let cut = text
            .lines()
            .find(|l| l.starts_with("Very long note"))
            .unwrap();
        assert!(cut.ends_with("...") && cut.len() < long.len(), "{cut}");

        assert!((text_width("Hello", Font::Helvetica, 10.0) - 22.78).abs() < 1e-4);
        assert!(text_width("Hello", Font::HelveticaBold, 10.0) > 22.78);
        assert_eq!(fit("short", Font::Helvetica, 9.0, 100.0), "short");
        let f = fit("abcdefghijklmnopqrstuvwxyz", Font::Helvetica, 9.0, 40.0);
        assert!(f.ends_with("...") && text_width(&f, Font::Helvetica, 9.0) <= 40.0);
    }

    #[test]
    fn strings_are_encoded_and_escaped_for_pdf() {
        assert_eq!(win_ansi('é'), 0xE9);
        assert_eq!(win_ansi('€'), 0x80);
        assert_eq!(win_ansi('’'), 0x92);
        assert_eq!(win_ansi('日'), b'?');
        assert_eq!(win_ansi('\u{81}'), b'?');
        assert_eq!(win_ansi('\n'), b' ');
        assert_eq!(pdf_string("a(b)c\\d"), "(a\\(b\\)c\\\\d)");
        assert_eq!(pdf_string("né€"), "(n\\351\\200)");
        assert_eq!(pdf_text_string("Aé"), "<FEFF004100E9>");
    }
}
