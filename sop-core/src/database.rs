//! [`Database`]: the single entry point of the engine.

use std::path::Path;
use std::sync::Arc;

use crate::cluster::Cluster;
use crate::engine::{Engine, EngineStats};
use crate::error::Result;
use crate::options::{DatabaseOptions, Mode, TransactionMode, TransactionOptions};
use crate::storage::fsio;
use crate::storage::replication::ReplicationStatus;
use crate::transaction::Transaction;
use crate::SopError;

/// An open database. Cheap to clone; clones share everything.
///
/// ```no_run
/// # async fn demo() -> sop_core::Result<()> {
/// use sop_core::{Database, DatabaseOptions, StoreOptions, TransactionMode};
/// let db = Database::open(DatabaseOptions::new("./sop-data")).await?;
/// let tx = db.begin(TransactionMode::ForWriting).await?;
/// let users = tx.new_btree::<String, String>("users", StoreOptions::default()).await?;
/// users.upsert("ada".into(), "Ada Lovelace".into()).await?;
/// tx.commit().await?;
/// db.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Database {
    pub(crate) engine: Arc<Engine>,
}

impl Database {
    /// Opens (creating when missing) the database described by `options`,
    /// recovering from any crash: a complete checkpoint journal is re-applied,
    /// a torn one ignored, and the WAL is replayed as stores are opened.
    ///
    /// Clustered ([`Mode::Clustered`]): connects to Redis first (an
    /// unreachable Redis is an error) and opens inside a commit section, so
    /// recovery never races another process's commit or checkpoint.
    pub async fn open(options: DatabaseOptions) -> Result<Database> {
        let Mode::Clustered { redis_url } = &options.mode else {
            let engine = fsio::blocking(move || Engine::open(options, None)).await?;
            return Ok(Database {
                engine: Arc::new(engine),
            });
        };
        if options.stores_folders.len() > 1 {
            return Err(SopError::InvalidArgument {
                field: "mode",
                reason: "clustered mode with replicated metadata (two stores_folders) is not \
                         supported; use one stores folder (with erasure-coded blobs if needed)"
                    .into(),
            });
        }
        let cluster = Arc::new(Cluster::connect(redis_url, &options.stores_folders[0]).await?);
        let section = cluster.enter_for_maintenance().await?;
        let opened = fsio::blocking(move || Engine::open(options, Some(cluster))).await;
        section.release().await;
        let engine = Arc::new(opened?);
        Ok(Database { engine })
    }

    /// Begins a transaction with the default `max_time` (15 minutes).
    pub async fn begin(&self, mode: TransactionMode) -> Result<Transaction> {
        self.begin_with(TransactionOptions::new(mode)).await
    }

    /// Begins a transaction with explicit options.
    ///
    /// Clustered, the process first absorbs what other processes committed
    /// (and reloads after another process's checkpoint), so the transaction
    /// starts from the newest committed state.
    pub async fn begin_with(&self, options: TransactionOptions) -> Result<Transaction> {
        self.engine.catch_up().await?;
        Ok(Transaction::begin(self.engine.clone(), options))
    }

    /// Writes every change committed so far into node blobs and the registry
    /// and trims the WAL.
    pub async fn checkpoint(&self) -> Result<()> {
        self.engine.checkpoint().await
    }

    /// Deletes a store for good (not transactional). `false` when missing.
    pub async fn remove_btree(&self, name: &str) -> Result<bool> {
        self.engine.drop_store(name).await
    }

    /// Names of the stores, sorted.
    pub fn store_names(&self) -> Vec<String> {
        self.engine.catalog.lock().stores.keys().cloned().collect()
    }

    /// Engine counters.
    pub fn stats(&self) -> EngineStats {
        self.engine.stats()
    }

    /// The primary stores folder.
    pub fn folder(&self) -> &Path {
        self.engine.folder()
    }

    /// Manual failover of replicated metadata (two `stores_folders`): the
    /// passive side becomes active (epoch + 1, persisted there), the old
    /// active side is marked stale and no longer written, and writes resume.
    /// Call it after operations failed with an I/O error naming the active
    /// metadata folder. Fails when the database is not replicated or the
    /// passive side is stale.
    pub async fn failover(&self) -> Result<ReplicationStatus> {
        self.engine.failover().await
    }

    /// Reinstates the passive side of replicated metadata after its drive was
    /// repaired: its registry segments, catalog, WAL and replication state are
    /// fast-forwarded from the active side (atomically per file) and both
    /// sides are written from then on.
    pub async fn reinstate(&self) -> Result<ReplicationStatus> {
        self.engine.reinstate().await
    }

    /// The replication state; `None` without replication.
    pub fn replication_status(&self) -> Option<ReplicationStatus> {
        self.engine.replication_status()
    }

    /// Checkpoints and releases the database.
    pub async fn close(self) -> Result<()> {
        self.engine.checkpoint().await
    }
}
