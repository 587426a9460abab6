//! The library part of the `sop_verify` tool: `Database::verify_with` finds a
//! damaged registry block copy (on both replicated sides), a damaged blob and
//! damaged or missing erasure shards, and repairs what can be repaired.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sop_core::storage::erasure::ErasureConfig;
use sop_core::{
    Database, DatabaseOptions, SopError, StoreOptions, TransactionMode, ValuePlacement,
    VerifyOptions,
};

async fn fill(db: &Database) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let small = tx
        .new_btree::<u32, String>("small", StoreOptions::with_slot_length(16))
        .await?;
    let medium = tx
        .new_btree::<u32, Vec<u8>>(
            "medium",
            StoreOptions::default().placement(ValuePlacement::Medium),
        )
        .await?;
    for k in 0..200u32 {
        small.add(k, format!("value-{k}")).await?;
        medium.add(k, vec![k as u8; 300]).await?;
    }
    tx.commit().await?;
    db.checkpoint().await
}

fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p, suffix));
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x5A;
    std::fs::write(path, bytes).expect("write");
}

#[tokio::test]
async fn verify_finds_and_repairs_registry_copies_and_reports_damaged_blobs() -> Result<(), SopError>
{
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let opts = DatabaseOptions::replicated(root.join("a"), root.join("b"), root.join("blobs"));
    let db = Database::open(opts).await?;
    fill(&db).await?;
    let clean = db.verify().await?;
    assert!(clean.is_pristine(), "{clean:?}");
    assert_eq!(clean.sides_checked, 2);
    assert!(clean.registry_blocks_checked >= 4);
    assert!(clean.nodes_checked > 10 && clean.values_checked == 200);

    // Damage the backup copy of block 0 on side A and the primary on side B.
    flip_byte(&root.join("a/registry/segment-00000.bak"), 100);
    flip_byte(&root.join("b/registry/segment-00000.reg"), 200);
    let found = db.verify().await?;
    assert_eq!(found.registry_blocks_damaged, 2, "{found:?}");
    assert!(found.is_clean() && !found.is_pristine());
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let repaired = db
        .verify_with(VerifyOptions {
            repair: true,
            progress: Some(Arc::new(move |_, _, _| {
                c.fetch_add(1, Ordering::Relaxed);
            })),
        })
        .await?;
    assert_eq!(repaired.registry_blocks_repaired, 2, "{repaired:?}");
    assert!(calls.load(Ordering::Relaxed) >= 3, "progress reported");
    assert!(db.verify().await?.is_pristine());

    // A damaged blob without erasure coding is found (not repairable).
    let blob = files_under(&root.join("blobs"), ".blob")
        .into_iter()
        .next()
        .expect("a blob");
    flip_byte(&blob, 40);
    let damaged = db
        .verify_with(VerifyOptions {
            repair: true,
            progress: None,
        })
        .await?;
    assert_eq!(damaged.problems.len(), 1, "{damaged:?}");
    assert_eq!(damaged.nodes_damaged + damaged.values_damaged, 1);
    assert!(
        damaged.problems[0].contains("CRC"),
        "{:?}",
        damaged.problems
    );
    db.close().await
}

#[tokio::test]
async fn verify_repairs_damaged_and_missing_shards() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let drives: Vec<PathBuf> = (0..6).map(|i| root.join(format!("drive{i}"))).collect();
    let mut opts = DatabaseOptions::new(root.join("meta"));
    opts.erasure = Some(ErasureConfig::new(4, 2, drives.clone()).with_repair(false));
    let db = Database::open(opts).await?;
    fill(&db).await?;
    let clean = db.verify().await?;
    assert!(clean.is_pristine(), "{clean:?}");
    assert_eq!(
        clean.shards_checked,
        6 * (clean.nodes_checked + clean.values_checked)
    );

    // One shard corrupted, another shard of the same blob deleted.
    let shard0 = files_under(&drives[0], ".s0")
        .into_iter()
        .next()
        .expect("a shard");
    let stem = shard0
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .to_string();
    flip_byte(&shard0, 60);
    let shard1 = files_under(&drives[1], &format!("{stem}.s1"))
        .into_iter()
        .next()
        .expect("shard 1 of the same blob");
    std::fs::remove_file(&shard1).expect("remove shard");
    let found = db.verify().await?;
    assert_eq!(found.shards_damaged, 2, "{found:?}");
    assert!(found.is_clean() && !found.is_pristine());
    let repaired = db
        .verify_with(VerifyOptions {
            repair: true,
            progress: None,
        })
        .await?;
    assert_eq!(repaired.shards_repaired, 2, "{repaired:?}");
    assert!(shard1.exists());
    let after = db.verify().await?;
    assert!(after.is_pristine(), "{after:?}");
    db.close().await
}
