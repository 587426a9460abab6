//! Indexing speed, single-thread query throughput and quality of the transactional B-tree
//! index ([`sop_search::SearchIndex`]) on a real database in a temporary folder, printed as
//! one JSON line.
//!
//! ```text
//! cargo run --release -p sop-search --example bench_search -- --corpus DIR [--queries FILE --qrels FILE]
//! cargo run --release -p sop-search --example bench_search -- --synthetic 200000 [--batch N]
//! ```
//! `--index-only` stops after indexing (printing the indexing figures only), for profiling.
//! Without arguments it runs on `datasets/cranfield`. Documents are indexed in `ForWriting`
//! transactions of `--batch` documents (default 5,000) with `add_batch`; queries (k = 10) run
//! on one thread, each in its own `NoCheck` transaction (`qps`; the first, cache-filling
//! pass is `first_pass_qps`) and all in one reused read transaction (`qps_reused_tx`).
//! Rates are per wall-clock second; the `*_cpu` twins are per second of process CPU time,
//! which does not depend on other load on the machine. Progress goes to stderr.

mod common;

use common::{arg, json_int, json_num, load_input, measure_qps, quality, rate, BoxError};
use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_search::{SearchConfig, SearchHit, SearchIndex};

const INDEX: &str = "bench";

/// Indexes `docs` in one `ForWriting` transaction (not inlined, so that profilers can
/// collect exactly this, e.g. `valgrind --tool=callgrind --collect-atstart=no
/// --toggle-collect='*index_batch*'`).
#[inline(never)]
async fn index_batch(db: &Database, docs: &[(String, String)]) -> Result<(), BoxError> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let idx = SearchIndex::open(&tx, INDEX, SearchConfig::default()).await?;
    idx.add_batch(docs).await?;
    tx.commit().await?;
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let input = load_input()?;
    let batch: usize = arg("--batch").map_or(Ok(5000), |b| b.parse())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let db = rt.block_on(Database::open(DatabaseOptions::new(dir.path())))?;

    let docs: Vec<(String, String)> = input
        .corpus
        .iter()
        .map(|d| (d.id.clone(), d.full_text()))
        .collect();
    let (indexed, index_rate) = rate(docs.len(), || -> Result<(), BoxError> {
        let start = std::time::Instant::now();
        for (i, chunk) in docs.chunks(batch.max(1)).enumerate() {
            rt.block_on(index_batch(&db, chunk))?;
            let done = i * batch + chunk.len();
            if docs.len() >= 20_000 && (i % 5 == 4 || done == docs.len()) {
                let s = start.elapsed().as_secs_f64();
                let per_s = done as f64 / s;
                eprintln!(
                    "indexed {done}/{} docs in {s:.1}s ({per_s:.0} docs/s)",
                    docs.len()
                );
            }
        }
        Ok(())
    });
    indexed?;
    if std::env::args().any(|a| a == "--index-only") {
        rt.block_on(db.close())?;
        println!(
            "{{\"docs\":{},\"batch\":{},\"docs_per_s\":{:.0},\"docs_per_cpu_s\":{}}}",
            docs.len(),
            batch,
            index_rate.wall,
            json_int(index_rate.cpu)
        );
        return Ok(());
    }

    let texts: Vec<&str> = input.queries.iter().map(|q| q.text.as_str()).collect();
    let search_in_own_tx = |q: &str| -> Result<Vec<SearchHit>, BoxError> {
        rt.block_on(async {
            let tx = db.begin(TransactionMode::NoCheck).await?;
            let idx = SearchIndex::open(&tx, INDEX, SearchConfig::default()).await?;
            let hits = idx.search(q, 10).await?;
            tx.commit().await?;
            Ok(hits)
        })
    };
    let (first_pass, first_pass_rate) = rate(texts.len(), || -> Result<(), BoxError> {
        for q in &texts {
            search_in_own_tx(q)?;
        }
        Ok(())
    });
    first_pass?;
    let qps = measure_qps(&texts, |q| search_in_own_tx(q).map_or(0, |h| h.len()));

    let (tx, idx) = rt.block_on(async {
        let tx = db.begin(TransactionMode::NoCheck).await?;
        let idx = SearchIndex::open(&tx, INDEX, SearchConfig::default()).await?;
        Ok::<_, BoxError>((tx, idx))
    })?;
    let search = |q: &str, k: usize| rt.block_on(idx.search(q, k));
    let reused = measure_qps(&texts, |q| search(q, 10).map_or(0, |h| h.len()));
    let (ndcg, recall) = match &input.qrels {
        Some(qrels) => quality(&input.queries, qrels, |q| {
            Ok(search(q, 100)?.into_iter().map(|h| h.doc_id).collect())
        })?,
        None => (f64::NAN, f64::NAN),
    };
    rt.block_on(tx.commit())?;
    rt.block_on(db.close())?;
    println!(
        "{{\"docs\":{},\"batch\":{},\"docs_per_s\":{:.0},\"docs_per_cpu_s\":{},\"queries\":{},\"first_pass_qps\":{:.0},\"qps\":{:.0},\"qps_cpu\":{},\"qps_reused_tx\":{:.0},\"qps_reused_tx_cpu\":{},\"ndcg@10\":{},\"recall@100\":{}}}",
        docs.len(),
        batch,
        index_rate.wall,
        json_int(index_rate.cpu),
        texts.len(),
        first_pass_rate.wall,
        qps.wall,
        json_int(qps.cpu),
        reused.wall,
        json_int(reused.cpu),
        json_num(ndcg),
        json_num(recall)
    );
    Ok(())
}
