//! Process-wide caches that let queries run at memory speed (SPEC §2.4 "hot buckets").
//!
//! - **Codebooks** ([`CentroidSet`]) keyed by `(domain uuid, version, centroids store
//!   snapshot version)`: valid for exactly one committed state of `centroids_vN`.
//! - **Buckets** ([`Bucket`]) keyed by `(domain uuid, version, centroid id)` and tagged with
//!   the bucket's `epoch` (see [`crate::schema`]): a hit needs the epoch read in the caller's
//!   transaction to match, so a commit that changes a bucket invalidates only that bucket.
//!
//! Entries are only inserted from clean (unchanged in the transaction) stores, so a cache entry
//! never holds uncommitted data. The bucket cache is bounded by a byte budget
//! ([`set_slab_budget`]); when full, arbitrary entries are evicted. Entries are grouped per
//! domain instance, so a lookup borrows the uuid; the buckets of one query are looked up
//! under one lock ([`buckets`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::bucket::Bucket;
use crate::centroids::Centroids;

/// A loaded codebook with per-centroid bookkeeping (parallel vectors, index = codebook row).
#[derive(Clone, Debug)]
pub struct CentroidSet {
    /// Centroid id of each codebook row.
    pub ids: Vec<u32>,
    /// The codebook (`None` when the domain has no centroid yet).
    pub codebook: Option<Centroids>,
    /// Live items per centroid.
    pub counts: Vec<u64>,
    /// Tombstones per centroid.
    pub deleted: Vec<u64>,
    /// Bucket epochs.
    pub epochs: Vec<u64>,
}

impl CentroidSet {
    /// Total live items.
    pub fn live(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Row of centroid id `id`.
    pub fn row_of(&self, id: u32) -> Option<usize> {
        self.ids.iter().position(|&c| c == id)
    }
}

type CodebookKey = (u32, u64);
type BucketKey = (u32, u32);

/// Caches of one domain instance (keyed by its uuid).
#[derive(Default)]
struct DomainCaches {
    codebooks: HashMap<CodebookKey, Arc<CentroidSet>>,
    buckets: HashMap<BucketKey, (u64, Arc<Bucket>)>,
}

struct Caches {
    /// Per domain uuid; a short list searched linearly (no hashing of the uuid per lookup).
    domains: Vec<(String, DomainCaches)>,
    weight: usize,
    budget: usize,
}

impl Caches {
    fn domain(&self, uuid: &str) -> Option<&DomainCaches> {
        self.domains.iter().find(|(u, _)| u == uuid).map(|(_, d)| d)
    }

    fn domain_mut(&mut self, uuid: &str) -> &mut DomainCaches {
        let at = match self.domains.iter().position(|(u, _)| u == uuid) {
            Some(i) => i,
            None => {
                self.domains
                    .push((uuid.to_string(), DomainCaches::default()));
                self.domains.len() - 1
            }
        };
        &mut self.domains[at].1
    }
}

fn caches() -> MutexGuard<'static, Caches> {
    static CACHES: OnceLock<Mutex<Caches>> = OnceLock::new();
    CACHES
        .get_or_init(|| {
            Mutex::new(Caches {
                domains: Vec::new(),
                weight: 0,
                budget: 2 << 30,
            })
        })
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Sets the bucket cache budget in bytes (default 2 GiB).
pub fn set_slab_budget(bytes: usize) {
    caches().budget = bytes;
}

/// A cached codebook.
pub fn codebook(uuid: &str, version: u32, snapshot: u64) -> Option<Arc<CentroidSet>> {
    caches()
        .domain(uuid)?
        .codebooks
        .get(&(version, snapshot))
        .cloned()
}

/// Caches a codebook (replacing older snapshots of the same version).
pub fn put_codebook(uuid: &str, version: u32, snapshot: u64, set: Arc<CentroidSet>) {
    let mut c = caches();
    let d = c.domain_mut(uuid);
    d.codebooks
        .retain(|k, _| !(k.0 == version && k.1 < snapshot));
    d.codebooks.insert((version, snapshot), set);
}

/// The cached buckets of `wanted` (`(centroid, epoch)` pairs), in order, under one lock:
/// `None` where a bucket is missing or cached at another epoch.
pub fn buckets(uuid: &str, version: u32, wanted: &[(u32, u64)]) -> Vec<Option<Arc<Bucket>>> {
    let c = caches();
    let Some(d) = c.domain(uuid) else {
        return vec![None; wanted.len()];
    };
    wanted
        .iter()
        .map(
            |&(centroid, epoch)| match d.buckets.get(&(version, centroid)) {
                Some((e, b)) if *e == epoch => Some(b.clone()),
                _ => None,
            },
        )
        .collect()
}

/// Caches a bucket at `epoch`, evicting entries beyond the budget.
pub fn put_bucket(uuid: &str, version: u32, centroid: u32, epoch: u64, bucket: Arc<Bucket>) {
    let mut guard = caches();
    let c = &mut *guard;
    let w = bucket.bytes();
    if w > c.budget {
        return;
    }
    let d = c.domain_mut(uuid);
    if let Some((_, old)) = d.buckets.insert((version, centroid), (epoch, bucket)) {
        c.weight -= old.bytes();
    }
    c.weight += w;
    while c.weight > c.budget {
        let victim = c
            .domains
            .iter()
            .find_map(|(u, d)| d.buckets.keys().next().map(|k| (u.clone(), *k)));
        let Some((u, k)) = victim else {
            break;
        };
        if let Some((_, old)) = c.domain_mut(&u).buckets.remove(&k) {
            c.weight -= old.bytes();
        }
    }
}

/// Drops every cached entry of a domain version (after a rebuild retires it).
pub fn forget_version(uuid: &str, version: u32) {
    let mut guard = caches();
    let c = &mut *guard;
    let Some((_, d)) = c.domains.iter_mut().find(|(u, _)| u == uuid) else {
        return;
    };
    d.codebooks.retain(|k, _| k.0 != version);
    let mut freed = 0;
    d.buckets.retain(|k, (_, b)| {
        let keep = k.0 != version;
        if !keep {
            freed += b.bytes();
        }
        keep
    });
    c.weight -= freed;
}
