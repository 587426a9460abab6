//! Bounded top-k collection with a deterministic total order.
//!
//! Owns [`TieBreak`] (how equal scores are ordered), its standard implementations, and
//! [`TopKCollector`]. Invariants: the collector never holds more than `k` documents; the
//! order "score descending, then tie-break ascending" is total as long as the tie-break is a
//! total order on distinct documents, so the final top-k does not depend on the order in
//! which documents were offered.

use std::cmp::Ordering;

/// Orders documents whose scores are equal. `Ordering::Less` means `a` ranks before `b`.
pub trait TieBreak {
    /// Compares two distinct internal document numbers.
    fn cmp(&self, a: u32, b: u32) -> Ordering;
}

/// Ties go to the smaller internal document number. Use when numbers are assigned in external
/// id order.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByDocNumber;

impl TieBreak for ByDocNumber {
    #[inline]
    fn cmp(&self, a: u32, b: u32) -> Ordering {
        a.cmp(&b)
    }
}

/// Ties go to the smaller external id, looked up by internal number in a table
/// (`ids[doc]`). Numbers outside the table sort after all others, by number.
#[derive(Debug, Clone, Copy)]
pub struct ByExternalId<'a, S>(pub &'a [S]);

impl<S: AsRef<str>> TieBreak for ByExternalId<'_, S> {
    fn cmp(&self, a: u32, b: u32) -> Ordering {
        match (self.0.get(a as usize), self.0.get(b as usize)) {
            (Some(x), Some(y)) => x.as_ref().cmp(y.as_ref()).then(a.cmp(&b)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.cmp(&b),
        }
    }
}

/// Ties go to the smaller key computed by a function of the internal number.
#[derive(Debug, Clone, Copy)]
pub struct ByKey<F>(pub F);

impl<F, K> TieBreak for ByKey<F>
where
    F: Fn(u32) -> K,
    K: Ord,
{
    fn cmp(&self, a: u32, b: u32) -> Ordering {
        (self.0)(a).cmp(&(self.0)(b)).then(a.cmp(&b))
    }
}

/// A document with its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredDoc {
    /// Internal document number.
    pub doc: u32,
    /// BM25 score.
    pub score: f64,
}

/// `Less` if `a` ranks before `b`: higher score first, then the tie-break.
#[inline]
pub fn rank_order<T: TieBreak + ?Sized>(tie: &T, a: &ScoredDoc, b: &ScoredDoc) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| tie.cmp(a.doc, b.doc))
}

/// Keeps the best `k` documents seen so far (a binary heap with the worst at the root).
#[derive(Debug)]
pub struct TopKCollector<'t, T: ?Sized> {
    k: usize,
    heap: Vec<ScoredDoc>,
    tie: &'t T,
}

impl<'t, T: TieBreak + ?Sized> TopKCollector<'t, T> {
    /// A collector of at most `k` documents.
    pub fn new(k: usize, tie: &'t T) -> Self {
        Self {
            k,
            heap: Vec::with_capacity(k.min(4096)),
            tie,
        }
    }

    /// The score a new document must reach to possibly enter (equal scores enter only by
    /// winning the tie-break); `-inf` while fewer than `k` documents are held.
    #[inline]
    pub fn threshold(&self) -> f64 {
        if self.k > 0 && self.heap.len() == self.k {
            self.heap[0].score
        } else if self.k == 0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }
    }

    /// Offers a document; returns whether it was kept.
    pub fn offer(&mut self, doc: u32, score: f64) -> bool {
        let entry = ScoredDoc { doc, score };
        if self.k == 0 {
            return false;
        }
        if self.heap.len() < self.k {
            self.heap.push(entry);
            self.sift_up(self.heap.len() - 1);
            return true;
        }
        if rank_order(self.tie, &entry, &self.heap[0]) == Ordering::Less {
            self.heap[0] = entry;
            self.sift_down(0);
            true
        } else {
            false
        }
    }

    /// The collected documents, best first.
    pub fn into_sorted(self) -> Vec<ScoredDoc> {
        let tie = self.tie;
        let mut v = self.heap;
        v.sort_by(|a, b| rank_order(tie, a, b));
        v
    }

    /// `true` if `a` is worse than `b` (should be nearer the root).
    #[inline]
    fn worse(&self, a: usize, b: usize) -> bool {
        rank_order(self.tie, &self.heap[a], &self.heap[b]) == Ordering::Greater
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.worse(i, parent) {
                self.heap.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut worst = i;
            if l < n && self.worse(l, worst) {
                worst = l;
            }
            if r < n && self.worse(r, worst) {
                worst = r;
            }
            if worst == i {
                break;
            }
            self.heap.swap(i, worst);
            i = worst;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_k_in_rank_order() {
        let mut c = TopKCollector::new(3, &ByDocNumber);
        for (doc, score) in [(5, 1.0), (1, 3.0), (2, 2.0), (9, 3.0), (0, 0.5), (4, 2.0)] {
            c.offer(doc, score);
        }
        let docs: Vec<u32> = c.into_sorted().iter().map(|d| d.doc).collect();
        assert_eq!(docs, vec![1, 9, 2]);
    }

    #[test]
    fn threshold_is_the_kth_score_once_full() {
        let mut c = TopKCollector::new(2, &ByDocNumber);
        assert_eq!(c.threshold(), f64::NEG_INFINITY);
        c.offer(1, 1.0);
        c.offer(2, 5.0);
        assert_eq!(c.threshold(), 1.0);
        assert!(c.offer(0, 1.0), "equal score, smaller doc wins the tie");
        assert!(!c.offer(7, 1.0));
    }

    #[test]
    fn external_ids_break_ties() {
        let ids = ["b", "a", "c"];
        let tie = ByExternalId(&ids[..]);
        let mut c = TopKCollector::new(2, &tie);
        for doc in 0..3 {
            c.offer(doc, 1.0);
        }
        let docs: Vec<u32> = c.into_sorted().iter().map(|d| d.doc).collect();
        assert_eq!(docs, vec![1, 0]);
    }

    #[test]
    fn k_zero_collects_nothing() {
        let mut c = TopKCollector::new(0, &ByDocNumber);
        assert!(!c.offer(1, 1.0));
        assert!(c.into_sorted().is_empty());
    }
}
