//! Retrieval-quality metrics: nDCG@k with graded gains and recall@k.
//!
//! Owns [`ndcg_at_k`], [`recall_at_k`], [`evaluate`] and [`EvalSummary`]. The definitions are
//! the ones of trec_eval / pytrec_eval as used by BEIR:
//! - nDCG@k: `DCG = Σ_{i=1..k} rel_i / log2(i + 1)` over the ranked list (linear gain `rel`,
//!   judgements ≤ 0 and unjudged documents give 0); the ideal DCG takes the qrels' own grades
//!   sorted descending; nDCG = DCG / IDCG, and 0 when IDCG = 0.
//! - recall@k: relevant (grade > 0) documents in the top k / all relevant documents; 0 when a
//!   query has none.
//!
//! Invariants: every metric is in `[0, 1]`; a run's ranked list is taken as given (no
//! re-sorting, duplicates count once); [`evaluate`] averages over every judged query, a query
//! missing from the run scoring 0.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::beir::Qrels;

/// nDCG@k of one ranked list against one query's judgements (doc id → grade).
pub fn ndcg_at_k<S: AsRef<str>>(ranked: &[S], judgments: &BTreeMap<String, i32>, k: usize) -> f64 {
    let mut seen = HashSet::new();
    let mut dcg = 0.0;
    let mut rank = 0usize;
    for doc in ranked {
        if rank == k {
            break;
        }
        let doc = doc.as_ref();
        if !seen.insert(doc) {
            continue;
        }
        rank += 1;
        let rel = judgments.get(doc).copied().unwrap_or(0);
        if rel > 0 {
            dcg += f64::from(rel) / ((rank + 1) as f64).log2();
        }
    }
    let mut ideal: Vec<i32> = judgments.values().copied().filter(|&r| r > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &rel)| f64::from(rel) / ((i + 2) as f64).log2())
        .sum();
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

/// recall@k of one ranked list against one query's judgements.
pub fn recall_at_k<S: AsRef<str>>(
    ranked: &[S],
    judgments: &BTreeMap<String, i32>,
    k: usize,
) -> f64 {
    let relevant = judgments.values().filter(|&&r| r > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let mut seen = HashSet::new();
    let found = ranked
        .iter()
        .map(AsRef::as_ref)
        .filter(|d| seen.insert(*d))
        .take(k)
        .filter(|d| judgments.get(*d).is_some_and(|&r| r > 0))
        .count();
    found as f64 / relevant as f64
}

/// Mean metrics of a run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EvalSummary {
    /// Number of judged queries averaged over.
    pub queries: usize,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean recall@100.
    pub recall_at_100: f64,
}

/// Averages nDCG@10 and recall@100 over every query in `qrels`; `run` maps query id → ranked
/// doc ids (best first).
pub fn evaluate<S: AsRef<str>>(run: &HashMap<String, Vec<S>>, qrels: &Qrels) -> EvalSummary {
    let mut summary = EvalSummary::default();
    if qrels.is_empty() {
        return summary;
    }
    let empty: Vec<S> = Vec::new();
    for (query, judgments) in &qrels.judgments {
        let ranked = run.get(query).unwrap_or(&empty);
        summary.ndcg_at_10 += ndcg_at_k(ranked, judgments, 10);
        summary.recall_at_100 += recall_at_k(ranked, judgments, 100);
    }
    summary.queries = qrels.len();
    summary.ndcg_at_10 /= summary.queries as f64;
    summary.recall_at_100 /= summary.queries as f64;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judgments(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|(d, r)| ((*d).to_owned(), *r)).collect()
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let j = judgments(&[("a", 3), ("b", 1)]);
        assert!((ndcg_at_k(&["a", "b"], &j, 10) - 1.0).abs() < 1e-12);
        assert_eq!(recall_at_k(&["a", "b"], &j, 100), 1.0);
    }

    #[test]
    fn graded_gains_and_log_discount() {
        let j = judgments(&[("a", 3), ("b", 1), ("z", 0)]);
        // Ranked: b, x, a. DCG = 1/log2(2) + 3/log2(4); IDCG = 3/log2(2) + 1/log2(3).
        let dcg = 1.0 + 3.0 / 2.0;
        let idcg = 3.0 + 1.0 / 3f64.log2();
        assert!((ndcg_at_k(&["b", "x", "a"], &j, 10) - dcg / idcg).abs() < 1e-12);
        // Cut-off: only "b" is within the top 1.
        assert!((ndcg_at_k(&["b", "x", "a"], &j, 1) - 1.0 / 3.0).abs() < 1e-12);
        assert!((recall_at_k(&["b", "x", "a"], &j, 2) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn duplicates_and_unjudged_queries() {
        let j = judgments(&[("a", 2)]);
        assert_eq!(
            ndcg_at_k(&["x", "x", "a"], &j, 2),
            ndcg_at_k(&["x", "a"], &j, 2)
        );
        let none = judgments(&[("a", 0)]);
        assert_eq!(ndcg_at_k(&["a"], &none, 10), 0.0);
        assert_eq!(recall_at_k(&["a"], &none, 10), 0.0);
    }

    #[test]
    fn evaluate_averages_over_judged_queries() {
        let mut qrels = Qrels::default();
        qrels.judgments.insert("q1".into(), judgments(&[("a", 1)]));
        qrels.judgments.insert("q2".into(), judgments(&[("b", 1)]));
        let mut run = HashMap::new();
        run.insert("q1".to_owned(), vec!["a".to_owned()]);
        let s = evaluate(&run, &qrels);
        assert_eq!(s.queries, 2);
        assert!((s.ndcg_at_10 - 0.5).abs() < 1e-12);
        assert!((s.recall_at_100 - 0.5).abs() < 1e-12);
    }
}
