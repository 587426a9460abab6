//! The write-ahead log: the durable record of committed transactions since
//! the last checkpoint.
//!
//! File: `<folder>/wal/wal.log`, a sequence of [frames](crate::storage::frame)
//! of kind `WalRecord`; each payload starts with its LSN (u64 LE) followed by
//! the engine's commit record.
//!
//! Invariants:
//! - LSNs strictly increase along the file.
//! - A commit is durable (its *commit point*) once its record and every record
//!   before it are fsynced; [`Wal::sync_through`] provides group commit: one
//!   fsync covers every record appended before it started.
//! - On open, the first frame that fails its CRC or is truncated ends the log:
//!   it and anything after it belong to transactions that never reached their
//!   commit point, and the file is truncated there.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Result, SopError};
use crate::storage::frame::{self, FrameKind, FRAME_HEADER};
use crate::storage::fsio;

/// One record read back from the log.
#[derive(Debug, Clone)]
pub struct WalEntry {
    /// Log sequence number.
    pub lsn: u64,
    /// The record body.
    pub body: Vec<u8>,
}

struct Appender {
    file: File,
    len: u64,
    next_lsn: u64,
    written_lsn: u64,
}

/// The log file with its appender and group-commit state.
pub struct Wal {
    path: PathBuf,
    appender: Mutex<Appender>,
    synced_lsn: Mutex<u64>,
}

impl Wal {
    /// Opens (or creates) the log in `<folder>/wal`, returning the valid
    /// records whose LSN is above `after_lsn`. A torn tail is truncated.
    pub fn open(folder: &Path, after_lsn: u64) -> Result<(Wal, Vec<WalEntry>)> {
        let dir = folder.join("wal");
        fsio::ensure_dir(&dir)?;
        let path = dir.join("wal.log");
        let bytes = fsio::read_optional(&path)?.unwrap_or_default();
        let mut entries = Vec::new();
        let mut at = 0usize;
        let mut last_lsn = after_lsn;
        while at + FRAME_HEADER <= bytes.len() {
            let Ok(payload) = frame::open(&path, FrameKind::WalRecord, &bytes[at..]) else {
                break;
            };
            if payload.len() < 8 {
                break;
            }
            let mut lsn_bytes = [0u8; 8];
            lsn_bytes.copy_from_slice(&payload[..8]);
            let lsn = u64::from_le_bytes(lsn_bytes);
            let consumed = FRAME_HEADER + payload.len();
            if lsn > after_lsn {
                entries.push(WalEntry {
                    lsn,
                    body: payload[8..].to_vec(),
                });
            }
            last_lsn = last_lsn.max(lsn);
            at += consumed;
        }
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| SopError::io(&path, e))?;
        if (at as u64) < bytes.len() as u64 {
            file.set_len(at as u64)
                .map_err(|e| SopError::io(&path, e))?;
            file.sync_all().map_err(|e| SopError::io(&path, e))?;
        }
        let wal = Wal {
            path,
            appender: Mutex::new(Appender {
                file,
                len: at as u64,
                next_lsn: last_lsn + 1,
                written_lsn: last_lsn,
            }),
            synced_lsn: Mutex::new(last_lsn),
        };
        wal.seek_end()?;
        Ok((wal, entries))
    }

    fn seek_end(&self) -> Result<()> {
        use std::io::Seek;
        let mut a = self.appender.lock();
        let len = a.len;
        a.file
            .seek(std::io::SeekFrom::Start(len))
            .map_err(|e| SopError::io(&self.path, e))?;
        Ok(())
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the log.
    pub fn len(&self) -> u64 {
        self.appender.lock().len
    }

    /// True when the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The highest LSN handed out so far.
    pub fn last_lsn(&self) -> u64 {
        self.appender.lock().next_lsn - 1
    }

    /// Appends a record (not yet durable); returns its LSN.
    pub fn append(&self, body: &[u8]) -> Result<u64> {
        let mut a = self.appender.lock();
        let lsn = a.next_lsn;
        let mut payload = Vec::with_capacity(8 + body.len());
        payload.extend_from_slice(&lsn.to_le_bytes());
        payload.extend_from_slice(body);
        let framed = frame::seal(FrameKind::WalRecord, &payload);
        if let Err(e) = a.file.write_all(&framed) {
            // Undo a partial append so the next record starts at a frame boundary.
            let len = a.len;
            let _ = a.file.set_len(len);
            drop(a);
            let _ = self.seek_end();
            return Err(SopError::io(&self.path, e));
        }
        a.len += framed.len() as u64;
        a.next_lsn += 1;
        a.written_lsn = lsn;
        Ok(lsn)
    }

    /// Makes every record up to `lsn` durable (group commit).
    pub fn sync_through(&self, lsn: u64) -> Result<()> {
        let mut synced = self.synced_lsn.lock();
        if *synced >= lsn {
            return Ok(());
        }
        let (file, target) = {
            let a = self.appender.lock();
            (
                a.file
                    .try_clone()
                    .map_err(|e| SopError::io(&self.path, e))?,
                a.written_lsn,
            )
        };
        file.sync_data().map_err(|e| SopError::io(&self.path, e))?;
        *synced = target;
        Ok(())
    }

    /// Replaces the log's content with `keep` (records still needed after a
    /// checkpoint), atomically. LSN numbering continues.
    pub fn rewrite(&self, keep: &[WalEntry]) -> Result<()> {
        let mut a = self.appender.lock();
        let mut bytes = Vec::new();
        for e in keep {
            let mut payload = Vec::with_capacity(8 + e.body.len());
            payload.extend_from_slice(&e.lsn.to_le_bytes());
            payload.extend_from_slice(&e.body);
            frame::seal_into(&mut bytes, FrameKind::WalRecord, &payload);
        }
        fsio::write_atomic(&self.path, &bytes)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| SopError::io(&self.path, e))?;
        a.file = file;
        a.len = bytes.len() as u64;
        drop(a);
        self.seek_end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_reopen_and_torn_tail() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SopError::io("tmp", e))?;
        {
            let (wal, entries) = Wal::open(dir.path(), 0)?;
            assert!(entries.is_empty());
            for i in 0..10u8 {
                let lsn = wal.append(&[i; 100])?;
                wal.sync_through(lsn)?;
            }
        }
        let path = dir.path().join("wal/wal.log");
        let len = std::fs::metadata(&path)
            .map_err(|e| SopError::io(&path, e))?
            .len();
        // Tear the last record.
        let f = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| SopError::io(&path, e))?;
        f.set_len(len - 7).map_err(|e| SopError::io(&path, e))?;
        let (wal, entries) = Wal::open(dir.path(), 3)?;
        assert_eq!(
            entries.iter().map(|e| e.lsn).collect::<Vec<_>>(),
            vec![4, 5, 6, 7, 8, 9]
        );
        assert_eq!(wal.last_lsn(), 9);
        let lsn = wal.append(b"next")?;
        assert_eq!(lsn, 10);
        wal.sync_through(lsn)?;
        drop(wal);
        let (_, entries) = Wal::open(dir.path(), 9)?;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].body, b"next");
        Ok(())
    }
}
