//! Runs one closure per shard, on scoped threads or in turn, and collects the
//! results in shard order. The first item runs on the calling thread; a
//! panicking worker becomes a [`SopError::Task`] for its item. Spawning
//! threads costs tens to hundreds of microseconds, so callers go parallel only
//! for shards large enough to pay for it.

use crate::error::{Result, SopError};

/// Calls `f(0..n)`, in parallel when `parallel`, and returns the results in
/// index order.
pub fn map<T, F>(n: usize, parallel: bool, f: F) -> Vec<Result<T>>
where
    T: Send,
    F: Fn(usize) -> Result<T> + Sync,
{
    if n <= 1 || !parallel {
        return (0..n).map(&f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..n).map(|i| scope.spawn(move || f(i))).collect();
        let mut out = Vec::with_capacity(n);
        out.push(f(0));
        for h in handles {
            out.push(
                h.join()
                    .unwrap_or_else(|_| Err(SopError::Task("shard worker panicked".into()))),
            );
        }
        out
    })
}
