//! The B-tree index keeps its statistics exact through add, replace, update, delete and
//! rollback, inside the transaction and after commit, and across a database restart: every
//! query's scores equal a brute-force BM25 over the live raw texts (to 1e-6).

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::{assert_brute_force, BtreeFixture, QUERIES, SAMPLE};
use sop_core::TransactionMode;
use sop_search::{Analyzer, AnalyzerConfig, SearchConfig, SearchIndex};

/// The live documents a test expects the index to hold.
#[derive(Clone, Default)]
struct Model(BTreeMap<String, String>);

impl Model {
    fn docs(&self) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn put(&mut self, id: &str, text: &str) {
        self.0.insert(id.to_owned(), text.to_owned());
    }
}

/// Checks every query, N and the total length of `idx` against `model`.
async fn check(idx: &SearchIndex, model: &Model) {
    let docs = model.docs();
    let analyzer = Analyzer::english();
    let stats = idx.stats().await.expect("stats");
    assert_eq!(stats.docs, docs.len() as u64);
    let total: usize = docs.iter().map(|(_, t)| analyzer.analyze(t).len()).sum();
    assert_eq!(stats.total_tokens, total as u64);
    for (id, text) in &docs {
        let got = idx.get(id).await.expect("get").expect("indexed");
        assert_eq!(got.length as usize, analyzer.analyze(text).len(), "{id}");
    }
    if docs.is_empty() {
        for q in QUERIES {
            assert!(idx.search(q, 100).await.expect("search").is_empty());
        }
        return;
    }
    for q in QUERIES {
        let all = idx.search(q, 10_000).await.expect("search");
        assert_brute_force(&all, &docs, q);
        let top = idx.search(q, 10).await.expect("search top 10");
        assert_eq!(top, all[..all.len().min(10)], "{q:?}: top 10 is a prefix");
    }
}

fn check_committed(fx: &BtreeFixture, model: &Model) {
    fx.rt.block_on(async {
        for mode in [TransactionMode::NoCheck, TransactionMode::ForReading] {
            let (tx, idx) = fx.open(mode).await;
            check(&idx, model).await;
            tx.commit().await.expect("commit reader");
        }
    });
}

#[test]
fn update_delete_rollback_and_restart_keep_scores_exact() {
    let mut fx = BtreeFixture::new();
    let mut model = Model::default();
    for (id, text) in SAMPLE {
        model.put(id, text);
    }
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
        idx.add_batch(&SAMPLE).await.expect("add");
        check(&idx, &model).await; // inside the writing transaction
        tx.commit().await.expect("commit");
    });
    check_committed(&fx, &model);

    // Replace by re-adding, update, delete, update of a missing id.
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
        idx.add("1", "A lazy cat naps in the garden")
            .await
            .expect("re-add");
        model.put("1", "A lazy cat naps in the garden");
        assert!(idx.update("2", "fox fox dog").await.expect("update"));
        model.put("2", "fox fox dog");
        assert!(idx.delete("3").await.expect("delete"));
        model.0.remove("3");
        assert!(!idx.delete("3").await.expect("delete again"));
        assert!(!idx.update("zz", "fox").await.expect("update missing"));
        assert!(idx.get("zz").await.expect("get").is_none());
        check(&idx, &model).await;
        tx.commit().await.expect("commit");
    });
    check_committed(&fx, &model);

    // A rolled-back transaction leaves nothing behind.
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
        let mut inside = model.clone();
        idx.add("9", "garden fox hours").await.expect("add");
        inside.put("9", "garden fox hours");
        idx.delete("4").await.expect("delete");
        inside.0.remove("4");
        idx.update("5", "dogs dogs dogs").await.expect("update");
        inside.put("5", "dogs dogs dogs");
        check(&idx, &inside).await;
        tx.rollback().await.expect("rollback");
    });
    check_committed(&fx, &model);

    fx = fx.reopen();
    check_committed(&fx, &model);

    // Deleting everything, then adding again.
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
        for id in ["1", "2", "4", "5"] {
            assert!(idx.delete(id).await.expect("delete"));
        }
        model.0.clear();
        check(&idx, &model).await;
        idx.add_batch(&[("b", "fox and dog"), ("a", "cat"), ("b", "hours of fox")])
            .await
            .expect("add batch with a repeated id");
        model.put("a", "cat");
        model.put("b", "hours of fox");
        tx.commit().await.expect("commit");
    });
    check_committed(&fx, &model);
}

/// A deterministic pseudo-random sequence of batches, single adds, updates, deletes,
/// commits and rollbacks over a small vocabulary (so terms span several posting blocks).
#[test]
fn random_operation_sequences_stay_exact() {
    const WORDS: [&str; 12] = [
        "fox", "dog", "cat", "garden", "hours", "lazy", "quick", "mass", "den", "owl", "tree",
        "river",
    ];
    let mut state = 0x1234_5678_u64;
    let mut rand = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let fx = BtreeFixture::new();
    let mut model = Model::default();
    for round in 0..12 {
        let mut inside = model.clone();
        let rollback = round % 4 == 3;
        fx.rt.block_on(async {
            let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
            let mut batch: Vec<(String, String)> = Vec::new();
            for _ in 0..(20 + rand(200)) {
                let id = format!("d{:03}", rand(300));
                let len = 1 + rand(12);
                let text: Vec<&str> = (0..len).map(|_| WORDS[rand(12) as usize]).collect();
                batch.push((id, text.join(" ")));
            }
            idx.add_batch(&batch).await.expect("batch");
            for (id, text) in &batch {
                inside.put(id, text);
            }
            for _ in 0..10 {
                let id = format!("d{:03}", rand(300));
                match rand(3) {
                    0 => {
                        let removed = idx.delete(&id).await.expect("delete");
                        assert_eq!(removed, inside.0.remove(&id).is_some());
                    }
                    1 => {
                        let updated = idx.update(&id, "owl owl tree").await.expect("update");
                        assert_eq!(updated, inside.0.contains_key(&id));
                        if updated {
                            inside.put(&id, "owl owl tree");
                        }
                    }
                    _ => {
                        idx.add(&id, "river fox").await.expect("add");
                        inside.put(&id, "river fox");
                    }
                }
            }
            check(&idx, &inside).await;
            if rollback {
                tx.rollback().await.expect("rollback");
            } else {
                tx.commit().await.expect("commit");
            }
        });
        if !rollback {
            model = inside;
        }
        check_committed(&fx, &model);
    }
}

#[test]
fn reopening_uses_the_stored_analyzer() {
    let fx = BtreeFixture::new();
    let unstemmed = SearchConfig {
        analyzer: AnalyzerConfig {
            stemming: false,
            ..AnalyzerConfig::english()
        },
        ..SearchConfig::default()
    };
    fx.rt.block_on(async {
        let tx = fx
            .db
            .begin(TransactionMode::ForWriting)
            .await
            .expect("begin");
        let idx = SearchIndex::open(&tx, "raw", unstemmed.clone())
            .await
            .expect("open");
        idx.add("1", "foxes").await.expect("add");
        tx.commit().await.expect("commit");
    });
    let fx = fx.reopen();
    fx.rt.block_on(async {
        let tx = fx.db.begin(TransactionMode::NoCheck).await.expect("begin");
        let idx = SearchIndex::open(&tx, "raw", SearchConfig::default())
            .await
            .expect("open");
        assert_eq!(idx.config(), &unstemmed);
        assert_eq!(idx.search("foxes", 10).await.expect("search").len(), 1);
        assert!(idx.search("fox", 10).await.expect("search").is_empty());
        tx.commit().await.expect("commit");
    });
}

/// Small and large changes to an index with a large vocabulary (many blocks of the B-trees)
/// keep every score exact.
#[test]
fn small_changes_to_a_large_vocabulary_stay_exact() {
    let fx = BtreeFixture::new();
    let mut model = Model::default();
    let filler: Vec<(String, String)> = (0..300)
        .map(|i| {
            let text = match i % 3 {
                0 => format!("word{i}a word{i}b fox"),
                1 => format!("word{i}c dog garden"),
                _ => format!("word{i}d word{i}e word{i}f"),
            };
            (format!("f{i:03}"), text)
        })
        .collect();
    for (id, text) in SAMPLE
        .iter()
        .copied()
        .chain(filler.iter().map(|(id, text)| (id.as_str(), text.as_str())))
    {
        model.put(id, text);
    }
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
        idx.add_batch(&SAMPLE).await.expect("add sample");
        idx.add_batch(&filler).await.expect("add filler");
        tx.commit().await.expect("commit");
    });
    check_committed(&fx, &model);
    fx.rt.block_on(async {
        let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
        idx.add("n1", "lazy fox hours").await.expect("add");
        model.put("n1", "lazy fox hours");
        assert!(idx.update("f000", "dog dog mass").await.expect("update"));
        model.put("f000", "dog dog mass");
        assert!(idx.delete("f001").await.expect("delete"));
        model.0.remove("f001");
        assert!(idx.delete("2").await.expect("delete"));
        model.0.remove("2");
        check(&idx, &model).await;
        tx.commit().await.expect("commit");
    });
    check_committed(&fx, &model);
}
