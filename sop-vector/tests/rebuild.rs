//! The versioned rebuild on real database files: Lookup-tree sampling, new clusters found
//! after the next optimize, reachability across optimizes, Lookup ids, crash recovery.

mod common;

use common::{around, db, items, random_vec, reader, rng, write, TestResult};
use sop_core::{StoreOptions, TransactionMode};
use sop_vector::kmeans::{train, KMeansConfig};
use sop_vector::schema::VecKey;
use sop_vector::stored::StoredVector;
use sop_vector::synthetic::{generate, ClusteredSpec};
use sop_vector::{
    lock_domain, optimize, HealingPolicy, NewItem, RebuildOptions, VectorConfig, VectorStore,
};

fn no_split(dim: usize) -> VectorConfig {
    VectorConfig::new(dim).healing(HealingPolicy {
        auto_split: false,
        ..HealingPolicy::default()
    })
}

/// Clusters (index of the nearest true centre) that at least one centroid lands on.
fn covered(
    centroids: &[Vec<f32>],
    centers: &sop_vector::VectorSlab,
) -> std::collections::BTreeSet<usize> {
    centroids
        .iter()
        .map(|c| {
            let score = |j: usize| sop_vector::distance::dot(c, centers.row(j));
            (0..centers.len())
                .max_by(|&a, &b| score(a).total_cmp(&score(b)))
                .unwrap_or(0)
        })
        .collect()
}

#[tokio::test]
async fn lookup_sample_covers_every_cluster_of_sorted_skewed_data() -> TestResult {
    let (_dir, db) = db().await?;
    let mut spec = ClusteredSpec::new(4000, 16);
    spec.clusters = 12;
    spec.queries = 10;
    let data = generate(&spec)?;
    assert!(
        data.cluster_sizes[0] > 5 * data.cluster_sizes[11],
        "skewed sizes"
    );
    let cfg = no_split(16);
    for chunk in data.base.as_slice().chunks(400 * 16) {
        let vs: Vec<Vec<f32>> = chunk.chunks(16).map(<[f32]>::to_vec).collect();
        let n0 = match reader(&db, "c", &cfg).await {
            Ok(s) => s.count().await? as usize,
            Err(_) => 0,
        };
        let batch: Vec<NewItem> = vs
            .into_iter()
            .enumerate()
            .map(|(i, v)| NewItem::new(format!("p{}", n0 + i), v))
            .collect();
        write(&db, "c", &cfg, batch).await?;
    }
    let before = covered(
        &reader(&db, "c", &cfg).await?.centroid_vectors().await?,
        &data.centers,
    );
    let opts = RebuildOptions {
        sample_size: 1500,
        centroids: Some(24),
        ..RebuildOptions::default()
    };
    let report = optimize(&db, "c", &opts).await?;
    assert_eq!(
        (report.items, report.sample, report.centroids),
        (4000, 1500, 24)
    );
    let after = covered(
        &reader(&db, "c", &cfg).await?.centroid_vectors().await?,
        &data.centers,
    );
    // Naive: the same k-means on the first 1,500 inserted items.
    let naive = train(
        &data.base.as_slice()[..1500 * 16],
        16,
        &KMeansConfig::new(24).seed(7),
    )?;
    let naive_cols: Vec<Vec<f32>> = (0..24).map(|j| naive.centroids.get(j).to_vec()).collect();
    let naive = covered(&naive_cols, &data.centers);
    assert_eq!(
        after.len(),
        12,
        "Lookup sample covers every cluster: {after:?}"
    );
    assert!(naive.len() < 12, "first items miss clusters: {naive:?}");
    assert!(
        before.len() < 12,
        "the first-batch codebook missed clusters: {before:?}"
    );
    Ok(())
}

#[tokio::test]
async fn new_cluster_after_build_is_found_after_next_optimize_and_items_survive_two_optimizes(
) -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = no_split(16);
    let mut r = rng(5);
    let centre_a = random_vec(&mut r, 16);
    let mut vs = around(&mut r, &centre_a, 300, 0.3);
    write(&db, "d", &cfg, items("a", &vs)).await?;
    optimize(&db, "d", &RebuildOptions::default()).await?;
    let far: Vec<f32> = centre_a.iter().map(|x| -x).collect();
    let new = around(&mut r, &far, 60, 0.1);
    write(&db, "d", &cfg, items("n", &new)).await?;
    optimize(&db, "d", &RebuildOptions::default()).await?;
    let store = reader(&db, "d", &cfg).await?;
    assert_eq!(store.version(), 3);
    let owners: std::collections::HashSet<u32> =
        store.buckets().await?.into_iter().map(|b| b.0).collect();
    assert!(owners.len() >= 2);
    for (i, v) in new.iter().enumerate() {
        let hits = store.query(v, 1, None, 1).await?;
        assert_eq!(
            hits[0].id,
            format!("n{i}"),
            "new-cluster item found with nprobe 1"
        );
    }
    vs.extend(new);
    let ids: Vec<String> = (0..300)
        .map(|i| format!("a{i}"))
        .chain((0..60).map(|i| format!("n{i}")))
        .collect();
    for (id, v) in ids.iter().zip(&vs) {
        assert!(store.get(id).await?.is_some(), "{id} reachable by id");
        assert_eq!(&store.query(v, 1, None, 2).await?[0].id, id);
    }
    Ok(())
}

#[tokio::test]
async fn every_lookup_id_resolves_to_a_live_vector() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(8);
    let mut r = rng(6);
    let vs: Vec<Vec<f32>> = (0..500).map(|_| random_vec(&mut r, 8)).collect();
    write(&db, "l", &cfg, items("x", &vs)).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let store = VectorStore::open(&tx, "l", cfg.clone()).await?;
    for i in (0..500).step_by(7) {
        store.delete(&format!("x{i}")).await?;
    }
    tx.commit().await?;
    optimize(&db, "l", &RebuildOptions::default()).await?;
    let store = reader(&db, "l", &cfg).await?;
    let s = store.stats().await?;
    assert_eq!(s.lookup_entries, s.live);
    let mut seen = std::collections::HashSet::new();
    for seq in 0..s.lookup_entries {
        let id = store
            .lookup(seq)
            .await?
            .ok_or("hole in the Lookup numbering")?;
        assert!(store.get(&id).await?.is_some(), "{id} is live");
        assert!(seen.insert(id), "distinct ids");
    }
    assert!(store.lookup(s.lookup_entries).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn crashed_rebuild_is_cleaned_up_by_the_next_run() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(4);
    let mut r = rng(7);
    let vs: Vec<Vec<f32>> = (0..100).map(|_| random_vec(&mut r, 4)).collect();
    write(&db, "k", &cfg, items("x", &vs)).await?;
    // Simulate a crash: the lock is held, half of version 2 exists, nobody finishes.
    lock_domain(&db, "k", "crashed-run", 60_000).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let half = tx
        .new_btree::<VecKey, StoredVector>(
            "k/vecs_v2",
            StoreOptions::with_slot_length(128).unique(false),
        )
        .await?;
    half.add(
        VecKey::new(0, 0.0, "ghost"),
        StoredVector::new(&[1.0, 0.0, 0.0, 0.0]),
    )
    .await?;
    tx.commit().await?;
    assert!(
        write(&db, "k", &cfg, vec![NewItem::new("y", vs[0].clone())])
            .await
            .is_err()
    );
    // A live-looking lock is respected ...
    assert!(optimize(&db, "k", &RebuildOptions::default())
        .await
        .is_err());
    // ... a stale one is taken over and the half-built stores are dropped.
    let opts = RebuildOptions {
        lock_ttl: std::time::Duration::ZERO,
        ..RebuildOptions::default()
    };
    let report = optimize(&db, "k", &opts).await?;
    assert!(report.recovered);
    assert_eq!((report.version, report.items), (2, 100));
    let store = reader(&db, "k", &cfg).await?;
    assert_eq!(
        store.stats().await?.vecs_entries,
        100,
        "the ghost entry is gone"
    );
    assert!(
        !db.store_names().iter().any(|n| n.ends_with("_v1")),
        "version 1 dropped"
    );
    write(&db, "k", &cfg, vec![NewItem::new("y", vs[0].clone())]).await?;
    Ok(())
}
