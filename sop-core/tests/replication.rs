//! Replicated metadata (two stores folders, active/passive) on real folders:
//! the active folder fails mid-workload (fault hook) → operations fail with a
//! clear error → `failover()` → work continues on the passive side → reopen
//! → `reinstate()` fast-forwards the old side → every committed key is present
//! on both sides (each opened alone) and with the folders listed swapped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sop_core::storage::faults::{self, FaultOp, FaultRule};
use sop_core::{Database, DatabaseOptions, SopError, StoreOptions, TransactionMode};

fn options(root: &Path, swapped: bool) -> DatabaseOptions {
    let (a, b) = (root.join("metaA"), root.join("metaB"));
    let mut o = if swapped {
        DatabaseOptions::replicated(b, a, root.join("blobs"))
    } else {
        DatabaseOptions::replicated(a, b, root.join("blobs"))
    };
    // Checkpoints happen during the workload too.
    o.checkpoint_wal_bytes = 4 << 10;
    o
}

async fn write_batch(
    db: &Database,
    batch: u32,
    committed: &mut BTreeMap<u32, String>,
) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let kv = if batch == 0 {
        tx.new_btree::<u32, String>("kv", StoreOptions::with_slot_length(16))
            .await?
    } else {
        tx.open_btree::<u32, String>("kv").await?
    };
    let mut staged = Vec::new();
    for i in 0..12u32 {
        let k = batch * 100 + i;
        let v = format!("batch {batch} item {i} {}", "x".repeat(40));
        kv.upsert(k, v.clone()).await?;
        staged.push((k, v));
    }
    tx.commit().await?;
    committed.extend(staged);
    Ok(())
}

async fn check_all(db: &Database, committed: &BTreeMap<u32, String>) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let kv = tx.open_btree::<u32, String>("kv").await?;
    assert_eq!(kv.count().await?, committed.len() as u64, "key count");
    for (k, v) in committed {
        assert_eq!(kv.get(k).await?.as_ref(), Some(v), "key {k}");
    }
    tx.commit().await
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Opens one metadata side alone (a copy, with a copy of the blobs, so the
/// real folders are not touched) and checks every committed key.
async fn check_side_alone(
    root: &Path,
    side: &str,
    committed: &BTreeMap<u32, String>,
) -> Result<(), SopError> {
    let scratch = root.join(format!("alone-{side}"));
    copy_dir(&root.join(side), &scratch.join("meta"));
    copy_dir(&root.join("blobs"), &scratch.join("blobs"));
    let mut o = DatabaseOptions::new(scratch.join("meta"));
    o.blobs_folder = Some(scratch.join("blobs"));
    let db = Database::open(o).await?;
    check_all(&db, committed).await
}

fn metadata_files(folder: &Path) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("catalog.json"), PathBuf::from("wal/wal.log")];
    let mut reg: Vec<PathBuf> = std::fs::read_dir(folder.join("registry"))
        .expect("registry dir")
        .map(|e| PathBuf::from("registry").join(e.expect("entry").file_name()))
        .collect();
    reg.sort();
    out.extend(reg);
    out
}

#[tokio::test]
async fn active_fails_failover_reinstate_every_key_on_both_sides() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (meta_a, meta_b) = (root.join("metaA"), root.join("metaB"));
    let mut committed = BTreeMap::new();
    let mut batch = 0u32;

    // 1. Healthy: both sides written.
    let db = Database::open(options(root, false)).await?;
    for _ in 0..15 {
        write_batch(&db, batch, &mut committed).await?;
        batch += 1;
    }
    let st = db.replication_status().expect("replicated");
    assert_eq!(st.active, meta_a);
    assert!(!st.passive_stale);
    assert!(db.stats().checkpoints > 0, "checkpoints ran mid-workload");
    assert!(meta_b.join("wal/wal.log").exists());

    // 2. The active folder's drive fails: writes and fsyncs return EIO.
    let w = faults::inject(FaultRule::eio(&meta_a, FaultOp::Write));
    let s = faults::inject(FaultRule::eio(&meta_a, FaultOp::Sync));
    for attempt in 0..3 {
        let err = write_batch(&db, batch, &mut committed)
            .await
            .expect_err("a write on a failed active folder must fail");
        let msg = err.to_string();
        assert!(matches!(err, SopError::Io { .. }), "{msg}");
        assert!(
            msg.contains(&*meta_a.to_string_lossy()),
            "names the folder: {msg}"
        );
        assert!(msg.contains("failover"), "says what to do: {msg}");
        if attempt == 0 {
            eprintln!("expected error: {msg}");
        }
        batch += 1;
    }
    assert!(db.checkpoint().await.is_err());
    assert!(db
        .replication_status()
        .and_then(|s| s.active_failure)
        .is_some());
    // Committed data is still readable (blobs are elsewhere).
    check_all(&db, &committed).await?;

    // 3. Manual failover: the passive side takes over.
    let st = db.failover().await?;
    assert_eq!(st.active, meta_b);
    assert!(st.passive_stale);
    assert!(st.active_failure.is_none());
    for _ in 0..15 {
        write_batch(&db, batch, &mut committed).await?;
        batch += 1;
    }
    check_all(&db, &committed).await?;
    db.close().await?;

    // Reopen while side A is still failing: side B (highest epoch) is active,
    // A is stale and neither read nor written.
    let db = Database::open(options(root, false)).await?;
    let st = db.replication_status().expect("replicated");
    assert_eq!(st.active, meta_b);
    assert!(st.passive_stale);
    check_all(&db, &committed).await?;
    for _ in 0..5 {
        write_batch(&db, batch, &mut committed).await?;
        batch += 1;
    }

    // 4. The drive is repaired: reinstate fast-forwards side A.
    faults::remove(w);
    faults::remove(s);
    let st = db.reinstate().await?;
    assert_eq!(st.active, meta_b);
    assert!(!st.passive_stale);
    for _ in 0..5 {
        write_batch(&db, batch, &mut committed).await?;
        batch += 1;
    }
    check_all(&db, &committed).await?;
    db.close().await?;

    // 5. Both sides hold identical metadata ...
    for rel in metadata_files(&meta_b) {
        let a = std::fs::read(meta_a.join(&rel)).expect("file on side A");
        let b = std::fs::read(meta_b.join(&rel)).expect("file on side B");
        assert!(a == b, "{} differs between the sides", rel.display());
    }
    // ... and each alone shows every committed key.
    check_side_alone(root, "metaA", &committed).await?;
    check_side_alone(root, "metaB", &committed).await?;

    // 6. Re-open with the folders listed the other way round: side B is still
    // the active one, and everything is there.
    let db = Database::open(options(root, true)).await?;
    let st = db.replication_status().expect("replicated");
    assert_eq!(st.active, meta_b);
    assert!(!st.passive_stale);
    check_all(&db, &committed).await?;
    write_batch(&db, batch, &mut committed).await?;
    db.close().await?;
    let db = Database::open(options(root, false)).await?;
    check_all(&db, &committed).await?;
    db.close().await
}

#[tokio::test]
async fn passive_failure_marks_it_stale_and_work_continues() -> Result<(), SopError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (meta_a, meta_b) = (root.join("metaA"), root.join("metaB"));
    let mut committed = BTreeMap::new();
    let db = Database::open(options(root, false)).await?;
    for batch in 0..5 {
        write_batch(&db, batch, &mut committed).await?;
    }
    let w = faults::inject(FaultRule::eio(&meta_b, FaultOp::Write));
    for batch in 5..20 {
        write_batch(&db, batch, &mut committed).await?;
    }
    let st = db.replication_status().expect("replicated");
    assert_eq!(st.active, meta_a);
    assert!(st.passive_stale, "the failed passive side is stale");
    db.close().await?;
    faults::remove(w);

    // The stale mark was persisted on the active side.
    let db = Database::open(options(root, false)).await?;
    assert!(db.replication_status().expect("replicated").passive_stale);
    check_all(&db, &committed).await?;
    let st = db.reinstate().await?;
    assert!(!st.passive_stale);
    for batch in 20..25 {
        write_batch(&db, batch, &mut committed).await?;
    }
    db.close().await?;
    check_side_alone(root, "metaB", &committed).await?;
    check_side_alone(root, "metaA", &committed).await?;

    // Failover without a failure (planned switch) also works, and the old
    // active side can be reinstated straight away.
    let db = Database::open(options(root, false)).await?;
    db.failover().await?;
    write_batch(&db, 25, &mut committed).await?;
    assert!(db.reinstate().await.is_ok());
    db.close().await?;
    check_side_alone(root, "metaA", &committed).await?;
    Ok(())
}

#[tokio::test]
async fn replication_needs_a_separate_blobs_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = DatabaseOptions::new(dir.path().join("a"));
    o.stores_folders.push(dir.path().join("b"));
    let err = Database::open(o).await.err().expect("refused");
    assert!(err.to_string().contains("blobs_folder"), "{err}");
    let single = Database::open(DatabaseOptions::new(dir.path().join("s")))
        .await
        .expect("open");
    assert!(single.failover().await.is_err());
    assert!(single.replication_status().is_none());
}
