//! The committed, immutable version of one store's tree.
//!
//! A [`TreeVersion`] is a snapshot: transactions take an `Arc` to it when
//! they first touch the store and read it without locks while others commit
//! newer versions. `nodes` maps every node changed since the store was opened
//! in this process to its current content; nodes absent from it are resolved
//! through the version's own registry snapshot (unchanged since open).
//!
//! Invariants:
//! - A version is never mutated after it is published; commits and
//!   checkpoints build a new one (`imbl` makes that O(changes)).
//! - `NodeRef::Dirty` nodes exist only in memory (and in the WAL as logical
//!   operations); a checkpoint turns them into `NodeRef::Flushed` blobs.
//! - `registry` is the registry as it was when the version's clean nodes
//!   were last resolvable through it: a checkpoint moving a node to a new
//!   blob installs a new snapshot in *newer* versions only, so an old
//!   version keeps reading the blobs it was built on.
//! - Physical blobs referenced by a published version are not deleted while a
//!   transaction that may read that version is alive (see the engine's GC).

use std::sync::Arc;

use uuid::Uuid;

use crate::btree::item::Node;
use crate::engine::RegistryMap;
use crate::storage::registry::NodeId;

/// Where a changed node's content is.
#[derive(Debug)]
pub enum NodeRef<K: 'static, V> {
    /// In memory only, waiting for the next checkpoint.
    Dirty(Arc<Node<K, V>>),
    /// Written to this physical blob.
    Flushed(Uuid),
    /// Removed from the tree.
    Freed,
}

impl<K: 'static, V> Clone for NodeRef<K, V> {
    fn clone(&self) -> Self {
        match self {
            NodeRef::Dirty(n) => NodeRef::Dirty(n.clone()),
            NodeRef::Flushed(u) => NodeRef::Flushed(*u),
            NodeRef::Freed => NodeRef::Freed,
        }
    }
}

/// One immutable committed state of a store.
#[derive(Debug)]
pub struct TreeVersion<K: 'static, V> {
    /// Incremented by every commit that changes the store; starts at a random
    /// base each time the store is opened in a process, so `(store, seq)`
    /// identifies one content for the life of the machine.
    pub seq: u64,
    /// Root node id.
    pub root: NodeId,
    /// Exact number of items.
    pub count: u64,
    /// Nodes changed since the store was opened in this process.
    pub nodes: imbl::GenericHashMap<
        NodeId,
        NodeRef<K, V>,
        crate::id_hash::IdBuild,
        imbl::shared_ptr::DefaultSharedPtr,
    >,
    /// Resolves nodes absent from `nodes`.
    pub registry: Arc<RegistryMap>,
}

impl<K: 'static, V> Clone for TreeVersion<K, V> {
    fn clone(&self) -> Self {
        TreeVersion {
            seq: self.seq,
            root: self.root,
            count: self.count,
            nodes: self.nodes.clone(),
            registry: self.registry.clone(),
        }
    }
}
