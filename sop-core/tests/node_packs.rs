//! Node packs on a real database: a checkpoint writes its nodes into one
//! pack file, packs whose nodes are all superseded are deleted, mostly dead
//! packs are compacted into newer ones, and all of it survives a re-open.

mod common;

use std::path::{Path, PathBuf};

use sop_core::{Database, DatabaseOptions, SopError, StoreOptions, TransactionMode};

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    common::files_with_ext(dir, ext)
}

fn value(k: u32, round: u32) -> String {
    format!("value {k} of round {round}")
}

/// Rewrites keys `[lo, hi)` (a few leaves) and checkpoints.
async fn update_range(db: &Database, lo: u32, hi: u32, round: u32) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx.open_btree::<u32, String>("packed").await?;
    for k in lo..hi {
        assert!(t.update(&k, value(k, round)).await?);
    }
    tx.commit().await?;
    db.checkpoint().await
}

async fn check_all(db: &Database, n: u32, round_of: impl Fn(u32) -> u32) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u32, String>("packed").await?;
    for k in 0..n {
        assert_eq!(t.get(&k).await?, Some(value(k, round_of(k))), "key {k}");
    }
    tx.commit().await
}

#[tokio::test]
async fn packs_are_written_per_checkpoint_collected_and_compacted() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = 4000u32;
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<u32, String>("packed", StoreOptions::with_slot_length(16))
        .await?;
    for k in 0..n {
        t.add(k, value(k, 0)).await?;
    }
    tx.commit().await?;
    db.checkpoint().await?;
    let first = files(dir.path(), "pack");
    assert_eq!(first.len(), 1, "one checkpoint, one pack: {first:?}");
    assert!(
        files(dir.path(), "blob").is_empty(),
        "no per-node blob files"
    );

    // Each round rewrites a tenth of the keys: the first pack loses a tenth
    // of its nodes per round, becomes sparse, and its survivors are moved.
    let rounds = 8u32;
    for r in 1..=rounds {
        update_range(&db, (r - 1) * n / 10, r * n / 10, r).await?;
        // Packs of later rounds stay (their nodes are live); no pack
        // lingers with less than half of it live beyond one checkpoint.
        let packs = files(dir.path(), "pack");
        assert!(
            packs.len() <= r as usize + 1,
            "round {r}: {} packs",
            packs.len()
        );
    }
    assert!(
        !first[0].exists(),
        "the initial pack was compacted away and deleted"
    );
    let round_of = |k: u32| {
        if k < rounds * n / 10 {
            k / (n / 10) + 1
        } else {
            0
        }
    };
    check_all(&db, n, round_of).await?;
    let report = db.verify().await?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.nodes_checked > 200);
    db.close().await?;

    // After a re-open (no garbage remembered) which packs are live is read
    // from the registry: packs keep being collected.
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    check_all(&db, n, round_of).await?;
    let before = files(dir.path(), "pack");
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx.open_btree::<u32, String>("packed").await?;
    for k in 0..n {
        assert!(t.update(&k, value(k, 99)).await?);
    }
    tx.commit().await?;
    // Every leaf is rewritten (internal nodes are not: updates keep the
    // tree's shape), so every older pack is mostly dead; the next
    // checkpoint moves their internal nodes and deletes them.
    db.checkpoint().await?;
    db.checkpoint().await?;
    let after = files(dir.path(), "pack");
    assert!(after.len() <= 2, "leaves + moved internal nodes: {after:?}");
    assert!(
        before.iter().all(|p| !p.exists()),
        "packs from before the re-open were deleted"
    );
    check_all(&db, n, |_| 99).await?;
    let report = db.verify().await?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    db.close().await
}

#[tokio::test]
async fn a_snapshot_keeps_superseded_packed_nodes_readable() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<u32, String>("packed", StoreOptions::with_slot_length(8))
        .await?;
    for k in 0..400 {
        t.add(k, value(k, 0)).await?;
    }
    tx.commit().await?;
    db.close().await?;

    // A fresh process: nodes are read from the pack on demand.
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let first = files(dir.path(), "pack");
    assert_eq!(first.len(), 1);
    let reader = db.begin(TransactionMode::NoCheck).await?;
    let old = reader.open_btree::<u32, String>("packed").await?;
    assert_eq!(old.get(&1).await?, Some(value(1, 0)));
    // Every node is rewritten and the old pack retired while the reader
    // still holds its snapshot.
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx.open_btree::<u32, String>("packed").await?;
    for k in 0..400 {
        t.update(&k, value(k, 1)).await?;
    }
    tx.commit().await?;
    db.checkpoint().await?;
    assert!(first[0].exists(), "old pack still needed");
    for k in (0..400).step_by(37) {
        assert_eq!(old.get(&k).await?, Some(value(k, 0)), "snapshot key {k}");
    }
    reader.commit().await?;
    // The old pack now only holds the (unchanged) internal nodes: it is
    // compacted into a new pack and deleted.
    db.checkpoint().await?;
    assert!(!first[0].exists(), "old pack collected");
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u32, String>("packed").await?;
    for k in 0..400 {
        assert_eq!(t.get(&k).await?, Some(value(k, 1)));
    }
    tx.commit().await?;
    db.close().await
}

#[tokio::test]
async fn a_checkpoint_larger_than_the_flush_size_streams_one_pack_that_reopens(
) -> Result<(), SopError> {
    // About 20 MB of dirty nodes: more than two flushes of PACK_FLUSH_BYTES
    // (8 MB), so the pack goes through the writer thread.
    let dir = tempfile::tempdir().expect("tempdir");
    let n = 5000u32;
    let big = |k: u32| format!("{k:>8}").repeat(500);
    {
        let db = Database::open(DatabaseOptions::new(dir.path())).await?;
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let t = tx
            .new_btree::<u32, String>("streamed", StoreOptions::with_slot_length(64))
            .await?;
        for k in 0..n {
            t.add(k, big(k)).await?;
        }
        tx.commit().await?;
        db.checkpoint().await?;
        let packs = files(dir.path(), "pack");
        assert_eq!(packs.len(), 1, "one checkpoint, one pack: {packs:?}");
        let size = std::fs::metadata(&packs[0]).expect("pack").len();
        assert!(size > 16 << 20, "the pack holds every node: {size} bytes");
        db.close().await?;
    }
    let db = Database::open(DatabaseOptions::new(dir.path())).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u32, String>("streamed").await?;
    for k in 0..n {
        assert_eq!(t.get(&k).await?, Some(big(k)), "key {k}");
    }
    tx.commit().await
}
