//! [`TopK`]: a fixed-capacity selection of the `k` best `(score, id)` pairs.
//!
//! Ordering ("rank order"): a higher score ranks first (the crate's score convention, see
//! [`crate::metric`]); equal scores rank by *smaller id first*, so results are deterministic
//! whatever the scan order. `-0.0` and `0.0` are equal scores. NaN scores are never admitted.
//!
//! Invariant: at most `capacity` entries; the heap top is the current worst entry, so a full
//! heap rejects a candidate in O(1) and admits one in O(log k).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A scored id, as returned by [`TopK::into_sorted_vec`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored<I> {
    /// Score (higher is better).
    pub score: f32,
    /// Identifier of the scored item.
    pub id: I,
}

/// Compares two scored entries in rank order: `Less` means `a` ranks before (is better than) `b`.
#[inline]
pub fn rank_cmp<I: Ord>(a: &Scored<I>, b: &Scored<I>) -> Ordering {
    b.score
        .partial_cmp(&a.score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.id.cmp(&b.id))
}

/// Heap entry whose `Ord` is rank order: the max-heap top is the worst entry.
struct Entry<I>(Scored<I>);

impl<I: Ord> PartialEq for Entry<I> {
    fn eq(&self, other: &Self) -> bool {
        rank_cmp(&self.0, &other.0) == Ordering::Equal
    }
}
impl<I: Ord> Eq for Entry<I> {}
impl<I: Ord> PartialOrd for Entry<I> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<I: Ord> Ord for Entry<I> {
    fn cmp(&self, other: &Self) -> Ordering {
        rank_cmp(&self.0, &other.0)
    }
}

/// Keeps the `capacity` best `(score, id)` pairs pushed into it.
pub struct TopK<I> {
    capacity: usize,
    heap: BinaryHeap<Entry<I>>,
}

impl<I: Ord> TopK<I> {
    /// An empty selection keeping at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            heap: BinaryHeap::with_capacity(capacity.saturating_add(1).min(1 << 16)),
        }
    }

    /// Maximum number of entries kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of entries currently kept.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no entry is kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Whether `capacity` entries are kept (further pushes must beat the worst).
    pub fn is_full(&self) -> bool {
        self.heap.len() >= self.capacity
    }

    /// Score of the worst kept entry once full (`None` before). A candidate scoring strictly
    /// below it can be skipped without calling [`TopK::push`] — the pruning bound for scans.
    #[inline]
    pub fn threshold(&self) -> Option<f32> {
        if self.is_full() {
            self.heap.peek().map(|e| e.0.score)
        } else {
            None
        }
    }

    /// Offers a candidate; returns whether it was kept. NaN scores are rejected.
    #[inline]
    pub fn push(&mut self, score: f32, id: I) -> bool {
        if score.is_nan() || self.capacity == 0 {
            return false;
        }
        let cand = Scored { score, id };
        if self.heap.len() < self.capacity {
            self.heap.push(Entry(cand));
            return true;
        }
        match self.heap.peek_mut() {
            Some(mut worst) if rank_cmp(&cand, &worst.0) == Ordering::Less => {
                *worst = Entry(cand);
                true
            }
            _ => false,
        }
    }

    /// The kept entries in rank order (best first).
    pub fn into_sorted_vec(self) -> Vec<Scored<I>> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| e.0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn keeps_the_best_in_rank_order() {
        let mut rng = SmallRng::seed_from_u64(3);
        let items: Vec<(f32, u32)> = (0..1000)
            .map(|i| ((rng.gen_range(0..50) as f32) * 0.5, i))
            .collect();
        for k in [0usize, 1, 5, 10, 999, 1000, 2000] {
            let mut top = TopK::new(k);
            for &(s, id) in &items {
                top.push(s, id);
            }
            let got: Vec<(f32, u32)> = top
                .into_sorted_vec()
                .iter()
                .map(|e| (e.score, e.id))
                .collect();
            let mut want = items.clone();
            want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            want.truncate(k);
            assert_eq!(got, want, "k={k}");
        }
    }

    #[test]
    fn ties_break_by_smaller_id_regardless_of_order() {
        let mut a = TopK::new(2);
        let mut b = TopK::new(2);
        for id in [5u32, 1, 9, 3] {
            a.push(1.0, id);
        }
        for id in [3u32, 9, 1, 5] {
            b.push(1.0, id);
        }
        let ids = |t: TopK<u32>| t.into_sorted_vec().iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(a), vec![1, 3]);
        assert_eq!(ids(b), vec![1, 3]);
    }

    #[test]
    fn nan_rejected_and_threshold_reported() {
        let mut t = TopK::new(2);
        assert!(!t.push(f32::NAN, 1u32));
        assert_eq!(t.threshold(), None);
        assert!(t.push(0.5, 1));
        assert!(t.push(0.9, 2));
        assert_eq!(t.threshold(), Some(0.5));
        assert!(!t.push(0.1, 3));
        assert!(t.push(0.7, 4));
        assert_eq!(t.threshold(), Some(0.7));
        assert!(!t.push(-0.0, 0));
    }
}
