//! Retrieval quality on the Cranfield collection through the transactional B-tree index
//! (a real database in a tempdir), indexed in batched transactions and queried in `NoCheck`
//! transactions; it must match the in-memory reference exactly.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::BtreeFixture;
use sop_core::TransactionMode;
use sop_search::eval::evaluate;
use sop_search::{BeirDataset, MemoryIndex};

#[test]
fn cranfield_through_the_btree_index_has_ndcg_at_10_at_least_0_34() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/cranfield");
    let ds = BeirDataset::load(&dir).expect("load datasets/cranfield");
    assert_eq!(ds.corpus.len(), 1400);
    let docs: Vec<(String, String)> = ds
        .corpus
        .iter()
        .map(|d| (d.id.clone(), d.full_text()))
        .collect();
    let fx = BtreeFixture::new();
    for chunk in docs.chunks(500) {
        fx.rt.block_on(async {
            let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
            idx.add_batch(chunk).await.expect("index Cranfield batch");
            tx.commit().await.expect("commit batch");
        });
    }
    let mut reference = MemoryIndex::english();
    for (id, text) in &docs {
        reference.add(id, text).expect("reference index");
    }
    let run: HashMap<String, Vec<String>> = fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::NoCheck).await;
        let mut run = HashMap::new();
        for q in &ds.queries {
            let hits = idx.search(&q.text, 100).await.expect("search");
            assert_eq!(hits, reference.search(&q.text, 100), "query {}", q.id);
            run.insert(q.id.clone(), hits.into_iter().map(|h| h.doc_id).collect());
        }
        tx.commit().await.expect("commit reader");
        run
    });
    let s = evaluate(&run, &ds.qrels);
    println!(
        "cranfield (B-tree index): queries={} ndcg@10={:.4} recall@100={:.4}",
        s.queries, s.ndcg_at_10, s.recall_at_100
    );
    assert!(s.ndcg_at_10 >= 0.34, "nDCG@10 = {}", s.ndcg_at_10);
    assert!(s.recall_at_100 >= 0.70, "recall@100 = {}", s.recall_at_100);
}
