//! Turning WAL records into catalog changes and per-store pending ops: the
//! one rule used at open, when a clustered process reloads after another
//! process's checkpoint, and when it follows records other processes append.
//!
//! Invariants:
//! - A record is absorbed at most once per state: callers feed records in
//!   LSN order and only those after what the state already holds.
//! - A store's ops at or below its `flushed_lsn` are already in its
//!   checkpointed tree and are skipped; everything later becomes
//!   [`PendingOps`], replayed when (or, for open stores, as soon as) the
//!   store is opened with its types.
//! - A store created since the last checkpoint gets a root node id from the
//!   local allocator, never the one in the record: several processes hand
//!   out node ids independently, so a foreign id could collide with a local
//!   node, while the root's content (an empty leaf) is the same anywhere.

use std::collections::{HashMap, HashSet};

use crate::engine::PendingOps;
use crate::error::Result;
use crate::storage::catalog::{Catalog, StoreInfo};
use crate::storage::commit_record::CommitRecord;
use crate::storage::registry::NodeId;
use crate::storage::wal::WalEntry;

/// Catalog and pending ops rebuilt from a checkpoint plus WAL records.
#[derive(Debug, Default)]
pub struct ReplayState {
    /// The catalog: the checkpoint's, plus stores created and minus stores
    /// dropped by the absorbed records.
    pub catalog: Catalog,
    /// Ops not in any checkpointed tree yet, by store id, in LSN order.
    pub pending: HashMap<u32, Vec<PendingOps>>,
    /// Stores dropped since the checkpoint (their nodes are freed by the
    /// next checkpoint).
    pub dropped: HashSet<u32>,
    /// Records absorbed.
    pub records: u64,
}

impl ReplayState {
    /// A state starting from a checkpoint's catalog.
    pub fn new(catalog: Catalog) -> Self {
        ReplayState {
            catalog,
            ..Default::default()
        }
    }

    /// The lowest LSN whose records may still be needed: records at or
    /// below it are in every store's checkpointed tree.
    pub fn min_needed_lsn(&self) -> u64 {
        self.catalog
            .stores
            .values()
            .map(|s| s.flushed_lsn)
            .min()
            .unwrap_or(self.catalog.checkpoint_lsn)
            .min(self.catalog.checkpoint_lsn)
    }

    /// Absorbs one record; `new_root` hands out root ids for stores it
    /// creates. Returns the ids of stores that received ops or were dropped.
    pub fn absorb(
        &mut self,
        entry: &WalEntry,
        mut new_root: impl FnMut() -> NodeId,
    ) -> Result<Vec<u32>> {
        let record = CommitRecord::decode(&entry.body)?;
        self.records += 1;
        let mut touched = Vec::new();
        for s in record.stores {
            let flushed = self
                .catalog
                .stores
                .get(&s.name)
                .filter(|i| i.id == s.store_id)
                .map(|i| i.flushed_lsn);
            if flushed.is_some_and(|f| entry.lsn <= f) {
                continue;
            }
            if entry.lsn <= self.catalog.checkpoint_lsn && flushed.is_none() {
                // Created and dropped (or superseded) before the checkpoint.
                continue;
            }
            if let Some(info) = s.create {
                self.catalog.next_store_id = self.catalog.next_store_id.max(info.id + 1);
                self.catalog.stores.insert(
                    info.name.clone(),
                    StoreInfo {
                        flushed_lsn: 0,
                        root: new_root(),
                        ..info
                    },
                );
            }
            if s.drop {
                self.catalog.stores.remove(&s.name);
                self.pending.remove(&s.store_id);
                self.dropped.insert(s.store_id);
                touched.push(s.store_id);
                continue;
            }
            if !s.ops.is_empty() {
                self.pending
                    .entry(s.store_id)
                    .or_default()
                    .push(PendingOps {
                        lsn: entry.lsn,
                        tx_id: record.tx_id,
                        ops: s.ops,
                    });
                touched.push(s.store_id);
            }
        }
        Ok(touched)
    }
}
