//! Software prefetch hints for the read path of the tree.
//!
//! A binary search over a node's keys makes about `log2(n)` *dependent*
//! loads: when the node is not in the CPU cache, each probe waits for memory
//! in turn. Asking for the array's cache lines before the search lets the
//! memory system fetch them in parallel, so the search waits about once.
//!
//! Invariants:
//! - A prefetch is only a hint: it never faults (any address is allowed),
//!   changes no memory and no result. On architectures other than x86_64 the
//!   hints are no-ops.
//! - At most [`MAX_LINES`] lines are requested per call: for a larger array
//!   the lines of the search's first probes are requested instead, so a
//!   huge node never floods the cache.

/// Bytes per cache line assumed.
pub const LINE: usize = 64;

/// Most lines one call requests.
pub const MAX_LINES: usize = 64;

/// Hints that the elements of `items` will be read soon.
#[inline(always)]
pub fn slice<T>(items: &[T]) {
    let base = items.as_ptr().cast::<u8>();
    for off in line_offsets(std::mem::size_of_val(items), std::mem::size_of::<T>()) {
        line(base.wrapping_add(off));
    }
}

/// Hints that `value` (all of its bytes) will be read soon.
#[inline(always)]
pub fn value<T>(value: &T) {
    slice(std::slice::from_ref(value));
}

/// Hints that `bytes` will be read soon.
#[inline(always)]
pub fn bytes(bytes: &[u8]) {
    slice(bytes);
}

/// Byte offsets, within an array of `len` bytes made of elements of `elem`
/// bytes, of the addresses to prefetch: one per cache line when the array
/// spans at most [`MAX_LINES`] lines (plus its last byte, which may start a
/// line of its own when the array is not line aligned); otherwise the
/// starts of the elements a binary search probes first (at `k / MAX_LINES`
/// of the array).
#[inline(always)]
fn line_offsets(len: usize, elem: usize) -> impl Iterator<Item = usize> {
    let (count, stride, elems) = if len == 0 {
        (0, 0, 0)
    } else if len <= (MAX_LINES - 1) * LINE {
        (len.div_ceil(LINE), LINE, 0)
    } else {
        (MAX_LINES - 1, 0, len / elem.max(1))
    };
    let tail = (len > 0 && len <= (MAX_LINES - 1) * LINE).then_some(len - 1);
    (0..count)
        .map(move |k| {
            if stride > 0 {
                k * stride
            } else {
                (elems * (k + 1) / MAX_LINES) * elem
            }
        })
        .chain(tail)
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

    /// The cache lines (relative to an array starting `start` bytes into a
    /// line) that the offsets touch.
    fn lines(start: usize, len: usize, elem: usize) -> Vec<usize> {
        let mut v: Vec<usize> = line_offsets(len, elem)
            .map(|o| (start + o) / LINE)
            .collect();
        v.dedup();
        v
    }

    #[test]
    fn small_arrays_get_every_line_aligned_or_not() {
        assert!(lines(0, 0, 16).is_empty());
        assert_eq!(lines(0, 1, 1), vec![0]);
        assert_eq!(lines(0, 64, 16), vec![0]);
        assert_eq!(lines(0, 65, 1), vec![0, 1]);
        // 90 keys of 16 bytes starting mid-line span 24 lines, all requested.
        for start in [0, 8, 48, 63] {
            let want: Vec<usize> = (start / LINE..=(start + 90 * 16 - 1) / LINE).collect();
            assert_eq!(lines(start, 90 * 16, 16), want, "start {start}");
        }
        // Every offset stays inside the array.
        assert!(line_offsets(1000, 8).all(|o| o < 1000));
    }

    #[test]
    fn large_arrays_get_the_first_probes_only() {
        let elem = 32;
        let len = 10_000 * elem;
        let offs: Vec<usize> = line_offsets(len, elem).collect();
        assert_eq!(offs.len(), MAX_LINES - 1);
        assert!(offs.iter().all(|o| o % elem == 0 && *o < len));
        // The middle element (the first probe) is among them.
        assert!(offs.contains(&(5_000 * elem)));
        assert!(offs.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn hints_leave_data_unchanged() {
        let keys: Vec<[u8; 16]> = (0..200u8).map(|i| [i; 16]).collect();
        slice(&keys);
        slice(&keys[3..7]);
        slice::<u64>(&[]);
        value(&keys[5]);
        value(&keys);
        bytes(&[1, 2, 3]);
        assert!(keys.iter().enumerate().all(|(i, k)| *k == [i as u8; 16]));
    }
}
