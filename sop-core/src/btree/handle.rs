//! [`Btree`]: the public, typed handle of a store inside a transaction.
//!
//! Every method is async. Methods that change the tree are refused outside
//! `ForWriting` transactions (and the refusal rolls the transaction back).
//! The handle carries a cursor (SOP-style): `find`, `first`, `last`, `next`,
//! `previous` move it; `current_*` read where it is. Ranges are also
//! available as `futures::Stream`s in both directions.

use std::cmp::Ordering;
use std::ops::{Bound as RangeBound, RangeBounds};
use std::sync::Arc;

use futures::Stream;
use uuid::Uuid;

use crate::btree::item::{CellRef, Item, ItemRef, ValueCell};
use crate::btree::ops::Pos;
use crate::btree::view::{Bound, Located, Step, TreeView, MAX_ID, MIN_ID};
use crate::error::{Result, SopError};
use crate::options::{TransactionMode, ValuePlacement};
use crate::storage::frame::FrameKind;
use crate::transaction::{Transaction, ViewCell};
use crate::{Key, Value};

/// Direction of a range scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending key order.
    Forward,
    /// Descending key order.
    Backward,
}

/// Key, id and version of the item under the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemInfo<K> {
    /// The key (with its ride-on fields).
    pub key: K,
    /// The item's id.
    pub id: Uuid,
    /// The id of the transaction that last wrote it.
    pub version: u64,
}

/// A typed B-tree store opened in a transaction.
///
/// ```no_run
/// # async fn demo() -> sop_core::Result<()> {
/// use sop_core::{Database, DatabaseOptions, StoreOptions, TransactionMode};
/// let db = Database::open(DatabaseOptions::new("/tmp/sop-demo")).await?;
/// let tx = db.begin(TransactionMode::ForWriting).await?;
/// let tree = tx.new_btree::<u64, String>("numbers", StoreOptions::default()).await?;
/// tree.add(1, "one".into()).await?;
/// assert!(tree.find(&1).await?);
/// assert_eq!(tree.current_value().await?, Some("one".to_string()));
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct Btree<K: 'static, V> {
    tx: Transaction,
    cell: Arc<ViewCell<K, V>>,
    cursor: parking_lot::Mutex<Option<Pos<K>>>,
}

impl<K: Key, V: Value> Clone for Btree<K, V> {
    fn clone(&self) -> Self {
        Btree {
            tx: self.tx.clone(),
            cell: self.cell.clone(),
            cursor: parking_lot::Mutex::new(self.cursor.lock().clone()),
        }
    }
}

impl<K: Key, V: Value> Btree<K, V> {
    pub(crate) fn new(tx: Transaction, cell: Arc<ViewCell<K, V>>) -> Self {
        Btree {
            tx,
            cell,
            cursor: parking_lot::Mutex::new(None),
        }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.cell.shared.name
    }

    /// The store's options.
    pub fn options(&self) -> &crate::StoreOptions {
        &self.cell.shared.options
    }

    /// The transaction this handle belongs to.
    pub fn transaction(&self) -> &Transaction {
        &self.tx
    }

    /// The committed version this handle reads, while the transaction has not
    /// changed the store (`None` after a change). Higher layers key caches on
    /// it: a value never repeats, also across re-opens of the database.
    pub fn snapshot_version(&self) -> Option<u64> {
        let v = self.cell.view.lock();
        v.is_clean().then_some(v.base.seq)
    }

    async fn run<T>(
        &self,
        write: Option<&'static str>,
        step: impl FnMut(&mut TreeView<K, V>) -> Step<T>,
    ) -> Result<T> {
        self.tx.check_active()?;
        if let Some(op) = write {
            if self.tx.mode() != TransactionMode::ForWriting {
                let e = SopError::ReadOnlyTransaction {
                    store: self.name().to_string(),
                    op,
                    mode: self.tx.mode(),
                };
                self.tx.close(&e);
                return Err(e);
            }
        }
        let r = self.cell.shared.drive(&self.cell.view, step).await;
        if let Err(e) = &r {
            self.tx.close(e);
        }
        r
    }

    fn fail<T>(&self, e: SopError) -> Result<T> {
        self.tx.close(&e);
        Err(e)
    }

    fn codec_error(&self, e: impl std::fmt::Display) -> SopError {
        SopError::Codec {
            store: self.name().to_string(),
            what: "value",
            reason: e.to_string(),
        }
    }

    /// The MessagePack encoding of a value.
    fn encode_value(&self, value: &V) -> Result<Vec<u8>> {
        // Most values are small: one allocation instead of a growth series.
        let mut out = Vec::with_capacity(128);
        match rmp_serde::encode::write(&mut out, value) {
            Ok(()) => Ok(out),
            Err(e) => self.fail(self.codec_error(e)),
        }
    }

    /// Decodes a value kept inside a node.
    fn decode_inline(&self, bytes: &[u8]) -> Result<V> {
        match rmp_serde::from_slice(bytes) {
            Ok(v) => Ok(v),
            Err(e) => self.fail(self.codec_error(e)),
        }
    }

    async fn make_cell(&self, value: V) -> Result<ValueCell> {
        let bytes = self.encode_value(&value)?;
        match self.cell.shared.options.value_placement {
            ValuePlacement::Small => Ok(ValueCell::Inline(bytes)),
            placement => {
                let id = Uuid::new_v4();
                if let Err(e) = self
                    .tx
                    .engine()
                    .write_blob(id, FrameKind::Value, bytes)
                    .await
                {
                    return self.fail(e);
                }
                self.tx.note_blob(id);
                if placement == ValuePlacement::Medium {
                    self.tx.engine().values.put(id, Arc::new(value));
                }
                Ok(ValueCell::Blob(id))
            }
        }
    }

    async fn read_value(&self, value: &ValueCell) -> Result<V> {
        match value {
            ValueCell::Inline(bytes) => self.decode_inline(bytes),
            ValueCell::Blob(id) => self.read_blob_value(*id).await,
        }
    }

    async fn read_blob_value(&self, id: Uuid) -> Result<V> {
        let engine = self.tx.engine();
        let medium = self.cell.shared.options.value_placement == ValuePlacement::Medium;
        if medium {
            if let Some(v) = engine.values.get::<V>(id) {
                return Ok((*v).clone());
            }
        }
        let bytes = match engine.read_blob(id, FrameKind::Value, medium).await {
            Ok(b) => b,
            Err(e) => return self.fail(e),
        };
        let v: V = match rmp_serde::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => return self.fail(self.codec_error(e)),
        };
        if medium {
            engine.values.put(id, Arc::new(v.clone()));
        }
        Ok(v)
    }

    fn set_cursor(&self, at: Option<(&K, Uuid)>) {
        *self.cursor.lock() = at.map(|(key, id)| Pos {
            key: key.clone(),
            id,
        });
    }

    /// Moves the cursor to `item` when there is one; returns whether it moved.
    fn move_cursor(&self, item: Option<Item<K>>) -> bool {
        if let Some(it) = &item {
            self.set_cursor(Some((&it.key, it.id)));
        }
        item.is_some()
    }

    fn new_item(&self, key: K, value: ValueCell) -> Arc<Item<K>> {
        Arc::new(Item {
            key,
            id: crate::btree::ids::next_item_id(),
            version: self.tx.id(),
            value,
        })
    }

    /// Number of items.
    pub async fn count(&self) -> Result<u64> {
        self.tx.check_active()?;
        Ok(self.cell.view.lock().count)
    }

    /// Looks up the first item with `key` and records the observation.
    async fn lookup(&self, op: Option<&'static str>, key: &K) -> Result<Option<Item<K>>> {
        self.run(op, |v| {
            let found = v.lookup_first(key)?;
            match &found {
                Some(h) => v.record_item(h.item()),
                None => v.record_absent(key),
            }
            Ok(found.map(|h| h.item().to_owned()))
        })
        .await
    }

    /// Adds an item. In a unique tree returns `false` (and changes nothing)
    /// when the key exists; in a duplicate tree always adds.
    pub async fn add(&self, key: K, value: V) -> Result<bool> {
        let unique = self.cell.shared.options.unique;
        if self.cell.shared.options.value_placement == ValuePlacement::Small {
            // One descent: check and insert in the same step.
            let bytes = self.encode_value(&value)?;
            let item = self.new_item(key, ValueCell::Inline(bytes));
            let added = self
                .run(Some("add"), |v| {
                    if !unique {
                        v.insert_item(item.clone())?;
                        return Ok(true);
                    }
                    match v.insert_unique(item.clone())? {
                        Some(hit) => {
                            v.record_item(hit.item());
                            Ok(false)
                        }
                        None => {
                            v.record_absent(&item.key);
                            Ok(true)
                        }
                    }
                })
                .await?;
            if added {
                self.set_cursor(Some((&item.key, item.id)));
            }
            return Ok(added);
        }
        if unique && self.lookup(Some("add"), &key).await?.is_some() {
            return Ok(false);
        }
        self.insert_new(key, value).await?;
        Ok(true)
    }

    async fn insert_new(&self, key: K, value: V) -> Result<()> {
        self.tx.check_active()?;
        let cell = self.make_cell(value).await?;
        let item = self.new_item(key, cell);
        self.run(Some("add"), |v| v.insert_item(item.clone()))
            .await?;
        self.set_cursor(Some((&item.key, item.id)));
        Ok(())
    }

    /// Adds an item only when no item has `key` (also in duplicate trees).
    pub async fn add_if_not_exist(&self, key: K, value: V) -> Result<bool> {
        if self.lookup(Some("add_if_not_exist"), &key).await?.is_some() {
            return Ok(false);
        }
        self.insert_new(key, value).await?;
        Ok(true)
    }

    /// Inserts or replaces the (first) item with `key`; the stored key is
    /// replaced too, so ride-on fields are updated.
    pub async fn upsert(&self, key: K, value: V) -> Result<()> {
        match self.lookup(Some("upsert"), &key).await? {
            Some(old) => self.replace(&old, Some(key), Some(value)).await,
            None => self.insert_new(key, value).await,
        }
    }

    async fn replace(&self, old: &Item<K>, key: Option<K>, value: Option<V>) -> Result<()> {
        let value = match value {
            Some(v) => self.make_cell(v).await?,
            None => old.value.clone(),
        };
        let item = Arc::new(Item {
            key: key.unwrap_or_else(|| old.key.clone()),
            id: old.id,
            version: self.tx.id(),
            value,
        });
        let old_key = old.key.clone();
        let replaced = self
            .run(Some("update"), |v| v.replace_item(&old_key, item.clone()))
            .await?;
        if !replaced {
            return self.fail(SopError::Conflict {
                store: self.name().to_string(),
                reason: "the item vanished during update".into(),
            });
        }
        self.set_cursor(Some((&item.key, item.id)));
        Ok(())
    }

    /// Replaces the value of the (first) item with `key`; `false` when absent.
    pub async fn update(&self, key: &K, value: V) -> Result<bool> {
        match self.lookup(Some("update"), key).await? {
            Some(old) => self.replace(&old, None, Some(value)).await.map(|_| true),
            None => Ok(false),
        }
    }

    /// Replaces the key of the (first) item whose key compares equal to
    /// `key` with `key` itself (updating ride-on fields); `false` when absent.
    pub async fn update_key(&self, key: K) -> Result<bool> {
        match self.lookup(Some("update_key"), &key).await? {
            Some(old) => self.replace(&old, Some(key), None).await.map(|_| true),
            None => Ok(false),
        }
    }

    async fn current(&self) -> Result<Option<Item<K>>> {
        let Some(pos) = self.cursor.lock().clone() else {
            return Ok(None);
        };
        self.run(None, |v| {
            Ok(v.find_exact(&pos.key, pos.id)?
                .and_then(|l| l.item().map(ItemRef::to_owned)))
        })
        .await
    }

    async fn current_or_err(&self) -> Result<Item<K>> {
        match self.current().await? {
            Some(it) => Ok(it),
            None => self.fail(SopError::NoCurrentItem(self.name().to_string())),
        }
    }

    /// Replaces the value of the item under the cursor.
    pub async fn update_current_value(&self, value: V) -> Result<()> {
        let it = self.current_or_err().await?;
        self.run(Some("update_current_value"), |v| {
            v.record_item(it.as_ref());
            Ok(())
        })
        .await?;
        self.replace(&it, None, Some(value)).await
    }

    /// Replaces the key of the item under the cursor with one that compares
    /// equal (ride-on fields change, the position does not).
    pub async fn update_current_key(&self, key: K) -> Result<()> {
        let it = self.current_or_err().await?;
        if self.cell.shared.order.compare(&it.key, &key) != Ordering::Equal {
            return self.fail(SopError::InvalidArgument { field: "key", reason: format!("store '{}': update_current_key needs a key that compares equal to the current one", self.name()) });
        }
        self.run(Some("update_current_key"), |v| {
            v.record_item(it.as_ref());
            Ok(())
        })
        .await?;
        self.replace(&it, Some(key), None).await
    }

    /// Removes the (first) item with `key`; `false` when absent.
    pub async fn remove(&self, key: &K) -> Result<bool> {
        let Some(it) = self.lookup(Some("remove"), key).await? else {
            return Ok(false);
        };
        self.run(Some("remove"), |v| v.remove_item(&it.key, it.id))
            .await?;
        *self.cursor.lock() = None;
        Ok(true)
    }

    /// Removes the item under the cursor.
    pub async fn remove_current(&self) -> Result<()> {
        let it = self.current_or_err().await?;
        self.run(Some("remove_current"), |v| {
            v.record_item(it.as_ref());
            v.remove_item(&it.key, it.id)
        })
        .await?;
        *self.cursor.lock() = None;
        Ok(())
    }

    /// Positions the cursor on the first item with `key` and returns `true`;
    /// on a miss returns `false` and positions the cursor on the neighbour
    /// (the next greater item, or the last item when none is greater).
    pub async fn find(&self, key: &K) -> Result<bool> {
        let (hit, at) = self
            .run(None, |v| {
                let loc = v.seek(Bound::At(key, MIN_ID))?;
                let next = v.settle(loc.clone())?;
                let next_item = next.as_ref().and_then(|l| l.item());
                if let Some(it) = next_item {
                    if v.cmp_keys(it.key, key) == Ordering::Equal {
                        v.record_item(it);
                        return Ok((true, Some((it.key.clone(), it.id))));
                    }
                }
                let prev = v.before(&loc)?;
                let prev_item = prev.as_ref().and_then(|l| l.item());
                v.record_gap(
                    prev_item.map(|it| (it.key, it.id)),
                    next_item.map(|it| (it.key, it.id)),
                );
                let at = next_item.or(prev_item).map(|it| (it.key.clone(), it.id));
                Ok((false, at))
            })
            .await?;
        self.set_cursor(at.as_ref().map(|(k, id)| (k, *id)));
        Ok(hit)
    }

    /// Positions the cursor on the item with `key` and `id` (duplicate trees).
    pub async fn find_with_id(&self, key: &K, id: Uuid) -> Result<bool> {
        let found = self
            .run(None, |v| {
                let loc = v.find_exact(key, id)?;
                let it = loc.as_ref().and_then(|l| l.item());
                v.record_found(it);
                Ok(it.map(ItemRef::to_owned))
            })
            .await?;
        Ok(self.move_cursor(found))
    }

    /// The value of the (first) item with `key`, without moving the cursor.
    pub async fn get(&self, key: &K) -> Result<Option<V>> {
        let found = self
            .run(None, |v| {
                let Some(hit) = v.lookup_first(key)? else {
                    v.record_absent(key);
                    return Ok(None);
                };
                v.record_hit(&hit);
                Ok(Some(match hit.value() {
                    CellRef::Inline(bytes) => Ok(rmp_serde::from_slice::<V>(bytes)),
                    CellRef::Blob(id) => Err(id),
                }))
            })
            .await?;
        match found {
            None => Ok(None),
            Some(Ok(Ok(v))) => Ok(Some(v)),
            Some(Ok(Err(e))) => self.fail(self.codec_error(e)),
            Some(Err(id)) => self.read_blob_value(id).await.map(Some),
        }
    }

    /// Moves to the first item; `false` when the tree is empty.
    pub async fn first(&self) -> Result<bool> {
        let it = self
            .run(None, |v| {
                let loc = v.seek(Bound::Start)?;
                let first = v.settle(loc)?;
                let it = first.as_ref().and_then(|l| l.item());
                v.record_gap(None, it.map(|it| (it.key, it.id)));
                v.record_found(it);
                Ok(it.map(ItemRef::to_owned))
            })
            .await?;
        Ok(self.move_cursor(it))
    }

    /// Moves to the last item; `false` when the tree is empty.
    pub async fn last(&self) -> Result<bool> {
        let it = self
            .run(None, |v| {
                let loc = v.seek(Bound::End)?;
                let last = v.before(&loc)?;
                let it = last.as_ref().and_then(|l| l.item());
                v.record_gap(it.map(|it| (it.key, it.id)), None);
                v.record_found(it);
                Ok(it.map(ItemRef::to_owned))
            })
            .await?;
        Ok(self.move_cursor(it))
    }

    async fn step(&self, forward: bool) -> Result<bool> {
        let Some(pos) = self.cursor.lock().clone() else {
            return self.fail(SopError::NoCurrentItem(self.name().to_string()));
        };
        let it = self
            .run(None, |v| {
                let loc = v.seek(Bound::At(&pos.key, pos.id))?;
                let exact = loc.item().is_some_and(|it| it.id == pos.id);
                let target: Option<Located<K, V>> = if forward {
                    if exact {
                        v.after(&loc)?
                    } else {
                        v.settle(loc)?
                    }
                } else {
                    v.before(&loc)?
                };
                let it = target.as_ref().and_then(|l| l.item());
                let here = Some((&pos.key, pos.id));
                let there = it.map(|it| (it.key, it.id));
                if forward {
                    v.record_gap(here, there);
                } else {
                    v.record_gap(there, here);
                }
                v.record_found(it);
                Ok(it.map(ItemRef::to_owned))
            })
            .await?;
        Ok(self.move_cursor(it))
    }

    /// Moves to the next item; `false` (cursor unchanged) at the end.
    pub async fn next(&self) -> Result<bool> {
        self.step(true).await
    }

    /// Moves to the previous item; `false` (cursor unchanged) at the start.
    pub async fn previous(&self) -> Result<bool> {
        self.step(false).await
    }

    /// The key under the cursor.
    pub async fn current_key(&self) -> Result<Option<K>> {
        Ok(self.current().await?.map(|it| it.key.clone()))
    }

    /// Key, id and version of the item under the cursor.
    pub async fn current_item(&self) -> Result<Option<ItemInfo<K>>> {
        Ok(self.current().await?.map(|it| ItemInfo {
            key: it.key.clone(),
            id: it.id,
            version: it.version,
        }))
    }

    /// The value under the cursor (fetched on demand for medium/big values).
    pub async fn current_value(&self) -> Result<Option<V>> {
        match self.current().await? {
            Some(it) => Ok(Some(self.read_value(&it.value).await?)),
            None => Ok(None),
        }
    }

    /// Reads up to `limit` items from `start` in `direction`.
    async fn batch(
        &self,
        start: &ScanFrom<K>,
        direction: Direction,
        limit: usize,
        within: &(dyn Fn(&K) -> bool + Sync),
        values: bool,
    ) -> Result<Vec<Scanned<K>>> {
        self.run(None, |v| {
            let forward = direction == Direction::Forward;
            let first: Option<Located<K, V>> = match (start, forward) {
                (ScanFrom::Start, _) => {
                    let l = v.seek(Bound::Start)?;
                    v.settle(l)?
                }
                (ScanFrom::End, _) => {
                    let l = v.seek(Bound::End)?;
                    v.before(&l)?
                }
                (ScanFrom::At(k, id), true) => {
                    let l = v.seek(Bound::At(k, *id))?;
                    v.settle(l)?
                }
                (ScanFrom::After(k, id), true) => {
                    let l = v.seek(Bound::At(k, *id))?;
                    let exact = l.item().is_some_and(|it| it.id == *id);
                    if exact {
                        v.after(&l)?
                    } else {
                        v.settle(l)?
                    }
                }
                (ScanFrom::At(k, id), false) | (ScanFrom::After(k, id), false) => {
                    let l = v.seek(Bound::At(k, *id))?;
                    v.before(&l)?
                }
            };
            let mut out: Vec<Scanned<K>> = Vec::with_capacity(limit.min(1024));
            let mut cur = first;
            while let Some(loc) = cur {
                let Some(it) = loc.item() else { break };
                let inside = within(it.key);
                if !inside || v.track_reads {
                    // The gap up to this item is what was observed (past the
                    // range it is the last observation).
                    let prev = out.last().map(|p| (&p.key, p.id));
                    let here = Some((it.key, it.id));
                    if forward {
                        v.record_gap(prev, here);
                    } else {
                        v.record_gap(here, prev);
                    }
                    if inside {
                        v.record_item(it);
                    }
                }
                out.push(Scanned {
                    key: it.key.clone(),
                    id: it.id,
                    value: values.then(|| it.value().to_owned()),
                });
                if !inside || out.len() >= limit {
                    break;
                }
                cur = if forward {
                    v.after(&loc)?
                } else {
                    v.before(&loc)?
                };
            }
            Ok(out)
        })
        .await
    }

    /// Streams `(key, value)` pairs in `range`, in `direction`. Values of
    /// medium/big stores are fetched as the stream advances.
    pub fn range<R: RangeBounds<K>>(
        &self,
        range: R,
        direction: Direction,
    ) -> impl Stream<Item = Result<(K, V)>> + '_ {
        use futures::StreamExt;
        self.items(range, direction, true)
            .then(move |r| async move {
                let it = r?;
                let v = match &it.value {
                    Some(cell) => self.read_value(cell).await?,
                    None => return Err(SopError::format(self.name(), "scan lost a value")),
                };
                Ok((it.key, v))
            })
    }

    /// Streams keys in `range` without fetching any value.
    pub fn keys<R: RangeBounds<K>>(
        &self,
        range: R,
        direction: Direction,
    ) -> impl Stream<Item = Result<K>> + '_ {
        use futures::StreamExt;
        self.items(range, direction, false)
            .map(|r| r.map(|it| it.key))
    }

    fn items<R: RangeBounds<K>>(
        &self,
        range: R,
        direction: Direction,
        values: bool,
    ) -> impl Stream<Item = Result<Scanned<K>>> + '_ {
        let lo = clone_bound(range.start_bound());
        let hi = clone_bound(range.end_bound());
        let start = match direction {
            Direction::Forward => match &lo {
                RangeBound::Unbounded => ScanFrom::Start,
                RangeBound::Included(k) => ScanFrom::At(k.clone(), MIN_ID),
                RangeBound::Excluded(k) => ScanFrom::At(k.clone(), MAX_ID),
            },
            Direction::Backward => match &hi {
                RangeBound::Unbounded => ScanFrom::End,
                RangeBound::Included(k) => ScanFrom::After(k.clone(), MAX_ID),
                RangeBound::Excluded(k) => ScanFrom::After(k.clone(), MIN_ID),
            },
        };
        let state = ScanState {
            next: Some(start),
            buffer: std::collections::VecDeque::new(),
            lo,
            hi,
            done: false,
        };
        futures::stream::unfold(state, move |mut st| async move {
            loop {
                if let Some(it) = st.buffer.pop_front() {
                    return Some((Ok(it), st));
                }
                if st.done {
                    return None;
                }
                let from = st.next.take()?;
                let order = &self.cell.shared.order;
                let (lo, hi) = (&st.lo, &st.hi);
                let within = |k: &K| match direction {
                    Direction::Forward => match hi {
                        RangeBound::Unbounded => true,
                        RangeBound::Included(h) => order.compare(k, h) != Ordering::Greater,
                        RangeBound::Excluded(h) => order.compare(k, h) == Ordering::Less,
                    },
                    Direction::Backward => match lo {
                        RangeBound::Unbounded => true,
                        RangeBound::Included(l) => order.compare(k, l) != Ordering::Less,
                        RangeBound::Excluded(l) => order.compare(k, l) == Ordering::Greater,
                    },
                };
                match self.batch(&from, direction, 512, &within, values).await {
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                    Ok(items) => {
                        if items.len() < 512 {
                            st.done = true;
                        }
                        for it in items {
                            let inside = match direction {
                                Direction::Forward => match &st.hi {
                                    RangeBound::Unbounded => true,
                                    RangeBound::Included(h) => {
                                        order.compare(&it.key, h) != Ordering::Greater
                                    }
                                    RangeBound::Excluded(h) => {
                                        order.compare(&it.key, h) == Ordering::Less
                                    }
                                },
                                Direction::Backward => match &st.lo {
                                    RangeBound::Unbounded => true,
                                    RangeBound::Included(l) => {
                                        order.compare(&it.key, l) != Ordering::Less
                                    }
                                    RangeBound::Excluded(l) => {
                                        order.compare(&it.key, l) == Ordering::Greater
                                    }
                                },
                            };
                            if !inside {
                                st.done = true;
                                break;
                            }
                            st.next = Some(ScanFrom::After(it.key.clone(), it.id));
                            st.buffer.push_back(it);
                        }
                        if st.next.is_none() {
                            st.done = true;
                        }
                    }
                }
            }
        })
    }
}

fn clone_bound<K: Clone>(b: RangeBound<&K>) -> RangeBound<K> {
    match b {
        RangeBound::Included(k) => RangeBound::Included(k.clone()),
        RangeBound::Excluded(k) => RangeBound::Excluded(k.clone()),
        RangeBound::Unbounded => RangeBound::Unbounded,
    }
}

/// Where a scan batch starts.
enum ScanFrom<K> {
    Start,
    End,
    /// Forward: first item `>= (k, id)`; backward: last item `< (k, id)`.
    At(K, Uuid),
    /// Forward: first item `> (k, id)`; backward: last item `< (k, id)`.
    After(K, Uuid),
}

/// One item read by a scan: key, id and (when asked for) the value.
struct Scanned<K> {
    key: K,
    id: Uuid,
    value: Option<ValueCell>,
}

struct ScanState<K> {
    next: Option<ScanFrom<K>>,
    buffer: std::collections::VecDeque<Scanned<K>>,
    lo: RangeBound<K>,
    hi: RangeBound<K>,
    done: bool,
}
