//! Small durable-file helpers, all synchronous: callers run them on a blocking
//! thread (`tokio::task::spawn_blocking`), never on an async worker.
//!
//! Invariant: [`write_atomic`] leaves either the old or the new content under
//! the final name, never a mix (write to a temporary, fsync, rename, fsync dir).
//!
//! Every helper consults the [`crate::storage::faults`] hook first.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{Result, SopError};
use crate::storage::faults::{self, FaultOp};

/// Creates `dir` and its parents.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    faults::check(dir, FaultOp::Write)?;
    fs::create_dir_all(dir).map_err(|e| SopError::io(dir, e))
}

/// Fsyncs a directory so that renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    faults::check(dir, FaultOp::Sync)?;
    let f = File::open(dir).map_err(|e| SopError::io(dir, e))?;
    f.sync_all().map_err(|e| SopError::io(dir, e))
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    faults::check(path, FaultOp::Write)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp).map_err(|e| SopError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| SopError::io(&tmp, e))?;
        faults::check(path, FaultOp::Sync)?;
        f.sync_all().map_err(|e| SopError::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| SopError::io(path, e))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Creates a new file holding `bytes`, optionally fsynced.
pub fn write_new(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    faults::check(path, FaultOp::Write)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| SopError::io(path, e))?;
    f.write_all(bytes).map_err(|e| SopError::io(path, e))?;
    if sync {
        faults::check(path, FaultOp::Sync)?;
        f.sync_all().map_err(|e| SopError::io(path, e))?;
    }
    Ok(())
}

/// Fsyncs an existing file.
pub fn sync_file(path: &Path) -> Result<()> {
    faults::check(path, FaultOp::Sync)?;
    let f = File::open(path).map_err(|e| SopError::io(path, e))?;
    f.sync_all().map_err(|e| SopError::io(path, e))
}

/// Reads a whole file; `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    faults::check(path, FaultOp::Read)?;
    match fs::read(path) {
        Ok(mut b) => {
            faults::corrupt_read(path, &mut b);
            Ok(Some(b))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SopError::io(path, e)),
    }
}

/// Removes a file; a missing file is not an error.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    faults::check(path, FaultOp::Write)?;
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SopError::io(path, e)),
    }
}

/// Runs blocking file work off the async workers.
pub async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SopError::Task(e.to_string()))?
}
