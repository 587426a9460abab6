//! I/O fault injection at every point of a commit, a checkpoint and a
//! recovery (open), checked against a reference model.
//!
//! For each fault kind (write `EIO`, write `ENOSPC`, fsync `EIO`, read `EIO`,
//! read returning a flipped bit) and each phase, a countdown rule
//! ([`FaultRule::nth`]) fails the matching I/O operation number 0, 1, 2, …
//! until the phase runs out of such operations. Every run must end in a clean
//! rollback (the operation fails and nothing of it is visible) or succeed with
//! exactly the expected content — never silent damage: after the fault the
//! same process reads the model, and so does a fresh open, whose `verify`
//! must find every CRC intact. The database must also stay usable: after a
//! failed checkpoint the same process commits and checkpoints again.
//!
//! Prints one JSON line with the faults injected per kind and the outcomes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use sop_core::storage::faults::{self, FaultError, FaultOp, FaultRule};
use sop_core::{
    Database, DatabaseOptions, Direction, SopError, StoreOptions, TransactionMode, ValuePlacement,
};

type Model = BTreeMap<u64, String>;

/// Points tried per (kind, phase) at most: a backstop, the loops end when a
/// rule no longer fires.
const MAX_POINTS: u64 = 400;

const KINDS: [(&str, FaultOp, FaultError); 5] = [
    ("write_eio", FaultOp::Write, FaultError::Eio),
    ("write_enospc", FaultOp::Write, FaultError::Enospc),
    ("fsync_eio", FaultOp::Sync, FaultError::Eio),
    ("read_eio", FaultOp::Read, FaultError::Eio),
    ("read_corrupt", FaultOp::Read, FaultError::Corrupt),
];

fn options(dir: &Path) -> DatabaseOptions {
    let mut o = DatabaseOptions::new(dir);
    o.checkpoint_wal_bytes = 1 << 30; // checkpoints only when the test asks
    o.l1_cache_nodes = 64;
    o
}

/// Keys live in two stores: small values inline (`small`) and medium values
/// in their own blobs (`blobs`), so commits write and fsync value blobs too.
async fn write(db: &Database, changes: &[(u64, Option<String>)]) -> Result<(), SopError> {
    let tx = db.begin(TransactionMode::ForWriting).await?;
    let small = tx
        .new_btree::<u64, String>("small", StoreOptions::with_slot_length(8))
        .await?;
    let blobs = tx
        .new_btree::<u64, String>(
            "blobs",
            StoreOptions::with_slot_length(8).placement(ValuePlacement::Medium),
        )
        .await?;
    for (k, v) in changes {
        let store = if k % 2 == 0 { &small } else { &blobs };
        match v {
            Some(v) => store.upsert(*k, v.clone()).await?,
            None => {
                store.remove(k).await?;
            }
        }
    }
    tx.commit().await
}

async fn read_all(db: &Database) -> Result<Model, SopError> {
    let tx = db.begin(TransactionMode::ForReading).await?;
    let mut out = Model::new();
    for name in ["small", "blobs"] {
        let store = match tx.open_btree::<u64, String>(name).await {
            Ok(s) => s,
            Err(SopError::StoreNotFound(_)) => return Ok(out),
            Err(e) => return Err(e),
        };
        let mut rows = std::pin::pin!(store.range(.., Direction::Forward));
        while let Some(r) = rows.next().await {
            let (k, v) = r?;
            out.insert(k, v);
        }
        assert_eq!(store.count().await?, store_len(&out, name == "blobs"));
    }
    tx.commit().await?;
    Ok(out)
}

fn store_len(model: &Model, odd: bool) -> u64 {
    model.keys().filter(|k| (*k % 2 == 1) == odd).count() as u64
}

fn apply(model: &mut Model, changes: &[(u64, Option<String>)]) {
    for (k, v) in changes {
        match v {
            Some(v) => model.insert(*k, v.clone()),
            None => model.remove(k),
        };
    }
}

/// A change set touching keys across many leaves (inserts, updates, removes).
fn changes(round: u64) -> Vec<(u64, Option<String>)> {
    (0..24u64)
        .map(|i| {
            let k = (i * 7 + round * 3) % 120;
            let v = (i % 5 != 4)
                .then(|| format!("r{round}-k{k}-{}", "x".repeat((i % 3) as usize * 40)));
            (k, v)
        })
        .collect()
}

/// A scratch folder on tmpfs when there is one: the faults are injected, so
/// real fsync latency only slows the walk down.
fn scratch() -> Result<tempfile::TempDir, SopError> {
    let shm = Path::new("/dev/shm");
    let made = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    made.map_err(|e| SopError::io("tempdir", e))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The database every run starts from, as a crash would leave it: round 0
/// checkpointed (nodes and values in blobs), rounds 1 and 2 in the WAL, a
/// checkpoint of round 2 cut off after its journal became durable, then
/// round 3 in the WAL only (so an open replays the journal, then the WAL).
async fn seed(dir: &Path) -> Result<Model, SopError> {
    let db = Database::open(options(dir)).await?;
    let mut model = Model::new();
    for round in 0..3 {
        let c = changes(round);
        write(&db, &c).await?;
        apply(&mut model, &c);
        if round == 0 {
            db.checkpoint().await?;
        }
    }
    let cut = faults::inject(FaultRule::eio(dir.join("registry"), FaultOp::Write));
    let result = db.checkpoint().await;
    faults::remove(cut);
    assert!(result.is_err(), "the seed's checkpoint must be cut off");
    assert!(
        dir.join("checkpoint.journal").exists(),
        "journal left behind"
    );
    let c = changes(3);
    write(&db, &c).await?;
    apply(&mut model, &c);
    drop(db);
    Ok(model)
}

#[derive(Default)]
struct Tally {
    injected: BTreeMap<&'static str, AtomicU64>,
    outcomes: BTreeMap<&'static str, AtomicU64>,
}

impl Tally {
    fn new() -> Self {
        let mut t = Tally::default();
        for (k, _, _) in KINDS {
            t.injected.insert(k, AtomicU64::new(0));
        }
        for o in [
            "failed_clean",
            "succeeded_exact",
            "open_failed_detected",
            "repaired_at_open",
        ] {
            t.outcomes.insert(o, AtomicU64::new(0));
        }
        t
    }
    fn add(map: &BTreeMap<&'static str, AtomicU64>, key: &str, n: u64) {
        if let Some(c) = map.get(key) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
    fn json(&self) -> String {
        let f = |m: &BTreeMap<&'static str, AtomicU64>| {
            m.iter()
                .map(|(k, v)| format!("\"{k}\":{}", v.load(Ordering::Relaxed)))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{{\"injected\":{{{}}},\"outcomes\":{{{}}}}}",
            f(&self.injected),
            f(&self.outcomes)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Commit,
    Checkpoint,
    Open,
}

/// Fresh open without faults: exactly the model, every CRC intact, and the
/// database still takes a commit and a checkpoint.
async fn check_reopen(dir: &Path, model: &Model, what: &str) -> Result<(), SopError> {
    let db = Database::open(options(dir)).await?;
    assert_eq!(&read_all(&db).await?, model, "{what}: content after reopen");
    let report = db.verify().await?;
    assert!(
        report.is_clean(),
        "{what}: verify found {:?}",
        report.problems
    );
    let mut after = model.clone();
    let c = changes(99);
    write(&db, &c).await?;
    apply(&mut after, &c);
    db.checkpoint().await?;
    assert_eq!(
        &read_all(&db).await?,
        &after,
        "{what}: commit after the fault"
    );
    db.close().await
}

/// One run: fault point `skip` of `kind` in `phase`. Returns whether the rule
/// fired (false = the phase has fewer such operations: the loop is done).
async fn run_point(
    phase: Phase,
    kind: (&'static str, FaultOp, FaultError),
    skip: u64,
    start: &(tempfile::TempDir, Model),
    tally: &Tally,
) -> Result<bool, SopError> {
    let tmp = scratch()?;
    let dir = tmp.path();
    copy_dir(start.0.path(), dir).map_err(|e| SopError::io(dir, e))?;
    let mut model = start.1.clone();
    let what = format!("{phase:?} {} point {skip}", kind.0);
    let rule = |d: &Path| FaultRule::nth(d, kind.1, kind.2, skip);
    let fired = match phase {
        Phase::Commit => {
            let db = Database::open(options(dir)).await?;
            let id = faults::inject(rule(dir));
            let c = changes(7);
            let result = write(&db, &c).await;
            let fired = faults::fired(id);
            faults::remove(id);
            match &result {
                Ok(()) => {
                    apply(&mut model, &c);
                    Tally::add(&tally.outcomes, "succeeded_exact", 1);
                }
                Err(_) => Tally::add(&tally.outcomes, "failed_clean", 1),
            }
            // The same process sees exactly the model (or refuses clearly).
            if let Ok(seen) = read_all(&db).await {
                assert_eq!(seen, model, "{what}: in-process content ({result:?})");
            }
            let _ = db.close().await;
            fired
        }
        Phase::Checkpoint => {
            let db = Database::open(options(dir)).await?;
            let c = changes(7);
            write(&db, &c).await?;
            apply(&mut model, &c);
            let id = faults::inject(rule(dir));
            let result = db.checkpoint().await;
            let fired = faults::fired(id);
            faults::remove(id);
            Tally::add(
                &tally.outcomes,
                if result.is_ok() {
                    "succeeded_exact"
                } else {
                    "failed_clean"
                },
                1,
            );
            if let Ok(seen) = read_all(&db).await {
                assert_eq!(seen, model, "{what}: in-process content ({result:?})");
            }
            // A failed checkpoint leaves the database usable in-process when
            // the WAL is intact: commit and checkpoint again.
            let c = changes(8);
            if write(&db, &c).await.is_ok() {
                apply(&mut model, &c);
                if db.checkpoint().await.is_ok() {
                    assert_eq!(
                        read_all(&db).await?,
                        model,
                        "{what}: after a retried checkpoint"
                    );
                }
            }
            let _ = db.close().await;
            fired
        }
        Phase::Open => {
            let id = faults::inject(rule(dir));
            let opened = Database::open(options(dir)).await;
            let mut fired = faults::fired(id);
            match opened {
                Ok(db) => {
                    // Reads of the faulted open's first transaction count too.
                    let seen = read_all(&db).await;
                    fired = faults::fired(id);
                    faults::remove(id);
                    if let Ok(seen) = seen {
                        assert_eq!(seen, model, "{what}: content of the faulted open");
                        Tally::add(&tally.outcomes, "succeeded_exact", 1);
                    } else {
                        Tally::add(&tally.outcomes, "failed_clean", 1);
                    }
                    if db.stats().repaired_blocks > 0 {
                        Tally::add(&tally.outcomes, "repaired_at_open", 1);
                    }
                    let _ = db.close().await;
                }
                Err(e) => {
                    faults::remove(id);
                    let detected = matches!(e, SopError::Io { .. }) || e.is_corruption();
                    assert!(detected, "{what}: open failed with an unclear error: {e}");
                    Tally::add(&tally.outcomes, "open_failed_detected", 1);
                }
            }
            fired
        }
    };
    if fired > 0 {
        Tally::add(&tally.injected, kind.0, fired);
    }
    check_reopen(dir, &model, &what).await?;
    Ok(fired > 0)
}

async fn walk_phase(phase: Phase) -> Result<(), SopError> {
    let tally = Tally::new();
    let start = scratch()?;
    let model = seed(start.path()).await?;
    let start = (start, model);
    let mut points = 0;
    for kind in KINDS {
        let mut skip = 0;
        while run_point(phase, kind, skip, &start, &tally).await? {
            skip += 1;
            assert!(skip < MAX_POINTS, "{phase:?} {}: too many points", kind.0);
        }
        let expected = match phase {
            Phase::Open => kind.1 == FaultOp::Read,
            Phase::Commit | Phase::Checkpoint => kind.1 != FaultOp::Read,
        };
        assert!(
            skip > 0 || !expected,
            "{phase:?} {}: no I/O point was hit",
            kind.0
        );
        points += skip;
    }
    println!(
        "{{\"test\":\"fault_injection\",\"phase\":\"{phase:?}\",\"points\":{points},\"tally\":{}}}",
        tally.json()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_during_commit_roll_back_cleanly() -> Result<(), SopError> {
    walk_phase(Phase::Commit).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_during_checkpoint_lose_nothing() -> Result<(), SopError> {
    walk_phase(Phase::Checkpoint).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_during_recovery_are_detected() -> Result<(), SopError> {
    walk_phase(Phase::Open).await
}
