//! Minimal data parallelism on `std::thread::scope`: split an output slice into contiguous
//! parts and fill them on up to `threads` OS threads.
//!
//! Invariant: every element of the output is written by exactly one closure call, and the
//! split depends only on the slice length and the thread count, so results are identical to a
//! single-threaded run whenever the closure is a pure function of its index range.

/// Number of worker threads to use by default: the available parallelism (2 on the target
/// machine), at least 1.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Calls `f(first_index, part)` on disjoint contiguous parts of `out` covering it entirely,
/// using up to `threads` threads (the calling thread runs the last part). Runs inline when
/// `threads <= 1` or `out.len() < min_len`.
pub fn fill_parts<T, F>(out: &mut [T], threads: usize, min_len: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    let n = out.len();
    let threads = threads.max(1).min(n.max(1));
    if threads == 1 || n < min_len {
        f(0, out);
        return;
    }
    let per = n.div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let mut rest = out;
        let mut start = 0;
        while rest.len() > per {
            let (head, tail) = rest.split_at_mut(per);
            let s = start;
            scope.spawn(move || f(s, head));
            start += per;
            rest = tail;
        }
        f(start, rest);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_written_once_in_order() {
        for threads in [1usize, 2, 3, 8] {
            for n in [0usize, 1, 5, 100, 1001] {
                let mut out = vec![usize::MAX; n];
                fill_parts(&mut out, threads, 0, |start, part| {
                    for (i, x) in part.iter_mut().enumerate() {
                        *x = start + i;
                    }
                });
                assert!(
                    out.iter().enumerate().all(|(i, &x)| i == x),
                    "t={threads} n={n}"
                );
            }
        }
        assert!(default_threads() >= 1);
    }
}
