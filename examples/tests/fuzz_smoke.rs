//! The fuzz targets (`fuzz/src/lib.rs`) run in the ordinary test suite on a
//! bounded, deterministic stream of inputs, so CI exercises them without a
//! nightly toolchain: for each target, its valid seeds, then mutations of
//! them (bit flips, byte overwrites, insertions, deletions, truncations,
//! splices of two seeds) and purely random inputs.
//!
//! `SOP_FUZZ_SMOKE_EXECS=<n>` sets the executions per target (default 5,000).
//! `SOP_FUZZ_WRITE_SEEDS=<dir>` also writes each target's seeds to
//! `<dir>/<target>/seed-<i>` (how `fuzz/corpus` was made). Prints one JSON
//! line with the executions per target.

#[path = "../../fuzz/src/lib.rs"]
mod bodies;

use bodies::TARGETS;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `seed` (possibly spliced with `other`).
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                out[at] = [0, 0xFF, 0x7F, 0x80, b'"', b'{', b'9'][rng.below(7)];
            }
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(16)).min(len);
                out.drain(at..end);
            }
            4 => out.truncate(rng.below(len + 1)),
            5 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            _ => {
                // Overwrite a little-endian length or count with an extreme.
                if len >= 4 {
                    let at = rng.below(len - 3);
                    let v = [0u32, 1, u32::MAX, 0x8000_0000, len as u32 + 1][rng.below(5)];
                    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    out
}

#[test]
fn fuzz_targets_survive_mutated_and_random_inputs() {
    let execs: usize = std::env::var("SOP_FUZZ_SMOKE_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let seed_dir = std::env::var("SOP_FUZZ_WRITE_SEEDS").ok();
    let mut counts = Vec::new();
    for (t, target) in TARGETS.iter().enumerate() {
        let seeds = (target.seeds)();
        assert!(!seeds.is_empty(), "{} has seeds", target.name);
        if let Some(dir) = &seed_dir {
            let dir = std::path::Path::new(dir).join(target.name);
            std::fs::create_dir_all(&dir).expect("seed folder");
            for (i, s) in seeds.iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{i}")), s).expect("seed file");
            }
        }
        let mut rng = Rng(0x00C0_FFEE ^ ((t as u64 + 1) << 32));
        let mut n = 0usize;
        for s in &seeds {
            (target.run)(s);
            n += 1;
        }
        while n < execs {
            let input = if rng.below(10) == 0 {
                let max = if rng.below(4) == 0 { 5_000 } else { 96 };
                let len = rng.below(max);
                (0..len).map(|_| rng.next() as u8).collect()
            } else {
                let a = &seeds[rng.below(seeds.len())];
                let b = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, a, b)
            };
            (target.run)(&input);
            n += 1;
        }
        counts.push(format!("\"{}\":{n}", target.name));
    }
    println!(
        "{{\"test\":\"fuzz_smoke\",\"executions\":{{{}}}}}",
        counts.join(",")
    );
}
