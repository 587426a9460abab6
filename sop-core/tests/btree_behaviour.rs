//! SOP's B-tree behaviours on real files: CRUD and navigation on 100k items
//! with splits and merges, duplicates, misses, modes, store lifecycle,
//! ride-on keys, value placements, ranges and persistence across re-opens.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sop_core::{
    Database, DatabaseOptions, Direction, IndexSpec, SopError, StoreOptions, TransactionMode,
    ValuePlacement,
};

type R = Result<(), SopError>;

async fn open(dir: &std::path::Path) -> Result<Database, SopError> {
    Database::open(DatabaseOptions::new(dir)).await
}

#[tokio::test]
async fn hundred_thousand_items_crud_navigation_splits_and_merges() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let n = 100_000u64;
    let opts = StoreOptions::with_slot_length(64);
    // Insert in a scrambled order across several transactions.
    let keys: Vec<u64> = (0..n).map(|i| (i * 7919) % n).collect();
    for chunk in keys.chunks(10_000) {
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let t = tx.new_btree::<u64, String>("big", opts.clone()).await?;
        for k in chunk {
            assert!(t.add(*k, format!("v{k}")).await?);
        }
        tx.commit().await?;
    }
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx.open_btree::<u64, String>("big").await?;
    assert_eq!(t.count().await?, n);
    assert!(
        !t.add(5, "dup".into()).await?,
        "unique tree refuses a duplicate"
    );
    for k in (0..n).step_by(997) {
        assert!(t.find(&k).await?);
        assert_eq!(t.current_value().await?, Some(format!("v{k}")));
    }
    // Full forward navigation.
    assert!(t.first().await?);
    let mut seen = 1u64;
    let mut prev = t.current_key().await?.expect("key");
    while t.next().await? {
        let k = t.current_key().await?.expect("key");
        assert!(k > prev);
        prev = k;
        seen += 1;
    }
    assert_eq!(seen, n);
    // Backward navigation.
    assert!(t.last().await?);
    assert_eq!(t.current_key().await?, Some(n - 1));
    assert!(t.previous().await?);
    assert_eq!(t.current_key().await?, Some(n - 2));
    // Update every 10th, remove 90% (forces merges).
    for k in (0..n).step_by(10) {
        assert!(t.update(&k, format!("u{k}")).await?);
    }
    for k in 0..n {
        if k % 10 != 0 {
            assert!(t.remove(&k).await?, "remove {k}");
        }
    }
    assert_eq!(t.count().await?, n / 10);
    tx.commit().await?;
    db.checkpoint().await?;

    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u64, String>("big").await?;
    assert_eq!(t.count().await?, n / 10);
    let all: Vec<(u64, String)> = t
        .range(.., Direction::Forward)
        .map(|r| r.expect("item"))
        .collect()
        .await;
    assert_eq!(all.len() as u64, n / 10);
    assert!(all
        .iter()
        .all(|(k, v)| k % 10 == 0 && *v == format!("u{k}")));
    tx.commit().await?;
    db.close().await?;

    // Re-open: everything is still there.
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u64, String>("big").await?;
    assert_eq!(t.count().await?, n / 10);
    assert_eq!(t.get(&99_990).await?, Some("u99990".to_string()));
    assert_eq!(t.get(&99_991).await?, None);
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn duplicates_and_find_with_id() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<String, u32>("dups", StoreOptions::with_slot_length(4).unique(false))
        .await?;
    for i in 0..10 {
        assert!(t.add("same".into(), i).await?);
    }
    t.add("other".into(), 99).await?;
    assert_eq!(t.count().await?, 11);
    // Duplicates iterate in insertion order.
    assert!(t.find(&"same".to_string()).await?);
    let mut ids = Vec::new();
    for i in 0..10 {
        let item = t.current_item().await?.expect("item");
        assert_eq!(item.key, "same");
        assert_eq!(t.current_value().await?, Some(i));
        ids.push(item.id);
        if i < 9 {
            assert!(t.next().await?);
        }
    }
    assert!(t.find_with_id(&"same".to_string(), ids[6]).await?);
    assert_eq!(t.current_value().await?, Some(6));
    t.update_current_value(60).await?;
    assert!(!t.add_if_not_exist("same".into(), 1).await?);
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<String, u32>("dups").await?;
    assert!(t.find_with_id(&"same".to_string(), ids[6]).await?);
    assert_eq!(t.current_value().await?, Some(60));
    assert!(
        !t.find_with_id(&"same".to_string(), sop_core::Uuid::new_v4())
            .await?
    );
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn find_miss_positions_on_neighbour() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<i32, i32>("n", StoreOptions::with_slot_length(4))
        .await?;
    for k in (0..100).step_by(10) {
        t.add(k, k).await?;
    }
    assert!(!t.find(&35).await?);
    assert_eq!(
        t.current_key().await?,
        Some(40),
        "cursor on the next greater item"
    );
    assert!(!t.find(&1000).await?);
    assert_eq!(
        t.current_key().await?,
        Some(90),
        "past the end: cursor on the last item"
    );
    assert!(!t.find(&-5).await?);
    assert_eq!(t.current_key().await?, Some(0));
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn writes_in_read_only_transactions_are_rejected_and_roll_back() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    tx.new_btree::<i32, i32>("s", StoreOptions::default())
        .await?
        .add(1, 1)
        .await?;
    tx.commit().await?;
    for mode in [TransactionMode::ForReading, TransactionMode::NoCheck] {
        let tx = db.begin(mode).await?;
        let t = tx.open_btree::<i32, i32>("s").await?;
        let err = t.add(2, 2).await.expect_err("write must fail");
        assert!(matches!(err, SopError::ReadOnlyTransaction { .. }), "{err}");
        assert!(!tx.is_active(), "the transaction is rolled back");
        let again = t.get(&1).await.expect_err("unusable after the error");
        assert!(matches!(again, SopError::TransactionClosed(_)), "{again}");
        assert!(tx.commit().await.is_err());
    }
    Ok(())
}

#[tokio::test]
async fn store_lifecycle_errors_and_rollback() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let err = tx
        .open_btree::<i32, i32>("missing")
        .await
        .err()
        .expect("missing store");
    assert!(
        matches!(err, SopError::StoreNotFound(ref n) if n == "missing"),
        "{err}"
    );

    let tx = db.begin(TransactionMode::ForWriting).await?;
    tx.new_btree::<i32, i32>("ghost", StoreOptions::default())
        .await?
        .add(1, 1)
        .await?;
    tx.rollback().await?;
    assert!(!db.store_names().contains(&"ghost".to_string()));
    let tx = db.begin(TransactionMode::ForWriting).await?;
    assert!(
        tx.open_btree::<i32, i32>("ghost").await.is_err(),
        "a store created in a rolled-back transaction is gone"
    );

    let tx = db.begin(TransactionMode::ForWriting).await?;
    tx.new_btree::<i32, i32>("fixed", StoreOptions::with_slot_length(100))
        .await?;
    tx.commit().await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let err = tx
        .new_btree::<i32, i32>("fixed", StoreOptions::with_slot_length(200))
        .await
        .err()
        .expect("incompatible");
    assert!(matches!(err, SopError::IncompatibleStore { .. }), "{err}");
    assert!(err.to_string().contains("slot_length"));

    // remove_btree deletes for good, also across a re-open.
    assert!(db.remove_btree("fixed").await?);
    assert!(!db.remove_btree("fixed").await?);
    db.close().await?;
    let db = open(dir.path()).await?;
    assert!(!db.store_names().contains(&"fixed".to_string()));
    Ok(())
}

#[tokio::test]
async fn counts_stay_exact_across_commits_and_rollbacks() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let mut model = BTreeMap::new();
    for round in 0..20u64 {
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let t = tx
            .new_btree::<u64, u64>("c", StoreOptions::with_slot_length(8))
            .await?;
        let mut local = model.clone();
        for i in 0..50u64 {
            let k = (round * 31 + i * 17) % 300;
            if i % 3 == 0 {
                if t.remove(&k).await? {
                    local.remove(&k);
                }
            } else {
                t.upsert(k, round).await?;
                local.insert(k, round);
            }
        }
        assert_eq!(t.count().await?, local.len() as u64);
        if round % 4 == 3 {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
            model = local;
        }
        if round % 5 == 0 {
            db.checkpoint().await?;
        }
    }
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u64, u64>("c").await?;
    assert_eq!(t.count().await?, model.len() as u64);
    let got: BTreeMap<u64, u64> = t
        .range(.., Direction::Forward)
        .map(|r| r.expect("item"))
        .collect()
        .await;
    assert_eq!(got, model);
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Person {
    last: String,
    first: String,
    /// Ride-on: travels with the key, ignored by ordering.
    email: String,
}
impl PartialEq for Person {
    fn eq(&self, o: &Self) -> bool {
        (&self.last, &self.first) == (&o.last, &o.first)
    }
}
impl Eq for Person {}
impl PartialOrd for Person {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Person {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (&self.last, &self.first).cmp(&(&o.last, &o.first))
    }
}

#[tokio::test]
async fn ride_on_keys_and_json_index_spec() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<Person, u32>("people", StoreOptions::default())
        .await?;
    let p = |l: &str, f: &str, e: &str| Person {
        last: l.into(),
        first: f.into(),
        email: e.into(),
    };
    t.add(p("doe", "jane", "old@x"), 1).await?;
    t.add(p("doe", "john", "j@x"), 2).await?;
    assert!(t.update_key(p("doe", "jane", "new@x")).await?);
    let keys: Vec<Person> = t
        .keys(.., Direction::Forward)
        .map(|r| r.expect("key"))
        .collect()
        .await;
    assert_eq!(
        keys[0].email, "new@x",
        "ride-on field updated without moving the item"
    );

    let spec = IndexSpec::ascending(["last", "age"]);
    let j = tx
        .new_json_btree::<String>("jpeople", spec, StoreOptions::default())
        .await?;
    j.add(
        json!({"last": "smith", "age": 40, "city": "Oslo"}),
        "a".into(),
    )
    .await?;
    j.add(
        json!({"last": "smith", "age": 30, "city": "Rome"}),
        "b".into(),
    )
    .await?;
    j.add(json!({"last": "adams", "age": 50}), "c".into())
        .await?;
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForReading).await?;
    let j = tx.open_json_btree::<String>("jpeople").await?;
    // Found with a plain JSON object holding only the ordered fields.
    assert!(j.find(&json!({"last": "smith", "age": 30})).await?);
    assert_eq!(j.current_value().await?, Some("b".to_string()));
    assert_eq!(
        j.current_key().await?.and_then(|k| k.get("city").cloned()),
        Some(json!("Rome"))
    );
    assert!(j.first().await?);
    assert_eq!(j.current_value().await?, Some("c".to_string()));
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn medium_and_big_values_round_trip_and_survive_reopen() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = open(dir.path()).await?;
        let tx = db.begin(TransactionMode::ForWriting).await?;
        for (name, placement) in [("m", ValuePlacement::Medium), ("b", ValuePlacement::Big)] {
            let t = tx
                .new_btree::<u32, Vec<u8>>(name, StoreOptions::default().placement(placement))
                .await?;
            for i in 0..20u32 {
                t.add(i, vec![i as u8; 10_000]).await?;
            }
            t.update(&3, vec![42; 5]).await?;
            t.remove(&4).await?;
        }
        tx.commit().await?;
        // Not checkpointed: recovered from the WAL.
    }
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    for name in ["m", "b"] {
        let t = tx.open_btree::<u32, Vec<u8>>(name).await?;
        assert_eq!(t.count().await?, 19);
        assert_eq!(t.get(&3).await?, Some(vec![42; 5]));
        assert_eq!(t.get(&7).await?, Some(vec![7; 10_000]));
        assert_eq!(t.get(&4).await?, None);
    }
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn ranges_in_both_directions_with_bounds() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<u32, u32>("r", StoreOptions::with_slot_length(4))
        .await?;
    for k in 0..2000 {
        t.add(k, k * 2).await?;
    }
    let fwd: Vec<u32> = t
        .keys(100..=1500, Direction::Forward)
        .map(|r| r.expect("k"))
        .collect()
        .await;
    assert_eq!(fwd, (100..=1500).collect::<Vec<_>>());
    let back: Vec<u32> = t
        .keys(100..1500, Direction::Backward)
        .map(|r| r.expect("k"))
        .collect()
        .await;
    assert_eq!(back, (100..1500).rev().collect::<Vec<_>>());
    let tail: Vec<(u32, u32)> = t
        .range(1995.., Direction::Forward)
        .map(|r| r.expect("kv"))
        .collect()
        .await;
    assert_eq!(tail, (1995..2000).map(|k| (k, k * 2)).collect::<Vec<_>>());
    let all_back: Vec<u32> = t
        .keys(.., Direction::Backward)
        .map(|r| r.expect("k"))
        .collect()
        .await;
    assert_eq!(all_back.len(), 2000);
    assert_eq!(all_back[0], 1999);
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn wal_replay_and_conflicting_reopen_options() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = open(dir.path()).await?;
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let t = tx
            .new_btree::<u32, String>("w", StoreOptions::with_slot_length(16))
            .await?;
        for k in 0..500 {
            t.add(k, k.to_string()).await?;
        }
        tx.commit().await?;
        db.checkpoint().await?;
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let t = tx.open_btree::<u32, String>("w").await?;
        for k in 0..250 {
            t.remove(&k).await?;
        }
        tx.commit().await?;
        // Dropped without close: the removals exist only in the WAL.
    }
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u32, String>("w").await?;
    assert_eq!(t.count().await?, 250);
    assert_eq!(t.get(&10).await?, None);
    assert_eq!(t.get(&300).await?, Some("300".into()));
    tx.commit().await?;
    drop(db);
    let mut bad = DatabaseOptions::new(dir.path());
    bad.registry_segment_blocks = 7;
    let err = Database::open(bad).await.err().expect("conflict");
    assert!(matches!(err, SopError::OptionsConflict { .. }), "{err}");
    Ok(())
}

/// A writing transaction with a 50 ms `max_time` that created store `name`,
/// added one item and then slept past its deadline.
async fn transaction_past_its_deadline(
    db: &Database,
    name: &str,
) -> Result<(sop_core::Transaction, sop_core::Btree<u32, u32>), SopError> {
    let opts = sop_core::TransactionOptions {
        mode: TransactionMode::ForWriting,
        max_time: std::time::Duration::from_millis(50),
    };
    let tx = db.begin_with(opts).await?;
    let t = tx
        .new_btree::<u32, u32>(name, StoreOptions::default())
        .await?;
    t.add(1, 1).await?;
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    Ok((tx, t))
}

#[tokio::test]
async fn commit_past_max_time_fails_even_without_a_failed_operation() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let (tx, t) = transaction_past_its_deadline(&db, "late").await?;
    // The next operation does not read the clock; commit always does.
    t.add(2, 2).await?;
    let err = tx.commit().await.expect_err("past max_time");
    assert!(matches!(err, SopError::Timeout(_)), "{err}");
    assert!(!tx.is_active());
    assert!(!db.store_names().contains(&"late".to_string()));
    Ok(())
}

#[tokio::test]
async fn max_time_bounds_the_transaction() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let (tx, t) = transaction_past_its_deadline(&db, "slow").await?;
    // Operations read the clock once every DEADLINE_CHECK_EVERY calls.
    let mut failed = None;
    for i in 0..sop_core::DEADLINE_CHECK_EVERY {
        if let Err(e) = t.add(2 + i, i).await {
            failed = Some(e);
            break;
        }
    }
    let err = failed.expect("past max_time within DEADLINE_CHECK_EVERY operations");
    assert!(matches!(err, SopError::Timeout(_)), "{err}");
    assert!(!tx.is_active());
    assert!(
        !db.store_names().contains(&"slow".to_string()),
        "nothing of it was committed"
    );
    // max_time is capped at one hour.
    let capped = sop_core::TransactionOptions {
        mode: TransactionMode::ForReading,
        max_time: std::time::Duration::from_secs(10 * 3600),
    };
    let tx = db.begin_with(capped).await?;
    assert_eq!(tx.max_time(), sop_core::MAX_MAX_TIME);
    Ok(())
}

#[tokio::test]
async fn has_btree_reports_existence_without_failing() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let tx = db.begin(TransactionMode::ForReading).await?;
    assert!(!tx.has_btree("nope"));
    assert!(tx.is_active(), "asking does not roll back");
    Ok(())
}

/// `add` on a unique tree refuses every existing key wherever it sits
/// relative to leaf edges: after an ascending load (append splits leave full
/// leaves), a scrambled load in between, and removals that leave separators
/// naming keys no longer present. Checked against a reference map, also
/// after the commit.
#[tokio::test]
async fn unique_adds_refuse_existing_keys_at_leaf_edges() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path()).await?;
    let opts = StoreOptions::with_slot_length(8);
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let t = tx.new_btree::<u64, u64>("edges", opts).await?;
    let mut reference = BTreeMap::new();
    for k in 0..3000u64 {
        assert!(t.add(k * 2, k).await?, "ascending {k}");
        reference.insert(k * 2, k);
    }
    for k in (0..3000u64).map(|i| (i * 1237) % 3000) {
        assert!(t.add(k * 2 + 1, k).await?, "scrambled {k}");
        reference.insert(k * 2 + 1, k);
    }
    for k in (0..6000u64).step_by(5) {
        assert!(t.remove(&k).await?);
        reference.remove(&k);
    }
    for k in 0..6100u64 {
        let added = t.add(k, u64::MAX).await?;
        assert_eq!(added, !reference.contains_key(&k), "key {k}");
        reference.entry(k).or_insert(u64::MAX);
    }
    assert_eq!(t.count().await?, reference.len() as u64);
    tx.commit().await?;

    let tx = db.begin(TransactionMode::ForReading).await?;
    let t = tx.open_btree::<u64, u64>("edges").await?;
    for (k, v) in &reference {
        assert_eq!(t.get(k).await?, Some(*v), "key {k}");
    }
    let mut stored = Vec::new();
    let mut keys = std::pin::pin!(t.keys(.., Direction::Forward));
    while let Some(k) = keys.next().await {
        stored.push(k?);
    }
    assert_eq!(stored, reference.keys().copied().collect::<Vec<_>>());
    tx.commit().await?;
    Ok(())
}
