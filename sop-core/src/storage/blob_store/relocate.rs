//! Checkpoint-time compaction of node packs: the live nodes of packs that
//! are mostly dead are copied (frame bytes as they are, CRC included) into
//! the pack the checkpoint is writing, so the old pack's last references go
//! away and its file is deleted. This bounds the space dead nodes hold in
//! packs to about half of each pack, plus what the current budget leaves.
//!
//! Which packs are sparse is derived at each checkpoint from the registry
//! (live frame bytes per pack) and the pack file sizes, never from counts
//! kept in memory: in clustered mode other processes' checkpoints change
//! the registry too.
//!
//! Invariants: a moved node's handle is switched like any rewritten node
//! (new physical id; the old one superseded through the ordinary garbage
//! path: retired with the current generation standalone, deferred for the
//! shared grace period clustered), so a snapshot still reading the old copy
//! keeps it until it ends; a frame that cannot be read back intact is left
//! where it is (reads and verify report it), never copied.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use crate::engine::Engine;
use crate::error::Result;
use crate::storage::blob_store::pack::{self, live_bytes_by_pack, PackRef};
use crate::storage::blob_store::NodeWriter;
use crate::storage::fsio;
use crate::storage::registry::NodeId;

/// Live bytes a checkpoint moves at most.
const RELOCATE_BUDGET: u64 = 64 << 20;

impl Engine {
    /// Copies the live nodes of sparse packs (except `skip`: nodes rewritten
    /// or freed by this checkpoint) into `nodes`; returns
    /// `(store id, node id, new physical id)` for each moved node. Call with
    /// the commit gate held exclusively (clustered: inside the section).
    pub(crate) async fn relocate_sparse_packs(
        self: &Arc<Self>,
        nodes: &mut NodeWriter,
        skip: &HashSet<NodeId>,
    ) -> Result<Vec<(u32, NodeId, Uuid)>> {
        if !self.blobs.backend().supports_packs() {
            return Ok(Vec::new());
        }
        let registry = self.registry_snapshot();
        let dropped = self.dropped.lock().clone();
        let skip = skip.clone();
        let blobs = self.blobs.clone();
        let frames = fsio::blocking(move || {
            let live = live_bytes_by_pack(
                registry
                    .values()
                    .filter(|h| !h.deleted)
                    .map(|h| h.current()),
            );
            let sparse: HashSet<u64> = pack::sparse(&live, |p| blobs.pack_size(p), RELOCATE_BUDGET)
                .into_iter()
                .collect();
            if sparse.is_empty() {
                return Ok(Vec::new());
            }
            Ok(registry
                .values()
                .filter(|h| !h.deleted && !skip.contains(&h.node_id))
                .filter(|h| !dropped.contains(&h.store_id))
                .filter(|h| {
                    PackRef::from_uuid(h.current()).is_some_and(|r| sparse.contains(&r.pack))
                })
                .filter_map(|h| {
                    let old = h.current();
                    blobs
                        .read_sealed(old)
                        .ok()
                        .map(|f| (h.store_id, h.node_id, old, f))
                })
                .collect::<Vec<_>>())
        })
        .await?;
        let mut moved = Vec::with_capacity(frames.len());
        for (store, id, old, sealed) in frames {
            if let Some(new) = nodes.add_sealed(&sealed) {
                self.l1.alias(old, new);
                moved.push((store, id, new));
            }
        }
        Ok(moved)
    }
}
