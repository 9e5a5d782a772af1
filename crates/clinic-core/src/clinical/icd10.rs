//! ICD-10-CM diagnosis codes shipped with the product, with look-up by code
//! and search by code prefix or by words of the description. Pure: no I/O.
//!
//! # The list and its source
//!
//! `icd10/codes.tsv` (embedded with `include_str!`, parsed once) is a
//! **sourced subset** of about 500 valid (billable) diagnosis codes common in
//! primary care and general practice: respiratory and ENT infections, asthma
//! and COPD, hypertension and other circulatory conditions, diabetes, lipids,
//! thyroid, depression and anxiety, musculoskeletal pain, dermatology,
//! urinary tract, digestive, eye, headache and migraine, routine pregnancy and
//! contraception, injuries common in general practice, symptom codes
//! (R00–R99) and encounter codes (Z: vaccination, health checks, screening…).
//! It is not the whole classification: a code that is not in it is not
//! thereby invalid.
//!
//! - **Source**: ICD-10-CM FY2026 (April 1, 2026 update), published by the
//!   National Center for Health Statistics (NCHS) of the US Centers for
//!   Disease Control and Prevention (CDC),
//!   <https://www.cdc.gov/nchs/icd/icd-10-cm/>. Each description is the
//!   code's full official title in the ICD-10-CM Tabular List (the "long"
//!   description of the CDC/CMS code files, not the abbreviated 60-character
//!   one), copied unchanged; every code had the same title in FY2025.
//! - **Licence**: public domain, as a work of the US government. This is
//!   ICD-10-**CM**, the US clinical modification, not the WHO ICD-10 itself,
//!   which is copyrighted by WHO.
//!
//! The file's header comment states both; [`Icd10List::about`] returns those
//! lines so that the application can show them next to the codes.
//!
//! # Look-up and search
//!
//! [`Icd10List::get`] finds a code as typed: case-insensitive, with or
//! without its dot, surrounding spaces ignored (`" j069 "` finds `J06.9`).
//!
//! [`Icd10List::search`] takes what a person typed in a search box. Each
//! whitespace-separated part must match, either as the start of the code
//! (`J45`, `j45.9`) or because each of its words is the start of some word of
//! the description (`type 2 diab`, `low back`); case, accents and apostrophes
//! are ignored (`Ménière`, `parkinsons`). Codes whose code starts with the
//! whole typed text come first, in code order; then the description matches,
//! those whose description starts with the first typed word first, then the
//! shorter descriptions (the more general codes, usually "unspecified"), then
//! by code. The order is deterministic.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::LazyLock;

use crate::search::fold;

/// The embedded data file.
const SHIPPED_TSV: &str = include_str!("icd10/codes.tsv");

static SHIPPED: LazyLock<Icd10List> = LazyLock::new(|| {
    Icd10List::parse(SHIPPED_TSV)
        .unwrap_or_else(|e| panic!("the shipped ICD-10-CM list is invalid: {e}"))
});

/// The ICD-10-CM list shipped with the product, parsed once.
pub fn shipped() -> &'static Icd10List {
    &SHIPPED
}

/// One diagnosis code and its official description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Icd10Code {
    /// The code as published, upper case and with its dot: `J45.909`.
    pub code: String,
    /// The code's official description: `Unspecified asthma, uncomplicated`.
    pub description: String,
}

/// A problem found while parsing a code list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Icd10ParseError {
    /// 1-based line number in the file (0 for a problem of the whole file).
    pub line: usize,
    pub message: String,
}

/// Search keys of one entry.
#[derive(Debug)]
struct Keys {
    /// The code without its dot, upper case: `J45909`.
    code: String,
    /// The description's words, folded (lower case, no accents, no
    /// apostrophes).
    words: Vec<String>,
    /// The description folded as a whole, for "starts with".
    folded: String,
}

/// A parsed list of ICD-10-CM codes, in code order.
#[derive(Debug)]
pub struct Icd10List {
    about: String,
    codes: Vec<Icd10Code>,
    keys: Vec<Keys>,
    /// Code without its dot, upper case → index in `codes`.
    by_code: HashMap<String, usize>,
}

impl Icd10List {
    /// Parses a list in the shipped format: `CODE<TAB>description` lines,
    /// `#` comment lines and blank lines. The header comment must have a
    /// `Source:` and a `Licence:` line; every code must be in ICD-10-CM
    /// shape, written with its dot after the third character when longer,
    /// and appear once; every description must be non-empty.
    pub fn parse(tsv: &str) -> Result<Icd10List, Icd10ParseError> {
        let err = |line: usize, message: String| Icd10ParseError { line, message };
        let mut about = Vec::new();
        let mut entries: Vec<(String, Icd10Code)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, raw) in tsv.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim_end_matches('\r');
            if let Some(comment) = line.strip_prefix('#') {
                let text = comment.trim();
                if text.starts_with("Source:") || text.starts_with("Licence:") {
                    about.push(text.to_string());
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split('\t');
            let (Some(code), Some(description), None) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(err(n, "expected CODE<TAB>description".to_string()));
            };
            if !is_code_shape(code) {
                return Err(err(n, format!("`{code}` is not an ICD-10-CM code")));
            }
            let description = description.trim();
            if description.is_empty() {
                return Err(err(n, format!("`{code}` has no description")));
            }
            let key = code.replace('.', "");
            if let Some(first) = seen.insert(key.clone(), n) {
                return Err(err(n, format!("`{code}` already on line {first}")));
            }
            entries.push((
                key,
                Icd10Code {
                    code: code.to_string(),
                    description: description.to_string(),
                },
            ));
        }
        if !about.iter().any(|l| l.starts_with("Source:")) {
            return Err(err(0, "the header has no `# Source:` line".to_string()));
        }
        if !about.iter().any(|l| l.starts_with("Licence:")) {
            return Err(err(0, "the header has no `# Licence:` line".to_string()));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut codes = Vec::with_capacity(entries.len());
        let mut keys = Vec::with_capacity(entries.len());
        let mut by_code = HashMap::with_capacity(entries.len());
        for (i, (key, entry)) in entries.into_iter().enumerate() {
            by_code.insert(key.clone(), i);
            keys.push(Keys {
                code: key,
                words: words(&entry.description),
                folded: fold_text(&entry.description),
            });
            codes.push(entry);
        }
        Ok(Icd10List {
            about: about.join("\n"),
            codes,
            keys,
            by_code,
        })
    }

    /// The source and licence lines of the file's header, without the `#`.
    pub fn about(&self) -> &str {
        &self.about
    }

    /// How many codes the list has.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Every code, in code order.
    pub fn codes(&self) -> &[Icd10Code] {
        &self.codes
    }

    /// The entry for a code as typed: case-insensitive, with or without the
    /// dot, surrounding whitespace ignored.
    pub fn get(&self, code: &str) -> Option<&Icd10Code> {
        let key = code_key(code)?;
        self.by_code.get(&key).map(|&i| &self.codes[i])
    }

    /// At most `limit` entries matching `text` (see the module docs), best
    /// first. Empty or blank text finds nothing.
    pub fn search(&self, text: &str, limit: usize) -> Vec<&Icd10Code> {
        if limit == 0 {
            return Vec::new();
        }
        let terms: Vec<Term> = text.split_whitespace().filter_map(Term::new).collect();
        if terms.is_empty() {
            return Vec::new();
        }
        // The whole text as one code prefix ("J45", "j45.9"): those first.
        let whole_code = match terms.as_slice() {
            [only] => only.code.as_deref(),
            _ => None,
        };
        let first_word = terms.iter().find_map(|t| t.words.first());
        let mut found: Vec<(bool, bool, usize, usize)> = self
            .keys
            .iter()
            .enumerate()
            .filter(|(_, k)| terms.iter().all(|t| t.matches(k)))
            .map(|(i, k)| {
                if whole_code.is_some_and(|c| k.code.starts_with(c)) {
                    // Code matches: in code order (the list's order).
                    (false, false, 0, i)
                } else {
                    let starts = first_word.is_some_and(|w| k.folded.starts_with(w.as_str()));
                    (true, !starts, self.codes[i].description.len(), i)
                }
            })
            .collect();
        found.sort_unstable();
        found
            .into_iter()
            .take(limit)
            .map(|(_, _, _, i)| &self.codes[i])
            .collect()
    }
}

/// One whitespace-separated part of a search.
#[derive(Debug)]
struct Term {
    /// As a code prefix (no dot, upper case), when it looks like one.
    code: Option<String>,
    /// As words (folded), each to match the start of a description word.
    words: Vec<String>,
}

impl Term {
    fn new(raw: &str) -> Option<Term> {
        let code = code_prefix(raw);
        let words = words(raw);
        (code.is_some() || !words.is_empty()).then_some(Term { code, words })
    }

    fn matches(&self, keys: &Keys) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| keys.code.starts_with(c))
            || (!self.words.is_empty()
                && self
                    .words
                    .iter()
                    .all(|w| keys.words.iter().any(|d| d.starts_with(w.as_str()))))
    }
}

/// Folds for comparison: lower case, common Latin accents removed, and
/// apostrophes dropped so that "Parkinson's" and "parkinsons" agree.
fn fold_text(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| !matches!(c, '\'' | '\u{2019}' | '\u{2018}') && !is_combining(*c))
        .collect()
}

/// Combining diacritical marks (a decomposed "é" is "e" + U+0301).
fn is_combining(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Folded words (letters and digits) of a text.
fn words(s: &str) -> Vec<String> {
    fold_text(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A typed code as a look-up key: trimmed, upper case, dot removed; `None`
/// when it cannot be a code (empty, or not letters and digits).
fn code_key(typed: &str) -> Option<String> {
    let key: String = typed
        .trim()
        .chars()
        .filter(|&c| c != '.')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric())).then_some(key)
}

/// A typed search part as a code prefix: a letter then a digit, then letters
/// and digits, with at most one dot, which may come only after the third
/// character ("I1", "J45", "J45.", "j45.90").
fn code_prefix(typed: &str) -> Option<String> {
    let dots: Vec<usize> = typed.match_indices('.').map(|(i, _)| i).collect();
    match dots.as_slice() {
        [] => {}
        [3] => {}
        _ => return None,
    }
    let key = code_key(typed)?;
    let mut chars = key.chars();
    let letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let digit = chars.next().is_some_and(|c| c.is_ascii_digit());
    (letter && digit && key.len() <= 7).then_some(key)
}

/// Whether `code` is written as an ICD-10-CM code: a capital letter, a digit,
/// a digit or capital letter (`Z3A`, `M1A`), then optionally a dot and one to
/// four digits or capital letters.
fn is_code_shape(code: &str) -> bool {
    let b = code.as_bytes();
    let alnum = |c: &u8| c.is_ascii_digit() || c.is_ascii_uppercase();
    if b.len() < 3 || !b[0].is_ascii_uppercase() || !b[1].is_ascii_digit() || !alnum(&b[2]) {
        return false;
    }
    match &b[3..] {
        [] => true,
        [b'.', rest @ ..] => (1..=4).contains(&rest.len()) && rest.iter().all(alnum),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn codes(found: &[&Icd10Code]) -> Vec<String> {
        found.iter().map(|c| c.code.clone()).collect()
    }

    /// Checks the raw file line by line, independently of the parser.
    #[test]
    fn shipped_file_lines_are_well_formed() {
        let mut seen = HashSet::new();
        let mut n = 0;
        for (i, line) in SHIPPED_TSV.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 2, "line {}: {line:?}", i + 1);
            let (code, description) = (fields[0], fields[1]);
            let b = code.as_bytes();
            let shape = b.len() >= 3
                && b[0].is_ascii_uppercase()
                && b[1].is_ascii_digit()
                && (b[2].is_ascii_digit() || b[2].is_ascii_uppercase())
                && (b.len() == 3
                    || (b[3] == b'.'
                        && (5..=8).contains(&b.len())
                        && b[4..]
                            .iter()
                            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())));
            assert!(shape, "line {}: bad code {code:?}", i + 1);
            assert!(
                !description.trim().is_empty() && description == description.trim(),
                "line {}: bad description {description:?}",
                i + 1
            );
            assert!(seen.insert(code), "line {}: duplicate {code}", i + 1);
            n += 1;
        }
        assert_eq!(n, shipped().len());
    }

    #[test]
    fn shipped_list_parses_with_source_and_licence() {
        let list = Icd10List::parse(SHIPPED_TSV).expect("shipped list parses");
        assert!(list.len() >= 300, "only {} codes", list.len());
        assert!(list.len() <= 600, "{} codes", list.len());
        let about = list.about();
        assert!(about.contains("ICD-10-CM"), "{about}");
        assert!(about.contains("NCHS"), "{about}");
        assert!(
            about.contains("https://www.cdc.gov/nchs/icd/icd-10-cm/"),
            "{about}"
        );
        assert!(about.contains("public domain"), "{about}");
        assert_eq!(about.lines().count(), 2, "{about}");
        // In code order.
        let keys: Vec<String> = list
            .codes()
            .iter()
            .map(|c| c.code.replace('.', ""))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn well_known_codes_have_their_official_descriptions() {
        let list = shipped();
        for (code, description) in [
            ("J06.9", "Acute upper respiratory infection, unspecified"),
            ("I10", "Essential (primary) hypertension"),
            ("E11.9", "Type 2 diabetes mellitus without complications"),
            ("J45.909", "Unspecified asthma, uncomplicated"),
            ("M54.50", "Low back pain, unspecified"),
            ("N39.0", "Urinary tract infection, site not specified"),
            ("J02.9", "Acute pharyngitis, unspecified"),
            ("J20.9", "Acute bronchitis, unspecified"),
            ("R51.9", "Headache, unspecified"),
            ("F32.A", "Depression, unspecified"),
            ("F41.1", "Generalized anxiety disorder"),
            ("Z23", "Encounter for immunization"),
        ] {
            let found = list.get(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!(found.code, code);
            assert_eq!(found.description, description);
        }
        // Codes split or retired by later releases are not shipped.
        assert!(list.get("M54.5").is_none());
        assert!(list.get("R51").is_none());
        assert!(list.get("R05").is_none());
    }

    #[test]
    fn get_ignores_case_dot_and_spaces() {
        let list = shipped();
        let a = list.get("j069").expect("j069");
        let b = list.get("J06.9").expect("J06.9");
        let c = list.get(" j06.9 ").expect(" j06.9 ");
        assert_eq!(a.code, "J06.9");
        assert!(std::ptr::eq(a, b) && std::ptr::eq(b, c));
        assert_eq!(list.get("z3a01").map(|c| c.code.as_str()), Some("Z3A.01"));
    }

    #[test]
    fn unknown_or_malformed_code_is_none() {
        let list = shipped();
        assert!(list.get("J06.8").is_none());
        assert!(list.get("Q99.9").is_none());
        assert!(list.get("").is_none());
        assert!(list.get("   ").is_none());
        assert!(list.get("J06 9").is_none());
        assert!(list.get("J06.9x").is_none());
    }

    #[test]
    fn search_by_code_prefix_lists_codes_first_in_code_order() {
        let list = shipped();
        let found = list.search("I1", 10);
        assert_eq!(found.first().map(|c| c.code.as_str()), Some("I10"));
        assert!(
            found.iter().all(|c| c.code.starts_with("I1")),
            "{:?}",
            codes(&found)
        );
        let j45 = codes(&list.search("j45", 50));
        assert!(j45.len() >= 10, "{j45:?}");
        assert!(j45.iter().all(|c| c.starts_with("J45")), "{j45:?}");
        let mut sorted = j45.clone();
        sorted.sort_by_key(|c| c.replace('.', ""));
        assert_eq!(j45, sorted);
        // With the dot, and a full code.
        assert_eq!(codes(&list.search("J45.90", 10)), ["J45.901", "J45.909"]);
        assert_eq!(codes(&list.search(" e11.9 ", 10)), ["E11.9"]);
    }

    #[test]
    fn search_by_words_of_the_description() {
        let list = shipped();
        let found = codes(&list.search("type 2 diab", 20));
        assert!(found.contains(&"E11.9".to_string()), "{found:?}");
        assert!(found.iter().all(|c| c.starts_with("E11")), "{found:?}");
        // Every word must match the start of some word, in any order.
        let back = codes(&list.search("BACK low", 20));
        assert!(back.contains(&"M54.50".to_string()), "{back:?}");
        // ... at its start: "ack" is inside "back", which does not count.
        assert!(list.search("ack", 20).is_empty());
        assert!(list.search("diabetes zzzz", 20).is_empty());
        // Shorter (more general) descriptions first among word matches.
        assert_eq!(
            list.search("asthma", 1)[0].code,
            "J45.991",
            "Cough variant asthma is the shortest title with 'asthma'"
        );
    }

    #[test]
    fn search_folds_case_accents_and_apostrophes() {
        let list = shipped();
        let plain = codes(&list.search("pharyngitis", 10));
        assert!(!plain.is_empty());
        assert_eq!(codes(&list.search("PHÄRYNGITIS", 10)), plain);
        // A decomposed accent (e + combining acute).
        assert_eq!(
            codes(&list.search("ge\u{301}neralized anxiety", 10)),
            ["F41.1"]
        );
        let parkinson = codes(&list.search("parkinsons", 10));
        assert_eq!(parkinson, ["G20.A1"]);
        assert_eq!(codes(&list.search("Parkinson\u{2019}s", 10)), parkinson);
    }

    #[test]
    fn search_mixes_a_code_prefix_and_words() {
        let list = shipped();
        let found = codes(&list.search("j45 mild", 20));
        assert!(!found.is_empty());
        assert!(found.iter().all(|c| c.starts_with("J45")), "{found:?}");
        for c in &found {
            assert!(list.get(c).unwrap().description.contains("Mild"));
        }
    }

    #[test]
    fn search_is_deterministic_and_limited() {
        let list = shipped();
        let a = codes(&list.search("pain", 500));
        let b = codes(&list.search("pain", 500));
        assert_eq!(a, b);
        assert!(a.len() > 20);
        assert_eq!(codes(&list.search("pain", 5)), a[..5]);
        assert!(list.search("pain", 0).is_empty());
        let unique: HashSet<&String> = a.iter().collect();
        assert_eq!(unique.len(), a.len());
    }

    #[test]
    fn empty_search_finds_nothing() {
        let list = shipped();
        assert!(list.search("", 10).is_empty());
        assert!(list.search("   ", 10).is_empty());
        assert!(list.search(" - . ", 10).is_empty());
    }

    #[test]
    fn parse_rejects_bad_files() {
        let header = "# Source: test\n# Licence: test\n";
        let ok = Icd10List::parse(&format!("{header}A00.0\tCholera\n")).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok.about(), "Source: test\nLicence: test");
        for (body, why) in [
            ("a00.0\tCholera\n", "lower case"),
            ("A000\tCholera\n", "no dot"),
            ("A00.\tCholera\n", "empty after dot"),
            ("A00.12345\tCholera\n", "too long"),
            ("AA0.1\tCholera\n", "letter second"),
            ("A00.0\t \n", "empty description"),
            ("A00.0 Cholera\n", "no tab"),
            ("A00.0\tCholera\textra\n", "three fields"),
            ("A00.0\tCholera\nA00.0\tCholera again\n", "duplicate"),
        ] {
            assert!(
                Icd10List::parse(&format!("{header}{body}")).is_err(),
                "accepted {why}: {body:?}"
            );
        }
        assert!(Icd10List::parse("# Licence: x\nA00.0\tCholera\n").is_err());
        assert!(Icd10List::parse("# Source: x\nA00.0\tCholera\n").is_err());
    }
}
