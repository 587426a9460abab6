//! A fast hasher for engine-internal ids (node ids, UUIDs).
//!
//! These keys are never attacker-chosen in a way that matters (node ids are
//! sequential, physical ids are random UUIDs), so a multiplicative hash is
//! safe and much cheaper than SipHash on the hot read path.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiplicative (Fibonacci) hashing of 8-byte words.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(23) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// Builder for [`IdHasher`].
pub type IdBuild = BuildHasherDefault<IdHasher>;
/// A `HashMap` keyed by engine ids.
pub type IdMap<K, V> = HashMap<K, V, IdBuild>;
/// A `HashSet` of engine ids.
pub type IdSet<K> = HashSet<K, IdBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_sequential_ids() {
        use std::hash::BuildHasher;
        let b = IdBuild::default();
        let buckets: HashSet<u64> = (0u64..1024).map(|i| b.hash_one(i) >> 54).collect();
        assert!(buckets.len() > 500, "{}", buckets.len());
    }
}
