//! The records a [`super::SearchIndex`] keeps in its B-trees, and the pure operations on them.
//!
//! Stores (all under the index name, e.g. `docs/postings`):
//! - `meta`: `0 → SearchConfig` — the analyzer and scoring configuration, fixed at creation.
//! - `globals`: `0 → Globals` — live document count, total length, next doc number, and a
//!   random `token` rewritten by every change (it names the index content, see `cache`).
//! - `terms`: `term → TermStats` — document frequency and the term's score frontier.
//! - `postings`: `(term, first_doc) → PostingBlock` — up to [`POSTINGS_PER_BLOCK`] postings.
//! - `docs`: `external id → DocRecord` — doc number, length and the term list (to undo it).
//! - `numbers`: `doc_no / DOCS_PER_BLOCK → DocBlock` — doc number → (length, external id).
//!
//! Invariants: doc numbers are never reused (a replaced document gets a new one), so new
//! postings always go after every existing posting of a term; the blocks of a term are
//! disjoint, sorted, non-empty, and block `(t, f)` holds only docs in `[f, next block's f)`;
//! `TermStats.df` equals the number of postings of the term, a term with `df = 0` has no
//! record, and `TermStats.last_block` is the key of the term's last block; every posting's `(tf, len)` is dominated by a point of its block's `max` and of
//! the term's `frontier`; `Globals` equals the sums over `docs`.

use serde::{Deserialize, Serialize};

use crate::postings::{Posting, ScoreFrontier};

/// Postings per block: a change rewrites at most a few blocks per term, a query reads
/// `df / POSTINGS_PER_BLOCK` values per term.
pub(crate) const POSTINGS_PER_BLOCK: usize = 128;
/// Documents per block of the `numbers` store.
pub(crate) const DOCS_PER_BLOCK: u32 = 256;

/// Collection-wide statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Globals {
    /// Live documents.
    pub docs: u64,
    /// Sum of their lengths.
    pub total_tokens: u64,
    /// The next unused doc number.
    pub next_doc: u32,
    /// Random; a new value is written by every change, so it identifies the content.
    pub token: u64,
}

/// Per-term statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TermStats {
    /// Number of documents containing the term.
    pub df: u32,
    /// Non-dominated `(tf, len)` points over the term's postings (see [`ScoreFrontier`]).
    pub frontier: Vec<(u32, u32)>,
    /// First doc (the key) of the term's last posting block, where additions go.
    pub last_block: u32,
}

impl TermStats {
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

/// A chunk of one term's posting list, sorted by doc.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PostingBlock {
    pub docs: Vec<u32>,
    pub tfs: Vec<u32>,
    pub lens: Vec<u32>,
    /// The block max: the Pareto frontier of the block's `(tf, len)`.
    pub max: Vec<(u32, u32)>,
}

impl PostingBlock {
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Appends entries (their docs must follow every doc of the block) and refreshes `max`.
    pub fn extend(&mut self, entries: &[Entry]) {
        for e in entries {
            debug_assert!(!matches!(self.docs.last(), Some(&d) if d >= e.doc));
            self.docs.push(e.doc);
            self.tfs.push(e.tf);
            self.lens.push(e.len);
        }
        self.refresh_max();
    }

    /// A block holding `entries` (sorted by doc).
    pub fn from_entries(entries: &[Entry]) -> Self {
        let mut b = Self::default();
        b.extend(entries);
        b
    }

    /// Removes `doc`; returns whether it was there. Call [`Self::refresh_max`] afterwards.
    pub fn remove(&mut self, doc: u32) -> bool {
        match self.docs.binary_search(&doc) {
            Ok(i) => {
                self.docs.remove(i);
                self.tfs.remove(i);
                self.lens.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn refresh_max(&mut self) {
        let f = frontier_of(self.tfs.iter().copied().zip(self.lens.iter().copied()));
        self.max = f.points().to_vec();
    }

    /// Appends the block's postings to `out`.
    pub fn push_postings(&self, out: &mut Vec<Posting>) {
        out.extend(
            self.docs
                .iter()
                .zip(&self.tfs)
                .map(|(&doc, &tf)| Posting::new(doc, tf)),
        );
    }
}

/// What the index remembers of one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocRecord {
    pub doc_no: u32,
    pub len: u32,
    /// Distinct terms with their frequencies, sorted by term.
    pub terms: Vec<(String, u32)>,
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
    fn blocks_keep_their_max_exact() {
        let mut b = PostingBlock::from_entries(&[e(1, 1, 10), e(4, 3, 5), e(9, 2, 2)]);
        let mut m = b.max.clone();
        m.sort_unstable();
        assert_eq!(m, vec![(2, 2), (3, 5)]);
        assert!(b.remove(4));
        assert!(!b.remove(4));
        b.refresh_max();
        assert_eq!(b.max, vec![(2, 2)]);
        let mut out = Vec::new();
        b.push_postings(&mut out);
        assert_eq!(out, vec![Posting::new(1, 1), Posting::new(9, 2)]);
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
