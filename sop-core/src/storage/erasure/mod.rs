//! Erasure coding of blobs across several folders (drives) with
//! reed-solomon-simd: the [`ErasureBlobBackend`] plugs into
//! [`crate::storage::blob_store::BlobBackend`].
//!
//! A blob (the whole frame) is split into `data_shards` equal shards (zero
//! padding at the end, the original length recorded), `parity_shards` recovery
//! shards are computed, and shard `i` is written to
//! `folders[i]/blobs/<first two hex digits>/<uuid>.s<i>`. Every shard file is a
//! 48-byte header plus the payload:
//!
//! | offset | size | field                                                |
//! |-------:|-----:|------------------------------------------------------|
//! | 0      | 4    | magic `SOPS`                                         |
//! | 4      | 2    | format version (u16)                                 |
//! | 6      | 1    | shard index (data shards first, then parity)         |
//! | 7      | 1    | data shard count                                     |
//! | 8      | 1    | parity shard count                                   |
//! | 9      | 3    | reserved (0)                                         |
//! | 12     | 16   | blob UUID                                            |
//! | 28     | 8    | original blob length (padding = data × shard length − this) |
//! | 36     | 4    | shard payload length (even, ≥ 2)                     |
//! | 40     | 4    | CRC32 of the payload                                 |
//! | 44     | 4    | CRC32 of header bytes 0..44                          |
//!
//! Shard writes and reads run on parallel threads (`std::thread::scope`) once
//! shards reach [`ErasureConfig::parallel_min_shard_bytes`]; smaller shards are
//! handled in turn, where a thread spawn would cost more than the I/O.
//!
//! Invariants:
//! 1. A write succeeds when at most `parity_shards` shard writes fail; beyond
//!    that every shard it wrote is removed again and the write returns
//!    [`SopError::ShardWriteFailed`] — nothing half-written stays behind.
//! 2. A shard whose header or payload CRC does not check, or whose header does
//!    not match the blob, is treated exactly like a missing shard.
//! 3. A read returns the original bytes whenever at least `data_shards` shards
//!    are intact, and [`SopError::ShardsLost`] naming the blob and every lost
//!    shard (index, folder, reason) otherwise.
//! 4. With `repair_corrupted_shards`, the shards a successful read found missing
//!    or damaged are rewritten (temporary file + rename, fsynced); a drive
//!    folder that no longer exists is never recreated by a write or a repair.

mod backend;
mod codec;
mod config;
mod parallel;
mod read;
pub mod shard;

use std::fmt;
use std::path::PathBuf;

pub use backend::{ErasureBlobBackend, ErasureStats};
pub use config::{ErasureConfig, DEFAULT_PARALLEL_MIN_SHARD_BYTES, MAX_SHARDS};
pub use read::{BlobHealth, RepairOutcome};

#[cfg(doc)]
use crate::error::SopError;

/// Why one shard of a blob could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardFaultKind {
    /// The shard file (or its whole folder) does not exist.
    Missing,
    /// The shard file exists but its CRC, header or length does not check.
    Corrupt,
    /// The operating system reported another I/O error.
    Io,
}

impl fmt::Display for ShardFaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShardFaultKind::Missing => "missing",
            ShardFaultKind::Corrupt => "corrupt",
            ShardFaultKind::Io => "I/O error",
        })
    }
}

/// One unusable shard of a blob: which shard, on which drive, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardFault {
    /// Shard index (`0..data` data shards, then parity shards).
    pub index: usize,
    /// The shard's folder (drive) from [`ErasureConfig::folders`].
    pub folder: PathBuf,
    /// The kind of problem.
    pub kind: ShardFaultKind,
    /// The underlying error message (names the shard file).
    pub reason: String,
}

impl ShardFault {
    /// Classifies an error met on shard `index` stored in `folder`.
    pub fn from_error(index: usize, folder: PathBuf, error: &crate::error::SopError) -> Self {
        let kind = match error {
            crate::error::SopError::Io { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                ShardFaultKind::Missing
            }
            e if e.is_corruption() => ShardFaultKind::Corrupt,
            _ => ShardFaultKind::Io,
        };
        ShardFault {
            index,
            folder,
            kind,
            reason: error.to_string(),
        }
    }
}

impl fmt::Display for ShardFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shard {} in {}: {} ({})",
            self.index,
            self.folder.display(),
            self.kind,
            self.reason
        )
    }
}

/// Formats a list of faults for an error message (`; `-separated).
pub fn describe_faults(faults: &[ShardFault]) -> String {
    faults
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
