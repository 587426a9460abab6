//! Bad input to sop-vector: wrong dimensions, NaN and infinities, zero
//! vectors under cosine, a bad item inside a batch, bad domain names and
//! dimensions, configurations that conflict with the stored domain, unknown
//! domains; and the valid edge cases `k = 0`, `nprobe = 0` and an empty id.

use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_vector::{Metric, NewItem, VectorConfig, VectorStore};

use super::Tried;

type Error = Box<dyn std::error::Error>;

const DOMAIN: &str = "embeddings";

fn bad_vectors() -> Vec<(&'static str, Vec<f32>, &'static str)> {
    vec![
        ("too short", vec![1.0, 0.0, 0.0], "dimensions"),
        ("too long", vec![1.0; 5], "dimensions"),
        ("empty", vec![], "dimensions"),
        ("NaN", vec![1.0, f32::NAN, 0.0, 0.0], "not finite"),
        (
            "+infinity",
            vec![f32::INFINITY, 0.0, 0.0, 0.0],
            "not finite",
        ),
        (
            "-infinity",
            vec![0.0, 0.0, 0.0, f32::NEG_INFINITY],
            "not finite",
        ),
        ("zero under cosine", vec![0.0; 4], "zero vector"),
    ]
}

/// Runs the sop-vector cases.
pub async fn run(t: &Tried) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    for (what, domain, dims, field) in [
        ("empty domain", "", 4, "domain"),
        ("domain with a slash", "a/b", 4, "domain"),
        ("zero dimensions", DOMAIN, 0, "dimensions"),
    ] {
        let opened = VectorStore::open(&tx, domain, VectorConfig::new(dims)).await;
        t.refused(what, opened, &[field]);
    }
    let store = VectorStore::open(&tx, DOMAIN, VectorConfig::new(4)).await?;
    store
        .upsert("a", &[1.0, 0.0, 0.0, 0.0], serde_json::json!({"ok": true}))
        .await?;
    for (what, v, names) in bad_vectors() {
        t.refused(
            what,
            store.upsert("bad", &v, serde_json::Value::Null).await,
            &[DOMAIN, names],
        );
        t.refused(
            what,
            store.query(&v, 3, None, 4).await,
            &[DOMAIN, "query", names],
        );
    }
    let batch = vec![
        NewItem::new("good-in-bad-batch", vec![0.0, 1.0, 0.0, 0.0]),
        NewItem::new("bad-in-batch", vec![0.0, f32::NAN, 0.0, 0.0]),
    ];
    t.refused(
        "a batch with one bad vector",
        store.upsert_batch(batch).await,
        &[DOMAIN, "not finite"],
    );
    assert!(
        store.get("good-in-bad-batch").await?.is_none(),
        "a refused batch wrote nothing"
    );
    let hits = t.accepted(
        "k = 0",
        store.query(&[1.0, 0.0, 0.0, 0.0], 0, None, 4).await,
    );
    assert!(hits.is_empty());
    let hits = t.accepted(
        "nprobe = 0",
        store.query(&[1.0, 0.0, 0.0, 0.0], 1, None, 0).await,
    );
    assert_eq!(hits.first().map(|h| h.id.as_str()), Some("a"));
    assert!(!t.accepted("delete of an unknown id", store.delete("never-there").await));
    t.accepted(
        "empty id",
        store
            .upsert("", &[0.0, 0.0, 1.0, 0.0], serde_json::Value::Null)
            .await,
    );
    tx.commit().await?;
    db.close().await?;

    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let conflicting = [
        (
            "other dimensions than stored",
            TransactionMode::ForWriting,
            DOMAIN,
            VectorConfig::new(8),
        ),
        (
            "other metric than stored",
            TransactionMode::ForWriting,
            DOMAIN,
            VectorConfig::new(4).metric(Metric::L2),
        ),
        (
            "unknown domain, read transaction",
            TransactionMode::ForReading,
            "missing",
            VectorConfig::new(4),
        ),
    ];
    for (what, mode, domain, config) in conflicting {
        let tx = db.begin(mode).await?;
        let opened = VectorStore::open(&tx, domain, config).await;
        t.refused(what, opened, &[domain]);
        let _ = tx.rollback().await;
    }
    let tx = db.begin(TransactionMode::ForReading).await?;
    let store = VectorStore::open(&tx, DOMAIN, VectorConfig::new(4)).await?;
    assert_eq!(store.count().await?, 2, "only the valid items persisted");
    assert_eq!(
        store.get("").await?.map(|r| r.vector),
        Some(vec![0.0, 0.0, 1.0, 0.0])
    );
    assert!(store.get("bad").await?.is_none());
    assert!(store.get("good-in-bad-batch").await?.is_none());
    assert_eq!(store.dimensions(), 4);
    tx.commit().await?;
    assert!(
        !db.store_names()
            .iter()
            .any(|n| n.starts_with("missing") || n.starts_with("a/")),
        "no store of a refused domain: {:?}",
        db.store_names()
    );
    Ok(())
}
