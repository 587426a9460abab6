//! Shared helpers for the store tests: a database in a temporary folder and write helpers.
#![allow(dead_code)]

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sop_core::{Database, DatabaseOptions, TransactionMode};
use sop_vector::{NewItem, VectorConfig, VectorError, VectorStore};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub async fn db() -> Result<(tempfile::TempDir, Database), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    Ok((dir, db))
}

/// Upserts `items` into `domain` in one committed transaction.
pub async fn write(
    db: &Database,
    domain: &str,
    cfg: &VectorConfig,
    items: Vec<NewItem>,
) -> Result<(), VectorError> {
    let tx = db
        .begin(TransactionMode::ForWriting)
        .await
        .map_err(|e| VectorError::store(domain, "begin", e))?;
    let store = VectorStore::open(&tx, domain, cfg.clone()).await?;
    store.upsert_batch(items).await?;
    tx.commit()
        .await
        .map_err(|e| VectorError::store(domain, "commit", e))
}

/// Opens `domain` in a fresh NoCheck transaction.
pub async fn reader(
    db: &Database,
    domain: &str,
    cfg: &VectorConfig,
) -> Result<VectorStore, VectorError> {
    let tx = db
        .begin(TransactionMode::NoCheck)
        .await
        .map_err(|e| VectorError::store(domain, "begin", e))?;
    VectorStore::open(&tx, domain, cfg.clone()).await
}

/// `n` random unit-ish vectors around `centre` (spread `s`).
pub fn around(rng: &mut SmallRng, centre: &[f32], n: usize, s: f32) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| centre.iter().map(|c| c + rng.gen_range(-s..s)).collect())
        .collect()
}

/// A random direction of `dim` components.
pub fn random_vec(rng: &mut SmallRng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

/// Items `prefix{i}` for the vectors.
pub fn items(prefix: &str, vectors: &[Vec<f32>]) -> Vec<NewItem> {
    vectors
        .iter()
        .enumerate()
        .map(|(i, v)| NewItem::new(format!("{prefix}{i}"), v.clone()))
        .collect()
}

/// A 4-dimension cosine domain holding one item `a` = e₀.
pub async fn one_item_domain(db: &Database, domain: &str) -> Result<VectorConfig, VectorError> {
    let cfg = VectorConfig::new(4);
    write(
        db,
        domain,
        &cfg,
        vec![NewItem::new("a", vec![1.0, 0.0, 0.0, 0.0])],
    )
    .await?;
    Ok(cfg)
}
