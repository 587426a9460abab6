//! Verifies a whole database — both copies of every registry block (on every
//! live metadata side), every node blob, every value blob and every erasure
//! shard — and with `--repair` repairs what can be repaired.
//!
//! ```text
//! cargo run --release -p sop-core --example sop_verify -- --db DIR [--repair]
//!     [--replica DIR] [--blobs DIR] [--ec-config FILE.json]
//! ```
//!
//! `--replica` is the second stores folder of replicated metadata, `--blobs`
//! the blobs folder, `--ec-config` an `ErasureConfig` as JSON
//! (`{"data_shards":4,"parity_shards":2,"folders":[...]}`). Prints a summary,
//! then the report as one JSON line. Exit code: 0 when every piece of data
//! reads back intact, 1 when something is lost, 2 on a usage or open error.

use std::path::PathBuf;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use sop_core::storage::erasure::ErasureConfig;
use sop_core::{Database, DatabaseOptions, VerifyOptions, VerifyPhase};

struct Args {
    db: PathBuf,
    replica: Option<PathBuf>,
    blobs: Option<PathBuf>,
    ec_config: Option<PathBuf>,
    repair: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: sop_verify --db DIR [--repair] [--replica DIR] [--blobs DIR] [--ec-config FILE.json]"
    );
    std::process::exit(2)
}

fn parse() -> Args {
    let mut args = Args {
        db: PathBuf::new(),
        replica: None,
        blobs: None,
        ec_config: None,
        repair: false,
    };
    let mut it = std::env::args().skip(1);
    let mut db = None;
    while let Some(a) = it.next() {
        let mut value = || it.next().map(PathBuf::from).unwrap_or_else(|| usage());
        match a.as_str() {
            "--db" => db = Some(value()),
            "--replica" => args.replica = Some(value()),
            "--blobs" => args.blobs = Some(value()),
            "--ec-config" => args.ec_config = Some(value()),
            "--repair" => args.repair = true,
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other}");
                usage()
            }
        }
    }
    args.db = db.unwrap_or_else(|| usage());
    args
}

#[tokio::main]
async fn main() {
    let args = parse();
    let mut options = DatabaseOptions::new(&args.db);
    if let Some(r) = &args.replica {
        options.stores_folders.push(r.clone());
    }
    options.blobs_folder = args.blobs.clone();
    if let Some(path) = &args.ec_config {
        let config: ErasureConfig = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .unwrap_or_else(|e| {
                eprintln!("cannot read erasure config {}: {e}", path.display());
                std::process::exit(2)
            });
        options.erasure = Some(config);
    }
    let db = match Database::open(options).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("cannot open {}: {e}", args.db.display());
            std::process::exit(2)
        }
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let pb = bar.clone();
    let progress = Arc::new(move |phase: VerifyPhase, done: u64, total: u64| {
        let name = match phase {
            VerifyPhase::Registry => "registry",
            VerifyPhase::Nodes => "nodes",
            VerifyPhase::Values => "values",
        };
        if pb.message() != name {
            pb.set_message(name);
        }
        pb.set_length(total);
        pb.set_position(done);
    });
    let report = db
        .verify_with(VerifyOptions {
            repair: args.repair,
            progress: Some(progress),
        })
        .await;
    bar.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("verification failed: {e}");
            std::process::exit(2)
        }
    };
    if let Some(st) = db.replication_status() {
        println!(
            "replication: active {} (epoch {}), passive {}{}",
            st.active.display(),
            st.epoch,
            st.passive.display(),
            if st.passive_stale { " STALE" } else { "" }
        );
    }
    println!(
        "registry: {} side(s), {} block copies checked, {} damaged, {} repaired (+{} repaired at open)",
        report.sides_checked,
        report.registry_blocks_checked,
        report.registry_blocks_damaged,
        report.registry_blocks_repaired,
        report.registry_blocks_repaired_at_open
    );
    println!(
        "blobs:    {} nodes ({} damaged), {} values ({} damaged)",
        report.nodes_checked, report.nodes_damaged, report.values_checked, report.values_damaged
    );
    if report.shards_checked > 0 {
        println!(
            "shards:   {} checked, {} damaged, {} repaired",
            report.shards_checked, report.shards_damaged, report.shards_repaired
        );
    }
    for r in &report.repaired {
        println!("repaired: {r}");
    }
    for w in &report.warnings {
        println!("warning:  {w}");
    }
    for p in &report.problems {
        println!("PROBLEM:  {p}");
    }
    println!(
        "result:   {}",
        if report.is_pristine() {
            "clean"
        } else if report.is_clean() {
            "data intact (see warnings)"
        } else {
            "DATA LOST (see problems)"
        }
    );
    println!(
        "{}",
        serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    );
    let lost = !report.is_clean();
    if let Err(e) = db.close().await {
        eprintln!("close failed: {e}");
    }
    std::process::exit(i32::from(lost));
}
