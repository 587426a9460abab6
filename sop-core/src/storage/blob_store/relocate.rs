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
    /// or freed by this checkpoint) into `nodes` (on a blocking thread: the
    /// writer may append to its pack file); returns the writer and
    /// `(store id, node id, new physical id)` for each moved node. Call with
    /// the commit gate held exclusively (clustered: inside the section).
    pub(crate) async fn relocate_sparse_packs(
        self: &Arc<Self>,
        nodes: NodeWriter,
        skip: HashSet<NodeId>,
    ) -> Result<(NodeWriter, Vec<(u32, NodeId, Uuid)>)> {
        if !self.blobs.backend().supports_packs() {
            return Ok((nodes, Vec::new()));
        }
        let registry = self.registry_snapshot();
        let dropped = self.dropped.lock().clone();
        let blobs = self.blobs.clone();
        let (nodes, moved) = fsio::blocking(move || {
            let mut nodes = nodes;
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
                return Ok((nodes, Vec::new()));
            }
            let mut moved = Vec::new();
            let frames = registry
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
                });
            for (store, id, old, sealed) in frames {
                if let Some(new) = nodes.add_sealed(&sealed) {
                    moved.push((store, id, old, new));
                }
            }
            nodes.check()?;
            Ok((nodes, moved))
        })
        .await?;
        let moved = moved
            .into_iter()
            .map(|(store, id, old, new)| {
                self.l1.alias(old, new);
                (store, id, new)
            })
            .collect();
        Ok((nodes, moved))
    }
}
