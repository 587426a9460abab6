//! Ingest-only benchmark: the durable batched ingest of `bench_vector` (same generated data,
//! same batches, one committed transaction per batch) without ground truth, rebuild or
//! queries, so a profiler (callgrind, perf) sees the write path alone. Prints one JSON line.
//!
//! ```text
//! cargo run --release -p sop-vector --example bench_ingest -- [--n N] [--dim D] [--batch B]
//!     [--no-split]
//! ```

use std::time::Instant;

use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_vector::synthetic::{generate, ClusteredSpec};
use sop_vector::{HealingPolicy, NewItem, VectorConfig, VectorStore};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn num(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds of the whole process (user + system, from `/proc/self/stat`; 0 when
/// unavailable).
fn process_cpu_s() -> f64 {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        });
    ticks.map_or(0.0, |t| t / 100.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> BoxResult<()> {
    let mut spec = ClusteredSpec::new(num("--n", 100_000), num("--dim", 128));
    spec.queries = 1;
    let data = generate(&spec)?;
    let (n, dim) = (data.base.len(), data.base.dim());
    let batch = num("--batch", 10_000);
    let split = !std::env::args().any(|a| a == "--no-split");
    let cfg = VectorConfig::new(dim).healing(HealingPolicy {
        auto_split: split,
        ..HealingPolicy::default()
    });
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let (t, cpu) = (Instant::now(), process_cpu_s());
    for (b, chunk) in data.base.as_slice().chunks(batch * dim).enumerate() {
        let items: Vec<NewItem> = chunk
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, v)| NewItem::new((b * batch + i).to_string(), v.to_vec()))
            .collect();
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let store = VectorStore::open(&tx, "bench", cfg.clone()).await?;
        store.upsert_batch(items).await?;
        tx.commit().await?;
    }
    let ingest_s = t.elapsed().as_secs_f64();
    let cpu_s = process_cpu_s() - cpu;
    println!(
        "{{\"n\":{n},\"dim\":{dim},\"batch\":{batch},\"auto_split\":{split},\"ingest_vps\":{:.0},\"ingest_s\":{ingest_s:.2},\"cpu_s\":{cpu_s:.2}}}",
        n as f64 / ingest_s
    );
    db.close().await?;
    Ok(())
}
