//! The engine: everything a database shares between its transactions.
//!
//! Owns the blob store, the registry (files and in-memory handles), the WAL,
//! the catalog, the caches, the open typed stores and the garbage list.
//!
//! # Commit protocol (see ARCHITECTURE.md)
//! 1. Lock the commit gate shared, then each touched store's commit lock in
//!    name order (no deadlock).
//! 2. Per store: if nobody committed since the transaction's snapshot, its
//!    overlay becomes the new version; otherwise re-validate its reads against
//!    the newest version and replay its effective ops there (refetch-and-merge).
//! 3. Fsync the value blobs it wrote, append one WAL record, fsync the WAL:
//!    **the commit point**.
//! 4. Publish the new versions; release locks; queue superseded blobs.
//!
//! # Checkpoint
//! Takes the gate exclusively, writes every dirty node as a new blob, then a
//! journal holding the changed registry blocks and the new catalog; once the
//! journal is durable the blocks and catalog are written in place, the WAL is
//! trimmed and the journal removed. A crash anywhere replays the journal (if
//! complete) or ignores it (if not) — the WAL still covers everything.
//!
//! # Garbage
//! A superseded blob is deleted only when every transaction that began before
//! it was superseded has ended (`generation` bookkeeping).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use crate::btree::store::ErasedStore;
use crate::cache::l1::L1Cache;
use crate::cache::l2::{L2Cache, MemoryL2Cache};
use crate::cluster::{Cluster, LogCursor};
use crate::error::{Result, SopError};
use crate::log_replay::ReplayState;
use crate::options::DatabaseOptions;
use crate::storage::blob_store::pack::PackRef;
use crate::storage::blob_store::{BlobStore, FileBlobBackend};
use crate::storage::catalog::{now_ms, Catalog, DeferredBlob};
use crate::storage::commit_record::{CommitRecord, StoreRecord};
use crate::storage::frame::{self, FrameKind};
use crate::storage::registry::{
    encode_block, BlockImage, Handle, NodeId, RegistryFiles, RegistryLoadReport, BLOCK_SIZE,
    HANDLES_PER_BLOCK,
};
use crate::storage::replication::{self, Replication, ReplicationStatus};
use crate::storage::wal::{wal_path, RecordBuf, Wal, WalEntry};
use crate::storage::{checked_json, fsio};

/// Clustered mode: how long a superseded blob outlives its replacement, so
/// that any transaction of any process that could read it has ended
/// (transactions live at most [`crate::MAX_MAX_TIME`]).
pub const SHARED_BLOB_GRACE: std::time::Duration =
    std::time::Duration::from_secs(crate::MAX_MAX_TIME.as_secs() + 60);

/// Registry handles by logical node id.
pub type RegistryMap = crate::id_hash::IdMap<NodeId, Handle>;

/// Ops of one store waiting to be replayed when the store is first opened.
#[derive(Debug, Clone)]
pub struct PendingOps {
    /// WAL position.
    pub lsn: u64,
    /// Transaction that wrote them.
    pub tx_id: u64,
    /// Encoded ops.
    pub ops: Vec<u8>,
}

/// Counters reported by [`crate::Database::stats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    /// Checkpoints taken by this process.
    pub checkpoints: u64,
    /// Commits that needed refetch-and-merge.
    pub merged_commits: u64,
    /// Registry blocks repaired at open.
    pub repaired_blocks: u64,
    /// WAL records replayed at open.
    pub replayed_records: u64,
    /// Blobs deleted by garbage collection.
    pub collected_blobs: u64,
    /// Post-commit maintenance (GC, checkpoint) failures; the commits stood.
    pub maintenance_errors: u64,
    /// Clustered mode: records of other processes applied.
    pub followed_records: u64,
    /// Clustered mode: reloads after another process's checkpoint.
    pub cluster_reloads: u64,
}

/// Shared state of an open database.
pub struct Engine {
    /// The primary stores folder.
    pub folder: PathBuf,
    /// Options the database was opened with.
    pub options: DatabaseOptions,
    /// Node and value blobs.
    pub blobs: BlobStore,
    /// The erasure-coding backend when blobs are erasure coded (for health
    /// inspection and repair).
    pub erasure: Option<Arc<crate::storage::erasure::ErasureBlobBackend>>,
    /// Metadata sides: one per stores folder when replicated (index =
    /// position in `stores_folders`), else just the first folder.
    pub sides: Vec<MetaSide>,
    /// Active/passive replication of the metadata (two stores folders).
    pub replication: Option<Replication>,
    /// Where node and value blobs live without erasure coding.
    pub blobs_folder: PathBuf,
    /// In-memory registry handles: an immutable snapshot replaced (never
    /// mutated) by checkpoints and reloads, so a view keeps resolving its
    /// snapshot's clean nodes to the blobs they had when it began.
    pub registry: RwLock<Arc<RegistryMap>>,
    /// Decoded nodes.
    pub l1: L1Cache,
    /// Decoded values of medium placement.
    pub values: L1Cache,
    /// The L2 cache.
    pub l2: Arc<dyn L2Cache>,
    /// TTLs of L2 entries per kind.
    pub ttls: crate::cache::l2::CacheTtls,
    /// The write-ahead log.
    pub wal: Wal,
    /// How far this process has absorbed the WAL (clustered mode: other
    /// processes append to it too). Held by commit sections and following.
    pub log_cursor: tokio::sync::Mutex<LogCursor>,
    /// Clustered mode: Redis and the commit section; `None` standalone.
    pub cluster: Option<Arc<Cluster>>,
    /// Clustered mode: blobs superseded here that other processes may still
    /// read, with the Unix milliseconds after which they may be deleted;
    /// merged into the catalog's list by the next checkpoint.
    pub deferred: Mutex<Vec<DeferredBlob>>,
    /// The catalog as of the last checkpoint plus stores created since.
    pub catalog: Mutex<Catalog>,
    /// Stores opened with their types.
    pub stores: Mutex<HashMap<String, Arc<dyn ErasedStore>>>,
    /// Serialises typed opening of stores.
    pub open_lock: tokio::sync::Mutex<()>,
    /// Ops waiting for their store to be opened.
    pub pending: Mutex<HashMap<u32, Vec<PendingOps>>>,
    /// Store ids removed since the last checkpoint.
    pub dropped: Mutex<HashSet<u32>>,
    /// Commits hold it shared; checkpoints exclusively.
    pub commit_gate: Arc<tokio::sync::RwLock<()>>,
    next_node_id: AtomicU64,
    /// Bumped by every commit.
    pub generation: AtomicU64,
    active: Mutex<BTreeMap<u64, usize>>,
    garbage: Mutex<Vec<(u64, Uuid)>>,
    /// What committed transactions' views held (above all the tree versions
    /// their commits replaced), dropped by the next commit while it waits
    /// for its WAL write (see [`Engine::take_retired_views`]). Invariant:
    /// nothing here is ever read again; at most [`RETIRED_VIEWS_MAX`]
    /// entries.
    retired_views: Mutex<Vec<RetiredView>>,
    stats: Mutex<EngineStats>,
}

/// A committed transaction's view state, kept only to be dropped later.
pub type RetiredView = Box<dyn std::any::Any + Send>;

/// Most retired views kept: past it, the oldest is dropped at once.
pub const RETIRED_VIEWS_MAX: usize = 16;

/// One copy of the metadata (registry, catalog, WAL, journal).
pub struct MetaSide {
    /// The stores folder.
    pub folder: PathBuf,
    /// Its registry files.
    pub registry: RegistryFiles,
}

const CATALOG_TAG: &str = "catalog";
const OPTIONS_TAG: &str = "options";

impl Engine {
    /// Opens or creates the database files and recovers.
    pub fn open(options: DatabaseOptions, cluster: Option<Arc<Cluster>>) -> Result<Engine> {
        options.validate()?;
        let persisted = options.persisted();
        let mut folder_errors: Vec<Option<SopError>> = Vec::new();
        for folder in &options.stores_folders {
            let checked = check_options_file(folder, &persisted);
            match checked {
                Err(e @ SopError::OptionsConflict { .. }) => return Err(e),
                Err(e) if options.stores_folders.len() == 1 => return Err(e),
                r => folder_errors.push(r.err()),
            }
        }
        let folder = options.stores_folders[0].clone();
        let sides: Vec<MetaSide> = options
            .stores_folders
            .iter()
            .map(|f| MetaSide {
                folder: f.clone(),
                registry: RegistryFiles::new(f, options.registry_segment_blocks),
            })
            .collect();
        let (replication, needs_write) = if sides.len() == 2 {
            let d = Replication::decide([sides[0].folder.clone(), sides[1].folder.clone()])?;
            (Some(d.replication), d.needs_write)
        } else {
            (None, [false; 2])
        };
        let active = replication.as_ref().map_or(0, Replication::active);
        let meta_folder = sides[active].folder.clone();
        let registry_files = &sides[active].registry;
        if let Some(e) = folder_errors[active].take() {
            return Err(e);
        }
        if let Some(rep) = &replication {
            if needs_write[active] {
                rep.persist(active)?;
            }
            if let Some(e) = folder_errors[1 - active].take() {
                rep.mark_passive_stale(&e)?;
            }
        }
        let (catalog, handles, report) = load_checkpoint(&meta_folder, registry_files)?;
        let mut replay = ReplayState::new(catalog);
        let clustered = matches!(options.mode, crate::options::Mode::Clustered { .. });
        // Clustered: another process may be appending right now, so a torn
        // tail is only cut by a process holding the cluster commit lock.
        let (wal, entries) = Wal::open(&meta_folder, replay.min_needed_lsn(), !clustered)?;
        if let Some(rep) = &replication {
            if let Some(p) = rep.live_passive() {
                // Fast-forward the passive side (erases any divergence a crash
                // between the two sides' writes left) and mirror the WAL there.
                let to = &sides[p].folder;
                let synced = replication::fast_forward(&meta_folder, to)
                    .and_then(|_| wal.attach_mirror(&wal_path(to)))
                    .and_then(|_| {
                        if needs_write[p] {
                            rep.persist(p)
                        } else {
                            Ok(())
                        }
                    });
                if let Err(e) = synced {
                    wal.detach_mirror();
                    rep.mark_passive_stale(&e)?;
                }
            }
        }
        let max_id = handles.keys().copied().max().unwrap_or(0);
        let mut next_node_id = replay.catalog.next_node_id.max(max_id + 1).max(1);
        for entry in &entries {
            replay.absorb(entry, || {
                next_node_id += 1;
                next_node_id - 1
            })?;
        }
        let log_cursor = LogCursor::at_end_of(&wal)?;
        let blobs_folder = options
            .blobs_folder
            .clone()
            .unwrap_or_else(|| folder.clone());
        let (backend, erasure): (Arc<dyn crate::storage::blob_store::BlobBackend>, _) =
            match &options.erasure {
                Some(cfg) => {
                    let ec = Arc::new(crate::storage::erasure::ErasureBlobBackend::new(
                        cfg.clone(),
                    )?);
                    (ec.clone(), Some(ec))
                }
                None => (Arc::new(FileBlobBackend::new(&blobs_folder)), None),
            };
        let blobs = BlobStore::new(backend);
        let engine = Engine {
            sides,
            replication,
            blobs_folder,
            l1: L1Cache::new(options.l1_cache_nodes),
            values: L1Cache::new(options.value_cache_items),
            ttls: options.cache_ttls,
            folder,
            blobs,
            erasure,
            registry: RwLock::new(Arc::new(handles.into_iter().collect())),
            wal,
            log_cursor: tokio::sync::Mutex::new(log_cursor),
            l2: match &cluster {
                Some(c) => Arc::new(crate::cluster::RedisL2Cache::new(
                    c.client.clone(),
                    c.prefix.clone(),
                )),
                None => Arc::new(MemoryL2Cache::new(options.l2_cache_entries)),
            },
            cluster,
            deferred: Mutex::new(Vec::new()),
            catalog: Mutex::new(replay.catalog),
            stores: Mutex::new(HashMap::new()),
            open_lock: tokio::sync::Mutex::new(()),
            pending: Mutex::new(replay.pending),
            dropped: Mutex::new(replay.dropped),
            commit_gate: Arc::new(tokio::sync::RwLock::new(())),
            next_node_id: AtomicU64::new(next_node_id),
            generation: AtomicU64::new(1),
            active: Mutex::new(BTreeMap::new()),
            garbage: Mutex::new(Vec::new()),
            retired_views: Mutex::new(Vec::new()),
            stats: Mutex::new(EngineStats {
                repaired_blocks: report.repaired,
                replayed_records: replay.records,
                ..Default::default()
            }),
            options,
        };
        Ok(engine)
    }

    /// A fresh logical node id.
    pub fn allocate_node_id(&self) -> NodeId {
        self.next_node_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes every later node id at least `min`.
    pub fn raise_node_ids(&self, min: NodeId) {
        self.next_node_id.fetch_max(min, Ordering::AcqRel);
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        *self.stats.lock()
    }

    /// Updates counters.
    pub fn bump(&self, f: impl FnOnce(&mut EngineStats)) {
        f(&mut self.stats.lock());
    }

    /// Records a failure of post-commit maintenance. The commit itself is
    /// durable; the next commit or an explicit checkpoint retries the work.
    pub fn note_maintenance_error(&self, e: &SopError) {
        self.bump(|s| s.maintenance_errors += 1);
        eprintln!("sop-core: post-commit maintenance failed (will retry): {e}");
    }

    /// The current registry snapshot.
    pub fn registry_snapshot(&self) -> Arc<RegistryMap> {
        self.registry.read().clone()
    }

    /// The physical blob of an unchanged node in `registry` (a snapshot).
    pub fn registry_lookup(&self, registry: &RegistryMap, store: &str, id: NodeId) -> Result<Uuid> {
        let problem = match registry.get(&id) {
            Some(h) if !h.deleted => return Ok(h.current()),
            Some(_) => "is marked deleted in the registry",
            None => "has no registry handle",
        };
        Err(SopError::format(
            self.active_side()
                .registry
                .primary_path_of_block(id / HANDLES_PER_BLOCK)
                .0,
            format!("store '{store}': node {id} {problem}"),
        ))
    }

    /// Reads and checks a blob on a blocking thread. With `cache`, the framed
    /// bytes go through the L2 cache (TTL per kind); a cached copy is checked
    /// against its CRC like a disk read, and a damaged one is dropped.
    pub async fn read_blob(
        self: &Arc<Self>,
        id: Uuid,
        kind: FrameKind,
        cache: bool,
    ) -> Result<Vec<u8>> {
        let key = format!("blob:{}", id.simple());
        if cache {
            if let Some(framed) = self.l2.get(&key).await? {
                let path = self.blobs.backend().describe(id);
                match frame::open(&path, kind, &framed) {
                    Ok(payload) => return Ok(payload.to_vec()),
                    Err(_) => self.l2.delete(&key).await?,
                }
            }
        }
        let blobs = self.blobs.clone();
        let payload = fsio::blocking(move || blobs.get(id, kind)).await?;
        if cache {
            let ttl = match kind {
                FrameKind::Node => self.ttls.nodes,
                _ => self.ttls.values,
            };
            self.l2.set(&key, frame::seal(kind, &payload), ttl).await?;
        }
        Ok(payload)
    }

    /// Writes a blob (not yet durable) on a blocking thread.
    pub async fn write_blob(
        self: &Arc<Self>,
        id: Uuid,
        kind: FrameKind,
        payload: Vec<u8>,
    ) -> Result<()> {
        let blobs = self.blobs.clone();
        fsio::blocking(move || blobs.put(id, kind, &payload)).await
    }

    /// Registers a transaction beginning now; returns its generation.
    pub fn tx_begin(&self) -> u64 {
        let g = self.generation.load(Ordering::Acquire);
        *self.active.lock().entry(g).or_default() += 1;
        g
    }

    /// Unregisters a transaction.
    pub fn tx_end(&self, generation: u64) {
        let mut active = self.active.lock();
        if let Some(n) = active.get_mut(&generation) {
            *n -= 1;
            if *n == 0 {
                active.remove(&generation);
            }
        }
    }

    /// Keeps the state of a committed transaction's view to be dropped by
    /// the next commit during its WAL wait. Dropping it frees the nodes the
    /// commit replaced (thousands of leaves for a large commit), work that
    /// would otherwise run on the committing task with the disk idle.
    pub fn retire_view(&self, view: RetiredView) {
        let overflow = {
            let mut views = self.retired_views.lock();
            views.push(view);
            (views.len() > RETIRED_VIEWS_MAX).then(|| views.remove(0))
        };
        drop(overflow);
    }

    /// Takes the retired views for the caller to drop (outside the lock).
    pub fn take_retired_views(&self) -> Vec<RetiredView> {
        std::mem::take(&mut *self.retired_views.lock())
    }

    /// Queues blobs superseded now; they are deleted once no transaction that
    /// could still read them is alive.
    pub fn retire(&self, blobs: impl IntoIterator<Item = Uuid>) {
        let g = self.generation.load(Ordering::Acquire);
        self.garbage
            .lock()
            .extend(blobs.into_iter().map(|b| (g, b)));
    }

    /// Queues blobs superseded by a commit. Clustered, other processes may
    /// still read them, so they wait [`SHARED_BLOB_GRACE`] (persisted by the
    /// next checkpoint); standalone they are ordinary garbage.
    pub fn retire_shared(&self, blobs: Vec<Uuid>) {
        if self.cluster.is_none() {
            return self.retire(blobs);
        }
        let after = now_ms() + SHARED_BLOB_GRACE.as_millis() as u64;
        self.deferred
            .lock()
            .extend(blobs.into_iter().map(|blob| DeferredBlob {
                delete_after_ms: after,
                blob,
            }));
    }

    /// Deletes the garbage no live transaction can reach. A pack whose
    /// references became garbage is deleted once none of them can be read
    /// (see `storage::blob_store::pack_gc`).
    pub async fn collect_garbage(self: &Arc<Self>) -> Result<()> {
        let min_active = self
            .active
            .lock()
            .keys()
            .next()
            .copied()
            .unwrap_or(u64::MAX);
        let (ready, readable) = {
            let mut g = self.garbage.lock();
            let (ready, keep): (Vec<_>, Vec<_>) =
                g.drain(..).partition(|(gen, _)| *gen < min_active);
            *g = keep;
            let ready: Vec<Uuid> = ready.into_iter().map(|(_, b)| b).collect();
            let readable = if ready.iter().any(|b| PackRef::from_uuid(*b).is_some()) {
                let deferred: Vec<Uuid> = self.deferred.lock().iter().map(|d| d.blob).collect();
                let shared: Vec<Uuid> = (self.catalog.lock().deferred_garbage.iter())
                    .map(|d| d.blob)
                    .collect();
                let waiting = g.iter().map(|(_, b)| *b).chain(deferred).chain(shared);
                self.readable_packs(&self.registry_snapshot(), &HashMap::new(), waiting)
            } else {
                HashSet::new()
            };
            (ready, readable)
        };
        if ready.is_empty() {
            return Ok(());
        }
        for b in &ready {
            self.l1.remove(*b);
            self.values.remove(*b);
        }
        let n = ready.len() as u64;
        let blobs = self.blobs.clone();
        fsio::blocking(move || blobs.remove_all(&ready, &readable)).await?;
        self.bump(|s| s.collected_blobs += n);
        Ok(())
    }

    /// Appends a commit record and makes it durable (the commit point).
    pub async fn log_commit(
        self: &Arc<Self>,
        record: CommitRecord,
        value_blobs: Vec<Uuid>,
    ) -> Result<u64> {
        let mut body = RecordBuf::with_capacity(record.size_hint());
        record.encode_into(&mut body)?;
        drop(record);
        let engine = self.clone();
        fsio::blocking(move || {
            engine.check_meta_writable()?;
            if !value_blobs.is_empty() {
                engine.blobs.sync(&value_blobs)?;
            }
            let logged = engine
                .wal
                .append_record(body)
                .and_then(|lsn| engine.wal.sync_through(lsn).map(|_| lsn));
            let lsn = engine.on_active(logged)?;
            engine.after_wal_io()?;
            Ok(lsn)
        })
        .await
    }

    /// Takes a checkpoint: see the module docs. Clustered, inside a commit
    /// section after following every record of every process.
    pub async fn checkpoint(self: &Arc<Self>) -> Result<()> {
        let Some(cluster) = &self.cluster else {
            return self.checkpoint_unlocked().await;
        };
        let section = cluster.enter_for_maintenance().await?;
        let mut cursor = self.log_cursor.lock().await;
        let done = async {
            self.follow_log(&mut cursor, true).await?;
            self.checkpoint_unlocked().await?;
            *cursor = LogCursor::at_end_of(&self.wal)?;
            Ok(())
        }
        .await;
        drop(cursor);
        section.release().await;
        done
    }

    async fn checkpoint_unlocked(self: &Arc<Self>) -> Result<()> {
        let _gate = self.commit_gate.write().await;
        let stores: Vec<Arc<dyn ErasedStore>> = self.stores.lock().values().cloned().collect();
        // 1. Encode dirty nodes (into a pack when the blob backend has them;
        //    a large pack is appended to its file as it grows, so this runs
        //    on a blocking thread).
        type Flushed = (Arc<dyn ErasedStore>, HashMap<NodeId, Uuid>, Vec<NodeId>);
        let blobs = self.blobs.clone();
        let (nodes, mut node_writes, freed, mut per_store) = fsio::blocking(move || {
            let mut nodes = blobs.node_writer();
            let mut node_writes: Vec<(u32, NodeId, Uuid)> = Vec::new();
            let mut freed: Vec<NodeId> = Vec::new();
            let mut per_store: Vec<Flushed> = Vec::new();
            for s in stores {
                let mut map = HashMap::new();
                let dirty_freed = s.collect_dirty(&mut |id, bytes| {
                    let phys = nodes.add(bytes);
                    map.insert(id, phys);
                    node_writes.push((s.id(), id, phys));
                })?;
                nodes.check()?;
                freed.extend(dirty_freed.iter().copied());
                per_store.push((s, map, dirty_freed));
            }
            Ok((nodes, node_writes, freed, per_store))
        })
        .await?;
        // 1b. Move the live nodes of mostly dead packs into this checkpoint's.
        let skip: HashSet<NodeId> = node_writes
            .iter()
            .map(|w| w.1)
            .chain(freed.iter().copied())
            .collect();
        let (nodes, moved) = self.relocate_sparse_packs(nodes, skip).await?;
        for (store_id, id, phys) in moved {
            if let Some((_, map, _)) = per_store.iter_mut().find(|p| p.0.id() == store_id) {
                map.insert(id, phys);
            }
            node_writes.push((store_id, id, phys));
        }
        // 2. Registry updates.
        let dropped: Vec<u32> = self.dropped.lock().iter().copied().collect();
        let mut updated: HashMap<NodeId, Handle> = HashMap::new();
        let mut superseded: Vec<Uuid> = Vec::new();
        {
            let reg = self.registry.read();
            for (store_id, id, phys) in &node_writes {
                let h = match reg.get(id) {
                    Some(h) if !h.deleted => {
                        let mut h = *h;
                        superseded.push(h.flip_to(*phys));
                        h
                    }
                    _ => Handle::new(*id, *store_id, *phys),
                };
                updated.insert(*id, h);
            }
            for id in &freed {
                if let Some(h) = reg.get(id) {
                    let mut h = *h;
                    superseded.push(h.current());
                    h.deleted = true;
                    updated.insert(*id, h);
                }
            }
            if !dropped.is_empty() {
                for h in reg
                    .values()
                    .filter(|h| dropped.contains(&h.store_id) && !h.deleted)
                {
                    let mut h = *h;
                    superseded.push(h.current());
                    h.deleted = true;
                    updated.insert(h.node_id, h);
                }
            }
        }
        let blocks: HashSet<u64> = updated.keys().map(|id| id / HANDLES_PER_BLOCK).collect();
        let images: Vec<BlockImage> = {
            let reg = self.registry.read();
            blocks
                .into_iter()
                .map(|b| {
                    let hs: Vec<Handle> = (b * HANDLES_PER_BLOCK..(b + 1) * HANDLES_PER_BLOCK)
                        .filter_map(|id| updated.get(&id).or_else(|| reg.get(&id)).copied())
                        .collect();
                    BlockImage {
                        block_no: b,
                        bytes: encode_block(b, &hs),
                    }
                })
                .collect()
        };
        // 3. New catalog.
        let lsn = self.wal.last_lsn();
        let local_deferred: Vec<DeferredBlob> = self.deferred.lock().clone();
        let mut expired: Vec<Uuid> = Vec::new();
        let mut still_readable: HashSet<u64> = HashSet::new();
        let catalog = {
            let mut c = self.catalog.lock().clone();
            let pending = self.pending.lock();
            for (s, _, _) in &per_store {
                if let Some(info) = c.stores.get_mut(s.name()) {
                    let (root, count) = s.root_and_count();
                    info.root = root;
                    info.count = count;
                    info.flushed_lsn = if pending.contains_key(&info.id) {
                        info.flushed_lsn
                    } else {
                        lsn
                    };
                }
            }
            c.next_node_id = self.next_node_id.load(Ordering::Acquire);
            c.checkpoint_lsn = lsn;
            c.checkpoints += 1;
            if self.cluster.is_some() {
                let after = now_ms() + SHARED_BLOB_GRACE.as_millis() as u64;
                c.deferred_garbage
                    .extend(superseded.drain(..).map(|blob| DeferredBlob {
                        delete_after_ms: after,
                        blob,
                    }));
                c.deferred_garbage.extend(local_deferred.iter().copied());
                let now = now_ms();
                let (due, keep) = std::mem::take(&mut c.deferred_garbage)
                    .into_iter()
                    .partition(|d| d.delete_after_ms <= now);
                c.deferred_garbage = keep;
                expired = due.into_iter().map(|d| d.blob).collect();
                if expired.iter().any(|b| PackRef::from_uuid(*b).is_some()) {
                    let garbage: Vec<Uuid> = self.garbage.lock().iter().map(|g| g.1).collect();
                    let waiting = c.deferred_garbage.iter().map(|d| d.blob).chain(garbage);
                    still_readable =
                        self.readable_packs(&self.registry_snapshot(), &updated, waiting);
                }
            }
            c
        };
        let keep: Vec<WalEntry> = self.wal_entries_still_needed(&catalog)?;
        // 4. Write blobs, journal, apply.
        let engine = self.clone();
        let catalog_for_io = catalog.clone();
        let written = fsio::blocking(move || {
            let written = engine.blobs.write_nodes(nodes)?;
            // Deleted before the catalog forgets them: a crash here only
            // means the next checkpoint deletes them again.
            engine.blobs.remove_all(&expired, &still_readable)?;
            let catalog_bytes =
                serde_json::to_vec(&catalog_for_io).map_err(|e| SopError::Codec {
                    store: "<catalog>".into(),
                    what: "catalog",
                    reason: e.to_string(),
                })?;
            let journal = encode_journal(&images, &catalog_bytes);
            engine.check_meta_writable()?;
            let write_side = |side: &MetaSide| -> Result<()> {
                fsio::write_atomic(&journal_path(&side.folder), &journal)?;
                apply_journal(&side.folder, &side.registry, &images, &catalog_for_io)
            };
            let active = engine.active_side();
            engine.on_active(write_side(active))?;
            if let Some(p) = engine.live_passive_side() {
                engine.on_passive(write_side(p))?;
            }
            engine.on_active(engine.wal.rewrite(&keep))?;
            engine.after_wal_io()?;
            engine.on_active(fsio::remove_if_exists(&journal_path(&active.folder)))?;
            if let Some(p) = engine.live_passive_side() {
                engine.on_passive(fsio::remove_if_exists(&journal_path(&p.folder)))?;
            }
            Ok(written)
        })
        .await?;
        // 5. Install.
        self.blobs.register_nodes(written);
        {
            // Under the garbage lock: a collection sees either the old
            // registry or the new one with what it superseded retired.
            let mut garbage = self.garbage.lock();
            let mut next = RegistryMap::clone(&self.registry_snapshot());
            for (id, h) in updated {
                if h.deleted {
                    next.remove(&id);
                } else {
                    next.insert(id, h);
                }
            }
            *self.registry.write() = Arc::new(next);
            let g = self.generation.load(Ordering::Acquire);
            garbage.extend(superseded.drain(..).map(|b| (g, b)));
        }
        for (s, map, freed) in per_store {
            s.install_flushed(&map, &freed);
        }
        *self.catalog.lock() = catalog;
        self.dropped.lock().clear();
        self.deferred.lock().drain(..local_deferred.len());
        self.bump(|s| s.checkpoints += 1);
        drop(_gate);
        self.collect_garbage().await
    }

    fn wal_entries_still_needed(&self, catalog: &Catalog) -> Result<Vec<WalEntry>> {
        let pending = self.pending.lock();
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_lsn: BTreeMap<u64, CommitRecord> = BTreeMap::new();
        for (store_id, ops) in pending.iter() {
            let Some(info) = catalog.stores.values().find(|i| i.id == *store_id) else {
                continue;
            };
            for p in ops {
                let rec = by_lsn.entry(p.lsn).or_insert_with(|| CommitRecord {
                    tx_id: p.tx_id,
                    stores: Vec::new(),
                });
                rec.stores.push(StoreRecord {
                    store_id: *store_id,
                    name: info.name.clone(),
                    create: None,
                    drop: false,
                    ops: p.ops.clone(),
                });
            }
        }
        by_lsn
            .into_iter()
            .map(|(lsn, rec)| {
                Ok(WalEntry {
                    lsn,
                    body: rec.encode()?,
                })
            })
            .collect()
    }

    /// Writes a drop record for `name` and forgets the store. Clustered,
    /// inside a commit section after following every other process.
    pub async fn drop_store(self: &Arc<Self>, name: &str) -> Result<bool> {
        let Some(cluster) = &self.cluster else {
            return self.drop_store_unlocked(name).await;
        };
        let section = cluster.enter_for_maintenance().await?;
        let mut cursor = self.log_cursor.lock().await;
        let done = async {
            self.follow_log(&mut cursor, true).await?;
            section.confirm().await?;
            let dropped = self.drop_store_unlocked(name).await?;
            cursor.offset = self.wal.len();
            cursor.last_lsn = self.wal.last_lsn();
            Ok(dropped)
        }
        .await;
        drop(cursor);
        section.release().await;
        done
    }

    async fn drop_store_unlocked(self: &Arc<Self>, name: &str) -> Result<bool> {
        let _gate = self.commit_gate.write().await;
        let Some(info) = self.catalog.lock().stores.get(name).cloned() else {
            return Ok(false);
        };
        let record = CommitRecord {
            tx_id: rand::random(),
            stores: vec![StoreRecord {
                store_id: info.id,
                name: name.to_string(),
                create: None,
                drop: true,
                ops: Vec::new(),
            }],
        };
        self.log_commit(record, Vec::new()).await?;
        self.catalog.lock().stores.remove(name);
        self.stores.lock().remove(name);
        self.pending.lock().remove(&info.id);
        self.dropped.lock().insert(info.id);
        Ok(true)
    }

    /// Path of the primary folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The metadata side that is read and written first.
    pub fn active_side(&self) -> &MetaSide {
        &self.sides[self.replication.as_ref().map_or(0, Replication::active)]
    }

    /// The passive side when replicated and up to date.
    pub fn live_passive_side(&self) -> Option<&MetaSide> {
        self.replication
            .as_ref()
            .and_then(Replication::live_passive)
            .map(|p| &self.sides[p])
    }

    /// Fails when the active metadata side failed earlier (until failover).
    fn check_meta_writable(&self) -> Result<()> {
        match &self.replication {
            Some(rep) => rep.check_writable(),
            None => Ok(()),
        }
    }

    /// Routes an active-side failure through the replication state (sticky
    /// until failover); without replication the error is returned as is.
    fn on_active<T>(&self, r: Result<T>) -> Result<T> {
        match (r, &self.replication) {
            (Err(e), Some(rep)) => Err(rep.active_failed(e)),
            (r, _) => r,
        }
    }

    /// A passive-side failure marks the passive side stale; work goes on.
    fn on_passive(&self, r: Result<()>) -> Result<()> {
        match (r, &self.replication) {
            (Err(e), Some(rep)) => {
                self.wal.detach_mirror();
                rep.mark_passive_stale(&e)
            }
            (r, _) => r,
        }
    }

    /// Marks the passive side stale when the WAL mirror failed.
    fn after_wal_io(&self) -> Result<()> {
        match &self.replication {
            Some(rep) => match self.wal.take_mirror_failure() {
                Some(e) => rep.mark_passive_stale(&e),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    fn require_replication(&self, op: &'static str) -> Result<&Replication> {
        self.replication
            .as_ref()
            .ok_or_else(|| SopError::InvalidArgument {
                field: op,
                reason: "the database is not replicated (it needs exactly two stores_folders)"
                    .into(),
            })
    }

    /// Manual failover: the passive side becomes active (see
    /// [`crate::Database::failover`]).
    pub async fn failover(self: &Arc<Self>) -> Result<ReplicationStatus> {
        let _gate = self.commit_gate.write().await;
        let engine = self.clone();
        fsio::blocking(move || {
            let rep = engine.require_replication("failover")?;
            rep.failover(|| engine.wal.promote_mirror())
        })
        .await
    }

    /// Reinstate: fast-forwards the stale passive side from the active one and
    /// resumes writing both (see [`crate::Database::reinstate`]).
    pub async fn reinstate(self: &Arc<Self>) -> Result<ReplicationStatus> {
        let _gate = self.commit_gate.write().await;
        let engine = self.clone();
        fsio::blocking(move || {
            let rep = engine.require_replication("reinstate")?;
            rep.check_writable()?;
            let from = engine.active_side().folder.clone();
            let to = engine.sides[1 - rep.active()].folder.clone();
            fast_forward_passive(&engine, rep, &from, &to)?;
            Ok(rep.status())
        })
        .await
    }

    /// The replication state, when replicated.
    pub fn replication_status(&self) -> Option<ReplicationStatus> {
        self.replication.as_ref().map(Replication::status)
    }
}

/// The copy step of reinstate: metadata files, then the WAL (which from then
/// on is mirrored), then the state on both sides. Any failure on the target
/// leaves it stale.
fn fast_forward_passive(engine: &Engine, rep: &Replication, from: &Path, to: &Path) -> Result<()> {
    engine.wal.detach_mirror();
    let copied =
        replication::fast_forward(from, to).and_then(|_| engine.wal.attach_mirror(&wal_path(to)));
    if let Err(e) = copied {
        engine.wal.detach_mirror();
        rep.set_passive_stale_in_memory();
        return Err(e);
    }
    if let Err(e) = rep.reinstated() {
        engine.wal.detach_mirror();
        rep.set_passive_stale_in_memory();
        return Err(e);
    }
    Ok(())
}

/// Creates a stores folder and checks (or writes) its `options.json`.
fn check_options_file(folder: &Path, persisted: &crate::options::PersistedOptions) -> Result<()> {
    fsio::ensure_dir(folder)?;
    let path = folder.join("options.json");
    match checked_json::read::<crate::options::PersistedOptions>(&path, OPTIONS_TAG)? {
        Some(existing) if existing != *persisted => Err(SopError::OptionsConflict {
            path,
            reason: format!("stored {existing:?}, requested {persisted:?}"),
        }),
        Some(_) => Ok(()),
        None => checked_json::write(&path, OPTIONS_TAG, persisted),
    }
}

/// Completes an interrupted checkpoint (its journal), then reads the
/// checkpointed catalog and registry of a metadata folder.
pub(crate) fn load_checkpoint(
    folder: &Path,
    files: &RegistryFiles,
) -> Result<(Catalog, HashMap<NodeId, Handle>, RegistryLoadReport)> {
    replay_journal(folder, files)?;
    let catalog: Catalog =
        checked_json::read(&folder.join("catalog.json"), CATALOG_TAG)?.unwrap_or_default();
    let (handles, report) = files.load()?;
    Ok((catalog, handles, report))
}

/// Where a checkpoint keeps its journal until it is applied.
pub(crate) fn journal_path(folder: &Path) -> PathBuf {
    folder.join("checkpoint.journal")
}

fn encode_journal(images: &[BlockImage], catalog: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(8 + images.len() * (BLOCK_SIZE + 8) + catalog.len());
    payload.extend_from_slice(&(images.len() as u32).to_le_bytes());
    for img in images {
        payload.extend_from_slice(&img.block_no.to_le_bytes());
        payload.extend_from_slice(&img.bytes);
    }
    payload.extend_from_slice(&(catalog.len() as u32).to_le_bytes());
    payload.extend_from_slice(catalog);
    frame::seal(FrameKind::Journal, &payload)
}

fn apply_journal(
    folder: &Path,
    files: &RegistryFiles,
    images: &[BlockImage],
    catalog: &Catalog,
) -> Result<()> {
    files.write_blocks(images)?;
    checked_json::write(&folder.join("catalog.json"), CATALOG_TAG, catalog)
}

/// Re-applies a complete checkpoint journal left by a crash; discards a torn one.
fn replay_journal(folder: &Path, files: &RegistryFiles) -> Result<()> {
    let path = journal_path(folder);
    let Some(bytes) = fsio::read_optional(&path)? else {
        return Ok(());
    };
    let Ok(payload) = frame::open(&path, FrameKind::Journal, &bytes) else {
        // Torn: the checkpoint never reached its in-place phase.
        return fsio::remove_if_exists(&path);
    };
    let mut r = crate::btree::item::Reader::new(payload, &path);
    let n = r.u32()? as usize;
    let mut images = Vec::with_capacity(n);
    for _ in 0..n {
        let block_no = r.u64()?;
        images.push(BlockImage {
            block_no,
            bytes: r.take(BLOCK_SIZE)?.to_vec(),
        });
    }
    let len = r.u32()? as usize;
    let catalog: Catalog =
        serde_json::from_slice(r.take(len)?).map_err(|e| SopError::format(&path, e.to_string()))?;
    apply_journal(folder, files, &images, &catalog)?;
    fsio::remove_if_exists(&path)
}
