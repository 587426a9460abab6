//! A real `Database` over erasure-coded blobs (4 data + 2 parity folders):
//! losing up to two drives loses nothing; losing three makes writes roll back
//! with a clear error and leaves nothing half-written.

use std::path::{Path, PathBuf};

use sop_core::storage::erasure::ErasureConfig;
use sop_core::{
    Database, DatabaseOptions, SopError, StoreOptions, TransactionMode, ValuePlacement,
};

fn options(root: &Path) -> (DatabaseOptions, Vec<PathBuf>) {
    let drives: Vec<PathBuf> = (0..6).map(|i| root.join(format!("drive{i}"))).collect();
    let mut o = DatabaseOptions::new(root.join("meta"));
    o.erasure = Some(ErasureConfig::new(4, 2, drives.clone()).with_repair(false));
    (o, drives)
}

/// A dead drive: its folder is gone and a plain file sits where it was, so
/// nothing can be created there.
fn kill_drive(drive: &Path) {
    std::fs::remove_dir_all(drive).expect("remove drive");
    std::fs::write(drive, b"dead drive").expect("tombstone file");
}

async fn read_all(root: &Path) -> Result<Vec<(u32, String, Vec<u8>)>, SopError> {
    let db = Database::open(options(root).0).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    let small = tx.open_btree::<u32, String>("small").await?;
    let medium = tx.open_btree::<u32, Vec<u8>>("medium").await?;
    let mut out = Vec::new();
    for k in 0..300u32 {
        let s = small.get(&k).await?.unwrap_or_default();
        let m = medium.get(&k).await?.unwrap_or_default();
        out.push((k, s, m));
    }
    tx.commit().await?;
    Ok(out)
}

#[tokio::test]
async fn database_survives_two_lost_drives_and_refuses_writes_after_three() -> Result<(), SopError>
{
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (opts, drives) = options(root);
    {
        let db = Database::open(opts).await?;
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
        for k in 0..300u32 {
            small.add(k, format!("value-{k}")).await?;
            medium.add(k, vec![(k % 251) as u8; 3000]).await?;
        }
        tx.commit().await?;
        db.close().await?; // every node is now an erasure-coded blob
    }
    let expected = read_all(root).await?;
    assert_eq!(expected[123].1, "value-123");

    // One, then two drives gone: everything reads back.
    kill_drive(&drives[1]);
    assert_eq!(read_all(root).await?, expected);
    kill_drive(&drives[4]);
    assert_eq!(read_all(root).await?, expected);

    // Writes still work with two drives gone.
    {
        let db = Database::open(options(root).0).await?;
        let tx = db.begin(TransactionMode::ForWriting).await?;
        tx.open_btree::<u32, Vec<u8>>("medium")
            .await?
            .upsert(1000, vec![1; 100])
            .await?;
        tx.commit().await?;
        db.close().await?;
    }

    // Three drives gone: a write rolls back with an error naming the lost shards.
    kill_drive(&drives[2]);
    let db = Database::open(options(root).0).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let medium = tx.open_btree::<u32, Vec<u8>>("medium").await?;
    // Reading an existing node needs 4 of 6 shards: the error lists the lost ones.
    let err = medium
        .upsert(2000, vec![2; 100])
        .await
        .expect_err("more than parity drives lost");
    assert!(matches!(err, SopError::ShardsLost { .. }), "{err}");
    assert!(err.to_string().contains("drive2"), "{err}");
    assert!(!tx.is_active(), "the transaction rolled back");
    // Writing a new value blob needs 4 writable drives: the write rolls back.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let fresh = tx
        .new_btree::<u32, Vec<u8>>(
            "fresh",
            StoreOptions::default().placement(ValuePlacement::Medium),
        )
        .await?;
    let err = fresh
        .add(1, vec![3; 100])
        .await
        .expect_err("write with 3 dead drives");
    assert!(
        matches!(
            err,
            SopError::ShardWriteFailed {
                rolled_back: true,
                ..
            }
        ),
        "{err}"
    );
    assert!(!tx.is_active(), "the transaction rolled back");
    assert!(!db.store_names().contains(&"fresh".to_string()));
    let shard_files: usize = drives
        .iter()
        .filter(|d| d.is_dir())
        .map(|d| walk(d).len())
        .sum();
    drop(db);
    // Nothing half-written: the same shard files as before the failed write.
    let db = Database::open(options(root).0).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    let medium = tx.open_btree::<u32, Vec<u8>>("medium").await?;
    let read_err = medium.get(&5).await.err();
    assert!(
        matches!(read_err, Some(SopError::ShardsLost { .. })),
        "{read_err:?}"
    );
    let after: usize = drives
        .iter()
        .filter(|d| d.is_dir())
        .map(|d| walk(d).len())
        .sum();
    assert_eq!(shard_files, after);
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out
}

#[tokio::test]
async fn repair_rewrites_shards_onto_a_replaced_drive() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (mut opts, drives) = options(root);
    if let Some(e) = opts.erasure.take() {
        opts.erasure = Some(e.with_repair(true));
    }
    let db = Database::open(opts.clone()).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<u32, String>("t", StoreOptions::with_slot_length(8))
        .await?;
    for k in 0..100u32 {
        t.add(k, format!("v{k}")).await?;
    }
    tx.commit().await?;
    db.close().await?;
    let before = walk(&drives[3]).len();
    assert!(before > 0);
    // Drive 3 is replaced by an empty one; reads reconstruct and repair.
    std::fs::remove_dir_all(&drives[3]).expect("remove");
    std::fs::create_dir_all(&drives[3]).expect("new empty drive");
    let db = Database::open(opts).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u32, String>("t").await?;
    for k in 0..100u32 {
        assert_eq!(t.get(&k).await?, Some(format!("v{k}")));
    }
    tx.commit().await?;
    assert_eq!(
        walk(&drives[3]).len(),
        before,
        "every shard on the new drive was rewritten"
    );
    Ok(())
}
