//! The change feed as both sides see it: one change per record version,
//! chained by hash so a workstation can prove which history it holds, in
//! pages with a checksum, and whole copies compared bucket by bucket.
//!
//! The chain covers each change's *content hash*, not its content: a later
//! erasure can replace a change's document with a redaction marker that
//! carries the original content hash ([`Change::hash`]), and every chain
//! value before and after it stays valid.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// SHA-256 of a document's JSON text.
pub fn doc_hash(doc: &Value) -> String {
    doc_hash_of_text(&doc.to_string())
}

/// [`doc_hash`] of a document already serialised.
pub fn doc_hash_of_text(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// One record as of a point in the change feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub seq: i64,
    pub entity_type: String,
    pub entity_id: Uuid,
    /// The record's document.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
    /// [`chain_hash`] of the feed up to and including this change: equal
    /// chains at a position mean equal histories up to it. On the wire only
    /// a page's first and last change carry it ([`compact_chains`]); it is
    /// 64 characters no compression can shrink, a third of a compressed row.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chain: String,
    /// The content hash of a change whose document was redacted (erased):
    /// `data` is then a redaction marker and this is the hash the chain
    /// covers. Absent for every ordinary change (computed from `data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl Change {
    /// The content hash the chain covers, from the document's text.
    fn content_hash(&self, text: &str) -> String {
        match &self.hash {
            Some(h) => h.clone(),
            None => doc_hash_of_text(text),
        }
    }
}

/// The chain value before the first change of a feed.
pub const FEED_GENESIS: &str = "feed";

/// The feed's hash chain: this change's identity and content hash chained
/// to the previous change's chain value. A workstation remembers the chain
/// value at its cursor; the server compares it with its own, so a server
/// whose history differs anywhere before the cursor (restored from a
/// backup, then written again) is noticed, not only one that lacks the
/// change at the cursor.
pub fn chain_hash(prev: &str, c: &Change) -> String {
    chain_of(prev, c, &c.content_hash(&c.data.to_string()))
}

/// [`chain_hash`] with the change's content hash already computed
/// (`c.data` itself is not read).
pub fn chain_of(prev: &str, c: &Change, content_hash: &str) -> String {
    let mut one = Sha256::new();
    one.update(c.seq.to_be_bytes());
    one.update(c.entity_type.as_bytes());
    one.update(c.entity_id.as_bytes());
    one.update(content_hash.as_bytes());
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(hex(&one.finalize()));
    hex(&h.finalize())
}

/// What a page checksum covers of one change: its content as sent, not its
/// chain value.
fn hash_change(h: &mut Sha256, c: &Change, text: &str) {
    h.update(c.seq.to_be_bytes());
    h.update(c.entity_type.as_bytes());
    h.update(c.entity_id.as_bytes());
    h.update(text.as_bytes());
    if let Some(x) = &c.hash {
        h.update(x.as_bytes());
    }
}

/// Checksum of a page of changes, checked by the receiver before applying
/// it (its content only: chain values are checked by [`fill_chains`]).
pub fn page_checksum(changes: &[Change]) -> String {
    let mut h = Sha256::new();
    for c in changes {
        hash_change(&mut h, c, &c.data.to_string());
    }
    hex(&h.finalize())
}

/// Leaves the chain value out of every change of a page but the first and
/// the last, before it is sent: the receiver computes the others from the
/// one before each ([`fill_chains`]), and the last one it is given checks
/// them all.
pub fn compact_chains(changes: &mut [Change]) {
    let n = changes.len();
    for c in changes.iter_mut().take(n.saturating_sub(1)).skip(1) {
        c.chain.clear();
    }
}

/// The chain value of every change of a page whose first change follows
/// the change with chain value `prev` (`None` when the receiver does not
/// know it: the page's first chain value is then taken as given). Values
/// the page leaves out are computed; the ones it gives must equal the
/// computed ones. Returns the values and whether they all agreed: a page
/// that disagrees comes from a different history.
pub fn fill_chains(prev: Option<&str>, changes: &[Change]) -> (Vec<String>, bool) {
    let (_, chains, ok) = check_page(prev, changes, 0);
    (chains, ok)
}

/// A received page's [`page_checksum`], and [`fill_chains`] of its changes
/// from index `fresh` on, serialising each document once.
pub fn check_page(
    prev: Option<&str>,
    changes: &[Change],
    fresh: usize,
) -> (String, Vec<String>, bool) {
    let mut page = Sha256::new();
    let mut out: Vec<String> = Vec::with_capacity(changes.len().saturating_sub(fresh));
    let mut ok = true;
    let mut prev = prev.map(str::to_string);
    for (i, c) in changes.iter().enumerate() {
        let text = c.data.to_string();
        hash_change(&mut page, c, &text);
        if i < fresh {
            continue;
        }
        let value = match &prev {
            Some(p) => {
                let computed = chain_of(p, c, &c.content_hash(&text));
                ok &= c.chain.is_empty() || c.chain == computed;
                computed
            }
            None => c.chain.clone(),
        };
        prev = (!value.is_empty()).then(|| value.clone());
        out.push(value);
    }
    (hex(&page.finalize()), out, ok)
}

/// Number of buckets a whole-copy verification is split into.
pub const CHECKSUM_BUCKETS: usize = 64;

pub fn bucket_of(id: Uuid) -> usize {
    id.as_bytes()[15] as usize % CHECKSUM_BUCKETS
}

/// Order-independent checksums of (id, document hash) pairs per bucket:
/// equal buckets hold equal records; a repair fetches only unequal ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketSums(pub Vec<String>);

/// [`BucketSums`] being computed one record at a time (the server streams
/// a whole tenant through it without holding it).
#[derive(Debug, Clone)]
pub struct BucketAcc(Vec<[u8; 16]>);

impl Default for BucketAcc {
    fn default() -> Self {
        Self(vec![[0u8; 16]; CHECKSUM_BUCKETS])
    }
}

impl BucketAcc {
    pub fn add(&mut self, id: uuid::Uuid, hash: &str) {
        let mut h = Sha256::new();
        h.update(id.as_bytes());
        h.update(hash.as_bytes());
        let d = h.finalize();
        let b = &mut self.0[bucket_of(id)];
        for (x, y) in b.iter_mut().zip(d.iter()) {
            *x ^= y;
        }
    }

    pub fn finish(&self) -> BucketSums {
        BucketSums(self.0.iter().map(|b| hex(b)).collect())
    }
}

impl BucketSums {
    pub fn compute<'a>(items: impl IntoIterator<Item = (uuid::Uuid, &'a str)>) -> Self {
        let mut acc = BucketAcc::default();
        for (id, hash) in items {
            acc.add(id, hash);
        }
        acc.finish()
    }

    /// Buckets whose checksums differ.
    pub fn differing(&self, other: &BucketSums) -> Vec<usize> {
        (0..CHECKSUM_BUCKETS)
            .filter(|&i| self.0.get(i) != other.0.get(i))
            .collect()
    }
}

/// One record for a whole-copy comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordCopy {
    pub entity_type: String,
    pub id: Uuid,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub doc: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BucketsRequest {
    pub buckets: Vec<usize>,
    /// The page after this id (records come in id order); the first page when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Uuid>,
    /// At most this many records (and never more than [`RECORDS_PAGE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The most records one answer of a repair carries.
pub const RECORDS_PAGE: u32 = 1_000;

/// A page of the records of chosen buckets, in id order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordsPage {
    pub records: Vec<RecordCopy>,
    /// Ask again with `after` this id for the rest; absent on the last page.
    pub next: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(seq: i64, id: u128) -> Change {
        Change {
            seq,
            entity_type: "patient".into(),
            entity_id: Uuid::from_u128(id),
            data: json!({"n": id}),
            chain: String::new(),
            hash: None,
        }
    }

    fn feed(n: i64) -> Vec<Change> {
        (1..=n)
            .scan(FEED_GENESIS.to_string(), |prev, seq| {
                let mut c = change(seq, seq as u128);
                c.chain = chain_hash(prev, &c);
                *prev = c.chain.clone();
                Some(c)
            })
            .collect()
    }

    #[test]
    fn feed_chains_differ_when_any_earlier_change_differs() {
        let chain = |changes: &[Change]| {
            changes
                .iter()
                .fold(FEED_GENESIS.to_string(), |prev, c| chain_hash(&prev, c))
        };
        // A restored server wrote a different change 1, then the same change 2.
        let before = [change(1, 10), change(2, 20)];
        let after = [change(1, 11), change(2, 20)];
        assert_ne!(chain(&before), chain(&after));
        assert_eq!(chain(&before), chain(&[change(1, 10), change(2, 20)]));
    }

    #[test]
    fn a_redacted_change_keeps_every_chain_value() {
        let feed = feed(4);
        let mut redacted = feed.clone();
        let original = doc_hash(&redacted[1].data);
        redacted[1].data = json!({"redacted": true});
        redacted[1].hash = Some(original);
        let (chains, ok) = fill_chains(Some(FEED_GENESIS), &redacted);
        assert!(ok, "the chain covers the content hash, not the content");
        assert_eq!(
            chains,
            feed.iter().map(|c| c.chain.clone()).collect::<Vec<_>>()
        );
        // A redaction that claims another content hash breaks the chain.
        redacted[1].hash = Some(doc_hash(&json!({"n": 99})));
        assert!(!fill_chains(Some(FEED_GENESIS), &redacted).1);
    }

    #[test]
    fn a_compacted_page_gets_every_chain_value_back_and_a_foreign_history_is_noticed() {
        let feed = feed(5);
        let full: Vec<String> = feed.iter().map(|c| c.chain.clone()).collect();
        // A page of changes 2..=5: only 2 and 5 keep their value on the wire.
        let mut page = feed[1..].to_vec();
        let checksum = page_checksum(&page);
        compact_chains(&mut page);
        let sent: Vec<bool> = page.iter().map(|c| !c.chain.is_empty()).collect();
        assert_eq!(sent, [true, false, false, true]);
        assert_eq!(
            page_checksum(&page),
            checksum,
            "the checksum covers content only"
        );
        let wire: Vec<Change> =
            serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
        // Known cursor hash, unknown one (taken from the page), foreign one.
        assert_eq!(
            fill_chains(Some(&full[0]), &wire),
            (full[1..].to_vec(), true)
        );
        assert_eq!(fill_chains(None, &wire), (full[1..].to_vec(), true));
        assert!(!fill_chains(Some("another history"), &wire).1);
        // One pass over a page that reaches back before the cursor (at
        // change 2): the whole page's checksum, the values from change 3 on.
        assert_eq!(
            check_page(Some(&full[1]), &wire, 1),
            (checksum.clone(), full[2..].to_vec(), true)
        );
        // A page whose content differs from what its last value covers.
        let mut forged = wire.clone();
        forged[2].data = json!({"n": 99});
        assert!(!fill_chains(Some(&full[0]), &forged).1);
    }

    #[test]
    fn bucket_sums_find_exactly_the_differing_bucket() {
        let ids: Vec<Uuid> = (0..500u128).map(|i| Uuid::from_u128(i * 7919)).collect();
        let a = BucketSums::compute(ids.iter().map(|i| (*i, "h")));
        let mut changed = ids.clone();
        changed.reverse();
        let b = BucketSums::compute(changed.iter().map(|i| (*i, "h")));
        assert!(a.differing(&b).is_empty(), "order does not matter");
        let c = BucketSums::compute(
            ids.iter()
                .map(|i| (*i, if *i == ids[3] { "x" } else { "h" })),
        );
        assert_eq!(a.differing(&c), vec![bucket_of(ids[3])]);
    }
}
