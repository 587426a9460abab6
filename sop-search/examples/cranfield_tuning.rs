//! Compares analyzer/indexing choices on a BEIR collection (default: Cranfield) by nDCG@10,
//! to justify the defaults of `AnalyzerConfig::english`. Every configuration is applied to
//! all queries alike (no per-query tuning).
//!
//! `cargo run --release -p sop-search --example cranfield_tuning [-- DIR]`

use std::collections::HashMap;
use std::path::PathBuf;

use sop_search::analyzer::{AnalyzerConfig, StopWords};
use sop_search::eval::evaluate;
use sop_search::memory_index::QueryTermWeighting;
use sop_search::{BeirDataset, Bm25Params, MemoryIndex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../datasets/cranfield"
            ))
        });
    let ds = BeirDataset::load(&dir)?;
    let stops = [
        ("none", StopWords::None),
        ("lucene", StopWords::LuceneEnglish),
        ("nltk", StopWords::NltkEnglish),
    ];
    for (stop_name, stop) in &stops {
        for stemming in [true, false] {
            for title in [true, false] {
                for weighting in [QueryTermWeighting::Count, QueryTermWeighting::Unique] {
                    let cfg = AnalyzerConfig {
                        stop_words: stop.clone(),
                        stemming,
                        ..AnalyzerConfig::english()
                    };
                    let mut idx = MemoryIndex::new(cfg.build(), Bm25Params::default())?
                        .with_weighting(weighting);
                    for d in &ds.corpus {
                        let text = if title { d.full_text() } else { d.text.clone() };
                        idx.add(&d.id, &text)?;
                    }
                    let run: HashMap<String, Vec<String>> = ds
                        .queries
                        .iter()
                        .map(|q| {
                            let hits = idx.search(&q.text, 100);
                            (q.id.clone(), hits.into_iter().map(|h| h.doc_id).collect())
                        })
                        .collect();
                    let s = evaluate(&run, &ds.qrels);
                    println!(
                        "stop={stop_name:6} stem={stemming:5} title={title:5} qtf={weighting:?}: ndcg@10={:.4} recall@100={:.4}",
                        s.ndcg_at_10, s.recall_at_100
                    );
                }
            }
        }
    }
    Ok(())
}
