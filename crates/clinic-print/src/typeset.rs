//! Typst as a library: the templates, the fonts and the standard library
//! are built once per process and shared by every render; a render adds
//! only its data (`/data.json`) and, if any, its logo (`/logo.png`).
//!
//! The data is read by the template with `json("/data.json")`, so every
//! value is a Typst string shown as text: a patient named `#set page(…)`
//! prints those characters, never runs them.

use std::sync::LazyLock;

use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::layout::PagedDocument;
use typst::syntax::{FileId, Source, VirtualPath};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};

use crate::PrintError;

/// The embedded fonts (see `fonts/README.md`): Noto Sans (Latin incl.
/// Vietnamese and Polish, Greek, Cyrillic), Noto Sans Arabic and a subset of
/// Noto Sans CJK SC (Chinese, kana, Hangul). The order is the fallback order
/// templates name in `common.typ`.
static FONT_FILES: [&[u8]; 5] = [
    include_bytes!("../fonts/NotoSans-Regular.ttf"),
    include_bytes!("../fonts/NotoSans-Bold.ttf"),
    include_bytes!("../fonts/NotoSansArabic-Regular.ttf"),
    include_bytes!("../fonts/NotoSansArabic-Bold.ttf"),
    include_bytes!("../fonts/NotoSansCJKsc-Regular-subset.otf"),
];

/// The template files, by their path inside the virtual project.
const TEMPLATE_FILES: [(&str, &str); 8] = [
    ("/common.typ", include_str!("../templates/common.typ")),
    ("/day-sheet.typ", include_str!("../templates/day-sheet.typ")),
    (
        "/prescription.typ",
        include_str!("../templates/prescription.typ"),
    ),
    (
        "/referral-letter.typ",
        include_str!("../templates/referral-letter.typ"),
    ),
    ("/invoice.typ", include_str!("../templates/invoice.typ")),
    ("/receipt.typ", include_str!("../templates/receipt.typ")),
    (
        "/credit-note.typ",
        include_str!("../templates/credit-note.typ"),
    ),
    ("/report.typ", include_str!("../templates/report.typ")),
];

const DATA_PATH: &str = "/data.json";
const LOGO_PATH: &str = "/logo.png";

/// What every render shares; built on first use (about 2 ms: the fonts'
/// tables are read lazily, on the first render that uses them).
struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    sources: Vec<Source>,
    data: FileId,
    logo: FileId,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let fonts: Vec<Font> = FONT_FILES
        .iter()
        .flat_map(|bytes| Font::iter(Bytes::new(*bytes)))
        .collect();
    assert_eq!(
        fonts.len(),
        FONT_FILES.len(),
        "an embedded font failed to load"
    );
    let sources = TEMPLATE_FILES
        .iter()
        .map(|(path, text)| Source::new(file_id(path), (*text).to_string()))
        .collect();
    Shared {
        library: LazyHash::new(Library::builder().build()),
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
        sources,
        data: file_id(DATA_PATH),
        logo: file_id(LOGO_PATH),
    }
});

fn file_id(path: &str) -> FileId {
    FileId::new(None, VirtualPath::new(path))
}

/// One render: a template, its data and the optional logo.
struct Job {
    main: FileId,
    data: Bytes,
    logo: Option<Bytes>,
}

impl World for Job {
    fn library(&self) -> &LazyHash<Library> {
        &SHARED.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &SHARED.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        SHARED
            .sources
            .iter()
            .find(|s| s.id() == id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == SHARED.data {
            return Ok(self.data.clone());
        }
        if id == SHARED.logo {
            return self.logo.clone().ok_or_else(|| not_found(id));
        }
        self.source(id)
            .map(|s| Bytes::from_string(s.text().to_string()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        SHARED.fonts.get(index).cloned()
    }

    /// Templates print the dates they are given, never today's.
    fn today(&self, _offset: Option<i64>) -> Option<Datetime> {
        None
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().as_rootless_path().to_path_buf())
}

/// Typesets `template` (a file name in `templates/`) with `data` (JSON) and
/// returns the PDF.
pub fn pdf(template: &str, data: Vec<u8>, logo: Option<Vec<u8>>) -> Result<Vec<u8>, PrintError> {
    let job = Job {
        main: file_id(&format!("/{template}")),
        data: Bytes::new(data),
        logo: logo.map(Bytes::new),
    };
    // A tagged PDF (Typst's default): screen readers and reflow get the
    // headings and the table's header cells. It costs ~5 ms and makes a
    // 300-row day sheet 423 KB instead of 58 KB.
    let pdf = typst::compile::<PagedDocument>(&job)
        .output
        .and_then(|document| typst_pdf::pdf(&document, &typst_pdf::PdfOptions::default()))
        .map_err(|errors| PrintError::Typeset(describe(&job, &errors)));
    // Typst memoises in process-wide caches. Kept across renders they grew
    // to 558 MB after forty 300-row day sheets (20 generations kept) and
    // saved nothing measurable, as each document's data differs; what is
    // worth keeping (fonts, font book, library, parsed templates) is in
    // SHARED. So the caches are emptied after every render.
    typst::comemo::evict(0);
    pdf
}

/// The errors as "file:line: message (hint: …)", one a line.
fn describe(job: &Job, errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let place = d
                .span
                .id()
                .and_then(|id| {
                    let source = job.source(id).ok()?;
                    let line = source.lines().byte_to_line(job.range(d.span)?.start)?;
                    Some(format!(
                        "{}:{}: ",
                        id.vpath().as_rootless_path().display(),
                        line + 1
                    ))
                })
                .unwrap_or_default();
            let hints: String = d.hints.iter().map(|h| format!(" (hint: {h})")).collect();
            format!("{place}{}{hints}", d.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
