//! Posting lists as the top-k scorer sees them.
//!
//! Owns [`Posting`], the [`DocLengths`] lookup, posting-list validation and
//! [`ScoreFrontier`], the per-term summary that yields an exact BM25 upper bound.
//! Invariants: a posting list is sorted by strictly increasing `doc` and every `tf` is > 0;
//! a frontier holds only mutually non-dominated `(tf, doc_len)` points, and every posting ever
//! inserted is dominated by (or equal to) one of them.

use crate::error::{Result, SearchError};

/// One entry of a posting list: a document (dense internal number) and the term's count in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Posting {
    /// Internal document number.
    pub doc: u32,
    /// Term frequency in that document (> 0).
    pub tf: u32,
}

impl Posting {
    /// A posting of `doc` with frequency `tf`.
    pub fn new(doc: u32, tf: u32) -> Self {
        Self { doc, tf }
    }
}

/// Document lengths (number of analysed terms) by internal document number.
pub trait DocLengths {
    /// Length of `doc`. Only called for documents present in some posting list.
    fn doc_len(&self, doc: u32) -> u32;
}

impl DocLengths for [u32] {
    #[inline]
    fn doc_len(&self, doc: u32) -> u32 {
        self.get(doc as usize).copied().unwrap_or(0)
    }
}

impl DocLengths for Vec<u32> {
    #[inline]
    fn doc_len(&self, doc: u32) -> u32 {
        self.as_slice().doc_len(doc)
    }
}

/// Checks the posting-list invariants; `term` (the term's position in the query) is only used
/// in the error message.
pub fn validate_postings(term: usize, postings: &[Posting]) -> Result<()> {
    for (i, p) in postings.iter().enumerate() {
        if p.tf == 0 {
            return Err(SearchError::InvalidPostings {
                term,
                message: format!("entry {i} (doc {}) has tf 0", p.doc),
            });
        }
        if i > 0 && postings[i - 1].doc >= p.doc {
            return Err(SearchError::InvalidPostings {
                term,
                message: format!(
                    "entry {i} (doc {}) does not follow doc {} in increasing order",
                    p.doc,
                    postings[i - 1].doc
                ),
            });
        }
    }
    Ok(())
}

/// The Pareto frontier of `(tf, doc_len)` over a term's postings: high tf, short documents.
///
/// Because a BM25 term score rises with tf and falls with length, the best-scoring posting is
/// on the frontier for *any* k1, b and avgdl, so `Bm25Weight::max_score(frontier.points())`
/// is an exact upper bound even as collection statistics change. The frontier is usually a
/// handful of points. Removing postings may leave stale points: the bound then stays valid
/// (only looser) until the frontier is rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScoreFrontier {
    points: Vec<(u32, u32)>,
}

impl ScoreFrontier {
    /// An empty frontier.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of `postings` whose lengths come from `lengths`.
    pub fn from_postings<L: DocLengths + ?Sized>(postings: &[Posting], lengths: &L) -> Self {
        let mut f = Self::new();
        for p in postings {
            f.insert(p.tf, lengths.doc_len(p.doc));
        }
        f
    }

    /// Adds a posting's `(tf, doc_len)`; a no-op if it is dominated.
    pub fn insert(&mut self, tf: u32, doc_len: u32) {
        if self.points.iter().any(|&(t, l)| t >= tf && l <= doc_len) {
            return;
        }
        self.points.retain(|&(t, l)| !(tf >= t && doc_len <= l));
        self.points.push((tf, doc_len));
    }

    /// The frontier points `(tf, doc_len)`, in no particular order.
    pub fn points(&self) -> &[(u32, u32)] {
        &self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_broken_entry() {
        assert!(validate_postings(0, &[Posting::new(1, 1), Posting::new(3, 2)]).is_ok());
        let err = validate_postings(2, &[Posting::new(3, 1), Posting::new(3, 1)])
            .expect_err("duplicate doc");
        assert!(err.to_string().contains("term #2"));
        assert!(err.to_string().contains("entry 1"));
        assert!(validate_postings(0, &[Posting::new(1, 0)]).is_err());
    }

    #[test]
    fn frontier_keeps_only_non_dominated_points() {
        let mut f = ScoreFrontier::new();
        f.insert(1, 10);
        f.insert(2, 20);
        f.insert(1, 30); // dominated by (1, 10)
        f.insert(3, 5); // dominates both
        assert_eq!(f.points(), &[(3, 5)]);
        f.insert(5, 50);
        let mut pts = f.points().to_vec();
        pts.sort_unstable();
        assert_eq!(pts, vec![(3, 5), (5, 50)]);
    }

    #[test]
    fn slice_lengths_default_to_zero_out_of_range() {
        let lens = vec![4u32, 7];
        assert_eq!(lens.doc_len(1), 7);
        assert_eq!(lens.doc_len(9), 0);
    }
}
