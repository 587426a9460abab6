//! The transactional BM25 index on sop-core B-trees.
//!
//! Owns [`SearchIndex`], a handle on one index inside one caller [`Transaction`], with
//! [`IndexedDoc`] and [`IndexStats`]. The stores, their on-disk layout (format version 2)
//! and invariants are described in `records`; writing (`add`, `add_batch`, `update`,
//! `delete`) is in `write` and `term_update`, reading (`search`, `get`, statistics) in
//! `read`, and the snapshot caches that make queries run at memory speed in `cache`.
//!
//! Invariants: every change goes through the caller's transaction, so it commits or rolls
//! back with every other store; after any change the statistics (N, total length, df, doc
//! lengths) are exactly those of the live documents; a re-added id replaces its document.

mod cache;
mod config;
mod grouping;
mod read;
mod records;
mod term_update;
mod varint;
mod write;

use sop_core::{Btree, SopError, StoreOptions, Transaction, TransactionMode};

pub use config::SearchConfig;

use crate::analyzer::Analyzer;
use crate::bm25::Bm25Params;
use crate::error::{Result, SearchError};
use records::{DocBlock, DocRecord, Globals, IndexMeta, PostingBlock, TermEntry, FORMAT_VERSION};

/// Key of the single item of the `meta` and `globals` stores.
const SINGLE: u8 = 0;

/// A BM25 full-text index stored in B-trees, used inside one transaction.
///
/// Open it in each transaction that uses it; queries in `NoCheck` (or long-lived read)
/// transactions are served from a process-wide decoded cache of the committed state.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sop_core::{Database, DatabaseOptions, TransactionMode};
/// use sop_search::{SearchConfig, SearchIndex};
///
/// let dir = tempfile::tempdir()?;
/// let db = Database::open(DatabaseOptions::new(dir.path())).await?;
///
/// let tx = db.begin(TransactionMode::ForWriting).await?;
/// let index = SearchIndex::open(&tx, "docs", SearchConfig::default()).await?;
/// index.add("1", "The quick brown fox").await?;
/// index.add_batch(&[("2", "A fox den"), ("3", "Cats and dogs")]).await?;
/// tx.commit().await?;
///
/// let tx = db.begin(TransactionMode::NoCheck).await?;
/// let index = SearchIndex::open(&tx, "docs", SearchConfig::default()).await?;
/// let hits = index.search("foxes", 10).await?;
/// assert_eq!(hits.len(), 2);
/// assert_eq!(hits[0].doc_id, "2"); // shorter document first
/// tx.commit().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
pub struct SearchIndex {
    name: String,
    config: SearchConfig,
    analyzer: Analyzer,
    stores: Stores,
}

/// The index's B-trees, opened in one transaction.
struct Stores {
    meta: Btree<u8, IndexMeta>,
    globals: Btree<u8, Globals>,
    terms: Btree<String, TermEntry>,
    postings: Btree<(String, u32), PostingBlock>,
    docs: Btree<String, DocRecord>,
    numbers: Btree<u32, DocBlock>,
}

impl Stores {
    /// Opens the stores of index `name`; creates the missing ones in `ForWriting`
    /// transactions (in read transactions a missing store is an error).
    async fn open(tx: &Transaction, name: &str) -> sop_core::Result<Self> {
        Ok(Self {
            meta: open_store(tx, name, "meta", 16).await?,
            globals: open_store(tx, name, "globals", 16).await?,
            terms: open_store(tx, name, "terms", 512).await?,
            postings: open_store(tx, name, "postings", 64).await?,
            docs: open_store(tx, name, "docs", 64).await?,
            numbers: open_store(tx, name, "numbers", 32).await?,
        })
    }

    /// The versions of the stores a query reads, if the transaction left them unchanged.
    fn snapshot_versions(&self) -> Option<[u64; 4]> {
        Some([
            self.globals.snapshot_version()?,
            self.terms.snapshot_version()?,
            self.postings.snapshot_version()?,
            self.numbers.snapshot_version()?,
        ])
    }
}

async fn open_store<K, V>(
    tx: &Transaction,
    index: &str,
    store: &str,
    slot_length: usize,
) -> sop_core::Result<Btree<K, V>>
where
    K: sop_core::Key + Ord,
    V: sop_core::Value,
{
    let name = format!("{index}/{store}");
    if tx.mode() == TransactionMode::ForWriting {
        tx.new_btree(&name, StoreOptions::with_slot_length(slot_length))
            .await
    } else {
        tx.open_btree(&name).await
    }
}

/// Attaches the index name to storage errors.
trait InIndex<T> {
    fn in_index(self, index: &str) -> Result<T>;
}

impl<T> InIndex<T> for std::result::Result<T, SopError> {
    fn in_index(self, index: &str) -> Result<T> {
        self.map_err(|source| SearchError::Store {
            index: index.to_owned(),
            source,
        })
    }
}

/// What the index holds about one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedDoc {
    /// External id.
    pub doc_id: String,
    /// Analysed length (the BM25 document length).
    pub length: u32,
    /// Distinct terms with their frequencies, sorted by term.
    pub terms: Vec<(String, u32)>,
}

/// Collection statistics of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexStats {
    /// Live documents (N).
    pub docs: u64,
    /// Sum of their analysed lengths.
    pub total_tokens: u64,
}

impl IndexStats {
    /// Average document length (0 for an empty index).
    pub fn average_doc_len(&self) -> f64 {
        if self.docs == 0 {
            0.0
        } else {
            self.total_tokens as f64 / self.docs as f64
        }
    }
}

impl SearchIndex {
    /// Opens index `name` in `tx`, creating it with `config` if it does not exist (creation
    /// needs a `ForWriting` transaction). An existing index keeps the configuration it was
    /// created with; `config` is then ignored (see [`SearchIndex::with_params`]).
    pub async fn open(tx: &Transaction, name: &str, config: SearchConfig) -> Result<Self> {
        config.params.validate()?;
        let stores = Stores::open(tx, name).await.in_index(name)?;
        let config = match stores.meta.get(&SINGLE).await.in_index(name)? {
            Some(meta) if meta.format == FORMAT_VERSION => meta.config,
            Some(meta) => {
                return Err(SearchError::Corrupt {
                    index: name.to_owned(),
                    message: format!(
                        "stored in format version {}, this build reads version {FORMAT_VERSION}",
                        meta.format
                    ),
                })
            }
            None => {
                let meta = IndexMeta {
                    format: FORMAT_VERSION,
                    config: config.clone(),
                };
                stores.meta.add(SINGLE, meta).await.in_index(name)?;
                let globals = Globals::default();
                stores.globals.add(SINGLE, globals).await.in_index(name)?;
                config
            }
        };
        Ok(Self {
            name: name.to_owned(),
            analyzer: config.analyzer.shared(),
            config,
            stores,
        })
    }

    /// Uses other BM25 parameters for this handle's queries (the stored index is unchanged).
    pub fn with_params(mut self, params: Bm25Params) -> Result<Self> {
        params.validate()?;
        self.config.params = params;
        Ok(self)
    }

    /// The index name (its stores are `name/...`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration in effect (as stored at creation, plus any [`Self::with_params`]).
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    /// The analyzer used for documents and queries.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    fn corrupt(&self, message: String) -> SearchError {
        SearchError::Corrupt {
            index: self.name.clone(),
            message,
        }
    }

    async fn load_globals(&self) -> Result<Globals> {
        self.stores
            .globals
            .get(&SINGLE)
            .await
            .in_index(&self.name)?
            .ok_or_else(|| self.corrupt("the globals record is missing".into()))
    }
}
