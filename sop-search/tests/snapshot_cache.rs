//! The process-wide query cache is keyed by the index name and its stores' snapshot
//! versions only (no token stored in the index): sop-core never repeats a store version,
//! also across re-opens and across databases, so a cache never answers for another state.
//! Each scenario below would serve stale or foreign results if versions could repeat.

mod common;

use common::BtreeFixture;
use sop_core::TransactionMode;

/// Ids of the hits of `query` in a fresh `NoCheck` transaction (cache-served after the first).
fn hits(fx: &BtreeFixture, query: &str) -> Vec<String> {
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::NoCheck).await;
        let hits = idx.search(query, 10).await.expect("search");
        tx.commit().await.expect("commit reader");
        hits.into_iter().map(|h| h.doc_id).collect()
    })
}

fn write(fx: &BtreeFixture, docs: &[(&str, &str)], delete: &[&str]) {
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
        if !docs.is_empty() {
            idx.add_batch(docs).await.expect("add");
        }
        for id in delete {
            assert!(idx.delete(id).await.expect("delete"), "{id} indexed");
        }
        tx.commit().await.expect("commit");
    });
}

#[test]
fn same_named_indexes_of_two_databases_never_share_a_cache() {
    let a = BtreeFixture::new();
    let b = BtreeFixture::new();
    // The same operations in the same order: only the texts differ.
    write(&a, &[("1", "red fox"), ("2", "grey wolf")], &[]);
    write(&b, &[("1", "red wolf"), ("2", "grey fox")], &[]);
    for _ in 0..2 {
        assert_eq!(hits(&a, "fox"), vec!["1"]);
        assert_eq!(hits(&b, "fox"), vec!["2"]);
    }
    write(&a, &[], &["1"]);
    write(&b, &[], &["1"]);
    for _ in 0..2 {
        assert!(hits(&a, "fox").is_empty());
        assert_eq!(hits(&b, "fox"), vec!["2"]);
        assert_eq!(hits(&a, "wolf"), vec!["2"]);
        assert!(hits(&b, "wolf").is_empty());
    }
}

#[test]
fn a_reopened_database_never_serves_results_cached_before() {
    let fx = BtreeFixture::new();
    write(&fx, &[("1", "red fox"), ("2", "grey wolf")], &[]);
    assert_eq!(hits(&fx, "fox"), vec!["1"]); // cached for the state after one commit
    let fx = fx.reopen();
    assert_eq!(hits(&fx, "fox"), vec!["1"]);
    // One commit after the re-open: the same number of commits since opening as the
    // cached state had, with other content.
    write(&fx, &[("3", "fox fox fox")], &["1"]);
    assert_eq!(hits(&fx, "fox"), vec!["3"]);
    let fx = fx.reopen();
    write(&fx, &[], &["3"]);
    assert!(hits(&fx, "fox").is_empty());
    assert_eq!(hits(&fx, "wolf"), vec!["2"]);
}

#[test]
fn a_transaction_that_changed_the_index_reads_its_own_state() {
    let fx = BtreeFixture::new();
    write(&fx, &[("1", "red fox")], &[]);
    assert_eq!(hits(&fx, "fox"), vec!["1"]);
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
        idx.add("2", "fox fox").await.expect("add");
        let ids: Vec<String> = idx
            .search("fox", 10)
            .await
            .expect("search")
            .into_iter()
            .map(|h| h.doc_id)
            .collect();
        assert_eq!(ids, vec!["2", "1"]);
        tx.rollback().await.expect("rollback");
    });
    assert_eq!(hits(&fx, "fox"), vec!["1"]);
}
