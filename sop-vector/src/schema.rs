//! The on-B-tree layout of a vector domain `D` (SPEC §2.1): store names, keys and records.
//!
//! | store | key → value |
//! |---|---|
//! | `D/sys_config` | domain name → [`DomainConfig`] (active version, dimensions, metric, lock) |
//! | `D/centroids_vN` | centroid id → [`CentroidRecord`] (vector, live and deleted counts, epoch) |
//! | `D/vecs_vN` | [`VecKey`] `(centroid, distance, id)` + ride-on `deleted` → prepared vector ([`crate::stored::StoredVector`]) |
//! | `D/data` | [`DataKey`] `id` + ride-on location / `next_*` / `deleted` → payload JSON |
//! | `D/lku_vN` | dense sequence number `0..n-1` → item id (the Lookup tree) |
//! | `D/tmp_vecs` | item id → vector: ingestion buffer, created but unused by this version |
//!
//! The encodings and store options are versioned by [`LAYOUT_VERSION`] (recorded per domain in
//! [`DomainConfig::layout`]).
//!
//! Invariants (maintained by every writer in its transaction):
//! - every item id of `data` has exactly one `vecs_vN` entry for the active version `N`, at the
//!   location its data key resolves to for `N` ([`DataKey::location`]); the two agree on
//!   `deleted`;
//! - a centroid record's `count` is the number of live entries of its bucket and `deleted` the
//!   number of tombstones; `epoch` changes (randomly) whenever the bucket's content changes, so
//!   `(domain uuid, version, centroid, epoch)` identifies one bucket content (slab cache key);
//! - `distance` is the Euclidean distance `‖x − c‖` between the prepared vector and its
//!   centroid, whatever the metric (it drives triangle-inequality pruning).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::item_id::ItemId;
use crate::metric::Metric;

/// `f32` totally ordered with [`f32::total_cmp`] (for keys).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct OrdF32(pub f32);

impl PartialEq for OrdF32 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for OrdF32 {}
impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF32 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Key of `D/vecs_vN`: ordered by `(centroid, distance, id)`; `deleted` rides on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VecKey {
    /// Bucket (centroid id).
    pub centroid: u32,
    /// Euclidean distance to the centroid.
    pub distance: OrdF32,
    /// Item id.
    pub id: ItemId,
    /// Tombstone (ride-on: not part of the ordering).
    pub deleted: bool,
}

impl VecKey {
    /// A live key.
    pub fn new(centroid: u32, distance: f32, id: impl Into<ItemId>) -> Self {
        Self {
            centroid,
            distance: OrdF32(distance),
            id: id.into(),
            deleted: false,
        }
    }

    /// Smallest key of bucket `centroid`.
    pub fn bucket_start(centroid: u32) -> Self {
        Self::new(centroid, f32::NEG_INFINITY, ItemId::default())
    }

    fn ordering_fields(&self) -> (u32, OrdF32, &ItemId) {
        (self.centroid, self.distance, &self.id)
    }
}

impl PartialEq for VecKey {
    fn eq(&self, other: &Self) -> bool {
        self.ordering_fields() == other.ordering_fields()
    }
}
impl Eq for VecKey {}
impl PartialOrd for VecKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for VecKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ordering_fields().cmp(&other.ordering_fields())
    }
}

/// Where an item lives in one version: bucket and distance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Location {
    /// Centroid id.
    pub centroid: u32,
    /// Distance to the centroid.
    pub distance: f32,
}

impl Location {
    /// The `vecs` key of item `id` at this location.
    pub fn key(&self, id: impl Into<ItemId>, deleted: bool) -> VecKey {
        VecKey {
            deleted,
            ..VecKey::new(self.centroid, self.distance, id)
        }
    }
}

/// Key of `D/data`: ordered by `id` only; everything else rides on.
///
/// `(centroid, distance, version)` is the item's location in `version`; a rebuild writes the
/// location in the version it builds into `next_*` so readers of the current version keep
/// working until the switch. [`DataKey::location`] resolves the right one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataKey {
    /// Item id.
    pub id: ItemId,
    /// Centroid in `version`.
    pub centroid: u32,
    /// Distance in `version`.
    pub distance: f32,
    /// Version the location above belongs to.
    pub version: u32,
    /// Tombstone.
    pub deleted: bool,
    /// Centroid in `next_version`.
    pub next_centroid: u32,
    /// Distance in `next_version`.
    pub next_distance: f32,
    /// Version being (or last) built by a rebuild; `0` when none.
    pub next_version: u32,
}

impl DataKey {
    /// A key that only carries the id (for lookups).
    pub fn probe(id: impl Into<ItemId>) -> Self {
        Self::at(
            id,
            Location {
                centroid: 0,
                distance: 0.0,
            },
            0,
        )
    }

    /// A live key located at `loc` in `version`.
    pub fn at(id: impl Into<ItemId>, loc: Location, version: u32) -> Self {
        Self {
            id: id.into(),
            centroid: loc.centroid,
            distance: loc.distance,
            version,
            deleted: false,
            next_centroid: 0,
            next_distance: 0.0,
            next_version: 0,
        }
    }

    /// The item's location in `version`, if this key knows it.
    pub fn location(&self, version: u32) -> Option<Location> {
        if self.next_version == version && version != 0 {
            Some(Location {
                centroid: self.next_centroid,
                distance: self.next_distance,
            })
        } else if self.version == version {
            Some(Location {
                centroid: self.centroid,
                distance: self.distance,
            })
        } else {
            None
        }
    }

    /// The key of a live item being migrated by a rebuild: located at `current` in
    /// `current_version` and at `next` in `next_version`.
    pub fn migrating(
        id: ItemId,
        current: Location,
        current_version: u32,
        next: Location,
        next_version: u32,
    ) -> Self {
        Self {
            id,
            centroid: current.centroid,
            distance: current.distance,
            version: current_version,
            deleted: false,
            next_centroid: next.centroid,
            next_distance: next.distance,
            next_version,
        }
    }
}

impl PartialEq for DataKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for DataKey {}
impl PartialOrd for DataKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for DataKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.id.cmp(&other.id)
    }
}

/// Value of `D/centroids_vN`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CentroidRecord {
    /// Centroid vector (unit length for cosine).
    pub vector: Vec<f32>,
    /// Live items in the bucket.
    pub count: u64,
    /// Tombstones in the bucket.
    pub deleted: u64,
    /// Changes whenever the bucket content changes (slab cache key).
    pub epoch: u64,
}

/// The rebuild lock held in [`DomainConfig::lock`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildLock {
    /// Unique id of the rebuild run.
    pub owner: String,
    /// Version being built.
    pub target_version: u32,
    /// Milliseconds since the Unix epoch when the lock was taken.
    pub started_ms: u64,
    /// Milliseconds since the Unix epoch of the last heartbeat.
    pub heartbeat_ms: u64,
}

/// Value of `D/sys_config` (one record, keyed by the domain name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainConfig {
    /// Random id of the domain instance (keys the in-memory caches).
    pub uuid: String,
    /// Version `N` whose `centroids_vN` / `vecs_vN` / `lku_vN` are live.
    pub active_version: u32,
    /// Fixed vector length.
    pub dimensions: usize,
    /// Scoring metric.
    pub metric: Metric,
    /// Free-form embedder description.
    pub embedder: String,
    /// Live items counted by the last rebuild (0 before the first).
    pub built_items: u64,
    /// Centroids created by the last rebuild (0 before the first).
    pub built_centroids: u64,
    /// Rebuild lock, when a rebuild runs (or crashed).
    pub lock: Option<RebuildLock>,
    /// Layout the domain was created with ([`LAYOUT_VERSION`]); `1` for records written
    /// before the field existed.
    #[serde(default = "layout_1")]
    pub layout: u32,
}

fn layout_1() -> u32 {
    1
}

/// Layout written by this version of the crate.
///
/// - **1**: `vecs_vN` values are MessagePack arrays of `f32`; `data` allows duplicate keys
///   (uniqueness kept by the writers); slots: `vecs` 128, `data` 256, `lku` 1,000.
/// - **2**: `vecs_vN` values are byte strings ([`crate::stored::StoredVector`]); `data` is a
///   unique tree (an insert checks and adds in one descent); slots: `vecs` 256, `data` 512,
///   `lku` 2,000 (fewer, larger node blobs).
///
/// Layout-1 domains keep working: values of both encodings are read, an existing store is
/// always opened with the options it was created with, and writers check `data`'s
/// uniqueness at run time. Stores a rebuild creates for a layout-1 domain use layout 2.
pub const LAYOUT_VERSION: u32 = 2;

/// Names of the stores of domain `domain`.
#[derive(Clone, Debug)]
pub struct StoreNames {
    domain: String,
}

impl StoreNames {
    /// Names for `domain`.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_string(),
        }
    }

    /// `D/sys_config`.
    pub fn sys_config(&self) -> String {
        format!("{}/sys_config", self.domain)
    }
    /// `D/data`.
    pub fn data(&self) -> String {
        format!("{}/data", self.domain)
    }
    /// `D/tmp_vecs`.
    pub fn tmp_vecs(&self) -> String {
        format!("{}/tmp_vecs", self.domain)
    }
    /// `D/centroids_vN`.
    pub fn centroids(&self, version: u32) -> String {
        format!("{}/centroids_v{version}", self.domain)
    }
    /// `D/vecs_vN`.
    pub fn vecs(&self, version: u32) -> String {
        format!("{}/vecs_v{version}", self.domain)
    }
    /// `D/lku_vN`.
    pub fn lku(&self, version: u32) -> String {
        format!("{}/lku_v{version}", self.domain)
    }

    /// The version of a versioned store name of this domain (`D/vecs_v7` → 7).
    pub fn version_of(&self, store: &str) -> Option<u32> {
        let rest = store.strip_prefix(&self.domain)?.strip_prefix('/')?;
        let (_, v) = rest.rsplit_once("_v")?;
        ["centroids_v", "vecs_v", "lku_v"]
            .iter()
            .any(|p| rest.starts_with(p))
            .then(|| v.parse().ok())
            .flatten()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ride_on_fields_do_not_order() {
        let a = VecKey::new(1, 0.5, "x");
        let mut b = a.clone();
        b.deleted = true;
        assert_eq!(a, b);
        assert!(VecKey::bucket_start(1) < a && a < VecKey::bucket_start(2));
        let d = DataKey::probe("x");
        let mut e = d.clone();
        e.centroid = 9;
        assert_eq!(d, e);
    }

    #[test]
    fn location_resolves_current_and_next() {
        let cur = Location {
            centroid: 1,
            distance: 0.1,
        };
        let next = Location {
            centroid: 2,
            distance: 0.2,
        };
        let k = DataKey::migrating("x".into(), cur, 3, next, 4);
        assert_eq!(k.location(3), Some(cur));
        assert_eq!(k.location(4), Some(next));
        assert_eq!(k.location(5), None);
    }

    #[test]
    fn versions_parse_from_names() {
        let n = StoreNames::new("docs");
        assert_eq!(n.version_of(&n.vecs(7)), Some(7));
        assert_eq!(n.version_of(&n.lku(12)), Some(12));
        assert_eq!(n.version_of(&n.data()), None);
        assert_eq!(n.version_of("other/vecs_v1"), None);
    }
}
