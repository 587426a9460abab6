//! `sop-vector`: an IVF vector store on SOP B-trees (SPEC §2).
//!
//! - The store: [`VectorStore`] (a domain opened in a caller's transaction: upserts, gets,
//!   deletes, queries, splits), [`optimize`] (the Lookup-tree sampled, versioned rebuild),
//!   [`maintain()`] / [`spawn_maintenance`] (self-healing), the rebuild [`lock`]. The B-tree
//!   layout and its invariants are documented in [`schema`].
//! - Engine-independent parts: metrics and distance kernels, validation, k-means, top-k
//!   selection, `.fvecs`/`.ivecs` I/O, synthetic data and exact ground truth.

pub mod bucket;
pub mod cache;
pub mod centroids;
pub mod config;
pub mod distance;
pub mod error;
pub mod fvecs;
pub mod ground_truth;
pub mod ingest;
pub mod item_id;
pub mod kmeans;
pub mod lock;
pub mod maintain;
pub mod metric;
pub mod packed;
pub mod parallel;
pub mod quant;
pub mod query;
pub mod rebuild;
pub mod scan;
pub mod schema;
pub mod simd;
pub mod slab;
pub mod split;
#[cfg(test)]
mod split_equivalence;
pub mod store;
pub mod stored;
pub mod synthetic;
pub mod topk;
pub mod validate;

pub use centroids::{Assignment, Centroids};
pub use config::{HealingPolicy, VectorConfig};
pub use error::{Result, VectorError};
pub use ingest::NewItem;
pub use kmeans::{split_in_two, train, KMeansConfig, KMeansModel};
pub use lock::{lock_domain, unlock_domain, LockGrant};
pub use maintain::{collect_tombstones, maintain, spawn_maintenance, MaintenanceAction};
pub use metric::Metric;
pub use packed::PackedSlab;
pub use query::{Filter, Hit};
pub use rebuild::{optimize, RebuildOptions, RebuildReport};
pub use slab::VectorSlab;
pub use store::{Record, StoreStats, VectorStore};
pub use topk::{Scored, TopK};
pub use validate::{check_vector, prepare_vector};
