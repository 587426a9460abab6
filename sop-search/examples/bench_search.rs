//! Indexing speed, single-thread query throughput and quality of the transactional B-tree
//! index ([`sop_search::SearchIndex`]) on a real database in a temporary folder, printed as
//! one JSON line.
//!
//! ```text
//! cargo run --release -p sop-search --example bench_search -- --corpus DIR [--queries FILE --qrels FILE]
//! cargo run --release -p sop-search --example bench_search -- --synthetic 200000 [--batch N]
//! ```
//! Without arguments it runs on `datasets/cranfield`. Documents are indexed in `ForWriting`
//! transactions of `--batch` documents (default 2,000) with `add_batch`; queries run on one
//! thread, each in its own `NoCheck` transaction (`qps`, the cold first pass reported as
//! `first_pass_qps`) and all in one reused read transaction (`qps_reused_tx`). Progress goes
//! to stderr.

mod common;

use std::time::Instant;

use common::{arg, json_num, load_input, measure_qps, quality, BoxError};
use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_search::{SearchConfig, SearchHit, SearchIndex};

const INDEX: &str = "bench";

fn main() -> Result<(), BoxError> {
    let input = load_input()?;
    let batch: usize = arg("--batch").map_or(Ok(2000), |b| b.parse())?;
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
    let start = Instant::now();
    for (i, chunk) in docs.chunks(batch.max(1)).enumerate() {
        rt.block_on(async {
            let tx = db.begin(TransactionMode::ForWriting).await?;
            let idx = SearchIndex::open(&tx, INDEX, SearchConfig::default()).await?;
            idx.add_batch(chunk).await?;
            tx.commit().await?;
            Ok::<(), BoxError>(())
        })?;
        let done = (i * batch + chunk.len()).min(docs.len());
        if docs.len() > 20_000 && (i % 10 == 9 || done == docs.len()) {
            let s = start.elapsed().as_secs_f64();
            eprintln!("indexed {done}/{} docs in {s:.1}s ({:.0} docs/s)", docs.len(), done as f64 / s);
        }
    }
    let index_s = start.elapsed().as_secs_f64();

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
    let cold = Instant::now();
    for q in &texts {
        search_in_own_tx(q)?;
    }
    let first_pass_qps = texts.len() as f64 / cold.elapsed().as_secs_f64();
    let qps = measure_qps(&texts, |q| search_in_own_tx(q).map_or(0, |h| h.len()));

    let (tx, idx) = rt.block_on(async {
        let tx = db.begin(TransactionMode::NoCheck).await?;
        let idx = SearchIndex::open(&tx, INDEX, SearchConfig::default()).await?;
        Ok::<_, BoxError>((tx, idx))
    })?;
    let search = |q: &str, k: usize| rt.block_on(idx.search(q, k));
    let qps_reused_tx = measure_qps(&texts, |q| search(q, 10).map_or(0, |h| h.len()));
    let (ndcg, recall) = match &input.qrels {
        Some(qrels) => quality(&input.queries, qrels, |q| {
            search(q, 100)
                .map(|hits| hits.into_iter().map(|h| h.doc_id).collect())
                .unwrap_or_default()
        }),
        None => (f64::NAN, f64::NAN),
    };
    rt.block_on(tx.commit())?;
    rt.block_on(db.close())?;
    println!(
        "{{\"docs\":{},\"batch\":{},\"index_s\":{:.3},\"docs_per_s\":{:.0},\"queries\":{},\"first_pass_qps\":{:.0},\"qps\":{:.0},\"qps_reused_tx\":{:.0},\"ndcg@10\":{},\"recall@100\":{}}}",
        docs.len(),
        batch,
        index_s,
        docs.len() as f64 / index_s,
        texts.len(),
        first_pass_qps,
        qps,
        qps_reused_tx,
        json_num(ndcg),
        json_num(recall)
    );
    Ok(())
}
