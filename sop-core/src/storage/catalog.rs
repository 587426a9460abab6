//! The catalog: the list of stores and the checkpoint's bookkeeping.
//!
//! File `<folder>/catalog.json` (+ `.bak`), a [checked JSON](super::checked_json)
//! document. It is only rewritten by a checkpoint (through the checkpoint
//! journal), so it always describes a checkpointed state; stores created or
//! dropped since then are re-derived from the WAL on open.
//!
//! Invariant: for every store, all WAL records with LSN `<= flushed_lsn` are
//! reflected in its checkpointed nodes and `root`/`count`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::options::StoreOptions;
use crate::storage::registry::NodeId;

/// Persisted information about one store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// Store name.
    pub name: String,
    /// Compact id used in the registry and the WAL.
    pub id: u32,
    /// Options fixed at creation.
    pub options: StoreOptions,
    /// Root node id at the last checkpoint.
    pub root: NodeId,
    /// Item count at the last checkpoint.
    pub count: u64,
    /// WAL records up to this LSN are checkpointed for this store.
    pub flushed_lsn: u64,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: u64,
}

/// The whole catalog.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Catalog {
    /// Next logical node id to hand out (at least).
    pub next_node_id: NodeId,
    /// Next store id.
    pub next_store_id: u32,
    /// LSN of the last checkpoint.
    pub checkpoint_lsn: u64,
    /// Number of checkpoints taken.
    pub checkpoints: u64,
    /// Stores by name.
    pub stores: BTreeMap<String, StoreInfo>,
    /// Clustered mode: superseded blobs other processes may still read,
    /// deleted by the first checkpoint after their deadline.
    #[serde(default)]
    pub deferred_garbage: Vec<DeferredBlob>,
}

/// A blob whose deletion waits until no transaction of any process can
/// still read it (clustered mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredBlob {
    /// Unix milliseconds after which the blob may be deleted.
    pub delete_after_ms: u64,
    /// The blob.
    pub blob: uuid::Uuid,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
