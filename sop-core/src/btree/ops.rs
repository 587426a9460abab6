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
pub enum Op<K> {
    /// Insert a new item.
    Insert(Arc<Item<K>>),
    /// Replace the item `(old_key, item.id)` (key compares equal).
    Replace {
        /// The key as it was (ordering-equal to the new one).
        old_key: K,
        /// The new item.
        item: Arc<Item<K>>,
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

/// MessagePack framing written by hand around pre-encoded values (the
/// output is what `rmp_serde` writes for the same list of
/// `[k, key, old, id, ver, val, blob]` arrays; a test holds them equal).
mod mp {
    pub fn array_len(out: &mut Vec<u8>, n: usize) {
        if n < 16 {
            out.push(0x90 | n as u8);
        } else if n <= u16::MAX as usize {
            out.push(0xdc);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(0xdd);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }

    pub fn uint(out: &mut Vec<u8>, v: u64) {
        if v < 128 {
            out.push(v as u8);
        } else if v <= u8::MAX as u64 {
            out.extend_from_slice(&[0xcc, v as u8]);
        } else if v <= u16::MAX as u64 {
            out.push(0xcd);
            out.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= u32::MAX as u64 {
            out.push(0xce);
            out.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    pub fn bin16(out: &mut Vec<u8>, b: &[u8; 16]) {
        out.extend_from_slice(&[0xc4, 16]);
        out.extend_from_slice(b);
    }

    pub const NIL: u8 = 0xc0;
}

/// Encodes ops for the WAL: a MessagePack list of
/// `[k, key, old, id, ver, val, blob]` (values are copied in as encoded).
pub fn encode_ops<K: Serialize>(store: &str, ops: &[Op<K>]) -> Result<Vec<u8>> {
    // Values are copied in as they are: sized up front, the buffer never grows.
    let values: usize = ops
        .iter()
        .map(|op| match op {
            Op::Insert(item) | Op::Replace { item, .. } => match &item.value {
                ValueCell::Inline(v) => v.len(),
                ValueCell::Blob(_) => 18,
            },
            Op::Remove { .. } => 0,
        })
        .sum();
    let mut out = Vec::with_capacity(16 + ops.len() * 64 + values);
    mp::array_len(&mut out, ops.len());
    for op in ops {
        let (k, key, old, item): (u8, &K, Option<&K>, Option<&Item<K>>) = match op {
            Op::Insert(item) => (0, &item.key, None, Some(item)),
            Op::Replace { old_key, item } => (1, &item.key, Some(old_key), Some(item)),
            Op::Remove { key, .. } => (2, key, None, None),
        };
        let id = match op {
            Op::Remove { id, .. } => *id,
            _ => item.map(|i| i.id).unwrap_or_default(),
        };
        mp::array_len(&mut out, 7);
        mp::uint(&mut out, k.into());
        rmp_serde::encode::write(&mut out, key).map_err(|e| codec(store, e))?;
        match old {
            Some(o) => rmp_serde::encode::write(&mut out, o).map_err(|e| codec(store, e))?,
            None => out.push(mp::NIL),
        }
        mp::bin16(&mut out, id.as_bytes());
        mp::uint(&mut out, item.map_or(0, |i| i.version));
        match item.map(|i| &i.value) {
            Some(ValueCell::Inline(v)) => {
                out.extend_from_slice(v);
                out.push(mp::NIL);
            }
            Some(ValueCell::Blob(b)) => {
                out.push(mp::NIL);
                mp::bin16(&mut out, b.as_bytes());
            }
            None => out.extend_from_slice(&[mp::NIL, mp::NIL]),
        }
    }
    Ok(out)
}

/// Decodes ops written by [`encode_ops`].
pub fn decode_ops<K: DeserializeOwned, V: DeserializeOwned + Serialize>(
    store: &str,
    bytes: &[u8],
) -> Result<Vec<Op<K>>> {
    let list: Vec<OpIn<K, V>> = rmp_serde::from_slice(bytes).map_err(|e| codec(store, e))?;
    list.into_iter()
        .map(|o| {
            let id = Uuid::from_bytes(o.id);
            let value = match (o.val, o.blob) {
                (Some(v), _) => Some(ValueCell::Inline(
                    rmp_serde::to_vec(&v).map_err(|e| codec(store, e))?,
                )),
                (None, Some(b)) => Some(ValueCell::Blob(Uuid::from_bytes(b))),
                (None, None) => None,
            };
            let item = |key: K, value: Option<ValueCell>| -> Result<Arc<Item<K>>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde form format 1 WAL records were written with.
    #[derive(Serialize)]
    struct OpOut<'a, K, V> {
        k: u8,
        key: &'a K,
        old: Option<&'a K>,
        #[serde(with = "serde_bytes")]
        id: [u8; 16],
        ver: u64,
        val: Option<&'a V>,
        #[serde(with = "serde_bytes")]
        blob: Option<[u8; 16]>,
    }

    fn item(key: &str, ver: u64, value: ValueCell) -> Arc<Item<String>> {
        Arc::new(Item {
            key: key.into(),
            id: Uuid::now_v7(),
            version: ver,
            value,
        })
    }

    #[test]
    fn hand_framing_equals_serde_and_round_trips() -> Result<()> {
        let val = vec![3u32, 70_000, 5];
        let blob = Uuid::new_v4();
        let enc = rmp_serde::to_vec(&val).expect("encode");
        // Versions cover every integer width; 20 ops cover the array16 header.
        let mut ops: Vec<Op<String>> = Vec::new();
        for (i, ver) in [0u64, 5, 200, 60_000, 4_000_000_000, u64::MAX]
            .iter()
            .cycle()
            .take(20)
            .enumerate()
        {
            ops.push(match i % 3 {
                0 => Op::Insert(item(&format!("k{i}"), *ver, ValueCell::Inline(enc.clone()))),
                1 => Op::Replace {
                    old_key: format!("k{i}"),
                    item: item(&format!("k{i}"), *ver, ValueCell::Blob(blob)),
                },
                _ => Op::Remove {
                    key: format!("k{i}"),
                    id: Uuid::now_v7(),
                },
            });
        }
        let mine = encode_ops("s", &ops)?;
        let reference: Vec<OpOut<'_, String, Vec<u32>>> = ops
            .iter()
            .map(|op| match op {
                Op::Insert(it) => OpOut {
                    k: 0,
                    key: &it.key,
                    old: None,
                    id: *it.id.as_bytes(),
                    ver: it.version,
                    val: Some(&val),
                    blob: None,
                },
                Op::Replace { old_key, item } => OpOut {
                    k: 1,
                    key: &item.key,
                    old: Some(old_key),
                    id: *item.id.as_bytes(),
                    ver: item.version,
                    val: None,
                    blob: Some(*blob.as_bytes()),
                },
                Op::Remove { key, id } => OpOut {
                    k: 2,
                    key,
                    old: None,
                    id: *id.as_bytes(),
                    ver: 0,
                    val: None,
                    blob: None,
                },
            })
            .collect();
        assert_eq!(mine, rmp_serde::to_vec(&reference).expect("encode"));
        let back = decode_ops::<String, Vec<u32>>("s", &mine)?;
        assert_eq!(back.len(), ops.len());
        match (&back[0], &ops[0]) {
            (Op::Insert(a), Op::Insert(b)) => {
                assert_eq!((&a.key, a.id, a.version), (&b.key, b.id, b.version));
                assert_eq!(a.value, ValueCell::Inline(enc.clone()));
            }
            _ => panic!("expected inserts"),
        }
        assert!(
            matches!(&back[4], Op::Replace { item, .. } if item.value == ValueCell::Blob(blob))
        );
        assert!(matches!(&back[2], Op::Remove { key, .. } if key == "k2"));
        Ok(())
    }
}
