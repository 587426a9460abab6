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
use crate::storage::faults::{self, FaultOp};
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

/// Bytes a [`RecordBuf`] reserves before the body: the frame header and the LSN.
pub const RECORD_PREFIX: usize = FRAME_HEADER + 8;

/// A WAL record body built in place, after room for the frame header and the LSN that
/// [`Wal::append_record`] fills in: appending it copies nothing. Writing appends to the body.
#[derive(Debug)]
pub struct RecordBuf {
    /// `RECORD_PREFIX` reserved bytes, then the body.
    buf: Vec<u8>,
}

impl RecordBuf {
    /// An empty body with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(RECORD_PREFIX + capacity);
        buf.resize(RECORD_PREFIX, 0);
        RecordBuf { buf }
    }

    /// The body written so far.
    pub fn body(&self) -> &[u8] {
        &self.buf[RECORD_PREFIX..]
    }
}

impl Write for RecordBuf {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Appender {
    path: PathBuf,
    file: File,
    len: u64,
    next_lsn: u64,
    written_lsn: u64,
    /// Frames appended to the primary but not yet copied to the mirror
    /// (only while a mirror is attached).
    unmirrored: Vec<u8>,
    mirroring: bool,
    /// Set when an fsync of the primary failed: the log's durable state is
    /// unknown, so every later append or sync fails until the log is switched
    /// (failover) or reopened.
    poisoned: Option<String>,
}

/// The second copy of the log (replicated metadata, passive side).
struct Mirror {
    path: PathBuf,
    file: File,
    len: u64,
}

struct Syncer {
    synced_lsn: u64,
    /// Primary length covered by the last successful sync.
    synced_len: u64,
    mirror: Option<Mirror>,
    mirror_failure: Option<SopError>,
}

/// The log file with its appender and group-commit state, optionally mirrored
/// to a second file (the passive side of replicated metadata).
///
/// Mirroring invariant: a record reaches the mirror only after the primary's
/// fsync covering it succeeded, and [`Wal::sync_through`] returns only after
/// the mirror's fsync too; so the mirror always holds exactly the records
/// whose commit point was reached (never one whose commit failed). A failed
/// mirror write detaches the mirror and is reported by
/// [`Wal::take_mirror_failure`]; the primary goes on alone.
pub struct Wal {
    appender: Mutex<Appender>,
    syncer: Mutex<Syncer>,
}

fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(|e| SopError::io(path, e))
}

fn seek_to(file: &mut File, path: &Path, len: u64) -> Result<()> {
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(len))
        .map_err(|e| SopError::io(path, e))?;
    Ok(())
}

/// The offset of an intact WAL record with an LSN above `last_lsn` after the
/// damaged bytes at `from`, if any (only scanned when the log does not end
/// cleanly, so the cost is paid on recovery of a damaged log only).
fn intact_record_after(path: &Path, bytes: &[u8], from: usize, last_lsn: u64) -> Option<usize> {
    let magic = frame::MAGIC;
    (from + 1..bytes.len().saturating_sub(FRAME_HEADER - 1)).find(|&at| {
        bytes[at..].starts_with(magic)
            && frame::open(path, FrameKind::WalRecord, &bytes[at..])
                .ok()
                .and_then(|p| p.get(..8))
                .and_then(|l| l.try_into().ok())
                .is_some_and(|l: [u8; 8]| u64::from_le_bytes(l) > last_lsn)
    })
}

impl Mirror {
    fn append_sync(&mut self, frames: &[u8]) -> Result<()> {
        if frames.is_empty() {
            return Ok(());
        }
        faults::check(&self.path, FaultOp::Write)?;
        self.file
            .write_all(frames)
            .map_err(|e| SopError::io(&self.path, e))?;
        self.len += frames.len() as u64;
        faults::check(&self.path, FaultOp::Sync)?;
        self.file
            .sync_data()
            .map_err(|e| SopError::io(&self.path, e))
    }
}

/// Truncates a torn tail at `len` and makes the cut durable.
fn cut_tail(file: &mut File, path: &Path, len: u64) -> Result<()> {
    faults::check(path, FaultOp::Write)?;
    file.set_len(len).map_err(|e| SopError::io(path, e))?;
    file.sync_all().map_err(|e| SopError::io(path, e))
}

#[cfg(unix)]
fn file_identity(file: &File, path: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata().map_err(|e| SopError::io(path, e))?.ino())
}

#[cfg(not(unix))]
fn file_identity(_file: &File, _path: &Path) -> Result<u64> {
    Ok(0)
}

/// The valid records of a log image and the length they cover: parsing
/// stops at the first frame that is truncated or fails its CRC.
pub fn parse_frames(path: &Path, bytes: &[u8]) -> (Vec<WalEntry>, usize) {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at + FRAME_HEADER <= bytes.len() {
        let Ok(payload) = frame::open(path, FrameKind::WalRecord, &bytes[at..]) else {
            break;
        };
        if payload.len() < 8 {
            break;
        }
        let mut lsn_bytes = [0u8; 8];
        lsn_bytes.copy_from_slice(&payload[..8]);
        entries.push(WalEntry {
            lsn: u64::from_le_bytes(lsn_bytes),
            body: payload[8..].to_vec(),
        });
        at += FRAME_HEADER + payload.len();
    }
    (entries, at)
}

/// What another process's view of the log finds past a known position.
#[derive(Debug)]
pub struct LogTail {
    /// Identity of the file read (see [`Wal::file_identity`]).
    pub identity: u64,
    /// Valid records after the position.
    pub entries: Vec<WalEntry>,
    /// End of the last valid record.
    pub valid_end: u64,
    /// Bytes in the file (more than `valid_end` when a tail is torn or a
    /// record is being written).
    pub file_len: u64,
}

/// Reads the log under `folder` from byte `offset`, if the file there is
/// still the one with `identity`; `Ok(None)` when it was replaced.
pub fn read_tail(folder: &Path, identity: u64, offset: u64) -> Result<Option<LogTail>> {
    use std::io::{Read, Seek};
    let path = wal_path(folder);
    let mut file = File::open(&path).map_err(|e| SopError::io(&path, e))?;
    let found = file_identity(&file, &path)?;
    if found != identity {
        return Ok(None);
    }
    faults::check(&path, FaultOp::Read)?;
    file.seek(std::io::SeekFrom::Start(offset))
        .map_err(|e| SopError::io(&path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| SopError::io(&path, e))?;
    let (entries, valid) = parse_frames(&path, &bytes);
    Ok(Some(LogTail {
        identity,
        entries,
        valid_end: offset + valid as u64,
        file_len: offset + bytes.len() as u64,
    }))
}

/// Path of the log under a metadata folder.
pub fn wal_path(folder: &Path) -> PathBuf {
    folder.join("wal").join("wal.log")
}

impl Wal {
    /// Opens (or creates) the log in `<folder>/wal`, returning the valid
    /// records whose LSN is above `after_lsn`. With `cut_torn_tail`, a torn
    /// tail is truncated; without (clustered mode, where another process may
    /// be appending right now) it is left for the holder of the cluster
    /// commit lock to cut.
    pub fn open(
        folder: &Path,
        after_lsn: u64,
        cut_torn_tail: bool,
    ) -> Result<(Wal, Vec<WalEntry>)> {
        let dir = folder.join("wal");
        fsio::ensure_dir(&dir)?;
        let path = wal_path(folder);
        let bytes = fsio::read_optional(&path)?.unwrap_or_default();
        let (all, at) = parse_frames(&path, &bytes);
        let last_lsn = all.last().map_or(after_lsn, |e| e.lsn.max(after_lsn));
        let entries: Vec<WalEntry> = all.into_iter().filter(|e| e.lsn > after_lsn).collect();
        if let Some(next) = intact_record_after(&path, &bytes, at, last_lsn) {
            // Appends are sequential and a failed append or sync cuts the
            // file back, so an intact record after a damaged one means the
            // damage is in the middle of the log: truncating would silently
            // drop committed transactions.
            return Err(SopError::format(
                &path,
                format!(
                    "damaged record at byte {at} is followed by an intact record at byte \
                     {next}: the log is damaged in the middle, not torn at its end; \
                     refusing to drop the committed transactions after it"
                ),
            ));
        }
        let mut file = open_rw(&path)?;
        if cut_torn_tail && (at as u64) < bytes.len() as u64 {
            cut_tail(&mut file, &path, at as u64)?;
        }
        seek_to(&mut file, &path, at as u64)?;
        let wal = Wal {
            appender: Mutex::new(Appender {
                path,
                file,
                len: at as u64,
                next_lsn: last_lsn + 1,
                written_lsn: last_lsn,
                unmirrored: Vec::new(),
                mirroring: false,
                poisoned: None,
            }),
            syncer: Mutex::new(Syncer {
                synced_lsn: last_lsn,
                synced_len: at as u64,
                mirror: None,
                mirror_failure: None,
            }),
        };
        Ok((wal, entries))
    }

    /// Identity (inode) of the file the appender writes: a checkpoint
    /// replaces the log by renaming a new file over it, which changes it.
    pub fn file_identity(&self) -> Result<u64> {
        let a = self.appender.lock();
        file_identity(&a.file, &a.path)
    }

    /// Clustered mode, under the cluster commit lock: the log's valid end is
    /// `len` holding records up to `last_lsn` (other processes appended, or a
    /// dead one left a torn tail, which is cut here). The next append goes
    /// there; everything before it counts as durable (its writer synced it).
    /// With `reopen`, the file under the log's name is opened anew first (a
    /// checkpoint replaced it).
    pub fn adopt_end(&self, len: u64, last_lsn: u64, reopen: bool) -> Result<()> {
        let mut s = self.syncer.lock();
        let mut a = self.appender.lock();
        let path = a.path.clone();
        if reopen {
            a.file = open_rw(&path)?;
        }
        let actual = a.file.metadata().map_err(|e| SopError::io(&path, e))?.len();
        if actual > len {
            cut_tail(&mut a.file, &path, len)?;
        }
        seek_to(&mut a.file, &path, len)?;
        a.len = len;
        a.next_lsn = last_lsn + 1;
        a.written_lsn = last_lsn;
        a.unmirrored.clear();
        a.poisoned = None;
        s.synced_lsn = last_lsn;
        s.synced_len = len;
        Ok(())
    }

    fn poisoned_error(path: &Path, why: &str) -> SopError {
        SopError::io(
            path,
            std::io::Error::other(format!(
                "the write-ahead log is unusable after an earlier failure ({why}); \
                 fail over or reopen the database"
            )),
        )
    }

    /// The (primary) log file's path.
    pub fn path(&self) -> PathBuf {
        self.appender.lock().path.clone()
    }

    /// The mirror's path, when one is attached.
    pub fn mirror_path(&self) -> Option<PathBuf> {
        self.syncer.lock().mirror.as_ref().map(|m| m.path.clone())
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
        let mut rec = RecordBuf::with_capacity(body.len());
        rec.buf.extend_from_slice(body);
        self.append_record(rec)
    }

    /// Appends a record built in place (not yet durable); returns its LSN. The body's CRC is
    /// computed before the log is locked; the LSN, the header and the CRC's combination with
    /// the LSN are filled in under the lock, so the body is never copied.
    pub fn append_record(&self, mut rec: RecordBuf) -> Result<u64> {
        let mut body_crc = crc32fast::Hasher::new();
        body_crc.update(rec.body());
        let mut a = self.appender.lock();
        if let Some(why) = &a.poisoned {
            return Err(Self::poisoned_error(&a.path, why));
        }
        let lsn = a.next_lsn;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&lsn.to_le_bytes());
        crc.combine(&body_crc);
        let payload_len = rec.buf.len() - FRAME_HEADER;
        rec.buf[FRAME_HEADER..RECORD_PREFIX].copy_from_slice(&lsn.to_le_bytes());
        rec.buf[..FRAME_HEADER].copy_from_slice(&frame::header(
            FrameKind::WalRecord,
            payload_len,
            crc.finalize(),
        ));
        let framed = rec.buf;
        let written = faults::check(&a.path, FaultOp::Write).and_then(|_| {
            a.file
                .write_all(&framed)
                .map_err(|e| SopError::io(&a.path, e))
        });
        if let Err(e) = written {
            // Undo a partial append so the next record starts at a frame boundary.
            let len = a.len;
            let path = a.path.clone();
            let _ = a.file.set_len(len);
            let _ = seek_to(&mut a.file, &path, len);
            return Err(e);
        }
        a.len += framed.len() as u64;
        a.next_lsn += 1;
        a.written_lsn = lsn;
        if a.mirroring {
            a.unmirrored.extend_from_slice(&framed);
        }
        Ok(lsn)
    }

    /// Makes every record up to `lsn` durable (group commit): fsyncs the
    /// primary, then copies the newly durable records to the mirror and
    /// fsyncs it. A failed primary fsync truncates the unsynced tail (best
    /// effort) and poisons the log; a failed mirror detaches the mirror.
    pub fn sync_through(&self, lsn: u64) -> Result<()> {
        let mut s = self.syncer.lock();
        if s.synced_lsn >= lsn {
            return Ok(());
        }
        let (file, target, len, path, batch) = {
            let mut a = self.appender.lock();
            if let Some(why) = &a.poisoned {
                return Err(Self::poisoned_error(&a.path, why));
            }
            let batch = std::mem::take(&mut a.unmirrored);
            (
                a.file.try_clone().map_err(|e| SopError::io(&a.path, e))?,
                a.written_lsn,
                a.len,
                a.path.clone(),
                batch,
            )
        };
        let synced = faults::check(&path, FaultOp::Sync)
            .and_then(|_| file.sync_data().map_err(|e| SopError::io(&path, e)));
        if let Err(e) = synced {
            let mut a = self.appender.lock();
            let keep = s.synced_len;
            let _ = a.file.set_len(keep);
            let _ = seek_to(&mut a.file, &path, keep);
            a.len = keep;
            a.unmirrored.clear();
            a.poisoned = Some(e.to_string());
            return Err(e);
        }
        s.synced_len = len;
        if let Some(m) = s.mirror.as_mut() {
            if let Err(e) = m.append_sync(&batch) {
                s.mirror = None;
                s.mirror_failure = Some(e);
                let mut a = self.appender.lock();
                a.mirroring = false;
                a.unmirrored.clear();
            }
        }
        s.synced_lsn = target;
        Ok(())
    }

    /// Replaces the log's content with `keep` (records still needed after a
    /// checkpoint), atomically, on the primary and then the mirror. LSN
    /// numbering continues. Callers hold the commit gate exclusively.
    pub fn rewrite(&self, keep: &[WalEntry]) -> Result<()> {
        let mut s = self.syncer.lock();
        let mut a = self.appender.lock();
        if let Some(why) = &a.poisoned {
            return Err(Self::poisoned_error(&a.path, why));
        }
        let mut bytes = Vec::new();
        for e in keep {
            let mut payload = Vec::with_capacity(8 + e.body.len());
            payload.extend_from_slice(&e.lsn.to_le_bytes());
            payload.extend_from_slice(&e.body);
            frame::seal_into(&mut bytes, FrameKind::WalRecord, &payload);
        }
        let path = a.path.clone();
        let written = fsio::write_atomic(&path, &bytes);
        // Whatever happened, reopen what is under the name now: the old log
        // (write failed before the rename) or the new one. Both are valid.
        match open_rw(&path).and_then(|mut f| {
            let len = f.metadata().map_err(|e| SopError::io(&path, e))?.len();
            seek_to(&mut f, &path, len)?;
            Ok((f, len))
        }) {
            Ok((f, len)) => {
                a.file = f;
                a.len = len;
                s.synced_len = len;
            }
            Err(e) => {
                a.poisoned = Some(e.to_string());
                return Err(e);
            }
        }
        written?;
        a.unmirrored.clear();
        if let Some(m) = s.mirror.as_mut() {
            let mpath = m.path.clone();
            let done = fsio::write_atomic(&mpath, &bytes).and_then(|_| {
                let mut f = open_rw(&mpath)?;
                seek_to(&mut f, &mpath, bytes.len() as u64)?;
                Ok(f)
            });
            match done {
                Ok(f) => {
                    m.file = f;
                    m.len = bytes.len() as u64;
                }
                Err(e) => {
                    s.mirror = None;
                    s.mirror_failure = Some(e);
                    a.mirroring = false;
                }
            }
        }
        Ok(())
    }

    /// Copies the primary log atomically to `path` and mirrors every later
    /// record there. Callers hold the commit gate exclusively.
    pub fn attach_mirror(&self, path: &Path) -> Result<()> {
        let mut s = self.syncer.lock();
        let mut a = self.appender.lock();
        if let Some(why) = &a.poisoned {
            return Err(Self::poisoned_error(&a.path, why));
        }
        let primary = a.path.clone();
        let bytes = fsio::read_optional(&primary)?.unwrap_or_default();
        if let Some(dir) = path.parent() {
            fsio::ensure_dir(dir)?;
        }
        fsio::write_atomic(path, &bytes)?;
        let mut file = open_rw(path)?;
        seek_to(&mut file, path, bytes.len() as u64)?;
        s.mirror = Some(Mirror {
            path: path.to_path_buf(),
            file,
            len: bytes.len() as u64,
        });
        s.mirror_failure = None;
        a.unmirrored.clear();
        a.mirroring = true;
        Ok(())
    }

    /// Stops mirroring (the passive side went stale).
    pub fn detach_mirror(&self) {
        let mut s = self.syncer.lock();
        s.mirror = None;
        let mut a = self.appender.lock();
        a.mirroring = false;
        a.unmirrored.clear();
    }

    /// Takes the error that detached the mirror, if any since the last call.
    pub fn take_mirror_failure(&self) -> Option<SopError> {
        self.syncer.lock().mirror_failure.take()
    }

    /// Failover: the mirror becomes the primary (it holds every record whose
    /// commit point was reached); the old primary is dropped and the poison,
    /// if any, cleared. Callers hold the commit gate exclusively.
    pub fn promote_mirror(&self) -> Result<()> {
        let mut s = self.syncer.lock();
        let mut a = self.appender.lock();
        let Some(m) = s.mirror.take() else {
            return Err(SopError::InvalidArgument {
                field: "failover",
                reason: "the write-ahead log has no up-to-date mirror to promote".into(),
            });
        };
        a.path = m.path;
        a.file = m.file;
        a.len = m.len;
        a.written_lsn = a.next_lsn - 1;
        a.unmirrored.clear();
        a.mirroring = false;
        a.poisoned = None;
        s.synced_len = m.len;
        s.synced_lsn = a.next_lsn - 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_built_in_place_are_framed_like_sealed_payloads() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SopError::io("tmp", e))?;
        let bodies: Vec<Vec<u8>> = [0usize, 1, 1000, 100_003]
            .iter()
            .map(|&n| (0..n).map(|i| (i * 31 % 251) as u8).collect())
            .collect();
        let mut expected = Vec::new();
        {
            let (wal, _) = Wal::open(dir.path(), 0, true)?;
            for body in &bodies {
                let mut rec = RecordBuf::with_capacity(body.len() / 2);
                // Written in pieces, as an encoder does.
                for piece in body.chunks(7) {
                    rec.write_all(piece).map_err(|e| SopError::io("buf", e))?;
                }
                assert_eq!(rec.body(), &body[..]);
                let lsn = wal.append_record(rec)?;
                wal.sync_through(lsn)?;
                let mut payload = lsn.to_le_bytes().to_vec();
                payload.extend_from_slice(body);
                frame::seal_into(&mut expected, FrameKind::WalRecord, &payload);
            }
        }
        let path = dir.path().join("wal/wal.log");
        let mut bytes = std::fs::read(&path).map_err(|e| SopError::io(&path, e))?;
        assert_eq!(
            bytes, expected,
            "same bytes as a sealed (lsn, body) payload"
        );
        let (_, entries) = Wal::open(dir.path(), 0, false)?;
        let back: Vec<&Vec<u8>> = entries.iter().map(|e| &e.body).collect();
        assert_eq!(back, bodies.iter().collect::<Vec<_>>());
        // A flipped bit in the last body fails its CRC: that record ends the log.
        let at = bytes.len() - 50_000;
        bytes[at] ^= 0x10;
        std::fs::write(&path, &bytes).map_err(|e| SopError::io(&path, e))?;
        let (_, entries) = Wal::open(dir.path(), 0, true)?;
        assert_eq!(entries.len(), bodies.len() - 1);
        Ok(())
    }

    #[test]
    fn append_reopen_and_torn_tail() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SopError::io("tmp", e))?;
        {
            let (wal, entries) = Wal::open(dir.path(), 0, true)?;
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
        let (wal, entries) = Wal::open(dir.path(), 3, true)?;
        assert_eq!(
            entries.iter().map(|e| e.lsn).collect::<Vec<_>>(),
            vec![4, 5, 6, 7, 8, 9]
        );
        assert_eq!(wal.last_lsn(), 9);
        let lsn = wal.append(b"next")?;
        assert_eq!(lsn, 10);
        wal.sync_through(lsn)?;
        drop(wal);
        let (_, entries) = Wal::open(dir.path(), 9, true)?;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].body, b"next");
        Ok(())
    }

    #[test]
    fn damage_in_the_middle_is_reported_not_truncated() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| SopError::io("tmp", e))?;
        {
            let (wal, _) = Wal::open(dir.path(), 0, true)?;
            for i in 0..4u8 {
                let lsn = wal.append(&[i; 100])?;
                wal.sync_through(lsn)?;
            }
        }
        let path = dir.path().join("wal/wal.log");
        let mut bytes = std::fs::read(&path).map_err(|e| SopError::io(&path, e))?;
        let len = bytes.len();
        bytes[len / 3] ^= 0x01; // inside the second record
        std::fs::write(&path, &bytes).map_err(|e| SopError::io(&path, e))?;
        let err = Wal::open(dir.path(), 0, true)
            .err()
            .expect("mid-log damage is an error");
        assert!(err.is_corruption(), "{err}");
        assert!(err.to_string().contains("wal.log"), "{err}");
        let after = std::fs::read(&path).map_err(|e| SopError::io(&path, e))?;
        assert_eq!(after, bytes, "nothing truncated");
        Ok(())
    }
}
