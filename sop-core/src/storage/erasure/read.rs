//! The read path of [`ErasureBlobBackend`]: parallel shard reads, per-shard
//! checks, reconstruction from any `data_shards` intact shards, and repair of
//! the shards found missing or damaged.
//!
//! Invariant: a shard is used only when its header CRC and payload CRC check,
//! its header names this blob, this shard index and the configured counts,
//! and its geometry (original length, shard length) agrees with the majority
//! of the other intact shards; anything else is a [`ShardFault`].

use std::path::Path;
use std::sync::atomic::Ordering;

use uuid::Uuid;

use super::backend::ErasureBlobBackend;
use super::codec;
use super::parallel;
use super::shard::{self, ShardHeader, SHARD_HEADER};
use super::{ShardFault, ShardFaultKind};
use crate::error::{Result, SopError};

/// The state of every shard of one blob, as found by
/// [`ErasureBlobBackend::inspect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHealth {
    /// The blob.
    pub blob: Uuid,
    /// Number of intact shards.
    pub intact: usize,
    /// Every missing or damaged shard, by index.
    pub faults: Vec<ShardFault>,
    /// True when at least `data_shards` shards are intact (the blob reads back).
    pub readable: bool,
}

/// What [`ErasureBlobBackend::repair`] (or a read with repair on) rewrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairOutcome {
    /// Indexes of the shards rewritten.
    pub rewritten: Vec<usize>,
    /// Shards that could not be rewritten, and why.
    pub failed: Vec<ShardFault>,
}

/// Shard files of one blob after checking: the intact file images and the
/// faults.
struct Loaded {
    files: Vec<Option<Vec<u8>>>,
    faults: Vec<ShardFault>,
    original_len: usize,
}

impl ErasureBlobBackend {
    fn check_header(&self, path: &Path, id: Uuid, index: usize, h: &ShardHeader) -> Result<()> {
        let c = &self.config;
        if usize::from(h.index) != index
            || usize::from(h.data_shards) != c.data_shards
            || usize::from(h.parity_shards) != c.parity_shards
            || h.blob != id
        {
            return Err(SopError::format(
                path,
                format!(
                    "header says shard {} of blob {} ({}+{}), expected shard {index} of blob {id} ({}+{})",
                    h.index, h.blob, h.data_shards, h.parity_shards, c.data_shards, c.parity_shards
                ),
            ));
        }
        Ok(())
    }

    /// Reads and checks every shard of `id` in parallel.
    fn load(&self, id: Uuid) -> Loaded {
        // Size the shards from the first shard file that exists.
        let parallel = (0..self.config.total_shards())
            .find_map(|i| std::fs::metadata(self.shard_path(id, i)).ok())
            .is_some_and(|m| self.parallel_for(m.len() as usize));
        let results = parallel::map(self.config.total_shards(), parallel, |i| {
            let path = self.shard_path(id, i);
            let bytes = std::fs::read(&path).map_err(|e| SopError::io(&path, e))?;
            let (header, _) = shard::parse(&path, &bytes)?;
            self.check_header(&path, id, i, &header)?;
            Ok((header, bytes))
        });
        // The geometry most intact shards agree on wins.
        let mut votes: Vec<((u64, u32), usize)> = Vec::new();
        for (h, _) in results.iter().flatten() {
            let key = (h.original_len, h.shard_len);
            match votes.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => votes.push((key, 1)),
            }
        }
        let best = votes.iter().max_by_key(|(_, n)| *n).map(|(k, _)| *k);
        let mut loaded = Loaded {
            files: Vec::with_capacity(results.len()),
            faults: Vec::new(),
            original_len: best.map_or(0, |(len, _)| len as usize),
        };
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok((h, bytes)) if Some((h.original_len, h.shard_len)) == best => {
                    loaded.files.push(Some(bytes));
                }
                Ok((h, _)) => {
                    loaded.files.push(None);
                    loaded.faults.push(ShardFault {
                        index: i,
                        folder: self.config.folders[i].clone(),
                        kind: ShardFaultKind::Corrupt,
                        reason: format!(
                            "{}: header says a {}-byte blob in {}-byte shards, the other shards disagree",
                            self.shard_path(id, i).display(),
                            h.original_len,
                            h.shard_len
                        ),
                    });
                }
                Err(e) => {
                    loaded.files.push(None);
                    loaded.faults.push(self.fault(i, &e));
                }
            }
        }
        loaded
    }

    /// Rebuilds the blob from the intact shards.
    fn reconstruct(&self, id: Uuid, loaded: &Loaded) -> Result<Vec<u8>> {
        let (data, parity) = (self.config.data_shards, self.config.parity_shards);
        let intact = loaded.files.iter().filter(|f| f.is_some()).count();
        if intact < data {
            return Err(SopError::ShardsLost {
                blob: id,
                needed: data,
                available: intact,
                lost: loaded.faults.clone(),
            });
        }
        let payloads: Vec<Option<&[u8]>> = loaded
            .files
            .iter()
            .map(|f| f.as_deref().map(|b| &b[SHARD_HEADER..]))
            .collect();
        let erasure = |reason: String| SopError::Erasure { blob: id, reason };
        let restored =
            codec::restore_data(data, parity, &payloads).map_err(|e| erasure(e.to_string()))?;
        let shard_len = payloads
            .iter()
            .flatten()
            .map(|p| p.len())
            .next()
            .unwrap_or(0);
        let mut out = Vec::with_capacity(data * shard_len);
        for (i, payload) in payloads.iter().take(data).enumerate() {
            let part = match payload {
                Some(p) => *p,
                None => restored.get(&i).map(Vec::as_slice).ok_or_else(|| {
                    erasure(format!("the decoder did not restore data shard {i}"))
                })?,
            };
            out.extend_from_slice(part);
        }
        out.truncate(loaded.original_len);
        Ok(out)
    }

    /// Rewrites the shards listed in `faults` from the reconstructed `bytes`.
    fn rewrite(&self, id: Uuid, bytes: &[u8], faults: &[ShardFault]) -> RepairOutcome {
        let mut outcome = RepairOutcome::default();
        match self.shard_files(id, bytes) {
            Ok(files) => {
                for f in faults {
                    match self.write_shard(id, f.index, &files[f.index], true) {
                        Ok(()) => outcome.rewritten.push(f.index),
                        Err(e) => outcome.failed.push(self.fault(f.index, &e)),
                    }
                }
            }
            Err(e) => outcome
                .failed
                .extend(faults.iter().map(|f| self.fault(f.index, &e))),
        }
        let c = &self.counters;
        c.repaired_shards
            .fetch_add(outcome.rewritten.len() as u64, Ordering::Relaxed);
        c.repair_failures
            .fetch_add(outcome.failed.len() as u64, Ordering::Relaxed);
        outcome
    }

    /// Reads blob `id`, reconstructing around up to `parity_shards` missing or
    /// damaged shards and, with `repair_corrupted_shards`, rewriting them.
    pub fn read_blob(&self, id: Uuid) -> Result<Vec<u8>> {
        let loaded = self.load(id);
        let bytes = self.reconstruct(id, &loaded)?;
        if !loaded.faults.is_empty() {
            self.counters.degraded_reads.fetch_add(1, Ordering::Relaxed);
            if self.config.repair_corrupted_shards {
                // Best effort: the read itself succeeded; failures are counted.
                self.rewrite(id, &bytes, &loaded.faults);
            }
        }
        Ok(bytes)
    }

    /// Checks every shard of `id` without reconstructing or repairing.
    pub fn inspect(&self, id: Uuid) -> BlobHealth {
        let loaded = self.load(id);
        let intact = loaded.files.iter().filter(|f| f.is_some()).count();
        BlobHealth {
            blob: id,
            intact,
            faults: loaded.faults,
            readable: intact >= self.config.data_shards,
        }
    }

    /// Reconstructs `id` and rewrites every missing or damaged shard, whatever
    /// `repair_corrupted_shards` says. Fails with [`SopError::ShardsLost`]
    /// when the blob cannot be reconstructed.
    pub fn repair(&self, id: Uuid) -> Result<RepairOutcome> {
        let loaded = self.load(id);
        let bytes = self.reconstruct(id, &loaded)?;
        if loaded.faults.is_empty() {
            return Ok(RepairOutcome::default());
        }
        Ok(self.rewrite(id, &bytes, &loaded.faults))
    }
}
