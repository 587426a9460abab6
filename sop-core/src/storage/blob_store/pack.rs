//! Node packs: the node blobs of one checkpoint written as frames in one
//! file, so a checkpoint creates one file instead of one per dirty node
//! (file creation and deletion dominate checkpoint time on ext4).
//!
//! A pack file `packs/<pack id, 15 hex>.pack` is a header frame
//! ([`FrameKind::PackHeader`]: `u16 pack layout version`, `u64 pack id`,
//! `u32 node frames`) followed by node frames back to back. Each node frame
//! keeps its own CRC; a pack is written once, fsynced with its directory,
//! and deleted whole when no node in it is live any more.
//!
//! A node in a pack is named by a *pack reference*: a UUIDv8 (RFC 9562
//! "custom") holding the 60-bit pack id, the frame's 31-bit offset and its
//! 31-bit length, so the registry format is unchanged and one positioned
//! read fetches a node. Plain blob ids are random v4 UUIDs, never v8.
//!
//! Invariants:
//! - A pack reference is only handed out by [`PackWriter::add`] for a frame
//!   at exactly that offset and length.
//! - [`PackBook`] counts, per pack, the references still live (reachable
//!   from the registry or not yet collected); a pack is deleted only when
//!   its count reaches zero, and packs it has never heard of are never
//!   deleted.

use std::collections::HashMap;

use uuid::Uuid;

use crate::storage::frame::{self, FrameKind, FRAME_HEADER};

/// Version of the pack layout (header frame + node frames).
pub const PACK_LAYOUT_VERSION: u16 = 1;

/// Largest pack: offsets and lengths must fit in 31 bits.
pub const MAX_PACK_BYTES: usize = 1 << 30;

const MASK31: u64 = (1 << 31) - 1;
const MASK60: u64 = (1 << 60) - 1;

/// Where one frame lies inside a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackRef {
    /// The pack (60 bits).
    pub pack: u64,
    /// Byte offset of the frame in the pack file (31 bits).
    pub offset: u64,
    /// Length of the frame in bytes, header included (31 bits).
    pub len: u64,
}

impl PackRef {
    /// The UUIDv8 naming this frame.
    pub fn to_uuid(self) -> Uuid {
        let hi = ((self.pack >> 12) << 16) | 0x8000 | (self.pack & 0xfff);
        let lo = (0b10 << 62) | ((self.offset & MASK31) << 31) | (self.len & MASK31);
        Uuid::from_u64_pair(hi, lo)
    }

    /// The pack reference `id` holds, if it is one.
    pub fn from_uuid(id: Uuid) -> Option<PackRef> {
        if id.get_version_num() != 8 {
            return None;
        }
        let (hi, lo) = id.as_u64_pair();
        Some(PackRef {
            pack: ((hi >> 16) << 12) | (hi & 0xfff),
            offset: (lo >> 31) & MASK31,
            len: lo & MASK31,
        })
    }
}

/// The file name of a pack.
pub fn pack_file_name(pack: u64) -> String {
    format!("{pack:015x}.pack")
}

/// Builds one pack in memory; references are known as frames are added.
pub struct PackWriter {
    pack: u64,
    bytes: Vec<u8>,
    frames: u32,
}

impl PackWriter {
    /// An empty pack with a fresh random id.
    pub fn new() -> Self {
        let pack = rand::random::<u64>() & MASK60;
        let mut w = PackWriter {
            pack,
            bytes: Vec::new(),
            frames: 0,
        };
        w.write_header();
        w
    }

    fn write_header(&mut self) {
        let mut h = Vec::with_capacity(14);
        h.extend_from_slice(&PACK_LAYOUT_VERSION.to_le_bytes());
        h.extend_from_slice(&self.pack.to_le_bytes());
        h.extend_from_slice(&self.frames.to_le_bytes());
        let sealed = frame::seal(FrameKind::PackHeader, &h);
        if self.bytes.is_empty() {
            self.bytes = sealed;
        } else {
            self.bytes[..sealed.len()].copy_from_slice(&sealed);
        }
    }

    /// The pack id.
    pub fn id(&self) -> u64 {
        self.pack
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when no frame was added.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Whether a frame with `payload_len` bytes still fits.
    pub fn fits(&self, payload_len: usize) -> bool {
        self.bytes.len() + FRAME_HEADER + payload_len <= MAX_PACK_BYTES
    }

    /// Whether a frame with `payload_len` bytes fits in an empty pack.
    pub fn new_fits(payload_len: usize) -> bool {
        header_len() as usize + FRAME_HEADER + payload_len <= MAX_PACK_BYTES
    }

    /// Appends a frame holding `payload`; returns its reference.
    pub fn add(&mut self, kind: FrameKind, payload: &[u8]) -> Uuid {
        let offset = self.bytes.len() as u64;
        frame::seal_into(&mut self.bytes, kind, payload);
        self.added(offset)
    }

    /// Appends an already sealed frame (copied from another pack).
    pub fn add_sealed(&mut self, sealed: &[u8]) -> Uuid {
        let offset = self.bytes.len() as u64;
        self.bytes.extend_from_slice(sealed);
        self.added(offset)
    }

    fn added(&mut self, offset: u64) -> Uuid {
        self.frames += 1;
        PackRef {
            pack: self.pack,
            offset,
            len: self.bytes.len() as u64 - offset,
        }
        .to_uuid()
    }

    /// The finished file content (the header records the frame count).
    pub fn finish(mut self) -> (u64, Vec<u8>, u32) {
        self.write_header();
        (self.pack, self.bytes, self.frames)
    }
}

impl Default for PackWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// Live accounting of one pack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackStats {
    /// Live references.
    pub live: u32,
    /// Bytes of live frames.
    pub live_bytes: u64,
    /// Size of the pack file (an estimate for packs learnt from the registry:
    /// the end of the last live frame).
    pub size: u64,
}

/// Per-pack live counts (see the module invariants).
#[derive(Debug, Default)]
pub struct PackBook {
    packs: HashMap<u64, PackStats>,
    seeded: bool,
}

impl PackBook {
    /// Whether [`PackBook::seed`] ran.
    pub fn is_seeded(&self) -> bool {
        self.seeded
    }

    /// Learns the packs referenced by `live` (the registry's current
    /// physical ids) once; later calls do nothing.
    pub fn seed(&mut self, live: impl IntoIterator<Item = Uuid>) {
        if self.seeded {
            return;
        }
        self.seeded = true;
        for r in live.into_iter().filter_map(PackRef::from_uuid) {
            let s = self.packs.entry(r.pack).or_default();
            s.live += 1;
            s.live_bytes += r.len;
            s.size = s.size.max(r.offset + r.len);
        }
    }

    /// Records a newly written pack of `frames` live frames.
    pub fn add_pack(&mut self, pack: u64, size: u64, frames: u32) {
        self.packs.insert(
            pack,
            PackStats {
                live: frames,
                live_bytes: size.saturating_sub(header_len()),
                size,
            },
        );
    }

    /// Drops one live reference; returns the pack id when the pack has no
    /// live reference left (the caller deletes the file).
    pub fn release(&mut self, r: PackRef) -> Option<u64> {
        let s = self.packs.get_mut(&r.pack)?;
        s.live = s.live.saturating_sub(1);
        s.live_bytes = s.live_bytes.saturating_sub(r.len);
        if s.live == 0 {
            self.packs.remove(&r.pack);
            return Some(r.pack);
        }
        None
    }

    /// Packs whose live bytes are less than half their size, worst first,
    /// up to about `budget` live bytes in total.
    pub fn sparse(&self, budget: u64) -> Vec<u64> {
        let mut v: Vec<(u64, PackStats)> = self
            .packs
            .iter()
            .filter(|(_, s)| s.live_bytes * 2 < s.size)
            .map(|(p, s)| (*p, *s))
            .collect();
        v.sort_by_key(|(p, s)| (s.live_bytes * 1000 / s.size.max(1), *p));
        let mut total = 0;
        v.into_iter()
            .take_while(|(_, s)| {
                total += s.live_bytes;
                total <= budget
            })
            .map(|(p, _)| p)
            .collect()
    }

    /// Stats of a pack, if known.
    pub fn stats(&self, pack: u64) -> Option<PackStats> {
        self.packs.get(&pack).copied()
    }
}

/// Size of a pack's header frame.
fn header_len() -> u64 {
    (FRAME_HEADER + 14) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_and_are_never_v4() {
        let r = PackRef {
            pack: MASK60,
            offset: MASK31,
            len: 12345,
        };
        let id = r.to_uuid();
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(PackRef::from_uuid(id), Some(r));
        assert_eq!(PackRef::from_uuid(Uuid::new_v4()), None);
        assert_eq!(PackRef::from_uuid(Uuid::now_v7()), None);
    }

    #[test]
    fn writer_frames_open_at_their_references() {
        let mut w = PackWriter::new();
        let a = w.add(FrameKind::Node, b"first node");
        let b = w.add(FrameKind::Node, b"second");
        let copied = frame::seal(FrameKind::Node, b"moved");
        let c = w.add_sealed(&copied);
        let (pack, bytes, frames) = w.finish();
        assert_eq!(frames, 3);
        let p = std::path::Path::new("p");
        let header = frame::open(p, FrameKind::PackHeader, &bytes).expect("header");
        assert_eq!(&header[2..10], &pack.to_le_bytes());
        assert_eq!(&header[10..14], &3u32.to_le_bytes());
        for (id, want) in [(a, &b"first node"[..]), (b, b"second"), (c, b"moved")] {
            let r = PackRef::from_uuid(id).expect("pack ref");
            assert_eq!(r.pack, pack);
            let f = &bytes[r.offset as usize..(r.offset + r.len) as usize];
            assert_eq!(frame::open(p, FrameKind::Node, f).expect("frame"), want);
        }
    }

    #[test]
    fn book_deletes_only_known_packs_at_zero_and_finds_sparse_ones() {
        let mut w = PackWriter::new();
        let ids: Vec<Uuid> = (0..4).map(|i| w.add(FrameKind::Node, &[i; 100])).collect();
        let (pack, bytes, frames) = w.finish();
        let mut book = PackBook::default();
        book.seed(std::iter::empty());
        book.add_pack(pack, bytes.len() as u64, frames);
        let refs: Vec<PackRef> = ids.iter().filter_map(|i| PackRef::from_uuid(*i)).collect();
        assert_eq!(book.release(refs[0]), None);
        assert!(book.sparse(u64::MAX).is_empty());
        assert_eq!(book.release(refs[1]), None);
        assert_eq!(book.release(refs[2]), None);
        assert_eq!(book.sparse(u64::MAX), vec![pack]);
        assert_eq!(book.sparse(10), Vec::<u64>::new());
        assert_eq!(book.release(refs[3]), Some(pack));
        // Unknown packs are never reported for deletion.
        assert_eq!(book.release(refs[3]), None);
        let mut seeded = PackBook::default();
        seeded.seed(ids.iter().copied().take(2));
        assert_eq!(seeded.stats(pack).map(|s| s.live), Some(2));
        seeded.seed(ids.iter().copied());
        assert_eq!(seeded.stats(pack).map(|s| s.live), Some(2), "seeds once");
    }
}
