//! L1: the in-process cache of decoded nodes and values.
//!
//! Keyed by physical blob id. Physical ids are never reused (every new node
//! version or value gets a fresh UUID), so a hit is always the exact version
//! asked for: the "physical id + version" key of SOP collapses into one UUID.
//! Entries are type-erased (`Arc<dyn Any>`); a lookup with the wrong type is a
//! miss. Eviction is least-recently-used, amortised: a shard that grows 10%
//! past its share drops its oldest tenth.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use uuid::Uuid;

const SHARDS: usize = 16;

type Entry = (Arc<dyn Any + Send + Sync>, u64);

struct Shard {
    map: crate::id_hash::IdMap<Uuid, Entry>,
    tick: u64,
}

/// A sharded LRU of decoded objects.
pub struct L1Cache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl L1Cache {
    /// A cache holding about `capacity` objects.
    pub fn new(capacity: usize) -> Self {
        L1Cache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: Default::default(),
                        tick: 0,
                    })
                })
                .collect(),
            per_shard: (capacity / SHARDS).max(8),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: &Uuid) -> &Mutex<Shard> {
        let b = id.as_bytes();
        &self.shards[(b[15] as usize) % SHARDS]
    }

    /// Looks up an object of type `T`.
    pub fn get<T: Send + Sync + 'static>(&self, id: Uuid) -> Option<Arc<T>> {
        let mut shard = self.shard(&id).lock();
        shard.tick += 1;
        let t = shard.tick;
        match shard.map.get_mut(&id) {
            Some((obj, used)) => {
                *used = t;
                let obj = obj.clone();
                drop(shard);
                self.hits.fetch_add(1, Ordering::Relaxed);
                obj.downcast::<T>().ok()
            }
            None => {
                drop(shard);
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Inserts an object.
    pub fn put<T: Send + Sync + 'static>(&self, id: Uuid, obj: Arc<T>) {
        self.insert(id, obj);
    }

    fn insert(&self, id: Uuid, obj: Arc<dyn Any + Send + Sync>) {
        let mut shard = self.shard(&id).lock();
        shard.tick += 1;
        let t = shard.tick;
        shard.map.insert(id, (obj, t));
        if shard.map.len() > self.per_shard + self.per_shard / 10 {
            let mut ticks: Vec<u64> = shard.map.values().map(|(_, u)| *u).collect();
            let cut_at = shard.map.len() - self.per_shard;
            ticks.select_nth_unstable(cut_at);
            let cut = ticks[cut_at];
            shard.map.retain(|_, (_, u)| *u >= cut);
        }
    }

    /// Makes the object cached under `from` also available under `to` (a
    /// node moved to a new physical id with identical content).
    pub fn alias(&self, from: Uuid, to: Uuid) {
        let obj = self
            .shard(&from)
            .lock()
            .map
            .get(&from)
            .map(|(o, _)| o.clone());
        if let Some(obj) = obj {
            self.insert(to, obj);
        }
    }

    /// Drops an entry.
    pub fn remove(&self, id: Uuid) {
        self.shard(&id).lock().map.remove(&id);
    }

    /// (hits, misses) since creation.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recent_and_types_are_checked() {
        let c = L1Cache::new(16 * 8);
        let ids: Vec<Uuid> = (0..1000).map(|_| Uuid::new_v4()).collect();
        for (i, id) in ids.iter().enumerate() {
            c.put(*id, Arc::new(i));
        }
        let kept = ids
            .iter()
            .filter(|id| c.get::<usize>(**id).is_some())
            .count();
        assert!(kept <= 16 * 9, "kept {kept}");
        let last = ids[999];
        assert_eq!(c.get::<usize>(last).as_deref(), Some(&999));
        assert!(c.get::<String>(last).is_none());
    }
}
