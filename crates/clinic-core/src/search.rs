//! Pure parts of patient search: normalising text, parsing what a person
//! typed, typo distance and the deletion keys of the typo index.

use chrono::NaiveDate;

/// Lower-cases and folds common Latin diacritics so "José" finds "jose".
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        for l in c.to_lowercase() {
            let m = match l {
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
                'ç' | 'ć' | 'č' => 'c',
                'ď' | 'đ' => 'd',
                'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
                'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => 'i',
                'ł' | 'ľ' | 'ĺ' => 'l',
                'ñ' | 'ń' | 'ň' => 'n',
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
                'ŕ' | 'ř' => 'r',
                'ś' | 'š' | 'ş' | 'ș' => 's',
                'ť' | 'ţ' | 'ț' => 't',
                'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => 'u',
                'ý' | 'ÿ' => 'y',
                'ź' | 'ż' | 'ž' => 'z',
                'ß' => {
                    out.push('s');
                    's'
                }
                'æ' => {
                    out.push('a');
                    'e'
                }
                other => other,
            };
            out.push(m);
        }
    }
    out
}

/// Splits folded text into word tokens (letters and digits).
pub fn words(s: &str) -> Vec<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// One piece of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryTerm {
    /// Letters (part of a name); matched by prefix, and with typo tolerance.
    Word(String),
    /// Digits (phone, patient number, identifier, or part of a date).
    Digits(String),
    /// A full date of birth.
    Date(NaiveDate),
    /// A patient number with a valid check digit.
    PatientNumber(u64),
}

/// Parses the search box text. Accepts dates as YYYY-MM-DD, DD/MM/YYYY or
/// DD.MM.YYYY; a phone typed with spaces ("020 7946 0958") is joined into one
/// digit string.
pub fn parse_query(text: &str) -> Vec<QueryTerm> {
    let mut terms = Vec::new();
    let mut digit_run = String::new();
    let flush = |run: &mut String, terms: &mut Vec<QueryTerm>| {
        if !run.is_empty() {
            terms.push(QueryTerm::Digits(std::mem::take(run)));
        }
    };
    for raw in text.split_whitespace() {
        if let Some(d) = parse_date(raw) {
            flush(&mut digit_run, &mut terms);
            terms.push(QueryTerm::Date(d));
            continue;
        }
        if let Some(n) = crate::patients::parse_patient_number(raw) {
            flush(&mut digit_run, &mut terms);
            terms.push(QueryTerm::PatientNumber(n));
            continue;
        }
        let stripped: String = raw
            .chars()
            .filter(|c| !matches!(c, '+' | '(' | ')' | '-' | '.'))
            .collect();
        if !stripped.is_empty() && stripped.bytes().all(|b| b.is_ascii_digit()) {
            digit_run.push_str(&stripped);
            continue;
        }
        flush(&mut digit_run, &mut terms);
        for w in words(raw) {
            if w.bytes().all(|b| b.is_ascii_digit()) {
                terms.push(QueryTerm::Digits(w));
            } else {
                terms.push(QueryTerm::Word(w));
            }
        }
    }
    flush(&mut digit_run, &mut terms);
    terms
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    for fmt in ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    None
}

/// Optimal string alignment distance (Damerau–Levenshtein with adjacent
/// transpositions), over characters.
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// Shortest word that gets typo tolerance; shorter words match by prefix only.
pub const MIN_TYPO_LEN: usize = 4;
/// Longest prefix of a vocabulary word that is indexed for typo-tolerant prefix matching.
pub const MAX_TYPO_PREFIX: usize = 8;

/// The word itself and every string obtained by deleting one character
/// (symmetric-delete typo index: two strings within edit distance one, or one
/// adjacent transposition, share at least one key).
pub fn deletion_keys(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut keys = vec![word.to_string()];
    for i in 0..chars.len() {
        let k: String = chars
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, c)| c)
            .collect();
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// Keys stored for one vocabulary word: deletion keys of each of its prefixes
/// from [`MIN_TYPO_LEN`] to [`MAX_TYPO_PREFIX`] characters (and of the whole
/// word if longer), so that a half-typed word with a typo still finds it.
pub fn vocabulary_keys(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    if chars.len() < MIN_TYPO_LEN {
        return out;
    }
    let mut lens: Vec<usize> = (MIN_TYPO_LEN..=chars.len().min(MAX_TYPO_PREFIX)).collect();
    if chars.len() > MAX_TYPO_PREFIX {
        lens.push(chars.len());
    }
    for l in lens {
        let prefix: String = chars[..l].iter().collect();
        for k in deletion_keys(&prefix) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

/// How well a typed word matches a stored word: 3 exact, 2 prefix, 1 typo, 0 none.
pub fn word_match(typed: &str, stored: &str) -> u8 {
    if typed == stored {
        3
    } else if stored.starts_with(typed) {
        2
    } else if typed.chars().count() >= MIN_TYPO_LEN {
        let n = typed.chars().count();
        let prefix: String = stored.chars().take(n).collect();
        u8::from(
            damerau_levenshtein(typed, &prefix) <= 1 || damerau_levenshtein(typed, stored) <= 1,
        )
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_words() {
        assert_eq!(fold("José Ñúñez"), "jose nunez");
        assert_eq!(
            words("O'Brien-Smith  Zoë"),
            vec!["o", "brien", "smith", "zoe"]
        );
    }

    #[test]
    fn query_parsing() {
        assert_eq!(
            parse_query("smith 1985-12-10"),
            vec![
                QueryTerm::Word("smith".into()),
                QueryTerm::Date(NaiveDate::from_ymd_opt(1985, 12, 10).unwrap())
            ]
        );
        assert_eq!(
            parse_query("020 7946 0958"),
            vec![QueryTerm::Digits("02079460958".into())]
        );
        assert_eq!(
            parse_query("10/12/1985"),
            vec![QueryTerm::Date(
                NaiveDate::from_ymd_opt(1985, 12, 10).unwrap()
            )]
        );
        let n = crate::patients::format_patient_number(42);
        assert_eq!(parse_query(&n), vec![QueryTerm::PatientNumber(42)]);
        assert_eq!(parse_query("  "), vec![]);
    }

    #[test]
    fn distances() {
        assert_eq!(damerau_levenshtein("john", "jonh"), 1);
        assert_eq!(damerau_levenshtein("smith", "smyth"), 1);
        assert_eq!(damerau_levenshtein("smith", "smiht"), 1);
        assert_eq!(damerau_levenshtein("smith", "jones"), 5);
        assert_eq!(word_match("jonh", "johnson"), 1);
        assert_eq!(word_match("joh", "johnson"), 2);
        assert_eq!(word_match("jon", "johnson"), 0);
    }

    proptest::proptest! {
        /// Any one-character edit or adjacent swap of a vocabulary prefix shares a key with it.
        #[test]
        fn symmetric_delete_finds_single_typos(word in "[a-z]{4,12}", pos in 0usize..12, c in proptest::char::range('a', 'z'), kind in 0u8..4) {
            let chars: Vec<char> = word.chars().collect();
            let n = chars.len().min(MAX_TYPO_PREFIX);
            let typed_len = MIN_TYPO_LEN.max(pos % (n + 1));
            let mut typed: Vec<char> = chars[..typed_len.min(chars.len())].to_vec();
            let p = pos % typed.len();
            match kind {
                0 => typed[p] = c,
                1 => typed.insert(p, c),
                2 if typed.len() > MIN_TYPO_LEN => { typed.remove(p); }
                _ if p + 1 < typed.len() => typed.swap(p, p + 1),
                _ => {}
            }
            let typed: String = typed.into_iter().collect();
            if typed.chars().count() >= MIN_TYPO_LEN {
                let vocab = vocabulary_keys(&word);
                let hit = deletion_keys(&typed).iter().any(|k| vocab.contains(k));
                proptest::prop_assert!(hit || !(MIN_TYPO_LEN..=MAX_TYPO_PREFIX + 1).contains(&typed.chars().count()),
                    "typed {typed} should reach {word}");
            }
        }
    }
}
