//! [`VectorStore`]: a vector domain opened inside a caller's transaction.
//!
//! The store is a set of sop-core B-trees (layout and invariants in [`crate::schema`]). Every
//! write happens in the caller's transaction and commits (or rolls back) with it. Writers first
//! re-read the domain's `sys_config` record in their transaction: a rebuild lock there makes
//! them fail with [`VectorError::Locked`], and a lock taken after that read makes their commit
//! fail with a conflict — so no write ever lands in a version being rebuilt. Readers never look
//! at the lock.
//!
//! Reads and writes are split over small files: [`crate::ingest`] (upserts), [`crate::split`]
//! (bucket splits, added centroids), [`crate::query`] (search and filters).

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;
use sop_core::{Btree, Direction, StoreOptions, Transaction, TransactionMode};

use crate::cache::{self, CentroidSet};
use crate::centroids::Centroids;
use crate::config::{HealingPolicy, VectorConfig};
use crate::error::{Ctx, Result, VectorError};
use crate::metric::Metric;
use crate::schema::{now_ms, CentroidRecord, DataKey, DomainConfig, StoreNames, VecKey};
use crate::stored::StoredVector;

/// A rebuild lock whose heartbeat is older than this is considered crashed (writers ignore it
/// and the next rebuild cleans up after it).
pub const LOCK_TTL_MS: u64 = 120_000;

/// One stored item as returned by [`VectorStore::get`].
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Item id.
    pub id: String,
    /// The stored (prepared: unit length for cosine) vector.
    pub vector: Vec<f32>,
    /// The payload (`Null` when none).
    pub payload: Value,
}

/// Physical sizes of a domain (live and tombstoned entries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// Active version `N`.
    pub version: u32,
    /// Live items.
    pub live: u64,
    /// Entries in `vecs_vN` (live + tombstones).
    pub vecs_entries: u64,
    /// Entries in `data` (live + tombstones).
    pub data_entries: u64,
    /// Entries in `lku_vN` (items numbered by the last rebuild).
    pub lookup_entries: u64,
    /// Centroids.
    pub centroids: usize,
    /// Largest bucket.
    pub max_bucket: u64,
}

/// A vector domain (SPEC §2) opened in a transaction.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sop_core::{Database, DatabaseOptions, TransactionMode};
/// use sop_vector::{NewItem, VectorConfig, VectorStore};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(DatabaseOptions::new(dir.path())).await.unwrap();
///
/// let tx = db.begin(TransactionMode::ForWriting).await.unwrap();
/// let store = VectorStore::open(&tx, "docs", VectorConfig::new(3)).await?;
/// store.upsert_batch(vec![
///     NewItem::new("a", vec![1.0, 0.0, 0.0]).payload(serde_json::json!({"lang": "en"})),
///     NewItem::new("b", vec![0.0, 1.0, 0.0]),
/// ]).await?;
/// tx.commit().await.unwrap();
///
/// let tx = db.begin(TransactionMode::NoCheck).await.unwrap();
/// let store = VectorStore::open(&tx, "docs", VectorConfig::new(3)).await?;
/// let hits = store.query(&[0.9, 0.1, 0.0], 1, None, 4).await?;
/// assert_eq!(hits[0].id, "a");
/// # Ok::<(), sop_vector::VectorError>(()) }).unwrap();
/// ```
pub struct VectorStore {
    pub(crate) tx: Transaction,
    pub(crate) domain: String,
    pub(crate) config: DomainConfig,
    pub(crate) healing: HealingPolicy,
    pub(crate) threads: usize,
    pub(crate) seed: u64,
    pub(crate) prune: bool,
    pub(crate) sys: Btree<String, DomainConfig>,
    pub(crate) centroids: Btree<u32, CentroidRecord>,
    pub(crate) vecs: Btree<VecKey, StoredVector>,
    pub(crate) data: Btree<DataKey, Value>,
    pub(crate) lku: Btree<u64, String>,
    #[allow(dead_code)]
    pub(crate) tmp: Btree<String, Vec<f32>>,
}

/// Options of a store of kind `kind` created now ([`crate::schema::LAYOUT_VERSION`]).
pub(crate) fn options(kind: &str) -> StoreOptions {
    match kind {
        "sys" => StoreOptions::with_slot_length(8),
        "centroids" => StoreOptions::with_slot_length(64),
        "vecs" => StoreOptions::with_slot_length(256).unique(false),
        "lku" => StoreOptions::with_slot_length(2000).unique(false),
        "data" => StoreOptions::with_slot_length(512),
        _ => StoreOptions::with_slot_length(256).unique(false),
    }
}

/// Opens a store of the domain: an existing one with the options it was created with, a
/// missing one (writing transactions only) created with [`options`].
pub(crate) async fn open_tree<K, V>(
    tx: &Transaction,
    domain: &str,
    name: &str,
    kind: &str,
) -> Result<Btree<K, V>>
where
    K: sop_core::Key + Ord,
    V: sop_core::Value,
{
    if tx.mode() == TransactionMode::ForWriting {
        if tx.has_btree(name) {
            tx.open_btree(name).await.ctx(domain, name)
        } else {
            tx.new_btree(name, options(kind)).await.ctx(domain, name)
        }
    } else {
        match tx.open_btree(name).await {
            Err(sop_core::SopError::StoreNotFound(_)) if kind == "sys" => {
                Err(VectorError::DomainNotFound(domain.to_string()))
            }
            r => r.ctx(domain, name),
        }
    }
}

/// Reads the domain record.
pub(crate) async fn read_config(
    sys: &Btree<String, DomainConfig>,
    domain: &str,
) -> Result<Option<DomainConfig>> {
    sys.get(&domain.to_string()).await.ctx(domain, sys.name())
}

/// The data key of `id` (tombstoned or not), positioning `data`'s cursor on it.
pub(crate) async fn find_data_key(
    data: &Btree<DataKey, Value>,
    domain: &str,
    id: &str,
) -> Result<Option<DataKey>> {
    let probe = DataKey::probe(id);
    if !data.find(&probe).await.ctx(domain, data.name())? {
        return Ok(None);
    }
    let key = data.current_key().await.ctx(domain, data.name())?;
    Ok(key.filter(|k| k.id == id))
}

/// Fails when a live (non-stale) rebuild lock is held.
pub(crate) fn check_unlocked(domain: &str, config: &DomainConfig) -> Result<()> {
    if let Some(lock) = &config.lock {
        let age_ms = now_ms().saturating_sub(lock.heartbeat_ms);
        if age_ms < LOCK_TTL_MS {
            return Err(VectorError::Locked {
                domain: domain.to_string(),
                owner: lock.owner.clone(),
                target_version: lock.target_version,
                age_ms,
            });
        }
    }
    Ok(())
}

impl VectorStore {
    /// Opens domain `domain` in `tx`. In a `ForWriting` transaction a missing domain is
    /// created with `config`; otherwise it is [`VectorError::DomainNotFound`]. An existing
    /// domain must have the same dimensions and metric.
    pub async fn open(tx: &Transaction, domain: &str, config: VectorConfig) -> Result<Self> {
        if domain.is_empty() || domain.contains('/') {
            return Err(VectorError::invalid(
                "domain",
                "must be non-empty without '/'",
            ));
        }
        if config.dimensions == 0 {
            return Err(VectorError::invalid("dimensions", "must be at least 1"));
        }
        let names = StoreNames::new(domain);
        let sys: Btree<String, DomainConfig> =
            open_tree(tx, domain, &names.sys_config(), "sys").await?;
        let stored = match read_config(&sys, domain).await? {
            Some(c) => c,
            None if tx.mode() == TransactionMode::ForWriting => {
                let c = DomainConfig {
                    uuid: sop_core::Uuid::new_v4().to_string(),
                    active_version: 1,
                    dimensions: config.dimensions,
                    metric: config.metric,
                    embedder: config.embedder.clone(),
                    built_items: 0,
                    built_centroids: 0,
                    lock: None,
                    layout: crate::schema::LAYOUT_VERSION,
                };
                sys.add(domain.to_string(), c.clone())
                    .await
                    .ctx(domain, sys.name())?;
                c
            }
            None => return Err(VectorError::DomainNotFound(domain.to_string())),
        };
        if stored.dimensions != config.dimensions || stored.metric != config.metric {
            return Err(VectorError::ConfigMismatch {
                domain: domain.to_string(),
                reason: format!(
                    "stored as {} dimensions / {}, opened as {} / {}",
                    stored.dimensions, stored.metric, config.dimensions, config.metric
                ),
            });
        }
        let v = stored.active_version;
        Ok(Self {
            centroids: open_tree(tx, domain, &names.centroids(v), "centroids").await?,
            vecs: open_tree(tx, domain, &names.vecs(v), "vecs").await?,
            data: open_tree(tx, domain, &names.data(), "data").await?,
            lku: open_tree(tx, domain, &names.lku(v), "lku").await?,
            tmp: open_tree(tx, domain, &names.tmp_vecs(), "tmp").await?,
            tx: tx.clone(),
            domain: domain.to_string(),
            config: stored,
            healing: config.healing,
            threads: config.threads.max(1),
            seed: config.seed,
            prune: true,
            sys,
        })
    }

    /// The transaction the store was opened in.
    pub fn transaction(&self) -> &Transaction {
        &self.tx
    }

    /// The domain name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The domain record as read when the store was opened.
    pub fn domain_config(&self) -> &DomainConfig {
        &self.config
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.config.metric
    }

    /// The fixed dimensions.
    pub fn dimensions(&self) -> usize {
        self.config.dimensions
    }

    /// The active version `N`.
    pub fn version(&self) -> u32 {
        self.config.active_version
    }

    /// Turns triangle-inequality pruning of bucket scans on or off (on by default).
    pub fn set_pruning(&mut self, on: bool) {
        self.prune = on;
    }

    /// Re-reads the domain record in this transaction and fails if a rebuild holds the lock or
    /// switched versions since the store was opened. Called by every writer.
    pub(crate) async fn ensure_writable(&self) -> Result<()> {
        let current = read_config(&self.sys, &self.domain)
            .await?
            .ok_or_else(|| VectorError::DomainNotFound(self.domain.clone()))?;
        check_unlocked(&self.domain, &current)?;
        if current.active_version != self.config.active_version {
            return Err(VectorError::ConfigMismatch {
                domain: self.domain.clone(),
                reason: format!(
                    "a rebuild switched to version {} after this store was opened at {}; reopen it",
                    current.active_version, self.config.active_version
                ),
            });
        }
        Ok(())
    }

    /// Loads the codebook with counts; served from the process cache while `centroids_vN` is
    /// unchanged in this transaction.
    pub(crate) async fn centroid_set(&self) -> Result<Arc<CentroidSet>> {
        let snapshot = self.centroids.snapshot_version();
        let (uuid, version) = (&self.config.uuid, self.config.active_version);
        if let Some(s) = snapshot {
            if let Some(set) = cache::codebook(uuid, version, s) {
                return Ok(set);
            }
        }
        let mut set = CentroidSet {
            ids: Vec::new(),
            codebook: None,
            counts: Vec::new(),
            deleted: Vec::new(),
            epochs: Vec::new(),
        };
        let mut flat = Vec::new();
        let mut rows = std::pin::pin!(self.centroids.range(.., Direction::Forward));
        while let Some(r) = rows.next().await {
            let (id, rec) = r.ctx(&self.domain, self.centroids.name())?;
            flat.extend_from_slice(&rec.vector);
            set.ids.push(id);
            set.counts.push(rec.count);
            set.deleted.push(rec.deleted);
            set.epochs.push(rec.epoch);
        }
        if !set.ids.is_empty() {
            set.codebook = Some(Centroids::new(
                self.config.metric,
                self.config.dimensions,
                flat,
            )?);
        }
        let set = Arc::new(set);
        if let Some(s) = snapshot {
            cache::put_codebook(uuid, version, s, set.clone());
        }
        Ok(set)
    }

    /// Applies per-centroid `(live, deleted)` deltas and gives each touched bucket a new epoch.
    pub(crate) async fn adjust_counts(&self, deltas: &HashMap<u32, (i64, i64)>) -> Result<()> {
        let name = self.centroids.name().to_string();
        for (&c, &(live, dead)) in deltas {
            let mut rec = self
                .centroids
                .get(&c)
                .await
                .ctx(&self.domain, &name)?
                .ok_or_else(|| VectorError::Inconsistent {
                    domain: self.domain.clone(),
                    reason: format!("centroid {c} is referenced but missing"),
                })?;
            rec.count = rec.count.saturating_add_signed(live);
            rec.deleted = rec.deleted.saturating_add_signed(dead);
            rec.epoch = rand::random();
            self.centroids
                .update(&c, rec)
                .await
                .ctx(&self.domain, &name)?;
        }
        Ok(())
    }

    /// The data key of `id` (tombstoned or not), positioning the data cursor on it.
    pub(crate) async fn data_key(&self, id: &str) -> Result<Option<DataKey>> {
        find_data_key(&self.data, &self.domain, id).await
    }

    /// The item `id`, or `None` when absent or deleted.
    pub async fn get(&self, id: &str) -> Result<Option<Record>> {
        let Some(key) = self.data_key(id).await? else {
            return Ok(None);
        };
        if key.deleted {
            return Ok(None);
        }
        let payload = self
            .data
            .current_value()
            .await
            .ctx(&self.domain, self.data.name())?
            .unwrap_or(Value::Null);
        let loc = self.location(&key)?;
        let vector = self
            .vecs
            .get(&loc.key(id, false))
            .await
            .ctx(&self.domain, self.vecs.name())?
            .ok_or_else(|| VectorError::Inconsistent {
                domain: self.domain.clone(),
                reason: format!("item `{id}` has no vector at centroid {}", loc.centroid),
            })?;
        Ok(Some(Record {
            id: id.to_string(),
            vector: vector.to_vec(),
            payload,
        }))
    }

    /// The location of a data key in the active version.
    pub(crate) fn location(&self, key: &DataKey) -> Result<crate::schema::Location> {
        key.location(self.config.active_version)
            .ok_or_else(|| VectorError::Inconsistent {
                domain: self.domain.clone(),
                reason: format!(
                    "item `{}` has no location for version {}",
                    key.id, self.config.active_version
                ),
            })
    }

    /// Soft-deletes `id` (tombstone ride-on in both keys); `false` when absent or already
    /// deleted. The entries are removed physically by the next rebuild or tombstone GC.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        self.ensure_writable().await?;
        let Some(mut key) = self.data_key(id).await? else {
            return Ok(false);
        };
        if key.deleted {
            return Ok(false);
        }
        let loc = self.location(&key)?;
        let found = self
            .vecs
            .update_key(loc.key(id, true))
            .await
            .ctx(&self.domain, self.vecs.name())?;
        if !found {
            return Err(VectorError::Inconsistent {
                domain: self.domain.clone(),
                reason: format!("item `{id}` has no vector at centroid {}", loc.centroid),
            });
        }
        key.deleted = true;
        self.data
            .update_key(key)
            .await
            .ctx(&self.domain, self.data.name())?;
        self.adjust_counts(&HashMap::from([(loc.centroid, (-1, 1))]))
            .await?;
        Ok(true)
    }

    /// Live items (the sum of the bucket counts).
    pub async fn count(&self) -> Result<u64> {
        Ok(self.centroid_set().await?.live())
    }

    /// Physical sizes, for tests and monitoring.
    pub async fn stats(&self) -> Result<StoreStats> {
        let set = self.centroid_set().await?;
        let d = &self.domain;
        Ok(StoreStats {
            version: self.config.active_version,
            live: set.live(),
            vecs_entries: self.vecs.count().await.ctx(d, self.vecs.name())?,
            data_entries: self.data.count().await.ctx(d, self.data.name())?,
            lookup_entries: self.lku.count().await.ctx(d, self.lku.name())?,
            centroids: set.ids.len(),
            max_bucket: set.counts.iter().copied().max().unwrap_or(0),
        })
    }

    /// The item id numbered `seq` by the last rebuild (the Lookup tree), if any.
    pub async fn lookup(&self, seq: u64) -> Result<Option<String>> {
        self.lku.get(&seq).await.ctx(&self.domain, self.lku.name())
    }

    /// Every `(centroid id, live count)` of the active version.
    pub async fn buckets(&self) -> Result<Vec<(u32, u64)>> {
        let set = self.centroid_set().await?;
        Ok(set
            .ids
            .iter()
            .copied()
            .zip(set.counts.iter().copied())
            .collect())
    }
}
