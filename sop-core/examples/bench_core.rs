//! Core benchmark (SPEC §7 "Core"): batched durable inserts of random 16-byte
//! keys with 100-byte values (1,000 per transaction), warm random point reads,
//! a full scan and concurrent writers. Prints one JSON line.
//!
//! `cargo run --release -p sop-core --example bench_core -- --n 1000000`
//!
//! `--phases insert,checkpoint,get,scan,concurrent` (the default) selects what
//! runs, so a profiler (`valgrind --tool=callgrind`) can attribute instruction
//! counts to one phase by difference; skipped phases are left out.
//! `insert_cpu_s` / `get_cpu_s` are the seconds the benchmark thread (which
//! runs the insert and read loops) spent on a CPU, `*_runq_s` the seconds it
//! waited for one: on a shared machine, ops per CPU-second is the figure
//! that does not depend on the load.
//! Keys are computed from the item's index ([`key_of`]), not kept in a list.
//! `--get-rounds R` times the 200k reads R times in the same process and
//! reports every round (`get_rounds_ops`) with their median as `get_ops`:
//! runs of one binary differ by up to 30% in read speed (memory placement),
//! rounds within one run much less.
//!
//! The binary uses mimalloc as its global allocator (`"allocator"` in the
//! output); see the README's "Benchmarks" section for why and for numbers
//! with the system allocator.

use std::time::Instant;

use futures::StreamExt;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sop_core::{Database, DatabaseOptions, Direction, SopError, StoreOptions, TransactionMode};

/// mimalloc backs its arenas with transparent huge pages: at 1M items the
/// node cache is ~0.5 GB of pointer-linked nodes, and on 4 KiB pages a random
/// read spends much of its time in TLB misses (README "Benchmarks").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 16 random bytes, serialized as MessagePack `bin` (via serde_bytes).
type Key = serde_bytes::ByteArray<16>;

/// The key of item `index`: 16 pseudo-random bytes computed from the index
/// (two rounds of the SplitMix64 finaliser, a bijection on `u64`, so no two
/// items share a key). Computing keys instead of keeping them in a 16 MB
/// list means a timed read measures the store, not a cache miss on the
/// benchmark's own key list.
fn key_of(index: u64) -> Key {
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let hi = mix(index.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let lo = mix(hi ^ 0x5851_f42d_4c95_7f2d);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    serde_bytes::ByteArray::new(bytes)
}
/// 100 bytes, serialized as MessagePack `bin`.
type Val = serde_bytes::ByteBuf;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn phases() -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    let list = args
        .iter()
        .position(|a| a == "--phases")
        .and_then(|i| args.get(i + 1))
        .map_or("insert,checkpoint,get,scan,concurrent", String::as_str);
    list.split(',').map(str::to_string).collect()
}

/// Seconds this thread ran on a CPU and waited in the run queue
/// (`/proc/thread-self/schedstat`): with other jobs on the machine, ops per
/// CPU-second of the benchmark thread is the load-independent figure.
fn thread_sched() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut f = s
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(0.0) / 1e9);
    (f.next().unwrap_or(0.0), f.next().unwrap_or(0.0))
}

/// Adds `<name>_cpu_s` and `<name>_runq_s` for the time since `since`.
fn sched_since(out: &mut serde_json::Value, name: &str, since: (f64, f64)) {
    let now = thread_sched();
    out[format!("{name}_cpu_s")] = (now.0 - since.0).into();
    out[format!("{name}_runq_s")] = (now.1 - since.1).into();
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), SopError> {
    let n = arg("--n", 1_000_000);
    let batch = arg("--batch", 1_000);
    let reads = arg("--reads", 200_000);
    let slot = arg("--slot", 128) as usize;
    let get_rounds = arg("--get-rounds", 1).max(1);
    let phases = phases();
    let on = |p: &str| phases.iter().any(|q| q == p);
    let dir = tempfile::tempdir().map_err(|e| SopError::io("tempdir", e))?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let opts = StoreOptions::with_slot_length(slot);
    let mut rng = SmallRng::seed_from_u64(42);
    let value = serde_bytes::ByteBuf::from(vec![7u8; 100]);
    let mut out = serde_json::json!({
        "bench": "core",
        "n": n,
        "batch": batch,
        "slot_length": slot,
        "reads": reads,
        "allocator": "mimalloc",
    });

    if on("insert") {
        let s0 = thread_sched();
        let t0 = Instant::now();
        let mut commit_s = 0.0;
        for (i, start) in (0..n).step_by(batch as usize).enumerate() {
            let tx = db.begin(TransactionMode::ForWriting).await?;
            let tree = tx.new_btree::<Key, Val>("bench", opts.clone()).await?;
            for index in start..(start + batch).min(n) {
                tree.add(key_of(index), value.clone()).await?;
            }
            let tc = Instant::now();
            tx.commit().await?;
            commit_s += tc.elapsed().as_secs_f64();
            if i % 200 == 0 {
                eprintln!("inserted {} / {n}", (i + 1) * batch as usize);
            }
        }
        let insert_s = t0.elapsed().as_secs_f64();
        out["insert_ops"] = (n as f64 / insert_s).round().into();
        out["insert_s"] = insert_s.into();
        out["insert_commit_s"] = commit_s.into();
        sched_since(&mut out, "insert", s0);
    }
    if on("checkpoint") {
        let t1 = Instant::now();
        db.checkpoint().await?;
        out["checkpoint_s"] = t1.elapsed().as_secs_f64().into();
    }

    if on("insert") && (on("get") || on("scan")) {
        let tx = db.begin(TransactionMode::NoCheck).await?;
        let tree = tx.open_btree::<Key, Val>("bench").await?;
        if on("get") {
            // Warm up, then random point reads.
            for index in (0..n).step_by(7) {
                tree.get(&key_of(index)).await?;
            }
            let s2 = thread_sched();
            let mut rounds_ops = Vec::new();
            for _ in 0..get_rounds {
                let t2 = Instant::now();
                let mut found = 0u64;
                for _ in 0..reads {
                    let k = key_of(rng.gen_range(0..n));
                    if tree.get(&k).await?.is_some() {
                        found += 1;
                    }
                }
                let get_s = t2.elapsed().as_secs_f64();
                assert_eq!(found, reads);
                rounds_ops.push((reads as f64 / get_s).round());
            }
            sched_since(&mut out, "get", s2);
            if get_rounds > 1 {
                out["get_rounds_ops"] = rounds_ops.clone().into();
            }
            rounds_ops.sort_by(f64::total_cmp);
            out["get_ops"] = rounds_ops[rounds_ops.len() / 2].into();
        }
        if on("scan") {
            let t3 = Instant::now();
            let mut scanned = 0u64;
            let mut stream = std::pin::pin!(tree.keys(.., Direction::Forward));
            while let Some(k) = stream.next().await {
                k?;
                scanned += 1;
            }
            let scan_s = t3.elapsed().as_secs_f64();
            assert_eq!(scanned, n);
            out["scan_items_s"] = (scanned as f64 / scan_s).round().into();
        }
        tx.commit().await?;
    }

    if on("concurrent") {
        // Concurrent writers: 4 tasks inserting disjoint keys into one store.
        let writers = 4u64;
        let per_writer = (n / 10).max(writers * batch) / writers;
        let t4 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let db = db.clone();
            let opts = opts.clone();
            let value = value.clone();
            tasks.push(tokio::spawn(async move {
                let mut rng = SmallRng::seed_from_u64(1000 + w);
                let mut done = 0;
                while done < per_writer {
                    let tx = db.begin(TransactionMode::ForWriting).await?;
                    let tree = tx.new_btree::<Key, Val>("concurrent", opts.clone()).await?;
                    for _ in 0..batch.min(per_writer - done) {
                        let mut k: [u8; 16] = rng.gen();
                        k[0] = w as u8;
                        tree.add(serde_bytes::ByteArray::new(k), value.clone())
                            .await?;
                    }
                    match tx.commit().await {
                        Ok(()) => done += batch.min(per_writer - done),
                        Err(e) if e.is_retryable() => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok::<(), SopError>(())
            }));
        }
        for t in tasks {
            t.await.map_err(|e| SopError::Task(e.to_string()))??;
        }
        let conc_s = t4.elapsed().as_secs_f64();
        out["concurrent_writers"] = writers.into();
        out["concurrent_insert_ops"] = ((per_writer * writers) as f64 / conc_s).round().into();
    }
    out["peak_rss_mb"] = peak_rss_mb().into();
    out["loadavg"] = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
        .into();
    println!("{out}");
    db.close().await
}
