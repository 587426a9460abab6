//! Following the shared WAL: how a clustered process learns what other
//! processes committed.
//!
//! Every process keeps a [`LogCursor`]: the WAL file it has read (its
//! identity), how far, and the last LSN it absorbed. Following reads the
//! valid records past the cursor and applies them: catalog changes at once,
//! ops to open stores at once (one new version per record) and to other
//! stores as pending ops, exactly as recovery at open does
//! (`log_replay::ReplayState`).
//!
//! A checkpoint (by any process) replaces the WAL file. A process that finds
//! the file replaced — or a checkpoint journal left by a dead process —
//! *reloads*: finishes the journal, reads the checkpointed catalog and
//! registry, re-reads the WAL and restarts every open store from the
//! checkpointed tree plus the records after it. Its own in-memory changes
//! are all in that state already: the checkpointer had followed every record
//! before writing it.
//!
//! Invariants:
//! - Records are absorbed in LSN order, each once: only records above the
//!   cursor's LSN are applied, and the process's own commits move the cursor
//!   past their record while the commit section is still open.
//! - Only a holder of the commit section reloads, cuts a torn tail or
//!   finishes a journal; without it, following stops at the first incomplete
//!   record (it may be one being written right now).
//! - Following, store opening and local commits are serialised by the
//!   cursor's mutex and the engine's `open_lock`, so no pending op can be
//!   left behind by a store being opened concurrently.

use std::sync::Arc;

use crate::engine::{journal_path, load_checkpoint, Engine};
use crate::error::Result;
use crate::log_replay::ReplayState;
use crate::storage::fsio;
use crate::storage::wal::{parse_frames, read_tail, wal_path, Wal, WalEntry};

/// How far this process has read the shared WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCursor {
    /// Identity of the WAL file read (a checkpoint replaces the file).
    pub identity: u64,
    /// Byte offset after the last record absorbed.
    pub offset: u64,
    /// LSN of the last record absorbed (or appended by this process).
    pub last_lsn: u64,
}

impl LogCursor {
    /// The cursor of a freshly opened log: at its valid end.
    pub fn at_end_of(wal: &Wal) -> Result<LogCursor> {
        Ok(LogCursor {
            identity: wal.file_identity()?,
            offset: wal.len(),
            last_lsn: wal.last_lsn(),
        })
    }
}

/// What following found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// The process is up to date with every complete record.
    UpToDate,
    /// The WAL was replaced or a checkpoint journal waits: only a holder of
    /// the commit section can bring the process up to date.
    NeedsReload,
}

impl Engine {
    /// Absorbs the records other processes appended past `cursor`. With
    /// `exclusive` (the caller holds the commit section) it also reloads
    /// when needed and makes the WAL appender continue at the valid end.
    pub(crate) async fn follow_log(
        self: &Arc<Self>,
        cursor: &mut LogCursor,
        exclusive: bool,
    ) -> Result<Followed> {
        let folder = self.active_side().folder.clone();
        let (identity, offset) = (cursor.identity, cursor.offset);
        let tail = fsio::blocking(move || {
            if journal_path(&folder).exists() {
                return Ok(None);
            }
            read_tail(&folder, identity, offset)
        })
        .await?;
        let Some(tail) = tail else {
            if !exclusive {
                return Ok(Followed::NeedsReload);
            }
            self.reload(cursor).await?;
            return Ok(Followed::UpToDate);
        };
        let fresh: Vec<WalEntry> = tail
            .entries
            .into_iter()
            .filter(|e| e.lsn > cursor.last_lsn)
            .collect();
        let last_lsn = fresh.last().map_or(cursor.last_lsn, |e| e.lsn);
        if !fresh.is_empty() {
            self.absorb_foreign(&fresh).await?;
        }
        cursor.offset = tail.valid_end;
        cursor.last_lsn = last_lsn;
        if exclusive && (tail.valid_end != self.wal.len() || tail.file_len != tail.valid_end) {
            let engine = self.clone();
            let end = tail.valid_end;
            fsio::blocking(move || engine.wal.adopt_end(end, last_lsn, false)).await?;
        }
        Ok(Followed::UpToDate)
    }

    /// Brings this process up to date before a transaction begins
    /// (clustered mode; a no-op standalone): follows the WAL, and when
    /// another process checkpointed meanwhile, reloads inside a section.
    pub(crate) async fn catch_up(self: &Arc<Self>) -> Result<()> {
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        {
            let mut cursor = self.log_cursor.lock().await;
            if self.follow_log(&mut cursor, false).await? == Followed::UpToDate {
                return Ok(());
            }
        }
        let section = cluster.enter_for_maintenance().await?;
        let mut cursor = self.log_cursor.lock().await;
        let done = self.follow_log(&mut cursor, true).await;
        drop(cursor);
        section.release().await;
        done.map(|_| ())
    }

    /// Applies foreign records: catalog and pending ops, then the ops of
    /// open stores.
    async fn absorb_foreign(self: &Arc<Self>, entries: &[WalEntry]) -> Result<()> {
        let _opening = self.open_lock.lock().await;
        let touched = {
            let mut catalog = self.catalog.lock();
            let mut pending = self.pending.lock();
            let mut dropped = self.dropped.lock();
            let mut state = ReplayState {
                catalog: std::mem::take(&mut *catalog),
                pending: std::mem::take(&mut *pending),
                dropped: std::mem::take(&mut *dropped),
                records: 0,
            };
            let mut touched = Vec::new();
            let mut outcome = Ok(());
            for e in entries {
                match state.absorb(e, || self.allocate_node_id()) {
                    Ok(t) => touched.extend(t),
                    Err(err) => {
                        outcome = Err(err);
                        break;
                    }
                }
            }
            *catalog = state.catalog;
            *pending = state.pending;
            *dropped = state.dropped;
            outcome?;
            touched
        };
        self.bump(|s| s.followed_records += entries.len() as u64);
        self.apply_pending_to_open_stores(&touched).await
    }

    /// Replays pending ops of the listed stores that are open, and forgets
    /// open stores that were dropped.
    async fn apply_pending_to_open_stores(self: &Arc<Self>, store_ids: &[u32]) -> Result<()> {
        let open: Vec<_> = self
            .stores
            .lock()
            .values()
            .filter(|s| store_ids.contains(&s.id()))
            .cloned()
            .collect();
        for store in open {
            let exists = self
                .catalog
                .lock()
                .stores
                .get(store.name())
                .is_some_and(|i| i.id == store.id());
            if !exists {
                self.stores.lock().remove(store.name());
                continue;
            }
            let ops = self.pending.lock().remove(&store.id()).unwrap_or_default();
            if !ops.is_empty() {
                store.replay_logged(ops).await?;
            }
        }
        Ok(())
    }

    /// Rebuilds the process's picture from the shared files; see the module
    /// docs. Caller holds the commit section.
    async fn reload(self: &Arc<Self>, cursor: &mut LogCursor) -> Result<()> {
        let _opening = self.open_lock.lock().await;
        let engine = self.clone();
        let (catalog, handles, entries, valid_end, last_lsn) = fsio::blocking(move || {
            let side = engine.active_side();
            let (catalog, handles, _) = load_checkpoint(&side.folder, &side.registry)?;
            let path = wal_path(&side.folder);
            let bytes = fsio::read_optional(&path)?.unwrap_or_default();
            let (entries, valid) = parse_frames(&path, &bytes);
            let last_lsn = entries
                .last()
                .map_or(catalog.checkpoint_lsn, |e| e.lsn)
                .max(catalog.checkpoint_lsn);
            engine.wal.adopt_end(valid as u64, last_lsn, true)?;
            Ok((catalog, handles, entries, valid as u64, last_lsn))
        })
        .await?;
        let max_id = handles.keys().copied().max().unwrap_or(0);
        self.raise_node_ids(catalog.next_node_id.max(max_id + 1));
        let mut state = ReplayState::new(catalog);
        let min_lsn = state.min_needed_lsn();
        for e in entries.iter().filter(|e| e.lsn > min_lsn) {
            state.absorb(e, || self.allocate_node_id())?;
        }
        *self.registry.write() = Arc::new(handles.into_iter().collect());
        let open: Vec<_> = self.stores.lock().values().cloned().collect();
        {
            let mut stores = self.stores.lock();
            for s in &open {
                match state.catalog.stores.get(s.name()) {
                    Some(info) if info.id == s.id() => s.reset_to_checkpoint(info),
                    _ => {
                        stores.remove(s.name());
                    }
                }
            }
        }
        *self.catalog.lock() = state.catalog;
        *self.pending.lock() = state.pending;
        *self.dropped.lock() = state.dropped;
        let ids: Vec<u32> = open.iter().map(|s| s.id()).collect();
        self.apply_pending_to_open_stores(&ids).await?;
        *cursor = LogCursor {
            identity: self.wal.file_identity()?,
            offset: valid_end,
            last_lsn,
        };
        self.bump(|s| s.cluster_reloads += 1);
        Ok(())
    }
}
