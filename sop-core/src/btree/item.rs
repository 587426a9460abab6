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
//!
//! In memory, values stay in their MessagePack encoding (see
//! [`crate::btree::leaf`]): they are decoded only when a caller reads them,
//! and encoding or decoding a node never touches them.

use std::marker::PhantomData;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

pub use crate::btree::leaf::{CellRef, Leaf, LeafBuilder};
use crate::error::{Result, SopError};
use crate::storage::registry::NodeId;

/// Where an owned item's value is.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueCell {
    /// The MessagePack encoding of the value, kept inside the node.
    Inline(Vec<u8>),
    /// In its own blob (medium or big placement).
    Blob(Uuid),
}

impl ValueCell {
    /// The borrowed form a leaf stores.
    pub fn as_ref(&self) -> CellRef<'_> {
        match self {
            ValueCell::Inline(b) => CellRef::Inline(b),
            ValueCell::Blob(id) => CellRef::Blob(*id),
        }
    }
}

impl CellRef<'_> {
    /// An owned copy.
    pub fn to_owned(self) -> ValueCell {
        match self {
            CellRef::Inline(b) => ValueCell::Inline(b.to_vec()),
            CellRef::Blob(id) => ValueCell::Blob(id),
        }
    }
}

/// One key/value entry, owned (operations, cursors, scan results).
#[derive(Debug, Clone)]
pub struct Item<K> {
    /// The key (may carry ride-on fields).
    pub key: K,
    /// The item's identity, unique within the store.
    pub id: Uuid,
    /// Id of the transaction that last wrote the item.
    pub version: u64,
    /// The encoded value or its blob.
    pub value: ValueCell,
}

impl<K> Item<K> {
    /// The borrowed form.
    pub fn as_ref(&self) -> ItemRef<'_, K> {
        ItemRef {
            key: &self.key,
            id: self.id,
            version: self.version,
            cell: Cell::Given(self.value.as_ref()),
        }
    }
}

/// One entry as it lies in a leaf (or in an owned [`Item`]), borrowed. The
/// value is located only when asked for ([`ItemRef::value`]): comparisons
/// and read records never touch value memory.
#[derive(Debug)]
pub struct ItemRef<'a, K: 'static> {
    /// The key.
    pub key: &'a K,
    /// The item's id.
    pub id: Uuid,
    /// Id of the transaction that last wrote the item.
    pub version: u64,
    cell: Cell<'a, K>,
}

/// Where an [`ItemRef`]'s value is.
#[derive(Debug)]
enum Cell<'a, K: 'static> {
    InLeaf(&'a Leaf<K>, usize),
    Given(CellRef<'a>),
}

impl<K: 'static> Clone for Cell<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: 'static> Copy for Cell<'_, K> {}

impl<'a, K: 'static> ItemRef<'a, K> {
    /// The encoded value or its blob.
    pub fn value(&self) -> CellRef<'a> {
        match self.cell {
            Cell::InLeaf(leaf, i) => leaf.value(i),
            Cell::Given(c) => c,
        }
    }
}

impl<K: 'static> Clone for ItemRef<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: 'static> Copy for ItemRef<'_, K> {}

impl<K: Clone + 'static> ItemRef<'_, K> {
    /// An owned copy.
    pub fn to_owned(self) -> Item<K> {
        Item {
            key: self.key.clone(),
            id: self.id,
            version: self.version,
            value: self.value().to_owned(),
        }
    }
}

impl<K: 'static> Leaf<K> {
    /// The item at `i`, borrowed.
    #[inline]
    pub fn at(&self, i: usize) -> ItemRef<'_, K> {
        ItemRef {
            key: self.key(i),
            id: self.id(i),
            version: self.version(i),
            cell: Cell::InLeaf(self, i),
        }
    }

    /// The item at `i` when `i` is in range.
    #[inline]
    pub fn get(&self, i: usize) -> Option<ItemRef<'_, K>> {
        (i < self.len()).then(|| self.at(i))
    }
}

/// A node: a leaf of items or an internal node of separators and children.
/// `V` is the store's value type (values are kept encoded; the parameter
/// keeps nodes of differently typed stores apart in the caches).
#[derive(Debug)]
pub enum Node<K: 'static, V> {
    /// Items sorted by `(key, id)`.
    Leaf(Leaf<K>, PhantomData<fn() -> V>),
    /// `children.len() == seps.len() + 1`.
    Internal {
        /// Lower bounds of children 1..
        seps: Vec<(K, Uuid)>,
        /// Child node ids.
        children: Vec<NodeId>,
    },
}

impl<K: Clone + 'static, V> Clone for Node<K, V> {
    fn clone(&self) -> Self {
        self.clone_with_room(1)
    }
}

impl<K: 'static, V> Node<K, V> {
    /// The lines a search of this node reads first: its separators' or its
    /// leaf entries' first binary-search probes.
    #[inline(always)]
    pub fn search_lines(&self) -> crate::btree::prefetch::SearchLines {
        match self {
            Node::Internal { seps, .. } => crate::btree::prefetch::SearchLines::of(seps),
            Node::Leaf(items, _) => items.search_lines(),
        }
    }
}

impl<K: Clone + 'static, V> Node<K, V> {
    /// A copy about to be changed: room for `room` more entries, so that
    /// growing up to a split never reallocates.
    pub fn clone_with_room(&self, room: usize) -> Self {
        match self {
            Node::Leaf(l, _) => Node::Leaf(l.clone_with_room(room), PhantomData),
            Node::Internal { seps, children } => {
                let mut s = Vec::with_capacity(seps.len() + room);
                s.extend_from_slice(seps);
                let mut c = Vec::with_capacity(children.len() + room);
                c.extend_from_slice(children);
                Node::Internal {
                    seps: s,
                    children: c,
                }
            }
        }
    }
}

impl<K: 'static, V> Node<K, V> {
    /// A leaf node.
    pub fn leaf(leaf: Leaf<K>) -> Self {
        Node::Leaf(leaf, PhantomData)
    }

    /// Number of items (leaf) or children (internal).
    pub fn len(&self) -> usize {
        match self {
            Node::Leaf(items, _) => items.len(),
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
pub fn encode_node<K: Serialize + 'static, V>(store: &str, node: &Node<K, V>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + node.len() * 64);
    encode_node_into(&mut out, store, node)?;
    Ok(out)
}

/// Appends a node's payload to `out`.
pub fn encode_node_into<K: Serialize + 'static, V>(
    out: &mut Vec<u8>,
    store: &str,
    node: &Node<K, V>,
) -> Result<()> {
    match node {
        Node::Leaf(items, _) => {
            out.push(1);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for i in 0..items.len() {
                out.extend_from_slice(items.id(i).as_bytes());
                out.extend_from_slice(&items.version(i).to_le_bytes());
                put_msgpack(out, store, "key", items.key(i))?;
                match items.value(i) {
                    CellRef::Inline(v) => {
                        out.push(0);
                        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                        out.extend_from_slice(v);
                    }
                    CellRef::Blob(id) => {
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
                put_msgpack(out, store, "key", k)?;
            }
            for c in children {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
    }
    Ok(())
}

/// Decodes a node's payload.
pub fn decode_node<K: DeserializeOwned + 'static, V>(
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
            let mut leaf = LeafBuilder::with_capacity(n);
            for _ in 0..n {
                let id = r.uuid()?;
                let version = r.u64()?;
                let key = r.msgpack(store, "key")?;
                let value = match r.u8()? {
                    0 => {
                        let len = r.u32()? as usize;
                        CellRef::Inline(r.take(len)?)
                    }
                    1 => CellRef::Blob(r.uuid()?),
                    t => return Err(SopError::format(path, format!("unknown value tag {t}"))),
                };
                leaf.push(key, id, version, value);
            }
            Node::leaf(leaf.finish())
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

    fn enc<T: Serialize>(v: &T) -> Vec<u8> {
        rmp_serde::to_vec(v).expect("encode")
    }

    #[test]
    fn node_round_trip() -> Result<()> {
        let mut b = LeafBuilder::with_capacity(10);
        let blobs: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
        for i in 0..10u8 {
            let bytes = enc(&vec![i; 5]);
            let value = if i % 2 == 0 {
                CellRef::Inline(&bytes)
            } else {
                CellRef::Blob(blobs[i as usize])
            };
            b.push(format!("k{i}"), Uuid::now_v7(), u64::from(i), value);
        }
        let leaf: Node<String, Vec<u8>> = Node::leaf(b.finish());
        let bytes = encode_node("s", &leaf)?;
        let back: Node<String, Vec<u8>> = decode_node("s", Path::new("n"), &bytes)?;
        let Node::Leaf(b, _) = back else {
            panic!("expected leaf")
        };
        assert_eq!(b.len(), 10);
        assert_eq!(b.key(3), "k3");
        assert_eq!(b.at(3).version, 3);
        assert_eq!(b.value(4), CellRef::Inline(&enc(&vec![4u8; 5])));
        assert_eq!(b.value(5), CellRef::Blob(blobs[5]));
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

    /// The leaf layout on disk is unchanged by keeping values encoded: a
    /// value is written as `u32 len + MessagePack`, exactly what format 1
    /// wrote for a decoded value.
    #[test]
    fn leaf_bytes_match_format_1() -> Result<()> {
        let id = Uuid::from_u128(5);
        let value = vec![1u8, 2, 3];
        let mut b = LeafBuilder::with_capacity(1);
        b.push(7u32, id, 9, CellRef::Inline(&enc(&value)));
        let bytes = encode_node::<u32, Vec<u8>>("s", &Node::leaf(b.finish()))?;
        let mut want = vec![1u8];
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(id.as_bytes());
        want.extend_from_slice(&9u64.to_le_bytes());
        let k = enc(&7u32);
        want.extend_from_slice(&(k.len() as u32).to_le_bytes());
        want.extend_from_slice(&k);
        want.push(0);
        let v = enc(&value);
        want.extend_from_slice(&(v.len() as u32).to_le_bytes());
        want.extend_from_slice(&v);
        assert_eq!(bytes, want);
        Ok(())
    }
}
