//! Configuration of a [`super::SearchIndex`].
//!
//! Owns [`SearchConfig`]. Invariant: the configuration an index was created with is stored in
//! the index and is the one used whenever it is reopened (documents and queries must be
//! analysed alike); only query-time BM25 parameters can be overridden per handle.

use serde::{Deserialize, Serialize};

use crate::analyzer::AnalyzerConfig;
use crate::bm25::Bm25Params;
use crate::query::QueryTermWeighting;

/// How an index analyses text and scores documents.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SearchConfig {
    /// The analyzer for documents and queries.
    pub analyzer: AnalyzerConfig,
    /// BM25 `k1` and `b`.
    pub params: Bm25Params,
    /// How repeated query terms count.
    pub weighting: QueryTermWeighting,
}

impl SearchConfig {
    /// The default configuration with other BM25 parameters.
    pub fn with_params(params: Bm25Params) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }
}
