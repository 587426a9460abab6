//! Bad input to sop-core: database and store options, unknown and
//! conflicting stores, writes in read-only and finished transactions, cursor
//! misuse, options that conflict with the persisted ones; and the valid edge
//! cases of empty and huge keys and values.

use std::collections::BTreeMap;

use futures::StreamExt;
use sop_core::{
    Btree, Database, DatabaseOptions, Direction, StoreOptions, TransactionMode, TransactionOptions,
    MAX_MAX_TIME,
};

use super::Tried;

type Error = Box<dyn std::error::Error>;

async fn people(
    db: &Database,
    mode: TransactionMode,
) -> Result<(sop_core::Transaction, Btree<String, String>), Error> {
    let tx = db.begin(mode).await?;
    let t = tx.open_btree::<String, String>("people").await?;
    Ok((tx, t))
}

async fn content(t: &Btree<String, String>) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    let mut rows = std::pin::pin!(t.range(.., Direction::Forward));
    while let Some(r) = rows.next().await {
        let (k, v) = r?;
        out.insert(k, v);
    }
    Ok(out)
}

async fn options_and_paths(t: &Tried, root: &std::path::Path) -> Result<(), Error> {
    let dir = root.join("db");
    let mut o = DatabaseOptions::new(&dir);
    o.stores_folders.clear();
    t.refused(
        "no stores folder",
        Database::open(o).await,
        &["stores_folders"],
    );
    let mut o = DatabaseOptions::new(&dir);
    o.stores_folders = vec![root.join("a"), root.join("b"), root.join("c")];
    t.refused(
        "three stores folders",
        Database::open(o).await,
        &["stores_folders"],
    );
    let o = DatabaseOptions::replicated(&dir, &dir, root.join("blobs"));
    t.refused(
        "the same folder twice",
        Database::open(o).await,
        &["stores_folders"],
    );
    let o = DatabaseOptions::replicated(root.join("a"), root.join("b"), root.join("a/blobs"));
    t.refused(
        "blobs inside a metadata folder",
        Database::open(o).await,
        &["blobs_folder"],
    );
    let mut o = DatabaseOptions::new(&dir);
    o.registry_segment_blocks = 0;
    t.refused(
        "zero registry blocks",
        Database::open(o).await,
        &["registry_segment_blocks"],
    );
    let file = root.join("a-plain-file");
    std::fs::write(&file, b"not a folder")?;
    t.refused(
        "a file as the folder",
        Database::open(DatabaseOptions::new(&file)).await,
        &["a-plain-file"],
    );
    assert!(
        !dir.exists() || std::fs::read_dir(&dir)?.next().is_none(),
        "refused opens wrote nothing"
    );
    Ok(())
}

async fn stores_and_transactions(t: &Tried, db: &Database) -> Result<(), Error> {
    let long_name = "s".repeat(600);
    let (w, r) = (TransactionMode::ForWriting, TransactionMode::ForReading);
    let slots = StoreOptions::with_slot_length;
    let cases = [
        ("odd slot length", w, "bad_slots", slots(3), "slot_length"),
        ("tiny slot length", w, "bad_slots", slots(2), "slot_length"),
        (
            "huge slot length",
            w,
            "bad_slots",
            slots(70_000),
            "slot_length",
        ),
        ("empty store name", w, "", slots(8), "name"),
        (
            "600-byte store name",
            w,
            long_name.as_str(),
            slots(8),
            "name",
        ),
        (
            "other slot length than stored",
            w,
            "people",
            slots(16),
            "people",
        ),
        (
            "duplicates in a unique store",
            w,
            "people",
            slots(8).unique(false),
            "people",
        ),
        (
            "creating in a read transaction",
            r,
            "fresh",
            slots(8),
            "fresh",
        ),
    ];
    for (what, mode, name, options, names) in cases {
        let tx = db.begin(mode).await?;
        let opened = tx.new_btree::<String, String>(name, options).await;
        t.refused(what, opened, &[names]);
        let _ = tx.rollback().await;
    }
    let tx = db.begin(w).await?;
    let opened = tx.open_btree::<u64, u64>("nobody").await;
    t.refused("unknown store", opened, &["nobody"]);
    let _ = tx.rollback().await;
    for mode in [TransactionMode::ForReading, TransactionMode::NoCheck] {
        let (tx, p) = people(db, mode).await?;
        t.refused(
            "write in a read-only transaction",
            p.add("eve".into(), "Eve".into()).await,
            &["people"],
        );
        t.refused(
            "the same transaction after its failure",
            p.get(&"ada".to_string()).await,
            &[],
        );
        let _ = tx.rollback().await;
    }
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let typed = tx.open_btree::<u64, Vec<u64>>("people").await;
    match typed {
        Ok(wrong) => {
            t.refused(
                "reading a store with the wrong types",
                wrong.first().await.and(wrong.current_value().await),
                &["people"],
            );
        }
        Err(e) => {
            t.refused::<(), _>("opening a store with the wrong types", Err(e), &["people"]);
        }
    }
    let _ = tx.rollback().await;
    // Finished transactions: every use after commit or rollback is refused.
    for commit in [true, false] {
        let end = if commit { "commit" } else { "rollback" };
        let (tx, p) = people(db, TransactionMode::ForWriting).await?;
        p.upsert("bob".into(), "Bob".into()).await?;
        if commit {
            tx.commit().await?;
        } else {
            p.upsert("mallory".into(), "rolled back".into()).await?;
            tx.rollback().await?;
        }
        let closed = &["no longer usable"];
        t.refused(end, p.add("eve".into(), "Eve".into()).await, closed);
        t.refused(end, p.get(&"bob".to_string()).await, closed);
        t.refused(end, tx.commit().await, closed);
        t.refused(end, tx.open_btree::<String, String>("people").await, closed);
    }
    // Cursor misuse.
    let (tx, p) = people(db, TransactionMode::ForWriting).await?;
    t.refused(
        "remove_current without a current item",
        p.remove_current().await,
        &["people"],
    );
    let _ = tx.rollback().await;
    let (tx, p) = people(db, TransactionMode::ForWriting).await?;
    t.refused(
        "update_current_value without a current item",
        p.update_current_value("x".into()).await,
        &["people"],
    );
    let _ = tx.rollback().await;
    // A max_time above the bound is capped, not honoured.
    let mut o = TransactionOptions::new(TransactionMode::ForReading);
    o.max_time = MAX_MAX_TIME * 10;
    let tx = t.accepted("max_time above the bound", db.begin_with(o).await);
    assert_eq!(tx.max_time(), MAX_MAX_TIME);
    tx.commit().await?;
    Ok(())
}

/// Runs the sop-core cases.
pub async fn run(t: &Tried) -> Result<(), Error> {
    let root = tempfile::tempdir()?;
    options_and_paths(t, root.path()).await?;
    let dir = root.path().join("db");
    let db = Database::open(DatabaseOptions::new(&dir)).await?;
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let p = tx
        .new_btree::<String, String>("people", StoreOptions::with_slot_length(8))
        .await?;
    p.add("ada".into(), "Ada".into()).await?;
    let huge_key = "k".repeat(1 << 20);
    let huge_value = "v".repeat(4 << 20);
    t.accepted("empty key", p.add(String::new(), "empty".into()).await);
    t.accepted(
        "1 MiB key",
        p.add(huge_key.clone(), "huge key".into()).await,
    );
    t.accepted("4 MiB value", p.add("big".into(), huge_value.clone()).await);
    tx.commit().await?;
    stores_and_transactions(t, &db).await?;
    db.close().await?;
    let mut o = DatabaseOptions::new(&dir);
    o.registry_segment_blocks = 7;
    t.refused(
        "registry blocks other than stored",
        Database::open(o).await,
        &["options.json", "registry_segment_blocks"],
    );
    let mut o = DatabaseOptions::new(&dir);
    o.erasure = Some(sop_core::storage::erasure::ErasureConfig::new(
        2,
        1,
        (0..3)
            .map(|i| root.path().join(format!("drive{i}")))
            .collect(),
    ));
    t.refused(
        "erasure coding on a plain database",
        Database::open(o).await,
        &["options.json"],
    );
    // Nothing of the refused input persisted; the valid edge cases did.
    let db = Database::open(DatabaseOptions::new(&dir)).await?;
    assert_eq!(
        db.store_names(),
        vec!["people".to_string()],
        "only the valid store exists"
    );
    let (tx, p) = people(&db, TransactionMode::ForReading).await?;
    assert_eq!(p.options().slot_length, 8, "store options unchanged");
    let want: BTreeMap<String, String> = [
        ("ada", "Ada".to_string()),
        ("", "empty".to_string()),
        (huge_key.as_str(), "huge key".to_string()),
        ("big", huge_value),
        ("bob", "Bob".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert!(content(&p).await? == want, "content after reopen");
    tx.commit().await?;
    let report = db.verify().await?;
    assert!(report.is_clean(), "{:?}", report.problems);
    Ok(())
}
