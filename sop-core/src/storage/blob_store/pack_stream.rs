//! The pack writer thread: while a checkpoint encodes its dirty nodes, a
//! second thread appends the full buffers to their pack files, so encoding
//! (CPU) and the writes (copies into the page cache) overlap instead of
//! taking turns.
//!
//! Invariants:
//! - Files are created by the caller ([`PackStream::open`] takes an open
//!   [`PackFile`]), so a creation failure is seen at once; the thread only
//!   appends. Buffers reach a file in the order they were handed over.
//! - At most [`IN_FLIGHT`] buffers wait for the thread: memory stays bounded
//!   when the disk is slower than the encoder.
//! - The first append error is kept and returned by [`PackStream::finish`];
//!   nothing is appended after it. Only [`PackStream::finish`] hands the
//!   files back, for the header, fsync and folder fsync.

use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::error::{Result, SopError};
use crate::storage::blob_store::PackFile;

/// Buffers queued for the writer thread at most.
pub const IN_FLIGHT: usize = 2;

/// Work for the writer thread.
enum Job {
    /// A new pack file; later appends name it by its position.
    Open(PackFile),
    /// Bytes to append to the file at that position.
    Append(usize, Vec<u8>),
}

/// A running pack writer thread (see the module docs).
pub struct PackStream {
    jobs: Option<SyncSender<Job>>,
    spare: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<Result<Vec<PackFile>>>>,
    opened: usize,
}

fn stopped() -> SopError {
    SopError::Task("the pack writer thread stopped".into())
}

impl PackStream {
    /// Starts the writer thread.
    pub fn start() -> Result<PackStream> {
        let (jobs, queue) = sync_channel::<Job>(IN_FLIGHT);
        let (give_back, spare) = channel::<Vec<u8>>();
        let worker = std::thread::Builder::new()
            .name("sop-pack-writer".into())
            .spawn(move || {
                let mut files: Vec<PackFile> = Vec::new();
                let mut failed: Option<SopError> = None;
                for job in queue {
                    match job {
                        Job::Open(f) => files.push(f),
                        Job::Append(at, mut bytes) => {
                            if failed.is_none() {
                                let done = files
                                    .get_mut(at)
                                    .map_or(Err(stopped()), |f| f.append(&bytes));
                                failed = done.err();
                            }
                            bytes.clear();
                            // The writer may be gone already; the buffer is then dropped.
                            let _ = give_back.send(bytes);
                        }
                    }
                }
                failed.map_or(Ok(files), Err)
            })
            .map_err(|e| SopError::Task(format!("cannot start the pack writer thread: {e}")))?;
        Ok(PackStream {
            jobs: Some(jobs),
            spare,
            worker: Some(worker),
            opened: 0,
        })
    }

    /// Hands a new pack file to the thread; returns its position.
    pub fn open(&mut self, file: PackFile) -> Result<usize> {
        self.send(Job::Open(file))?;
        self.opened += 1;
        Ok(self.opened - 1)
    }

    /// Queues `bytes` to be appended to the file at position `at` (blocks
    /// while [`IN_FLIGHT`] buffers wait).
    pub fn append(&mut self, at: usize, bytes: Vec<u8>) -> Result<()> {
        self.send(Job::Append(at, bytes))
    }

    /// An emptied buffer the thread is done with, if any (for reuse).
    pub fn spare(&self) -> Option<Vec<u8>> {
        self.spare.try_recv().ok()
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())
    }

    /// Waits for every queued append; returns the files in position order,
    /// or the first append error.
    pub fn finish(mut self) -> Result<Vec<PackFile>> {
        drop(self.jobs.take());
        self.worker
            .take()
            .ok_or_else(stopped)?
            .join()
            .map_err(|_| stopped())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_reach_their_files_in_order_and_buffers_come_back() -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a.pack"), dir.path().join("b.pack"));
        let mut s = PackStream::start()?;
        let fa = s.open(PackFile::create(&a)?)?;
        let fb = s.open(PackFile::create(&b)?)?;
        assert_eq!((fa, fb), (0, 1));
        for i in 0..20u8 {
            s.append(if i % 2 == 0 { fa } else { fb }, vec![i; 3])?;
        }
        let files = s.finish()?;
        assert_eq!(files.len(), 2);
        for f in files {
            f.finish(b"HDR")?;
        }
        let want = |odd: u8| -> Vec<u8> {
            let mut v: Vec<u8> = (0..20u8)
                .filter(|i| i % 2 == odd)
                .flat_map(|i| [i; 3])
                .collect();
            v[..3].copy_from_slice(b"HDR");
            v
        };
        assert_eq!(std::fs::read(&a).expect("a"), want(0));
        assert_eq!(std::fs::read(&b).expect("b"), want(1));
        Ok(())
    }

    #[test]
    fn spare_buffers_are_returned_empty() -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = PackStream::start()?;
        let f = s.open(PackFile::create(&dir.path().join("c.pack"))?)?;
        s.append(f, vec![7; 1000])?;
        let mut back = None;
        for _ in 0..1000 {
            back = s.spare();
            if back.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let back = back.expect("the buffer comes back");
        assert!(back.is_empty() && back.capacity() >= 1000);
        assert_eq!(s.finish()?.len(), 1);
        Ok(())
    }
}
