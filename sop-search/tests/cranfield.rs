//! Retrieval quality on the Cranfield collection (BEIR layout in `datasets/cranfield`).

use std::collections::HashMap;
use std::path::PathBuf;

use sop_search::eval::evaluate;
use sop_search::{BeirDataset, MemoryIndex};

fn cranfield() -> BeirDataset {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/cranfield");
    BeirDataset::load(&dir).expect("load datasets/cranfield")
}

fn build(ds: &BeirDataset) -> MemoryIndex {
    let mut idx = MemoryIndex::english();
    for d in &ds.corpus {
        idx.add(&d.id, &d.full_text())
            .expect("index Cranfield document");
    }
    idx
}

#[test]
fn cranfield_ndcg_at_10_is_at_least_0_34() {
    let ds = cranfield();
    assert_eq!(ds.corpus.len(), 1400);
    let idx = build(&ds);
    let run: HashMap<String, Vec<String>> = ds
        .queries
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
    let s = evaluate(&run, &ds.qrels);
    println!(
        "cranfield: queries={} ndcg@10={:.4} recall@100={:.4}",
        s.queries, s.ndcg_at_10, s.recall_at_100
    );
    assert!(s.ndcg_at_10 >= 0.34, "nDCG@10 = {}", s.ndcg_at_10);
    assert!(s.recall_at_100 >= 0.70, "recall@100 = {}", s.recall_at_100);
}

#[test]
fn cranfield_pruned_search_equals_exhaustive_for_every_query() {
    let ds = cranfield();
    let idx = build(&ds);
    for q in &ds.queries {
        for k in [1, 10, 100] {
            let fast = idx.search(&q.text, k);
            let slow = idx.search_exhaustive(&q.text, k);
            assert_eq!(fast, slow, "query {} k {k}", q.id);
        }
    }
}
