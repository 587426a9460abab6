//! `sop-vector`: an IVF vector store on SOP B-trees (SPEC §2).
//!
//! This part of the crate is engine-independent: metrics and distance kernels, validation,
//! k-means, top-k selection, `.fvecs`/`.ivecs` I/O, synthetic data and exact ground truth.

pub mod centroids;
pub mod distance;
pub mod error;
pub mod fvecs;
pub mod ground_truth;
pub mod kmeans;
pub mod metric;
pub mod packed;
pub mod parallel;
pub mod slab;
pub mod synthetic;
pub mod topk;
pub mod validate;

pub use centroids::{Assignment, Centroids};
pub use error::{Result, VectorError};
pub use kmeans::{split_in_two, train, KMeansConfig, KMeansModel};
pub use metric::Metric;
pub use packed::PackedSlab;
pub use slab::VectorSlab;
pub use topk::{Scored, TopK};
pub use validate::{check_vector, prepare_vector};
