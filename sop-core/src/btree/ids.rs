//! Item ids: UUIDv7 (RFC 9562), strictly increasing within the process.
//!
//! Duplicates of one key are ordered by id, so ids must follow insertion
//! order. `Uuid::now_v7` guarantees that through a mutex-guarded shared
//! context; this generator does it with one atomic word instead (it is on the
//! path of every insert).
//!
//! Layout: 48-bit Unix time in ms · version 7 · 12 bits of a per-millisecond
//! sequence · variant · the sequence's low 4 bits · 58 random bits.
//!
//! Invariant: `STATE` (`ms << 16 | sequence`) only grows, so every id is
//! greater than every id handed out before it in this process. More than
//! 65,536 ids in one millisecond borrow from the next millisecond (the clock
//! catches up), as RFC 9562 allows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

static STATE: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The next item id.
pub fn next_item_id() -> Uuid {
    let floor = now_ms() << 16;
    let mut cur = STATE.load(Ordering::Relaxed);
    let state = loop {
        let next = floor.max(cur + 1);
        match STATE.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break next,
            Err(seen) => cur = seen,
        }
    };
    compose(state, rand::random::<u64>())
}

/// Builds the UUID for `state` (`ms << 16 | sequence`) and random bits.
fn compose(state: u64, random: u64) -> Uuid {
    let ms = state >> 16;
    let seq = state & 0xffff;
    let hi = (ms << 16) | 0x7000 | (seq >> 4);
    let lo = (0b10 << 62) | ((seq & 0xf) << 58) | (random >> 6);
    Uuid::from_u64_pair(hi, lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_strictly_increasing_across_threads() {
        let per_thread: Vec<Vec<Uuid>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..50_000).map(|_| next_item_id()).collect::<Vec<_>>()))
                .collect();
            hs.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let mut all = std::collections::HashSet::new();
        for ids in &per_thread {
            for w in ids.windows(2) {
                assert!(w[0] < w[1], "{} !< {}", w[0], w[1]);
            }
            for id in ids {
                assert_eq!(id.get_version_num(), 7);
                assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
                assert!(all.insert(*id));
            }
        }
        let ms = |u: &Uuid| u.as_u64_pair().0 >> 16;
        let first = ms(&per_thread[0][0]);
        assert!(first.abs_diff(now_ms()) < 60_000, "timestamp {first}");
    }

    #[test]
    fn sequence_overflow_borrows_the_next_millisecond() {
        let a = compose((5 << 16) | 0xffff, 0);
        let b = compose(6 << 16, 0);
        assert!(a < b);
        assert_eq!(a.as_u64_pair().0 >> 16, 5);
    }
}
