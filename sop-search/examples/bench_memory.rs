//! Indexing speed, single-thread query throughput and quality of the in-memory reference
//! index, printed as one JSON line.
//!
//! ```text
//! cargo run --release -p sop-search --example bench_memory -- --corpus DIR [--queries FILE --qrels FILE]
//! cargo run --release -p sop-search --example bench_memory -- --synthetic 200000
//! ```
//! Without arguments it runs on `datasets/cranfield`. `--synthetic N` generates N documents
//! over a deterministic Zipf vocabulary (and 1,000 queries) instead; it has no qrels.

mod common;

use std::time::Instant;

use common::{json_num, load_input, measure_qps, quality, BoxError};
use sop_search::topk::top_k_with_stats;
use sop_search::{ByDocNumber, MemoryIndex};

fn main() -> Result<(), BoxError> {
    let input = load_input()?;
    let (corpus, queries) = (&input.corpus, &input.queries);

    let start = Instant::now();
    let mut idx = MemoryIndex::english();
    for d in corpus {
        idx.add(&d.id, &d.full_text())?;
    }
    let index_s = start.elapsed().as_secs_f64();

    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let qps = measure_qps(&texts, |q| idx.search(q, 10).len()).wall;
    let qps_exhaustive = measure_qps(&texts, |q| idx.search_exhaustive(q, 10).len()).wall;
    let analyzer = idx.analyzer().clone();
    let qps_analyze_only = measure_qps(&texts, |q| analyzer.analyze(q).len()).wall;
    let (mut candidates, mut fully_scored) = (0usize, 0usize);
    for q in &texts {
        let terms = idx.query_terms(q);
        let (_, st) = top_k_with_stats(&terms, idx.doc_lengths(), 10, &ByDocNumber);
        candidates += st.candidates;
        fully_scored += st.fully_scored;
    }
    let per_query = |x: usize| x as f64 / texts.len().max(1) as f64;
    let (ndcg, recall) = match &input.qrels {
        Some(qrels) => quality(queries, qrels, |q| {
            Ok(idx.search(q, 100).into_iter().map(|h| h.doc_id).collect())
        })?,
        None => (f64::NAN, f64::NAN),
    };
    println!(
        "{{\"docs\":{},\"index_s\":{:.3},\"docs_per_s\":{:.0},\"queries\":{},\"qps\":{:.0},\"qps_exhaustive\":{:.0},\"qps_analyze_only\":{:.0},\"candidates_per_query\":{:.0},\"fully_scored_per_query\":{:.0},\"ndcg@10\":{},\"recall@100\":{}}}",
        corpus.len(),
        index_s,
        corpus.len() as f64 / index_s,
        queries.len(),
        qps,
        qps_exhaustive,
        qps_analyze_only,
        per_query(candidates),
        per_query(fully_scored),
        json_num(ndcg),
        json_num(recall)
    );
    Ok(())
}
