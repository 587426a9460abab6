//! Self-healing at the domain level (SPEC §2.4): [`maintain`] checks the bounds of a
//! [`HealingPolicy`] and runs the versioned rebuild or tombstone GC when one is passed;
//! [`spawn_maintenance`] runs it periodically in a background task. Neither blocks readers
//! (the rebuild only refuses writers while it runs).
//!
//! Bounds (from the policy): rebuild when live ≥ `growth_factor` × items of the last build,
//! when the largest bucket > `imbalance_factor` × the mean bucket (≥ 2 buckets), or when a
//! never-built domain holds ≥ `min_build_items`; otherwise collect tombstones when they exceed
//! `tombstone_ratio` of all entries.

use std::time::Duration;

use futures::StreamExt;
use sop_core::{Database, Direction, TransactionMode};

use crate::config::{HealingPolicy, VectorConfig};
use crate::error::{Ctx, Result, VectorError};
use crate::rebuild::{optimize, RebuildOptions, RebuildReport};
use crate::schema::{DataKey, VecKey};
use crate::store::VectorStore;

/// What [`maintain`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum MaintenanceAction {
    /// Every bound holds.
    Nothing,
    /// A versioned rebuild ran (the reason, the report).
    Rebuilt(String, RebuildReport),
    /// Tombstones were removed.
    CollectedTombstones(u64),
}

/// Opens the domain read-only to inspect it.
async fn inspect(
    db: &Database,
    domain: &str,
    config: &VectorConfig,
) -> Result<(u64, u64, u64, u64, usize, u64)> {
    let tx = db
        .begin(TransactionMode::NoCheck)
        .await
        .ctx(domain, "begin")?;
    let store = VectorStore::open(&tx, domain, config.clone()).await?;
    let set = store.centroid_set().await?;
    let dead: u64 = set.deleted.iter().sum();
    let max = set.counts.iter().copied().max().unwrap_or(0);
    let built = store.domain_config().built_items;
    let built_k = store.domain_config().built_centroids;
    Ok((set.live(), dead, max, built, set.ids.len(), built_k))
}

/// Checks the bounds of `config.healing` and heals the domain if needed.
pub async fn maintain(
    db: &Database,
    domain: &str,
    config: &VectorConfig,
    opts: &RebuildOptions,
) -> Result<MaintenanceAction> {
    let p: &HealingPolicy = &config.healing;
    let (live, dead, max, built, k, _) = inspect(db, domain, config).await?;
    let mean = live as f64 / k.max(1) as f64;
    let reason = if built == 0 && live >= p.min_build_items {
        Some(format!("never built, {live} items"))
    } else if built > 0 && live as f64 >= p.growth_factor * built as f64 {
        Some(format!("grew from {built} to {live} items"))
    } else if k >= 2 && max as f64 > p.imbalance_factor * mean && live >= p.min_build_items {
        Some(format!(
            "largest bucket {max} > {} × mean {mean:.0}",
            p.imbalance_factor
        ))
    } else {
        None
    };
    if let Some(reason) = reason {
        return Ok(MaintenanceAction::Rebuilt(
            reason,
            optimize(db, domain, opts).await?,
        ));
    }
    if dead > 0 && dead as f64 > p.tombstone_ratio * (live + dead) as f64 {
        let n = collect_tombstones(db, domain, config).await?;
        return Ok(MaintenanceAction::CollectedTombstones(n));
    }
    Ok(MaintenanceAction::Nothing)
}

/// Removes every tombstone of the active version physically (vecs entry and data entry), in
/// one writer transaction. Refused while a rebuild holds the lock.
pub async fn collect_tombstones(db: &Database, domain: &str, config: &VectorConfig) -> Result<u64> {
    let tx = db
        .begin(TransactionMode::ForWriting)
        .await
        .ctx(domain, "begin")?;
    let store = VectorStore::open(&tx, domain, config.clone()).await?;
    let removed = match store.purge_tombstones().await {
        Ok(n) => n,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e);
        }
    };
    tx.commit().await.ctx(domain, "commit")?;
    Ok(removed)
}

impl VectorStore {
    /// Removes the tombstones of the active version in this transaction; returns how many.
    pub async fn purge_tombstones(&self) -> Result<u64> {
        self.ensure_writable().await?;
        let (d, vname) = (&self.domain, self.vecs.name());
        let mut dead: Vec<VecKey> = Vec::new();
        {
            let mut keys = std::pin::pin!(self.vecs.keys(.., Direction::Forward));
            while let Some(k) = keys.next().await {
                let k = k.ctx(d, vname)?;
                if k.deleted {
                    dead.push(k);
                }
            }
        }
        let mut deltas = std::collections::HashMap::new();
        for k in &dead {
            self.vecs.remove(k).await.ctx(d, vname)?;
            if self.data_key(&k.id).await?.is_some_and(|dk| dk.deleted) {
                self.data
                    .remove(&DataKey::probe(k.id.as_str()))
                    .await
                    .ctx(d, self.data.name())?;
            }
            deltas.entry(k.centroid).or_insert((0i64, 0i64)).1 -= 1;
        }
        self.adjust_counts(&deltas).await?;
        Ok(dead.len() as u64)
    }
}

/// Runs [`maintain`] every `every` in a background task until the returned handle is aborted.
/// Errors (a concurrent rebuild holding the lock, conflicts) are retried on the next tick; the
/// latest outcome is sent on the returned channel when someone listens.
pub fn spawn_maintenance(
    db: Database,
    domain: String,
    config: VectorConfig,
    opts: RebuildOptions,
    every: Duration,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Receiver<Option<std::result::Result<MaintenanceAction, String>>>,
) {
    let (tx, rx) = tokio::sync::watch::channel(None);
    let handle = tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let outcome = maintain(&db, &domain, &config, &opts)
                .await
                .map_err(|e: VectorError| e.to_string());
            let _ = tx.send(Some(outcome));
        }
    });
    (handle, rx)
}
