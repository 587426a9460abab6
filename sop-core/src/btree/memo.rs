//! A view's memo of the clean snapshot nodes it resolved: direct mapped by
//! logical node id, growing with the view's working set.
//!
//! Resolving a node through the snapshot's node map and the L1 cache costs
//! several dependent cache misses; a memo hit costs one. Node ids are dense
//! (allocated from one counter), so `id mod size` rarely collides once the
//! memo is as large as the part of the tree the view reads.
//!
//! Invariants:
//! - Sound because a snapshot never changes and the view consults its own
//!   overlay first; a node the view copies for writing is forgotten here.
//! - A slot keeps, besides the node, the address of its search's first
//!   probes ([`SearchLines`]), so a hit can request them before the node is
//!   read ([`NodeMemo::get_prefetched`]). The address stays valid as long as
//!   the slot holds the node: memoised nodes are immutable snapshot nodes.
//! - The memo holds at most `max` nodes (the L1 cache's capacity), so a view
//!   never keeps more nodes alive than the cache would. It starts empty,
//!   allocates [`MIN_SLOTS`] on first use and quadruples when misses exceed
//!   four times its size: short transactions stay cheap, long readers end up
//!   with their whole working set one miss away.

use std::sync::Arc;

use crate::btree::item::Node;
use crate::btree::prefetch::{self, SearchLines};
use crate::storage::registry::NodeId;

/// Slots allocated on first use.
pub const MIN_SLOTS: usize = 256;

type Slot<K, V> = Option<(NodeId, Arc<Node<K, V>>, SearchLines)>;

/// See the module docs.
pub struct NodeMemo<K: 'static, V> {
    slots: Vec<Slot<K, V>>,
    misses: usize,
    max: usize,
}

impl<K: 'static, V> NodeMemo<K, V> {
    /// An empty memo that grows up to `max` slots (rounded up to a power of
    /// two, at least [`MIN_SLOTS`]).
    pub fn new(max: usize) -> Self {
        NodeMemo {
            slots: Vec::new(),
            misses: 0,
            max: max.max(MIN_SLOTS).next_power_of_two(),
        }
    }

    #[inline]
    fn index(&self, id: NodeId) -> usize {
        (id as usize) & (self.slots.len() - 1)
    }

    /// The memoised node `id`, if any.
    #[inline]
    pub fn get(&self, id: NodeId) -> Option<&Arc<Node<K, V>>> {
        if self.slots.is_empty() {
            return None;
        }
        match &self.slots[self.index(id)] {
            Some((hid, n, _)) if *hid == id => Some(n),
            _ => None,
        }
    }

    /// The memoised node `id`, if any, after requesting the node's header
    /// and its search's first probes from memory all at once (neither is
    /// read here).
    #[inline]
    pub fn get_prefetched(&self, id: NodeId) -> Option<&Arc<Node<K, V>>> {
        if self.slots.is_empty() {
            return None;
        }
        match &self.slots[self.index(id)] {
            Some((hid, n, lines)) if *hid == id => {
                // `&**n` is the node's address: taking it reads nothing.
                prefetch::value(&**n);
                lines.request();
                Some(n)
            }
            _ => None,
        }
    }

    /// Remembers node `id` (called after a miss).
    pub fn put(&mut self, id: NodeId, node: Arc<Node<K, V>>) {
        self.misses += 1;
        if self.slots.is_empty() {
            self.slots = empty_slots(MIN_SLOTS);
        } else if self.misses > 4 * self.slots.len() && self.slots.len() < self.max {
            self.grow();
        }
        let i = self.index(id);
        let lines = node.search_lines();
        self.slots[i] = Some((id, node, lines));
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 4).min(self.max);
        let old = std::mem::replace(&mut self.slots, empty_slots(size));
        for slot in old.into_iter().flatten() {
            let i = self.index(slot.0);
            self.slots[i] = Some(slot);
        }
        self.misses = 0;
    }

    /// Forgets node `id` (the view is about to change it).
    pub fn forget(&mut self, id: NodeId) {
        if self.slots.is_empty() {
            return;
        }
        let i = self.index(id);
        if self.slots[i].as_ref().is_some_and(|(hid, _, _)| *hid == id) {
            self.slots[i] = None;
        }
    }

    /// Current number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

fn empty_slots<K: 'static, V>(n: usize) -> Vec<Slot<K, V>> {
    let mut v = Vec::with_capacity(n);
    v.resize_with(n, || None);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::item::Leaf;

    fn node() -> Arc<Node<u32, u32>> {
        Arc::new(Node::leaf(Leaf::default()))
    }

    #[test]
    fn grows_with_misses_up_to_its_bound_and_keeps_entries() {
        let mut m: NodeMemo<u32, u32> = NodeMemo::new(4096);
        assert!(m.get(1).is_none());
        let n = node();
        for id in 0..20_000u64 {
            m.put(id, n.clone());
        }
        assert_eq!(m.capacity(), 4096);
        // Dense ids: the last `capacity` ids are all present.
        assert!((20_000 - 4096..20_000u64).all(|id| m.get(id).is_some()));
        assert!(Arc::ptr_eq(
            m.get_prefetched(19_998).expect("memoised"),
            m.get(19_998).expect("memoised")
        ));
        m.forget(19_999);
        assert!(m.get(19_999).is_none());
        assert!(m.get_prefetched(19_999).is_none());
        assert!(m.get(19_999 - 4096).is_none(), "evicted by its collider");
        // A short-lived view stays small.
        let mut small: NodeMemo<u32, u32> = NodeMemo::new(1 << 20);
        for id in 0..1000u64 {
            small.put(id, n.clone());
        }
        assert_eq!(small.capacity(), MIN_SLOTS);
    }
}
