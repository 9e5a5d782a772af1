//! Patient search as you type: FTS5 prefix index for names, numbers and
//! dates, and a symmetric-delete vocabulary for typo tolerance. Results are
//! ranked in Rust (exact word > prefix > typo), then by name.

use crate::{parse_uuid, Db, StoreError, StoreResult};
use chrono::NaiveDate;
use clinic_core::patients::{format_patient_number, PatientDetails};
use clinic_core::search::{
    deletion_keys, parse_query, vocabulary_keys, word_match, words, QueryTerm, MAX_TYPO_PREFIX,
    MIN_TYPO_LEN,
};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// Search-index changes held back by [`Db::batch_index`]: rows to add
/// (patient pk → terms) and rows to remove.
#[derive(Debug, Default)]
pub(crate) struct IndexBatch {
    add: std::collections::BTreeMap<i64, String>,
    drop: std::collections::BTreeSet<i64>,
}

/// One search result: enough to pick the right person, nothing clinical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "PatientHit"))]
pub struct PatientSummary {
    pub id: Uuid,
    pub patient_number: String,
    pub first_name: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub score: u32,
}

/// Exact-word candidates fetched before ranking (fetched first, so a rare
/// exact name is never crowded out by many longer names sharing its prefix).
const EXACT_CAP: usize = 200;
/// Prefix and typo candidates fetched before ranking.
const CANDIDATE_CAP: usize = 400;
/// Typo corrections considered per typed word.
const MAX_CORRECTIONS: usize = 24;

fn name_words(d: &PatientDetails) -> Vec<String> {
    let mut w = words(&d.first_name);
    w.extend(words(&d.last_name));
    for s in [&d.middle_name, &d.preferred_name].into_iter().flatten() {
        w.extend(words(s));
    }
    w
}

/// Digit tokens of a phone number, so that a receptionist finds it however
/// it is read out: as typed ("020 7946 0958"), without the area code
/// ("7946 0958" — suffixes after dropping up to five leading digits), by its
/// last four digits, and with or without the country code ("+44 7700…" vs
/// "07700…").
fn phone_tokens(digits: &str) -> Vec<String> {
    let mut out = vec![digits.to_string()];
    let mut push = |t: &str| {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    };
    for k in 1..=5 {
        if digits.len() >= k + 6 {
            push(&digits[k..]);
        }
    }
    if digits.len() >= 8 {
        push(&digits[digits.len() - 4..]);
    }
    for cc in ["44", "1", "31", "46"] {
        if let Some(rest) = digits.strip_prefix(cc) {
            if rest.len() >= 9 && !rest.starts_with('0') {
                push(&format!("0{rest}"));
            }
        }
    }
    out
}

fn index_text(number: &str, seq: u64, d: &PatientDetails) -> String {
    let mut t = name_words(d);
    t.push(number.to_ascii_lowercase());
    t.push(number[1..].to_string());
    t.push(seq.to_string());
    if let Some(dob) = d.date_of_birth {
        t.push(dob.format("%Y%m%d").to_string());
    }
    for p in [&d.phone, &d.alt_phone].into_iter().flatten() {
        if let Ok(digits) = clinic_core::patients::validate_phone(p) {
            t.extend(phone_tokens(&digits));
        }
    }
    if let Some(n) = &d.national_id {
        t.push(n.to_ascii_lowercase());
    }
    t.join(" ")
}

fn score(
    terms: &[QueryTerm],
    s: &PatientSummary,
    middle: Option<&str>,
    phone_digits: Option<&str>,
) -> u32 {
    let mut names: Vec<String> = words(&s.last_name);
    let last_len = names.len();
    names.extend(words(&s.first_name));
    for x in [s.preferred_name.as_deref(), middle].into_iter().flatten() {
        names.extend(words(x));
    }
    let mut total = 0;
    for t in terms {
        total += match t {
            QueryTerm::Word(w) => names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let m = u32::from(word_match(w, n));
                    // Exact and prefix matches on the last name rank a little higher.
                    m * 10 + u32::from(i < last_len && m >= 2)
                })
                .max()
                .unwrap_or(0),
            QueryTerm::Digits(d) => {
                if s.patient_number[1..]
                    .trim_start_matches('0')
                    .starts_with(d.trim_start_matches('0'))
                {
                    30
                } else if phone_digits
                    .is_some_and(|p| phone_tokens(p).iter().any(|t| t.starts_with(d.as_str())))
                {
                    25
                } else {
                    20
                }
            }
            QueryTerm::Date(_) | QueryTerm::PatientNumber(_) => 30,
        };
    }
    total
}

macro_rules! summary_columns {
    () => {
        "p.id, p.patient_number, p.first_name, p.last_name, p.preferred_name, p.date_of_birth, p.phone, p.middle_name, p.phone_digits, p.sort_name"
    };
}
/// Live patients whose folded "last first" name starts with ?1 (?2 = ?1 + U+10FFFF).
const SQL_NAME_PREFIX: &str = concat!(
    "SELECT ",
    summary_columns!(),
    " FROM patients p WHERE p.deleted_at IS NULL",
    " AND p.sort_name >= ?1 AND p.sort_name < ?2 ORDER BY p.sort_name LIMIT ?3"
);
/// Live patients matching the FTS5 expression ?1.
const SQL_FULL_TEXT: &str = concat!(
    "SELECT ",
    summary_columns!(),
    " FROM patient_fts f JOIN patients p ON p.pk = f.rowid",
    " WHERE patient_fts MATCH ?1 AND p.deleted_at IS NULL LIMIT ?2"
);
/// The survivor of a merge, found by the merged-away record's number ?1.
const SQL_MERGED_NUMBER: &str = concat!(
    "SELECT ",
    summary_columns!(),
    " FROM patients p WHERE p.deleted_at IS NULL",
    " AND p.id = (SELECT merged_into FROM patients WHERE patient_number = ?1)"
);
const SQL_TYPO_KEYS: &str = "SELECT word FROM search_typo_keys WHERE key = ?1 LIMIT 64";

/// A fetched row: summary, middle name, phone digits, sort name.
type Candidate = (PatientSummary, Option<String>, Option<String>, String);

fn fetch(
    st: &mut rusqlite::CachedStatement,
    p: &[&dyn rusqlite::ToSql],
    rows: &mut Vec<Candidate>,
    seen: &mut HashSet<Uuid>,
) -> StoreResult<()> {
    let mapped = st.query_map(p, |r| {
        Ok((
            PatientSummary {
                id: parse_uuid(&r.get::<_, String>(0)?),
                patient_number: r.get(1)?,
                first_name: r.get(2)?,
                last_name: r.get(3)?,
                preferred_name: r.get(4)?,
                date_of_birth: r
                    .get::<_, Option<String>>(5)?
                    .and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()),
                phone: r.get(6)?,
                score: 0,
            },
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Option<String>>(8)?,
            r.get::<_, String>(9)?,
        ))
    })?;
    for row in mapped {
        let row = row?;
        if seen.insert(row.0.id) {
            rows.push(row);
        }
    }
    Ok(())
}

impl Db<'_> {
    pub(crate) fn index_patient(
        &self,
        pk: i64,
        number: &str,
        seq: u64,
        d: &PatientDetails,
    ) -> StoreResult<()> {
        let text = index_text(number, seq, d);
        if let Some(batch) = self.index_batch {
            batch.borrow_mut().add.insert(pk, text);
        } else {
            self.conn
                .prepare_cached("INSERT INTO patient_fts (rowid, terms) VALUES (?1, ?2)")?
                .execute(params![pk, text])?;
        }
        let mut vocab_insert = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO search_vocabulary (word) VALUES (?1)")?;
        let mut key_insert = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO search_typo_keys (key, word) VALUES (?1, ?2)")?;
        for w in name_words(d) {
            if w.chars().count() >= MIN_TYPO_LEN && vocab_insert.execute([&w])? == 1 {
                for k in vocabulary_keys(&w) {
                    key_insert.execute(params![k, w])?;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn unindex_patient(&self, pk: i64) -> StoreResult<()> {
        if let Some(batch) = self.index_batch {
            let mut b = batch.borrow_mut();
            b.add.remove(&pk);
            b.drop.insert(pk);
            return Ok(());
        }
        self.conn
            .prepare_cached("DELETE FROM patient_fts WHERE rowid = ?1")?
            .execute([pk])?;
        Ok(())
    }

    /// Runs `f` with the search index's changes held back and written at
    /// the end in two statements, for writes of many patients at once (a
    /// page of the change feed, a bulk load).
    ///
    /// FTS5 writes its in-memory changes to disk at every statement
    /// savepoint, and SQLite opens one for almost every insert inside a
    /// transaction. Row by row, each patient's index entry became a segment
    /// of its own, then merged again and again; held back, a batch is one
    /// segment. Searches inside `f` do not see the held-back changes.
    pub fn batch_index<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.index_batch.is_some() {
            return f(self);
        }
        let cell = std::cell::RefCell::new(IndexBatch::default());
        let out = f(&Db {
            index_batch: Some(&cell),
            ..*self
        })?;
        self.write_index_batch(cell.into_inner())?;
        Ok(out)
    }

    fn write_index_batch(&self, batch: IndexBatch) -> StoreResult<()> {
        if !batch.drop.is_empty() {
            let ids = serde_json::to_string(&batch.drop)?;
            self.conn
                .prepare_cached(
                    "DELETE FROM patient_fts WHERE rowid IN (SELECT value FROM json_each(?1))",
                )?
                .execute([ids])?;
        }
        if !batch.add.is_empty() {
            let rows = serde_json::to_string(&batch.add.into_iter().collect::<Vec<_>>())?;
            self.conn
                .prepare_cached(
                    "INSERT INTO patient_fts (rowid, terms) SELECT value ->> 0, value ->> 1 FROM json_each(?1)",
                )
                ?
                .execute([rows])
                ?;
        }
        Ok(())
    }

    /// Vocabulary words within one typo of `typed` (or of a prefix of them).
    fn typo_corrections(&self, typed: &str) -> StoreResult<Vec<String>> {
        let n = typed.chars().count();
        if n < MIN_TYPO_LEN {
            return Ok(vec![]);
        }
        let mut keys = deletion_keys(typed);
        if n > MAX_TYPO_PREFIX {
            let head: String = typed.chars().take(MAX_TYPO_PREFIX).collect();
            keys.extend(deletion_keys(&head));
        }
        let mut st = self.conn.prepare_cached(SQL_TYPO_KEYS)?;
        let mut out: Vec<String> = Vec::new();
        for k in keys {
            for w in st.query_map([&k], |r| r.get::<_, String>(0))? {
                let w = w?;
                if !out.contains(&w) && word_match(typed, &w) >= 1 {
                    out.push(w);
                }
            }
            if out.len() >= MAX_CORRECTIONS {
                break;
            }
        }
        Ok(out)
    }

    /// The FTS5 query for `terms`: every term must match (AND); with `exact`
    /// only whole tokens, otherwise prefixes and typo corrections too.
    fn fts_expression(&self, terms: &[QueryTerm], exact: bool) -> StoreResult<String> {
        let mut parts = Vec::new();
        for t in terms {
            let alts: Vec<String> = match t {
                QueryTerm::Word(w) | QueryTerm::Digits(w) if exact => vec![format!("\"{w}\"")],
                QueryTerm::Word(w) => {
                    let mut a = vec![format!("\"{w}\"*")];
                    a.extend(
                        self.typo_corrections(w)?
                            .into_iter()
                            .filter(|c| !c.starts_with(w.as_str()))
                            .map(|c| format!("\"{c}\"")),
                    );
                    a
                }
                QueryTerm::Digits(d) => vec![format!("\"{d}\"*")],
                QueryTerm::Date(d) => vec![format!("\"{}\"", d.format("%Y%m%d"))],
                QueryTerm::PatientNumber(n) => vec![format!(
                    "\"{}\"",
                    format_patient_number(*n).to_ascii_lowercase()
                )],
            };
            parts.push(format!("({})", alts.join(" OR ")));
        }
        Ok(parts.join(" AND "))
    }

    /// `EXPLAIN QUERY PLAN` of the hot search queries, for tests that guard
    /// against a plan regressing to a table scan.
    #[doc(hidden)]
    pub fn search_query_plans(&self) -> StoreResult<Vec<(&'static str, String)>> {
        use rusqlite::types::Value as V;
        self.query_plans([
            (
                "names by prefix",
                SQL_NAME_PREFIX,
                vec![
                    V::Text("sm".into()),
                    V::Text("sm\u{10FFFF}".into()),
                    V::Integer(20),
                ],
            ),
            (
                "full-text",
                SQL_FULL_TEXT,
                vec![V::Text("\"smi\"*".into()), V::Integer(400)],
            ),
            ("typo keys", SQL_TYPO_KEYS, vec![V::Text("smth".into())]),
        ])
    }

    /// `EXPLAIN QUERY PLAN` of each (name, SQL, parameters), one line per query.
    pub(crate) fn query_plans<const N: usize>(
        &self,
        plans: [(&'static str, &str, Vec<rusqlite::types::Value>); N],
    ) -> StoreResult<Vec<(&'static str, String)>> {
        let mut out = Vec::new();
        for (name, sql, params) in plans {
            let mut st = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows: Vec<String> = st
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })?
                .collect::<Result<_, _>>()?;
            out.push((name, rows.join(" | ")));
        }
        Ok(out)
    }

    /// Live patients matching what was typed, best first.
    pub fn search_patients(&self, text: &str, limit: usize) -> StoreResult<Vec<PatientSummary>> {
        let terms = parse_query(text);
        if terms.is_empty() || limit == 0 {
            return Ok(vec![]);
        }
        let mut rows: Vec<Candidate> = Vec::new();
        let mut seen = HashSet::new();

        // One or two letters: an alphabetical range scan of last names is
        // both the fastest and the most useful answer.
        if let [QueryTerm::Word(w)] = terms.as_slice() {
            if w.chars().count() <= 2 {
                let mut upper = w.clone();
                upper.push('\u{10FFFF}');
                let mut st = self.conn.prepare_cached(SQL_NAME_PREFIX)?;
                fetch(&mut st, &[w, &upper, &(limit as i64)], &mut rows, &mut seen)?;
            }
        }
        let mut st = self.conn.prepare_cached(SQL_FULL_TEXT)?;
        if rows.len() < limit {
            let expr = self.fts_expression(&terms, true)?;
            fetch(&mut st, &[&expr, &(EXACT_CAP as i64)], &mut rows, &mut seen)?;
        }
        // An old number of a record merged into another leads to the survivor.
        if let [QueryTerm::PatientNumber(n)] = terms.as_slice() {
            if rows.is_empty() {
                let mut st = self.conn.prepare_cached(SQL_MERGED_NUMBER)?;
                fetch(&mut st, &[&format_patient_number(*n)], &mut rows, &mut seen)?;
            }
        }
        if rows.len() < limit {
            let expr = self.fts_expression(&terms, false)?;
            fetch(
                &mut st,
                &[&expr, &(CANDIDATE_CAP as i64)],
                &mut rows,
                &mut seen,
            )?;
        }
        let mut scored: Vec<(PatientSummary, String)> = rows
            .into_iter()
            .map(|(mut s, middle, phone, sort)| {
                s.score = score(&terms, &s, middle.as_deref(), phone.as_deref());
                (s, sort)
            })
            .collect();
        scored.sort_by(|a, b| {
            b.0.score
                .cmp(&a.0.score)
                .then_with(|| a.1.cmp(&b.1))
                .then(a.0.date_of_birth.cmp(&b.0.date_of_birth))
        });
        Ok(scored.into_iter().take(limit).map(|(s, _)| s).collect())
    }
}
