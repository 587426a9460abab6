//! SOP's vector behaviours on real database files: round trip, exact match, validation,
//! filters, soft delete, domain isolation, dedup, the rebuild lock.

mod common;

use common::{db, items, one_item_domain, random_vec, reader, rng, write, TestResult};
use serde_json::json;
use sop_core::TransactionMode;
use sop_vector::{
    lock_domain, optimize, unlock_domain, Filter, Metric, NewItem, RebuildOptions, VectorConfig,
    VectorError, VectorStore,
};

#[tokio::test]
async fn upsert_get_round_trip_and_exact_match_is_top_hit() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(16);
    let mut r = rng(1);
    let vs: Vec<Vec<f32>> = (0..300).map(|_| random_vec(&mut r, 16)).collect();
    let mut batch = items("v", &vs);
    batch[7].payload = json!({"title": "seven"});
    write(&db, "docs", &cfg, batch).await?;

    let store = reader(&db, "docs", &cfg).await?;
    let rec = store.get("v7").await?.ok_or("v7 missing")?;
    assert_eq!(rec.payload, json!({"title": "seven"}));
    let norm: f32 = vs[7].iter().map(|x| x * x).sum::<f32>().sqrt();
    for (a, b) in rec.vector.iter().zip(&vs[7]) {
        assert!(
            (a - b / norm).abs() < 1e-5,
            "stored vector is the normalised input"
        );
    }
    assert_eq!(store.count().await?, 300);
    assert!(store.get("nope").await?.is_none());
    for i in [0usize, 7, 123, 299] {
        let hits = store.query(&vs[i], 5, None, 4).await?;
        assert_eq!(hits[0].id, format!("v{i}"));
        assert!(hits[0].score >= 0.99, "{}", hits[0].score);
    }
    Ok(())
}

#[tokio::test]
async fn wrong_length_nan_and_infinity_are_clear_errors() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = one_item_domain(&db, "docs").await?;
    let bad = [
        vec![1.0, 2.0],
        vec![1.0, f32::NAN, 0.0, 0.0],
        vec![f32::INFINITY, 0.0, 0.0, 0.0],
    ];
    for v in bad {
        let err = write(&db, "docs", &cfg, vec![NewItem::new("b", v.clone())]).await;
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("docs"), "{msg}");
        let store = reader(&db, "docs", &cfg).await?;
        assert!(store.query(&v, 1, None, 1).await.is_err());
    }
    let err = reader(&db, "docs", &VectorConfig::new(5)).await.err();
    assert!(matches!(err, Some(VectorError::ConfigMismatch { .. })));
    assert_eq!(reader(&db, "docs", &cfg).await?.count().await?, 1);
    Ok(())
}

#[tokio::test]
async fn filters_by_equality_map_and_closure() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(8).metric(Metric::L2);
    let mut r = rng(2);
    let batch: Vec<NewItem> = (0..200)
        .map(|i| {
            NewItem::new(format!("i{i}"), random_vec(&mut r, 8))
                .payload(json!({"lang": if i % 2 == 0 { "en" } else { "fr" }, "n": i}))
        })
        .collect();
    write(&db, "docs", &cfg, batch).await?;
    let store = reader(&db, "docs", &cfg).await?;
    let q = random_vec(&mut r, 8);
    let en = store
        .query(&q, 10, Some(&Filter::new().eq("lang", json!("en"))), 64)
        .await?;
    assert_eq!(en.len(), 10);
    assert!(en.iter().all(|h| h.payload["lang"] == "en"));
    let big = Filter::new()
        .eq("lang", json!("fr"))
        .with(|p| p["n"].as_i64().is_some_and(|n| n > 150));
    let hits = store.query(&q, 50, Some(&big), 64).await?;
    assert!(!hits.is_empty() && hits.len() <= 25);
    assert!(hits
        .iter()
        .all(|h| h.payload["lang"] == "fr" && h.payload["n"].as_i64() > Some(150)));
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    Ok(())
}

#[tokio::test]
async fn delete_hides_and_optimize_removes_physically() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(8);
    let mut r = rng(3);
    let vs: Vec<Vec<f32>> = (0..400).map(|_| random_vec(&mut r, 8)).collect();
    write(&db, "docs", &cfg, items("d", &vs)).await?;

    let tx = db.begin(TransactionMode::ForWriting).await?;
    let store = VectorStore::open(&tx, "docs", cfg.clone()).await?;
    assert!(store.delete("d5").await?);
    assert!(!store.delete("d5").await?);
    assert!(!store.delete("missing").await?);
    tx.commit().await?;

    let store = reader(&db, "docs", &cfg).await?;
    assert!(store.get("d5").await?.is_none());
    let hits = store.query(&vs[5], 10, None, 64).await?;
    assert!(hits.iter().all(|h| h.id != "d5"));
    let s = store.stats().await?;
    assert_eq!((s.live, s.vecs_entries, s.data_entries), (399, 400, 400));

    let report = optimize(&db, "docs", &RebuildOptions::default()).await?;
    assert_eq!((report.items, report.tombstones_removed), (399, 1));
    let s = reader(&db, "docs", &cfg).await?.stats().await?;
    assert_eq!(
        (s.version, s.live, s.vecs_entries, s.data_entries),
        (2, 399, 399, 399)
    );
    Ok(())
}

#[tokio::test]
async fn two_domains_stay_isolated() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(4);
    let axis = |i: usize| {
        (0..4)
            .map(|j| if i == j { 1.0 } else { 0.0 })
            .collect::<Vec<f32>>()
    };
    let puts = [
        ("a", NewItem::new("x", axis(0)).payload(json!("in a"))),
        ("b", NewItem::new("x", axis(1)).payload(json!("in b"))),
        ("b", NewItem::new("y", axis(2))),
    ];
    for (domain, item) in puts {
        write(&db, domain, &cfg, vec![item]).await?;
    }
    let a = reader(&db, "a", &cfg).await?;
    let b = reader(&db, "b", &cfg).await?;
    assert_eq!((a.count().await?, b.count().await?), (1, 2));
    assert_eq!(a.get("x").await?.map(|r| r.payload), Some(json!("in a")));
    assert_eq!(b.get("x").await?.map(|r| r.payload), Some(json!("in b")));
    assert!(a.get("y").await?.is_none());
    optimize(&db, "b", &RebuildOptions::default()).await?;
    assert_eq!(reader(&db, "a", &cfg).await?.version(), 1);
    assert_eq!(reader(&db, "b", &cfg).await?.version(), 2);
    Ok(())
}

#[tokio::test]
async fn dedup_moves_an_item_instead_of_duplicating() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(4);
    let first = vec![
        NewItem::new("a", vec![1.0, 0.0, 0.0, 0.0]),
        NewItem::new("b", vec![0.0, 1.0, 0.0, 0.0]),
        NewItem::new("c", vec![0.0, 0.0, 1.0, 0.0]),
        NewItem::new("d", vec![0.0, 0.0, 0.0, 1.0]),
    ];
    write(&db, "docs", &cfg, first).await?;
    write(
        &db,
        "docs",
        &cfg,
        vec![NewItem::new("a", vec![0.0, 0.0, 0.0, 1.0]).payload(json!(2))],
    )
    .await?;
    let store = reader(&db, "docs", &cfg).await?;
    let s = store.stats().await?;
    assert_eq!((s.live, s.vecs_entries, s.data_entries), (4, 4, 4));
    let hits = store.query(&[0.0, 0.0, 0.0, 1.0], 4, None, 8).await?;
    assert_eq!(hits.iter().filter(|h| h.id == "a").count(), 1);
    assert!(hits[..2].iter().any(|h| h.id == "a"));
    let old = store.query(&[1.0, 0.0, 0.0, 0.0], 4, None, 8).await?;
    assert!(
        old.iter().all(|h| h.id != "a" || h.score < 0.5),
        "a left its old place"
    );
    assert_eq!(store.get("a").await?.map(|r| r.payload), Some(json!(2)));
    Ok(())
}

#[tokio::test]
async fn upserts_fail_while_a_rebuild_holds_the_lock_and_work_after() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = one_item_domain(&db, "docs").await?;
    // A writer that read the domain before the lock was taken conflicts at commit.
    let early = db.begin(TransactionMode::ForWriting).await?;
    let early_store = VectorStore::open(&early, "docs", cfg.clone()).await?;
    early_store
        .upsert("e", &[0.0, 1.0, 0.0, 0.0], json!(null))
        .await?;

    lock_domain(&db, "docs", "test-rebuild", 60_000).await?;
    assert!(
        early.commit().await.is_err(),
        "a writer racing the lock must not commit"
    );
    let err = write(
        &db,
        "docs",
        &cfg,
        vec![NewItem::new("b", vec![0.0, 1.0, 0.0, 0.0])],
    )
    .await;
    match err {
        Err(VectorError::Locked { domain, owner, .. }) => {
            assert_eq!((domain.as_str(), owner.as_str()), ("docs", "test-rebuild"));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let store = reader(&db, "docs", &cfg).await?;
    assert_eq!(
        store.query(&[1.0, 0.0, 0.0, 0.0], 1, None, 1).await?[0].id,
        "a"
    );
    assert!(matches!(
        optimize(&db, "docs", &RebuildOptions::default()).await,
        Err(VectorError::Locked { .. })
    ));
    assert!(unlock_domain(&db, "docs", "test-rebuild").await?);
    write(
        &db,
        "docs",
        &cfg,
        vec![NewItem::new("b", vec![0.0, 1.0, 0.0, 0.0])],
    )
    .await?;
    assert_eq!(reader(&db, "docs", &cfg).await?.count().await?, 2);
    Ok(())
}
