//! Clustered mode with a real `redis-server` and real OS processes.
//!
//! Every test starts its own private Redis on a free loopback port
//! ([`LocalRedis`]); with `SOP_REQUIRE_REDIS=1` (CI) a missing
//! `redis-server` fails the test instead of skipping it. Worker processes are
//! this test binary re-executed with `SOP_CLUSTER_WORKER` set; they report
//! each committed transaction on stdout (`COMMITTED <worker> <seq>`), and the
//! driver checks the database against those reports.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::{Rng, SeedableRng};
use sop_core::cluster::LocalRedis;
use sop_core::storage::faults::{self, FaultError, FaultOp, FaultRule};
use sop_core::{
    Database, DatabaseOptions, Direction, Mode, SopError, StoreOptions, TransactionMode,
    TransactionOptions,
};

const ACCOUNTS: u32 = 100;
const OPENING_BALANCE: i64 = 1_000;

type Transfer = (u32, u32, i64);

fn options(dir: &Path, url: &str) -> DatabaseOptions {
    let mut o = DatabaseOptions::new(dir);
    o.mode = Mode::Clustered {
        redis_url: url.to_string(),
    };
    // Checkpoint often, so processes keep reloading after each other's
    // checkpoints during the workload.
    o.checkpoint_wal_bytes = 24 * 1024;
    o
}

fn redis_or_skip(test: &str) -> Option<LocalRedis> {
    match LocalRedis::start_or_skip() {
        Ok(Some(r)) => Some(r),
        Ok(None) => {
            eprintln!("{test}: skipped, redis-server is not installed (set SOP_REQUIRE_REDIS=1 to fail instead)");
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn create_accounts(db: &Database) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let accounts = tx
        .new_btree::<u32, i64>("accounts", StoreOptions::with_slot_length(16))
        .await?;
    tx.new_btree::<(u32, u32), Transfer>("ledger", StoreOptions::with_slot_length(32))
        .await?;
    for a in 0..ACCOUNTS {
        accounts.add(a, OPENING_BALANCE).await?;
    }
    tx.commit().await
}

/// One transfer, recorded in the ledger under `(worker, seq)`.
async fn transfer(
    db: &Database,
    worker: u32,
    seq: u32,
    (from, to, amount): Transfer,
    max_time: Duration,
) -> Result<(), SopError> {
    let tx = db
        .begin_with(TransactionOptions {
            mode: TransactionMode::ForWriting,
            max_time,
        })
        .await?;
    let accounts = tx.open_btree::<u32, i64>("accounts").await?;
    let ledger = tx.open_btree::<(u32, u32), Transfer>("ledger").await?;
    let a = accounts.get(&from).await?.unwrap_or(0);
    let b = accounts.get(&to).await?.unwrap_or(0);
    accounts.update(&from, a - amount).await?;
    accounts.update(&to, b + amount).await?;
    ledger.add((worker, seq), (from, to, amount)).await?;
    tx.commit().await
}

/// Retries a transaction while the error is retryable (conflict, lock
/// timeout, Redis unavailable).
async fn with_retries<F, Fut>(mut attempt: F) -> Result<u32, SopError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), SopError>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Ok(()) => return Ok(retries),
            Err(e) if e.is_retryable() => {
                retries += 1;
                if retries > 10_000 {
                    return Err(e);
                }
                tokio::time::sleep(Duration::from_millis(2 + (retries as u64 % 20))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

struct WorkerArgs {
    kind: String,
    dir: String,
    url: String,
    worker: u32,
    count: u32,
}

fn worker_args() -> Option<WorkerArgs> {
    let kind = std::env::var("SOP_CLUSTER_WORKER").ok()?;
    let var = |k: &str| std::env::var(k).expect(k);
    Some(WorkerArgs {
        kind,
        dir: var("SOP_CLUSTER_DIR"),
        url: var("SOP_CLUSTER_URL"),
        worker: var("SOP_CLUSTER_ID").parse().expect("worker id"),
        count: var("SOP_CLUSTER_COUNT").parse().expect("count"),
    })
}

async fn run_worker(args: WorkerArgs) -> Result<(), SopError> {
    let db = Database::open(options(Path::new(&args.dir), &args.url)).await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.worker as u64 * 7919);
    let max_time = if args.kind == "victim" {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(60)
    };
    for seq in 0..args.count {
        if args.kind == "victim" && seq == 5 {
            // The next commit hangs in the WAL fsync, holding the cluster
            // lock, until the driver kills this process.
            faults::inject(FaultRule {
                path_prefix: Path::new(&args.dir).join("wal"),
                op: FaultOp::Sync,
                error: FaultError::Stall { millis: 120_000 },
                remaining: Some(1),
                skip: 0,
            });
            println!("ARMED");
        }
        match args.kind.as_str() {
            "insert" => {
                with_retries(|| insert_batch(&db, args.worker, seq)).await?;
            }
            _ => {
                let from = rng.gen_range(0..ACCOUNTS);
                let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
                let pick = (from, to, rng.gen_range(1..=50));
                with_retries(|| transfer(&db, args.worker, seq, pick, max_time)).await?;
            }
        }
        println!("COMMITTED {} {seq}", args.worker);
    }
    Ok(())
}

async fn insert_batch(db: &Database, worker: u32, seq: u32) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let items = tx
        .new_btree::<u64, String>("items", StoreOptions::with_slot_length(32))
        .await?;
    for i in 0..10u64 {
        let key = worker as u64 * 1_000_000 + seq as u64 * 10 + i;
        items.add(key, format!("w{worker}-{seq}-{i}")).await?;
    }
    tx.commit().await
}

#[test]
fn cluster_worker_entry() {
    // Runs only when re-executed by a driver below.
    let Some(args) = worker_args() else {
        return;
    };
    if let Err(e) = runtime().block_on(run_worker(args)) {
        eprintln!("worker failed: {e}");
        std::process::exit(3);
    }
    std::process::exit(0);
}

fn spawn_worker(kind: &str, dir: &Path, url: &str, worker: u32, count: u32) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "cluster_worker_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SOP_CLUSTER_WORKER", kind)
        .env("SOP_CLUSTER_DIR", dir)
        .env("SOP_CLUSTER_URL", url)
        .env("SOP_CLUSTER_ID", worker.to_string())
        .env("SOP_CLUSTER_COUNT", count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn worker")
}

/// Reads a worker's reports until it exits; returns the committed seqs and
/// whether it exited successfully.
fn collect(child: &mut Child, on_line: impl FnMut(&str)) -> (HashSet<u32>, bool) {
    let mut on_line = on_line;
    let mut committed = HashSet::new();
    let out = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        on_line(&line);
        // The test harness prints "test cluster_worker_entry ... " without a
        // newline before the worker's first line: look anywhere in the line.
        if let Some(rest) = line.split("COMMITTED ").nth(1) {
            if let Some(seq) = rest.split(' ').nth(1).and_then(|s| s.parse().ok()) {
                committed.insert(seq);
            }
        }
    }
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    (committed, ok)
}

/// Balances sum to the opening total, every reported transfer is in the
/// ledger, and replaying the ledger from the opening balances gives exactly
/// the balances stored (no lost update, no partial transfer).
async fn check_bank(db: &Database, reported: &[(u32, HashSet<u32>)]) -> Result<usize, SopError> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let accounts = tx.open_btree::<u32, i64>("accounts").await?;
    let ledger = tx.open_btree::<(u32, u32), Transfer>("ledger").await?;
    let mut expected = vec![OPENING_BALANCE; ACCOUNTS as usize];
    let mut entries = HashSet::new();
    let mut stream = Box::pin(ledger.range(.., Direction::Forward));
    while let Some(item) = stream.next().await {
        let ((w, s), (from, to, amount)) = item?;
        expected[from as usize] -= amount;
        expected[to as usize] += amount;
        entries.insert((w, s));
    }
    drop(stream);
    let mut total = 0;
    for a in 0..ACCOUNTS {
        let balance = accounts.get(&a).await?.expect("account exists");
        assert_eq!(
            balance, expected[a as usize],
            "account {a}: stored vs ledger replay"
        );
        total += balance;
    }
    assert_eq!(total, OPENING_BALANCE * ACCOUNTS as i64, "total balance");
    for (w, seqs) in reported {
        for s in seqs {
            assert!(
                entries.contains(&(*w, *s)),
                "reported transfer {w}/{s} is missing"
            );
        }
    }
    tx.commit().await?;
    Ok(entries.len())
}

/// Creates the bank's accounts in a fresh clustered database at `dir`.
fn setup_accounts(rt: &tokio::runtime::Runtime, dir: &Path, redis_url: &str) {
    rt.block_on(async {
        let db = Database::open(options(dir, redis_url)).await?;
        create_accounts(&db).await?;
        db.close().await
    })
    .expect("setup");
}

#[test]
fn four_processes_bank_transfers_keep_every_transfer_and_the_total() {
    let Some(redis) = redis_or_skip("bank") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    setup_accounts(&rt, dir.path(), &redis.url());
    let started = Instant::now();
    let mut children: Vec<Child> = (0..4)
        .map(|w| spawn_worker("bank", dir.path(), &redis.url(), w, 100))
        .collect();
    let mut reported = Vec::new();
    for (w, c) in children.iter_mut().enumerate() {
        let (seqs, ok) = collect(c, |_| {});
        assert!(ok, "worker {w} failed");
        assert_eq!(seqs.len(), 100, "worker {w} reported every transfer");
        reported.push((w as u32, seqs));
    }
    let elapsed = started.elapsed();
    let entries = rt
        .block_on(async {
            let db = Database::open(options(dir.path(), &redis.url())).await?;
            let n = check_bank(&db, &reported).await?;
            let report = db.verify().await?;
            assert!(report.is_clean(), "verify: {report:?}");
            Ok::<_, SopError>(n)
        })
        .expect("check");
    assert_eq!(
        entries, 400,
        "exactly the committed transfers are in the ledger"
    );
    println!(
        "{{\"test\":\"cluster_bank\",\"processes\":4,\"transfers\":400,\"seconds\":{:.2}}}",
        elapsed.as_secs_f64()
    );
}

#[test]
fn disjoint_inserts_from_four_processes_are_all_there() {
    let Some(redis) = redis_or_skip("inserts") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut children: Vec<Child> = (0..4)
        .map(|w| spawn_worker("insert", dir.path(), &redis.url(), w, 25))
        .collect();
    for (w, c) in children.iter_mut().enumerate() {
        let (seqs, ok) = collect(c, |_| {});
        assert!(ok && seqs.len() == 25, "worker {w}");
    }
    runtime()
        .block_on(async {
            let db = Database::open(options(dir.path(), &redis.url())).await?;
            let tx = db.begin(TransactionMode::ForReading).await?;
            let items = tx.open_btree::<u64, String>("items").await?;
            assert_eq!(items.count().await?, 1000);
            for w in 0..4u64 {
                for k in 0..250u64 {
                    let key = w * 1_000_000 + k;
                    let v = items.get(&key).await?;
                    assert_eq!(v, Some(format!("w{w}-{}-{}", k / 10, k % 10)));
                }
            }
            tx.commit().await
        })
        .expect("check");
}

#[test]
fn a_worker_killed_inside_its_commit_does_not_stop_the_others() {
    let Some(redis) = redis_or_skip("kill") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    setup_accounts(&rt, dir.path(), &redis.url());
    let mut victim = spawn_worker("victim", dir.path(), &redis.url(), 9, 100);
    // Wait until the victim armed its stall, then let it reach the fsync.
    let out = victim.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let mut victim_committed = HashSet::new();
    for line in lines.by_ref() {
        let line = line.expect("victim output");
        if line.ends_with("ARMED") {
            break;
        }
        if let Some(seq) = line.split("COMMITTED 9 ").nth(1) {
            victim_committed.insert(seq.parse::<u32>().expect("seq"));
        }
    }
    let others: Vec<Child> = (0..3)
        .map(|w| spawn_worker("bank", dir.path(), &redis.url(), w, 40))
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY-free: std's kill sends SIGKILL on Unix.
    victim.kill().expect("SIGKILL the victim");
    let _ = victim.wait();
    let killed_at = Instant::now();
    let mut reported = vec![(9, victim_committed)];
    for (w, mut c) in others.into_iter().enumerate() {
        let (seqs, ok) = collect(&mut c, |_| {});
        assert!(ok, "worker {w} failed after the victim died");
        assert_eq!(seqs.len(), 40);
        reported.push((w as u32, seqs));
    }
    let resumed_in = killed_at.elapsed();
    rt.block_on(async {
        let db = Database::open(options(dir.path(), &redis.url())).await?;
        let entries = check_bank(&db, &reported).await?;
        // The victim's stalled transfer may or may not have reached the log
        // (its record was written, not yet fsynced, when it died): either
        // way it is whole.
        assert!(
            (5 + 120..=5 + 121).contains(&entries),
            "ledger entries {entries}"
        );
        let report = db.verify().await?;
        assert!(report.is_clean(), "verify: {report:?}");
        Ok::<_, SopError>(())
    })
    .expect("check");
    println!(
        "{{\"test\":\"cluster_kill\",\"others_finished_after_kill_s\":{:.2}}}",
        resumed_in.as_secs_f64()
    );
}

#[test]
fn work_resumes_after_redis_restarts_empty() {
    let Some(mut redis) = redis_or_skip("restart") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    setup_accounts(&rt, dir.path(), &redis.url());
    let children: Vec<Child> = (0..3)
        .map(|w| spawn_worker("bank", dir.path(), &redis.url(), w, 80))
        .collect();
    let readers: Vec<_> = children
        .into_iter()
        .map(|mut c| std::thread::spawn(move || collect(&mut c, |_| {})))
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    redis.kill();
    std::thread::sleep(Duration::from_millis(700));
    redis.restart().expect("restart redis");
    let mut reported = Vec::new();
    for (w, r) in readers.into_iter().enumerate() {
        let (seqs, ok) = r.join().expect("reader thread");
        assert!(ok, "worker {w} did not resume after the Redis restart");
        assert_eq!(seqs.len(), 80);
        reported.push((w as u32, seqs));
    }
    rt.block_on(async {
        let db = Database::open(options(dir.path(), &redis.url())).await?;
        assert_eq!(check_bank(&db, &reported).await?, 240);
        let report = db.verify().await?;
        assert!(report.is_clean(), "verify: {report:?}");
        Ok::<_, SopError>(())
    })
    .expect("check");
}

/// Two clustered handles on one folder; A has created store `name` with
/// keys `0..n` (values `value(k)`) and committed.
async fn two_handles_with_store(
    dir: &Path,
    url: &str,
    name: &str,
    slot_length: usize,
    n: u32,
    value: impl Fn(u32) -> String,
) -> Result<(Database, Database), SopError> {
    let a = Database::open(options(dir, url)).await?;
    let b = Database::open(options(dir, url)).await?;
    let tx = a.begin(TransactionMode::ForWriting).await?;
    let t = tx
        .new_btree::<u32, String>(name, StoreOptions::with_slot_length(slot_length))
        .await?;
    for k in 0..n {
        t.add(k, value(k)).await?;
    }
    tx.commit().await?;
    Ok((a, b))
}

#[test]
fn two_databases_in_one_process_see_each_others_commits_and_checkpoints() {
    let Some(redis) = redis_or_skip("two handles") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    runtime()
        .block_on(async {
            let (a, b) =
                two_handles_with_store(dir.path(), &redis.url(), "t", 8, 50, |i| format!("a{i}"))
                    .await?;
            // B sees A's store and items at its next transaction.
            let tx = b.begin(TransactionMode::ForWriting).await?;
            let t = tx.open_btree::<u32, String>("t").await?;
            assert_eq!(t.count().await?, 50);
            for i in 50..100 {
                t.add(i, format!("b{i}")).await?;
            }
            tx.commit().await?;
            // A checkpoints (after absorbing B's commit); B reloads after it.
            a.checkpoint().await?;
            let tx = b.begin(TransactionMode::ForReading).await?;
            let t = tx.open_btree::<u32, String>("t").await?;
            assert_eq!(t.count().await?, 100);
            assert_eq!(t.get(&7).await?, Some("a7".into()));
            assert_eq!(t.get(&77).await?, Some("b77".into()));
            tx.commit().await?;
            assert!(
                b.stats().cluster_reloads >= 1,
                "B reloaded after A's checkpoint"
            );
            // Conflicting updates of one item from A and B: exactly one wins.
            let ta = a.begin(TransactionMode::ForWriting).await?;
            let tb = b.begin(TransactionMode::ForWriting).await?;
            let (xa, xb) = (
                ta.open_btree::<u32, String>("t").await?,
                tb.open_btree::<u32, String>("t").await?,
            );
            xa.update(&1, "from a".into()).await?;
            xb.update(&1, "from b".into()).await?;
            let ra = ta.commit().await;
            let rb = tb.commit().await;
            assert!(ra.is_ok(), "first committer wins: {ra:?}");
            assert!(
                matches!(rb, Err(SopError::Conflict { .. })),
                "second conflicts: {rb:?}"
            );
            // A stale reader in B fails at commit.
            let tb = b.begin(TransactionMode::ForReading).await?;
            let xb = tb.open_btree::<u32, String>("t").await?;
            assert_eq!(xb.get(&2).await?, Some("a2".into()));
            let ta = a.begin(TransactionMode::ForWriting).await?;
            ta.open_btree::<u32, String>("t")
                .await?
                .update(&2, "changed".into())
                .await?;
            ta.commit().await?;
            assert!(matches!(tb.commit().await, Err(SopError::Conflict { .. })));
            // A store B removes disappears for A.
            assert!(b.remove_btree("t").await?);
            let ta = a.begin(TransactionMode::ForReading).await?;
            assert!(matches!(
                ta.open_btree::<u32, String>("t").await,
                Err(SopError::StoreNotFound(_))
            ));
            Ok::<_, SopError>(())
        })
        .expect("two handles");
}

#[test]
fn unreachable_redis_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let url = format!("redis://127.0.0.1:{port}/");
    let err = runtime()
        .block_on(Database::open(options(dir.path(), &url)))
        .err()
        .expect("open must fail without Redis");
    match &err {
        SopError::Redis { url: u, .. } => assert_eq!(u, &url),
        other => panic!("expected a Redis error, got {other}"),
    }
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn a_torn_record_left_by_a_dead_process_is_cut_by_the_next_committer() {
    let Some(redis) = redis_or_skip("torn tail") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    runtime()
        .block_on(async {
            let a = Database::open(options(dir.path(), &redis.url())).await?;
            let tx = a.begin(TransactionMode::ForWriting).await?;
            let t = tx
                .new_btree::<u32, String>("t", StoreOptions::with_slot_length(8))
                .await?;
            t.add(1, "one".into()).await?;
            tx.commit().await?;
            // A dead process's half-written record: a frame header and a few
            // payload bytes, no valid CRC.
            let wal = dir.path().join("wal/wal.log");
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&wal)
                .expect("wal");
            std::io::Write::write_all(
                &mut f,
                b"SOPB\x01\x00\x03\x00\x00\x00\x00\x00\x40\x00\x00\x00torn",
            )
            .expect("write torn tail");
            drop(f);
            let torn_len = std::fs::metadata(&wal).expect("len").len();
            // Another process (a second handle) reads past nothing torn and
            // commits: its commit section cuts the tail first.
            let b = Database::open(options(dir.path(), &redis.url())).await?;
            let tx = b.begin(TransactionMode::ForWriting).await?;
            let t = tx.open_btree::<u32, String>("t").await?;
            t.add(2, "two".into()).await?;
            tx.commit().await?;
            assert!(std::fs::metadata(&wal).expect("len").len() != torn_len);
            // Both see both items; a fresh open replays a clean log.
            for db in [&a, &b] {
                let tx = db.begin(TransactionMode::ForReading).await?;
                let t = tx.open_btree::<u32, String>("t").await?;
                assert_eq!(t.count().await?, 2);
                tx.commit().await?;
            }
            drop((a, b));
            let c = Database::open(options(dir.path(), &redis.url())).await?;
            let tx = c.begin(TransactionMode::ForReading).await?;
            let t = tx.open_btree::<u32, String>("t").await?;
            assert_eq!(t.get(&2).await?, Some("two".into()));
            tx.commit().await?;
            assert!(c.verify().await?.is_clean());
            Ok::<_, SopError>(())
        })
        .expect("torn tail");
}

#[test]
fn node_blobs_are_shared_through_the_redis_l2_cache() {
    let Some(redis) = redis_or_skip("l2") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = runtime()
        .block_on(async {
            let a = Database::open(options(dir.path(), &redis.url())).await?;
            let tx = a.begin(TransactionMode::ForWriting).await?;
            let t = tx
                .new_btree::<u32, u32>("t", StoreOptions::with_slot_length(8))
                .await?;
            for i in 0..200 {
                t.add(i, i * 2).await?;
            }
            tx.commit().await?;
            a.checkpoint().await?;
            // A new process has a cold L1: its node reads go through Redis.
            let b = Database::open(options(dir.path(), &redis.url())).await?;
            let tx = b.begin(TransactionMode::ForReading).await?;
            let t = tx.open_btree::<u32, u32>("t").await?;
            for i in 0..200 {
                assert_eq!(t.get(&i).await?, Some(i * 2));
            }
            tx.commit().await?;
            let client = redis::Client::open(redis.url()).expect("client");
            let mut con = client
                .get_multiplexed_async_connection()
                .await
                .expect("connection");
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg("sop:*:l2:blob:*")
                .query_async(&mut con)
                .await
                .expect("KEYS");
            Ok::<_, SopError>(keys)
        })
        .expect("l2");
    assert!(
        keys.len() >= 10,
        "node blobs cached in Redis: {}",
        keys.len()
    );
}

#[test]
fn packs_superseded_by_another_process_wait_for_the_shared_grace_period() {
    let Some(redis) = redis_or_skip("pack grace") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let value = |k: u32, round: u32| format!("value {k} of round {round}");
    runtime()
        .block_on(async {
            let (a, b) =
                two_handles_with_store(dir.path(), &redis.url(), "p", 16, 2000, |k| value(k, 0))
                    .await?;
            a.checkpoint().await?;
            let first = common::files_with_ext(dir.path(), "pack");
            assert_eq!(first.len(), 1, "{first:?}");
            // B reloads after A's checkpoint and reads A's pack; its reader
            // keeps that snapshot open.
            let reader = b.begin(TransactionMode::NoCheck).await?;
            let old = reader.open_btree::<u32, String>("p").await?;
            assert_eq!(old.get(&5).await?, Some(value(5, 0)));
            // A rewrites most leaves (checkpoint 2), which leaves the first
            // pack mostly dead, so checkpoint 3 moves its survivors away: no
            // current reference into it is left in the registry.
            let tx = a.begin(TransactionMode::ForWriting).await?;
            let t = tx.open_btree::<u32, String>("p").await?;
            for k in 0..1900 {
                assert!(t.update(&k, value(k, 1)).await?);
            }
            tx.commit().await?;
            a.checkpoint().await?;
            a.checkpoint().await?;
            // A later checkpoint deletes whatever deferred garbage is due.
            a.checkpoint().await?;
            let packs = common::files_with_ext(dir.path(), "pack");
            assert_eq!(packs.len(), 3, "first, rewritten leaves, moved nodes");
            // Clustered, superseded references wait SHARED_BLOB_GRACE: the
            // first pack stays while B's old snapshot may read it.
            assert!(first[0].exists(), "superseded pack deleted at once");
            for k in (0..2000).step_by(37) {
                assert_eq!(
                    old.get(&k).await?,
                    Some(value(k, 0)),
                    "old snapshot key {k}"
                );
            }
            reader.commit().await?;
            // B's next transaction reloads and reads the packs A wrote.
            let tx = b.begin(TransactionMode::ForReading).await?;
            let t = tx.open_btree::<u32, String>("p").await?;
            for k in 0..2000 {
                let round = u32::from(k < 1900);
                assert_eq!(t.get(&k).await?, Some(value(k, round)), "key {k}");
            }
            tx.commit().await?;
            let report = b.verify().await?;
            assert!(report.problems.is_empty(), "{:?}", report.problems);
            Ok::<_, SopError>(())
        })
        .expect("pack grace");
}
