//! Transactions: the unit of atomicity across every store of every crate.
//!
//! A [`Transaction`] collects one private view per store it touches. Commit
//! (see [`crate::engine`] for the protocol) makes all of them durable with a
//! single WAL record, or none. After any error inside a transaction it is
//! rolled back and every later call fails with
//! [`SopError::TransactionClosed`] naming the original reason.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use uuid::Uuid;

use crate::btree::key_search::KeySearch;
use crate::btree::ops::encode_ops;
use crate::btree::store::{open_typed, StoreShared};
use crate::btree::version::TreeVersion;
use crate::btree::view::TreeView;
use crate::cluster::CommitSection;
use crate::engine::{Engine, RetiredView};
use crate::error::{Result, SopError};
use crate::options::{StoreOptions, TransactionMode, TransactionOptions, MAX_MAX_TIME};
use crate::storage::catalog::{now_ms, StoreInfo};
use crate::storage::commit_record::{CommitRecord, StoreRecord};
use crate::{Key, Value};

/// A store's contribution to a commit, ready to publish.
pub(crate) struct Prepared {
    pub record: Option<StoreRecord>,
    /// Builds the store's next version (pure CPU work, run during the WAL
    /// write) and returns what makes it visible, run once the record is
    /// durable.
    pub build: Box<dyn FnOnce() -> Publish + Send>,
    pub superseded: Vec<Uuid>,
    pub merged: bool,
}

/// Makes a committed store version visible.
pub(crate) type Publish = Box<dyn FnOnce() + Send>;

/// Builds a store's next version from the committing view.
type BuildVersion<K, V> = Box<dyn FnOnce() -> TreeVersion<K, V> + Send>;

/// The type-erased face of a transaction's view of one store.
#[async_trait]
pub(crate) trait ErasedView: Send + Sync + 'static {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn has_changes(&self) -> bool;
    fn commit_lock(&self) -> Arc<tokio::sync::Mutex<()>>;
    /// Checks the view's reads against the newest committed version.
    async fn validate(&self) -> Result<()>;
    /// Validates and merges; returns what to log and publish.
    async fn prepare(self: Arc<Self>, engine: &Arc<Engine>) -> Result<Prepared>;
    /// After a commit: swaps the view's state for an empty view of the
    /// store's current version and returns the old state, to be dropped later
    /// ([`Engine::retire_view`]).
    fn take_state(&self) -> RetiredView;
}

/// A transaction's view of one store plus what the store needs at commit.
pub(crate) struct ViewCell<K: 'static, V> {
    pub shared: Arc<StoreShared<K, V>>,
    pub view: parking_lot::Mutex<TreeView<K, V>>,
    pub created: Option<StoreInfo>,
}

impl<K: Key, V: Value> ViewCell<K, V> {
    async fn check_reads_on(
        &self,
        current: &Arc<crate::btree::version::TreeVersion<K, V>>,
    ) -> Result<()> {
        let (base_seq, reads) = {
            let v = self.view.lock();
            (v.base.seq, v.reads.clone())
        };
        if base_seq == current.seq || reads.is_empty() {
            return Ok(());
        }
        let temp =
            parking_lot::Mutex::new(TreeView::new(self.shared.clone(), current.clone(), false));
        for r in &reads {
            if !self.shared.drive(&temp, |v| v.still_holds(r)).await? {
                return Err(SopError::Conflict {
                    store: self.shared.name.clone(),
                    reason: "an item this transaction read was changed by another transaction"
                        .into(),
                });
            }
        }
        Ok(())
    }
}

#[async_trait]
impl<K: Key, V: Value> ErasedView for ViewCell<K, V> {
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn has_changes(&self) -> bool {
        self.created.is_some() || !self.view.lock().is_clean()
    }

    fn commit_lock(&self) -> Arc<tokio::sync::Mutex<()>> {
        self.shared.commit_lock.clone()
    }

    async fn validate(&self) -> Result<()> {
        let current = self.shared.current();
        self.check_reads_on(&current).await
    }

    fn take_state(&self) -> RetiredView {
        let fresh = TreeView::new(self.shared.clone(), self.shared.current(), false);
        Box::new(std::mem::replace(&mut *self.view.lock(), fresh))
    }

    async fn prepare(self: Arc<Self>, engine: &Arc<Engine>) -> Result<Prepared> {
        let name = self.shared.name.clone();
        if let Some(info) = &self.created {
            let catalog = engine.catalog.lock();
            let taken = catalog.stores.contains_key(&info.name)
                || catalog.stores.values().any(|s| s.id == info.id);
            if taken {
                return Err(SopError::Conflict {
                    store: name,
                    reason: "the store was created concurrently by another transaction".into(),
                });
            }
        }
        let current = self.shared.current();
        let base_seq = self.view.lock().base.seq;
        // The next version is built by `build`, which the commit runs while
        // the record is written and synced: it reads nothing from the disk.
        let (build, ops, superseded, merged): (BuildVersion<K, V>, _, _, _) = if base_seq
            == current.seq
        {
            let (ops, superseded) = {
                let v = self.view.lock();
                (v.ops.clone(), v.superseded.clone())
            };
            let cell = self.clone();
            let base = current.clone();
            let build: BuildVersion<K, V> =
                Box::new(move || StoreShared::build_version(&base, &cell.view.lock()));
            (build, ops, superseded, false)
        } else {
            self.check_reads_on(&current).await?;
            let ops = self.view.lock().ops.clone();
            let temp =
                parking_lot::Mutex::new(TreeView::new(self.shared.clone(), current.clone(), false));
            for op in &ops {
                self.shared.drive(&temp, |v| v.apply_op(op)).await?;
            }
            let t = temp.into_inner();
            let mut superseded = t.superseded.clone();
            superseded.extend(self.view.lock().superseded.iter().copied());
            let base = current.clone();
            let build: BuildVersion<K, V> = Box::new(move || StoreShared::build_version(&base, &t));
            (build, ops, superseded, true)
        };
        let record = if ops.is_empty() && self.created.is_none() {
            None
        } else {
            Some(StoreRecord {
                store_id: self.shared.id,
                name: name.clone(),
                create: self.created.clone(),
                drop: false,
                ops: if ops.is_empty() {
                    Vec::new()
                } else {
                    encode_ops(&name, &ops)?
                },
            })
        };
        let shared = self.shared.clone();
        let created = self.created.clone();
        let engine = engine.clone();
        let build = Box::new(move || {
            let next = Arc::new(build());
            Box::new(move || {
                *shared.committed.write() = next;
                if let Some(info) = created {
                    engine.catalog.lock().stores.insert(info.name.clone(), info);
                    engine
                        .stores
                        .lock()
                        .insert(shared.name.clone(), shared.clone());
                }
            }) as Publish
        });
        Ok(Prepared {
            record,
            build,
            superseded,
            merged,
        })
    }
}

#[derive(Debug, Clone)]
enum Status {
    Active,
    /// `commit` runs: the views are being logged and published, so no
    /// operation may change them any more.
    Committing,
    Committed,
    Closed(String),
}

struct TxState {
    status: Status,
    views: BTreeMap<String, Arc<dyn ErasedView>>,
    written_blobs: Vec<Uuid>,
}

pub(crate) struct TxInner {
    pub engine: Arc<Engine>,
    pub mode: TransactionMode,
    pub max_time: Duration,
    pub started: Instant,
    pub id: u64,
    generation: u64,
    /// Set once the transaction left the active state and was unregistered.
    ended: std::sync::atomic::AtomicBool,
    /// Operations since the clock was last read (see [`DEADLINE_CHECK_EVERY`]).
    unclocked: AtomicU32,
    /// True exactly while `state.status` is `Active`: cleared under the
    /// `state` lock in the same critical section that changes the status, so
    /// an operation's check can skip the lock.
    active: AtomicBool,
    state: Mutex<TxState>,
}

/// Operations read the clock for the `max_time` deadline once every
/// `DEADLINE_CHECK_EVERY` calls (a clock read per operation was a visible share of a
/// point read); a transaction past its deadline fails on one of its next
/// `DEADLINE_CHECK_EVERY` operations, and always at commit, which reads the clock.
pub const DEADLINE_CHECK_EVERY: u32 = 64;

impl TxInner {
    /// Moves `state` (this transaction's, locked by the caller) out of the
    /// active status, clearing `active` in the same critical section.
    fn leave_active(&self, state: &mut TxState, status: Status) {
        state.status = status;
        self.active.store(false, Ordering::Release);
    }

    /// Unregisters the transaction from garbage-collection bookkeeping (once).
    fn end(&self) {
        if !self.ended.swap(true, Ordering::AcqRel) {
            self.engine.tx_end(self.generation);
        }
    }
}

impl Drop for TxInner {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if matches!(state.status, Status::Active | Status::Committing) {
            // Abandoned without commit or rollback: its blobs become garbage.
            self.engine.retire(std::mem::take(&mut state.written_blobs));
        }
        self.end();
    }
}

/// A transaction. Cheap to clone; clones share the same transaction.
///
/// ```no_run
/// # async fn demo(db: sop_core::Database) -> sop_core::Result<()> {
/// use sop_core::{StoreOptions, TransactionMode};
/// let tx = db.begin(TransactionMode::ForWriting).await?;
/// let people = tx.new_btree::<String, u32>("people", StoreOptions::default()).await?;
/// people.add("ada".into(), 36).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Transaction {
    pub(crate) inner: Arc<TxInner>,
}

impl Transaction {
    pub(crate) fn begin(engine: Arc<Engine>, options: TransactionOptions) -> Transaction {
        let generation = engine.tx_begin();
        Transaction {
            inner: Arc::new(TxInner {
                engine,
                mode: options.mode,
                max_time: options.max_time.min(MAX_MAX_TIME),
                started: Instant::now(),
                id: rand::random::<u64>() | 1,
                generation,
                ended: std::sync::atomic::AtomicBool::new(false),
                unclocked: AtomicU32::new(0),
                active: AtomicBool::new(true),
                state: Mutex::new(TxState {
                    status: Status::Active,
                    views: BTreeMap::new(),
                    written_blobs: Vec::new(),
                }),
            }),
        }
    }

    /// The transaction's mode.
    pub fn mode(&self) -> TransactionMode {
        self.inner.mode
    }

    /// The effective `max_time` (capped at [`MAX_MAX_TIME`]).
    pub fn max_time(&self) -> Duration {
        self.inner.max_time
    }

    /// The transaction's id (stamped as version on every item it writes).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// True until commit, rollback or a failure.
    pub fn is_active(&self) -> bool {
        matches!(self.inner.state.lock().status, Status::Active)
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// Fails unless the transaction is active and within its `max_time`;
    /// an operation's check, which reads the clock only once every
    /// [`DEADLINE_CHECK_EVERY`] calls (the count is per transaction and may lose an
    /// increment when tasks race: it only paces the clock reads).
    pub(crate) fn check_active(&self) -> Result<()> {
        let n = self.inner.unclocked.load(Ordering::Relaxed);
        let clock = n == 0;
        let next = if n + 1 >= DEADLINE_CHECK_EVERY {
            0
        } else {
            n + 1
        };
        self.inner.unclocked.store(next, Ordering::Relaxed);
        self.check_status(clock)
    }

    /// [`Transaction::check_active`] with a clock read every time (commit
    /// and rollback).
    fn check_active_now(&self) -> Result<()> {
        self.check_status(true)
    }

    fn check_status(&self, clock: bool) -> Result<()> {
        if !clock && self.inner.active.load(Ordering::Acquire) {
            return Ok(());
        }
        match &self.inner.state.lock().status {
            Status::Active => {}
            Status::Committing => {
                return Err(SopError::TransactionClosed("it is being committed".into()))
            }
            Status::Committed => {
                return Err(SopError::TransactionClosed("it was committed".into()))
            }
            Status::Closed(why) => return Err(SopError::TransactionClosed(why.clone())),
        }
        if clock && self.inner.started.elapsed() > self.inner.max_time {
            let e = SopError::Timeout(self.inner.max_time);
            self.close(&e);
            return Err(e);
        }
        Ok(())
    }

    /// Marks the transaction rolled back because of `e` and drops its work.
    pub(crate) fn close(&self, e: &SopError) {
        let blobs = {
            let mut s = self.inner.state.lock();
            if !matches!(s.status, Status::Active | Status::Committing) {
                return;
            }
            self.inner.leave_active(
                &mut s,
                Status::Closed(format!("rolled back after an error: {e}")),
            );
            s.views.clear();
            std::mem::take(&mut s.written_blobs)
        };
        self.inner.engine.retire(blobs);
        self.inner.end();
    }

    /// Whether a store named `name` exists (committed, or created by this
    /// transaction). Does not open it and never fails the transaction.
    pub fn has_btree(&self, name: &str) -> bool {
        self.inner.state.lock().views.contains_key(name)
            || self.inner.engine.catalog.lock().stores.contains_key(name)
    }

    pub(crate) fn note_blob(&self, id: Uuid) {
        self.inner.state.lock().written_blobs.push(id);
    }

    /// Opens the store `name` in this transaction; with `create`, creates it
    /// when missing (checking compatibility when it exists).
    pub(crate) async fn open_view<K: Key, V: Value>(
        &self,
        name: &str,
        create: Option<StoreOptions>,
        order: KeySearch<K>,
    ) -> Result<Arc<ViewCell<K, V>>> {
        self.check_active()?;
        let r = self.open_view_inner(name, create, order).await;
        if let Err(e) = &r {
            self.close(e);
        }
        r
    }

    async fn open_view_inner<K: Key, V: Value>(
        &self,
        name: &str,
        create: Option<StoreOptions>,
        order: KeySearch<K>,
    ) -> Result<Arc<ViewCell<K, V>>> {
        if name.is_empty() || name.len() > 512 {
            return Err(SopError::InvalidArgument {
                field: "name",
                reason: format!("store names must be 1..=512 bytes, got {}", name.len()),
            });
        }
        let existing = self.inner.state.lock().views.get(name).cloned();
        if let Some(v) = existing {
            let cell = v.as_any().downcast::<ViewCell<K, V>>().map_err(|_| {
                SopError::IncompatibleStore {
                    store: name.to_string(),
                    reason: "already opened in this transaction with other key/value types".into(),
                }
            })?;
            if let Some(opts) = &create {
                check_compatible(name, &cell.shared.options, opts)?;
            }
            return Ok(cell);
        }
        let engine = self.inner.engine.clone();
        let info = engine.catalog.lock().stores.get(name).cloned();
        let (shared, created) = match (info, create) {
            (Some(info), create) => {
                if let Some(opts) = &create {
                    check_compatible(name, &info.options, opts)?;
                }
                (open_typed::<K, V>(&engine, &info, order).await?, None)
            }
            (None, Some(opts)) => {
                opts.validate(name)?;
                if self.inner.mode != TransactionMode::ForWriting {
                    return Err(SopError::ReadOnlyTransaction {
                        store: name.to_string(),
                        op: "new_btree",
                        mode: self.inner.mode,
                    });
                }
                let info = {
                    let mut c = engine.catalog.lock();
                    let id = if engine.cluster.is_some() {
                        // Processes allocate independently: a random id
                        // (checked again at commit) instead of a counter.
                        loop {
                            let id = rand::random::<u32>() | (1 << 31);
                            if !c.stores.values().any(|s| s.id == id) {
                                break id;
                            }
                        }
                    } else {
                        let id = c.next_store_id.max(1);
                        c.next_store_id = id + 1;
                        id
                    };
                    StoreInfo {
                        name: name.to_string(),
                        id,
                        options: opts,
                        root: engine.allocate_node_id(),
                        count: 0,
                        flushed_lsn: 0,
                        created_ms: now_ms(),
                    }
                };
                (
                    Arc::new(StoreShared::new(engine.clone(), &info, order)),
                    Some(info),
                )
            }
            (None, None) => return Err(SopError::StoreNotFound(name.to_string())),
        };
        let track = self.inner.mode != TransactionMode::NoCheck;
        let view = TreeView::new(shared.clone(), shared.current(), track);
        let cell = Arc::new(ViewCell {
            shared,
            view: parking_lot::Mutex::new(view),
            created,
        });
        self.inner
            .state
            .lock()
            .views
            .insert(name.to_string(), cell.clone());
        Ok(cell)
    }

    /// Commits: every change of every store becomes durable and visible
    /// atomically, or the transaction is rolled back and the error says why.
    pub async fn commit(&self) -> Result<()> {
        self.check_active_now()?;
        let (views, blobs) = {
            let mut s = self.inner.state.lock();
            if !matches!(s.status, Status::Active) {
                return Err(SopError::TransactionClosed(
                    "it was closed while its commit began".into(),
                ));
            }
            // From here on operations through the transaction's handles
            // fail: the views must not change while they are logged and
            // the next versions are built from them.
            self.inner.leave_active(&mut s, Status::Committing);
            (
                std::mem::take(&mut s.views),
                std::mem::take(&mut s.written_blobs),
            )
        };
        if let Err(e) = self.commit_views(views, blobs.clone()).await {
            self.inner.state.lock().written_blobs = blobs;
            self.close(&e);
            return Err(e);
        }
        {
            let mut s = self.inner.state.lock();
            self.inner.leave_active(&mut s, Status::Committed);
        }
        self.inner.end();
        // Maintenance after the commit point: failures here never undo the
        // commit; they are reported and retried by the next commit.
        let engine = &self.inner.engine;
        let maintenance = async {
            engine.collect_garbage().await?;
            if engine.wal.len() > engine.options.checkpoint_wal_bytes {
                engine.checkpoint().await?;
            }
            Ok::<(), SopError>(())
        };
        if let Err(e) = maintenance.await {
            engine.note_maintenance_error(&e);
        }
        Ok(())
    }

    async fn commit_views(
        &self,
        views: BTreeMap<String, Arc<dyn ErasedView>>,
        blobs: Vec<Uuid>,
    ) -> Result<()> {
        let engine = self.inner.engine.clone();
        if self.inner.mode == TransactionMode::NoCheck {
            return Ok(());
        }
        if !views.values().any(|v| v.has_changes()) {
            // Clustered: validate against what every process committed.
            engine.catch_up().await?;
            for v in views.values() {
                v.validate().await?;
            }
            return Ok(());
        }
        let deadline = self.inner.started + self.inner.max_time;
        let Some(cluster) = engine.cluster.clone() else {
            return self.commit_locally(&views, blobs, deadline, None).await;
        };
        // Clustered: the whole commit runs inside a commit section, after
        // absorbing every record other processes committed before it.
        let section = cluster.enter(self.inner.max_time, deadline).await?;
        let mut cursor = engine.log_cursor.lock().await;
        let done = async {
            engine.follow_log(&mut cursor, true).await?;
            self.commit_locally(&views, blobs, deadline, Some(&section))
                .await?;
            cursor.offset = engine.wal.len();
            cursor.last_lsn = engine.wal.last_lsn();
            Ok(())
        }
        .await;
        drop(cursor);
        section.release().await;
        done
    }

    /// The commit protocol of `crate::engine` on this process's state; with
    /// a cluster `section`, its lock is confirmed right before the commit
    /// point.
    async fn commit_locally(
        &self,
        views: &BTreeMap<String, Arc<dyn ErasedView>>,
        blobs: Vec<Uuid>,
        deadline: Instant,
        section: Option<&CommitSection>,
    ) -> Result<()> {
        let engine = self.inner.engine.clone();
        let timeout = SopError::Timeout(self.inner.max_time);
        // Locks are taken under the deadline; once the WAL append starts the
        // commit runs to completion (a timeout there could lie about durability).
        let locked = tokio::time::timeout_at(deadline.into(), async {
            let gate = engine.commit_gate.clone().read_owned().await;
            let mut guards = Vec::with_capacity(views.len());
            for v in views.values() {
                guards.push(v.commit_lock().lock_owned().await);
            }
            (gate, guards)
        })
        .await;
        let Ok((gate, guards)) = locked else {
            return Err(timeout);
        };
        let mut prepared = Vec::with_capacity(views.len());
        let mut changed = Vec::with_capacity(views.len());
        for v in views.values() {
            if v.has_changes() {
                changed.push(v);
                prepared.push(v.clone().prepare(&engine).await?);
            } else {
                v.validate().await?;
            }
        }
        if Instant::now() > deadline {
            return Err(timeout);
        }
        if let Some(section) = section {
            section.confirm().await?;
        }
        let (mut stores, mut builds, mut superseded) = (Vec::new(), Vec::new(), Vec::new());
        let mut merged = false;
        for p in prepared {
            stores.extend(p.record);
            builds.push(p.build);
            superseded.extend(p.superseded);
            merged |= p.merged;
        }
        let record = CommitRecord {
            tx_id: self.inner.id,
            stores,
        };
        // While the record is written and synced, this thread drops the
        // views retired by earlier commits and builds the next versions
        // (CPU work that would otherwise wait for the disk or delay the
        // caller). Nothing is published before the record is durable.
        let retired = engine.take_retired_views();
        let (logged, publishes) = tokio::join!(engine.log_commit(record, blobs), async move {
            drop(retired);
            builds.into_iter().map(|build| build()).collect::<Vec<_>>()
        });
        logged?;
        for publish in publishes {
            publish();
        }
        for v in changed {
            engine.retire_view(v.take_state());
        }
        engine.generation.fetch_add(1, Ordering::AcqRel);
        engine.retire_shared(superseded);
        if merged {
            engine.bump(|s| s.merged_commits += 1);
        }
        drop(guards);
        drop(gate);
        Ok(())
    }

    /// Rolls back: nothing this transaction did becomes visible.
    pub async fn rollback(&self) -> Result<()> {
        self.check_active_now()?;
        let blobs = {
            let mut s = self.inner.state.lock();
            self.inner
                .leave_active(&mut s, Status::Closed("it was rolled back".into()));
            s.views.clear();
            std::mem::take(&mut s.written_blobs)
        };
        self.inner.engine.retire(blobs);
        self.inner.end();
        self.inner.engine.collect_garbage().await
    }
}

fn check_compatible(name: &str, stored: &StoreOptions, requested: &StoreOptions) -> Result<()> {
    let mut diffs = Vec::new();
    if stored.slot_length != requested.slot_length {
        diffs.push(format!(
            "slot_length {} != {}",
            stored.slot_length, requested.slot_length
        ));
    }
    if stored.unique != requested.unique {
        diffs.push(format!("unique {} != {}", stored.unique, requested.unique));
    }
    if stored.value_placement != requested.value_placement {
        diffs.push(format!(
            "value_placement {:?} != {:?}",
            stored.value_placement, requested.value_placement
        ));
    }
    if stored.index_spec != requested.index_spec {
        diffs.push("index_spec differs".into());
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(SopError::IncompatibleStore {
            store: name.to_string(),
            reason: format!("stored vs requested: {}", diffs.join(", ")),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use crate::engine::RETIRED_VIEWS_MAX;
    use crate::{Database, DatabaseOptions, TransactionMode};

    /// Counts its drops.
    struct Tracked(Arc<AtomicUsize>);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A database in a fresh temporary folder (kept alive by the guard).
    async fn temp_db() -> crate::Result<(tempfile::TempDir, Database)> {
        let dir = tempfile::tempdir().map_err(|e| crate::SopError::io(std::env::temp_dir(), e))?;
        let db = Database::open(DatabaseOptions::new(dir.path())).await?;
        Ok((dir, db))
    }

    #[tokio::test]
    async fn retired_views_are_bounded_and_dropped_by_the_next_commit() -> crate::Result<()> {
        let (_dir, db) = temp_db().await?;
        let engine = db.engine.clone();
        let drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..RETIRED_VIEWS_MAX + 3 {
            engine.retire_view(Box::new(Tracked(drops.clone())));
        }
        // Past the bound the oldest go at once.
        assert_eq!(drops.load(Ordering::SeqCst), 3);

        // A commit drops what earlier commits retired and retires its own view.
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let tree = tx.new_btree::<u64, String>("t", Default::default()).await?;
        for i in 0..500u64 {
            tree.add(i, format!("v{i}")).await?;
        }
        tx.commit().await?;
        assert_eq!(drops.load(Ordering::SeqCst), RETIRED_VIEWS_MAX + 3);
        let retired = engine.take_retired_views();
        assert_eq!(retired.len(), 1, "the committed view is retired");
        drop(retired);

        // The handle of the committed transaction refuses work; the data is there.
        assert!(tree.add(1000, "late".into()).await.is_err());
        let tx = db.begin(TransactionMode::ForReading).await?;
        let tree = tx.open_btree::<u64, String>("t").await?;
        assert_eq!(tree.count().await?, 500);
        assert_eq!(tree.get(&499).await?.as_deref(), Some("v499"));
        tx.commit().await?;
        db.close().await
    }

    #[tokio::test]
    async fn operations_fail_while_the_transaction_commits() -> crate::Result<()> {
        let (_dir, db) = temp_db().await?;
        let tx = db.begin(TransactionMode::ForWriting).await?;
        let tree = tx.new_btree::<u64, String>("t", Default::default()).await?;
        tree.add(1, "one".into()).await?;
        // The state `commit` puts the transaction in before logging its views.
        {
            let mut s = tx.inner.state.lock();
            tx.inner.leave_active(&mut s, super::Status::Committing);
        }
        let err = tree.add(2, "two".into()).await.err();
        assert!(
            matches!(&err, Some(crate::SopError::TransactionClosed(why)) if why.contains("being committed")),
            "{err:?}"
        );
        assert!(!tx.is_active());
        assert!(tx.commit().await.is_err(), "a second commit is refused");
        drop(tree);
        drop(tx);
        db.close().await
    }
}
