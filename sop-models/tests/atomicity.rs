//! One transaction saves a model (body, alias, artifact) and writes the data
//! it was built from into other sop-core B-trees ("vectors", "documents"):
//! a rollback leaves none of it, a commit makes all of it visible, also
//! after the database is closed and re-opened. The rolled-back blobs (model
//! body, artifact chunks) are deleted from disk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sop_core::{Database, DatabaseOptions, StoreOptions, Transaction, TransactionMode};
use sop_models::{ModelError, ModelRegistry};

type R = Result<(), Box<dyn std::error::Error>>;

async fn write_everything(tx: &Transaction) -> R {
    let reg = ModelRegistry::open(tx, "models")
        .await?
        .with_chunk_size(1024);
    let vectors = tx
        .new_btree::<u64, Vec<f32>>("vectors", StoreOptions::default())
        .await?;
    let documents = tx
        .new_btree::<String, String>("documents", StoreOptions::default())
        .await?;
    for i in 0..50u64 {
        vectors.upsert(i, vec![i as f32, 1.0, -1.0]).await?;
        documents
            .upsert(format!("doc{i:03}"), format!("text of document {i}"))
            .await?;
    }
    reg.save("search", "embedder", "1.0.0", &vec![0.5f32; 16])
        .await?;
    reg.set_alias("search", "embedder", "production", "1.0.0")
        .await?;
    reg.put_artifact("search", "embedder", "1.0.0", &vec![7u8; 5000][..])
        .await?;
    Ok(())
}

async fn assert_all_exist(db: &Database) -> R {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    let vectors = tx.open_btree::<u64, Vec<f32>>("vectors").await?;
    let documents = tx.open_btree::<String, String>("documents").await?;
    assert_eq!(vectors.count().await?, 50);
    assert_eq!(documents.count().await?, 50);
    assert_eq!(vectors.get(&7).await?, Some(vec![7.0, 1.0, -1.0]));
    assert_eq!(
        documents.get(&"doc042".to_string()).await?,
        Some("text of document 42".to_string())
    );
    let body: Vec<f32> = reg.get_by_alias("search", "embedder", "production").await?;
    assert_eq!(body, vec![0.5f32; 16]);
    let mut artifact = Vec::new();
    reg.copy_artifact("search", "embedder", "1.0.0", &mut artifact)
        .await?;
    assert_eq!(artifact, vec![7u8; 5000]);
    tx.commit().await?;
    Ok(())
}

fn blob_files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            out.extend(blob_files(&path));
        } else if path.extension().is_some_and(|x| x == "blob") {
            out.insert(path);
        }
    }
    out
}

#[tokio::test]
async fn model_and_its_data_commit_or_roll_back_together() -> R {
    let dir = tempfile::tempdir()?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    // The registry exists (empty) and the data stores do not.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    ModelRegistry::open(&tx, "models").await?;
    tx.commit().await?;
    // A finished transaction pins sop-core's blob garbage until dropped.
    drop(tx);

    let blobs = dir.path().join("blobs");
    let before = blob_files(&blobs);
    let tx = db.begin(TransactionMode::ForWriting).await?;
    write_everything(&tx).await?;
    let written: Vec<PathBuf> = blob_files(&blobs).difference(&before).cloned().collect();
    assert!(written.len() >= 6, "model body and 5 chunks: {written:?}");
    tx.rollback().await?;
    drop(tx);
    // sop-core deletes retired blobs once every transaction that began
    // before the next commit has been dropped; its collector runs on commit
    // and rollback.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    reg.save("other", "unrelated", "1", &0u8).await?;
    tx.commit().await?;
    drop((reg, tx));
    db.begin(TransactionMode::ForReading)
        .await?
        .rollback()
        .await?;
    let left: Vec<&PathBuf> = written.iter().filter(|p| p.exists()).collect();
    assert!(left.is_empty(), "rolled-back blobs remain: {left:?}");

    let names = db.store_names();
    assert!(!names.contains(&"vectors".to_string()), "{names:?}");
    assert!(!names.contains(&"documents".to_string()), "{names:?}");
    let tx = db.begin(TransactionMode::ForReading).await?;
    let reg = ModelRegistry::open(&tx, "models").await?;
    assert!(reg.list("search").await?.is_empty());
    let err = reg
        .get::<Vec<f32>>("search", "embedder", "1.0.0")
        .await
        .expect_err("rolled back");
    assert!(matches!(err, ModelError::NotFound { .. }), "{err}");
    assert!(reg
        .resolve_alias("search", "embedder", "production")
        .await?
        .is_none());
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForWriting).await?;
    write_everything(&tx).await?;
    tx.commit().await?;
    assert_all_exist(&db).await?;

    db.close().await?;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    assert_all_exist(&db).await?;
    Ok(())
}
