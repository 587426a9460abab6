//! Concurrency soak: many tasks run random transactions — inserts, updates
//! and removes in their own key ranges, bank transfers between shared
//! accounts, increments of one shared counter, read-only audits of the total
//! balance — while checkpoints run concurrently. Conflicts are expected and
//! counted (the transaction is simply not applied to the model). At the end,
//! and again after a reopen, the database holds exactly the model: every
//! task's keys, the invariant total balance, the counter equal to the number
//! of committed increments, and intact CRCs.
//!
//! Runs for `SOP_SOAK_SECS` seconds (default 3, so CI exercises it).
//! Prints one JSON line with the counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sop_core::{Database, DatabaseOptions, Direction, SopError, StoreOptions, TransactionMode};

const TASKS: u64 = 12;
const ACCOUNTS: u32 = 32;
const OPENING_BALANCE: i64 = 1_000;
const KEYS_PER_TASK: u64 = 200;

type Model = BTreeMap<u64, String>;

#[derive(Default)]
struct Counts {
    transactions: AtomicU64,
    committed: AtomicU64,
    conflicts: AtomicU64,
    inserts: AtomicU64,
    updates: AtomicU64,
    removes: AtomicU64,
    transfers: AtomicU64,
    increments: AtomicU64,
    audits: AtomicU64,
    checkpoints: AtomicU64,
}

fn options(dir: &std::path::Path) -> DatabaseOptions {
    let mut o = DatabaseOptions::new(dir);
    o.checkpoint_wal_bytes = 256 * 1024;
    o.l1_cache_nodes = 512;
    o
}

/// What one transaction did, applied to the model only once it committed.
#[derive(Default)]
struct Done {
    kv: Vec<(u64, Option<String>)>,
    inserts: u64,
    updates: u64,
    removes: u64,
    transfers: u64,
    increments: u64,
}

/// One random transaction of task `task`; `Ok(None)` when it hit a conflict.
async fn one_tx(
    db: &Database,
    task: u64,
    model: &Model,
    rng: &mut SmallRng,
    n: u64,
) -> Result<Option<Done>, SopError> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let kv = tx
        .new_btree::<u64, String>("kv", StoreOptions::with_slot_length(32))
        .await?;
    let accounts = tx.open_btree::<u32, i64>("accounts").await?;
    let counter = tx.open_btree::<String, u64>("counter").await?;
    let mut done = Done::default();
    let mut staged = model.clone();
    for _ in 0..rng.gen_range(1..6) {
        let base = task * KEYS_PER_TASK;
        match rng.gen_range(0..10) {
            0..=3 => {
                let k = base + rng.gen_range(0..KEYS_PER_TASK);
                let v = format!("t{task}-n{n}-k{k}");
                if staged.contains_key(&k) {
                    assert!(kv.update(&k, v.clone()).await?, "own key {k} present");
                    done.updates += 1;
                } else {
                    assert!(kv.add(k, v.clone()).await?, "own key {k} absent");
                    done.inserts += 1;
                }
                staged.insert(k, v.clone());
                done.kv.push((k, Some(v)));
            }
            4..=5 => {
                let Some(&k) = staged.keys().nth(rng.gen_range(0..staged.len().max(1))) else {
                    continue;
                };
                assert!(kv.remove(&k).await?, "own key {k} present");
                staged.remove(&k);
                done.kv.push((k, None));
                done.removes += 1;
            }
            6..=8 => {
                let from = rng.gen_range(0..ACCOUNTS);
                let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
                let amount = rng.gen_range(1..50);
                let a = accounts.get(&from).await?.unwrap_or(0);
                let b = accounts.get(&to).await?.unwrap_or(0);
                accounts.update(&from, a - amount).await?;
                accounts.update(&to, b + amount).await?;
                done.transfers += 1;
            }
            _ => {
                let key = "hits".to_string();
                let c = counter.get(&key).await?.unwrap_or(0);
                counter.update(&key, c + 1).await?;
                done.increments += 1;
            }
        }
    }
    match tx.commit().await {
        Ok(()) => Ok(Some(done)),
        Err(e) if e.is_retryable() => Ok(None),
        Err(e) => Err(e),
    }
}

/// A read-only audit: when its commit validates, the balances it read sum to
/// the invariant total.
async fn audit(db: &Database) -> Result<bool, SopError> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let accounts = tx.open_btree::<u32, i64>("accounts").await?;
    let mut total = 0i64;
    let mut rows = std::pin::pin!(accounts.range(.., Direction::Forward));
    while let Some(r) = rows.next().await {
        total += r?.1;
    }
    match tx.commit().await {
        Ok(()) => {
            assert_eq!(
                total,
                i64::from(ACCOUNTS) * OPENING_BALANCE,
                "a validated audit"
            );
            Ok(true)
        }
        Err(e) if e.is_retryable() => Ok(false),
        Err(e) => Err(e),
    }
}

async fn worker(
    db: Arc<Database>,
    task: u64,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> Result<Model, SopError> {
    let mut rng = SmallRng::seed_from_u64(0x50AC ^ task);
    let mut model = Model::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        counts.transactions.fetch_add(1, Ordering::Relaxed);
        if rng.gen_range(0..8) == 0 {
            if audit(&db).await? {
                counts.audits.fetch_add(1, Ordering::Relaxed);
            } else {
                counts.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        let Some(done) = one_tx(&db, task, &model, &mut rng, n).await? else {
            counts.conflicts.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        counts.committed.fetch_add(1, Ordering::Relaxed);
        for (k, v) in done.kv {
            match v {
                Some(v) => model.insert(k, v),
                None => model.remove(&k),
            };
        }
        counts.inserts.fetch_add(done.inserts, Ordering::Relaxed);
        counts.updates.fetch_add(done.updates, Ordering::Relaxed);
        counts.removes.fetch_add(done.removes, Ordering::Relaxed);
        counts
            .transfers
            .fetch_add(done.transfers, Ordering::Relaxed);
        counts
            .increments
            .fetch_add(done.increments, Ordering::Relaxed);
    }
    Ok(model)
}

async fn check(db: &Database, model: &Model, increments: u64) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let kv = tx.open_btree::<u64, String>("kv").await?;
    let mut got = Model::new();
    let mut rows = std::pin::pin!(kv.range(.., Direction::Forward));
    while let Some(r) = rows.next().await {
        let (k, v) = r?;
        got.insert(k, v);
    }
    assert_eq!(
        &got, model,
        "kv content equals the union of the tasks' models"
    );
    assert_eq!(kv.count().await?, model.len() as u64);
    let accounts = tx.open_btree::<u32, i64>("accounts").await?;
    let mut total = 0;
    let mut rows = std::pin::pin!(accounts.range(.., Direction::Forward));
    while let Some(r) = rows.next().await {
        total += r?.1;
    }
    assert_eq!(
        total,
        i64::from(ACCOUNTS) * OPENING_BALANCE,
        "money is conserved"
    );
    let counter = tx.open_btree::<String, u64>("counter").await?;
    assert_eq!(
        counter.get(&"hits".to_string()).await?,
        Some(increments),
        "no lost increment"
    );
    tx.commit().await?;
    let report = db.verify().await?;
    assert!(report.is_clean(), "{:?}", report.problems);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_random_operations_stay_consistent() -> Result<(), SopError> {
    let secs: u64 = std::env::var("SOP_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().map_err(|e| SopError::io("tempdir", e))?;
    let db = Arc::new(Database::open(options(dir.path())).await?);
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let accounts = tx
        .new_btree::<u32, i64>("accounts", StoreOptions::with_slot_length(8))
        .await?;
    for a in 0..ACCOUNTS {
        accounts.add(a, OPENING_BALANCE).await?;
    }
    let counter = tx
        .new_btree::<String, u64>("counter", StoreOptions::default())
        .await?;
    counter.add("hits".into(), 0).await?;
    tx.commit().await?;

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let workers: Vec<_> = (0..TASKS)
        .map(|t| tokio::spawn(worker(db.clone(), t, stop.clone(), counts.clone())))
        .collect();
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        db.checkpoint().await?;
        counts.checkpoints.fetch_add(1, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    let mut model = Model::new();
    for w in workers {
        model.extend(w.await.map_err(|e| SopError::Task(e.to_string()))??);
    }
    let increments = counts.increments.load(Ordering::Relaxed);
    check(&db, &model, increments).await?;
    let db = Arc::try_unwrap(db).map_err(|_| SopError::Task("database still shared".into()))?;
    db.close().await?;
    let db = Database::open(options(dir.path())).await?;
    check(&db, &model, increments).await?;
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "{{\"test\":\"soak\",\"seconds\":{:.1},\"tasks\":{TASKS},\"transactions\":{},\"committed\":{},\
         \"conflicts\":{},\"audits\":{},\"inserts\":{},\"updates\":{},\"removes\":{},\"transfers\":{},\
         \"increments\":{increments},\"checkpoints\":{},\"final_keys\":{},\"lost\":0}}",
        started.elapsed().as_secs_f64(),
        c(&counts.transactions),
        c(&counts.committed),
        c(&counts.conflicts),
        c(&counts.audits),
        c(&counts.inserts),
        c(&counts.updates),
        c(&counts.removes),
        c(&counts.transfers),
        c(&counts.checkpoints),
        model.len()
    );
    assert!(c(&counts.committed) > 0, "some transactions committed");
    Ok(())
}
