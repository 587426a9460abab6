//! Whole-database verification and repair: both copies of every registry
//! block (of every live metadata side), every live node blob, every value
//! blob the nodes reference and, with erasure coding, every shard of those
//! blobs. With [`VerifyOptions::repair`], damaged registry copies are
//! rewritten from the valid copy and missing or damaged shards are rebuilt.
//! Used by tests, the crash harness and the `sop_verify` tool.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use crate::database::Database;
use crate::engine::Engine;
use crate::error::Result;
use crate::storage::frame::{self, FrameKind};
use crate::storage::fsio;

/// What [`Database::verify`] found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// Metadata sides (stores folders) whose registry was checked.
    pub sides_checked: u64,
    /// Registry block copies checked (primary and backup of every block).
    pub registry_blocks_checked: u64,
    /// Registry block copies found damaged or out of date (other copy valid).
    pub registry_blocks_damaged: u64,
    /// Of those, copies rewritten from the valid copy.
    pub registry_blocks_repaired: u64,
    /// Registry blocks repaired when the database was opened.
    pub registry_blocks_repaired_at_open: u64,
    /// Node blobs read and checked.
    pub nodes_checked: u64,
    /// Node blobs that could not be read back intact.
    pub nodes_damaged: u64,
    /// Value blobs read and checked.
    pub values_checked: u64,
    /// Value blobs that could not be read back intact.
    pub values_damaged: u64,
    /// Erasure shards checked.
    pub shards_checked: u64,
    /// Erasure shards found missing or damaged.
    pub shards_damaged: u64,
    /// Erasure shards rewritten.
    pub shards_repaired: u64,
    /// Damage that makes data unreadable, with the error for each.
    pub problems: Vec<String>,
    /// Damage that did not lose data (a registry copy, up to `parity`
    /// shards) and was not repaired.
    pub warnings: Vec<String>,
    /// What was repaired.
    pub repaired: Vec<String>,
}

impl VerifyReport {
    /// True when every piece of data reads back intact.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// True when nothing at all is damaged or left unrepaired.
    pub fn is_pristine(&self) -> bool {
        self.problems.is_empty() && self.warnings.is_empty()
    }
}

/// A phase of verification, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyPhase {
    /// Registry blocks of each metadata side (`total` = sides).
    Registry,
    /// Node blobs (`total` = live nodes).
    Nodes,
    /// Value blobs (`total` = referenced value blobs).
    Values,
}

/// Progress callback of [`VerifyOptions`]: `(phase, done, total)`.
pub type VerifyProgress = Arc<dyn Fn(VerifyPhase, u64, u64) + Send + Sync>;

/// Options of [`Database::verify_with`].
#[derive(Clone, Default)]
pub struct VerifyOptions {
    /// Repair what can be repaired.
    pub repair: bool,
    /// Called as work proceeds (from a blocking thread).
    pub progress: Option<VerifyProgress>,
}

/// Scans the value-blob references of an encoded leaf payload without
/// knowing the store's types: walks the leaf layout and collects tag-1 ids.
fn value_blobs_of(payload: &[u8], path: &std::path::Path) -> Result<Vec<Uuid>> {
    let mut r = crate::btree::item::Reader::new(payload, path);
    let mut out = Vec::new();
    if r.u8()? != 1 {
        return Ok(out);
    }
    let n = r.u32()?;
    for _ in 0..n {
        r.take(16 + 8)?;
        let klen = r.u32()? as usize;
        r.take(klen)?;
        match r.u8()? {
            0 => {
                let vlen = r.u32()? as usize;
                r.take(vlen)?;
            }
            _ => out.push(r.uuid()?),
        }
    }
    Ok(out)
}

fn verify_blocking(engine: &Engine, opts: &VerifyOptions) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        registry_blocks_repaired_at_open: engine.stats().repaired_blocks,
        ..Default::default()
    };
    let progress = |phase, done, total| {
        if let Some(p) = &opts.progress {
            p(phase, done, total);
        }
    };
    // 1. Registry blocks, on every live metadata side.
    let mut sides = vec![engine.active_side()];
    sides.extend(engine.live_passive_side());
    let n_sides = sides.len() as u64;
    progress(VerifyPhase::Registry, 0, n_sides);
    for (i, side) in sides.iter().enumerate() {
        let scan = side.registry.scan(opts.repair)?;
        report.sides_checked += 1;
        report.registry_blocks_checked += scan.blocks;
        report.registry_blocks_damaged += scan.damaged.len() as u64;
        report.registry_blocks_repaired += scan.repaired;
        if opts.repair {
            report.repaired.extend(scan.damaged);
        } else {
            report.warnings.extend(scan.damaged);
        }
        report.problems.extend(scan.unrepairable);
        progress(VerifyPhase::Registry, i as u64 + 1, n_sides);
    }
    // 2. Node blobs (and their shards).
    let handles: Vec<Uuid> = engine
        .registry
        .read()
        .values()
        .filter(|h| !h.deleted)
        .map(|h| h.current())
        .collect();
    let backend = engine.blobs.backend().clone();
    let mut values: HashSet<Uuid> = HashSet::new();
    let total = handles.len() as u64;
    for (i, phys) in handles.into_iter().enumerate() {
        report.nodes_checked += 1;
        if check_shards(engine, phys, opts.repair, &mut report) {
            let path = backend.describe(phys);
            let checked = backend.read(phys).and_then(|bytes| {
                let payload = frame::open(&path, FrameKind::Node, &bytes)?;
                value_blobs_of(payload, &path)
            });
            match checked {
                Ok(v) => values.extend(v),
                Err(e) => {
                    report.nodes_damaged += 1;
                    report.problems.push(e.to_string());
                }
            }
        } else {
            report.nodes_damaged += 1;
        }
        if i % 64 == 0 || i as u64 + 1 == total {
            progress(VerifyPhase::Nodes, i as u64 + 1, total);
        }
    }
    // 3. Value blobs (and their shards).
    let total = values.len() as u64;
    for (i, v) in values.into_iter().enumerate() {
        report.values_checked += 1;
        if check_shards(engine, v, opts.repair, &mut report) {
            if let Err(e) = engine.blobs.get(v, FrameKind::Value) {
                report.values_damaged += 1;
                report.problems.push(e.to_string());
            }
        } else {
            report.values_damaged += 1;
        }
        if i % 64 == 0 || i as u64 + 1 == total {
            progress(VerifyPhase::Values, i as u64 + 1, total);
        }
    }
    Ok(report)
}

/// Checks (and with `repair` rebuilds) the erasure shards of a blob; false
/// when the blob cannot be reconstructed (the problem is recorded).
fn check_shards(engine: &Engine, id: Uuid, repair: bool, report: &mut VerifyReport) -> bool {
    let Some(ec) = &engine.erasure else {
        return true;
    };
    let shards = ec.config().data_shards + ec.config().parity_shards;
    report.shards_checked += shards as u64;
    let health = ec.inspect(id);
    report.shards_damaged += health.faults.len() as u64;
    if !health.readable {
        report.problems.push(format!(
            "erasure-coded blob {id}: only {} of {shards} shards intact: {}",
            health.intact,
            crate::storage::erasure::describe_faults(&health.faults)
        ));
        return false;
    }
    if health.faults.is_empty() {
        return true;
    }
    if !repair {
        report.warnings.push(format!(
            "erasure-coded blob {id}: {}",
            crate::storage::erasure::describe_faults(&health.faults)
        ));
        return true;
    }
    match ec.repair(id) {
        Ok(outcome) => {
            report.shards_repaired += outcome.rewritten.len() as u64;
            if !outcome.rewritten.is_empty() {
                report.repaired.push(format!(
                    "erasure-coded blob {id}: rewrote shard(s) {:?}",
                    outcome.rewritten
                ));
            }
            if !outcome.failed.is_empty() {
                report.warnings.push(format!(
                    "erasure-coded blob {id}: could not rewrite {}",
                    crate::storage::erasure::describe_faults(&outcome.failed)
                ));
            }
        }
        Err(e) => report.warnings.push(e.to_string()),
    }
    true
}

impl Database {
    /// Checkpoints, then checks every registry block copy, every live node
    /// blob and every value blob the nodes reference (and every erasure
    /// shard), without repairing anything.
    pub async fn verify(&self) -> Result<VerifyReport> {
        self.verify_with(VerifyOptions::default()).await
    }

    /// [`Database::verify`] with options: repair, progress reporting.
    /// Checkpoints are held off while it runs; commits go on.
    pub async fn verify_with(&self, options: VerifyOptions) -> Result<VerifyReport> {
        self.engine.checkpoint().await?;
        let gate = self.engine.commit_gate.clone().read_owned().await;
        let engine: Arc<Engine> = self.engine.clone();
        let report = fsio::blocking(move || verify_blocking(&engine, &options)).await;
        drop(gate);
        report
    }
}
