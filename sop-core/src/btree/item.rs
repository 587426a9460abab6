//! Items and nodes of the B+tree and their compact binary encoding.
//!
//! A leaf holds items sorted by `(key, item id)`; an internal node holds
//! separators `(key, item id)` and children. Separator `i` is the smallest
//! `(key, id)` of child `i + 1`, so child `i` holds everything `< sep[i]`.
//! Item ids are UUIDv7 (time ordered), so duplicates of one key iterate in
//! insertion order.
//!
//! Node payload (inside a `Node` [frame](crate::storage::frame)), little endian:
//! `u8 kind (1 leaf, 2 internal)`, `u32 n`, then for a leaf `n` items of
//! `[16 id][u64 version][u32 len][key msgpack][u8 tag][value]` where tag 0 is
//! `u32 len + msgpack value` and tag 1 a 16-byte value blob id; for an internal
//! node `n` separators `[16 id][u32 len][key msgpack]` then `n + 1` child ids
//! (u64). Keys and values use MessagePack (self-describing, so JSON keys work).

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Result, SopError};
use crate::storage::registry::NodeId;

/// Where an item's value is.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueCell<V> {
    /// Inside the node.
    Inline(V),
    /// In its own blob (medium or big placement).
    Blob(Uuid),
}

/// One key/value entry.
#[derive(Debug, Clone)]
pub struct Item<K, V> {
    /// The key (may carry ride-on fields).
    pub key: K,
    /// The item's identity, unique within the store.
    pub id: Uuid,
    /// Id of the transaction that last wrote the item.
    pub version: u64,
    /// The value or its blob.
    pub value: ValueCell<V>,
}

/// A leaf: items sorted by `(key, id)`, with their positions also kept in a
/// contiguous array so binary search does not chase item pointers.
///
/// Invariant: `keys[i] == (items[i].key, items[i].id)` for every `i`.
#[derive(Debug, Clone)]
pub struct Leaf<K, V> {
    keys: Vec<(K, Uuid)>,
    items: Vec<Arc<Item<K, V>>>,
}

impl<K: Clone, V> Default for Leaf<K, V> {
    fn default() -> Self {
        Leaf {
            keys: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<K, V> Leaf<K, V> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The item at `i`.
    pub fn get(&self, i: usize) -> Option<&Arc<Item<K, V>>> {
        self.items.get(i)
    }

    /// All items in order.
    pub fn items(&self) -> &[Arc<Item<K, V>>] {
        &self.items
    }

    /// All `(key, id)` positions in order.
    pub fn keys(&self) -> &[(K, Uuid)] {
        &self.keys
    }
}

impl<K: Clone, V> Leaf<K, V> {
    /// A leaf holding `items` (already sorted).
    pub fn from_items(items: Vec<Arc<Item<K, V>>>) -> Self {
        let keys = items.iter().map(|it| (it.key.clone(), it.id)).collect();
        Leaf { keys, items }
    }

    /// Inserts at `i`.
    pub fn insert(&mut self, i: usize, item: Arc<Item<K, V>>) {
        self.keys.insert(i, (item.key.clone(), item.id));
        self.items.insert(i, item);
    }

    /// Removes and returns the item at `i`.
    pub fn remove(&mut self, i: usize) -> Arc<Item<K, V>> {
        self.keys.remove(i);
        self.items.remove(i)
    }

    /// Replaces the item at `i`, returning the old one.
    pub fn replace(&mut self, i: usize, item: Arc<Item<K, V>>) -> Arc<Item<K, V>> {
        self.keys[i] = (item.key.clone(), item.id);
        std::mem::replace(&mut self.items[i], item)
    }

    /// Splits off the items from `at` on.
    pub fn split_off(&mut self, at: usize) -> Leaf<K, V> {
        Leaf {
            keys: self.keys.split_off(at),
            items: self.items.split_off(at),
        }
    }

    /// Appends `other`'s items.
    pub fn append(&mut self, other: &Leaf<K, V>) {
        self.keys.extend(other.keys.iter().cloned());
        self.items.extend(other.items.iter().cloned());
    }
}

/// A node: a leaf of items or an internal node of separators and children.
#[derive(Debug, Clone)]
pub enum Node<K, V> {
    /// Items sorted by `(key, id)`.
    Leaf(Leaf<K, V>),
    /// `children.len() == seps.len() + 1`.
    Internal {
        /// Lower bounds of children 1..
        seps: Vec<(K, Uuid)>,
        /// Child node ids.
        children: Vec<NodeId>,
    },
}

impl<K, V> Node<K, V> {
    /// Number of items (leaf) or children (internal).
    pub fn len(&self) -> usize {
        match self {
            Node::Leaf(items) => items.len(),
            Node::Internal { children, .. } => children.len(),
        }
    }

    /// True for an empty leaf.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn codec_err(store: &str, what: &'static str, e: impl std::fmt::Display) -> SopError {
    SopError::Codec {
        store: store.to_string(),
        what,
        reason: e.to_string(),
    }
}

/// Encodes a serde value as MessagePack with a u32 length prefix.
pub fn put_msgpack<T: Serialize>(
    out: &mut Vec<u8>,
    store: &str,
    what: &'static str,
    v: &T,
) -> Result<()> {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    rmp_serde::encode::write(out, v).map_err(|e| codec_err(store, what, e))?;
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// A bounds-checked reader over a node payload.
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, reporting errors against `path`.
    pub fn new(buf: &'a [u8], path: &'a Path) -> Self {
        Reader { buf, at: 0, path }
    }

    /// Next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let s = self
            .buf
            .get(self.at..self.at + n)
            .ok_or_else(|| SopError::format(self.path, format!("truncated at byte {}", self.at)))?;
        self.at += n;
        Ok(s)
    }

    /// Next byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// Next u32 LE.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Next u64 LE.
    pub fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    /// Next UUID.
    pub fn uuid(&mut self) -> Result<Uuid> {
        let b = self.take(16)?;
        Uuid::from_slice(b).map_err(|e| SopError::format(self.path, e.to_string()))
    }

    /// Next length-prefixed MessagePack value.
    pub fn msgpack<T: DeserializeOwned>(&mut self, store: &str, what: &'static str) -> Result<T> {
        let len = self.u32()? as usize;
        let b = self.take(len)?;
        rmp_serde::from_slice(b).map_err(|e| codec_err(store, what, e))
    }

    /// True when all bytes were consumed.
    pub fn done(&self) -> bool {
        self.at == self.buf.len()
    }
}

/// Encodes a node's payload.
pub fn encode_node<K: Serialize + Clone, V: Serialize>(
    store: &str,
    node: &Node<K, V>,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + node.len() * 64);
    match node {
        Node::Leaf(items) => {
            out.push(1);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for it in items.items() {
                out.extend_from_slice(it.id.as_bytes());
                out.extend_from_slice(&it.version.to_le_bytes());
                put_msgpack(&mut out, store, "key", &it.key)?;
                match &it.value {
                    ValueCell::Inline(v) => {
                        out.push(0);
                        put_msgpack(&mut out, store, "value", v)?;
                    }
                    ValueCell::Blob(id) => {
                        out.push(1);
                        out.extend_from_slice(id.as_bytes());
                    }
                }
            }
        }
        Node::Internal { seps, children } => {
            out.push(2);
            out.extend_from_slice(&(seps.len() as u32).to_le_bytes());
            for (k, id) in seps {
                out.extend_from_slice(id.as_bytes());
                put_msgpack(&mut out, store, "key", k)?;
            }
            for c in children {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
    }
    Ok(out)
}

/// Decodes a node's payload.
pub fn decode_node<K: DeserializeOwned + Clone, V: DeserializeOwned>(
    store: &str,
    path: &Path,
    buf: &[u8],
) -> Result<Node<K, V>> {
    let mut r = Reader::new(buf, path);
    let kind = r.u8()?;
    let n = r.u32()? as usize;
    if n > buf.len() {
        return Err(SopError::format(
            path,
            format!("node claims {n} entries in {} bytes", buf.len()),
        ));
    }
    let node = match kind {
        1 => {
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let id = r.uuid()?;
                let version = r.u64()?;
                let key = r.msgpack(store, "key")?;
                let value = match r.u8()? {
                    0 => ValueCell::Inline(r.msgpack(store, "value")?),
                    1 => ValueCell::Blob(r.uuid()?),
                    t => return Err(SopError::format(path, format!("unknown value tag {t}"))),
                };
                items.push(Arc::new(Item {
                    key,
                    id,
                    version,
                    value,
                }));
            }
            Node::Leaf(Leaf::from_items(items))
        }
        2 => {
            let mut seps = Vec::with_capacity(n);
            for _ in 0..n {
                let id = r.uuid()?;
                seps.push((r.msgpack(store, "key")?, id));
            }
            let mut children = Vec::with_capacity(n + 1);
            for _ in 0..=n {
                children.push(r.u64()?);
            }
            Node::Internal { seps, children }
        }
        k => return Err(SopError::format(path, format!("unknown node kind {k}"))),
    };
    if !r.done() {
        return Err(SopError::format(path, "trailing bytes after node"));
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_round_trip() -> Result<()> {
        let items: Vec<Arc<Item<String, Vec<u8>>>> = (0..10)
            .map(|i| {
                Arc::new(Item {
                    key: format!("k{i}"),
                    id: Uuid::now_v7(),
                    version: i,
                    value: if i % 2 == 0 {
                        ValueCell::Inline(vec![i as u8; 5])
                    } else {
                        ValueCell::Blob(Uuid::new_v4())
                    },
                })
            })
            .collect();
        let leaf = Node::Leaf(Leaf::from_items(items.clone()));
        let bytes = encode_node("s", &leaf)?;
        let back: Node<String, Vec<u8>> = decode_node("s", Path::new("n"), &bytes)?;
        let Node::Leaf(b) = back else {
            panic!("expected leaf")
        };
        assert_eq!(b.len(), 10);
        assert_eq!(b.items()[3].key, "k3");
        assert_eq!(b.keys()[3].0, "k3");
        assert_eq!(b.items()[4].value, ValueCell::Inline(vec![4; 5]));
        let internal: Node<String, Vec<u8>> = Node::Internal {
            seps: vec![("m".into(), Uuid::nil())],
            children: vec![4, 9],
        };
        let bytes = encode_node("s", &internal)?;
        let back: Node<String, Vec<u8>> = decode_node("s", Path::new("n"), &bytes)?;
        assert!(matches!(back, Node::Internal { ref children, .. } if children == &vec![4, 9]));
        assert!(
            decode_node::<String, Vec<u8>>("s", Path::new("n"), &bytes[..bytes.len() - 1]).is_err()
        );
        Ok(())
    }
}
