//! Checkpoint-time compaction of node packs: the live nodes of packs that
//! are mostly dead are copied (frame bytes as they are, CRC included) into
//! the pack the checkpoint is writing, so the old pack's last references go
//! away and its file is deleted. This bounds the space dead nodes hold in
//! packs to about half of each pack, plus what the current budget leaves.
//!
//! Invariants: a moved node's handle is switched like any rewritten node
//! (new physical id, old one retired with the current generation), so a
//! snapshot still reading the old copy keeps it until it ends; a frame that
//! cannot be read back intact is left where it is (reads and verify report
//! it), never copied.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use crate::engine::Engine;
use crate::error::Result;
use crate::storage::blob_store::pack::PackRef;
use crate::storage::blob_store::NodeWriter;
use crate::storage::fsio;
use crate::storage::registry::NodeId;

/// Live bytes a checkpoint moves at most.
const RELOCATE_BUDGET: u64 = 64 << 20;

impl Engine {
    /// Before a checkpoint re-points or deletes the nodes in `updated`,
    /// hands each open store the physical ids its older snapshots still
    /// need (see `StoreShared::opened`).
    pub(crate) fn keep_open_physicals(
        &self,
        stores: &[Arc<dyn crate::btree::store::ErasedStore>],
        updated: &std::collections::HashMap<NodeId, crate::storage::registry::Handle>,
    ) {
        let reg = self.registry.read();
        for id in updated.keys() {
            let Some(old) = reg.get(id).filter(|h| !h.deleted) else {
                continue;
            };
            if let Some(s) = stores.iter().find(|s| s.id() == old.store_id) {
                s.keep_open_physical(*id, old.current());
            }
        }
    }

    /// Physical ids of every live registry handle.
    pub(crate) fn live_physical_ids(&self) -> Vec<Uuid> {
        self.registry
            .read()
            .values()
            .filter(|h| !h.deleted)
            .map(|h| h.current())
            .collect()
    }

    /// Copies the live nodes of sparse packs (except `skip`: nodes rewritten
    /// or freed by this checkpoint) into `nodes`; returns
    /// `(store id, node id, old physical id, new physical id)` for each moved
    /// node. Call with the commit gate held exclusively.
    pub(crate) async fn relocate_sparse_packs(
        self: &Arc<Self>,
        nodes: &mut NodeWriter,
        skip: &HashSet<NodeId>,
    ) -> Result<Vec<(u32, NodeId, Uuid, Uuid)>> {
        if !self.blobs.backend().supports_packs() {
            return Ok(Vec::new());
        }
        let sparse: HashSet<u64> = self
            .blobs
            .sparse_packs(RELOCATE_BUDGET)
            .into_iter()
            .collect();
        if sparse.is_empty() {
            return Ok(Vec::new());
        }
        let dropped = self.dropped.lock().clone();
        let candidates: Vec<(u32, NodeId, Uuid)> = self
            .registry
            .read()
            .values()
            .filter(|h| !h.deleted && !skip.contains(&h.node_id))
            .filter(|h| !dropped.contains(&h.store_id))
            .filter(|h| PackRef::from_uuid(h.current()).is_some_and(|r| sparse.contains(&r.pack)))
            .map(|h| (h.store_id, h.node_id, h.current()))
            .collect();
        let blobs = self.blobs.clone();
        let frames = fsio::blocking(move || {
            Ok(candidates
                .into_iter()
                .filter_map(|(s, id, old)| blobs.read_sealed(old).ok().map(|f| (s, id, old, f)))
                .collect::<Vec<_>>())
        })
        .await?;
        let mut moved = Vec::with_capacity(frames.len());
        for (store, id, old, sealed) in frames {
            if let Some(new) = nodes.add_sealed(&sealed) {
                self.l1.alias(old, new);
                moved.push((store, id, old, new));
            }
        }
        Ok(moved)
    }
}
