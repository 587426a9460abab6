//! # sop-models — a versioned model registry on `sop-core`
//!
//! Models are saved under `(category, name, version)` in sop-core B-trees
//! opened in the caller's [`sop_core::Transaction`], so a model version, its
//! aliases and artifact commit or roll back together with the vectors and
//! documents it was built from. Versions order by semantic version when they
//! parse as semver (`1.10.0 > 1.9.0`), lexically otherwise. Listings read
//! only keys (a summary rides on each key); artifacts of any size stream in
//! and out in CRC-checked chunks. See [`ModelRegistry`] for an example.
//!
//! This file only declares modules and re-exports.

mod access;
mod aliases;
mod artifact;
mod chunks;
mod error;
mod keys;
mod listing;
mod reader;
mod record;
mod registry;
mod version;

pub use error::{ModelError, ModelId, Result};
pub use keys::{ArtifactInfo, ModelSummary};
pub use reader::ArtifactReader;
pub use record::{ModelInfo, ModelMetadata, SaveOptions};
pub use registry::{ModelRegistry, DEFAULT_CHUNK_SIZE, MAX_FIELD_BYTES};
pub use version::{PreRelease, SemVer, Version};
