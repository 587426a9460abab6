//! Vector benchmark (SPEC §7): durable batched ingest into a [`VectorStore`], one versioned
//! rebuild ([`optimize`]), then single-thread queries per nprobe with recall@10 against exact
//! ground truth. Prints one JSON line per nprobe; progress goes to stderr.
//!
//! ```text
//! cargo run --release -p sop-vector --example bench_vector -- \
//!     [--base F.fvecs --query F.fvecs --gt F.ivecs | --n N --dim D] [--nprobe 4,8,16,32]
//!     [--batch 10000] [--no-split] [--queries Q] [--centroids C] [--ingest-only]
//! ```
//!
//! `--ingest-only` stops after the ingest (no ground truth, rebuild or queries) and prints one
//! line with `ingest_vps`: the write path alone, for profilers (callgrind, perf).
//!
//! Before the timed queries, a warm-up runs `2 × queries` queries taken from the base rows (never
//! the timed queries themselves) at the largest nprobe, so the bucket slabs are loaded.
//!
//! `--centroids C` sets the number of centroids of the rebuild (default `√n`). Besides wall-clock
//! `qps`, each line has `qps_cpu`: queries per CPU second of the querying thread, steadier on a
//! shared machine.

use std::time::Instant;

use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_vector::fvecs::{read_fvecs, read_ivecs};
use sop_vector::ground_truth::{exact_top_k, from_ivecs, recall_at_k};
use sop_vector::synthetic::{generate, ClusteredSpec};
use sop_vector::{
    optimize, HealingPolicy, Metric, NewItem, RebuildOptions, VectorConfig, VectorSlab, VectorStore,
};

/// mimalloc backs its arenas with transparent huge pages (fewer TLB misses on the
/// vector slabs and B-tree nodes); see the README's "Benchmarks" section.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num(name: &str, default: usize) -> usize {
    flag(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds this thread has run (`/proc/thread-self/schedstat`, nanoseconds; 0 when
/// unavailable): query throughput per CPU second is steadier than wall time on a shared
/// machine.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// Whether only the ingest runs (`--ingest-only`).
fn ingest_only() -> bool {
    std::env::args().any(|a| a == "--ingest-only")
}

/// Base vectors, queries and ground truth (ids = row numbers).
fn load() -> BoxResult<(VectorSlab, VectorSlab, Vec<Vec<u32>>)> {
    if let (Some(b), Some(q)) = (flag("--base"), flag("--query")) {
        let base = read_fvecs(b)?;
        let queries = read_fvecs(q)?;
        let truth = match flag("--gt") {
            Some(g) => from_ivecs(&read_ivecs(g)?)?,
            None => exact_top_k(&base, &queries, 10, Metric::Cosine, 2)?,
        };
        return Ok((base, queries, truth));
    }
    let mut spec = ClusteredSpec::new(num("--n", 20_000), num("--dim", 128));
    spec.queries = num("--queries", 1000).min(spec.n);
    let t = Instant::now();
    let data = generate(&spec)?;
    eprintln!(
        "generated {} × {} in {:.1}s",
        spec.n,
        spec.dim,
        t.elapsed().as_secs_f64()
    );
    if ingest_only() {
        return Ok((data.base, data.queries, Vec::new()));
    }
    let t = Instant::now();
    let truth = exact_top_k(&data.base, &data.queries, 10, Metric::Cosine, 2)?;
    eprintln!("ground truth in {:.1}s", t.elapsed().as_secs_f64());
    Ok((data.base, data.queries, truth))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> BoxResult<()> {
    let (base, queries, truth) = load()?;
    let (n, dim) = (base.len(), base.dim());
    let nprobes: Vec<usize> = flag("--nprobe")
        .unwrap_or_else(|| "4,8,16,32".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let batch = num("--batch", 10_000);
    let split = !std::env::args().any(|a| a == "--no-split");
    let cfg = VectorConfig::new(dim).healing(HealingPolicy {
        auto_split: split,
        ..HealingPolicy::default()
    });
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;

    let t = Instant::now();
    for (b, chunk) in base.as_slice().chunks(batch * dim).enumerate() {
        let items: Vec<NewItem> = chunk
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, v)| NewItem::new((b * batch + i).to_string(), v.to_vec()))
            .collect();
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let store = VectorStore::open(&tx, "bench", cfg.clone()).await?;
        store.upsert_batch(items).await?;
        tx.commit().await?;
        if b % 10 == 0 {
            eprintln!(
                "ingested {} / {n} ({:.1}s)",
                (b + 1) * batch,
                t.elapsed().as_secs_f64()
            );
        }
    }
    let ingest_s = t.elapsed().as_secs_f64();
    let ingest_vps = n as f64 / ingest_s;
    eprintln!("ingest {ingest_vps:.0} vectors/s");
    if ingest_only() {
        println!("{{\"n\":{n},\"dim\":{dim},\"ingest_vps\":{ingest_vps:.0},\"ingest_s\":{ingest_s:.2},\"auto_split\":{split},\"batch\":{batch}}}");
        db.close().await?;
        return Ok(());
    }

    let t = Instant::now();
    let rebuild = RebuildOptions {
        centroids: flag("--centroids").and_then(|c| c.parse().ok()),
        ..RebuildOptions::default()
    };
    let report = optimize(&db, "bench", &rebuild).await?;
    let build_s = t.elapsed().as_secs_f64();
    eprintln!("optimize: {report:?}");

    let tx = db.begin(TransactionMode::NoCheck).await?;
    let store = VectorStore::open(&tx, "bench", cfg.clone()).await?;
    let t = Instant::now();
    let max_probe = nprobes.iter().copied().max().unwrap_or(16);
    // Warm-up with base rows (an even stride over the data, so every cluster in
    // proportion to its size), never the timed queries: the bucket slabs get
    // loaded, but no timed query finds its own results already cached.
    let warm = (2 * queries.len()).clamp(1, n.max(1));
    for i in 0..warm {
        store
            .query(base.row(i * n / warm), 10, None, max_probe)
            .await?;
    }
    eprintln!("cache warm-up in {:.1}s", t.elapsed().as_secs_f64());
    for &nprobe in &nprobes {
        let (t, cpu) = (Instant::now(), thread_cpu_s());
        let mut found = Vec::with_capacity(queries.len());
        for q in queries.rows() {
            let hits = store.query(q, 10, None, nprobe).await?;
            found.push(hits.iter().filter_map(|h| h.id.parse().ok()).collect());
        }
        let qps = queries.len() as f64 / t.elapsed().as_secs_f64();
        let qps_cpu = queries.len() as f64 / (thread_cpu_s() - cpu).max(1e-9);
        let recall = recall_at_k(&truth, &found, 10)?;
        println!(
            "{{\"n\":{n},\"dim\":{dim},\"nprobe\":{nprobe},\"qps\":{qps:.0},\"qps_cpu\":{qps_cpu:.0},\"recall@10\":{recall:.4},\"ingest_vps\":{ingest_vps:.0},\"ingest_s\":{ingest_s:.2},\"build_s\":{build_s:.2},\"centroids\":{},\"auto_split\":{split},\"batch\":{batch},\"peak_rss_mb\":{:.0}}}",
            report.centroids,
            peak_rss_mb()
        );
    }
    db.close().await?;
    Ok(())
}
