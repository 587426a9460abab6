//! Active/passive replication of the registry and store metadata across two
//! stores folders (drives).
//!
//! Definitions:
//! - **Side** — one of the two stores folders given in
//!   `DatabaseOptions::stores_folders`. Each holds a full copy of the metadata:
//!   `registry/segment-*.reg|.bak`, `catalog.json(.bak)`, `wal/wal.log`,
//!   `checkpoint.journal` (during a checkpoint), `options.json(.bak)` and
//!   `replication.json(.bak)`. Blobs live elsewhere (`blobs_folder` or the
//!   erasure-coded shard folders).
//! - **Side id** — a UUID given to each side when replication starts, stored in
//!   its own `replication.json` as `this`; sides are told apart by id, so the
//!   folders may be listed in either order.
//! - **Replication state** (`replication.json`, checked JSON, tag
//!   `replication`): `{epoch, this, sides: [id, id], active: id, stale: [id]}`.
//! - **Active side** — the side writes go to first and the only one read at
//!   open. **Passive side** — receives every write after the active side.
//! - **Stale side** — a side that missed writes; never read, never written
//!   until [`fast_forward`] (reinstate) brings it back.
//!
//! Invariants:
//! 1. The state with the highest `epoch` found in either folder decides which
//!    side is active and which is stale; every change of state (passive marked
//!    stale, failover, reinstate) increments the epoch and is persisted on the
//!    active side before work continues.
//! 2. A write reaches the passive side only after it succeeded on the active
//!    side; the WAL is mirrored synchronously (appended and fsynced on both
//!    before the commit returns), so a non-stale passive side holds every
//!    committed transaction and none that failed.
//! 3. A failed write on the passive side marks it stale; a failed write on the
//!    active side fails the operation and every later write until
//!    `Database::failover` promotes the passive side.
//! 4. A non-stale passive side is fast-forwarded from the active side on open
//!    (only files that differ are rewritten), so any divergence left by a crash
//!    between the two sides' writes is erased before work starts.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Result, SopError};
use crate::storage::{checked_json, fsio};

/// Name of the replication state file in each side.
pub const REPLICATION_FILE: &str = "replication.json";
const TAG: &str = "replication";

/// The content of `replication.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationFile {
    /// Incremented by every change of state; the highest epoch wins at open.
    pub epoch: u64,
    /// The id of the side this file lives in.
    pub this: Uuid,
    /// The ids of both sides.
    pub sides: [Uuid; 2],
    /// The id of the active side.
    pub active: Uuid,
    /// The ids of the stale sides.
    pub stale: Vec<Uuid>,
}

/// Reads a side's `replication.json` (`None` when it has none).
pub fn read_state(folder: &Path) -> Result<Option<ReplicationFile>> {
    checked_json::read(&folder.join(REPLICATION_FILE), TAG)
}

/// Writes a side's `replication.json` (and its `.bak`), atomically.
pub fn write_state(folder: &Path, state: &ReplicationFile) -> Result<()> {
    checked_json::write(&folder.join(REPLICATION_FILE), TAG, state)
}

/// Public view of the replication state, from [`crate::Database::replication_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationStatus {
    /// Current epoch.
    pub epoch: u64,
    /// The active side's folder.
    pub active: PathBuf,
    /// The passive side's folder.
    pub passive: PathBuf,
    /// True when the passive side missed writes (needs `reinstate`).
    pub passive_stale: bool,
    /// Set after a failed write on the active side: writes fail until
    /// `failover`.
    pub active_failure: Option<String>,
}

struct Inner {
    epoch: u64,
    active: usize,
    stale: [bool; 2],
    failure: Option<String>,
}

/// Runtime replication state of an open database (sides by position in
/// `stores_folders`).
pub struct Replication {
    folders: [PathBuf; 2],
    ids: [Uuid; 2],
    inner: Mutex<Inner>,
}

/// The outcome of reading both sides at open.
pub struct Decision {
    /// Runtime state.
    pub replication: Replication,
    /// Sides whose `replication.json` must be (re)written with the decided
    /// state once they are known good.
    pub needs_write: [bool; 2],
}

fn folder_error(folder: &Path, what: impl Into<String>) -> SopError {
    SopError::io(folder, std::io::Error::other(what.into()))
}

impl Replication {
    /// Reads both sides' state and decides which is active (highest epoch).
    pub fn decide(folders: [PathBuf; 2]) -> Result<Decision> {
        let read: Vec<Result<Option<ReplicationFile>>> =
            folders.iter().map(|f| read_state(f)).collect();
        let best = read
            .iter()
            .filter_map(|r| r.as_ref().ok().and_then(|o| o.as_ref()))
            .max_by_key(|s| s.epoch)
            .cloned();
        let Some(best) = best else {
            if let Some((i, Err(e))) = read.iter().enumerate().find(|(_, r)| r.is_err()) {
                return Err(folder_error(
                    &folders[i],
                    format!("cannot read the replication state of this metadata folder: {e}"),
                ));
            }
            // New replicated database (or first open with two folders): the
            // first folder is active; the second is fast-forwarded from it.
            let ids = [Uuid::new_v4(), Uuid::new_v4()];
            return Ok(Decision {
                replication: Replication {
                    folders,
                    ids,
                    inner: Mutex::new(Inner {
                        epoch: 1,
                        active: 0,
                        stale: [false; 2],
                        failure: None,
                    }),
                },
                needs_write: [true, true],
            });
        };
        // Which folder is which side.
        let own: Vec<Option<Uuid>> = read
            .iter()
            .map(|r| r.as_ref().ok().and_then(|o| o.as_ref()).map(|s| s.this))
            .collect();
        let mut ids = [Uuid::nil(); 2];
        for i in 0..2 {
            ids[i] = match own[i] {
                Some(id) => id,
                None => {
                    let other = own[1 - i];
                    match other {
                        Some(o) => *best.sides.iter().find(|s| **s != o).unwrap_or(&o),
                        None => Uuid::nil(),
                    }
                }
            };
        }
        if ids[0] == ids[1] || !ids.iter().all(|id| best.sides.contains(id)) {
            return Err(folder_error(
                &folders[1],
                format!(
                    "metadata folders {} and {} are not the two sides of one replicated database",
                    folders[0].display(),
                    folders[1].display()
                ),
            ));
        }
        let active = if ids[0] == best.active { 0 } else { 1 };
        match &read[active] {
            Err(e) => {
                return Err(folder_error(
                    &folders[active],
                    format!("the active metadata folder cannot be read: {e}"),
                ))
            }
            Ok(None) => return Err(folder_error(
                &folders[active],
                "the active metadata folder has no replication.json (replaced or emptied drive?)",
            )),
            Ok(Some(_)) => {}
        }
        let passive = 1 - active;
        let mut stale = [false; 2];
        stale[passive] =
            best.stale.contains(&ids[passive]) || !matches!(&read[passive], Ok(Some(_)));
        let mut needs_write = [false; 2];
        for i in 0..2 {
            let differs = match &read[i] {
                Ok(Some(s)) => s.epoch != best.epoch || s.stale != best.stale,
                _ => true,
            };
            needs_write[i] = differs;
        }
        if stale[passive] && !best.stale.contains(&ids[passive]) {
            needs_write[active] = true;
        }
        Ok(Decision {
            replication: Replication {
                folders,
                ids,
                inner: Mutex::new(Inner {
                    epoch: best.epoch,
                    active,
                    stale,
                    failure: None,
                }),
            },
            needs_write,
        })
    }

    fn file_for(&self, inner: &Inner, side: usize) -> ReplicationFile {
        ReplicationFile {
            epoch: inner.epoch,
            this: self.ids[side],
            sides: self.ids,
            active: self.ids[inner.active],
            stale: (0..2)
                .filter(|i| inner.stale[*i])
                .map(|i| self.ids[i])
                .collect(),
        }
    }

    /// Persists the current state on `side`.
    pub fn persist(&self, side: usize) -> Result<()> {
        let file = self.file_for(&self.inner.lock(), side);
        write_state(&self.folders[side], &file)
    }

    /// Index (in `stores_folders`) of the active side.
    pub fn active(&self) -> usize {
        self.inner.lock().active
    }

    /// Index of the passive side when it is up to date.
    pub fn live_passive(&self) -> Option<usize> {
        let i = self.inner.lock();
        let p = 1 - i.active;
        (!i.stale[p]).then_some(p)
    }

    /// Folder of a side.
    pub fn folder(&self, side: usize) -> &Path {
        &self.folders[side]
    }

    /// The public view.
    pub fn status(&self) -> ReplicationStatus {
        let i = self.inner.lock();
        ReplicationStatus {
            epoch: i.epoch,
            active: self.folders[i.active].clone(),
            passive: self.folders[1 - i.active].clone(),
            passive_stale: i.stale[1 - i.active],
            active_failure: i.failure.clone(),
        }
    }

    /// Fails when an earlier write failed on the active side.
    pub fn check_writable(&self) -> Result<()> {
        let i = self.inner.lock();
        match &i.failure {
            None => Ok(()),
            Some(why) => Err(self.active_error(&i, why)),
        }
    }

    fn active_error(&self, i: &Inner, why: &str) -> SopError {
        let passive = 1 - i.active;
        let advice = if i.stale[passive] {
            format!(
                "the passive side {} is stale too, so no failover is possible; repair the drive and reopen",
                self.folders[passive].display()
            )
        } else {
            format!(
                "committed data is safe on the passive side {}; call Database::failover() to continue there",
                self.folders[passive].display()
            )
        };
        folder_error(
            &self.folders[i.active],
            format!("write failed on the active metadata folder ({why}); the operation was rolled back; {advice}"),
        )
    }

    /// Records a failed write on the active side; returns the error to report.
    pub fn active_failed(&self, e: SopError) -> SopError {
        let mut i = self.inner.lock();
        if i.failure.is_none() {
            i.failure = Some(e.to_string());
        }
        let why = e.to_string();
        self.active_error(&i, &why)
    }

    /// Marks the passive side stale (epoch + 1), persisted on the active side.
    /// A failure to persist that is an active-side failure.
    pub fn mark_passive_stale(&self, cause: &SopError) -> Result<()> {
        let (file, active) = {
            let mut i = self.inner.lock();
            let p = 1 - i.active;
            if i.stale[p] {
                return Ok(());
            }
            i.stale[p] = true;
            i.epoch += 1;
            (self.file_for(&i, i.active), i.active)
        };
        eprintln!(
            "sop-core: passive metadata folder {} marked stale after a failed write ({cause}); \
             continuing on {} alone until Database::reinstate()",
            self.folders[1 - active].display(),
            self.folders[active].display()
        );
        write_state(&self.folders[active], &file).map_err(|e| self.active_failed(e))
    }

    /// Failover: the passive side becomes active (epoch + 1), the old active
    /// is marked stale; persisted on the new active side before it returns.
    /// `switch` runs between persisting and committing the new state (it moves
    /// the WAL over); when it fails nothing changes in memory.
    pub fn failover(&self, switch: impl FnOnce() -> Result<()>) -> Result<ReplicationStatus> {
        let mut i = self.inner.lock();
        let old = i.active;
        let new = 1 - old;
        if i.stale[new] {
            return Err(SopError::InvalidArgument {
                field: "failover",
                reason: format!(
                    "the passive metadata folder {} is stale (it missed writes); it cannot become active",
                    self.folders[new].display()
                ),
            });
        }
        let next = Inner {
            epoch: i.epoch + 1,
            active: new,
            stale: {
                let mut s = [false; 2];
                s[old] = true;
                s
            },
            failure: None,
        };
        write_state(&self.folders[new], &self.file_for(&next, new))?;
        switch()?;
        *i = next;
        drop(i);
        Ok(self.status())
    }

    /// Reinstate: after `copy` fast-forwarded the stale passive side, clears
    /// the stale mark (epoch + 1) and persists the state on both sides
    /// (passive first).
    pub fn reinstated(&self) -> Result<()> {
        let (file_p, file_a, active) = {
            let mut i = self.inner.lock();
            i.stale = [false; 2];
            i.epoch += 1;
            let a = i.active;
            (self.file_for(&i, 1 - a), self.file_for(&i, a), a)
        };
        write_state(&self.folders[1 - active], &file_p)?;
        write_state(&self.folders[active], &file_a).map_err(|e| self.active_failed(e))
    }

    /// Marks the passive side stale in memory only (a failed reinstate).
    pub fn set_passive_stale_in_memory(&self) {
        let mut i = self.inner.lock();
        let p = 1 - i.active;
        i.stale[p] = true;
    }
}

/// Metadata files a fast-forward copies (relative to a side's folder), except
/// the WAL (copied by `Wal::attach_mirror`) and `replication.json`.
fn metadata_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for name in [
        "catalog.json",
        "catalog.json.bak",
        "options.json",
        "options.json.bak",
    ] {
        if folder.join(name).exists() {
            out.push(PathBuf::from(name));
        }
    }
    out.extend(registry_files(folder)?);
    Ok(out)
}

fn registry_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let dir = folder.join("registry");
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(SopError::io(&dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| SopError::io(&dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("segment-") && (name.ends_with(".reg") || name.ends_with(".bak")) {
            out.push(Path::new("registry").join(&*name));
        }
    }
    out.sort();
    Ok(out)
}

/// Copies the metadata of side `from` onto side `to`, atomically per file;
/// files already equal are left alone; registry segments `to` has and `from`
/// has not are removed, and so is a leftover checkpoint journal. Returns the
/// number of files written. Callers hold the commit gate exclusively.
pub fn fast_forward(from: &Path, to: &Path) -> Result<u64> {
    fsio::ensure_dir(&to.join("registry"))?;
    fsio::ensure_dir(&to.join("wal"))?;
    let files = metadata_files(from)?;
    let mut written = 0;
    for rel in &files {
        let bytes = fsio::read_optional(&from.join(rel))?.unwrap_or_default();
        let target = to.join(rel);
        if fsio::read_optional(&target).ok().flatten().as_deref() == Some(&bytes[..]) {
            continue;
        }
        fsio::write_atomic(&target, &bytes)?;
        written += 1;
    }
    for rel in registry_files(to)? {
        if !files.contains(&rel) {
            fsio::remove_if_exists(&to.join(rel))?;
        }
    }
    fsio::remove_if_exists(&to.join("checkpoint.journal"))?;
    Ok(written)
}
