//! A pack file written as a stream: a checkpoint appends its frames in
//! bounded pieces as it encodes them ([`crate::storage::blob_store::NodeWriter`]),
//! instead of assembling the whole pack (up to
//! [`crate::storage::blob_store::pack::MAX_PACK_BYTES`]) in memory first.
//!
//! Invariants:
//! - Nothing names the file before [`PackFile::finish`] has rewritten its
//!   header (the final frame count) and made it and its folder durable: the
//!   checkpoint journal that installs its references is written afterwards.
//!   A checkpoint that fails or is killed earlier leaves an unreferenced
//!   file, as a failed whole-pack write does.
//! - Fault injection sees the same operations as a whole-pack write
//!   ([`crate::storage::fsio::write_new`] plus the folder fsync): one
//!   `Write` check when the file is created, one `Sync` check before the
//!   file's fsync and one for the folder's.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, SopError};
use crate::storage::faults::{self, FaultOp};
use crate::storage::fsio;

/// An open pack file being appended to (see the module docs).
#[derive(Debug)]
pub struct PackFile {
    file: File,
    path: PathBuf,
}

impl PackFile {
    /// Creates (or truncates) the pack file at `path`; the caller makes sure
    /// its folder exists.
    pub fn create(path: &Path) -> Result<PackFile> {
        faults::check(path, FaultOp::Write)?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| SopError::io(path, e))?;
        Ok(PackFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends `bytes` at the end of the file (not yet durable).
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .map_err(|e| SopError::io(&self.path, e))
    }

    /// Rewrites the header frame at offset 0, then fsyncs the file and its
    /// folder.
    pub fn finish(self, header: &[u8]) -> Result<()> {
        self.file
            .write_all_at(header, 0)
            .map_err(|e| SopError::io(&self.path, e))?;
        faults::check(&self.path, FaultOp::Sync)?;
        self.file
            .sync_all()
            .map_err(|e| SopError::io(&self.path, e))?;
        match self.path.parent() {
            Some(dir) => fsio::sync_dir(dir),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::storage::blob_store::pack::{self, PackRef};
    use crate::storage::blob_store::{BlobStore, FileBlobBackend};
    use crate::storage::faults::{self, FaultOp, FaultRule};
    use crate::storage::frame::FrameKind;

    fn payload(i: u32) -> Vec<u8> {
        format!("node {i} ")
            .repeat(1 + (i % 7) as usize)
            .into_bytes()
    }

    #[test]
    fn a_streamed_checkpoint_pack_reads_back_every_node() -> crate::error::Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::new(Arc::new(FileBlobBackend::new(dir.path())));
        // A flush every ~100 bytes: the pack is appended to its file many times.
        let mut nodes = blobs.node_writer().with_flush_bytes(100);
        let ids: Vec<_> = (0..500).map(|i| nodes.add(&payload(i))).collect();
        let sealed = crate::storage::frame::seal(FrameKind::Node, b"moved node");
        let moved_id = nodes.add_sealed(&sealed).expect("packed");
        nodes.check()?;
        let written = blobs.write_nodes(nodes)?;
        assert_eq!(written.0.len(), 1, "one pack");
        let (pack_id, size, frames) = written.0[0];
        assert_eq!(frames, 501);
        let path = dir
            .path()
            .join("blobs/packs")
            .join(pack::pack_file_name(pack_id));
        assert_eq!(std::fs::metadata(&path).expect("pack file").len(), size);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(PackRef::from_uuid(*id).map(|r| r.pack), Some(pack_id));
            assert_eq!(blobs.get(*id, FrameKind::Node)?, payload(i as u32));
        }
        assert_eq!(blobs.get(moved_id, FrameKind::Node)?, b"moved node");
        // The header was rewritten with the final frame count.
        let bytes = std::fs::read(&path).expect("read pack");
        let header = crate::storage::frame::open(&path, FrameKind::PackHeader, &bytes)?;
        assert_eq!(&header[10..14], &501u32.to_le_bytes());
        Ok(())
    }

    #[test]
    fn a_failed_pack_append_is_reported_and_stops_the_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::new(Arc::new(FileBlobBackend::new(dir.path())));
        let rule = faults::inject(FaultRule::eio(dir.path().join("blobs"), FaultOp::Write));
        let mut nodes = blobs.node_writer().with_flush_bytes(100);
        for i in 0..50 {
            nodes.add(&payload(i));
        }
        let fired = faults::fired(rule);
        assert!(fired > 0);
        for i in 0..50 {
            nodes.add(&payload(i));
        }
        assert_eq!(
            faults::fired(rule),
            fired,
            "no file operation after the error"
        );
        assert!(nodes.check().is_err(), "the failure is kept");
        assert!(nodes.check().is_ok(), "and reported once");
        faults::remove(rule);
        // A writer whose error was not taken fails as a whole.
        let rule = faults::inject(FaultRule::eio(dir.path().join("blobs"), FaultOp::Write));
        let mut nodes = blobs.node_writer().with_flush_bytes(100);
        for i in 0..50 {
            nodes.add(&payload(i));
        }
        assert!(blobs.write_nodes(nodes).is_err());
        faults::remove(rule);
    }
}
