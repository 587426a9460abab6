//! Reciprocal rank fusion (RRF) of several ranked lists.
//!
//! score(d) = sum over lists containing d of 1 / (k + rank(d)), ranks starting at 1.
//! Invariants: output sorted by score descending; ties broken by the best (smallest) rank
//! seen in any list, then by id ascending — so the result never depends on hash order.
//! A duplicate id inside one list counts only at its first (best) rank.

use std::collections::{BTreeMap, HashSet};

/// The RRF constant used by the Doctor (Cormack et al.).
pub const RRF_K: f64 = 60.0;

/// One fused result.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedHit {
    /// Document id.
    pub id: String,
    /// Sum of reciprocal ranks.
    pub score: f64,
    /// Best 1-based rank this id had in any input list.
    pub best_rank: usize,
}

/// Fuses ranked id lists (best first) with reciprocal rank fusion and constant `k`.
pub fn reciprocal_rank_fusion<S: AsRef<str>>(lists: &[Vec<S>], k: f64) -> Vec<FusedHit> {
    let mut acc: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for list in lists {
        let mut seen = HashSet::new();
        let mut rank = 0usize;
        for id in list {
            let id = id.as_ref();
            if !seen.insert(id) {
                continue;
            }
            rank += 1;
            let entry = acc.entry(id.to_string()).or_insert((0.0, usize::MAX));
            entry.0 += 1.0 / (k + rank as f64);
            entry.1 = entry.1.min(rank);
        }
    }
    let mut hits: Vec<FusedHit> = acc
        .into_iter()
        .map(|(id, (score, best_rank))| FusedHit {
            id,
            score,
            best_rank,
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.best_rank.cmp(&b.best_rank))
            .then_with(|| a.id.cmp(&b.id))
    });
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuses_and_breaks_ties_deterministically() {
        let a = vec!["x", "y", "z"];
        let b = vec!["y", "x", "w"];
        let out = reciprocal_rank_fusion(&[a, b], RRF_K);
        let ids: Vec<&str> = out.iter().map(|h| h.id.as_str()).collect();
        // x and y tie on score and best rank: id order decides.
        assert_eq!(ids, vec!["x", "y", "w", "z"]);
        assert!((out[0].score - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-12);
        assert_eq!(out[2].best_rank, 3);
    }

    #[test]
    fn duplicates_within_a_list_count_once() {
        let out = reciprocal_rank_fusion(&[vec!["a", "a", "b"]], 60.0);
        assert_eq!(out.len(), 2);
        assert!((out[0].score - 1.0 / 61.0).abs() < 1e-12);
        assert!((out[1].score - 1.0 / 62.0).abs() < 1e-12);
    }

    #[test]
    fn empty_input_gives_empty_output() {
        let lists: Vec<Vec<String>> = vec![];
        assert!(reciprocal_rank_fusion(&lists, 60.0).is_empty());
    }
}
