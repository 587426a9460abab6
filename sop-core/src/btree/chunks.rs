//! The value chunks of one leaf: a short inline list of byte buffers, all
//! shared read-only with other versions of the leaf except possibly the last
//! one, which the leaf owns and appends to.
//!
//! Kept inline in the leaf (no list allocation) and as single allocations
//! (`Arc<[u8]>`: counts and bytes together), so reaching a value from its
//! leaf costs one memory access.
//!
//! Invariants:
//! - A `Shared` chunk is never modified; an `Own` chunk exists only as the
//!   last chunk and belongs to this leaf alone.
//! - Copying the list copies an `Own` chunk's bytes (the copy must not append
//!   to bytes the original may still append to): into an `Own` chunk with
//!   room to append when it is at most [`TAIL_COPY_MAX`] bytes (a leaf changed
//!   by many transactions keeps one growing tail instead of a chunk per
//!   transaction), else into a `Shared` one.
//! - At most [`CAPACITY`] chunks.

use std::sync::Arc;

use crate::btree::buffer_pool;

/// Chunks a list can hold.
pub const CAPACITY: usize = 5;

/// Largest owned tail a copy keeps owning (and so copies whole).
pub const TAIL_COPY_MAX: usize = 2048;

/// Room a copied owned tail gets for new values.
const TAIL_ROOM: usize = 512;

/// One chunk.
#[derive(Debug, Default)]
enum Chunk {
    #[default]
    Empty,
    Shared(Arc<[u8]>),
    Own(Vec<u8>),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Empty => &[],
            Chunk::Shared(b) => b,
            Chunk::Own(v) => v,
        }
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Chunks {
    list: [Chunk; CAPACITY],
    len: usize,
}

impl Drop for Chunks {
    /// Gives an owned tail to this thread's [`buffer_pool`].
    fn drop(&mut self) {
        if let Some(tail) = self.own_tail() {
            buffer_pool::give(std::mem::take(tail));
        }
    }
}

impl Clone for Chunks {
    fn clone(&self) -> Self {
        let mut list: [Chunk; CAPACITY] = Default::default();
        for (dst, src) in list.iter_mut().zip(&self.list[..self.len]) {
            *dst = match src {
                Chunk::Empty => Chunk::Empty,
                Chunk::Shared(b) => Chunk::Shared(b.clone()),
                Chunk::Own(v) if v.len() <= TAIL_COPY_MAX => {
                    let mut own = buffer_pool::take(v.len() + TAIL_ROOM);
                    own.extend_from_slice(v);
                    Chunk::Own(own)
                }
                Chunk::Own(v) => Chunk::Shared(Arc::from(&v[..])),
            };
        }
        Chunks {
            list,
            len: self.len,
        }
    }
}

impl Chunks {
    /// Number of chunks.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True without chunks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of chunk `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        self.list[i].bytes()
    }

    /// Sizes of the chunks, in order.
    pub fn sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.list[..self.len].iter().map(|c| c.bytes().len())
    }

    /// Whether another chunk can be added.
    pub fn is_full(&self) -> bool {
        self.len == CAPACITY
    }

    /// The last chunk when this leaf owns it and it has room for `extra`
    /// more bytes without reallocating.
    pub fn tail_with_room(&mut self, extra: usize) -> Option<&mut Vec<u8>> {
        self.own_tail().filter(|v| v.capacity() - v.len() >= extra)
    }

    /// The last chunk when this leaf owns it.
    pub fn own_tail(&mut self) -> Option<&mut Vec<u8>> {
        let last = self.len.checked_sub(1)?;
        match &mut self.list[last] {
            Chunk::Own(v) => Some(v),
            _ => None,
        }
    }

    /// Adds a chunk this leaf owns (it may grow while it is the last one).
    pub fn push_own(&mut self, bytes: Vec<u8>) {
        self.push(Chunk::Own(bytes));
    }

    /// Adds a finished chunk.
    pub fn push_shared(&mut self, bytes: Vec<u8>) {
        self.push(Chunk::Shared(Arc::from(bytes)));
    }

    fn push(&mut self, c: Chunk) {
        assert!(self.len < CAPACITY, "chunk list full");
        if let Some(prev) = self.len.checked_sub(1) {
            // Only the last chunk may be owned.
            if let Chunk::Own(v) = &mut self.list[prev] {
                let frozen = Arc::from(&v[..]);
                buffer_pool::give(std::mem::take(v));
                self.list[prev] = Chunk::Shared(frozen);
            }
        }
        self.list[self.len] = c;
        self.len += 1;
    }

    /// Keeps the first `n` chunks.
    pub fn truncate(&mut self, n: usize) {
        for c in &mut self.list[n.min(self.len)..self.len] {
            *c = Chunk::Empty;
        }
        self.len = self.len.min(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_tail_is_copied_not_shared_and_only_last_is_owned() {
        let mut a = Chunks::default();
        a.push_shared(vec![1, 2]);
        let mut tail = Vec::with_capacity(8);
        tail.extend_from_slice(&[3]);
        a.push_own(tail);
        let mut b = a.clone();
        a.tail_with_room(1).expect("room").push(4);
        assert_eq!(a.get(1), &[3, 4]);
        assert_eq!(b.get(1), &[3], "the copy does not see later appends");
        b.tail_with_room(1)
            .expect("a small tail is copied with room")
            .push(5);
        assert_eq!((a.get(1), b.get(1)), (&[3, 4][..], &[3, 5][..]));
        let mut big = Chunks::default();
        big.push_own(vec![0; TAIL_COPY_MAX + 1]);
        assert!(
            big.clone().tail_with_room(0).is_none(),
            "a big tail is shared"
        );
        a.push_own(Vec::with_capacity(4));
        assert!(matches!(a.list[1], Chunk::Shared(_)), "older tail frozen");
        assert_eq!(a.sizes().collect::<Vec<_>>(), vec![2, 2, 0]);
        a.truncate(1);
        assert_eq!(a.len(), 1);
        assert_eq!(a.get(0), &[1, 2]);
    }
}
