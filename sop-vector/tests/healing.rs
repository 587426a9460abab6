//! Self-healing (SPEC §2.4): automatic bucket splits keep recall up without a manual optimize;
//! `maintain` rebuilds past the growth bound and collects tombstones.

mod common;

use common::{around, db, items, random_vec, reader, rng, write, TestResult};
use sop_core::TransactionMode;
use sop_vector::ground_truth::{exact_top_k, recall_at_k};
use sop_vector::{
    maintain, HealingPolicy, MaintenanceAction, Metric, RebuildOptions, VectorConfig, VectorSlab,
    VectorStore,
};

#[tokio::test]
async fn hot_region_splits_and_recall_stays_up_without_optimize() -> TestResult {
    let (_dir, db) = db().await?;
    let dim = 16;
    let cfg = VectorConfig::new(dim);
    let mut r = rng(11);
    let centres: Vec<Vec<f32>> = (0..8).map(|_| random_vec(&mut r, dim)).collect();
    let mut all: Vec<Vec<f32>> = centres
        .iter()
        .flat_map(|c| around(&mut r, c, 50, 0.4))
        .collect();
    write(&db, "h", &cfg, items("base", &all)).await?;
    let k0 = reader(&db, "h", &cfg).await?.buckets().await?.len();

    // Keep inserting into one region.
    let hot = &centres[3];
    for round in 0..12 {
        let vs = around(&mut r, hot, 200, 0.4);
        write(&db, "h", &cfg, items(&format!("hot{round}_"), &vs)).await?;
        all.extend(vs);
    }
    let store = reader(&db, "h", &cfg).await?;
    let buckets = store.buckets().await?;
    let (total, k) = (store.count().await?, buckets.len());
    assert_eq!(total as usize, all.len());
    assert!(k > k0, "hot buckets split: {k0} → {k} centroids");
    let mean = total as f64 / k as f64;
    let bound = 4.0 * mean.min((total as f64).sqrt());
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(0);
    assert!(
        (max as f64) <= bound.max(64.0) * 1.05,
        "largest bucket {max} within the bound {bound:.0}"
    );
    assert_eq!(store.version(), 1, "no optimize ran");

    // Recall@10 of queries in the hot region against exact search.
    let flat: Vec<f32> = all.iter().flatten().copied().collect();
    let mut base = VectorSlab::new(dim, flat)?;
    for i in 0..base.len() {
        Metric::Cosine.prepare(base.row_mut(i));
    }
    let qs: Vec<Vec<f32>> = around(&mut r, hot, 20, 0.3);
    let mut qflat: Vec<f32> = qs.iter().flatten().copied().collect();
    for q in qflat.chunks_exact_mut(dim) {
        Metric::Cosine.prepare(q);
    }
    let queries = VectorSlab::new(dim, qflat)?;
    let truth = exact_top_k(&base, &queries, 10, Metric::Cosine, 1)?;
    let names: Vec<String> = (0..400)
        .map(|i| format!("base{i}"))
        .chain((0..12).flat_map(|r| (0..200).map(move |i| format!("hot{r}_{i}"))))
        .collect();
    let mut found = Vec::new();
    for q in &qs {
        let hits = store.query(q, 10, None, 8).await?;
        found.push(
            hits.iter()
                .filter_map(|h| names.iter().position(|n| *n == h.id).map(|p| p as u32))
                .collect(),
        );
    }
    let recall = recall_at_k(&truth, &found, 10)?;
    assert!(recall >= 0.9, "recall@10 {recall}");
    Ok(())
}

#[tokio::test]
async fn maintain_rebuilds_past_growth_bound_and_collects_tombstones() -> TestResult {
    let (_dir, db) = db().await?;
    let cfg = VectorConfig::new(8).healing(HealingPolicy {
        min_build_items: 200,
        ..HealingPolicy::default()
    });
    let opts = RebuildOptions::default();
    let mut r = rng(12);
    let vs: Vec<Vec<f32>> = (0..300).map(|_| random_vec(&mut r, 8)).collect();
    write(&db, "m", &cfg, items("a", &vs)).await?;
    assert!(matches!(
        maintain(&db, "m", &cfg, &opts).await?,
        MaintenanceAction::Rebuilt(..)
    ));
    assert_eq!(
        maintain(&db, "m", &cfg, &opts).await?,
        MaintenanceAction::Nothing
    );
    write(&db, "m", &cfg, items("b", &vs)).await?;
    assert!(
        matches!(
            maintain(&db, "m", &cfg, &opts).await?,
            MaintenanceAction::Rebuilt(..)
        ),
        "grew 2×"
    );
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let store = VectorStore::open(&tx, "m", cfg.clone()).await?;
    for i in 0..200 {
        store.delete(&format!("a{i}")).await?;
    }
    tx.commit().await?;
    assert_eq!(
        maintain(&db, "m", &cfg, &opts).await?,
        MaintenanceAction::CollectedTombstones(200)
    );
    let s = reader(&db, "m", &cfg).await?.stats().await?;
    assert_eq!((s.live, s.vecs_entries, s.data_entries), (400, 400, 400));
    Ok(())
}
