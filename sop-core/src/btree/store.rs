//! The shared state of one open store and its type-erased face.
//!
//! A [`StoreShared`] exists once per store per process, created the first time
//! a transaction opens the store with its key and value types. It holds the
//! newest committed [`TreeVersion`] and the store's commit lock.
//!
//! Invariant: `committed` only moves forward, under `commit_lock`, after the
//! WAL record of the change is durable (or, for checkpoints, with identical
//! content and flushed node references).

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use uuid::Uuid;

use crate::btree::item::{decode_node, encode_node_into, Leaf, Node};
use crate::btree::key_search::KeySearch;
use crate::btree::ops::decode_ops;
use crate::btree::version::{NodeRef, TreeVersion};
use crate::btree::view::{Interrupt, Step, TreeView};
use crate::engine::{Engine, PendingOps};
use crate::error::{Result, SopError};
use crate::options::StoreOptions;
use crate::storage::catalog::StoreInfo;
use crate::storage::frame::FrameKind;
use crate::storage::registry::NodeId;
use crate::{Key, Value};
use futures::future::BoxFuture;

/// Receives each dirty node's encoded payload during a checkpoint.
pub type DirtySink<'a> = dyn FnMut(NodeId, &[u8]) + 'a;

/// What the engine needs from a typed store.
pub trait ErasedStore: Send + Sync + 'static {
    /// The store as `Any`, for downcasting to `StoreShared<K, V>`.
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// Store name.
    fn name(&self) -> &str;
    /// Store id.
    fn id(&self) -> u32;
    /// Current root and count.
    fn root_and_count(&self) -> (NodeId, u64);
    /// Encodes every dirty node of the committed version into `sink` (one
    /// at a time, through one scratch buffer); returns the nodes freed since
    /// the last checkpoint.
    fn collect_dirty(&self, sink: &mut DirtySink<'_>) -> Result<Vec<NodeId>>;
    /// Replaces dirty references by flushed ones after a checkpoint.
    fn install_flushed(&self, flushed: &HashMap<NodeId, Uuid>, freed: &[NodeId]);
    /// Replays logged ops onto the newest version, one version per record
    /// (clustered mode: records other processes committed).
    fn replay_logged(self: Arc<Self>, pending: Vec<PendingOps>) -> BoxFuture<'static, Result<()>>;
    /// Restarts from the checkpointed tree of `info` under the engine's
    /// current registry, forgetting every in-memory change (clustered mode:
    /// another process checkpointed a state that includes all of them).
    /// Transactions holding older versions keep reading those.
    fn reset_to_checkpoint(&self, info: &StoreInfo);
}

/// One store, shared by every transaction of the process.
pub struct StoreShared<K: 'static, V> {
    /// Store name.
    pub name: String,
    /// Compact id.
    pub id: u32,
    /// Options fixed at creation.
    pub options: StoreOptions,
    /// Key order.
    pub order: KeySearch<K>,
    /// The engine.
    pub engine: Arc<Engine>,
    /// Newest committed version.
    pub committed: RwLock<Arc<TreeVersion<K, V>>>,
    /// Held while committing to this store.
    pub commit_lock: Arc<tokio::sync::Mutex<()>>,
}

impl<K: Key, V: Value> StoreShared<K, V> {
    /// A store whose committed state is `info` (root and count) with no
    /// changes since the last checkpoint.
    pub fn new(engine: Arc<Engine>, info: &StoreInfo, order: KeySearch<K>) -> Self {
        StoreShared {
            name: info.name.clone(),
            id: info.id,
            options: info.options.clone(),
            order,
            committed: RwLock::new(Arc::new(Self::checkpointed_version(&engine, info))),
            engine,
            commit_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The version holding exactly the checkpointed tree of `info`.
    fn checkpointed_version(engine: &Engine, info: &StoreInfo) -> TreeVersion<K, V> {
        let registry = engine.registry_snapshot();
        let mut nodes = imbl::GenericHashMap::default();
        if registry.get(&info.root).is_none_or(|h| h.deleted) {
            // Created after the last checkpoint: its root exists only in the WAL.
            nodes.insert(
                info.root,
                NodeRef::Dirty(Arc::new(Node::leaf(Leaf::default()))),
            );
        }
        TreeVersion {
            // A random base: a version number never repeats across
            // re-opens, so caches keyed on it cannot serve stale data.
            seq: rand::random::<u64>() >> 16,
            root: info.root,
            count: info.count,
            nodes,
            registry,
        }
    }

    /// The newest committed version.
    pub fn current(&self) -> Arc<TreeVersion<K, V>> {
        self.committed.read().clone()
    }

    /// Loads a node blob into the L1 cache.
    pub async fn load_node(&self, physical: Uuid) -> Result<Arc<Node<K, V>>> {
        let bytes = self
            .engine
            .read_blob(physical, FrameKind::Node, true)
            .await?;
        let path = self.engine.blobs.backend().describe(physical);
        let node: Node<K, V> = decode_node(&self.name, &path, &bytes)?;
        let node = Arc::new(node);
        self.engine.l1.put(physical, node.clone());
        Ok(node)
    }

    /// Runs a synchronous step on `view`, loading nodes it needs, until it
    /// completes. Pinned nodes are released afterwards.
    pub async fn drive<T>(
        &self,
        view: &parking_lot::Mutex<TreeView<K, V>>,
        mut step: impl FnMut(&mut TreeView<K, V>) -> Step<T>,
    ) -> Result<T> {
        loop {
            let r = {
                let mut v = view.lock();
                let r = step(&mut v);
                if !matches!(r, Err(Interrupt::Need { .. })) {
                    if !v.pinned.is_empty() {
                        v.pinned.clear();
                    }
                    v.pin_all = false;
                }
                r
            };
            match r {
                Ok(t) => return Ok(t),
                Err(Interrupt::Fail(e)) => return Err(e),
                Err(Interrupt::Need { node, physical }) => {
                    let n = self.load_node(physical).await?;
                    view.lock().pinned.insert(node, n);
                }
            }
        }
    }

    /// Builds the version that results from `view` on top of `current`
    /// (which must hold the same content as the view's base).
    pub fn build_version(current: &TreeVersion<K, V>, view: &TreeView<K, V>) -> TreeVersion<K, V> {
        let mut nodes = current.nodes.clone();
        for (id, n) in &view.overlay {
            nodes.insert(*id, NodeRef::Dirty(n.clone()));
        }
        for id in &view.freed {
            if !view.overlay.contains_key(id) {
                nodes.insert(*id, NodeRef::Freed);
            }
        }
        TreeVersion {
            seq: current.seq + 1,
            root: view.root,
            count: view.count,
            nodes,
            registry: current.registry.clone(),
        }
    }

    /// Replays WAL ops recorded for this store (recovery at first open).
    pub async fn replay(self: &Arc<Self>, pending: Vec<PendingOps>) -> Result<()> {
        for p in pending {
            let ops = decode_ops::<K, V>(&self.name, &p.ops)?;
            let base = self.current();
            let view = parking_lot::Mutex::new(TreeView::new(self.clone(), base.clone(), false));
            for op in &ops {
                self.drive(&view, |v| v.apply_op(op)).await?;
            }
            let v = view.into_inner();
            let next = Self::build_version(&base, &v);
            *self.committed.write() = Arc::new(next);
        }
        Ok(())
    }
}

impl<K: Key, V: Value> ErasedStore for StoreShared<K, V> {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn id(&self) -> u32 {
        self.id
    }

    fn root_and_count(&self) -> (NodeId, u64) {
        let c = self.current();
        (c.root, c.count)
    }

    fn collect_dirty(&self, sink: &mut DirtySink<'_>) -> Result<Vec<NodeId>> {
        let c = self.current();
        let mut scratch = Vec::new();
        let mut freed = Vec::new();
        for (id, r) in c.nodes.iter() {
            match r {
                NodeRef::Dirty(n) => {
                    scratch.clear();
                    encode_node_into(&mut scratch, &self.name, n)?;
                    sink(*id, &scratch);
                }
                NodeRef::Freed => freed.push(*id),
                NodeRef::Flushed(_) => {}
            }
        }
        Ok(freed)
    }

    fn install_flushed(&self, flushed: &HashMap<NodeId, Uuid>, freed: &[NodeId]) {
        let mut w = self.committed.write();
        let mut next = (**w).clone();
        for (id, phys) in flushed {
            if let Some(NodeRef::Dirty(n)) = next.nodes.get(id) {
                self.engine.l1.put(*phys, n.clone());
            }
            next.nodes.insert(*id, NodeRef::Flushed(*phys));
        }
        for id in freed {
            next.nodes.remove(id);
        }
        next.registry = self.engine.registry_snapshot();
        *w = Arc::new(next);
    }

    fn replay_logged(self: Arc<Self>, pending: Vec<PendingOps>) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move { self.replay(pending).await })
    }

    fn reset_to_checkpoint(&self, info: &StoreInfo) {
        *self.committed.write() = Arc::new(Self::checkpointed_version(&self.engine, info));
    }
}

/// Opens (or finds already open) the typed store described by `info`.
pub async fn open_typed<K: Key, V: Value>(
    engine: &Arc<Engine>,
    info: &StoreInfo,
    order: KeySearch<K>,
) -> Result<Arc<StoreShared<K, V>>> {
    let _guard = engine.open_lock.lock().await;
    if let Some(existing) = engine.stores.lock().get(&info.name).cloned() {
        return existing
            .as_any()
            .downcast::<StoreShared<K, V>>()
            .map_err(|_| SopError::IncompatibleStore {
                store: info.name.clone(),
                reason: "already open in this process with other key/value types".into(),
            });
    }
    let shared = Arc::new(StoreShared::<K, V>::new(engine.clone(), info, order));
    let pending = engine.pending.lock().remove(&info.id).unwrap_or_default();
    if let Err(e) = shared.replay(pending.clone()).await {
        engine.pending.lock().insert(info.id, pending);
        return Err(e);
    }
    engine
        .stores
        .lock()
        .insert(info.name.clone(), shared.clone());
    Ok(shared)
}
