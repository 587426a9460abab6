//! [`ErasureBlobBackend`]: the [`BlobBackend`] that stores each blob as
//! `data + parity` shard files, one per folder (drive).
//!
//! Owns the write path (split, encode, parallel shard writes, roll back beyond
//! the parity), fsync and removal of shards, and the shard file naming
//! `folders[i]/blobs/<2 hex>/<uuid>.s<i>`. The read path (reconstruction and
//! repair) is in `read.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

use super::codec;
use super::config::ErasureConfig;
use super::parallel;
use super::shard::ShardHeader;
use super::ShardFault;
use crate::error::{Result, SopError};
use crate::storage::blob_store::BlobBackend;
use crate::storage::fsio;

/// Counters of degraded operations since the backend was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasureStats {
    /// Writes that succeeded with some (at most `parity`) shards failing.
    pub degraded_writes: u64,
    /// Reads that met at least one missing or damaged shard.
    pub degraded_reads: u64,
    /// Shard files rewritten by repair.
    pub repaired_shards: u64,
    /// Shard repairs that failed (for example on a vanished drive).
    pub repair_failures: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub degraded_writes: AtomicU64,
    pub degraded_reads: AtomicU64,
    pub repaired_shards: AtomicU64,
    pub repair_failures: AtomicU64,
}

/// Blob backend that erasure-codes every blob across one folder per shard.
#[derive(Debug)]
pub struct ErasureBlobBackend {
    pub(super) config: ErasureConfig,
    pub(super) counters: Counters,
    /// Folders that could not be created at open (dead drives).
    unavailable_at_open: Vec<ShardFault>,
}

impl ErasureBlobBackend {
    /// Validates `config` and creates the shard folders that do not exist
    /// yet. Folders that cannot be created are recorded (see
    /// [`ErasureBlobBackend::unavailable_at_open`]), not fatal.
    pub fn new(config: ErasureConfig) -> Result<Self> {
        config.validate()?;
        let unavailable: Vec<ShardFault> = config
            .folders
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                fsio::ensure_dir(f)
                    .err()
                    .map(|e| ShardFault::from_error(i, f.clone(), &e))
            })
            .collect();
        // More than `parity` dead folders still opens: reads then report the
        // lost shards per blob and writes fail (and roll back) with
        // `ShardWriteFailed`, so the caller learns exactly what is missing.
        Ok(ErasureBlobBackend {
            config,
            counters: Counters::default(),
            unavailable_at_open: unavailable,
        })
    }

    /// Shard folders that could not be created or opened when the backend
    /// was built (dead drives).
    pub fn unavailable_at_open(&self) -> &[ShardFault] {
        &self.unavailable_at_open
    }

    /// Fails with [`SopError::ShardFoldersUnavailable`] when more than
    /// `parity` shard folders were unavailable at open.
    pub fn require_writable(&self) -> Result<()> {
        if self.unavailable_at_open.len() > self.config.parity_shards {
            return Err(SopError::ShardFoldersUnavailable {
                parity: self.config.parity_shards,
                failed: self.unavailable_at_open.clone(),
            });
        }
        Ok(())
    }

    /// The layout this backend was created with.
    pub fn config(&self) -> &ErasureConfig {
        &self.config
    }

    /// Counters of degraded writes, reads and repairs so far.
    pub fn stats(&self) -> ErasureStats {
        let c = &self.counters;
        ErasureStats {
            degraded_writes: c.degraded_writes.load(Ordering::Relaxed),
            degraded_reads: c.degraded_reads.load(Ordering::Relaxed),
            repaired_shards: c.repaired_shards.load(Ordering::Relaxed),
            repair_failures: c.repair_failures.load(Ordering::Relaxed),
        }
    }

    /// Path of shard `index` of blob `id`.
    pub fn shard_path(&self, id: Uuid, index: usize) -> PathBuf {
        let hex = id.simple().to_string();
        self.config.folders[index]
            .join("blobs")
            .join(&hex[..2])
            .join(format!("{hex}.s{index}"))
    }

    /// Whether shard files of `shard_bytes` bytes are worth parallel threads.
    pub(super) fn parallel_for(&self, shard_bytes: usize) -> bool {
        shard_bytes >= self.config.parallel_min_shard_bytes
    }

    pub(super) fn fault(&self, index: usize, error: &SopError) -> ShardFault {
        ShardFault::from_error(index, self.config.folders[index].clone(), error)
    }

    /// Builds the shard file images of `bytes`: data shards, then parity.
    pub(super) fn shard_files(&self, id: Uuid, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
        let data = self.config.data_shards;
        let len = codec::shard_len(bytes.len(), data);
        let shard_len = u32::try_from(len).map_err(|_| SopError::InvalidArgument {
            field: "blob",
            reason: format!(
                "blob {id} of {} bytes gives shards over 4 GiB; use more data shards",
                bytes.len()
            ),
        })?;
        let originals: Vec<_> = (0..data)
            .map(|i| codec::data_shard(bytes, i, len))
            .collect();
        let parity = codec::encode_parity(self.config.parity_shards, &originals).map_err(|e| {
            SopError::Erasure {
                blob: id,
                reason: e.to_string(),
            }
        })?;
        let header = |index: usize, payload: &[u8]| ShardHeader {
            index: index as u8,
            data_shards: data as u8,
            parity_shards: self.config.parity_shards as u8,
            blob: id,
            original_len: bytes.len() as u64,
            shard_len,
            payload_crc: crc32fast::hash(payload),
        };
        Ok(originals
            .iter()
            .map(AsRef::as_ref)
            .chain(parity.iter().map(Vec::as_slice))
            .enumerate()
            .map(|(i, p)| header(i, p).to_file_bytes(p))
            .collect())
    }

    /// Writes one shard file. Creates `blobs/<2 hex>` under the shard's folder
    /// when needed, but never the folder (drive) itself: a vanished drive is a
    /// failed shard. With `atomic`, writes a temporary file, fsyncs it and
    /// renames it over the final name (used by repair).
    pub(super) fn write_shard(
        &self,
        id: Uuid,
        index: usize,
        file: &[u8],
        atomic: bool,
    ) -> Result<()> {
        let path = self.shard_path(id, index);
        let target = if atomic {
            path.with_extension(format!("s{index}.tmp"))
        } else {
            path.clone()
        };
        if fsio::write_new(&target, file, atomic).is_err() {
            let drive = &self.config.folders[index];
            if !drive.is_dir() {
                return Err(SopError::io(
                    drive,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "shard folder (drive) is missing",
                    ),
                ));
            }
            if let Some(parent) = target.parent() {
                fsio::ensure_dir(parent)?;
            }
            fsio::write_new(&target, file, atomic)?;
        }
        if atomic {
            std::fs::rename(&target, &path).map_err(|e| SopError::io(&path, e))?;
        }
        Ok(())
    }

    fn remove_shards(&self, id: Uuid, indexes: &[usize]) -> Vec<ShardFault> {
        indexes
            .iter()
            .filter_map(|&i| {
                fsio::remove_if_exists(&self.shard_path(id, i))
                    .err()
                    .map(|e| self.fault(i, &e))
            })
            .collect()
    }
}

fn failed_shards(faults: &mut [ShardFault]) -> Vec<ShardFault> {
    faults.sort_by_key(|f| f.index);
    faults.to_vec()
}

impl BlobBackend for ErasureBlobBackend {
    fn write(&self, id: Uuid, bytes: &[u8]) -> Result<()> {
        let files = self.shard_files(id, bytes)?;
        // Creating a file costs more than a thread spawn: writes always go parallel.
        let results = parallel::map(files.len(), true, |i| {
            self.write_shard(id, i, &files[i], false)
        });
        let mut failed = Vec::new();
        let mut written = Vec::new();
        for (i, r) in results.iter().enumerate() {
            match r {
                Ok(()) => written.push(i),
                Err(e) => failed.push(self.fault(i, e)),
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        if failed.len() <= self.config.parity_shards {
            self.counters
                .degraded_writes
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let leftovers = self.remove_shards(id, &written);
        Err(SopError::ShardWriteFailed {
            blob: id,
            op: "write",
            parity: self.config.parity_shards,
            failed: failed_shards(&mut failed),
            rolled_back: leftovers.is_empty(),
        })
    }

    fn read(&self, id: Uuid) -> Result<Vec<u8>> {
        self.read_blob(id)
    }

    fn sync(&self, ids: &[Uuid]) -> Result<()> {
        let n = self.config.total_shards();
        let pairs: Vec<(usize, usize)> = (0..ids.len())
            .flat_map(|b| (0..n).map(move |s| (b, s)))
            .collect();
        let workers = pairs.len().clamp(1, 16);
        let chunk = pairs.len().div_ceil(workers).max(1);
        let parts: Vec<&[(usize, usize)]> = pairs.chunks(chunk).collect();
        let results = parallel::map(parts.len(), true, |w| {
            Ok(parts[w]
                .iter()
                .filter_map(|&(b, s)| {
                    fsio::sync_file(&self.shard_path(ids[b], s))
                        .err()
                        .map(|e| (b, self.fault(s, &e)))
                })
                .collect::<Vec<_>>())
        });
        let mut per_blob: Vec<Vec<ShardFault>> = vec![Vec::new(); ids.len()];
        for r in results {
            for (b, fault) in r? {
                per_blob[b].push(fault);
            }
        }
        match per_blob
            .iter_mut()
            .enumerate()
            .find(|(_, f)| f.len() > self.config.parity_shards)
        {
            Some((b, faults)) => Err(SopError::ShardWriteFailed {
                blob: ids[b],
                op: "fsync",
                parity: self.config.parity_shards,
                failed: failed_shards(faults),
                rolled_back: false,
            }),
            None => Ok(()),
        }
    }

    fn remove(&self, id: Uuid) -> Result<()> {
        let all: Vec<usize> = (0..self.config.total_shards()).collect();
        let mut failed = self.remove_shards(id, &all);
        if failed.len() > self.config.parity_shards {
            return Err(SopError::ShardWriteFailed {
                blob: id,
                op: "remove",
                parity: self.config.parity_shards,
                failed: failed_shards(&mut failed),
                rolled_back: false,
            });
        }
        Ok(())
    }

    fn describe(&self, id: Uuid) -> PathBuf {
        let hex = id.simple().to_string();
        let first = self
            .config
            .folders
            .first()
            .map_or(Path::new(""), PathBuf::as_path);
        PathBuf::from(format!(
            "{} (erasure-coded {}+{}, shards .s0..s{} in {} folders)",
            first.join("blobs").join(&hex[..2]).join(&hex).display(),
            self.config.data_shards,
            self.config.parity_shards,
            self.config.total_shards().saturating_sub(1),
            self.config.folders.len()
        ))
    }
}
