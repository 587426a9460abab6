//! sop-search: BM25 full-text search for SOP.
//!
//! [`SearchIndex`] is a transactional BM25 index stored in sop-core B-trees (add, replace,
//! delete and search inside the caller's transaction). It builds on engine-independent parts:
//! the analyzer pipeline, BM25 scoring, top-k retrieval with MaxScore pruning, the BEIR
//! loader and evaluator, and an in-memory reference index ([`MemoryIndex`]).

pub mod analyzer;
pub mod beir;
pub mod bm25;
pub mod collector;
pub mod error;
pub mod eval;
pub mod index;
pub mod memory_index;
pub mod postings;
pub mod query;
pub mod topk;

pub use analyzer::{Analyzer, AnalyzerConfig, Language, StopWords, TermCounts, TermFrequencies};
pub use beir::{BeirDataset, BeirDoc, BeirQuery, Qrels};
pub use bm25::{idf, Bm25Params, Bm25Statistics, Bm25Weight};
pub use collector::{ByDocNumber, ByExternalId, ByKey, ScoredDoc, TieBreak, TopKCollector};
pub use error::{Result, SearchError};
pub use eval::{evaluate, ndcg_at_k, recall_at_k, EvalSummary};
pub use index::{IndexStats, IndexedDoc, SearchConfig, SearchIndex};
pub use memory_index::{MemoryIndex, SearchHit};
pub use postings::{DocLengths, Posting, ScoreFrontier};
pub use query::{query_terms, QueryTermWeighting};
pub use topk::{top_k, top_k_exhaustive, top_k_with_stats, QueryTerm, TopKStats};
