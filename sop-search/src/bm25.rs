//! BM25 scoring.
//!
//! Owns [`Bm25Params`] (k1, b), the [`Bm25Statistics`] trait through which an index exposes
//! its collection statistics, [`idf`], and [`Bm25Weight`], the per-query-term scorer.
//!
//! Formula (Robertson/Sparck Jones with the Lucene idf, as tantivy):
//! `score(t, d) = boost · idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·|d|/avgdl))`,
//! `idf(t) = ln(1 + (N − n + 0.5)/(n + 0.5))`.
//! Invariants: parameters are finite with `k1 ≥ 0` and `0 ≤ b ≤ 1` (checked by
//! [`Bm25Params::new`]); `idf > 0` for every `0 ≤ n ≤ N`; a term score is `0` for `tf = 0`,
//! non-decreasing in `tf` and non-increasing in the document length, so the maximum over a
//! posting list is reached on its (tf, length) Pareto frontier.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SearchError};

/// BM25 free parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25Params {
    /// Term-frequency saturation (default 1.2).
    pub k1: f64,
    /// Length normalisation strength, 0 = none, 1 = full (default 0.75).
    pub b: f64,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Self { k1: 1.2, b: 0.75 }
    }
}

impl Bm25Params {
    /// Checked constructor: `k1` finite and ≥ 0, `b` in `[0, 1]`.
    pub fn new(k1: f64, b: f64) -> Result<Self> {
        let params = Self { k1, b };
        params.validate()?;
        Ok(params)
    }

    /// Checks the invariants of [`Bm25Params::new`] (for values built by struct literal or
    /// deserialised).
    pub fn validate(&self) -> Result<()> {
        if !self.k1.is_finite() || self.k1 < 0.0 {
            return Err(SearchError::InvalidParameter {
                name: "k1",
                value: self.k1,
                reason: "must be finite and >= 0",
            });
        }
        if !self.b.is_finite() || !(0.0..=1.0).contains(&self.b) {
            return Err(SearchError::InvalidParameter {
                name: "b",
                value: self.b,
                reason: "must be in [0, 1]",
            });
        }
        Ok(())
    }
}

/// Collection statistics BM25 needs, provided by an index (in memory or on B-trees).
pub trait Bm25Statistics {
    /// Number of (live) documents, `N`.
    fn total_num_docs(&self) -> u64;
    /// Sum of all document lengths (in terms).
    fn total_num_tokens(&self) -> u64;
    /// Number of documents containing `term`, `n`.
    fn doc_freq(&self, term: &str) -> u64;
    /// Average document length; `0` for an empty collection.
    fn average_doc_len(&self) -> f64 {
        let docs = self.total_num_docs();
        if docs == 0 {
            0.0
        } else {
            self.total_num_tokens() as f64 / docs as f64
        }
    }
}

/// `ln(1 + (N − n + 0.5)/(n + 0.5))`; `n` is clamped to `N` so the result is always > 0.
pub fn idf(doc_freq: u64, total_docs: u64) -> f64 {
    let n = doc_freq.min(total_docs) as f64;
    let big_n = total_docs as f64;
    (1.0 + (big_n - n + 0.5) / (n + 0.5)).ln()
}

/// Scores one query term against documents: idf, boost and length normalisation folded in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Weight {
    /// `boost · idf · (k1 + 1)`.
    weight: f64,
    /// `k1 · (1 − b)`.
    norm_constant: f64,
    /// `k1 · b / avgdl` (0 when avgdl is 0).
    norm_per_token: f64,
}

impl Bm25Weight {
    /// A weight from explicit parts. `boost` multiplies the score (e.g. the query-term count).
    pub fn new(params: Bm25Params, idf: f64, avg_doc_len: f64, boost: f64) -> Self {
        let (norm_constant, norm_per_token) = if avg_doc_len > 0.0 {
            (
                params.k1 * (1.0 - params.b),
                params.k1 * params.b / avg_doc_len,
            )
        } else {
            (params.k1, 0.0)
        };
        Self {
            weight: boost * idf * (params.k1 + 1.0),
            norm_constant,
            norm_per_token,
        }
    }

    /// The weight of `term` under `stats`.
    pub fn for_term<S: Bm25Statistics + ?Sized>(
        params: Bm25Params,
        stats: &S,
        term: &str,
        boost: f64,
    ) -> Self {
        let idf = idf(stats.doc_freq(term), stats.total_num_docs());
        Self::new(params, idf, stats.average_doc_len(), boost)
    }

    /// The score of a document of `doc_len` terms containing the term `tf` times.
    #[inline]
    pub fn score(&self, tf: u32, doc_len: u32) -> f64 {
        let tf = f64::from(tf);
        let norm = self.norm_constant + self.norm_per_token * f64::from(doc_len);
        self.weight * tf / (tf + norm)
    }

    /// The largest score over `(tf, doc_len)` points — an upper bound for every posting
    /// dominated by one of them (see [`crate::postings::ScoreFrontier`]). `0` when empty.
    pub fn max_score<I: IntoIterator<Item = (u32, u32)>>(&self, points: I) -> f64 {
        points
            .into_iter()
            .map(|(tf, len)| self.score(tf, len))
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stats;
    impl Bm25Statistics for Stats {
        fn total_num_docs(&self) -> u64 {
            10
        }
        fn total_num_tokens(&self) -> u64 {
            100
        }
        fn doc_freq(&self, term: &str) -> u64 {
            if term == "rare" {
                1
            } else {
                9
            }
        }
    }

    #[test]
    fn idf_matches_the_formula_and_is_positive() {
        let expected = (1.0f64 + (10.0 - 1.0 + 0.5) / 1.5).ln();
        assert!((idf(1, 10) - expected).abs() < 1e-12);
        assert!(idf(10, 10) > 0.0);
        assert!(idf(50, 10) > 0.0, "n is clamped to N");
        assert!(idf(1, 10) > idf(9, 10));
    }

    #[test]
    fn score_matches_the_textbook_formula() {
        let p = Bm25Params::default();
        let w = Bm25Weight::for_term(p, &Stats, "rare", 1.0);
        let (tf, dl, avgdl) = (3.0, 7.0, 10.0);
        let expected =
            idf(1, 10) * tf * (p.k1 + 1.0) / (tf + p.k1 * (1.0 - p.b + p.b * dl / avgdl));
        assert!((w.score(3, 7) - expected).abs() < 1e-12);
        assert_eq!(w.score(0, 7), 0.0);
    }

    #[test]
    fn score_grows_with_tf_and_shrinks_with_length() {
        let w = Bm25Weight::for_term(Bm25Params::default(), &Stats, "common", 2.0);
        assert!(w.score(2, 10) > w.score(1, 10));
        assert!(w.score(1, 5) > w.score(1, 50));
        assert_eq!(
            w.max_score([(1, 5), (2, 10), (1, 50)]),
            w.score(2, 10).max(w.score(1, 5))
        );
    }

    #[test]
    fn params_are_validated() {
        assert!(Bm25Params::new(1.2, 0.75).is_ok());
        let err = Bm25Params::new(-1.0, 0.5).expect_err("negative k1");
        assert!(err.to_string().contains("k1"));
        let err = Bm25Params::new(1.2, 1.5).expect_err("b > 1");
        assert!(err.to_string().contains("`b`"));
        assert!(Bm25Params::new(f64::NAN, 0.5).is_err());
    }

    #[test]
    fn empty_collection_does_not_divide_by_zero() {
        let w = Bm25Weight::new(Bm25Params::default(), idf(0, 0), 0.0, 1.0);
        assert!(w.score(1, 0).is_finite());
    }
}
