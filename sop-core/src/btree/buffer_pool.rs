//! Recycled leaf arrays: a per-thread free list of the vectors a leaf copy
//! needs (its entry and meta arrays and its owned value tail).
//!
//! Every write transaction copies each leaf it changes (copy-on-write), and
//! the version it replaces frees the previous copy soon after. Those arrays
//! are a few KiB each, a size glibc's allocator serves from its sorted bins
//! by splitting and coalescing blocks: measured at about a third of the CPU
//! time of a random insert. Handing a freed array straight to the next copy
//! skips the allocator for all but the first few copies on a thread.
//!
//! Invariants:
//! - A pooled vector is empty (`len == 0`): its elements were dropped when
//!   it was given back, so the pool never keeps keys or values alive.
//! - A pooled vector's allocation is at most [`MAX_VECTOR_BYTES`], and a
//!   thread keeps at most [`MAX_POOLED_BYTES`] in all (`FreeLists::bytes`
//!   counts them), so the memory a thread holds without using it is bounded.
//! - Lists are per thread and per element type (`TypeId`); a vector given
//!   back on one thread serves later copies on that thread only. No locks.
//! - Reentrancy and thread teardown are safe: when the thread's list is
//!   already borrowed or destroyed, `take` allocates and `give` frees.

use std::any::{Any, TypeId};
use std::cell::RefCell;

/// Bytes of empty vectors a thread keeps, all element types together: a
/// transaction that changes a thousand leaves frees about that many copies
/// at once, and the next one takes them back one by one.
pub const MAX_POOLED_BYTES: usize = 16 * 1024 * 1024;

/// Largest allocation (bytes) kept for reuse; larger vectors are freed.
pub const MAX_VECTOR_BYTES: usize = 64 * 1024;

/// Fresh allocations are rounded up to a multiple of this many elements, so
/// that leaves of slightly different sizes can reuse each other's arrays.
const CAPACITY_STEP: usize = 16;

/// How many of the most recently returned vectors `take` inspects.
const SEARCH_DEPTH: usize = 4;

/// One thread's free lists.
#[derive(Default)]
struct FreeLists {
    /// Per element type: a `Vec<Vec<T>>` of empty vectors.
    lists: Vec<(TypeId, Box<dyn Any>)>,
    /// Bytes allocated by the vectors in `lists` (at most [`MAX_POOLED_BYTES`]).
    bytes: usize,
}

thread_local! {
    static FREE: RefCell<FreeLists> = RefCell::new(FreeLists::default());
}

impl FreeLists {
    /// The free list for `T`, created when `create` is set.
    fn list_of<T: 'static>(&mut self, create: bool) -> Option<&mut Vec<Vec<T>>> {
        let ty = TypeId::of::<T>();
        let at = match self.lists.iter().position(|(t, _)| *t == ty) {
            Some(at) => at,
            None if create => {
                self.lists.push((ty, Box::new(Vec::<Vec<T>>::new())));
                self.lists.len() - 1
            }
            None => return None,
        };
        self.lists[at].1.downcast_mut::<Vec<Vec<T>>>()
    }

    /// A pooled vector of `T` with room for `cap`. When none of the most
    /// recent few is large enough, the most recent is freed, so that small
    /// vectors cannot silt up the list.
    fn take<T: 'static>(&mut self, cap: usize) -> Option<Vec<T>> {
        let list = self.list_of::<T>(false)?;
        let from = list.len().saturating_sub(SEARCH_DEPTH);
        let found = list[from..].iter().rposition(|v| v.capacity() >= cap);
        let v = match found {
            Some(at) => list.swap_remove(from + at),
            None => {
                let small = list.pop()?;
                self.bytes -= bytes_of(&small);
                return None;
            }
        };
        self.bytes -= bytes_of(&v);
        Some(v)
    }

    /// Keeps `v` when the byte budget allows.
    fn give<T: 'static>(&mut self, v: Vec<T>) {
        let size = bytes_of(&v);
        if self.bytes + size > MAX_POOLED_BYTES {
            return;
        }
        if let Some(list) = self.list_of::<T>(true) {
            list.push(v);
            self.bytes += size;
        }
    }
}

/// Bytes allocated by `v`.
fn bytes_of<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

/// True when vectors of `T` with room for `cap` elements may be pooled.
fn poolable<T>(cap: usize) -> bool {
    let size = size_of::<T>();
    size != 0 && cap != 0 && cap.saturating_mul(size) <= MAX_VECTOR_BYTES
}

/// An empty vector with room for at least `cap` elements: a recycled one
/// when this thread has one large enough, else a fresh allocation.
pub fn take<T: 'static>(cap: usize) -> Vec<T> {
    if !poolable::<T>(cap) {
        return Vec::with_capacity(cap);
    }
    let recycled = FREE
        .try_with(|free| free.try_borrow_mut().ok()?.take(cap))
        .ok()
        .flatten();
    recycled.unwrap_or_else(|| Vec::with_capacity(cap.next_multiple_of(CAPACITY_STEP)))
}

/// Gives `v`'s allocation back for reuse (its elements are dropped now).
pub fn give<T: 'static>(mut v: Vec<T>) {
    if !poolable::<T>(v.capacity()) {
        return;
    }
    // Drop the elements before borrowing the list: an element's own drop
    // may give vectors back too.
    v.clear();
    let _ = FREE.try_with(|free| {
        if let Ok(mut free) = free.try_borrow_mut() {
            free.give(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_vector_is_taken_again_empty_and_large_enough() {
        let mut v: Vec<u64> = take(40);
        assert!(v.capacity() >= 48, "rounded up to the step");
        v.extend(0..40);
        let ptr = v.as_ptr();
        give(v);
        let again: Vec<u64> = take(41);
        assert_eq!(again.as_ptr(), ptr, "the same allocation comes back");
        assert!(again.is_empty());
        // Too small a pooled vector is not handed out.
        give(again);
        let bigger: Vec<u64> = take(1000);
        assert!(bigger.capacity() >= 1000);
        assert_ne!(bigger.as_ptr(), ptr);
    }

    #[test]
    fn elements_are_dropped_when_given_back_and_types_stay_apart() {
        let shared = std::sync::Arc::new(5u32);
        let mut v: Vec<std::sync::Arc<u32>> = take(4);
        v.push(shared.clone());
        give(v);
        assert_eq!(
            std::sync::Arc::strong_count(&shared),
            1,
            "pool keeps no element"
        );
        // A list of another element type with the same size is separate.
        let other: Vec<usize> = take(4);
        assert!(other.is_empty());
    }

    #[test]
    fn the_pool_is_bounded_per_thread() {
        std::thread::spawn(|| {
            let each = 4096usize;
            let fits = MAX_POOLED_BYTES / each;
            for _ in 0..fits + 10 {
                give(Vec::<u8>::with_capacity(each));
            }
            let (kept, bytes) = FREE.with(|f| {
                let mut f = f.borrow_mut();
                let kept = f.list_of::<u8>(false).map_or(0, |list| list.len());
                (kept, f.bytes)
            });
            assert_eq!(kept, fits);
            assert_eq!(bytes, MAX_POOLED_BYTES);
            give(Vec::<u16>::with_capacity(8));
            let other = FREE.with(|f| f.borrow_mut().list_of::<u16>(false).map_or(0, |l| l.len()));
            assert_eq!(other, 0, "a full budget keeps nothing more");
            // Taking frees budget; a vector too large for the pool is freed.
            let _taken: Vec<u8> = take(each);
            give(Vec::<u64>::with_capacity(MAX_VECTOR_BYTES));
            let huge = FREE.with(|f| f.borrow_mut().list_of::<u64>(false).map_or(0, |l| l.len()));
            assert_eq!(huge, 0, "large allocations are freed, not kept");
        })
        .join()
        .expect("test thread");
    }

    #[test]
    fn small_vectors_do_not_silt_up_the_list() {
        std::thread::spawn(|| {
            for _ in 0..SEARCH_DEPTH + 2 {
                give(Vec::<u32>::with_capacity(16));
            }
            // Each miss frees one small vector, so repeated large takes
            // empty the list instead of skipping the same vectors forever.
            for _ in 0..SEARCH_DEPTH + 2 {
                let v: Vec<u32> = take(1000);
                assert!(v.capacity() >= 1000);
            }
            let left = FREE.with(|f| f.borrow_mut().list_of::<u32>(false).map_or(0, |l| l.len()));
            assert_eq!(left, 0);
            assert_eq!(FREE.with(|f| f.borrow().bytes), 0);
        })
        .join()
        .expect("test thread");
    }
}
