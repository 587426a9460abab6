//! Process-wide caches that let queries run at memory speed (SPEC §2.4 "hot buckets").
//!
//! - **Codebooks** ([`CentroidSet`]) keyed by `(domain uuid, version, centroids store
//!   snapshot version)`: valid for exactly one committed state of `centroids_vN`.
//! - **Bucket slabs** ([`Bucket`]) keyed by `(domain uuid, version, centroid id)` and tagged with
//!   the bucket's `epoch` (see [`crate::schema`]): a hit needs the epoch read in the caller's
//!   transaction to match, so a commit that changes a bucket invalidates only that bucket.
//!
//! Entries are only inserted from clean (unchanged in the transaction) stores, so a cache entry
//! never holds uncommitted data. The slab cache is bounded by a float budget
//! ([`set_slab_budget`]); when full, arbitrary entries are evicted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::centroids::Centroids;
use crate::packed::PackedSlab;

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

/// One bucket's live vectors in scan order (ascending distance to the centroid).
#[derive(Debug)]
pub struct Bucket {
    /// Item ids, row-aligned with `slab`.
    pub ids: Vec<String>,
    /// Distance of each row to the centroid (ascending).
    pub distances: Vec<f32>,
    /// The vectors, packed for the block kernels.
    pub slab: PackedSlab,
}

impl Bucket {
    /// Floats held (for the budget).
    fn weight(&self) -> usize {
        self.slab.blocks() * self.slab.dim() * crate::packed::BLOCK + self.ids.len() * 8
    }
}

type CodebookKey = (String, u32, u64);
type BucketKey = (String, u32, u32);

struct Caches {
    codebooks: HashMap<CodebookKey, Arc<CentroidSet>>,
    buckets: HashMap<BucketKey, (u64, Arc<Bucket>)>,
    weight: usize,
    budget: usize,
}

fn caches() -> MutexGuard<'static, Caches> {
    static CACHES: OnceLock<Mutex<Caches>> = OnceLock::new();
    CACHES
        .get_or_init(|| {
            Mutex::new(Caches {
                codebooks: HashMap::new(),
                buckets: HashMap::new(),
                weight: 0,
                budget: 512 << 20,
            })
        })
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Sets the slab cache budget in floats (default 512 Mi floats = 2 GiB).
pub fn set_slab_budget(floats: usize) {
    caches().budget = floats;
}

/// A cached codebook.
pub fn codebook(uuid: &str, version: u32, snapshot: u64) -> Option<Arc<CentroidSet>> {
    caches()
        .codebooks
        .get(&(uuid.to_string(), version, snapshot))
        .cloned()
}

/// Caches a codebook (replacing older snapshots of the same version).
pub fn put_codebook(uuid: &str, version: u32, snapshot: u64, set: Arc<CentroidSet>) {
    let mut c = caches();
    c.codebooks
        .retain(|k, _| !(k.0 == uuid && k.1 == version && k.2 < snapshot));
    c.codebooks
        .insert((uuid.to_string(), version, snapshot), set);
}

/// A cached bucket, if its epoch is `epoch`.
pub fn bucket(uuid: &str, version: u32, centroid: u32, epoch: u64) -> Option<Arc<Bucket>> {
    let c = caches();
    match c.buckets.get(&(uuid.to_string(), version, centroid)) {
        Some((e, b)) if *e == epoch => Some(b.clone()),
        _ => None,
    }
}

/// Caches a bucket at `epoch`, evicting entries beyond the budget.
pub fn put_bucket(uuid: &str, version: u32, centroid: u32, epoch: u64, bucket: Arc<Bucket>) {
    let mut c = caches();
    let w = bucket.weight();
    if w > c.budget {
        return;
    }
    if let Some((_, old)) = c
        .buckets
        .insert((uuid.to_string(), version, centroid), (epoch, bucket))
    {
        c.weight -= old.weight();
    }
    c.weight += w;
    while c.weight > c.budget {
        let Some(k) = c.buckets.keys().next().cloned() else {
            break;
        };
        if let Some((_, old)) = c.buckets.remove(&k) {
            c.weight -= old.weight();
        }
    }
}

/// Drops every cached entry of a domain version (after a rebuild retires it).
pub fn forget_version(uuid: &str, version: u32) {
    let mut c = caches();
    c.codebooks.retain(|k, _| !(k.0 == uuid && k.1 == version));
    let mut freed = 0;
    c.buckets.retain(|k, (_, b)| {
        let keep = !(k.0 == uuid && k.1 == version);
        if !keep {
            freed += b.weight();
        }
        keep
    });
    c.weight -= freed;
}
