//! Indexing speed, single-thread query throughput and quality of the in-memory reference
//! index, printed as one JSON line.
//!
//! ```text
//! cargo run --release -p sop-search --example bench_memory -- --corpus DIR [--queries FILE --qrels FILE]
//! cargo run --release -p sop-search --example bench_memory -- --synthetic 200000
//! ```
//! Without arguments it runs on `datasets/cranfield`. `--synthetic N` generates N documents
//! over a deterministic Zipf vocabulary (and 1,000 queries) instead; it has no qrels.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use sop_search::beir::{load_corpus, load_qrels, load_queries, BeirDoc, BeirQuery};
use sop_search::eval::evaluate;
use sop_search::topk::top_k_with_stats;
use sop_search::{ByDocNumber, MemoryIndex, Qrels};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| -> Option<String> {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let (corpus, queries, qrels) = if let Some(n) = value("--synthetic") {
        let n: usize = n
            .parse()
            .map_err(|_| format!("--synthetic: `{n}` is not a count"))?;
        let (c, q) = synthetic(n, 1000);
        (c, q, None)
    } else {
        let dir = value("--corpus").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../datasets/cranfield"
            ))
        });
        let qf = value("--queries").map_or_else(|| dir.join("queries.jsonl"), PathBuf::from);
        let rf = value("--qrels").map_or_else(|| dir.join("qrels.tsv"), PathBuf::from);
        let qrels = if rf.exists() {
            Some(load_qrels(&rf)?)
        } else {
            None
        };
        (
            load_corpus(&dir.join("corpus.jsonl"))?,
            load_queries(&qf)?,
            qrels,
        )
    };

    let start = Instant::now();
    let mut idx = MemoryIndex::english();
    for d in &corpus {
        idx.add(&d.id, &d.full_text())?;
    }
    let index_s = start.elapsed().as_secs_f64();

    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let qps = measure_qps(&texts, |q| idx.search(q, 10).len());
    let qps_exhaustive = measure_qps(&texts, |q| idx.search_exhaustive(q, 10).len());
    let analyzer = idx.analyzer().clone();
    let qps_analyze_only = measure_qps(&texts, |q| analyzer.analyze(q).len());
    let (mut candidates, mut fully_scored) = (0usize, 0usize);
    for q in &texts {
        let terms = idx.query_terms(q);
        let (_, st) = top_k_with_stats(&terms, idx.doc_lengths(), 10, &ByDocNumber);
        candidates += st.candidates;
        fully_scored += st.fully_scored;
    }
    let per_query = |x: usize| x as f64 / texts.len().max(1) as f64;
    let (ndcg, recall) = match &qrels {
        Some(qrels) => quality(&idx, &queries, qrels),
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

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "null".into()
    }
}

/// Runs all queries repeatedly for at least a second; returns queries per second.
fn measure_qps(queries: &[&str], mut run: impl FnMut(&str) -> usize) -> f64 {
    if queries.is_empty() {
        return 0.0;
    }
    let mut sink = 0usize;
    for q in queries.iter().take(50) {
        sink += run(q); // warm-up
    }
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed().as_secs_f64() < 1.0 {
        for q in queries {
            sink += run(q);
        }
        done += queries.len();
    }
    std::hint::black_box(sink);
    done as f64 / start.elapsed().as_secs_f64()
}

fn quality(idx: &MemoryIndex, queries: &[BeirQuery], qrels: &Qrels) -> (f64, f64) {
    let run: HashMap<String, Vec<String>> = queries
        .iter()
        .map(|q| {
            let ids = idx
                .search(&q.text, 100)
                .into_iter()
                .map(|h| h.doc_id)
                .collect();
            (q.id.clone(), ids)
        })
        .collect();
    let s = evaluate(&run, qrels);
    (s.ndcg_at_10, s.recall_at_100)
}

/// `n_docs` documents of 20–200 words and `n_queries` queries of 2–6 words over a 50,000-word
/// vocabulary with Zipf(1.0) frequencies; fully determined by the counts.
fn synthetic(n_docs: usize, n_queries: usize) -> (Vec<BeirDoc>, Vec<BeirQuery>) {
    const VOCAB: usize = 50_000;
    let words: Vec<String> = (0..VOCAB).map(word).collect();
    let mut cdf = Vec::with_capacity(VOCAB);
    let mut total = 0.0;
    for rank in 1..=VOCAB {
        total += 1.0 / rank as f64;
        cdf.push(total);
    }
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let sample = |next: &mut dyn FnMut() -> u64| {
        let u = (next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        cdf.partition_point(|&c| c < u).min(VOCAB - 1)
    };
    let docs = (0..n_docs)
        .map(|i| {
            let len = 20 + (next() % 181) as usize;
            let text: Vec<&str> = (0..len)
                .map(|_| words[sample(&mut next)].as_str())
                .collect();
            BeirDoc {
                id: format!("d{i}"),
                title: String::new(),
                text: text.join(" "),
            }
        })
        .collect();
    let queries = (0..n_queries)
        .map(|i| {
            let len = 2 + (next() % 5) as usize;
            let text: Vec<&str> = (0..len)
                .map(|_| words[sample(&mut next)].as_str())
                .collect();
            BeirQuery {
                id: format!("q{i}"),
                text: text.join(" "),
            }
        })
        .collect();
    (docs, queries)
}

/// A pronounceable, stem-stable word for vocabulary rank `i` (letters only, no stop words).
fn word(i: usize) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "vo", "xe", "za", "bo", "di", "fu", "gi",
        "hy",
    ];
    let mut s = String::from("q");
    let mut n = i;
    loop {
        s.push_str(SYL[n % 16]);
        n /= 16;
        if n == 0 {
            break;
        }
    }
    s.push('x');
    s
}
