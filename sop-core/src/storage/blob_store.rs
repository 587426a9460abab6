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
//!
//! Checkpoints write node blobs as [`pack`]s when the backend supports them
//! (the plain file backend does): one file per checkpoint, each node a frame
//! named by a pack reference. A superseded pack reference goes through the
//! same garbage paths as a blob id (deleted once no transaction can read it;
//! clustered, after the shared grace period); the pack file is deleted when
//! none of its references can be read any more: none is current in the
//! registry and none is still waiting in a garbage list
//! ([`BlobStore::remove_all`]).

pub mod pack;
mod pack_file;
mod pack_gc;
mod pack_stream;
mod relocate;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use uuid::Uuid;

use crate::error::{Result, SopError};
use crate::storage::frame::{self, FrameKind};
use crate::storage::fsio;
use pack::{PackRef, PackWriter};
pub use pack_file::PackFile;
use pack_stream::PackStream;

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
    /// Whether [`BlobBackend::write_pack`] is supported. Backends without
    /// packs get one blob per node.
    fn supports_packs(&self) -> bool {
        false
    }
    /// Writes a whole pack file and makes it durable (with its directory).
    fn write_pack(&self, pack: u64, bytes: &[u8]) -> Result<()> {
        let _ = bytes;
        Err(SopError::format(
            pack::pack_file_name(pack),
            "this blob backend does not store packs",
        ))
    }
    /// Creates a pack file to be written as a stream ([`PackFile`]).
    fn create_pack(&self, pack: u64) -> Result<PackFile> {
        Err(SopError::format(
            pack::pack_file_name(pack),
            "this blob backend does not store packs",
        ))
    }
    /// Deletes a pack file; missing is fine.
    fn remove_pack(&self, pack: u64) -> Result<()> {
        let _ = pack;
        Ok(())
    }
    /// The size of a pack file; `None` when it cannot be found.
    fn pack_size(&self, pack: u64) -> Option<u64> {
        let _ = pack;
        None
    }
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

    /// Path of a blob file (of the pack file for a pack reference).
    pub fn path_of(&self, id: Uuid) -> PathBuf {
        if let Some(r) = PackRef::from_uuid(id) {
            return self.pack_path(r.pack);
        }
        let hex = id.simple().to_string();
        self.root.join(&hex[..2]).join(format!("{hex}.blob"))
    }

    /// Runs `create` (which makes a file in the packs folder); when it fails
    /// (the first pack: no folder yet), creates the folder durably and
    /// retries once.
    fn in_packs_folder<T>(&self, create: impl Fn() -> Result<T>) -> Result<T> {
        if let Ok(t) = create() {
            return Ok(t);
        }
        let dir = self.root.join("packs");
        fsio::ensure_dir(&dir)?;
        if let Some(parent) = dir.parent() {
            fsio::sync_dir(parent)?;
        }
        create()
    }

    /// Path of a pack file.
    pub fn pack_path(&self, pack: u64) -> PathBuf {
        self.root.join("packs").join(pack::pack_file_name(pack))
    }

    /// Reads the frame a pack reference names.
    fn read_packed(&self, r: PackRef) -> Result<Vec<u8>> {
        let path = self.pack_path(r.pack);
        crate::storage::faults::check(&path, crate::storage::faults::FaultOp::Read)?;
        let f = std::fs::File::open(&path).map_err(|e| SopError::io(&path, e))?;
        let mut buf = vec![0u8; r.len as usize];
        f.read_exact_at(&mut buf, r.offset)
            .map_err(|e| SopError::io(&path, e))?;
        crate::storage::faults::corrupt_read(&path, &mut buf);
        Ok(buf)
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
        if let Some(r) = PackRef::from_uuid(id) {
            return self.read_packed(r);
        }
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

    fn supports_packs(&self) -> bool {
        true
    }

    fn write_pack(&self, pack: u64, bytes: &[u8]) -> Result<()> {
        let path = self.pack_path(pack);
        self.in_packs_folder(|| fsio::write_new(&path, bytes, true))?;
        fsio::sync_dir(&self.root.join("packs"))
    }

    fn create_pack(&self, pack: u64) -> Result<PackFile> {
        let path = self.pack_path(pack);
        self.in_packs_folder(|| PackFile::create(&path))
    }

    fn remove_pack(&self, pack: u64) -> Result<()> {
        fsio::remove_if_exists(&self.pack_path(pack))
    }

    fn pack_size(&self, pack: u64) -> Option<u64> {
        std::fs::metadata(self.pack_path(pack))
            .ok()
            .map(|m| m.len())
    }
}

/// Frames blobs and checks them on read; remembers pack file sizes.
#[derive(Clone)]
pub struct BlobStore {
    backend: Arc<dyn BlobBackend>,
    /// Sizes of pack files (immutable once written), learnt on write or
    /// from the file system.
    pack_sizes: Arc<Mutex<HashMap<u64, u64>>>,
}

impl BlobStore {
    /// Wraps a backend.
    pub fn new(backend: Arc<dyn BlobBackend>) -> Self {
        BlobStore {
            backend,
            pack_sizes: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Where a checkpoint puts its node blobs: packs when the backend
    /// stores them, one blob each otherwise.
    /// Its adds may write to pack files: use it on a blocking thread.
    pub fn node_writer(&self) -> NodeWriter {
        NodeWriter {
            backend: self.backend.clone(),
            packs: self.backend.supports_packs().then(Vec::new),
            blobs: Vec::new(),
            flush_bytes: PACK_FLUSH_BYTES,
            stream: None,
            error: None,
        }
    }

    /// Writes a checkpoint's node blobs and makes them durable (blocking).
    pub fn write_nodes(&self, mut nodes: NodeWriter) -> Result<WrittenNodes> {
        if let Some(e) = nodes.error.take() {
            return Err(e);
        }
        let mut files: Vec<Option<PackFile>> = match nodes.stream.take() {
            Some(stream) => stream.finish()?.into_iter().map(Some).collect(),
            None => Vec::new(),
        };
        let mut written = Vec::new();
        for p in nodes.packs.into_iter().flatten() {
            if p.pack.is_empty() {
                continue;
            }
            let (id, len, header) = (p.pack.id(), p.pack.len() as u64, p.pack.header());
            let (_, tail, frames) = p.pack.finish();
            match p.file.and_then(|at| files.get_mut(at)?.take()) {
                Some(mut file) => {
                    file.append(&tail)?;
                    file.finish(&header)?;
                }
                None if p.file.is_some() => {
                    return Err(SopError::Task(format!(
                        "pack {} lost its file",
                        pack::pack_file_name(id)
                    )))
                }
                None => self.backend.write_pack(id, &tail)?,
            }
            written.push((id, len, frames));
        }
        if !nodes.blobs.is_empty() {
            let ids: Vec<Uuid> = nodes.blobs.iter().map(|(id, _)| *id).collect();
            for (id, payload) in &nodes.blobs {
                self.put(*id, FrameKind::Node, payload)?;
            }
            self.sync(&ids)?;
        }
        Ok(WrittenNodes(written))
    }

    /// Remembers the sizes of the packs a checkpoint wrote.
    pub fn register_nodes(&self, written: WrittenNodes) {
        let mut sizes = self.pack_sizes.lock();
        for (id, size, _) in written.0 {
            sizes.insert(id, size);
        }
    }

    /// The size of a pack file (blocking on a first look-up); `None` when
    /// the backend has no such pack.
    pub fn pack_size(&self, pack: u64) -> Option<u64> {
        if let Some(s) = self.pack_sizes.lock().get(&pack) {
            return Some(*s);
        }
        let size = self.backend.pack_size(pack)?;
        self.pack_sizes.lock().insert(pack, size);
        Some(size)
    }

    /// Reads the sealed frame a pack reference names (for moving it).
    pub fn read_sealed(&self, id: Uuid) -> Result<Vec<u8>> {
        let bytes = self.backend.read(id)?;
        frame::open(&self.backend.describe(id), FrameKind::Node, &bytes)?;
        Ok(bytes)
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

    /// Deletes superseded blobs nobody can read any more (blocking). Plain
    /// blobs are deleted; a pack reference only marks its pack, and a
    /// marked pack file is deleted unless `still_readable` (the packs named
    /// by the registry's current ids and by garbage not yet due) holds it.
    pub fn remove_all(&self, ids: &[Uuid], still_readable: &HashSet<u64>) -> Result<()> {
        for id in ids.iter().filter(|id| PackRef::from_uuid(**id).is_none()) {
            self.backend.remove(*id)?;
        }
        for p in pack::packs_of(ids.iter().copied()) {
            if !still_readable.contains(&p) {
                self.backend.remove_pack(p)?;
                self.pack_sizes.lock().remove(&p);
            }
        }
        Ok(())
    }
}

/// Bytes a pack being written collects in memory before they are appended
/// to its file.
pub const PACK_FLUSH_BYTES: usize = 8 << 20;

/// A pack being written: its frames, and the position of its file in the
/// writer thread once the first [`PACK_FLUSH_BYTES`] were handed to it.
struct OpenPack {
    pack: PackWriter,
    file: Option<usize>,
}

/// The node blobs of one checkpoint being assembled (see
/// [`BlobStore::node_writer`]): frames in packs when the backend stores
/// them (the last pack is being filled), else, or for a node too large for
/// a pack, one blob per node. Whenever [`PACK_FLUSH_BYTES`] of a pack's
/// frames have gathered, they go to a writer thread that appends them to
/// the pack's file while encoding goes on (`pack_stream.rs`), so memory stays
/// bounded and a few buffers are reused. The first error creating a file is
/// kept and returned by [`NodeWriter::check`] and
/// [`BlobStore::write_nodes`] (nothing is written after it); append errors
/// are returned by [`BlobStore::write_nodes`].
pub struct NodeWriter {
    backend: Arc<dyn BlobBackend>,
    packs: Option<Vec<OpenPack>>,
    blobs: Vec<(Uuid, Vec<u8>)>,
    flush_bytes: usize,
    stream: Option<PackStream>,
    error: Option<SopError>,
}

impl NodeWriter {
    /// Adds a node payload; returns its physical id.
    pub fn add(&mut self, payload: &[u8]) -> Uuid {
        if let Some(p) = self.room(payload.len()) {
            let id = p.pack.add(FrameKind::Node, payload);
            self.flush_full();
            return id;
        }
        let id = Uuid::new_v4();
        self.blobs.push((id, payload.to_vec()));
        id
    }

    /// Adds an already sealed node frame (moved out of a sparse pack);
    /// `None` when it cannot be packed.
    pub fn add_sealed(&mut self, sealed: &[u8]) -> Option<Uuid> {
        let payload_len = sealed.len().saturating_sub(frame::FRAME_HEADER);
        let id = self.room(payload_len).map(|p| p.pack.add_sealed(sealed))?;
        self.flush_full();
        Some(id)
    }

    /// The first error met while appending to a pack file.
    pub fn check(&mut self) -> Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }

    /// Sets how many bytes a pack gathers before they are appended to its
    /// file (tests use small values to exercise the streaming path).
    pub fn with_flush_bytes(mut self, bytes: usize) -> Self {
        self.flush_bytes = bytes.max(1);
        self
    }

    /// The pack to add a frame of `payload_len` bytes to, if it can be packed.
    fn room(&mut self, payload_len: usize) -> Option<&mut OpenPack> {
        let packs = self.packs.as_mut()?;
        if !PackWriter::new_fits(payload_len) {
            return None;
        }
        if !packs.last().is_some_and(|p| p.pack.fits(payload_len)) {
            packs.push(OpenPack {
                pack: PackWriter::new(),
                file: None,
            });
        }
        packs.last_mut()
    }

    /// Hands the last pack's gathered frames to the writer thread once they
    /// reach the flush size (starting the thread and creating the pack's
    /// file on the first flush).
    fn flush_full(&mut self) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.try_flush() {
            self.error = Some(e);
        }
    }

    fn try_flush(&mut self) -> Result<()> {
        let Some(p) = self.packs.as_mut().and_then(|p| p.last_mut()) else {
            return Ok(());
        };
        if p.pack.pending() < self.flush_bytes {
            return Ok(());
        }
        let stream = match &mut self.stream {
            Some(s) => s,
            None => self.stream.insert(PackStream::start()?),
        };
        let at = match p.file {
            Some(at) => at,
            None => {
                let at = stream.open(self.backend.create_pack(p.pack.id())?)?;
                p.file = Some(at);
                at
            }
        };
        let spare = stream
            .spare()
            .unwrap_or_else(|| Vec::with_capacity(self.flush_bytes + (self.flush_bytes >> 3)));
        stream.append(at, p.pack.take_pending(spare))
    }
}

/// Packs written by [`BlobStore::write_nodes`]: `(pack, size, frames)`.
#[derive(Debug, Default)]
pub struct WrittenNodes(Vec<(u64, u64, u32)>);
