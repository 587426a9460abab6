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
//! - Liveness is never counted in memory (several processes may share the
//!   folder, each seeing only its own checkpoints): it is derived from the
//!   references that can still be read — the registry's current physical
//!   ids plus the superseded references still waiting in a garbage list
//!   ([`packs_of`]). A pack is deleted only when none of them names it.

use std::collections::{HashMap, HashSet};

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

/// Builds one pack; references are known as frames are added. The bytes
/// are held in memory until [`PackWriter::take_pending`] hands them to the pack
/// file (a checkpoint streams a large pack through one bounded buffer); the
/// header frame at offset 0 records the frame count once the pack is
/// finished ([`PackWriter::finish`] or [`PackWriter::header`]).
pub struct PackWriter {
    pack: u64,
    /// Bytes not yet flushed; they start at file offset `flushed`.
    bytes: Vec<u8>,
    flushed: u64,
    frames: u32,
}

impl PackWriter {
    /// An empty pack with a fresh random id.
    pub fn new() -> Self {
        let mut w = PackWriter {
            pack: rand::random::<u64>() & MASK60,
            bytes: Vec::new(),
            flushed: 0,
            frames: 0,
        };
        w.bytes = w.header();
        w
    }

    /// The sealed header frame for the frames added so far (fixed size:
    /// it overwrites the first bytes of the file).
    pub fn header(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(14);
        h.extend_from_slice(&PACK_LAYOUT_VERSION.to_le_bytes());
        h.extend_from_slice(&self.pack.to_le_bytes());
        h.extend_from_slice(&self.frames.to_le_bytes());
        frame::seal(FrameKind::PackHeader, &h)
    }

    /// The pack id.
    pub fn id(&self) -> u64 {
        self.pack
    }

    /// Bytes so far (flushed or not).
    pub fn len(&self) -> usize {
        self.flushed as usize + self.bytes.len()
    }

    /// Bytes added since the last flush.
    pub fn pending(&self) -> usize {
        self.bytes.len()
    }

    /// Whether some bytes were already flushed to the file.
    pub fn streaming(&self) -> bool {
        self.flushed > 0
    }

    /// True when no frame was added.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Number of frames added.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Whether a frame with `payload_len` bytes still fits.
    pub fn fits(&self, payload_len: usize) -> bool {
        self.len() + FRAME_HEADER + payload_len <= MAX_PACK_BYTES
    }

    /// Whether a frame with `payload_len` bytes fits in an empty pack.
    pub fn new_fits(payload_len: usize) -> bool {
        header_len() as usize + FRAME_HEADER + payload_len <= MAX_PACK_BYTES
    }

    /// Appends a frame holding `payload`; returns its reference.
    pub fn add(&mut self, kind: FrameKind, payload: &[u8]) -> Uuid {
        let offset = self.len() as u64;
        frame::seal_into(&mut self.bytes, kind, payload);
        self.added(offset)
    }

    /// Appends an already sealed frame (copied from another pack).
    pub fn add_sealed(&mut self, sealed: &[u8]) -> Uuid {
        let offset = self.len() as u64;
        self.bytes.extend_from_slice(sealed);
        self.added(offset)
    }

    fn added(&mut self, offset: u64) -> Uuid {
        self.frames += 1;
        PackRef {
            pack: self.pack,
            offset,
            len: self.len() as u64 - offset,
        }
        .to_uuid()
    }

    /// Takes the bytes added since the last flush (to be appended to the
    /// pack file, in order); `spare` becomes the buffer for the next ones.
    pub fn take_pending(&mut self, mut spare: Vec<u8>) -> Vec<u8> {
        spare.clear();
        let out = std::mem::replace(&mut self.bytes, spare);
        self.flushed += out.len() as u64;
        out
    }

    /// The finished file content of a pack never flushed (the header
    /// records the frame count); after a flush, the bytes not yet flushed,
    /// to be followed by rewriting [`PackWriter::header`] at offset 0.
    pub fn finish(mut self) -> (u64, Vec<u8>, u32) {
        if self.flushed == 0 {
            let h = self.header();
            self.bytes[..h.len()].copy_from_slice(&h);
        }
        (self.pack, self.bytes, self.frames)
    }
}

impl Default for PackWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// The packs named by the pack references among `ids`.
pub fn packs_of(ids: impl IntoIterator<Item = Uuid>) -> HashSet<u64> {
    ids.into_iter()
        .filter_map(PackRef::from_uuid)
        .map(|r| r.pack)
        .collect()
}

/// Live frame bytes per pack among `live` (the registry's current
/// physical ids).
pub fn live_bytes_by_pack(live: impl IntoIterator<Item = Uuid>) -> HashMap<u64, u64> {
    let mut out: HashMap<u64, u64> = HashMap::new();
    for r in live.into_iter().filter_map(PackRef::from_uuid) {
        *out.entry(r.pack).or_default() += r.len;
    }
    out
}

/// Packs whose live bytes are less than half their file size (`size_of`;
/// packs of unknown size are skipped), sparsest first, up to about
/// `budget` live bytes in total: their live nodes are worth moving.
pub fn sparse(
    live: &HashMap<u64, u64>,
    mut size_of: impl FnMut(u64) -> Option<u64>,
    budget: u64,
) -> Vec<u64> {
    let mut v: Vec<(u64, u64, u64)> = live
        .iter()
        .filter_map(|(p, l)| size_of(*p).map(|size| (*p, *l, size)))
        .filter(|(_, l, size)| l * 2 < *size)
        .collect();
    v.sort_by_key(|(p, l, size)| (l * 1000 / (*size).max(1), *p));
    let mut total = 0;
    v.into_iter()
        .take_while(|(_, l, _)| {
            total += l;
            total <= budget
        })
        .map(|(p, _, _)| p)
        .collect()
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
        check_pack(
            &bytes,
            pack,
            &[(a, b"first node"), (b, b"second"), (c, b"moved")],
        );
    }

    /// Checks the header (pack id, frame count) and each frame of a pack file.
    fn check_pack(file: &[u8], pack: u64, frames: &[(Uuid, &[u8])]) {
        let p = std::path::Path::new("p");
        let header = frame::open(p, FrameKind::PackHeader, file).expect("header");
        assert_eq!(&header[2..10], &pack.to_le_bytes());
        assert_eq!(&header[10..14], &(frames.len() as u32).to_le_bytes());
        for (id, want) in frames {
            let r = PackRef::from_uuid(*id).expect("pack ref");
            assert_eq!(r.pack, pack);
            let f = &file[r.offset as usize..(r.offset + r.len) as usize];
            assert_eq!(frame::open(p, FrameKind::Node, f).expect("frame"), *want);
        }
    }

    #[test]
    fn a_flushed_pack_reads_like_one_built_whole() {
        let mut w = PackWriter::new();
        let mut file: Vec<u8> = Vec::new();
        let a = w.add(FrameKind::Node, b"before the flush");
        file.extend_from_slice(&w.take_pending(Vec::new()));
        assert_eq!((w.pending(), w.streaming()), (0, true));
        let b = w.add(FrameKind::Node, b"after");
        let c = w.add_sealed(&frame::seal(FrameKind::Node, b"moved"));
        assert_eq!(w.len(), file.len() + w.pending());
        let header = w.header();
        let (pack, tail, frames) = w.finish();
        file.extend_from_slice(&tail);
        file[..header.len()].copy_from_slice(&header);
        assert_eq!(frames, 3);
        check_pack(
            &file,
            pack,
            &[(a, b"before the flush"), (b, b"after"), (c, b"moved")],
        );
    }

    #[test]
    fn liveness_comes_from_references_and_finds_sparse_packs() {
        let mut w = PackWriter::new();
        let ids: Vec<Uuid> = (0..4).map(|i| w.add(FrameKind::Node, &[i; 100])).collect();
        let (pack, bytes, _) = w.finish();
        let size = bytes.len() as u64;
        let blob = Uuid::new_v4();
        assert_eq!(packs_of([ids[2], blob]), HashSet::from([pack]));
        assert!(packs_of([blob]).is_empty());
        let frame = PackRef::from_uuid(ids[0]).expect("pack ref").len;
        let all = live_bytes_by_pack(ids.iter().copied().chain([blob]));
        assert_eq!(all.get(&pack), Some(&(4 * frame)));
        let known = |p: u64| (p == pack).then_some(size);
        assert!(sparse(&all, known, u64::MAX).is_empty(), "all live");
        let three = live_bytes_by_pack(ids[1..].iter().copied());
        assert!(sparse(&three, known, u64::MAX).is_empty(), "3 of 4 live");
        let one = live_bytes_by_pack([ids[3]]);
        assert_eq!(sparse(&one, known, u64::MAX), vec![pack]);
        assert!(sparse(&one, known, frame - 1).is_empty(), "over budget");
        assert!(sparse(&one, |_| None, u64::MAX).is_empty(), "unknown size");
    }
}
