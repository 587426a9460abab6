//! Configuration of a vector domain ([`VectorConfig`]) and the self-healing bounds
//! ([`HealingPolicy`], SPEC §2.4).
//!
//! Bounds (defaults):
//! - **bucket split**: after a write batch, a touched bucket with more than
//!   `split_factor` (4) × `min(mean live bucket size, √live items)` *and* at least
//!   `min_split_size` (64) live items is split with k-means into pieces of about that target
//!   size (2 to 64 pieces, see [`crate::split`]) inside the writer's transaction;
//! - **automatic rebuild** ([`crate::maintain()`]): when live items reach `growth_factor` (2) ×
//!   the items of the last build, when the largest bucket exceeds `imbalance_factor` (8) × the
//!   mean, or when the domain has never been built and holds at least `min_build_items` (1,000);
//! - **tombstone GC**: when tombstones exceed `tombstone_ratio` (0.2) of all entries, they are
//!   removed physically (by the rebuild, or by [`crate::collect_tombstones`]).

use serde::{Deserialize, Serialize};

use crate::metric::Metric;

/// Self-healing bounds. See the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealingPolicy {
    /// Automatic bucket splits on/off.
    pub auto_split: bool,
    /// Split a bucket above this multiple of the mean bucket size.
    pub split_factor: f64,
    /// Never split a bucket smaller than this.
    pub min_split_size: u64,
    /// Rebuild when live items reach this multiple of the last build.
    pub growth_factor: f64,
    /// Rebuild when the largest bucket passes this multiple of the mean.
    pub imbalance_factor: f64,
    /// Build a never-built domain once it holds this many items.
    pub min_build_items: u64,
    /// Collect tombstones above this fraction of all entries.
    pub tombstone_ratio: f64,
}

impl Default for HealingPolicy {
    fn default() -> Self {
        Self {
            auto_split: true,
            split_factor: 4.0,
            min_split_size: 64,
            growth_factor: 2.0,
            imbalance_factor: 8.0,
            min_build_items: 1_000,
            tombstone_ratio: 0.2,
        }
    }
}

/// Configuration of [`crate::VectorStore::open`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorConfig {
    /// Fixed vector length.
    pub dimensions: usize,
    /// Scoring metric (cosine by default).
    pub metric: Metric,
    /// Free-form embedder description stored in `sys_config`.
    pub embedder: String,
    /// Self-healing bounds applied by writers.
    pub healing: HealingPolicy,
    /// Threads for batch centroid assignment.
    pub threads: usize,
    /// Seed of every k-means run (reproducible builds).
    pub seed: u64,
}

impl VectorConfig {
    /// Cosine, default healing, all available threads, seed 7.
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            metric: Metric::Cosine,
            embedder: String::new(),
            healing: HealingPolicy::default(),
            threads: crate::parallel::default_threads(),
            seed: 7,
        }
    }

    /// Sets the metric.
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Sets the healing policy.
    pub fn healing(mut self, healing: HealingPolicy) -> Self {
        self.healing = healing;
        self
    }

    /// Sets the embedder description.
    pub fn embedder(mut self, embedder: impl Into<String>) -> Self {
        self.embedder = embedder.into();
        self
    }
}

/// Number of centroids for `n` items: `√n`, at least 1, at most `n`.
pub fn centroids_for(n: usize) -> usize {
    ((n as f64).sqrt().round() as usize).clamp(1, n.max(1))
}
