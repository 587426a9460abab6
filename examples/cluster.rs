//! Clustered mode, end to end: N worker processes move money between
//! accounts of one database (one folder, one Redis) and the driver audits
//! the result. Prints one JSON line per run, clustered with 1, 2, 4
//! processes and standalone with as many tasks in one process:
//!
//! ```text
//! cargo run --release --example cluster -- [--processes 1,2,4] [--seconds 4]
//!     [--tasks 2] [--accounts 1000] [--redis redis://127.0.0.1:6379/]
//! ```
//!
//! Without `--redis` a private `redis-server` is started on a free loopback
//! port (it must be installed). Each worker runs `--tasks` concurrent
//! transfer loops for `--seconds`, retrying conflicts; `tx_per_s` counts
//! committed transfers. The audit replays the ledger over the opening
//! balances: `consistent` is true when every balance matches and the total
//! is intact.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use sop_core::cluster::LocalRedis;
use sop_core::{Database, DatabaseOptions, Mode};
use sop_examples::bank::Bank;

type Error = Box<dyn std::error::Error>;

struct Args {
    processes: Vec<u32>,
    seconds: f64,
    tasks: u32,
    accounts: u32,
    redis: Option<String>,
    worker: Option<(PathBuf, String, u32)>,
}

fn parse_args() -> Result<Args, Error> {
    let mut args = Args {
        processes: vec![1, 2, 4],
        seconds: 4.0,
        tasks: 2,
        accounts: 1000,
        redis: None,
        worker: None,
    };
    let mut it = std::env::args().skip(1);
    let mut dir = None;
    let mut url = None;
    let mut id = None;
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--processes" => {
                args.processes = value()?
                    .split(',')
                    .map(|n| n.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => args.seconds = value()?.parse()?,
            "--tasks" => args.tasks = value()?.parse()?,
            "--accounts" => args.accounts = value()?.parse()?,
            "--redis" => args.redis = Some(value()?),
            "--worker-dir" => dir = Some(PathBuf::from(value()?)),
            "--worker-url" => url = Some(value()?),
            "--worker-id" => id = Some(value()?.parse()?),
            "--help" | "-h" => {
                println!("usage: cluster [--processes 1,2,4] [--seconds S] [--tasks T] [--accounts N] [--redis URL]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if args.accounts < 2 || args.tasks == 0 || args.processes.contains(&0) {
        return Err("--accounts must be >= 2, --tasks and --processes >= 1".into());
    }
    if let (Some(d), Some(u), Some(i)) = (dir, url, id) {
        args.worker = Some((d, u, i));
    }
    Ok(args)
}

fn options(dir: &Path, redis: Option<&str>) -> DatabaseOptions {
    let mut o = DatabaseOptions::new(dir);
    if let Some(url) = redis {
        o.mode = Mode::Clustered {
            redis_url: url.to_string(),
        };
    }
    o
}

/// Runs `tasks` transfer loops until `seconds` pass; returns (commits, retries).
async fn transfer_for(
    db: &Database,
    bank: Bank,
    worker: u32,
    tasks: u32,
    seconds: f64,
) -> Result<(u64, u64), Error> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let commits = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (db, commits, retries) = (db.clone(), commits.clone(), retries.clone());
        handles.push(tokio::spawn(async move {
            let me = worker * 1000 + task;
            let mut rng = rand::rngs::StdRng::seed_from_u64(me as u64);
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let pick = bank.pick(&mut rng);
                match bank.transfer(&db, (me, seq), pick).await {
                    Ok(()) => {
                        commits.fetch_add(1, Ordering::Relaxed);
                        seq += 1;
                    }
                    Err(e) if e.is_retryable() => {
                        retries.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok((
        commits.load(Ordering::Relaxed),
        retries.load(Ordering::Relaxed),
    ))
}

async fn worker_main(args: &Args, dir: &Path, url: &str, id: u32) -> Result<(), Error> {
    let db = Database::open(options(dir, Some(url))).await?;
    let bank = Bank {
        accounts: args.accounts,
        opening: 1_000,
    };
    let (commits, retries) = transfer_for(&db, bank, id, args.tasks, args.seconds).await?;
    println!("RESULT {commits} {retries}");
    Ok(())
}

/// One clustered run with `processes` worker processes.
async fn clustered_run(args: &Args, url: &str, processes: u32) -> Result<(), Error> {
    let dir = tempfile_dir("cluster")?;
    let bank = Bank {
        accounts: args.accounts,
        opening: 1_000,
    };
    let db = Database::open(options(&dir, Some(url))).await?;
    bank.open_accounts(&db).await?;
    let started = Instant::now();
    let exe = std::env::current_exe()?;
    let children: Vec<_> = (0..processes)
        .map(|id| {
            Command::new(&exe)
                .args(["--worker-dir", &dir.to_string_lossy(), "--worker-url", url])
                .args(["--worker-id", &id.to_string()])
                .args(["--seconds", &args.seconds.to_string()])
                .args(["--tasks", &args.tasks.to_string()])
                .args(["--accounts", &args.accounts.to_string()])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let (mut commits, mut retries) = (0u64, 0u64);
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("a worker failed: {}", out.status).into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let result = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .ok_or("a worker printed no RESULT")?;
        let mut parts = result.split(' ').map(str::parse::<u64>);
        commits += parts.next().ok_or("commits")??;
        retries += parts.next().ok_or("retries")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let audit = bank.audit(&db).await?;
    println!(
        "{{\"mode\":\"clustered\",\"processes\":{processes},\"tasks_per_process\":{},\"seconds\":{elapsed:.2},\"commits\":{commits},\"tx_per_s\":{:.0},\"retries\":{retries},\"transfers_in_ledger\":{},\"consistent\":{}}}",
        args.tasks,
        commits as f64 / args.seconds,
        audit.transfers,
        audit.consistent && audit.transfers == commits
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One standalone run: `tasks` transfer loops in this process.
async fn standalone_run(args: &Args, tasks: u32) -> Result<(), Error> {
    let dir = tempfile_dir("standalone")?;
    let bank = Bank {
        accounts: args.accounts,
        opening: 1_000,
    };
    let db = Database::open(options(&dir, None)).await?;
    bank.open_accounts(&db).await?;
    let (commits, retries) = transfer_for(&db, bank, 0, tasks, args.seconds).await?;
    let audit = bank.audit(&db).await?;
    println!(
        "{{\"mode\":\"standalone\",\"processes\":1,\"tasks_per_process\":{tasks},\"commits\":{commits},\"tx_per_s\":{:.0},\"retries\":{retries},\"transfers_in_ledger\":{},\"consistent\":{}}}",
        commits as f64 / args.seconds,
        audit.transfers,
        audit.consistent && audit.transfers == commits
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir(kind: &str) -> Result<PathBuf, Error> {
    let dir =
        std::env::temp_dir().join(format!("sop-cluster-example-{kind}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn driver(args: &Args) -> Result<(), Error> {
    let local;
    let url = match &args.redis {
        Some(u) => u.clone(),
        None => {
            local = LocalRedis::start()?;
            eprintln!("started a private redis-server at {}", local.url());
            local.url()
        }
    };
    for &n in &args.processes {
        eprintln!(
            "clustered: {n} process(es) x {} task(s) for {} s ...",
            args.tasks, args.seconds
        );
        clustered_run(args, &url, n).await?;
    }
    for &n in &args.processes {
        let tasks = n * args.tasks;
        eprintln!(
            "standalone: 1 process x {tasks} task(s) for {} s ...",
            args.seconds
        );
        standalone_run(args, tasks).await?;
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match &args.worker {
        Some((dir, url, id)) => rt.block_on(worker_main(&args, dir, url, *id)),
        None => rt.block_on(driver(&args)),
    }
}
