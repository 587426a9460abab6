//! Whole-database verification: every registry block (checked at load), every
//! live node blob and every value blob it references is read and its CRC
//! checked. Used by tests, the crash harness and the repair tool.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use crate::database::Database;
use crate::engine::Engine;
use crate::error::Result;
use crate::storage::frame::{self, FrameKind};
use crate::storage::fsio;

/// What [`Database::verify`] found.
#[derive(Debug, Default, Clone)]
pub struct VerifyReport {
    /// Node blobs read and checked.
    pub nodes_checked: u64,
    /// Value blobs read and checked.
    pub values_checked: u64,
    /// Damaged or missing blobs, with the error for each.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is damaged.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
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

fn verify_blocking(engine: &Engine) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let handles: Vec<Uuid> = engine
        .registry
        .read()
        .values()
        .filter(|h| !h.deleted)
        .map(|h| h.current())
        .collect();
    let backend = engine.blobs.backend().clone();
    let mut values: HashSet<Uuid> = HashSet::new();
    for phys in handles {
        let path = backend.describe(phys);
        report.nodes_checked += 1;
        let checked = backend.read(phys).and_then(|bytes| {
            let payload = frame::open(&path, FrameKind::Node, &bytes)?;
            value_blobs_of(payload, &path)
        });
        match checked {
            Ok(v) => values.extend(v),
            Err(e) => report.problems.push(e.to_string()),
        }
    }
    for v in values {
        report.values_checked += 1;
        if let Err(e) = engine.blobs.get(v, FrameKind::Value) {
            report.problems.push(e.to_string());
        }
    }
    Ok(report)
}

impl Database {
    /// Checkpoints, then reads every live node blob and every value blob the
    /// nodes reference, checking each CRC. Registry blocks are checked (and
    /// repaired from their backup) every time the database opens.
    pub async fn verify(&self) -> Result<VerifyReport> {
        self.engine.checkpoint().await?;
        let engine: Arc<Engine> = self.engine.clone();
        fsio::blocking(move || verify_blocking(&engine)).await
    }
}
