//! `KnowledgeBase`: the Doctor's cases in one sop-core database.
//!
//! Stores of agent `A` (all in the database at the agent's folder):
//! - `A/cases` (B-tree): case id → [`Case`];
//! - `A/meta` (B-tree): one [`KbMeta`] record (fingerprint, case count, embedder);
//! - `A-vectors` (sop-vector domain): case id → embedding of the case text, payload
//!   `{"condition": ...}`;
//! - `A-bm25` (sop-search index): case id → case text.
//!
//! Invariants: [`KnowledgeBase::write_all`] writes every store and the meta record in ONE
//! transaction, so a database either holds a complete build with its fingerprint or no meta
//! record at all; readers use `NoCheck` transactions and never write.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sop_core::{Btree, Database, StoreOptions, Transaction, TransactionMode};
use sop_search::{IndexStats, SearchConfig, SearchHit, SearchIndex};
use sop_vector::{Metric, NewItem, VectorConfig, VectorStore};

use crate::doctor::case::Case;
use crate::doctor::progress::BuildProgress;
use crate::error::{AgentError, StorageError};

/// Items written per storage call during a build (progress granularity).
const WRITE_CHUNK: usize = 100;

/// Key of the single meta record.
const META_KEY: u8 = 0;

/// What a build recorded about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbMeta {
    /// The fingerprint of the data and embedder the stores were built from.
    pub fingerprint: String,
    /// Number of cases written.
    pub cases: u64,
    /// Number of vectors written (cases whose text embeds to a zero vector have none).
    pub vectors: u64,
    /// The embedder's name.
    pub embedder: String,
    /// The embedder's width.
    pub dims: usize,
}

/// Counts of every store, to check a database against its meta record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreCounts {
    /// Records in `A/cases`.
    pub cases: u64,
    /// Live vectors in `A-vectors`.
    pub vectors: u64,
    /// Documents in `A-bm25`.
    pub documents: u64,
}

/// Raw retrieval results: ranked case ids from each retriever, best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retrieved {
    /// Vector search, best first.
    pub vector_ids: Vec<String>,
    /// BM25 search, best first.
    pub bm25_ids: Vec<String>,
}

/// True when `vector` can be stored under the cosine metric (finite, not all zeros).
pub fn is_usable(vector: &[f32]) -> bool {
    vector.iter().all(|x| x.is_finite()) && vector.iter().any(|x| *x != 0.0)
}

/// Store names of one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Names {
    cases: String,
    meta: String,
    vectors: String,
    bm25: String,
}

/// The Doctor's knowledge base (see the module docs).
#[derive(Clone)]
pub struct KnowledgeBase {
    db: Database,
    agent: String,
    names: Names,
    dims: usize,
    nprobe: usize,
}

impl KnowledgeBase {
    /// The knowledge base of `agent` in `db`, for `dims`-wide embeddings; vector queries
    /// probe `nprobe` buckets.
    pub fn new(db: Database, agent: &str, dims: usize, nprobe: usize) -> Self {
        Self {
            db,
            agent: agent.to_string(),
            names: Names {
                cases: format!("{agent}/cases"),
                meta: format!("{agent}/meta"),
                vectors: format!("{agent}-vectors"),
                bm25: format!("{agent}-bm25"),
            },
            dims,
            nprobe: nprobe.max(1),
        }
    }

    /// The agent id.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The name of the BM25 index (for inspection).
    pub fn bm25_name(&self) -> &str {
        &self.names.bm25
    }

    fn err(&self, store: &str, e: impl Into<StorageError>) -> AgentError {
        AgentError::storage(&self.agent, store, e)
    }

    fn vector_config(&self, embedder: &str) -> VectorConfig {
        VectorConfig::new(self.dims)
            .metric(Metric::Cosine)
            .embedder(embedder)
    }

    async fn begin(&self, mode: TransactionMode) -> Result<Transaction, AgentError> {
        self.db
            .begin(mode)
            .await
            .map_err(|e| self.err("transaction", e))
    }

    async fn open_cases(&self, tx: &Transaction) -> Result<Btree<String, Case>, AgentError> {
        let name = &self.names.cases;
        let tree = if tx.mode() == TransactionMode::ForWriting {
            tx.new_btree(name, StoreOptions::with_slot_length(128))
                .await
        } else {
            tx.open_btree(name).await
        };
        tree.map_err(|e| self.err(name, e))
    }

    async fn open_vectors(
        &self,
        tx: &Transaction,
        embedder: &str,
    ) -> Result<VectorStore, AgentError> {
        let name = &self.names.vectors;
        VectorStore::open(tx, name, self.vector_config(embedder))
            .await
            .map_err(|e| self.err(name, e))
    }

    async fn open_index(&self, tx: &Transaction) -> Result<SearchIndex, AgentError> {
        let name = &self.names.bm25;
        SearchIndex::open(tx, name, SearchConfig::default())
            .await
            .map_err(|e| self.err(name, e))
    }

    /// Writes every case, its vector, its BM25 document and the meta record in one
    /// transaction (into an empty database).
    pub async fn write_all(
        &self,
        cases: &[Case],
        vectors: Vec<Vec<f32>>,
        meta: &KbMeta,
        progress: &BuildProgress,
    ) -> Result<(), AgentError> {
        if vectors.len() != cases.len() {
            return Err(AgentError::Embedding {
                embedder: meta.embedder.clone(),
                message: format!("{} vectors for {} cases", vectors.len(), cases.len()),
            });
        }
        let tx = self.begin(TransactionMode::ForWriting).await?;
        let result = self.write_in(&tx, cases, vectors, meta, progress).await;
        match result {
            Ok(()) => tx.commit().await.map_err(|e| self.err("commit", e)),
            Err(e) => {
                // The write error is the one worth reporting; a failed rollback adds nothing.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn write_in(
        &self,
        tx: &Transaction,
        cases: &[Case],
        vectors: Vec<Vec<f32>>,
        meta: &KbMeta,
        progress: &BuildProgress,
    ) -> Result<(), AgentError> {
        let n = &self.names;
        let records = self.open_cases(tx).await?;
        let store = self.open_vectors(tx, &meta.embedder).await?;
        let index = self.open_index(tx).await?;
        progress.stage("storing cases", cases.len());
        let mut vectors = vectors.into_iter();
        for chunk in cases.chunks(WRITE_CHUNK) {
            let mut items = Vec::with_capacity(chunk.len());
            for case in chunk {
                records
                    .upsert(case.id.clone(), case.clone())
                    .await
                    .map_err(|e| self.err(&n.cases, e))?;
                if let Some(v) = vectors.next().filter(|v| is_usable(v)) {
                    items.push(
                        NewItem::new(case.id.clone(), v)
                            .payload(json!({ "condition": case.condition })),
                    );
                }
            }
            store
                .upsert_batch(items)
                .await
                .map_err(|e| self.err(&n.vectors, e))?;
            let docs: Vec<(&str, &str)> = chunk
                .iter()
                .map(|c| (c.id.as_str(), c.search_text()))
                .collect();
            index
                .add_batch(&docs)
                .await
                .map_err(|e| self.err(&n.bm25, e))?;
            progress.advance(chunk.len());
        }
        let meta_tree: Btree<u8, KbMeta> = tx
            .new_btree(&n.meta, StoreOptions::with_slot_length(8))
            .await
            .map_err(|e| self.err(&n.meta, e))?;
        meta_tree
            .upsert(META_KEY, meta.clone())
            .await
            .map_err(|e| self.err(&n.meta, e))?;
        Ok(())
    }

    /// Drops this process's cached centroids and buckets of the vector domain.
    ///
    /// Works around a sop-vector cache keyed on B-tree snapshot versions, which restart at 0
    /// when a database is reopened: entries cached before an in-process reopen (including an
    /// empty codebook read while the domain was being built) could otherwise be served again.
    pub async fn forget_cached_vectors(&self, embedder: &str) -> Result<(), AgentError> {
        let tx = self.begin(TransactionMode::NoCheck).await?;
        let store = self.open_vectors(&tx, embedder).await?;
        let domain = store.domain_config();
        sop_vector::cache::forget_version(&domain.uuid, domain.active_version);
        let _ = tx.commit().await;
        Ok(())
    }

    /// The meta record, or `None` when the database holds no complete build.
    pub async fn read_meta(&self) -> Result<Option<KbMeta>, AgentError> {
        let tx = self.begin(TransactionMode::NoCheck).await?;
        if !tx.has_btree(&self.names.meta) {
            let _ = tx.rollback().await;
            return Ok(None);
        }
        let tree: Result<Btree<u8, KbMeta>, _> = tx.open_btree(&self.names.meta).await;
        let meta = match tree {
            Ok(t) => t.get(&META_KEY).await,
            Err(e) => Err(e),
        }
        .map_err(|e| self.err(&self.names.meta, e))?;
        let _ = tx.commit().await;
        Ok(meta)
    }

    /// Counts the records of every store.
    pub async fn counts(&self, embedder: &str) -> Result<StoreCounts, AgentError> {
        let n = &self.names;
        let tx = self.begin(TransactionMode::NoCheck).await?;
        let records = self.open_cases(&tx).await?;
        let cases = records.count().await.map_err(|e| self.err(&n.cases, e))?;
        let store = self.open_vectors(&tx, embedder).await?;
        let vectors = store.count().await.map_err(|e| self.err(&n.vectors, e))?;
        let index = self.open_index(&tx).await?;
        let documents = index.stats().await.map_err(|e| self.err(&n.bm25, e))?.docs;
        let _ = tx.commit().await;
        Ok(StoreCounts {
            cases,
            vectors,
            documents,
        })
    }

    /// BM25 top-`k` for `query` in `tx`.
    async fn search_in(
        &self,
        tx: &Transaction,
        query: &str,
        k: usize,
    ) -> Result<Vec<SearchHit>, AgentError> {
        let index = self.open_index(tx).await?;
        index
            .search(query, k)
            .await
            .map_err(|e| self.err(&self.names.bm25, e))
    }

    /// Vector top-`k` for `vector` (skipped when `None`) and BM25 top-`k` for `query`.
    pub async fn retrieve(
        &self,
        embedder: &str,
        vector: Option<&[f32]>,
        query: &str,
        k: usize,
    ) -> Result<Retrieved, AgentError> {
        let tx = self.begin(TransactionMode::NoCheck).await?;
        let mut out = Retrieved::default();
        if let Some(v) = vector {
            let store = self.open_vectors(&tx, embedder).await?;
            let hits = store
                .query(v, k, None, self.nprobe)
                .await
                .map_err(|e| self.err(&self.names.vectors, e))?;
            out.vector_ids = hits.into_iter().map(|h| h.id).collect();
        }
        if !query.trim().is_empty() {
            let hits = self.search_in(&tx, query, k).await?;
            out.bm25_ids = hits.into_iter().map(|h| h.doc_id).collect();
        }
        let _ = tx.commit().await;
        Ok(out)
    }

    /// The BM25 index's collection statistics.
    pub async fn bm25_stats(&self) -> Result<IndexStats, AgentError> {
        let tx = self.begin(TransactionMode::NoCheck).await?;
        let index = self.open_index(&tx).await?;
        let stats = index.stats().await;
        let _ = tx.commit().await;
        stats.map_err(|e| self.err(&self.names.bm25, e))
    }

    /// BM25 scores of `query` (top `k`), as `(case id, score)`.
    pub async fn bm25_scores(
        &self,
        query: &str,
        k: usize,
    ) -> Result<Vec<(String, f64)>, AgentError> {
        let tx = self.begin(TransactionMode::NoCheck).await?;
        let hits = self.search_in(&tx, query, k).await?;
        let _ = tx.commit().await;
        Ok(hits.into_iter().map(|h| (h.doc_id, h.score)).collect())
    }

    /// The cases with the given ids (missing ids are skipped).
    pub async fn cases(&self, ids: &[&str]) -> Result<HashMap<String, Case>, AgentError> {
        let n = &self.names;
        let tx = self.begin(TransactionMode::NoCheck).await?;
        let records = self.open_cases(&tx).await?;
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(case) = records
                .get(&id.to_string())
                .await
                .map_err(|e| self.err(&n.cases, e))?
            {
                out.insert(case.id.clone(), case);
            }
        }
        let _ = tx.commit().await;
        Ok(out)
    }
}
