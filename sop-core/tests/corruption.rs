//! Damaged bytes are detected and reported (or repaired from a copy), never
//! returned as data: node blobs, registry blocks, metadata files.

mod common;

use std::path::Path;

use common::files_with_ext;
use sop_core::{Database, DatabaseOptions, SopError, StoreOptions, TransactionMode};

fn flip(path: &Path, offset_from_end: usize) {
    let mut b = std::fs::read(path).expect("read");
    let at = b.len() - offset_from_end;
    b[at] ^= 0x5A;
    std::fs::write(path, b).expect("write");
}

/// Flips a byte near the end of every node frame: each `.blob` file holds
/// one, each `.pack` file a header frame followed by node frames (frame
/// header: magic, version, kind at byte 6, payload length at bytes 8..12).
/// Returns how many node frames were damaged.
fn damage_every_node_frame(dir: &Path) -> usize {
    let blobs = files_with_ext(dir, "blob");
    for b in &blobs {
        flip(b, 3);
    }
    let mut frames = blobs.len();
    for p in files_with_ext(dir, "pack") {
        let mut b = std::fs::read(&p).expect("read");
        let mut at = 0;
        while at + 16 <= b.len() {
            let len = u32::from_le_bytes(b[at + 8..at + 12].try_into().expect("len")) as usize;
            let end = at + 16 + len;
            if b[at + 6] == 1 {
                b[end - 3] ^= 0x5A;
                frames += 1;
            }
            at = end;
        }
        std::fs::write(&p, b).expect("write");
    }
    frames
}

async fn populate(dir: &Path) -> Result<(), SopError> {
    let db = Database::open(DatabaseOptions::new(dir)).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<u32, String>("data", StoreOptions::with_slot_length(8))
        .await?;
    for k in 0..200 {
        t.add(k, format!("value-{k}")).await?;
    }
    tx.commit().await?;
    db.close().await
}

#[tokio::test]
async fn flipped_byte_in_a_node_blob_is_reported_with_its_file() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    populate(dir.path()).await?;
    let damaged = damage_every_node_frame(dir.path());
    assert!(damaged > 10, "only {damaged} node frames");
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u32, String>("data").await?;
    let err = t.get(&17).await.expect_err("must not return damaged data");
    match &err {
        SopError::Corrupt { path, .. } => {
            let path = path.to_string_lossy();
            assert!(path.ends_with(".blob") || path.ends_with(".pack"), "{err}")
        }
        other => panic!("expected a CRC error, got {other}"),
    }
    assert!(err.to_string().contains("CRC mismatch"));
    let report = db.verify().await?;
    assert_eq!(
        report.problems.len(),
        damaged,
        "verify reports every damaged node"
    );
    Ok(())
}

#[tokio::test]
async fn torn_registry_block_is_repaired_from_its_backup() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    populate(dir.path()).await?;
    let segments = files_with_ext(dir.path(), "reg");
    assert!(!segments.is_empty());
    // Damage the first block's handle area of the primary segment.
    let mut b = std::fs::read(&segments[0]).expect("read");
    for x in &mut b[100..160] {
        *x = 0xFF;
    }
    std::fs::write(&segments[0], b).expect("write");
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    assert!(db.stats().repaired_blocks >= 1);
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u32, String>("data").await?;
    assert_eq!(t.get(&150).await?, Some("value-150".into()));
    tx.commit().await?;
    drop(db);

    // Damage both copies: the open reports the block and file.
    for ext in ["reg", "bak"] {
        let f = &files_with_ext(&dir.path().join("registry"), ext)[0];
        let mut b = std::fs::read(f).expect("read");
        b[200] ^= 0x01;
        std::fs::write(f, b).expect("write");
    }
    let err = Database::open(DatabaseOptions::new(dir.path()))
        .await
        .err()
        .expect("both copies damaged");
    assert!(
        matches!(err, SopError::Corrupt { block: Some(0), .. }),
        "{err}"
    );
    assert!(err.to_string().contains("segment-00000.reg"), "{err}");
    Ok(())
}

#[tokio::test]
async fn damaged_catalog_is_repaired_from_its_backup() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    populate(dir.path()).await?;
    flip(&dir.path().join("catalog.json"), 5);
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    assert_eq!(
        tx.open_btree::<u32, String>("data").await?.count().await?,
        200
    );
    Ok(())
}
