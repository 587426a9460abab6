//! The records a [`super::SearchIndex`] keeps in its B-trees, and the pure operations on them.
//!
//! On-disk layout, format version [`FORMAT_VERSION`] (2). Stores, all under the index name
//! (e.g. `docs/postings`); every value is MessagePack inside sop-core's CRC-checked frames:
//! - `meta`: `0 → IndexMeta { format, config }` — the layout version (an index of another
//!   version is refused on open) and the analyzer/scoring configuration, fixed at creation.
//! - `globals`: `0 → Globals` — live document count, total length, next doc number.
//! - `terms`: `term → TermEntry` — document frequency, the term's score frontier, the number
//!   of its blocks in `postings`, and its newest postings inline (the `tail`, at most
//!   [`POSTINGS_PER_BLOCK`]). Most terms are rare: their whole posting list is this one item.
//! - `postings`: `(term, first_doc) → PostingBlock` — older postings, sealed from the tail in
//!   blocks of [`POSTINGS_PER_BLOCK`] (deletions may shrink a block; an emptied one is removed).
//! - `docs`: `external id → DocRecord` — doc number, length and the packed term list (to
//!   undo the document).
//! - `numbers`: `doc_no / DOCS_PER_BLOCK → DocBlock` — doc number → (length, external id).
//!
//! Packed bytes (LEB128 varints, see `varint`): a [`PostingBlock`] holds per posting the doc
//! gap (the first posting's doc itself), tf and document length; a [`DocRecord`]'s term list
//! holds per distinct term its UTF-8 byte length, the bytes and its tf. Decoders check counts,
//! order, UTF-8 and that every byte is used, and report corruption instead of guessing.
//!
//! Invariants: doc numbers are never reused (a replaced document gets a new one), so new
//! postings always go after every existing posting of a term; a term's blocks are disjoint,
//! sorted, non-empty, all below its tail, and block `(t, f)` starts with doc `f`;
//! `TermEntry.df` is the number of postings in its blocks and tail, `blocks` the number of its
//! blocks; a term with `df = 0` has no record; every posting's `(tf, len)` is dominated by a
//! point of the term's `frontier`; `Globals` equals the sums over `docs`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::varint::{self, Reader};
use super::SearchConfig;
use crate::postings::{Posting, ScoreFrontier};

/// The version of the layout described in the module docs.
pub(crate) const FORMAT_VERSION: u32 = 2;
/// Postings per sealed block and at most in a tail: a query reads `df / POSTINGS_PER_BLOCK`
/// blocks of a term besides its entry.
pub(crate) const POSTINGS_PER_BLOCK: usize = 128;
/// Documents per block of the `numbers` store.
pub(crate) const DOCS_PER_BLOCK: u32 = 256;

/// The layout version and the configuration of an index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IndexMeta {
    /// [`FORMAT_VERSION`] of the writer that created the index.
    pub format: u32,
    /// Analyzer and scoring configuration.
    pub config: SearchConfig,
}

/// Collection-wide statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Globals {
    /// Live documents.
    pub docs: u64,
    /// Sum of their lengths.
    pub total_tokens: u64,
    /// The next unused doc number.
    pub next_doc: u32,
}

/// Per-term statistics and the term's newest postings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TermEntry {
    /// Number of documents containing the term.
    pub df: u32,
    /// Non-dominated `(tf, len)` points over the term's postings (see [`ScoreFrontier`]).
    pub frontier: Vec<(u32, u32)>,
    /// Number of the term's blocks in the `postings` store.
    pub blocks: u32,
    /// The newest postings, after every posting of the blocks (may be empty).
    pub tail: PostingBlock,
}

impl TermEntry {
    pub fn frontier(&self) -> ScoreFrontier {
        frontier_of(self.frontier.iter().copied())
    }
}

/// Builds a frontier from points.
pub(crate) fn frontier_of(points: impl IntoIterator<Item = (u32, u32)>) -> ScoreFrontier {
    let mut f = ScoreFrontier::new();
    for (tf, len) in points {
        f.insert(tf, len);
    }
    f
}

/// One posting of a change: document, term frequency, document length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub doc: u32,
    pub tf: u32,
    pub len: u32,
}

/// A run of one term's postings, sorted by doc, packed (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PostingBlock {
    /// Number of postings.
    count: u32,
    /// Doc of the last posting (0 when empty): appends encode their gap from it.
    last_doc: u32,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
}

impl PostingBlock {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Makes room for `n` more postings of typical size.
    pub fn reserve(&mut self, n: usize) {
        self.bytes.reserve(n * 4);
    }

    /// Appends a posting; its doc must follow every doc of the block.
    pub fn push(&mut self, e: Entry) {
        debug_assert!(self.count == 0 || e.doc > self.last_doc);
        varint::put(&mut self.bytes, e.doc - self.last_doc);
        varint::put(&mut self.bytes, e.tf);
        varint::put(&mut self.bytes, e.len);
        self.count += 1;
        self.last_doc = e.doc;
    }

    /// A block holding `entries` (sorted by doc).
    pub fn from_entries(entries: &[Entry]) -> Self {
        let mut b = Self::default();
        b.reserve(entries.len());
        for &e in entries {
            b.push(e);
        }
        b
    }

    /// The doc of the last posting (0 when empty).
    pub fn last_doc(&self) -> u32 {
        self.last_doc
    }

    /// The doc of the first posting; `None` when empty or unreadable.
    pub fn first_doc(&self) -> Option<u32> {
        if self.count == 0 {
            return None;
        }
        Reader::new(&self.bytes).next()
    }

    /// Calls `f` with every posting in order; `false` if the bytes contradict the header
    /// (the block is corrupt).
    pub fn for_each(&self, mut f: impl FnMut(Entry)) -> bool {
        let mut r = Reader::new(&self.bytes);
        let mut doc = 0u32;
        for i in 0..self.count {
            let (Some(gap), Some(tf), Some(len)) = (r.next(), r.next(), r.next()) else {
                return false;
            };
            doc = match doc.checked_add(gap) {
                Some(d) if (i == 0 || gap > 0) && tf > 0 => d,
                _ => return false,
            };
            f(Entry { doc, tf, len });
        }
        r.done() && doc == self.last_doc
    }

    /// Every posting, in order; `None` if the block is corrupt.
    pub fn entries(&self) -> Option<Vec<Entry>> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|e| out.push(e)).then_some(out)
    }

    /// Appends the block's `(doc, tf)` postings to `out`; `false` if the block is corrupt.
    pub fn push_postings(&self, out: &mut Vec<Posting>) -> bool {
        self.for_each(|e| out.push(Posting::new(e.doc, e.tf)))
    }

    /// Removes the postings of `docs` (sorted); returns how many it held, `None` if the
    /// block is corrupt (then it is unchanged).
    pub fn remove(&mut self, docs: &[u32]) -> Option<usize> {
        let all = self.entries()?;
        let kept: Vec<Entry> = all
            .iter()
            .copied()
            .filter(|e| docs.binary_search(&e.doc).is_err())
            .collect();
        let removed = all.len() - kept.len();
        if removed > 0 {
            *self = Self::from_entries(&kept);
        }
        Some(removed)
    }
}

/// What the index remembers of one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocRecord {
    pub doc_no: u32,
    pub len: u32,
    /// Distinct terms with their frequencies, packed (see the module docs).
    #[serde(with = "serde_bytes")]
    terms: Vec<u8>,
}

impl DocRecord {
    /// The record of document `doc_no` of length `len` with `terms` (distinct, any order).
    pub fn new(doc_no: u32, len: u32, terms: &[(Arc<str>, u32)]) -> Self {
        let size: usize = terms.iter().map(|(t, _)| t.len() + 2).sum();
        let mut bytes = Vec::with_capacity(size);
        for (term, tf) in terms {
            // Terms are tokens of at most a few hundred bytes: the length always fits.
            varint::put(&mut bytes, u32::try_from(term.len()).unwrap_or(u32::MAX));
            bytes.extend_from_slice(term.as_bytes());
            varint::put(&mut bytes, *tf);
        }
        Self {
            doc_no,
            len,
            terms: bytes,
        }
    }

    /// Calls `f` with every term and its frequency, in stored order; `false` if the packed
    /// list is corrupt.
    pub fn for_each_term(&self, mut f: impl FnMut(&str, u32)) -> bool {
        let mut r = Reader::new(&self.terms);
        while !r.done() {
            let term = r
                .next()
                .and_then(|n| r.take(n as usize))
                .and_then(|b| std::str::from_utf8(b).ok());
            match (term, r.next()) {
                (Some(t), Some(tf)) if !t.is_empty() && tf > 0 => f(t, tf),
                _ => return false,
            }
        }
        true
    }

    /// The terms with their frequencies, sorted by term; `None` if corrupt.
    pub fn terms(&self) -> Option<Vec<(String, u32)>> {
        let mut out = Vec::new();
        if !self.for_each_term(|t, tf| out.push((t.to_owned(), tf))) {
            return None;
        }
        out.sort_unstable();
        Some(out)
    }
}

/// Doc number → (length, external id) for [`DOCS_PER_BLOCK`] consecutive numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocBlock {
    pub docs: Vec<u32>,
    pub lens: Vec<u32>,
    pub ids: Vec<String>,
}

impl DocBlock {
    /// Removes the listed doc numbers.
    pub fn remove_all(&mut self, gone: &[u32]) {
        let mask: Vec<bool> = self.docs.iter().map(|d| !gone.contains(d)).collect();
        retain_by(&mut self.docs, &mask);
        retain_by(&mut self.lens, &mask);
        retain_by(&mut self.ids, &mask);
    }

    pub fn push(&mut self, doc: u32, len: u32, id: String) {
        self.docs.push(doc);
        self.lens.push(len);
        self.ids.push(id);
    }
}

fn retain_by<T>(v: &mut Vec<T>, mask: &[bool]) {
    let mut i = 0;
    v.retain(|_| {
        let keep = mask[i];
        i += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(doc: u32, tf: u32, len: u32) -> Entry {
        Entry { doc, tf, len }
    }

    #[test]
    fn posting_blocks_pack_append_and_remove() {
        let mut b = PostingBlock::from_entries(&[e(1, 1, 10), e(4, 3, 5)]);
        b.push(e(300, 2, 70_000));
        assert_eq!(b.len(), 3);
        assert_eq!(b.first_doc(), Some(1));
        assert_eq!(
            b.entries(),
            Some(vec![e(1, 1, 10), e(4, 3, 5), e(300, 2, 70_000)])
        );
        let back: PostingBlock =
            rmp_serde::from_slice(&rmp_serde::to_vec(&b).expect("encode")).expect("decode");
        assert_eq!(back, b);
        assert_eq!(b.remove(&[4, 7]), Some(1));
        assert_eq!(b.remove(&[4]), Some(0));
        let mut out = Vec::new();
        assert!(b.push_postings(&mut out));
        assert_eq!(out, vec![Posting::new(1, 1), Posting::new(300, 2)]);
        assert_eq!(
            b,
            PostingBlock::from_entries(&[e(1, 1, 10), e(300, 2, 70_000)])
        );
        assert_eq!(b.remove(&[1, 300]), Some(2));
        assert!(b.is_empty());
        assert_eq!(b.first_doc(), None);
    }

    #[test]
    fn corrupt_posting_blocks_are_detected() {
        let good = PostingBlock::from_entries(&[e(1, 1, 10), e(4, 3, 5)]);
        let mut wrong_count = good.clone();
        wrong_count.count = 3;
        let mut wrong_last = good.clone();
        wrong_last.last_doc = 5;
        let mut truncated = good.clone();
        truncated.bytes.pop();
        let mut zero_gap = good.clone();
        zero_gap.bytes[3] = 0; // the second posting's gap
        zero_gap.last_doc = 1;
        for bad in [wrong_count, wrong_last, truncated, zero_gap] {
            assert_eq!(bad.entries(), None, "{bad:?}");
            let mut copy = bad.clone();
            assert_eq!(copy.remove(&[1]), None);
            assert_eq!(copy, bad);
        }
    }

    #[test]
    fn doc_records_pack_their_terms() {
        let terms: Vec<(Arc<str>, u32)> = vec![("fox".into(), 2), ("dog".into(), 1)];
        let r = DocRecord::new(7, 3, &terms);
        assert_eq!(
            r.terms(),
            Some(vec![("dog".to_owned(), 1), ("fox".to_owned(), 2)])
        );
        let mut bad = r.clone();
        bad.terms[1] = 0xff; // not UTF-8
        assert_eq!(bad.terms(), None);
        let mut short = r.clone();
        short.terms.pop();
        assert_eq!(short.terms(), None);
    }

    #[test]
    fn doc_blocks_remove_by_number() {
        let mut b = DocBlock::default();
        b.push(1, 5, "a".into());
        b.push(2, 6, "b".into());
        b.push(3, 7, "c".into());
        b.remove_all(&[2]);
        assert_eq!(b.docs, vec![1, 3]);
        assert_eq!(b.lens, vec![5, 7]);
        assert_eq!(b.ids, vec!["a", "c"]);
    }
}
