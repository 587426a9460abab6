//! Effective operations and read records of a transaction on one store.
//!
//! [`Op`]s are what a transaction *did* (not what it was asked): each names
//! the exact item by `(key, id)`. They are replayed on a newer committed
//! version when another transaction committed to the same store meanwhile
//! (refetch-and-merge), and they are what the WAL records; replaying them in
//! commit order onto the last checkpoint reproduces the committed state.
//!
//! [`ReadRecord`]s are what a transaction observed; commit re-checks each
//! against the newest committed version and fails with a conflict if any
//! changed. Gap records give phantom protection to navigation and misses.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::btree::item::{Item, ValueCell};
use crate::error::{Result, SopError};

/// A change to one item.
#[derive(Debug, Clone)]
pub enum Op<K, V> {
    /// Insert a new item.
    Insert(Arc<Item<K, V>>),
    /// Replace the item `(old_key, item.id)` (key compares equal).
    Replace {
        /// The key as it was (ordering-equal to the new one).
        old_key: K,
        /// The new item.
        item: Arc<Item<K, V>>,
    },
    /// Remove the item `(key, id)`.
    Remove {
        /// The item's key.
        key: K,
        /// The item's id.
        id: Uuid,
    },
}

/// A position in key order used by read records.
#[derive(Debug, Clone)]
pub struct Pos<K> {
    /// Key.
    pub key: K,
    /// Item id.
    pub id: Uuid,
}

/// Something a transaction observed.
#[derive(Debug, Clone)]
pub enum ReadRecord<K> {
    /// Item `(key, id)` existed with `version`.
    Item {
        /// Position.
        pos: Pos<K>,
        /// Version seen.
        version: u64,
    },
    /// No item had this key (unique or duplicate trees).
    Absent(K),
    /// No item lay strictly between `lo` and `hi` (`None` = the tree's end).
    Gap {
        /// Lower end (exclusive).
        lo: Option<Pos<K>>,
        /// Upper end (exclusive).
        hi: Option<Pos<K>>,
    },
}

#[derive(Serialize)]
struct OpOut<'a, K, V> {
    k: u8,
    key: &'a K,
    old: Option<&'a K>,
    /// Item ids go out as MessagePack `bin` (one memcpy), not 16 integers.
    #[serde(with = "serde_bytes")]
    id: [u8; 16],
    ver: u64,
    val: Option<&'a V>,
    #[serde(with = "serde_bytes")]
    blob: Option<[u8; 16]>,
}

#[derive(Deserialize)]
#[serde(bound = "K: DeserializeOwned, V: DeserializeOwned")]
struct OpIn<K, V> {
    k: u8,
    key: K,
    old: Option<K>,
    #[serde(with = "serde_bytes")]
    id: [u8; 16],
    ver: u64,
    val: Option<V>,
    #[serde(with = "serde_bytes")]
    blob: Option<[u8; 16]>,
}

fn codec(store: &str, e: impl std::fmt::Display) -> SopError {
    SopError::Codec {
        store: store.to_string(),
        what: "operation log",
        reason: e.to_string(),
    }
}

/// Encodes ops for the WAL.
pub fn encode_ops<K: Serialize, V: Serialize>(store: &str, ops: &[Op<K, V>]) -> Result<Vec<u8>> {
    let mut list = Vec::with_capacity(ops.len());
    for op in ops {
        type Parts<'a, K, V> = (u8, &'a K, Option<&'a K>, Option<&'a Arc<Item<K, V>>>);
        let (k, key, old, item): Parts<'_, K, V> = match op {
            Op::Insert(item) => (0, &item.key, None, Some(item)),
            Op::Replace { old_key, item } => (1, &item.key, Some(old_key), Some(item)),
            Op::Remove { key, .. } => (2, key, None, None),
        };
        let id = match op {
            Op::Remove { id, .. } => *id,
            _ => item.map(|i| i.id).unwrap_or_default(),
        };
        let (val, blob) = match item.map(|i| &i.value) {
            Some(ValueCell::Inline(v)) => (Some(v), None),
            Some(ValueCell::Blob(b)) => (None, Some(*b.as_bytes())),
            None => (None, None),
        };
        list.push(OpOut {
            k,
            key,
            old,
            id: *id.as_bytes(),
            ver: item.map(|i| i.version).unwrap_or(0),
            val,
            blob,
        });
    }
    rmp_serde::to_vec(&list).map_err(|e| codec(store, e))
}

/// Decodes ops written by [`encode_ops`].
pub fn decode_ops<K: DeserializeOwned, V: DeserializeOwned>(
    store: &str,
    bytes: &[u8],
) -> Result<Vec<Op<K, V>>> {
    let list: Vec<OpIn<K, V>> = rmp_serde::from_slice(bytes).map_err(|e| codec(store, e))?;
    list.into_iter()
        .map(|o| {
            let id = Uuid::from_bytes(o.id);
            let value = match (o.val, o.blob) {
                (Some(v), _) => Some(ValueCell::Inline(v)),
                (None, Some(b)) => Some(ValueCell::Blob(Uuid::from_bytes(b))),
                (None, None) => None,
            };
            let item = |key: K, value: Option<ValueCell<V>>| -> Result<Arc<Item<K, V>>> {
                let value = value.ok_or_else(|| codec(store, "operation without a value"))?;
                Ok(Arc::new(Item {
                    key,
                    id,
                    version: o.ver,
                    value,
                }))
            };
            Ok(match o.k {
                0 => Op::Insert(item(o.key, value)?),
                1 => Op::Replace {
                    old_key: o
                        .old
                        .ok_or_else(|| codec(store, "replace without old key"))?,
                    item: item(o.key, value)?,
                },
                2 => Op::Remove { key: o.key, id },
                k => return Err(codec(store, format!("unknown op kind {k}"))),
            })
        })
        .collect()
}
