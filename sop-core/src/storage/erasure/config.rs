//! [`ErasureConfig`]: how blobs are split into shards and where each shard goes.
//!
//! Owns the validation rules of an erasure-coding layout: at least one data
//! shard, exactly one folder (drive) per shard, distinct folders, at most 255
//! shards (the shard index is one byte in the shard header) and a combination
//! of counts that reed-solomon-simd supports. With `parity_shards == 0` the
//! layout is plain striping: no shard may be lost.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SopError};

/// Largest number of shards (data + parity) of one blob: the shard index is a
/// single byte in the shard header.
pub const MAX_SHARDS: usize = 255;

/// Erasure-coding layout of a blob backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureConfig {
    /// Number of data (original) shards a blob is split into; at least 1.
    pub data_shards: usize,
    /// Number of parity (recovery) shards computed from the data shards; this
    /// many shards may be missing or corrupt and the blob still reads back.
    pub parity_shards: usize,
    /// One folder (drive) per shard: shard `i` of every blob lives in
    /// `folders[i]`. `folders.len()` must equal `data_shards + parity_shards`.
    pub folders: Vec<PathBuf>,
    /// After a read that had to reconstruct around missing or damaged shards,
    /// rewrite those shards.
    #[serde(default)]
    pub repair_corrupted_shards: bool,
    /// Shards of at least this many bytes are written and read on parallel
    /// threads (one per shard); smaller ones in turn on the calling thread,
    /// where a thread spawn would cost more than the I/O. 0 = always parallel.
    #[serde(default = "default_parallel_min_shard_bytes")]
    pub parallel_min_shard_bytes: usize,
}

/// Default of [`ErasureConfig::parallel_min_shard_bytes`]: 128 KiB.
pub const DEFAULT_PARALLEL_MIN_SHARD_BYTES: usize = 128 << 10;

fn default_parallel_min_shard_bytes() -> usize {
    DEFAULT_PARALLEL_MIN_SHARD_BYTES
}

impl ErasureConfig {
    /// A layout with `data_shards` + `parity_shards` shards over `folders`,
    /// repair off, parallel shard I/O from
    /// [`DEFAULT_PARALLEL_MIN_SHARD_BYTES`].
    pub fn new(data_shards: usize, parity_shards: usize, folders: Vec<PathBuf>) -> Self {
        ErasureConfig {
            data_shards,
            parity_shards,
            folders,
            repair_corrupted_shards: false,
            parallel_min_shard_bytes: DEFAULT_PARALLEL_MIN_SHARD_BYTES,
        }
    }

    /// The same layout with `repair_corrupted_shards` set to `repair`.
    pub fn with_repair(mut self, repair: bool) -> Self {
        self.repair_corrupted_shards = repair;
        self
    }

    /// Total number of shards per blob (data + parity).
    pub fn total_shards(&self) -> usize {
        self.data_shards + self.parity_shards
    }

    /// Checks the layout; errors are [`SopError::InvalidArgument`] saying what
    /// is wrong.
    pub fn validate(&self) -> Result<()> {
        let invalid =
            |field: &'static str, reason: String| Err(SopError::InvalidArgument { field, reason });
        if self.data_shards == 0 {
            return invalid("erasure.data_shards", "must be at least 1".into());
        }
        if self.total_shards() > MAX_SHARDS {
            return invalid(
                "erasure.data_shards",
                format!(
                    "{} data + {} parity shards exceed the maximum of {MAX_SHARDS}",
                    self.data_shards, self.parity_shards
                ),
            );
        }
        if self.folders.len() != self.total_shards() {
            return invalid(
                "erasure.folders",
                format!(
                    "{} folders given for {} data + {} parity shards (one folder per shard is required)",
                    self.folders.len(),
                    self.data_shards,
                    self.parity_shards
                ),
            );
        }
        let mut seen = HashSet::new();
        if let Some(dup) = self.folders.iter().find(|f| !seen.insert(f.as_path())) {
            return invalid(
                "erasure.folders",
                format!(
                    "folder {} is listed twice: each shard needs its own drive",
                    dup.display()
                ),
            );
        }
        if self.parity_shards > 0
            && !reed_solomon_simd::ReedSolomonEncoder::supports(
                self.data_shards,
                self.parity_shards,
            )
        {
            return invalid(
                "erasure.parity_shards",
                format!(
                    "{} data + {} parity shards is not supported by reed-solomon-simd",
                    self.data_shards, self.parity_shards
                ),
            );
        }
        Ok(())
    }
}
