//! A leaf's storage: keys, each with its value's location, in one array
//! (what binary search and then a point read read), ids and versions in a
//! parallel one, values as encoded MessagePack bytes in a few shared chunks.
//!
//! Copy-on-write of a leaf is the hot path of every write transaction (the
//! first change of a leaf in a transaction copies it). Keeping no per-item
//! heap object makes that copy three `memcpy`s and a handful of reference
//! counts instead of one atomic increment (and later decrement) per item on
//! scattered memory. Value bytes are never copied by a leaf copy: the copy
//! shares the value chunks and appends new values to a chunk of its own.
//!
//! Invariants:
//! - `entries` and `metas` have the same length; items are sorted by
//!   `(key, id)` under the store's order (maintained by the caller).
//! - An entry is a key and a 12-byte location: a point read finds the
//!   value's location in the line its search already waited for (one
//!   memory page and line, not one for the keys and one for the locations);
//!   [`Leaf::search_lines`] names the search's first probes, to ask for them at once.
//! - A chunk shared with another leaf (reference count > 1) is never
//!   modified; only a uniquely owned last chunk is appended to.
//! - `dead` counts bytes in chunks that no slot references; when it exceeds
//!   the live bytes the values are compacted into one fresh chunk.
//! - At most `MAX_CHUNKS` chunks: a full list merges its newest chunks
//!   (as many as keeps chunk sizes decreasing, like a binary counter), so a
//!   value is copied O(log n) times over a leaf's life, not once per change.

use uuid::Uuid;

use crate::btree::buffer_pool;
use crate::btree::chunks::Chunks;

/// Chunks a leaf keeps before merging some (one below the list's capacity:
/// appending a split half may add one more before merging).
const MAX_CHUNKS: usize = crate::btree::chunks::CAPACITY - 1;

/// A value as a leaf holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellRef<'a> {
    /// MessagePack bytes of the value (small placement).
    Inline(&'a [u8]),
    /// The value's own blob (medium / big placement).
    Blob(Uuid),
}

/// Where an item's value lies.
#[derive(Debug, Clone, Copy)]
struct Loc {
    off: u32,
    len: u32,
    chunk: u16,
    blob: bool,
}

/// A key and where its value lies.
#[derive(Debug, Clone)]
struct Entry<K: 'static> {
    key: K,
    loc: Loc,
}

/// An item's id and version.
#[derive(Debug, Clone, Copy)]
struct Meta {
    id: Uuid,
    version: u64,
}

/// The items of a leaf (see the module docs).
#[derive(Debug)]
pub struct Leaf<K: 'static> {
    entries: Vec<Entry<K>>,
    metas: Vec<Meta>,
    chunks: Chunks,
    dead: usize,
}

impl<K: 'static> Drop for Leaf<K> {
    /// Gives the arrays to this thread's [`buffer_pool`] for the next copy.
    fn drop(&mut self) {
        buffer_pool::give(std::mem::take(&mut self.entries));
        buffer_pool::give(std::mem::take(&mut self.metas));
    }
}

impl<K: 'static> Default for Leaf<K> {
    fn default() -> Self {
        Leaf {
            entries: Vec::new(),
            metas: Vec::new(),
            chunks: Chunks::default(),
            dead: 0,
        }
    }
}

impl<K: Clone + 'static> Clone for Leaf<K> {
    /// A copy with room for one more item, sharing the value chunks.
    fn clone(&self) -> Self {
        self.clone_with_room(1)
    }
}

impl<K: Clone + 'static> Leaf<K> {
    /// A copy with room for `room` more items, sharing the value chunks.
    pub fn clone_with_room(&self, room: usize) -> Self {
        let cap = self.len() + room;
        let mut entries = buffer_pool::take(cap);
        entries.extend_from_slice(&self.entries);
        let mut metas = buffer_pool::take(cap);
        metas.extend_from_slice(&self.metas);
        Leaf {
            entries,
            metas,
            chunks: self.chunks.clone(),
            dead: self.dead,
        }
    }
}

impl<K: 'static> Leaf<K> {
    /// Number of items.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The key at `i`.
    #[inline]
    pub fn key(&self, i: usize) -> &K {
        &self.entries[i].key
    }

    /// The item id at `i`.
    #[inline]
    pub fn id(&self, i: usize) -> Uuid {
        self.metas[i].id
    }

    /// The version (last writer) of the item at `i`.
    #[inline]
    pub fn version(&self, i: usize) -> u64 {
        self.metas[i].version
    }

    /// The entries a binary search of this leaf probes first (to request
    /// them all at once: [`crate::btree::prefetch::SearchLines::request`]).
    #[inline(always)]
    pub fn search_lines(&self) -> crate::btree::prefetch::SearchLines {
        crate::btree::prefetch::SearchLines::of(&self.entries)
    }

    /// Requests the entries `lo..hi` from memory (reads nothing): once a
    /// search has narrowed to a few lines, their probes then wait for one
    /// memory round together instead of one round each.
    #[inline(always)]
    pub fn prefetch_window(&self, lo: usize, hi: usize) {
        if let Some(window) = self.entries.get(lo..hi) {
            crate::btree::prefetch::slice(window);
        }
    }

    /// Entries a window of [`prefetch::WINDOW_BYTES`](crate::btree::prefetch::WINDOW_BYTES)
    /// holds (at least one).
    #[inline(always)]
    pub fn window_items() -> usize {
        (crate::btree::prefetch::WINDOW_BYTES / std::mem::size_of::<Entry<K>>()).max(1)
    }

    fn bytes(&self, s: &Loc) -> &[u8] {
        &self.chunks.get(s.chunk as usize)[s.off as usize..(s.off + s.len) as usize]
    }

    /// The value of the item at `i`.
    #[inline]
    pub fn value(&self, i: usize) -> CellRef<'_> {
        let s = &self.entries[i].loc;
        let b = self.bytes(s);
        if s.blob {
            let mut id = [0u8; 16];
            id.copy_from_slice(b);
            CellRef::Blob(Uuid::from_bytes(id))
        } else {
            // A value spans two or three lines: ask for all of them now, so
            // the decoder's first read and its copy of the rest wait for one
            // memory round, not two.
            crate::btree::prefetch::slice(b);
            CellRef::Inline(b)
        }
    }

    /// Bytes of all chunks (live and dead).
    fn total_bytes(&self) -> usize {
        self.chunks.sizes().sum()
    }

    /// Stores `value`'s bytes, compacting first when the chunk list is full.
    fn push_value(&mut self, value: CellRef<'_>) -> Loc {
        let (bytes, blob): (&[u8], bool) = match &value {
            CellRef::Inline(b) => (b, false),
            CellRef::Blob(id) => (id.as_bytes(), true),
        };
        // Append to the owned tail while it has room or is small (growing a
        // small tail beats starting a chunk: copies of the leaf copy it).
        let tail = self.chunks.own_tail().filter(|v| {
            v.capacity() - v.len() >= bytes.len() || v.len() < crate::btree::chunks::TAIL_COPY_MAX
        });
        let off = match tail {
            Some(chunk) => {
                let off = chunk.len();
                chunk.extend_from_slice(bytes);
                off
            }
            None => {
                if self.chunks.len() >= MAX_CHUNKS {
                    self.merge_tail();
                }
                // Room for a few more values: a transaction often changes a
                // leaf more than once.
                let mut chunk = Vec::with_capacity((bytes.len() * 4).max(256));
                chunk.extend_from_slice(bytes);
                self.chunks.push_own(chunk);
                0
            }
        } as u32;
        Loc {
            off,
            len: bytes.len() as u32,
            chunk: (self.chunks.len() - 1) as u16,
            blob,
        }
    }

    /// Rewrites the live values of chunks `from..` into one new chunk at
    /// index `from`.
    fn merge_from(&mut self, from: usize) {
        let live: usize = self
            .entries
            .iter()
            .map(|e| &e.loc)
            .filter(|s| s.chunk as usize >= from)
            .map(|s| s.len as usize)
            .sum();
        let mut buf = Vec::with_capacity(live);
        for s in self
            .entries
            .iter_mut()
            .map(|e| &mut e.loc)
            .filter(|s| s.chunk as usize >= from)
        {
            let chunk = self.chunks.get(s.chunk as usize);
            let off = buf.len() as u32;
            buf.extend_from_slice(&chunk[s.off as usize..(s.off + s.len) as usize]);
            s.off = off;
            s.chunk = from as u16;
        }
        self.chunks.truncate(from);
        self.chunks.push_shared(buf);
        let live_all: usize = self.entries.iter().map(|e| e.loc.len as usize).sum();
        self.dead = self.total_bytes() - live_all;
    }

    /// Rewrites all live values into one chunk.
    fn compact(&mut self) {
        self.merge_from(0);
    }

    /// Merges the newest chunks: at least the last two, and further back
    /// while the merged size exceeds the chunk before it.
    fn merge_tail(&mut self) {
        let n = self.chunks.len();
        if n < 2 {
            return;
        }
        let mut from = n - 2;
        let sizes: Vec<usize> = self.chunks.sizes().collect();
        let mut size: usize = sizes[from..].iter().sum();
        while from > 0 && size > sizes[from - 1] {
            from -= 1;
            size += sizes[from];
        }
        self.merge_from(from);
    }

    /// Notes that a slot's bytes are no longer referenced.
    fn release(&mut self, s: &Loc) {
        self.dead += s.len as usize;
        if self.dead * 2 > self.total_bytes() {
            self.compact();
        }
    }

    /// Inserts an item at `i`.
    pub fn insert(&mut self, i: usize, key: K, id: Uuid, version: u64, value: CellRef<'_>) {
        let loc = self.push_value(value);
        self.entries.insert(i, Entry { key, loc });
        self.metas.insert(i, Meta { id, version });
    }

    /// Removes the item at `i`, returning its key and its value blob (if any).
    pub fn remove(&mut self, i: usize) -> (K, Option<Uuid>) {
        let blob = match self.value(i) {
            CellRef::Blob(b) => Some(b),
            CellRef::Inline(_) => None,
        };
        let e = self.entries.remove(i);
        self.metas.remove(i);
        self.release(&e.loc);
        (e.key, blob)
    }

    /// Replaces key, version and value of the item at `i` (the id stays),
    /// returning the old value blob (if any).
    pub fn replace(&mut self, i: usize, key: K, version: u64, value: CellRef<'_>) -> Option<Uuid> {
        let old_blob = match self.value(i) {
            CellRef::Blob(b) => Some(b),
            CellRef::Inline(_) => None,
        };
        let old = self.entries[i].loc;
        let loc = self.push_value(value);
        // `push_value` may have compacted: re-read the old slot's length only.
        self.entries[i] = Entry { key, loc };
        self.metas[i].version = version;
        self.release(&old);
        old_blob
    }
}

impl<K: Clone + 'static> Leaf<K> {
    /// Splits off the items from `at` on (their values move to a new chunk).
    pub fn split_off(&mut self, at: usize) -> Leaf<K> {
        let n = self.len().saturating_sub(at);
        let mut right = Leaf {
            entries: buffer_pool::take(n + 1),
            metas: buffer_pool::take(n + 1),
            chunks: Chunks::default(),
            dead: 0,
        };
        right.extend_from(self, at..self.len());
        self.entries.truncate(at);
        self.metas.truncate(at);
        self.compact();
        right
    }

    /// Appends copies of `other`'s items.
    pub fn append(&mut self, other: &Leaf<K>) {
        self.extend_from(other, 0..other.len());
    }

    /// Appends copies of `other`'s items in `range` (in order).
    fn extend_from(&mut self, other: &Leaf<K>, range: std::ops::Range<usize>) {
        let bytes: usize = other.entries[range.clone()]
            .iter()
            .map(|e| e.loc.len as usize)
            .sum();
        let mut buf = Vec::with_capacity(bytes);
        for i in range {
            let e = &other.entries[i];
            let off = buf.len() as u32;
            buf.extend_from_slice(other.bytes(&e.loc));
            self.entries.push(Entry {
                key: e.key.clone(),
                loc: Loc {
                    off,
                    chunk: self.chunks.len() as u16,
                    ..e.loc
                },
            });
            self.metas.push(other.metas[i]);
        }
        self.chunks.push_shared(buf);
        if self.chunks.len() > MAX_CHUNKS {
            self.merge_tail();
        }
    }
}

/// Builds a leaf item by item, in order (node decoding, tests).
pub struct LeafBuilder<K: 'static> {
    leaf: Leaf<K>,
    buf: Vec<u8>,
}

impl<K: 'static> LeafBuilder<K> {
    /// A builder expecting about `n` items.
    pub fn with_capacity(n: usize) -> Self {
        LeafBuilder {
            leaf: Leaf {
                entries: buffer_pool::take(n + 1),
                metas: buffer_pool::take(n + 1),
                chunks: Chunks::default(),
                dead: 0,
            },
            buf: Vec::new(),
        }
    }

    /// Appends an item (the caller keeps them sorted).
    pub fn push(&mut self, key: K, id: Uuid, version: u64, value: CellRef<'_>) {
        let (bytes, blob): (&[u8], bool) = match &value {
            CellRef::Inline(b) => (b, false),
            CellRef::Blob(id) => (id.as_bytes(), true),
        };
        let off = self.buf.len() as u32;
        self.buf.extend_from_slice(bytes);
        let loc = Loc {
            off,
            len: bytes.len() as u32,
            chunk: 0,
            blob,
        };
        self.leaf.entries.push(Entry { key, loc });
        self.leaf.metas.push(Meta { id, version });
    }

    /// The finished leaf.
    pub fn finish(mut self) -> Leaf<K> {
        if !self.leaf.entries.is_empty() {
            self.leaf.chunks.push_shared(self.buf);
        }
        self.leaf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(i: u8) -> Vec<u8> {
        vec![i; 1 + (i as usize % 7)]
    }

    fn check(leaf: &Leaf<u32>, want: &[(u32, Vec<u8>)]) {
        assert_eq!(leaf.len(), want.len());
        for (i, (k, v)) in want.iter().enumerate() {
            assert_eq!(leaf.key(i), k);
            assert_eq!(leaf.value(i), CellRef::Inline(v));
        }
        assert!(leaf.chunks.len() <= MAX_CHUNKS);
    }

    #[test]
    fn copies_share_chunks_and_never_see_each_others_changes() {
        let mut b = LeafBuilder::with_capacity(4);
        for i in 0..4u8 {
            b.push(
                u32::from(i) * 10,
                Uuid::from_u128(i.into()),
                1,
                CellRef::Inline(&val(i)),
            );
        }
        let base = b.finish();
        let mut model: Vec<(u32, Vec<u8>)> =
            (0..4u8).map(|i| (u32::from(i) * 10, val(i))).collect();
        let mut copy = base.clone();
        // Many rounds of copy + change: chunks stay bounded, values exact.
        for round in 0..50u8 {
            let pos = (round as usize * 7) % (model.len() + 1);
            let key = 1000 + u32::from(round);
            copy.insert(
                pos,
                key,
                Uuid::from_u128(round.into()),
                2,
                CellRef::Inline(&val(round)),
            );
            model.insert(pos, (key, val(round)));
            if round % 3 == 0 {
                let r = (round as usize) % model.len();
                copy.remove(r);
                model.remove(r);
            }
            if round % 5 == 0 {
                let r = (round as usize * 3) % model.len();
                let k = model[r].0;
                copy.replace(r, k, 3, CellRef::Inline(&[9, 9, round]));
                model[r].1 = vec![9, 9, round];
            }
            check(&copy, &model);
            copy = copy.clone();
        }
        // The original is untouched.
        let orig: Vec<(u32, Vec<u8>)> = (0..4u8).map(|i| (u32::from(i) * 10, val(i))).collect();
        check(&base, &orig);
        // Split and append round-trip.
        let mut left = copy.clone();
        let right = left.split_off(left.len() / 2);
        let (lm, rm) = model.split_at(model.len() / 2);
        check(&left, lm);
        check(&right, rm);
        left.append(&right);
        check(&left, &model);
    }

    #[test]
    fn blob_values_round_trip() {
        let mut leaf: Leaf<u32> = Leaf::default();
        let blob = Uuid::from_u128(77);
        leaf.insert(0, 1, Uuid::nil(), 5, CellRef::Blob(blob));
        leaf.insert(1, 2, Uuid::max(), 6, CellRef::Inline(&[1, 2, 3]));
        assert_eq!(leaf.value(0), CellRef::Blob(blob));
        assert_eq!(leaf.version(1), 6);
        assert_eq!(leaf.replace(0, 1, 7, CellRef::Inline(&[4])), Some(blob));
        assert_eq!(leaf.remove(1), (2, None));
        assert_eq!(leaf.value(0), CellRef::Inline(&[4]));
    }
}
