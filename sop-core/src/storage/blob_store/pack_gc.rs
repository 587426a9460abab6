//! When a pack file may be deleted. A pack holds many nodes; each of its
//! references is superseded and collected on its own (retired with a
//! generation standalone, deferred for the shared grace period clustered),
//! and the file goes once none of them can be read: none is current in the
//! registry and none still waits in a garbage list.
//!
//! Invariants: the registry and the waiting lists are looked at together
//! (the caller holds the garbage lock, and checkpoints swap the registry and
//! retire what it superseded under that lock), so a reference cannot be
//! missing from both at once while it is still readable; packs are never
//! deleted on in-memory counts, which other processes' checkpoints would
//! make wrong.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::engine::{Engine, RegistryMap};
use crate::storage::blob_store::pack::packs_of;
use crate::storage::registry::{Handle, NodeId};

impl Engine {
    /// Packs some reader may still reach: named by a current id of
    /// `registry` (with the handles of `updated` in place of its own: a
    /// checkpoint's new registry) or by a superseded reference in `waiting`
    /// (garbage not yet due, in memory or deferred).
    pub(crate) fn readable_packs(
        &self,
        registry: &RegistryMap,
        updated: &HashMap<NodeId, Handle>,
        waiting: impl IntoIterator<Item = Uuid>,
    ) -> HashSet<u64> {
        let current = registry
            .values()
            .filter(|h| !updated.contains_key(&h.node_id))
            .chain(updated.values())
            .filter(|h| !h.deleted)
            .map(|h| h.current());
        let mut out = packs_of(current);
        out.extend(packs_of(waiting));
        out
    }
}
