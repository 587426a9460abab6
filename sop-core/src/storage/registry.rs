//! The registry: logical node id → physical blob handle.
//!
//! Nodes are immutable blobs; a node's *logical* id never changes, and the
//! registry says which physical blob currently holds it. Handles live in
//! segment files `registry/segment-NNNNN.reg` of fixed-size 4096-byte blocks.
//!
//! Block layout (little endian):
//!
//! | offset | size | field |
//! |------:|-----:|-------|
//! | 0 | 4 | magic `SOPR` |
//! | 4 | 2 | format version |
//! | 6 | 2 | reserved |
//! | 8 | 4 | block number (global) |
//! | 12 | 4 | CRC32 of bytes 0..12 and 16..4096 |
//! | 16 | 63 × 64 | handle slots |
//!
//! Handle slot (64 bytes): node id u64 (0 = empty), store id u32, version u32,
//! physical A (16), physical B (16), active side u8 (0 = A, 1 = B), deleted u8,
//! 2 reserved, in-progress timestamp u64 (ms), 4 reserved.
//!
//! Invariants:
//! - Node `n` lives in global block `n / 63`, slot `n % 63`; block `b` lives in
//!   segment `b / segment_blocks`.
//! - An all-zero block is a block never written (empty, valid).
//! - Every segment has a copy-on-write backup `segment-NNNNN.bak`, written
//!   after the primary. A torn or damaged block is repaired from the other
//!   copy; a block damaged in both is reported as [`SopError::Corrupt`].
//! - Blocks are only rewritten by a checkpoint after its journal is durable,
//!   so a crash mid-write is redone from the journal on the next open.

use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Result, SopError};
use crate::storage::fsio;

/// Size of a registry block.
pub const BLOCK_SIZE: usize = 4096;
/// Handle slots per block.
pub const HANDLES_PER_BLOCK: u64 = 63;
const HANDLE_SIZE: usize = 64;
const BLOCK_HEADER: usize = 16;
const MAGIC: &[u8; 4] = b"SOPR";

/// Logical id of a B-tree node.
pub type NodeId = u64;

/// Where a logical node currently lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handle {
    /// The logical node id (never 0).
    pub node_id: NodeId,
    /// The store owning the node.
    pub store_id: u32,
    /// Incremented each time the node gets a new physical blob.
    pub version: u32,
    /// The two physical slots (A, B).
    pub physical: [Uuid; 2],
    /// Which slot is current (0 = A, 1 = B).
    pub active: u8,
    /// The node was freed.
    pub deleted: bool,
    /// Millisecond timestamp of an in-flight change (0 when none).
    pub in_progress_ts: u64,
}

impl Handle {
    /// A new handle pointing at `physical` in slot A.
    pub fn new(node_id: NodeId, store_id: u32, physical: Uuid) -> Self {
        Handle {
            node_id,
            store_id,
            version: 1,
            physical: [physical, Uuid::nil()],
            active: 0,
            deleted: false,
            in_progress_ts: 0,
        }
    }

    /// The current physical blob.
    pub fn current(&self) -> Uuid {
        self.physical[usize::from(self.active & 1)]
    }

    /// Points the handle at a new blob using the inactive slot; returns the
    /// blob it replaced.
    pub fn flip_to(&mut self, physical: Uuid) -> Uuid {
        let old = self.current();
        let next = (self.active ^ 1) & 1;
        self.physical[usize::from(next)] = physical;
        self.active = next;
        self.version = self.version.wrapping_add(1);
        self.deleted = false;
        old
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.node_id.to_le_bytes());
        out[8..12].copy_from_slice(&self.store_id.to_le_bytes());
        out[12..16].copy_from_slice(&self.version.to_le_bytes());
        out[16..32].copy_from_slice(self.physical[0].as_bytes());
        out[32..48].copy_from_slice(self.physical[1].as_bytes());
        out[48] = self.active;
        out[49] = u8::from(self.deleted);
        out[52..60].copy_from_slice(&self.in_progress_ts.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let node_id = u64::from_le_bytes(b[0..8].try_into().ok()?);
        if node_id == 0 {
            return None;
        }
        Some(Handle {
            node_id,
            store_id: u32::from_le_bytes(b[8..12].try_into().ok()?),
            version: u32::from_le_bytes(b[12..16].try_into().ok()?),
            physical: [
                Uuid::from_slice(&b[16..32]).ok()?,
                Uuid::from_slice(&b[32..48]).ok()?,
            ],
            active: b[48] & 1,
            deleted: b[49] != 0,
            in_progress_ts: u64::from_le_bytes(b[52..60].try_into().ok()?),
        })
    }
}

fn block_crc(block: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&block[0..12]);
    h.update(&block[16..]);
    h.finalize()
}

/// Encodes the handles of global block `block_no` into a 4096-byte image.
pub fn encode_block(block_no: u64, handles: &[Handle]) -> Vec<u8> {
    let mut img = vec![0u8; BLOCK_SIZE];
    img[0..4].copy_from_slice(MAGIC);
    img[4..6].copy_from_slice(&(crate::FORMAT_VERSION as u16).to_le_bytes());
    img[8..12].copy_from_slice(&(block_no as u32).to_le_bytes());
    for h in handles {
        let slot = (h.node_id % HANDLES_PER_BLOCK) as usize;
        let at = BLOCK_HEADER + slot * HANDLE_SIZE;
        h.encode(&mut img[at..at + HANDLE_SIZE]);
    }
    let crc = block_crc(&img);
    img[12..16].copy_from_slice(&crc.to_le_bytes());
    img
}

/// Outcome of checking one block image.
enum BlockCheck {
    Empty,
    Valid(Vec<Handle>),
    Damaged { stored: u32, computed: u32 },
}

fn check_block(img: &[u8], block_no: u64) -> BlockCheck {
    if img.len() < BLOCK_SIZE || img.iter().all(|b| *b == 0) {
        return BlockCheck::Empty;
    }
    let stored = u32::from_le_bytes([img[12], img[13], img[14], img[15]]);
    let computed = block_crc(img);
    let number_ok = u32::from_le_bytes([img[8], img[9], img[10], img[11]]) == block_no as u32;
    if stored != computed || &img[0..4] != MAGIC || !number_ok {
        return BlockCheck::Damaged { stored, computed };
    }
    let handles = (0..HANDLES_PER_BLOCK as usize)
        .filter_map(|i| {
            let at = BLOCK_HEADER + i * HANDLE_SIZE;
            Handle::decode(&img[at..at + HANDLE_SIZE])
        })
        .collect();
    BlockCheck::Valid(handles)
}

/// Checks one block image as a load does (CRC, magic, block number) and
/// returns its handles; an all-zero or short image is an empty block. The
/// narrow entry point for fuzzing and tools: a damaged image is
/// [`SopError::Corrupt`] naming the block, never a panic.
#[doc(hidden)]
pub fn decode_block(img: &[u8], block_no: u64) -> Result<Vec<Handle>> {
    match check_block(img, block_no) {
        BlockCheck::Empty => Ok(Vec::new()),
        BlockCheck::Valid(handles) => Ok(handles),
        BlockCheck::Damaged { stored, computed } => Err(SopError::Corrupt {
            path: PathBuf::from("<registry block image>"),
            block: Some(block_no),
            stored,
            computed,
        }),
    }
}

/// The decision for one block given its two copies.
enum Reconcile {
    /// Both copies agree (or both are empty): these handles.
    Agree(Vec<Handle>),
    /// One copy is valid (these handles); the other (the backup when
    /// `fix_backup`, else the primary) must be rewritten with `image`.
    Fix {
        handles: Vec<Handle>,
        fix_backup: bool,
        image: Vec<u8>,
    },
    /// The primary is damaged and the backup cannot stand in: never guessed.
    Lost { stored: u32, computed: u32 },
}

/// Decides which copy of a block to trust; the single rule used by open
/// (load) and by verification (scan).
fn reconcile(pimg: &[u8], bimg: &[u8], block_no: u64) -> Reconcile {
    match (check_block(pimg, block_no), check_block(bimg, block_no)) {
        (BlockCheck::Valid(h), BlockCheck::Valid(_)) if pimg == bimg => Reconcile::Agree(h),
        (BlockCheck::Valid(h), _) => Reconcile::Fix {
            handles: h,
            fix_backup: true,
            image: pimg.to_vec(),
        },
        (BlockCheck::Empty | BlockCheck::Damaged { .. }, BlockCheck::Valid(h)) => Reconcile::Fix {
            handles: h,
            fix_backup: false,
            image: bimg.to_vec(),
        },
        (BlockCheck::Empty, BlockCheck::Empty) => Reconcile::Agree(Vec::new()),
        (BlockCheck::Empty, BlockCheck::Damaged { .. }) => Reconcile::Fix {
            handles: Vec::new(),
            fix_backup: true,
            image: ZERO_BLOCK.to_vec(),
        },
        (BlockCheck::Damaged { stored, computed }, _) => Reconcile::Lost { stored, computed },
    }
}

/// A block image to write at a global block number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockImage {
    /// Global block number.
    pub block_no: u64,
    /// The 4096 bytes.
    pub bytes: Vec<u8>,
}

const ZERO_BLOCK: [u8; BLOCK_SIZE] = [0u8; BLOCK_SIZE];

/// What [`RegistryFiles::scan`] found.
#[derive(Debug, Default, Clone)]
pub struct RegistryScan {
    /// Block copies checked (two per block).
    pub blocks: u64,
    /// Copies found damaged or out of date while the other copy is valid.
    pub damaged: Vec<String>,
    /// Of those, copies rewritten.
    pub repaired: u64,
    /// Blocks damaged in both copies.
    pub unrepairable: Vec<String>,
}

/// Report of loading the registry.
#[derive(Debug, Default, Clone)]
pub struct RegistryLoadReport {
    /// Blocks read.
    pub blocks: u64,
    /// Blocks repaired from the other copy.
    pub repaired: u64,
}

/// The registry's files and the in-memory table of handles.
pub struct RegistryFiles {
    dir: PathBuf,
    segment_blocks: u64,
}

impl RegistryFiles {
    /// Registry files under `<folder>/registry`.
    pub fn new(folder: &Path, segment_blocks: u32) -> Self {
        RegistryFiles {
            dir: folder.join("registry"),
            segment_blocks: u64::from(segment_blocks.max(1)),
        }
    }

    fn segment_path(&self, segment: u64, backup: bool) -> PathBuf {
        self.dir.join(format!(
            "segment-{segment:05}.{}",
            if backup { "bak" } else { "reg" }
        ))
    }

    /// Global block number of a node.
    pub fn block_of(node: NodeId) -> u64 {
        node / HANDLES_PER_BLOCK
    }

    /// Visits every block of every existing segment with both copies' bytes
    /// (`segment`, local block index, global block number, primary, backup).
    fn for_each_block(
        &self,
        mut visit: impl FnMut(u64, u64, u64, &[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut segment = 0u64;
        loop {
            let primary = fsio::read_optional(&self.segment_path(segment, false))?;
            let backup = fsio::read_optional(&self.segment_path(segment, true))?;
            if primary.is_none() && backup.is_none() {
                // Segments are dense only up to the highest node id; look a bit
                // further in case of gaps.
                let any_later = (segment + 1..segment + 64).any(|s| {
                    self.segment_path(s, false).exists() || self.segment_path(s, true).exists()
                });
                if !any_later {
                    return Ok(());
                }
                segment += 1;
                continue;
            }
            let primary = primary.unwrap_or_default();
            let backup = backup.unwrap_or_default();
            let blocks = (primary.len().max(backup.len()) / BLOCK_SIZE) as u64;
            for local in 0..blocks {
                let at = (local as usize) * BLOCK_SIZE;
                let pimg = primary.get(at..at + BLOCK_SIZE).unwrap_or(&[]);
                let bimg = backup.get(at..at + BLOCK_SIZE).unwrap_or(&[]);
                visit(
                    segment,
                    local,
                    segment * self.segment_blocks + local,
                    pimg,
                    bimg,
                )?;
            }
            segment += 1;
        }
    }

    /// Overwrites one block of a segment copy and fsyncs it.
    fn rewrite_block(&self, segment: u64, backup: bool, local: u64, image: &[u8]) -> Result<()> {
        let target = self.segment_path(segment, backup);
        write_block_at(&target, local * BLOCK_SIZE as u64, image)?;
        fsio::sync_file(&target)
    }

    /// Loads every handle, repairing damaged blocks from the other copy.
    pub fn load(&self) -> Result<(HashMap<NodeId, Handle>, RegistryLoadReport)> {
        fsio::ensure_dir(&self.dir)?;
        let mut handles = HashMap::new();
        let mut report = RegistryLoadReport::default();
        self.for_each_block(|segment, local, block_no, pimg, bimg| {
            report.blocks += 1;
            match reconcile(pimg, bimg, block_no) {
                Reconcile::Agree(h) => handles.extend(h.into_iter().map(|h| (h.node_id, h))),
                Reconcile::Fix {
                    handles: h,
                    fix_backup,
                    image,
                } => {
                    handles.extend(h.into_iter().map(|h| (h.node_id, h)));
                    self.rewrite_block(segment, fix_backup, local, &image)?;
                    report.repaired += 1;
                }
                Reconcile::Lost { stored, computed } => {
                    return Err(SopError::Corrupt {
                        path: self.segment_path(segment, false),
                        block: Some(block_no),
                        stored,
                        computed,
                    });
                }
            }
            Ok(())
        })?;
        Ok((handles, report))
    }

    /// Writes block images to the primary segments, fsyncs, then the backups.
    pub fn write_blocks(&self, images: &[BlockImage]) -> Result<()> {
        fsio::ensure_dir(&self.dir)?;
        let mut by_segment: BTreeMap<u64, Vec<&BlockImage>> = BTreeMap::new();
        for img in images {
            by_segment
                .entry(img.block_no / self.segment_blocks)
                .or_default()
                .push(img);
        }
        for backup in [false, true] {
            for (segment, imgs) in &by_segment {
                let path = self.segment_path(*segment, backup);
                for img in imgs {
                    let local = img.block_no % self.segment_blocks;
                    write_block_at(&path, local * BLOCK_SIZE as u64, &img.bytes)?;
                }
                fsio::sync_file(&path)?;
            }
        }
        Ok(())
    }

    /// Checks both copies (primary, backup) of every block without loading
    /// handles; with `repair`, a damaged or out-of-date copy is rewritten from
    /// the valid one. A block damaged in both copies is reported, never
    /// guessed. Callers keep checkpoints out (commit gate).
    pub fn scan(&self, repair: bool) -> Result<RegistryScan> {
        let mut out = RegistryScan::default();
        self.for_each_block(|segment, local, block_no, pimg, bimg| {
            out.blocks += 2;
            match reconcile(pimg, bimg, block_no) {
                Reconcile::Agree(_) => {}
                Reconcile::Fix {
                    fix_backup, image, ..
                } => {
                    out.damaged.push(format!(
                        "registry block {block_no}: copy in {} is damaged or out of date",
                        self.segment_path(segment, fix_backup).display()
                    ));
                    if repair {
                        self.rewrite_block(segment, fix_backup, local, &image)?;
                        out.repaired += 1;
                    }
                }
                Reconcile::Lost { stored, computed } => out.unrepairable.push(
                    SopError::Corrupt {
                        path: self.segment_path(segment, false),
                        block: Some(block_no),
                        stored,
                        computed,
                    }
                    .to_string(),
                ),
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Path of the primary segment holding a global block (for tests and tools).
    pub fn primary_path_of_block(&self, block_no: u64) -> (PathBuf, u64) {
        (
            self.segment_path(block_no / self.segment_blocks, false),
            (block_no % self.segment_blocks) * BLOCK_SIZE as u64,
        )
    }
}

fn write_block_at(path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::FileExt;
    crate::storage::faults::check(path, crate::storage::faults::FaultOp::Write)?;
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| SopError::io(path, e))?;
    f.write_all_at(bytes, offset)
        .map_err(|e| SopError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_round_trip_and_repair() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SopError::io("tmp", e))?;
        let files = RegistryFiles::new(dir.path(), 4);
        let hs: Vec<Handle> = (63..70)
            .map(|n| Handle::new(n, 7, Uuid::new_v4()))
            .collect();
        let img = encode_block(1, &hs);
        files.write_blocks(&[BlockImage {
            block_no: 1,
            bytes: img,
        }])?;
        let (loaded, _) = files.load()?;
        assert_eq!(loaded.len(), hs.len());
        assert_eq!(loaded.get(&65), hs.iter().find(|h| h.node_id == 65));
        // Tear the primary block: repaired from the backup.
        let (path, off) = files.primary_path_of_block(1);
        write_block_at(&path, off + 100, &[0xAB; 50])?;
        let (loaded, report) = files.load()?;
        assert_eq!(loaded.len(), hs.len());
        assert_eq!(report.repaired, 1);
        Ok(())
    }
}
