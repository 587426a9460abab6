//! The blob store: immutable, copy-on-write blobs named by UUID.
//!
//! A blob is written once under a fresh UUID and never modified; replacing
//! content means writing a new blob and switching a registry handle (for nodes)
//! or an item's value reference (for values). Files live at
//! `<folder>/blobs/<first two hex digits>/<uuid>.blob` and hold one
//! [`super::frame`] whose CRC is checked on every read.
//!
//! The [`BlobBackend`] trait is the seam where erasure coding (several shard
//! folders) or fault injection plugs in; [`FileBlobBackend`] is the plain one.
//! Backends are synchronous: callers invoke them on blocking threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use uuid::Uuid;

use crate::error::{Result, SopError};
use crate::storage::frame::{self, FrameKind};
use crate::storage::fsio;

/// Where blob bytes physically go.
pub trait BlobBackend: Send + Sync + 'static {
    /// Writes a new blob (not yet durable until [`BlobBackend::sync`]).
    fn write(&self, id: Uuid, bytes: &[u8]) -> Result<()>;
    /// Reads a whole blob.
    fn read(&self, id: Uuid) -> Result<Vec<u8>>;
    /// Makes the given blobs durable.
    fn sync(&self, ids: &[Uuid]) -> Result<()>;
    /// Deletes a blob; missing is fine.
    fn remove(&self, id: Uuid) -> Result<()>;
    /// A human-readable location of the blob, for error messages.
    fn describe(&self, id: Uuid) -> PathBuf;
}

/// One file per blob under a folder.
#[derive(Debug, Clone)]
pub struct FileBlobBackend {
    root: PathBuf,
}

impl FileBlobBackend {
    /// A backend rooted at `<folder>/blobs`.
    pub fn new(folder: &Path) -> Self {
        FileBlobBackend {
            root: folder.join("blobs"),
        }
    }

    /// Path of a blob file.
    pub fn path_of(&self, id: Uuid) -> PathBuf {
        let hex = id.simple().to_string();
        self.root.join(&hex[..2]).join(format!("{hex}.blob"))
    }
}

impl BlobBackend for FileBlobBackend {
    fn write(&self, id: Uuid, bytes: &[u8]) -> Result<()> {
        let path = self.path_of(id);
        if let Err(e) = fsio::write_new(&path, bytes, false) {
            // First blob under this prefix: create the folder and retry once.
            if let Some(parent) = path.parent() {
                fsio::ensure_dir(parent)?;
                return fsio::write_new(&path, bytes, false);
            }
            return Err(e);
        }
        Ok(())
    }

    fn read(&self, id: Uuid) -> Result<Vec<u8>> {
        let path = self.path_of(id);
        crate::storage::faults::check(&path, crate::storage::faults::FaultOp::Read)?;
        let mut bytes = std::fs::read(&path).map_err(|e| SopError::io(&path, e))?;
        crate::storage::faults::corrupt_read(&path, &mut bytes);
        Ok(bytes)
    }

    fn sync(&self, ids: &[Uuid]) -> Result<()> {
        // Concurrent fsyncs let the filesystem batch its journal commits.
        let workers = ids.len().clamp(1, 16);
        let chunk = ids.len().div_ceil(workers).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = ids
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .try_for_each(|id| fsio::sync_file(&self.path_of(*id)))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(SopError::Task("fsync worker panicked".into())))
                })
                .collect::<Result<Vec<()>>>()
                .map(|_| ())
        })
    }

    fn remove(&self, id: Uuid) -> Result<()> {
        fsio::remove_if_exists(&self.path_of(id))
    }

    fn describe(&self, id: Uuid) -> PathBuf {
        self.path_of(id)
    }
}

/// Frames blobs and checks them on read.
#[derive(Clone)]
pub struct BlobStore {
    backend: Arc<dyn BlobBackend>,
}

impl BlobStore {
    /// Wraps a backend.
    pub fn new(backend: Arc<dyn BlobBackend>) -> Self {
        BlobStore { backend }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn BlobBackend> {
        &self.backend
    }

    /// Frames and writes `payload` under `id` (not yet durable).
    pub fn put(&self, id: Uuid, kind: FrameKind, payload: &[u8]) -> Result<()> {
        self.backend.write(id, &frame::seal(kind, payload))
    }

    /// Reads and checks a blob, returning its payload.
    pub fn get(&self, id: Uuid, kind: FrameKind) -> Result<Vec<u8>> {
        let bytes = self.backend.read(id)?;
        let payload = frame::open(&self.backend.describe(id), kind, &bytes)?;
        Ok(payload.to_vec())
    }

    /// Makes blobs durable.
    pub fn sync(&self, ids: &[Uuid]) -> Result<()> {
        self.backend.sync(ids)
    }

    /// Deletes a blob.
    pub fn remove(&self, id: Uuid) -> Result<()> {
        self.backend.remove(id)
    }
}
