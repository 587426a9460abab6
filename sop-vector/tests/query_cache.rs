//! Queries served from the process cache (bucket slabs and their payload slots) stay
//! transactional: a transaction sees its own uncommitted upserts and deletes, a rolled-back
//! change never reaches the cache, and a committed change is seen by the next transaction.

mod common;

use common::{db, items, random_vec, reader, rng, TestResult};
use serde_json::{json, Value};
use sop_core::TransactionMode;
use sop_vector::{Hit, NewItem, VectorConfig, VectorStore};

/// The hit of `id` among `hits`.
fn hit<'a>(hits: &'a [Hit], id: &str) -> Option<&'a Hit> {
    hits.iter().find(|h| h.id == id)
}

/// Payload of `id` in the top 5 of a query for `v` (all buckets probed).
async fn payload_of(store: &VectorStore, v: &[f32], id: &str) -> Result<Option<Value>, String> {
    let hits = store
        .query(v, 5, None, 64)
        .await
        .map_err(|e| e.to_string())?;
    Ok(hit(&hits, id).map(|h| h.payload.clone()))
}

#[tokio::test]
async fn cached_queries_see_own_writes_and_committed_payloads_only() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(8);
    let mut r = rng(41);
    let vs: Vec<Vec<f32>> = (0..300).map(|_| random_vec(&mut r, 8)).collect();
    let mut batch = items("p", &vs);
    for (i, it) in batch.iter_mut().enumerate() {
        it.payload = json!({"rev": 1, "i": i});
    }
    common::write(&db, "docs", &cfg, batch).await?;

    // Two clean readers: the first fills the bucket cache and payload slots, the second is
    // served from them.
    for _ in 0..2 {
        let store = reader(&db, "docs", &cfg).await?;
        for i in [3usize, 4, 150] {
            let p = payload_of(&store, &vs[i], &format!("p{i}")).await?;
            assert_eq!(p, Some(json!({"rev": 1, "i": i})));
        }
    }

    // Own uncommitted writes: a new payload for p3 (same vector) and a delete of p4.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let store = VectorStore::open(&tx, "docs", cfg.clone()).await?;
    assert_eq!(
        payload_of(&store, &vs[3], "p3").await?,
        Some(json!({"rev": 1, "i": 3})),
        "a clean writer reads the cache"
    );
    store.upsert("p3", &vs[3], json!({"rev": 2})).await?;
    assert!(store.delete("p4").await?);
    assert_eq!(
        payload_of(&store, &vs[3], "p3").await?,
        Some(json!({"rev": 2}))
    );
    assert_eq!(payload_of(&store, &vs[4], "p4").await?, None);
    tx.rollback().await?;

    // The rolled-back change left the cache as it was.
    let store = reader(&db, "docs", &cfg).await?;
    assert_eq!(
        payload_of(&store, &vs[3], "p3").await?,
        Some(json!({"rev": 1, "i": 3}))
    );
    assert_eq!(
        payload_of(&store, &vs[4], "p4").await?,
        Some(json!({"rev": 1, "i": 4}))
    );

    // Committed: the next transaction sees the new payload and the delete.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let store = VectorStore::open(&tx, "docs", cfg.clone()).await?;
    store.upsert("p3", &vs[3], json!({"rev": 3})).await?;
    assert!(store.delete("p4").await?);
    tx.commit().await?;
    for _ in 0..2 {
        let store = reader(&db, "docs", &cfg).await?;
        assert_eq!(
            payload_of(&store, &vs[3], "p3").await?,
            Some(json!({"rev": 3}))
        );
        assert_eq!(payload_of(&store, &vs[4], "p4").await?, None);
        assert_eq!(
            payload_of(&store, &vs[150], "p150").await?,
            Some(json!({"rev": 1, "i": 150})),
            "other buckets keep their slots"
        );
    }
    Ok(())
}

#[tokio::test]
async fn large_payloads_are_read_every_time_and_stay_correct() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(8);
    let mut r = rng(42);
    let vs: Vec<Vec<f32>> = (0..50).map(|_| random_vec(&mut r, 8)).collect();
    let big = json!({"text": "x".repeat(4096)});
    let batch: Vec<NewItem> = items("b", &vs)
        .into_iter()
        .map(|it| it.payload(big.clone()))
        .collect();
    common::write(&db, "docs", &cfg, batch).await?;
    for _ in 0..3 {
        let store = reader(&db, "docs", &cfg).await?;
        assert_eq!(payload_of(&store, &vs[7], "b7").await?, Some(big.clone()));
    }
    Ok(())
}
