//! A transaction's private view of one store: a committed snapshot plus a
//! copy-on-write overlay of the nodes this transaction changed.
//!
//! All algorithms here are synchronous and never block on I/O: when a node is
//! neither in the overlay, the snapshot's dirty set nor the L1 cache, they stop
//! with [`Interrupt::Need`] *before changing anything*; the async caller loads
//! the blob on a blocking thread and runs the operation again. Mutations first
//! pin every node they may touch (path and siblings), then change the overlay.
//!
//! Invariants:
//! - `overlay` holds this transaction's new node contents; the snapshot
//!   (`base`) is never modified.
//! - `count` is the exact item count of the view.
//! - `ops` lists the effective changes in order; `reads` lists observations to
//!   re-validate at commit (only when `track_reads`).

use std::cmp::Ordering;
use std::sync::Arc;

use uuid::Uuid;

use crate::btree::item::{Item, ItemRef, Leaf, Node};
use crate::btree::key_search::KeySearch;
use crate::btree::leaf::CellRef;
use crate::btree::memo::NodeMemo;
use crate::btree::ops::{Op, Pos, ReadRecord};
use crate::btree::prefetch;
use crate::btree::store::StoreShared;
use crate::btree::version::{NodeRef, TreeVersion};
use crate::error::SopError;
use crate::id_hash::{IdMap, IdSet};
use crate::storage::registry::NodeId;
use crate::{Key, Value};

/// Why a synchronous step stopped.
#[derive(Debug)]
pub enum Interrupt {
    /// Node `node` must be loaded from physical blob `physical` first.
    Need {
        /// Logical node id.
        node: NodeId,
        /// Its current blob.
        physical: Uuid,
    },
    /// A real error.
    Fail(SopError),
}

impl From<SopError> for Interrupt {
    fn from(e: SopError) -> Self {
        Interrupt::Fail(e)
    }
}

/// Result of a synchronous step.
pub type Step<T> = std::result::Result<T, Interrupt>;

/// A position to seek to.
#[derive(Debug, Clone, Copy)]
pub enum Bound<'a, K: 'static> {
    /// Before the first item.
    Start,
    /// The first item `>= (key, id)`.
    At(&'a K, Uuid),
    /// After the last item.
    End,
}

/// Smallest and largest item ids, used to seek to the first / past the last
/// item with a key.
pub const MIN_ID: Uuid = Uuid::nil();
/// See [`MIN_ID`].
pub const MAX_ID: Uuid = Uuid::max();

/// A located leaf position: the path of `(internal node, child index)` from
/// the root, the leaf and the index in it (may equal `leaf.len()`).
#[derive(Debug, Clone)]
pub struct Located<K: 'static, V> {
    /// Internal nodes from the root with the child taken.
    pub path: Vec<(NodeId, usize)>,
    /// The leaf's id.
    pub leaf_id: NodeId,
    /// The leaf.
    pub leaf: Arc<Node<K, V>>,
    /// Index within the leaf.
    pub pos: usize,
}

impl<K: 'static, V> Located<K, V> {
    /// The item at the position, if any.
    pub fn item(&self) -> Option<ItemRef<'_, K>> {
        item_at(&self.leaf, self.pos)
    }
}

/// An item found by a path-free descent: its leaf and index.
#[derive(Debug, Clone)]
pub struct Hit<K: 'static, V> {
    /// The leaf.
    pub leaf: Arc<Node<K, V>>,
    /// Index of the item within the leaf (always in range).
    pub pos: usize,
}

impl<K: 'static, V> Hit<K, V> {
    /// The item.
    pub fn item(&self) -> ItemRef<'_, K> {
        match &*self.leaf {
            Node::Leaf(items, _) => items.at(self.pos),
            Node::Internal { .. } => unreachable!("a hit always points into a leaf"),
        }
    }

    /// The item's key.
    pub fn key(&self) -> &K {
        match &*self.leaf {
            Node::Leaf(items, _) => items.key(self.pos),
            Node::Internal { .. } => unreachable!("a hit always points into a leaf"),
        }
    }

    /// The item's value (without reading its id and version).
    pub fn value(&self) -> CellRef<'_> {
        match &*self.leaf {
            Node::Leaf(items, _) => items.value(self.pos),
            Node::Internal { .. } => unreachable!("a hit always points into a leaf"),
        }
    }
}

fn item_at<K: 'static, V>(node: &Node<K, V>, pos: usize) -> Option<ItemRef<'_, K>> {
    match node {
        Node::Leaf(items, _) => items.get(pos),
        Node::Internal { .. } => None,
    }
}

/// The transaction-private view.
pub struct TreeView<K: 'static, V> {
    /// The store.
    pub shared: Arc<StoreShared<K, V>>,
    /// The store's key order (copied here: it is on the hottest path).
    cmp: KeySearch<K>,
    /// The snapshot this view started from.
    pub base: Arc<TreeVersion<K, V>>,
    /// Current root.
    pub root: NodeId,
    /// Current exact count.
    pub count: u64,
    /// Changed or new nodes.
    pub overlay: IdMap<NodeId, Arc<Node<K, V>>>,
    /// Nodes removed from the tree by this view.
    pub freed: IdSet<NodeId>,
    /// Nodes pinned for the operation in progress.
    pub pinned: IdMap<NodeId, Arc<Node<K, V>>>,
    /// Pin every node touched (set by mutations, which must not meet a miss
    /// half-way).
    pub pin_all: bool,
    /// Effective changes, in order.
    pub ops: Vec<Op<K>>,
    /// Observations to validate at commit.
    pub reads: Vec<ReadRecord<K>>,
    /// Whether to record reads.
    pub track_reads: bool,
    /// Bumped by every structural change (invalidates cursors' cached paths).
    pub epoch: u64,
    /// Value blobs this view replaced or removed (deleted after commit).
    pub superseded: Vec<Uuid>,
    /// Memo of clean snapshot nodes this view resolved.
    hot: NodeMemo<K, V>,
    /// A path buffer an insert gave back, for the next descent.
    spare_path: Vec<(NodeId, usize)>,
}

impl<K: Key, V: Value> TreeView<K, V> {
    /// A fresh view on `base`.
    pub fn new(
        shared: Arc<StoreShared<K, V>>,
        base: Arc<TreeVersion<K, V>>,
        track_reads: bool,
    ) -> Self {
        let hot = NodeMemo::new(shared.engine.options.l1_cache_nodes);
        TreeView {
            cmp: shared.order.clone(),
            root: base.root,
            count: base.count,
            shared,
            base,
            overlay: IdMap::default(),
            freed: IdSet::default(),
            pinned: IdMap::default(),
            pin_all: false,
            ops: Vec::new(),
            reads: Vec::new(),
            track_reads,
            epoch: 0,
            superseded: Vec::new(),
            hot,
            spare_path: Vec::with_capacity(8),
        }
    }

    /// True when this view changed nothing.
    pub fn is_clean(&self) -> bool {
        self.ops.is_empty() && self.overlay.is_empty()
    }

    /// Index of the first item of `leaf` that is `>= (key, id)`.
    #[inline]
    fn leaf_bound(&self, leaf: &Leaf<K>, key: &K, id: Uuid) -> usize {
        self.cmp.leaf_bound(leaf, key, id)
    }

    /// Index of the child of an internal node that holds `(key, id)`.
    #[inline]
    fn child_index(&self, seps: &[(K, Uuid)], key: &K, id: Uuid) -> usize {
        self.cmp.child_index(seps, key, id)
    }

    /// Compares keys with the store's order.
    #[inline]
    pub fn cmp_keys(&self, a: &K, b: &K) -> Ordering {
        self.cmp.compare(a, b)
    }

    /// A node already at hand (overlay or memo), borrowed, with the lines
    /// its search reads first requested from memory. A memo hit requests
    /// them from the memo's copy of their address, before the node itself
    /// is read, so the node's header and its keys arrive together.
    #[inline]
    fn peek_prefetched(&self, id: NodeId) -> Option<&Arc<Node<K, V>>> {
        if !self.overlay.is_empty() {
            if let Some(n) = self.overlay.get(&id) {
                prefetch_node(n);
                return Some(n);
            }
        }
        self.hot.get_prefetched(id)
    }

    /// Fetches a node without blocking.
    pub fn node(&mut self, id: NodeId) -> Step<Arc<Node<K, V>>> {
        if !self.overlay.is_empty() {
            if let Some(n) = self.overlay.get(&id) {
                return Ok(n.clone());
            }
        }
        if let Some(n) = self.hot.get(id) {
            return Ok(n.clone());
        }
        if !self.pinned.is_empty() {
            if let Some(n) = self.pinned.get(&id) {
                return Ok(n.clone());
            }
        }
        let n = self.resolve(id)?;
        self.hot.put(id, n.clone());
        Ok(n)
    }

    /// Resolves a node of the snapshot: dirty set, registry, L1 cache.
    fn resolve(&mut self, id: NodeId) -> Step<Arc<Node<K, V>>> {
        let physical = match self.base.nodes.get(&id) {
            Some(NodeRef::Dirty(n)) => return Ok(n.clone()),
            Some(NodeRef::Flushed(p)) => *p,
            Some(NodeRef::Freed) => {
                return Err(SopError::format(
                    format!("store '{}' node {id}", self.shared.name),
                    "reference to a freed node",
                )
                .into())
            }
            None => {
                self.shared
                    .engine
                    .registry_lookup(&self.base.registry, &self.shared.name, id)?
            }
        };
        match self.shared.engine.l1.get::<Node<K, V>>(physical) {
            Some(n) => {
                if self.pin_all {
                    self.pinned.insert(id, n.clone());
                }
                Ok(n)
            }
            None => Err(Interrupt::Need { node: id, physical }),
        }
    }

    /// Descends to the leaf position of `bound`.
    pub fn seek(&mut self, bound: Bound<'_, K>) -> Step<Located<K, V>> {
        let mut path = std::mem::take(&mut self.spare_path);
        path.clear();
        path.reserve(6);
        let mut id = self.root;
        loop {
            let node = self.node(id)?;
            prefetch_node(&node);
            match &*node {
                Node::Internal { seps, children } => {
                    let idx = match bound {
                        Bound::Start => 0,
                        Bound::End => children.len() - 1,
                        Bound::At(k, kid) => self.child_index(seps, k, kid),
                    };
                    path.push((id, idx));
                    id = children[idx];
                }
                Node::Leaf(items, _) => {
                    let pos = match bound {
                        Bound::Start => 0,
                        Bound::End => items.len(),
                        Bound::At(k, kid) => self.leaf_bound(items, k, kid),
                    };
                    return Ok(Located {
                        path,
                        leaf_id: id,
                        leaf: node,
                        pos,
                    });
                }
            }
        }
    }

    /// Moves to the first position of the next leaf (`forward`) or the last
    /// position of the previous leaf. `None` at the tree's end.
    pub fn step_leaf(&mut self, loc: &Located<K, V>, forward: bool) -> Step<Option<Located<K, V>>> {
        let mut path = loc.path.clone();
        while let Some((pid, idx)) = path.pop() {
            let parent = self.node(pid)?;
            let Node::Internal { children, .. } = &*parent else {
                continue;
            };
            let next = if forward {
                (idx + 1 < children.len()).then_some(idx + 1)
            } else {
                idx.checked_sub(1)
            };
            if let Some(next) = next {
                path.push((pid, next));
                let mut id = children[next];
                loop {
                    let node = self.node(id)?;
                    match &*node {
                        Node::Internal { children, .. } => {
                            let i = if forward { 0 } else { children.len() - 1 };
                            path.push((id, i));
                            id = children[i];
                        }
                        Node::Leaf(items, _) => {
                            let pos = if forward {
                                0
                            } else {
                                items.len().saturating_sub(1)
                            };
                            let len = items.len();
                            let located = Located {
                                path,
                                leaf_id: id,
                                leaf: node.clone(),
                                pos,
                            };
                            if len == 0 {
                                // Only an empty root leaf can be empty; skip defensively.
                                return self.step_leaf(&located, forward);
                            }
                            return Ok(Some(located));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Normalises a position so that it points at an item (moving to the next
    /// leaf when at a leaf's end). `None` past the last item.
    pub fn settle(&mut self, loc: Located<K, V>) -> Step<Option<Located<K, V>>> {
        if loc.pos < loc.leaf.len() {
            return Ok(Some(loc));
        }
        self.step_leaf(&loc, true)
    }

    /// The position just before `loc` (`None` before the first item).
    pub fn before(&mut self, loc: &Located<K, V>) -> Step<Option<Located<K, V>>> {
        if loc.pos > 0 {
            let mut l = loc.clone();
            l.pos -= 1;
            return Ok(Some(l));
        }
        self.step_leaf(loc, false)
    }

    /// The position just after `loc` (`None` past the last item).
    pub fn after(&mut self, loc: &Located<K, V>) -> Step<Option<Located<K, V>>> {
        let mut l = loc.clone();
        l.pos += 1;
        self.settle(l)
    }

    /// The first item `>= (key, id)` when it is in the leaf reached by a
    /// path-free descent (the common case); `None` when the answer lies past
    /// that leaf's end and a full [`TreeView::seek`] is needed.
    fn probe(&mut self, key: &K, id: Uuid) -> Step<Option<Hit<K, V>>> {
        let mut node_id = self.root;
        loop {
            // Internal nodes already at hand are only borrowed (no reference
            // count traffic); the leaf is cloned once, into the hit.
            let node = match self.peek_prefetched(node_id) {
                Some(n) => {
                    if let Node::Internal { seps, children } = &**n {
                        node_id = children[self.child_index(seps, key, id)];
                        continue;
                    }
                    n.clone()
                }
                None => {
                    let n = self.node(node_id)?;
                    prefetch_node(&n);
                    n
                }
            };
            let pos = match &*node {
                Node::Internal { seps, children } => {
                    node_id = children[self.child_index(seps, key, id)];
                    continue;
                }
                Node::Leaf(items, _) => {
                    let pos = self.leaf_bound(items, key, id);
                    if pos == items.len() {
                        return Ok(None);
                    }
                    pos
                }
            };
            return Ok(Some(Hit { leaf: node, pos }));
        }
    }

    /// The first item with `key`, if any (point lookup without a path).
    pub fn lookup_first(&mut self, key: &K) -> Step<Option<Hit<K, V>>> {
        let found = match self.probe(key, MIN_ID)? {
            Some(hit) => Some(hit),
            None => self.find_first(key)?.map(|l| Hit {
                leaf: l.leaf,
                pos: l.pos,
            }),
        };
        Ok(found.filter(|h| self.cmp_keys(h.key(), key) == Ordering::Equal))
    }

    /// Item position of the first item with `key`, if any.
    pub fn find_first(&mut self, key: &K) -> Step<Option<Located<K, V>>> {
        let loc = self.seek(Bound::At(key, MIN_ID))?;
        let Some(loc) = self.settle(loc)? else {
            return Ok(None);
        };
        let hit = loc
            .item()
            .is_some_and(|it| self.cmp_keys(it.key, key) == Ordering::Equal);
        Ok(hit.then_some(loc))
    }

    /// Item position of exactly `(key, id)`, if any.
    pub fn find_exact(&mut self, key: &K, id: Uuid) -> Step<Option<Located<K, V>>> {
        let loc = self.seek(Bound::At(key, id))?;
        let hit = loc
            .item()
            .is_some_and(|it| it.id == id && self.cmp_keys(it.key, key) == Ordering::Equal);
        Ok(hit.then_some(loc))
    }

    fn pos_of(key: &K, id: Uuid) -> Pos<K> {
        Pos {
            key: key.clone(),
            id,
        }
    }

    /// Records that `item` was read.
    pub fn record_item(&mut self, item: ItemRef<'_, K>) {
        if self.track_reads {
            self.reads.push(ReadRecord::Item {
                pos: Self::pos_of(item.key, item.id),
                version: item.version,
            });
        }
    }

    /// Records the item of `hit` as read (reading its id and version only
    /// when reads are tracked).
    pub fn record_hit(&mut self, hit: &Hit<K, V>) {
        if self.track_reads {
            self.record_item(hit.item());
        }
    }

    /// Records `item` as read when there is one.
    pub fn record_found(&mut self, item: Option<ItemRef<'_, K>>) {
        if let Some(it) = item {
            self.record_item(it);
        }
    }

    /// Records that nothing lies between two positions `(key, id)`.
    pub fn record_gap(&mut self, lo: Option<(&K, Uuid)>, hi: Option<(&K, Uuid)>) {
        if self.track_reads {
            self.reads.push(ReadRecord::Gap {
                lo: lo.map(|(k, id)| Self::pos_of(k, id)),
                hi: hi.map(|(k, id)| Self::pos_of(k, id)),
            });
        }
    }

    /// Records that no item has `key`.
    pub fn record_absent(&mut self, key: &K) {
        if self.track_reads {
            self.reads.push(ReadRecord::Absent(key.clone()));
        }
    }

    // ----------------------------------------------------------------- writes

    fn writable(&mut self, id: NodeId) -> Step<&mut Node<K, V>> {
        if !self.overlay.contains_key(&id) {
            let n = self.node(id)?;
            // Room for a few more entries: a transaction often changes a
            // node more than once.
            self.overlay
                .insert(id, Arc::new(n.clone_with_room(1 + n.len() / 4)));
            self.forget_hot(id);
        }
        let arc = self
            .overlay
            .get_mut(&id)
            .ok_or_else(|| SopError::format(format!("store node {id}"), "overlay lost a node"))?;
        Ok(Arc::make_mut(arc))
    }

    fn set_node(&mut self, id: NodeId, node: Node<K, V>) {
        self.pinned.remove(&id);
        self.overlay.insert(id, Arc::new(node));
    }

    fn new_node(&mut self, node: Node<K, V>) -> NodeId {
        let id = self.shared.engine.allocate_node_id();
        self.overlay.insert(id, Arc::new(node));
        id
    }

    fn free_node(&mut self, id: NodeId) {
        self.overlay.remove(&id);
        self.pinned.remove(&id);
        self.forget_hot(id);
        self.freed.insert(id);
    }

    fn forget_hot(&mut self, id: NodeId) {
        self.hot.forget(id);
    }

    /// Inserts `item` at its position; the caller has checked uniqueness.
    pub fn insert_item(&mut self, item: Arc<Item<K>>) -> Step<()> {
        self.pin_all = true;
        let loc = self.seek(Bound::At(&item.key, item.id))?;
        self.insert_at(loc, item)
    }

    /// Inserts `item` unless an item with its key exists (unique trees): one
    /// descent serves both the check and the insert. Returns the existing
    /// item, if any (nothing changed then).
    pub fn insert_unique(&mut self, item: Arc<Item<K>>) -> Step<Option<Hit<K, V>>> {
        self.pin_all = true;
        let loc = self.seek(Bound::At(&item.key, item.id))?;
        // An item with the key is next to the insert position: inside the
        // leaf, or at a leaf's edge in the neighbouring leaf, which can hold
        // it only when the separator between the two leaves has the key.
        let len = loc.leaf.len();
        for pos in [loc.pos.wrapping_sub(1), loc.pos] {
            let same = item_at(&loc.leaf, pos)
                .is_some_and(|it| self.cmp_keys(it.key, &item.key) == Ordering::Equal);
            if same {
                return Ok(Some(Hit {
                    leaf: loc.leaf,
                    pos,
                }));
            }
        }
        let across = (loc.pos == 0 && self.edge_separator_has(&loc.path, &item.key, false)?)
            || (loc.pos == len && self.edge_separator_has(&loc.path, &item.key, true)?);
        if across {
            if let Some(hit) = self.lookup_first(&item.key)? {
                return Ok(Some(hit));
            }
        }
        self.insert_at(loc, item)?;
        Ok(None)
    }

    /// Whether the separator bounding the leaf reached by `path` on its right
    /// (`right`) or left side has `key`. Every item left of a separator is
    /// below it and every item right of it at or above it, so a key other
    /// than the separator's cannot straddle that boundary. `false` at the
    /// tree's edge (no separator on that side).
    fn edge_separator_has(&mut self, path: &[(NodeId, usize)], key: &K, right: bool) -> Step<bool> {
        for &(parent_id, idx) in path.iter().rev() {
            let parent = self.node(parent_id)?;
            let Node::Internal { seps, .. } = &*parent else {
                continue;
            };
            let sep = if right {
                seps.get(idx)
            } else {
                idx.checked_sub(1).and_then(|i| seps.get(i))
            };
            if let Some((sep_key, _)) = sep {
                return Ok(self.cmp_keys(sep_key, key) == Ordering::Equal);
            }
        }
        Ok(false)
    }

    /// Inserts `item` at `loc` (its position) and splits as needed.
    fn insert_at(&mut self, loc: Located<K, V>, item: Arc<Item<K>>) -> Step<()> {
        // Keep no reference to the leaf while writing it: `Arc::make_mut`
        // would otherwise copy the whole node.
        let Located {
            path,
            leaf_id,
            pos,
            leaf,
        } = loc;
        drop(leaf);
        self.epoch += 1;
        let slot = self.shared.options.slot_length;
        let split = {
            let Node::Leaf(items, _) = self.writable(leaf_id)? else {
                return Err(SopError::format("leaf", "expected a leaf").into());
            };
            let appended = pos == items.len();
            items.insert(
                pos,
                item.key.clone(),
                item.id,
                item.version,
                item.value.as_ref(),
            );
            if items.len() > slot {
                // Ascending runs (bulk loads, key-ordered ingest) append at a
                // leaf's end: moving only the new item on leaves full leaves
                // behind instead of half-empty ones, and copies nothing.
                let cut = if appended {
                    items.len() - 1
                } else {
                    items.len() / 2
                };
                let right = items.split_off(cut);
                Some(right)
            } else {
                None
            }
        };
        self.count += 1;
        self.ops.push(Op::Insert(item));
        match split {
            Some(right) => {
                let sep = (right.key(0).clone(), right.id(0));
                let right_id = self.new_node(Node::leaf(right));
                self.propagate_split(path, leaf_id, sep, right_id)
            }
            None => {
                self.spare_path = path;
                Ok(())
            }
        }
    }

    fn propagate_split(
        &mut self,
        mut path: Vec<(NodeId, usize)>,
        mut left: NodeId,
        mut sep: (K, Uuid),
        mut right: NodeId,
    ) -> Step<()> {
        let slot = self.shared.options.slot_length;
        loop {
            let Some((pid, idx)) = path.pop() else {
                // The root split: grow a level.
                let root = self.new_node(Node::Internal {
                    seps: vec![sep],
                    children: vec![left, right],
                });
                self.root = root;
                return Ok(());
            };
            let split = {
                let Node::Internal { seps, children } = self.writable(pid)? else {
                    return Err(
                        SopError::format("internal node", "expected an internal node").into(),
                    );
                };
                seps.insert(idx, sep);
                children.insert(idx + 1, right);
                if children.len() > slot {
                    let mid = children.len() / 2;
                    let right_children = children.split_off(mid);
                    let mut right_seps = seps.split_off(mid - 1);
                    let up = right_seps.remove(0);
                    Some((
                        up,
                        Node::Internal {
                            seps: right_seps,
                            children: right_children,
                        },
                    ))
                } else {
                    None
                }
            };
            match split {
                None => return Ok(()),
                Some((up, node)) => {
                    left = pid;
                    sep = up;
                    right = self.new_node(node);
                }
            }
        }
    }

    /// Replaces the item at `(old_key, item.id)` (the new key compares equal).
    pub fn replace_item(&mut self, old_key: &K, item: Arc<Item<K>>) -> Step<bool> {
        self.pin_all = true;
        let Some(Located { leaf_id, pos, .. }) = self.find_exact(old_key, item.id)? else {
            return Ok(false);
        };
        let Node::Leaf(items, _) = self.writable(leaf_id)? else {
            return Err(SopError::format("leaf", "expected a leaf").into());
        };
        let old_blob = items.replace(pos, item.key.clone(), item.version, item.value.as_ref());
        if let Some(b) = old_blob {
            if !matches!(item.value, crate::btree::item::ValueCell::Blob(nb) if nb == b) {
                self.superseded.push(b);
            }
        }
        self.ops.push(Op::Replace {
            old_key: old_key.clone(),
            item,
        });
        Ok(true)
    }

    /// Removes the item `(key, id)`; `false` if absent.
    pub fn remove_item(&mut self, key: &K, id: Uuid) -> Step<bool> {
        self.pin_all = true;
        let Some(Located {
            path, leaf_id, pos, ..
        }) = self.find_exact(key, id)?
        else {
            return Ok(false);
        };
        // Pin siblings along the path so rebalancing never needs a load.
        for (pid, idx) in path.clone() {
            let parent = self.node(pid)?;
            if let Node::Internal { children, .. } = &*parent {
                if idx > 0 {
                    self.node(children[idx - 1])?;
                }
                if idx + 1 < children.len() {
                    self.node(children[idx + 1])?;
                }
            }
        }
        self.epoch += 1;
        if let Node::Leaf(items, _) = self.writable(leaf_id)? {
            if let (_, Some(b)) = items.remove(pos) {
                self.superseded.push(b);
            }
        }
        self.count -= 1;
        self.ops.push(Op::Remove {
            key: key.clone(),
            id,
        });
        self.rebalance(path, leaf_id)?;
        Ok(true)
    }

    fn rebalance(&mut self, mut path: Vec<(NodeId, usize)>, mut id: NodeId) -> Step<()> {
        let slot = self.shared.options.slot_length;
        let min = (slot / 4).max(1);
        loop {
            let len = self.node(id)?.len();
            let Some((pid, idx)) = path.pop() else {
                // Root: collapse an internal root with one child.
                let root = self.node(id)?;
                if let Node::Internal { children, .. } = &*root {
                    if children.len() == 1 {
                        self.root = children[0];
                        self.free_node(id);
                    }
                }
                return Ok(());
            };
            if len >= min {
                return Ok(());
            }
            let parent = self.node(pid)?;
            let Node::Internal { children, .. } = &*parent else {
                return Ok(());
            };
            let (left_idx, right_idx) = if idx > 0 {
                (idx - 1, idx)
            } else if children.len() > 1 {
                (idx, idx + 1)
            } else {
                return Ok(());
            };
            let (lid, rid) = (children[left_idx], children[right_idx]);
            let l = self.node(lid)?;
            let r = self.node(rid)?;
            let sep = match &*parent {
                Node::Internal { seps, .. } => seps[left_idx].clone(),
                Node::Leaf(..) => return Ok(()),
            };
            let merge = l.len() + r.len() <= slot;
            if merge {
                // Merge right into left.
                let merged = merge_nodes(&l, &r, sep);
                drop((l, r, parent));
                self.set_node(lid, merged);
                self.free_node(rid);
                if let Node::Internal { seps, children } = self.writable(pid)? {
                    seps.remove(left_idx);
                    children.remove(right_idx);
                }
                id = pid;
                continue;
            }
            // Borrow: even out the two siblings.
            let (nl, nr, new_sep) = redistribute(&l, &r, sep);
            drop((l, r, parent));
            self.set_node(lid, nl);
            self.set_node(rid, nr);
            if let Node::Internal { seps, .. } = self.writable(pid)? {
                seps[left_idx] = new_sep;
            }
            return Ok(());
        }
    }

    /// Applies a logged op (used by refetch-and-merge and recovery).
    pub fn apply_op(&mut self, op: &Op<K>) -> Step<()> {
        let store = self.shared.name.clone();
        let conflict = |reason: String| {
            Interrupt::Fail(SopError::Conflict {
                store: store.clone(),
                reason,
            })
        };
        match op {
            Op::Insert(item) => {
                if self.shared.options.unique && self.find_first(&item.key)?.is_some() {
                    return Err(conflict(
                        "a key inserted by this transaction now exists".into(),
                    ));
                }
                self.insert_item(item.clone())
            }
            Op::Replace { old_key, item } => {
                if self.replace_item(old_key, item.clone())? {
                    Ok(())
                } else {
                    Err(conflict(
                        "an item updated by this transaction was removed".into(),
                    ))
                }
            }
            Op::Remove { key, id } => {
                if self.remove_item(key, *id)? {
                    Ok(())
                } else {
                    Err(conflict(
                        "an item removed by this transaction was already removed".into(),
                    ))
                }
            }
        }
    }

    /// Checks one read record against this view (a view on the newest
    /// committed version). `Ok(false)` means the observation changed.
    pub fn still_holds(&mut self, rec: &ReadRecord<K>) -> Step<bool> {
        match rec {
            ReadRecord::Item { pos, version } => {
                let Some(loc) = self.find_exact(&pos.key, pos.id)? else {
                    return Ok(false);
                };
                Ok(loc.item().is_some_and(|it| it.version == *version))
            }
            ReadRecord::Absent(key) => Ok(self.find_first(key)?.is_none()),
            ReadRecord::Gap { lo, hi } => {
                let start = match lo {
                    None => self.seek(Bound::Start)?,
                    Some(p) => match self.find_exact(&p.key, p.id)? {
                        Some(l) => {
                            let mut l = l;
                            l.pos += 1;
                            l
                        }
                        None => return Ok(false),
                    },
                };
                let next = self.settle(start)?;
                Ok(match (next.as_ref().and_then(|l| l.item()), hi) {
                    (None, None) => true,
                    (Some(it), Some(p)) => it.id == p.id,
                    _ => false,
                })
            }
        }
    }
}

/// Asks for the lines a search of `node` reads first (its header, then the
/// first probes of its keys) all at once, so that the dependent probes of
/// the binary search overlap their cache misses.
#[inline(always)]
fn prefetch_node<K: 'static, V>(node: &Node<K, V>) {
    prefetch::value(node);
    node.search_lines().request();
}

fn merge_nodes<K: Clone + 'static, V>(
    l: &Node<K, V>,
    r: &Node<K, V>,
    sep: (K, Uuid),
) -> Node<K, V> {
    match (l, r) {
        (Node::Leaf(a, _), Node::Leaf(b, _)) => {
            let mut m = a.clone();
            m.append(b);
            Node::leaf(m)
        }
        (
            Node::Internal {
                seps: sa,
                children: ca,
            },
            Node::Internal {
                seps: sb,
                children: cb,
            },
        ) => {
            let mut seps = sa.clone();
            seps.push(sep);
            seps.extend(sb.iter().cloned());
            let mut children = ca.clone();
            children.extend(cb.iter().copied());
            Node::Internal { seps, children }
        }
        _ => l.clone(),
    }
}

fn redistribute<K: Clone + 'static, V>(
    l: &Node<K, V>,
    r: &Node<K, V>,
    sep: (K, Uuid),
) -> (Node<K, V>, Node<K, V>, (K, Uuid)) {
    // Even out two siblings: merge them, then split the result in half.
    match merge_nodes(l, r, sep.clone()) {
        Node::Leaf(mut all, _) => {
            let right = all.split_off(all.len() / 2);
            let new_sep = (right.key(0).clone(), right.id(0));
            (Node::leaf(all), Node::leaf(right), new_sep)
        }
        Node::Internal {
            mut seps,
            mut children,
        } => {
            let mid = children.len() / 2;
            let right_children = children.split_off(mid);
            let mut right_seps = seps.split_off(mid - 1);
            let up = right_seps.remove(0);
            (
                Node::Internal { seps, children },
                Node::Internal {
                    seps: right_seps,
                    children: right_children,
                },
                up,
            )
        }
    }
}
