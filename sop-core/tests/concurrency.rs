//! Optimistic concurrency inside one process: many tokio tasks transacting
//! on the same stores (refetch-and-merge, conflicts, stale readers).

use std::sync::Arc;

use futures::StreamExt;
use sop_core::{Database, DatabaseOptions, Direction, SopError, StoreOptions, TransactionMode};

async fn open() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(DatabaseOptions::new(dir.path()))
        .await
        .expect("open");
    (dir, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_tasks_of_disjoint_inserts_all_commit() -> Result<(), SopError> {
    let (_dir, db) = open().await;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    tx.new_btree::<u64, u64>("shared", StoreOptions::with_slot_length(32))
        .await?;
    tx.commit().await?;
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for t in 0..200u64 {
                let tx = db.begin(TransactionMode::ForWriting).await?;
                let tree = tx.open_btree::<u64, u64>("shared").await?;
                for i in 0..5u64 {
                    let key = (task * 1_000_000) + t * 10 + i;
                    assert!(tree.add(key, task).await?);
                }
                tx.commit().await?;
            }
            Ok::<(), SopError>(())
        }));
    }
    for t in tasks {
        t.await.expect("join")?;
    }
    let tx = db.begin(TransactionMode::ForReading).await?;
    let tree = tx.open_btree::<u64, u64>("shared").await?;
    assert_eq!(tree.count().await?, 8 * 200 * 5);
    let keys: Vec<u64> = tree
        .keys(.., Direction::Forward)
        .map(|k| k.expect("key"))
        .collect()
        .await;
    assert_eq!(keys.len(), 8000);
    for task in 0..8u64 {
        for t in 0..200u64 {
            for i in 0..5u64 {
                assert!(keys.binary_search(&(task * 1_000_000 + t * 10 + i)).is_ok());
            }
        }
    }
    tx.commit().await?;
    assert!(
        db.stats().merged_commits > 0,
        "concurrent commits were merged"
    );
    Ok(())
}

#[tokio::test]
async fn two_updates_of_one_item_exactly_one_commits() -> Result<(), SopError> {
    let (_dir, db) = open().await;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    tx.new_btree::<String, i64>("acct", StoreOptions::default())
        .await?
        .add("a".into(), 100)
        .await?;
    tx.commit().await?;

    let t1 = db.begin(TransactionMode::ForWriting).await?;
    let t2 = db.begin(TransactionMode::ForWriting).await?;
    let a1 = t1.open_btree::<String, i64>("acct").await?;
    let a2 = t2.open_btree::<String, i64>("acct").await?;
    let v1 = a1.get(&"a".into()).await?.expect("a");
    let v2 = a2.get(&"a".into()).await?.expect("a");
    a1.update(&"a".into(), v1 - 10).await?;
    a2.update(&"a".into(), v2 - 20).await?;
    let r1 = t1.commit().await;
    let r2 = t2.commit().await;
    assert!(r1.is_ok());
    let err = r2.expect_err("second must conflict");
    assert!(
        matches!(err, SopError::Conflict { ref store, .. } if store == "acct"),
        "{err}"
    );
    let tx = db.begin(TransactionMode::ForReading).await?;
    assert_eq!(
        tx.open_btree::<String, i64>("acct")
            .await?
            .get(&"a".into())
            .await?,
        Some(90)
    );
    Ok(())
}

#[tokio::test]
async fn stale_reader_fails_at_commit() -> Result<(), SopError> {
    let (_dir, db) = open().await;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<u32, u32>("r", StoreOptions::default())
        .await?;
    t.add(1, 1).await?;
    t.add(3, 3).await?;
    tx.commit().await?;

    // A reader observes item 1, a writer changes it, the reader's commit fails.
    let reader = db.begin(TransactionMode::ForReading).await?;
    assert_eq!(
        reader.open_btree::<u32, u32>("r").await?.get(&1).await?,
        Some(1)
    );
    let w = db.begin(TransactionMode::ForWriting).await?;
    w.open_btree::<u32, u32>("r").await?.update(&1, 10).await?;
    w.commit().await?;
    assert!(matches!(
        reader.commit().await,
        Err(SopError::Conflict { .. })
    ));

    // Phantom: a reader that saw "nothing between 1 and 3" fails when 2 appears.
    let reader = db.begin(TransactionMode::ForReading).await?;
    let r = reader.open_btree::<u32, u32>("r").await?;
    assert!(r.first().await?);
    assert!(r.next().await?);
    assert_eq!(r.current_key().await?, Some(3));
    let w = db.begin(TransactionMode::ForWriting).await?;
    w.open_btree::<u32, u32>("r").await?.add(2, 2).await?;
    w.commit().await?;
    assert!(matches!(
        reader.commit().await,
        Err(SopError::Conflict { .. })
    ));

    // NoCheck never validates.
    let nc = db.begin(TransactionMode::NoCheck).await?;
    nc.open_btree::<u32, u32>("r").await?.get(&1).await?;
    let w = db.begin(TransactionMode::ForWriting).await?;
    w.open_btree::<u32, u32>("r").await?.update(&1, 11).await?;
    w.commit().await?;
    nc.commit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_transfers_keep_the_total_constant() -> Result<(), SopError> {
    let (_dir, db) = open().await;
    let accounts = 100u32;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<u32, i64>("bank", StoreOptions::with_slot_length(16))
        .await?;
    for a in 0..accounts {
        t.add(a, 1_000).await?;
    }
    tx.commit().await?;
    let committed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let db = db.clone();
        let committed = committed.clone();
        let conflicts = conflicts.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = task
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let mut done = 0;
            while done < 50 {
                let from = (next() % accounts as u64) as u32;
                let to = (next() % accounts as u64) as u32;
                if from == to {
                    continue;
                }
                let amount = (next() % 50) as i64;
                let tx = db.begin(TransactionMode::ForWriting).await?;
                let bank = tx.open_btree::<u32, i64>("bank").await?;
                let a = bank.get(&from).await?.expect("from");
                let b = bank.get(&to).await?.expect("to");
                bank.update(&from, a - amount).await?;
                bank.update(&to, b + amount).await?;
                match tx.commit().await {
                    Ok(()) => {
                        done += 1;
                        committed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(e) if e.is_retryable() => {
                        conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok::<(), SopError>(())
        }));
    }
    for t in tasks {
        t.await.expect("join")?;
    }
    let tx = db.begin(TransactionMode::ForReading).await?;
    let bank = tx.open_btree::<u32, i64>("bank").await?;
    let total: i64 = bank
        .range(.., Direction::Forward)
        .map(|r| r.expect("item").1)
        .collect::<Vec<_>>()
        .await
        .iter()
        .sum();
    assert_eq!(total, 100 * 1_000);
    assert_eq!(committed.load(std::sync::atomic::Ordering::Relaxed), 400);
    Ok(())
}
