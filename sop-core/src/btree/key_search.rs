//! A store's key order together with the two searches every descent runs:
//! the child of an internal node and the position in a leaf.
//!
//! A [`Comparator::Natural`] order is a function pointer (`<K as Ord>::cmp`),
//! so a search generic over it would make an indirect call per probe, with
//! nothing inlined into the loop. For natural orders this module therefore
//! keeps the two searches themselves as function pointers, monomorphised
//! over `K::cmp` where `K: Ord` is known ([`KeySearch::natural`]): one
//! indirect call per node, and the key comparison (for byte-array keys a few
//! word compares) inlined into the search loop. Custom orders (an
//! [`crate::IndexSpec`]) search through the [`crate::KeyOrder`] object.
//!
//! Invariant: `natural` is `Some` exactly when `order` is
//! [`Comparator::Natural`], and its searches order keys by that same `Ord`.

use std::cmp::Ordering;
use std::sync::Arc;

use uuid::Uuid;

use crate::btree::leaf::Leaf;
use crate::btree::view::MIN_ID;
use crate::index_spec::{Comparator, KeyOrder};

/// Index of the first item of a leaf that is `>= (key, id)`.
type LeafBoundFn<K> = fn(&Leaf<K>, &K, Uuid) -> usize;
/// Index of the child of an internal node (given its separators) that holds
/// `(key, id)`.
type ChildIndexFn<K> = fn(&[(K, Uuid)], &K, Uuid) -> usize;

/// The searches of a natural order, compiled for its key type.
struct NaturalSearches<K: 'static> {
    leaf_bound: LeafBoundFn<K>,
    child_index: ChildIndexFn<K>,
}

/// See the module docs.
pub struct KeySearch<K: 'static> {
    order: Comparator<K>,
    natural: Option<NaturalSearches<K>>,
}

impl<K: 'static> Clone for KeySearch<K> {
    fn clone(&self) -> Self {
        KeySearch {
            order: self.order.clone(),
            natural: self.natural.as_ref().map(|n| NaturalSearches {
                leaf_bound: n.leaf_bound,
                child_index: n.child_index,
            }),
        }
    }
}

impl<K: Ord + 'static> KeySearch<K> {
    /// The key type's own order.
    pub fn natural() -> Self {
        KeySearch {
            order: Comparator::natural(),
            natural: Some(NaturalSearches {
                leaf_bound: |leaf, key, id| leaf_bound_by(leaf, key, id, K::cmp),
                child_index: |seps, key, id| child_index_by(seps, key, id, K::cmp),
            }),
        }
    }
}

impl<K: 'static> KeySearch<K> {
    /// A custom order (for example an [`crate::IndexSpec`]).
    pub fn custom(order: Arc<dyn KeyOrder<K>>) -> Self {
        KeySearch {
            order: Comparator::Custom(order),
            natural: None,
        }
    }

    /// Compares two keys.
    #[inline]
    pub fn compare(&self, a: &K, b: &K) -> Ordering {
        self.order.compare(a, b)
    }

    /// Index of the first item of `leaf` that is `>= (key, id)`.
    #[inline]
    pub fn leaf_bound(&self, leaf: &Leaf<K>, key: &K, id: Uuid) -> usize {
        match &self.natural {
            Some(n) => (n.leaf_bound)(leaf, key, id),
            None => leaf_bound_by(leaf, key, id, |a: &K, b: &K| self.order.compare(a, b)),
        }
    }

    /// Index of the child of an internal node with separators `seps` that
    /// holds `(key, id)`.
    #[inline]
    pub fn child_index(&self, seps: &[(K, Uuid)], key: &K, id: Uuid) -> usize {
        match &self.natural {
            Some(n) => (n.child_index)(seps, key, id),
            None => child_index_by(seps, key, id, |a: &K, b: &K| self.order.compare(a, b)),
        }
    }
}

/// Index of the first item of `leaf` that is `>= (key, id)` under `cmp`.
#[inline]
fn leaf_bound_by<K: 'static>(
    leaf: &Leaf<K>,
    key: &K,
    id: Uuid,
    cmp: impl Fn(&K, &K) -> Ordering,
) -> usize {
    let (mut lo, mut hi) = (0, leaf.len());
    // The first probes were requested with the leaf (its search lines); the
    // last ones fall in a few lines that are requested together here.
    let window = Leaf::<K>::window_items();
    let mut window_requested = false;
    while lo < hi {
        if !window_requested && hi - lo <= window {
            leaf.prefetch_window(lo, hi);
            window_requested = true;
        }
        let mid = lo + (hi - lo) / 2;
        let less = match cmp(leaf.key(mid), key) {
            Ordering::Less => true,
            Ordering::Greater => false,
            // No id is below the nil id: skip reading the slot then.
            Ordering::Equal => id != MIN_ID && leaf.id(mid) < id,
        };
        if less {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Index of the child holding `(key, id)`: the number of separators
/// `<= (key, id)` under `cmp`.
#[inline]
fn child_index_by<K: 'static>(
    seps: &[(K, Uuid)],
    key: &K,
    id: Uuid,
    cmp: impl Fn(&K, &K) -> Ordering,
) -> usize {
    seps.partition_point(|(sk, sid)| cmp(sk, key).then_with(|| sid.cmp(&id)) != Ordering::Greater)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::leaf::CellRef;
    use crate::index_spec::NaturalOrder;

    fn leaf_of(keys: &[u32]) -> Leaf<u32> {
        let mut leaf = Leaf::default();
        for (i, k) in keys.iter().enumerate() {
            leaf.insert(
                i,
                *k,
                Uuid::from_u128(i as u128 + 1),
                1,
                CellRef::Inline(&[0xc0]),
            );
        }
        leaf
    }

    #[test]
    fn natural_and_custom_searches_agree() {
        let natural = KeySearch::<u32>::natural();
        let custom = KeySearch::<u32>::custom(Arc::new(NaturalOrder));
        let keys: Vec<u32> = (0..100).map(|i| i * 2).collect();
        let leaf = leaf_of(&keys);
        // The searches below pass through the window request, not only the
        // plain binary search; a window past the end requests nothing.
        assert!(Leaf::<u32>::window_items() < keys.len() / 2);
        leaf.prefetch_window(keys.len() - 3, keys.len() + 5);
        let seps: Vec<(u32, Uuid)> = keys.iter().map(|k| (*k, MIN_ID)).collect();
        for probe in 0..=200u32 {
            for id in [MIN_ID, Uuid::from_u128(u128::MAX)] {
                let want = keys.partition_point(|k| *k < probe || (*k == probe && id != MIN_ID));
                assert_eq!(natural.leaf_bound(&leaf, &probe, id), want, "{probe}");
                assert_eq!(custom.leaf_bound(&leaf, &probe, id), want, "{probe}");
                let child = natural.child_index(&seps, &probe, id);
                assert_eq!(child, custom.child_index(&seps, &probe, id));
                assert_eq!(child, keys.partition_point(|k| *k <= probe));
            }
        }
        assert_eq!(natural.compare(&1, &2), Ordering::Less);
        assert_eq!(natural.clone().compare(&2, &2), Ordering::Equal);
    }
}
