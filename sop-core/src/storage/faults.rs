//! Fault injection: a test and operations hook that makes file operations
//! under a path fail as a failing drive would.
//!
//! As root, file permissions do not stop writes, so tests (and operators
//! rehearsing a failover) describe the failure instead: a [`FaultRule`] says
//! which files (`path_prefix`, compared component-wise), which operation
//! ([`FaultOp::Write`], [`FaultOp::Sync`], [`FaultOp::Read`]), which error
//! (`EIO` or `ENOSPC`) and how many times (`remaining`, `None` = until
//! cleared). The fsio helpers, the blob file backend, the registry block
//! writer and the WAL appender/syncer call [`check`] before they touch a file.
//!
//! Invariants:
//! - The rules are process-global. While no rule is installed, [`check`] costs
//!   one relaxed atomic load (the commit path stays as fast as without it).
//! - A rule with `remaining: Some(n)` fires `n` times, then is removed.
//! - Injected errors are ordinary [`SopError::Io`] values naming the file, with
//!   the operating-system error code of the chosen kind (`EIO` = 5,
//!   `ENOSPC` = 28), so callers cannot tell them from real ones.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::{Result, SopError};

/// The kind of file operation a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// Creating, writing, renaming or removing a file (and creating folders).
    Write,
    /// `fsync` / `fdatasync` of a file or folder.
    Sync,
    /// Reading a file.
    Read,
}

/// The error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultError {
    /// `EIO`: the drive failed.
    Eio,
    /// `ENOSPC`: the drive is full.
    Enospc,
    /// Not an error: the drive hangs for this many milliseconds, then the
    /// operation proceeds (rehearses a stuck disk, or holds a process inside
    /// a commit so a test can kill it there).
    Stall {
        /// How long the operation blocks.
        millis: u64,
    },
}

impl FaultError {
    fn to_io(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(match self {
            FaultError::Eio | FaultError::Stall { .. } => 5,
            FaultError::Enospc => 28,
        })
    }
}

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Files at or under this path fail.
    pub path_prefix: PathBuf,
    /// The operation that fails.
    pub op: FaultOp,
    /// The error returned.
    pub error: FaultError,
    /// How many more times the rule fires; `None` = until removed.
    pub remaining: Option<u64>,
}

impl FaultRule {
    /// A rule failing `op` under `path_prefix` with `EIO` until removed.
    pub fn eio(path_prefix: impl Into<PathBuf>, op: FaultOp) -> Self {
        FaultRule {
            path_prefix: path_prefix.into(),
            op,
            error: FaultError::Eio,
            remaining: None,
        }
    }
}

/// Handle of an installed rule, for [`remove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultId(u64);

static ANY: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(1);
static RULES: Mutex<Vec<(FaultId, FaultRule)>> = Mutex::new(Vec::new());

/// Installs a rule; returns its id.
pub fn inject(rule: FaultRule) -> FaultId {
    let id = FaultId(NEXT.fetch_add(1, Ordering::Relaxed));
    let mut rules = RULES.lock();
    rules.push((id, rule));
    ANY.store(true, Ordering::Release);
    id
}

/// Removes a rule (no-op when it already expired).
pub fn remove(id: FaultId) {
    let mut rules = RULES.lock();
    rules.retain(|(i, _)| *i != id);
    ANY.store(!rules.is_empty(), Ordering::Release);
}

/// Removes every rule whose prefix is at or under `path_prefix`.
pub fn clear_under(path_prefix: &Path) {
    let mut rules = RULES.lock();
    rules.retain(|(_, r)| !r.path_prefix.starts_with(path_prefix));
    ANY.store(!rules.is_empty(), Ordering::Release);
}

/// Fails with the injected error when a rule matches `path` and `op`.
#[inline]
pub fn check(path: &Path, op: FaultOp) -> Result<()> {
    if !ANY.load(Ordering::Relaxed) {
        return Ok(());
    }
    check_slow(path, op)
}

#[cold]
fn check_slow(path: &Path, op: FaultOp) -> Result<()> {
    let mut rules = RULES.lock();
    let Some(pos) = rules
        .iter()
        .position(|(_, r)| r.op == op && path.starts_with(&r.path_prefix))
    else {
        return Ok(());
    };
    let error = rules[pos].1.error;
    if let Some(n) = rules[pos].1.remaining.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            rules.remove(pos);
            ANY.store(!rules.is_empty(), Ordering::Release);
        }
    }
    if let FaultError::Stall { millis } = error {
        drop(rules);
        std::thread::sleep(std::time::Duration::from_millis(millis));
        return Ok(());
    }
    Err(SopError::io(path, error.to_io()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_and_unlimited_rules() {
        let base = PathBuf::from("/faults-test-only");
        let id = inject(FaultRule {
            remaining: Some(2),
            ..FaultRule::eio(base.join("a"), FaultOp::Write)
        });
        let p = base.join("a/b.txt");
        assert!(check(&p, FaultOp::Write).is_err());
        assert!(check(&p, FaultOp::Sync).is_ok());
        assert!(check(&base.join("ab"), FaultOp::Write).is_ok());
        assert!(check(&p, FaultOp::Write).is_err());
        assert!(check(&p, FaultOp::Write).is_ok());
        remove(id);
        let id = inject(FaultRule::eio(&base, FaultOp::Read));
        for _ in 0..5 {
            assert!(check(&p, FaultOp::Read).is_err());
        }
        remove(id);
        assert!(check(&p, FaultOp::Read).is_ok());
    }
}
