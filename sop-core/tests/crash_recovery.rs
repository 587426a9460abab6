//! Crash safety with real processes: a child commits transactions in a loop
//! (with frequent checkpoints) and is killed with SIGKILL at random moments.
//! After every kill the database opens, every transaction the child reported
//! committed is there, no partial transaction is visible, and every CRC checks.
//!
//! The child is this same test binary re-executed with `SOP_CRASH_CHILD` set.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sop_core::{Database, DatabaseOptions, Direction, SopError, StoreOptions, TransactionMode};

const ITEMS_PER_TX: u64 = 10;

fn options(dir: &str) -> DatabaseOptions {
    let mut o = DatabaseOptions::new(dir);
    o.checkpoint_wal_bytes = 32 * 1024; // checkpoint often, so kills land mid-checkpoint too
    o
}

async fn last_committed(db: &Database) -> Result<u64, SopError> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let meta = tx
        .new_btree::<String, u64>("meta", StoreOptions::default())
        .await;
    let last = match meta {
        Ok(m) => m.get(&"last".to_string()).await?.unwrap_or(0),
        Err(SopError::ReadOnlyTransaction { .. }) => 0,
        Err(e) => return Err(e),
    };
    Ok(last)
}

async fn child(dir: String) -> Result<(), SopError> {
    let db = Database::open(options(&dir)).await?;
    let mut n = last_committed(&db).await? + 1;
    loop {
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let items = tx
            .new_btree::<u64, String>("items", StoreOptions::with_slot_length(16))
            .await?;
        let meta = tx
            .new_btree::<String, u64>("meta", StoreOptions::default())
            .await?;
        for i in 0..ITEMS_PER_TX {
            items.add(n * 1000 + i, format!("tx{n}-{i}")).await?;
        }
        if n > 3 {
            // Touch older data too: remove one item of transaction n-3.
            items.remove(&((n - 3) * 1000)).await?;
        }
        meta.upsert("last".into(), n).await?;
        tx.commit().await?;
        println!("COMMITTED {n}");
        n += 1;
    }
}

#[test]
fn crash_child_entry() {
    // Runs only when re-executed by the driver below.
    let Ok(dir) = std::env::var("SOP_CRASH_CHILD") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(child(dir)) {
        eprintln!("child failed: {e}");
        std::process::exit(3);
    }
}

async fn check(dir: &str, reported: u64) -> Result<u64, SopError> {
    let db = Database::open(options(dir)).await?;
    let last = last_committed(&db).await?;
    assert!(
        last >= reported,
        "transaction {reported} was reported committed but the database stops at {last}"
    );
    let tx = db.begin(TransactionMode::ForReading).await?;
    let items = match tx.open_btree::<u64, String>("items").await {
        Ok(t) => t,
        Err(SopError::StoreNotFound(_)) if last == 0 => return Ok(0),
        Err(e) => return Err(e),
    };
    let got: Vec<(u64, String)> = items
        .range(.., Direction::Forward)
        .map(|r| r.expect("item"))
        .collect()
        .await;
    let mut expected = Vec::new();
    for n in 1..=last {
        for i in 0..ITEMS_PER_TX {
            let removed = i == 0 && n + 3 <= last;
            if !removed {
                expected.push((n * 1000 + i, format!("tx{n}-{i}")));
            }
        }
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "item count after recovery (last = {last})"
    );
    assert_eq!(
        got, expected,
        "exactly the committed transactions, none partial"
    );
    assert_eq!(items.count().await?, expected.len() as u64);
    tx.commit().await?;
    let report = db.verify().await?;
    assert!(report.is_clean(), "CRC problems: {:?}", report.problems);
    Ok(last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing() -> Result<(), SopError> {
    if std::env::var("SOP_CRASH_CHILD").is_ok() {
        return Ok(());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_s = dir.path().to_string_lossy().to_string();
    let exe = std::env::current_exe().expect("exe");
    let kills: u32 = std::env::var("SOP_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut total_reported = 0;
    let mut last = 0;
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SOP_CRASH_CHILD", &dir_s)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let run_for = Duration::from_millis(40 + seed % 400);
        let reader = std::thread::spawn(move || {
            let mut reported = 0u64;
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if let Some(n) = line.strip_prefix("COMMITTED ") {
                    reported = n.trim().parse().unwrap_or(reported);
                }
            }
            reported
        });
        let started = Instant::now();
        while started.elapsed() < run_for {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("child exited early in round {round}: {status}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().expect("SIGKILL"); // SIGKILL on Unix
        child.wait().expect("wait");
        let reported = reader.join().expect("reader");
        total_reported += reported.saturating_sub(last);
        last = check(&dir_s, reported).await?;
    }
    eprintln!("crash test: {kills} kills survived, {last} transactions committed, {total_reported} reported");
    assert!(last > 0, "the child made progress");
    Ok(())
}
