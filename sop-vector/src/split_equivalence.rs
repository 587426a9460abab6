//! Tests: a batch that splits its overfull buckets before writing its rows
//! ([`VectorStore::upsert_batch`]) leaves exactly the store an eager split after the insert
//! leaves (same `vecs` keys and vectors, same `data` keys, same centroids and counts), with
//! a moved item and a tombstone.

use std::collections::HashSet;

use futures::StreamExt;
use sop_core::{Database, DatabaseOptions, Direction, TransactionMode};

use crate::config::{HealingPolicy, VectorConfig};
use crate::ingest::NewItem;
use crate::store::VectorStore;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Everything a domain stores except the random centroid epochs.
#[derive(Debug, PartialEq)]
struct Contents {
    vecs: Vec<(u32, u32, String, bool, Vec<u32>)>,
    data: Vec<(String, u32, u32, u32, bool)>,
    centroids: Vec<(u32, Vec<u32>, u64, u64)>,
}

async fn contents(store: &VectorStore) -> Contents {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut vecs = Vec::new();
    let mut rows = std::pin::pin!(store.vecs.range(.., Direction::Forward));
    while let Some(r) = rows.next().await {
        let (k, v) = r.expect("vecs row");
        let d = k.distance.0.to_bits();
        vecs.push((
            k.centroid,
            d,
            k.id.as_str().to_string(),
            k.deleted,
            bits(&v.to_vec()),
        ));
    }
    let mut data = Vec::new();
    let mut rows = std::pin::pin!(store.data.range(.., Direction::Forward));
    while let Some(r) = rows.next().await {
        let (k, _) = r.expect("data row");
        let id = k.id.as_str().to_string();
        data.push((id, k.centroid, k.distance.to_bits(), k.version, k.deleted));
    }
    let mut centroids = Vec::new();
    let mut rows = std::pin::pin!(store.centroids.range(.., Direction::Forward));
    while let Some(r) = rows.next().await {
        let (id, rec) = r.expect("centroid row");
        centroids.push((id, bits(&rec.vector), rec.count, rec.deleted));
    }
    Contents {
        vecs,
        data,
        centroids,
    }
}

/// `n` vectors of `dim` around one random centre per `group`.
fn batch(prefix: &str, group: u64, n: usize, dim: usize) -> Vec<NewItem> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(group);
    let centre: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let noise_seed = prefix.bytes().fold(group, |h, b| h * 131 + u64::from(b));
    let mut rng = rand::rngs::SmallRng::seed_from_u64(noise_seed);
    (0..n)
        .map(|i| {
            let v = centre
                .iter()
                .map(|c| c + rng.gen_range(-0.3f32..0.3))
                .collect();
            NewItem::new(format!("{prefix}{i:04}"), v)
        })
        .collect()
}

/// Writes the batches into domain `name`; with `eager`, automatic splits are off and the
/// touched buckets are split after each batch instead.
async fn build(db: &Database, name: &str, batches: &[Vec<NewItem>], eager: bool) -> TestResult {
    let dim = batches[0][0].vector.len();
    let cfg = VectorConfig::new(dim).healing(HealingPolicy {
        auto_split: !eager,
        ..HealingPolicy::default()
    });
    for (b, items) in batches.iter().enumerate() {
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let store = VectorStore::open(&tx, name, cfg.clone()).await?;
        let before: HashSet<(u32, u64)> = store.buckets().await?.into_iter().collect();
        if b == 2 {
            // A tombstone in the region this batch splits.
            assert!(store.delete("b0003").await?);
        }
        store.upsert_batch(items.clone()).await?;
        if eager {
            let mut touched: Vec<u32> = (store.buckets().await?.into_iter())
                .filter(|b| !before.contains(b))
                .map(|b| b.0)
                .collect();
            touched.sort_unstable();
            store.split_overfull(&touched).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

#[tokio::test]
async fn batch_splits_match_eager_splits() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let dim = 8;
    // `a0001` moves into the region of batches `b` and `c`.
    let mut moved = batch("a", 2, 1, dim);
    moved[0].id = "a0001".into();
    let batches = vec![
        batch("a", 1, 400, dim),
        batch("b", 2, 600, dim),
        [batch("c", 2, 1500, dim), moved].concat(),
        batch("d", 3, 700, dim),
    ];
    build(&db, "batch", &batches, false).await?;
    build(&db, "eager", &batches, true).await?;
    let tx = db.begin(TransactionMode::NoCheck).await?;
    let cfg = VectorConfig::new(dim);
    let a = contents(&VectorStore::open(&tx, "batch", cfg.clone()).await?).await;
    let b = contents(&VectorStore::open(&tx, "eager", cfg).await?).await;
    assert!(
        a.centroids.len() > 20,
        "batches split buckets: {} centroids",
        a.centroids.len()
    );
    assert_eq!(a, b);
    let live = a.vecs.iter().filter(|r| !r.3).count();
    assert_eq!(
        live, 3199,
        "every item but the deleted one, the moved one once"
    );
    Ok(())
}
