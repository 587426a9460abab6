//! Fault injection: a test and operations hook that makes file operations
//! under a path fail as a failing drive would.
//!
//! As root, file permissions do not stop writes, so tests (and operators
//! rehearsing a failover) describe the failure instead: a [`FaultRule`] says
//! which files (`path_prefix`, compared component-wise), which operation
//! ([`FaultOp::Write`], [`FaultOp::Sync`], [`FaultOp::Read`]), which failure
//! (`EIO`, `ENOSPC`, or for reads a flipped bit in the bytes returned), after
//! how many matching operations (`skip`, a countdown to walk a failure through
//! every I/O point of a commit) and how many times (`remaining`, `None` = until
//! cleared). The fsio helpers, the blob file backend, the registry block
//! writer and the WAL appender/syncer call [`check`] before they touch a file;
//! the readers pass what they read through [`corrupt_read`].
//!
//! Invariants:
//! - The rules are process-global. While no rule is installed, [`check`] and
//!   [`corrupt_read`] cost one relaxed atomic load (the commit path stays as
//!   fast as without them).
//! - A rule lets its first `skip` matching operations through, then fires;
//!   with `remaining: Some(n)` it fires `n` times, then is removed.
//!   [`fired`] counts how often a rule fired, also after it expired.
//! - Injected errors are ordinary [`SopError::Io`] values naming the file, with
//!   the operating-system error code of the chosen kind (`EIO` = 5,
//!   `ENOSPC` = 28), so callers cannot tell them from real ones. A
//!   [`FaultError::Corrupt`] rule never fails an operation: it flips one bit of
//!   the bytes a read returns, as a failing drive or cable would.

use std::collections::BTreeMap;
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

/// The failure an injected fault causes.
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
    /// The read succeeds but one bit of the returned bytes is flipped (only
    /// meaningful with [`FaultOp::Read`]; seen by [`corrupt_read`], never by
    /// [`check`]).
    Corrupt,
}

impl FaultError {
    fn to_io(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(match self {
            FaultError::Eio | FaultError::Corrupt | FaultError::Stall { .. } => 5,
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
    /// Matching operations let through before the rule starts firing.
    pub skip: u64,
}

impl FaultRule {
    /// A rule failing `op` under `path_prefix` with `EIO` until removed.
    pub fn eio(path_prefix: impl Into<PathBuf>, op: FaultOp) -> Self {
        FaultRule {
            path_prefix: path_prefix.into(),
            op,
            error: FaultError::Eio,
            remaining: None,
            skip: 0,
        }
    }

    /// A rule failing the matching operation number `skip` (0-based) once
    /// with `error`: walking `skip` up from 0 visits every I/O point in turn.
    pub fn nth(path_prefix: impl Into<PathBuf>, op: FaultOp, error: FaultError, skip: u64) -> Self {
        FaultRule {
            path_prefix: path_prefix.into(),
            op,
            error,
            remaining: Some(1),
            skip,
        }
    }
}

/// Handle of an installed rule, for [`remove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultId(u64);

static ANY: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(1);
static RULES: Mutex<Vec<(FaultId, FaultRule)>> = Mutex::new(Vec::new());
static FIRED: Mutex<BTreeMap<u64, u64>> = Mutex::new(BTreeMap::new());

/// Installs a rule; returns its id.
pub fn inject(rule: FaultRule) -> FaultId {
    let id = FaultId(NEXT.fetch_add(1, Ordering::Relaxed));
    let mut rules = RULES.lock();
    rules.push((id, rule));
    ANY.store(true, Ordering::Release);
    id
}

/// Removes a rule (no-op when it already expired) and forgets its count.
pub fn remove(id: FaultId) {
    let mut rules = RULES.lock();
    rules.retain(|(i, _)| *i != id);
    ANY.store(!rules.is_empty(), Ordering::Release);
    FIRED.lock().remove(&id.0);
}

/// How many times a rule fired so far (kept after it expired, until [`remove`]).
pub fn fired(id: FaultId) -> u64 {
    FIRED.lock().get(&id.0).copied().unwrap_or(0)
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
    match fire(path, op, false) {
        Some(FaultError::Stall { millis }) => {
            std::thread::sleep(std::time::Duration::from_millis(millis));
            Ok(())
        }
        Some(error) => Err(SopError::io(path, error.to_io())),
        None => Ok(()),
    }
}

/// Flips one bit of `bytes` (just read from `path`) when a
/// [`FaultError::Corrupt`] read rule matches.
#[inline]
pub fn corrupt_read(path: &Path, bytes: &mut [u8]) {
    if ANY.load(Ordering::Relaxed) && !bytes.is_empty() && fire(path, FaultOp::Read, true).is_some()
    {
        let at = bytes.len() / 2;
        bytes[at] ^= 0x10;
    }
}

/// Counts one matching operation against the first matching rule (of the
/// corrupting kind or of the failing kinds); returns its failure when it fires.
#[cold]
fn fire(path: &Path, op: FaultOp, corrupting: bool) -> Option<FaultError> {
    let mut rules = RULES.lock();
    let pos = rules.iter().position(|(_, r)| {
        r.op == op
            && (r.error == FaultError::Corrupt) == corrupting
            && path.starts_with(&r.path_prefix)
    })?;
    let (id, rule) = &mut rules[pos];
    if rule.skip > 0 {
        rule.skip -= 1;
        return None;
    }
    let (id, error) = (*id, rule.error);
    *FIRED.lock().entry(id.0).or_default() += 1;
    if let Some(n) = rule.remaining.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            rules.remove(pos);
            ANY.store(!rules.is_empty(), Ordering::Release);
        }
    }
    Some(error)
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

    #[test]
    fn countdown_and_corrupting_rules() {
        let base = PathBuf::from("/faults-test-only-2");
        let p = base.join("x.log");
        let id = inject(FaultRule::nth(&base, FaultOp::Sync, FaultError::Enospc, 2));
        assert!(check(&p, FaultOp::Sync).is_ok());
        assert!(check(&p, FaultOp::Sync).is_ok());
        let e = check(&p, FaultOp::Sync).expect_err("third sync fails");
        assert!(matches!(e, SopError::Io { ref source, .. } if source.raw_os_error() == Some(28)));
        assert!(check(&p, FaultOp::Sync).is_ok(), "fired once, then expired");
        assert_eq!(fired(id), 1);
        remove(id);
        assert_eq!(fired(id), 0);
        let id = inject(FaultRule::nth(&base, FaultOp::Read, FaultError::Corrupt, 1));
        assert!(
            check(&p, FaultOp::Read).is_ok(),
            "corruption never fails a read"
        );
        let mut bytes = vec![0u8; 8];
        corrupt_read(&p, &mut bytes);
        assert_eq!(bytes, vec![0u8; 8], "first read let through");
        corrupt_read(&p, &mut bytes);
        assert_eq!(bytes.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
        assert_eq!(fired(id), 1);
        remove(id);
    }
}
