//! Crash safety across every store kind with real processes: a child runs
//! transactions that each touch B-tree items, vector upserts and deletes,
//! search documents and model versions (one transaction for all), with
//! frequent checkpoints and some rolled-back transactions in between, and
//! prints `COMMITTED n` after each commit returns. The driver SIGKILLs it at
//! random moments (also during its recovery), then reopens the database and
//! checks the model of what was committed: every reported transaction
//! present, none partial, the vector and text indexes in agreement with
//! their content stores, and every CRC intact (`Database::verify`).
//!
//! The child is this test binary re-executed with `SOP_CRASH_ALL_CHILD` set.
//! Kills: 100 by default, `SOP_CRASH_KILLS=<n>` or `SOP_CRASH_LONG=1` (2,000)
//! for more. Prints one JSON line with the counts.

mod crash_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crash_support::check::{check, last_committed};
use crash_support::workload::{Expected, Plan, Rng};
use sop_core::{Database, DatabaseOptions, TransactionMode};

type Error = Box<dyn std::error::Error>;

const CHILD_ENV: &str = "SOP_CRASH_ALL_CHILD";
/// libtest arguments that run only the child entry, printing as it goes.
const CHILD_ARGS: [&str; 4] = [
    "--exact",
    "crash_child_entry",
    "--nocapture",
    "--test-threads=1",
];
/// Every this many transactions, a different plan is run and rolled back first.
const ROLLBACK_EVERY: u64 = 5;

fn options(dir: &str) -> DatabaseOptions {
    let mut o = DatabaseOptions::new(dir);
    o.checkpoint_wal_bytes = 48 * 1024; // checkpoint every few transactions
    o
}

async fn child(dir: String) -> Result<(), Error> {
    let db = Database::open(options(&dir)).await?;
    println!("OPEN");
    let mut n = last_committed(&db).await? + 1;
    loop {
        if n % ROLLBACK_EVERY == 0 {
            let tx = db.begin(TransactionMode::ForWriting).await?;
            Plan::of(n + 1_000_000).run(&tx).await?;
            tx.rollback().await?;
        }
        let tx = db.begin(TransactionMode::ForWriting).await?;
        Plan::of(n).run(&tx).await?;
        tx.commit().await?;
        println!("COMMITTED {n}");
        n += 1;
    }
}

/// Runs only when re-executed by the driver below.
#[test]
fn crash_child_entry() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let ran = tokio::runtime::Runtime::new()
            .map_err(Error::from)
            .and_then(|rt| rt.block_on(child(dir)));
        if let Err(e) = ran {
            eprintln!("child failed: {e}");
            std::process::exit(3);
        }
    }
}

fn kills_wanted() -> u32 {
    if let Some(n) = std::env::var("SOP_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::var("SOP_CRASH_LONG").is_ok_and(|v| v != "0") {
        2_000
    } else {
        100
    }
}

/// What the child printed before it was killed.
#[derive(Default)]
struct Heard {
    opened: bool,
    reported: Option<u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_mixed_transactions_loses_nothing() -> Result<(), Error> {
    if std::env::var(CHILD_ENV).is_ok() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let dir_s = dir.path().to_string_lossy().to_string();
    let exe = std::env::current_exe()?;
    let kills = kills_wanted();
    let mut rng = Rng::new(0x5EED);
    let mut expected = Expected::default();
    let (mut reported_total, mut killed_in_recovery, mut records, mut queries) =
        (0u64, 0u32, 0u64, 0u64);
    let mut durable_unreported = 0u32;
    let started = Instant::now();
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, &dir_s)
            .args(CHILD_ARGS)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let reader = std::thread::spawn(move || {
            let mut heard = Heard::default();
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                // libtest prints the test's name on the same line first.
                if line.ends_with("OPEN") {
                    heard.opened = true;
                } else if let Some(n) = line.strip_prefix("COMMITTED ") {
                    heard.reported = n.trim().parse().ok().or(heard.reported);
                }
            }
            heard
        });
        // Mostly mid-workload; one round in eight lands early, in recovery.
        let run_for = if rng.below(8) == 0 {
            Duration::from_millis(1 + rng.below(25))
        } else {
            Duration::from_millis(150 + rng.below(450))
        };
        let t0 = Instant::now();
        while t0.elapsed() < run_for {
            if let Some(status) = child.try_wait()? {
                return Err(format!("child exited early in round {round}: {status}").into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill()?; // SIGKILL on Unix
        child.wait()?;
        let heard = reader.join().map_err(|_| "reader thread panicked")?;
        if !heard.opened {
            killed_in_recovery += 1;
        }
        let db = Database::open(options(&dir_s)).await?;
        let last = last_committed(&db).await?;
        if let Some(reported) = heard.reported {
            assert!(
                last >= reported,
                "round {round}: transaction {reported} was reported committed, the database stops at {last}"
            );
            assert!(
                last <= reported + 1,
                "round {round}: {last} committed, {reported} reported"
            );
            // Killed after the commit point, before `commit` returned or the line was printed.
            durable_unreported += u32::from(last == reported + 1);
        }
        assert!(
            last >= expected.last,
            "round {round}: committed transactions went missing"
        );
        reported_total += heard
            .reported
            .map_or(0, |r| r.saturating_sub(expected.last));
        expected.advance_to(last);
        let seen = check(&db, &expected).await?;
        records += seen.records;
        queries += seen.queries;
        let report = db.verify().await?;
        assert!(
            report.is_clean(),
            "round {round}: CRC problems: {:?}",
            report.problems
        );
        drop(db);
    }
    assert!(expected.last > 0, "the child made progress");
    println!(
        "{{\"test\":\"crash_all_stores\",\"kills\":{kills},\"killed_before_open_finished\":{killed_in_recovery},\
         \"transactions_committed\":{},\"transactions_reported\":{reported_total},\
         \"durable_before_reported\":{durable_unreported},\"records_compared\":{records},\
         \"queries_checked\":{queries},\"lost\":0,\"partial\":0,\"seconds\":{:.1}}}",
        expected.last,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
