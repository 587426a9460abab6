//! Software prefetch hints for the read path of the tree.
//!
//! A binary search over a node's keys makes about `log2(n)` *dependent*
//! loads: when the node is not in the CPU cache, each probe waits for memory
//! in turn. Asking for the lines of the search's first probes before it
//! starts lets the memory system fetch them in parallel, so the search waits
//! about twice (for those, then for the last few neighbouring lines) instead
//! of once per probe.
//!
//! Invariants:
//! - A prefetch is only a hint: it never faults (any address is allowed),
//!   changes no memory and no result. On architectures other than x86_64 the
//!   hints are no-ops.
//! - One call requests at most [`MAX_LINES`] lines ([`slice()`]) or
//!   [`SEARCH_PROBES`] lines ([`search()`]): asking for every line of a large
//!   node costs more (miss buffers fill up, the prefetches stall) than the
//!   waits it saves.

use std::mem::{size_of, size_of_val};

/// Bytes per cache line assumed.
pub const LINE: usize = 64;

/// Most lines one [`slice()`] call requests.
pub const MAX_LINES: usize = 16;

/// Probes of a binary search [`search()`] requests: its first four levels.
pub const SEARCH_PROBES: usize = 15;

/// Bytes of the window a leaf search requests whole once it has narrowed to
/// it (four lines): its last probes then cost one memory round, not one each.
pub const WINDOW_BYTES: usize = 4 * LINE;

/// Hints that the bytes of `items` (up to [`MAX_LINES`] lines) will be read
/// soon.
#[inline(always)]
pub fn slice<T>(items: &[T]) {
    let base = items.as_ptr().cast::<u8>();
    each_line_offset(size_of_val(items), |off| line(base.wrapping_add(off)));
}

/// Hints that `value` (all of its bytes) will be read soon.
#[inline(always)]
pub fn value<T>(value: &T) {
    slice(std::slice::from_ref(value));
}

/// Hints that a binary search over `items` is about to run: requests the
/// elements it probes first (all of a small array).
#[inline(always)]
pub fn search<T>(items: &[T]) {
    SearchLines::of(items).request();
}

/// Where a binary search over an array starts reading: the array's address,
/// length and element size, kept apart from the array so that its first
/// probes can be requested before the object owning the array is read (the
/// node memo keeps one per node: see `btree::memo`).
///
/// Only an address is kept, never a reference: a stale `SearchLines` makes
/// [`SearchLines::request`] hint useless lines, nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchLines {
    addr: usize,
    len: u32,
    elem: u32,
}

impl SearchLines {
    /// The search lines of `items`.
    #[inline(always)]
    pub fn of<T>(items: &[T]) -> Self {
        SearchLines {
            addr: items.as_ptr() as usize,
            len: u32::try_from(items.len()).unwrap_or(u32::MAX),
            elem: u32::try_from(size_of::<T>()).unwrap_or(u32::MAX),
        }
    }

    /// Requests the elements a binary search probes first (see [`search()`]).
    #[inline(always)]
    pub fn request(&self) {
        let base = std::ptr::without_provenance::<u8>(self.addr);
        each_search_offset(self.len as usize, self.elem as usize, |off| {
            line(base.wrapping_add(off))
        });
    }
}

// The offsets are produced by plain counted loops calling `f`, not by
// iterator chains: this runs for every node of every lookup, and a chain's
// per-item state checks cost more than the prefetches themselves.

/// Calls `f` with the byte offsets to prefetch for an array of `len` bytes:
/// one per line (plus the last byte, which may start a line of its own when
/// the array is not line aligned), at most [`MAX_LINES`].
#[inline(always)]
fn each_line_offset(len: usize, mut f: impl FnMut(usize)) {
    let lines = len.div_ceil(LINE).min(MAX_LINES);
    for k in 0..lines {
        f(k * LINE);
    }
    if len > 0 && len <= MAX_LINES * LINE {
        f(len - 1);
    }
}

/// Calls `f` with the byte offsets to prefetch before a binary search over
/// `n` elements of `elem` bytes: every line when the array spans at most
/// [`SEARCH_PROBES`] lines, else the elements at `k * n / (SEARCH_PROBES + 1)`
/// (the first probes: the middle, the quarters, the eighths, the sixteenths).
#[inline(always)]
fn each_search_offset(n: usize, elem: usize, mut f: impl FnMut(usize)) {
    let len = n * elem;
    if len <= SEARCH_PROBES * LINE {
        each_line_offset(len, f);
        return;
    }
    for k in 1..SEARCH_PROBES + 1 {
        f(n * k / (SEARCH_PROBES + 1) * elem);
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
fn line(p: *const u8) {
    use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: `prefetcht0` is a hint: it never faults, whatever the address,
    // and neither reads nor writes memory the program can observe. SSE is
    // part of the x86_64 baseline, so every x86_64 CPU has the instruction.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn line(_p: *const u8) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offsets `each` produces.
    fn offsets(each: impl FnOnce(&mut dyn FnMut(usize))) -> Vec<usize> {
        let mut v = Vec::new();
        each(&mut |o| v.push(o));
        v
    }

    fn line_offsets(len: usize) -> Vec<usize> {
        offsets(|f| each_line_offset(len, f))
    }

    fn search_offsets(n: usize, elem: usize) -> Vec<usize> {
        offsets(|f| each_search_offset(n, elem, f))
    }

    /// The cache lines (of an array starting `start` bytes into a line)
    /// that `offsets` touch.
    fn lines(start: usize, offsets: Vec<usize>) -> Vec<usize> {
        let mut v: Vec<usize> = offsets.iter().map(|o| (start + o) / LINE).collect();
        v.dedup();
        v
    }

    #[test]
    fn small_arrays_get_every_line_aligned_or_not() {
        assert!(lines(0, line_offsets(0)).is_empty());
        assert_eq!(lines(0, line_offsets(1)), vec![0]);
        assert_eq!(lines(0, line_offsets(64)), vec![0]);
        assert_eq!(lines(0, line_offsets(65)), vec![0, 1]);
        // 100 value bytes starting anywhere in a line: 2 or 3 lines, all.
        for start in [0, 8, 48, 63] {
            let want: Vec<usize> = (start / LINE..=(start + 99) / LINE).collect();
            assert_eq!(lines(start, line_offsets(100)), want, "start {start}");
            assert_eq!(lines(start, search_offsets(25, 4)), want, "start {start}");
        }
        assert!(line_offsets(1000).iter().all(|o| *o < 1000));
        // Never more than MAX_LINES (+ the tail) lines.
        assert_eq!(line_offsets(1 << 20).len(), MAX_LINES);
    }

    #[test]
    fn large_arrays_get_the_first_probes_only() {
        let (n, elem) = (128, 28);
        let offs = search_offsets(n, elem);
        assert_eq!(offs.len(), SEARCH_PROBES);
        assert!(offs.iter().all(|o| o % elem == 0 && *o < n * elem));
        // The middle element (the first probe) and the quarters are there.
        for i in [n / 2, n / 4, 3 * n / 4] {
            assert!(offs.contains(&(i * elem)), "{i}");
        }
        assert!(offs.windows(2).all(|w| w[0] < w[1]));
        assert!(search_offsets(0, 16).is_empty());
    }

    #[test]
    fn hints_leave_data_unchanged() {
        let keys: Vec<[u8; 16]> = (0..200u8).map(|i| [i; 16]).collect();
        slice(&keys);
        slice(&keys[3..7]);
        slice::<u64>(&[]);
        search(&keys);
        search(&keys[..2]);
        search::<u64>(&[]);
        value(&keys[5]);
        value(&keys);
        slice(&[1u8, 2, 3]);
        assert!(keys.iter().enumerate().all(|(i, k)| *k == [i as u8; 16]));
    }
}
