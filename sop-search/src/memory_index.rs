//! An in-memory BM25 index: the reference the B-tree-backed index is measured against.
//!
//! Owns [`MemoryIndex`] and [`SearchHit`]. Documents get dense internal numbers in insertion
//! order; ties in score are broken by the external id (ascending), never by insertion order.
//! Invariants: every posting list is sorted by internal number with tf > 0; `lengths[n]` is
//! the analysed length of document `n`; `total_tokens` is the sum of `lengths`; each term's
//! [`ScoreFrontier`] covers all its postings. The index is append-only: re-adding an id is an
//! error (the transactional index implements replace/delete).

use std::collections::HashMap;

use crate::analyzer::Analyzer;
use crate::bm25::{Bm25Params, Bm25Statistics, Bm25Weight};
use crate::collector::{ByExternalId, ScoredDoc};
use crate::error::{Result, SearchError};
use crate::postings::{Posting, ScoreFrontier};
use crate::query::query_terms;
pub use crate::query::QueryTermWeighting;
use crate::topk::{top_k, top_k_exhaustive, QueryTerm};

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// External document id.
    pub doc_id: String,
    /// BM25 score.
    pub score: f64,
}

#[derive(Debug, Default)]
struct TermEntry {
    postings: Vec<Posting>,
    frontier: ScoreFrontier,
}

/// An append-only in-memory inverted index with BM25 top-k search.
#[derive(Debug)]
pub struct MemoryIndex {
    analyzer: Analyzer,
    params: Bm25Params,
    weighting: QueryTermWeighting,
    ids: Vec<String>,
    by_id: HashMap<String, u32>,
    lengths: Vec<u32>,
    total_tokens: u64,
    terms: HashMap<String, TermEntry>,
}

impl MemoryIndex {
    /// An empty index; fails if `params` are out of range.
    pub fn new(analyzer: Analyzer, params: Bm25Params) -> Result<Self> {
        params.validate()?;
        Ok(Self {
            analyzer,
            params,
            weighting: QueryTermWeighting::default(),
            ids: Vec::new(),
            by_id: HashMap::new(),
            lengths: Vec::new(),
            total_tokens: 0,
            terms: HashMap::new(),
        })
    }

    /// An empty index with [`Analyzer::english`] and default BM25 parameters.
    pub fn english() -> Self {
        Self {
            analyzer: Analyzer::english(),
            params: Bm25Params::default(),
            weighting: QueryTermWeighting::default(),
            ids: Vec::new(),
            by_id: HashMap::new(),
            lengths: Vec::new(),
            total_tokens: 0,
            terms: HashMap::new(),
        }
    }

    /// Sets how repeated query terms count.
    pub fn with_weighting(mut self, weighting: QueryTermWeighting) -> Self {
        self.weighting = weighting;
        self
    }

    /// The analyzer used for documents and queries.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Indexes `text` under `doc_id`. Fails if the id is already present or the index is full.
    pub fn add(&mut self, doc_id: &str, text: &str) -> Result<()> {
        if self.by_id.contains_key(doc_id) {
            return Err(SearchError::Document {
                doc_id: doc_id.to_owned(),
                message: "already indexed (the in-memory index is append-only)".into(),
            });
        }
        let doc = u32::try_from(self.ids.len()).map_err(|_| SearchError::Document {
            doc_id: doc_id.to_owned(),
            message: "index holds the maximum number of documents".into(),
        })?;
        let tf = self.analyzer.term_frequencies(text);
        for (term, count) in tf.terms {
            let entry = self.terms.entry(term).or_default();
            entry.postings.push(Posting::new(doc, count));
            entry.frontier.insert(count, tf.length);
        }
        self.ids.push(doc_id.to_owned());
        self.by_id.insert(doc_id.to_owned(), doc);
        self.lengths.push(tf.length);
        self.total_tokens += u64::from(tf.length);
        Ok(())
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index has no documents.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Analysed length of `doc_id`, if indexed.
    pub fn doc_len(&self, doc_id: &str) -> Option<u32> {
        self.by_id
            .get(doc_id)
            .and_then(|&n| self.lengths.get(n as usize).copied())
    }

    /// Document lengths by internal number.
    pub fn doc_lengths(&self) -> &[u32] {
        &self.lengths
    }

    /// The posting list of an (already analysed) term.
    pub fn postings(&self, term: &str) -> Option<&[Posting]> {
        self.terms.get(term).map(|e| e.postings.as_slice())
    }

    /// The query's terms present in the index, in first-occurrence order, with their weights
    /// and frontier-derived upper bounds.
    pub fn query_terms(&self, query: &str) -> Vec<QueryTerm<'_>> {
        let n_docs = self.total_num_docs();
        let avgdl = self.average_doc_len();
        query_terms(&self.analyzer, query, self.weighting)
            .into_iter()
            .filter_map(|(term, boost)| {
                let entry = self.terms.get(&term)?;
                let idf = crate::bm25::idf(entry.postings.len() as u64, n_docs);
                let weight = Bm25Weight::new(self.params, idf, avgdl, boost);
                Some(QueryTerm::with_frontier(
                    &entry.postings,
                    weight,
                    &entry.frontier,
                ))
            })
            .collect()
    }

    /// The best `k` documents for `query` (OR semantics, MaxScore pruning).
    pub fn search(&self, query: &str, k: usize) -> Vec<SearchHit> {
        let terms = self.query_terms(query);
        let tie = ByExternalId(&self.ids);
        self.hits(top_k(&terms, &self.lengths, k, &tie))
    }

    /// Like [`MemoryIndex::search`] but scoring every matching document (reference).
    pub fn search_exhaustive(&self, query: &str, k: usize) -> Vec<SearchHit> {
        let terms = self.query_terms(query);
        let tie = ByExternalId(&self.ids);
        self.hits(top_k_exhaustive(&terms, &self.lengths, k, &tie))
    }

    fn hits(&self, docs: Vec<ScoredDoc>) -> Vec<SearchHit> {
        docs.into_iter()
            .filter_map(|d| {
                self.ids.get(d.doc as usize).map(|id| SearchHit {
                    doc_id: id.clone(),
                    score: d.score,
                })
            })
            .collect()
    }
}

impl Bm25Statistics for MemoryIndex {
    fn total_num_docs(&self) -> u64 {
        self.ids.len() as u64
    }

    fn total_num_tokens(&self) -> u64 {
        self.total_tokens
    }

    fn doc_freq(&self, term: &str) -> u64 {
        self.terms.get(term).map_or(0, |e| e.postings.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_adding_an_id_is_an_error_naming_it() {
        let mut idx = MemoryIndex::english();
        idx.add("d1", "fox").expect("first add");
        let msg = idx.add("d1", "dog").expect_err("duplicate").to_string();
        assert!(msg.contains("`d1`"), "{msg}");
        assert_eq!(idx.len(), 1);
    }

    #[test]
    fn statistics_follow_the_documents() {
        let mut idx = MemoryIndex::english();
        idx.add("a", "quick brown fox").expect("add");
        idx.add("b", "lazy fox").expect("add");
        assert_eq!(idx.total_num_docs(), 2);
        assert_eq!(idx.total_num_tokens(), 5);
        assert_eq!(idx.doc_freq("fox"), 2);
        assert_eq!(idx.doc_len("b"), Some(2));
        assert!((idx.average_doc_len() - 2.5).abs() < 1e-12);
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let params = Bm25Params { k1: 1.2, b: 2.0 };
        assert!(MemoryIndex::new(Analyzer::english(), params).is_err());
    }
}
