//! The body of a WAL record: one committed transaction.
//!
//! MessagePack of [`CommitRecord`]. Per store it carries the store's creation
//! (when the transaction created it), a drop marker (for `remove_btree`), and
//! the effective operations encoded by the typed store
//! ([`crate::btree::ops::encode_ops`]) — opaque here, decoded only when the
//! store is opened with its types.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SopError};
use crate::storage::catalog::StoreInfo;
use crate::storage::wal::RecordBuf;

/// One store's part of a commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreRecord {
    /// Store id.
    pub store_id: u32,
    /// Store name.
    pub name: String,
    /// Set when the transaction created the store.
    pub create: Option<StoreInfo>,
    /// Set when the store was removed.
    pub drop: bool,
    /// Encoded effective operations.
    #[serde(with = "bytes_as_bin")]
    pub ops: Vec<u8>,
}

/// One committed transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitRecord {
    /// Transaction id (also the version stamped on the items it wrote).
    pub tx_id: u64,
    /// Per-store changes.
    pub stores: Vec<StoreRecord>,
}

impl CommitRecord {
    /// Encodes the record.
    pub fn encode(&self) -> Result<Vec<u8>> {
        rmp_serde::to_vec(self).map_err(codec_error)
    }

    /// Encodes the record into a WAL record buffer (no intermediate copy of the ops).
    pub fn encode_into(&self, out: &mut RecordBuf) -> Result<()> {
        rmp_serde::encode::write(out, self).map_err(codec_error)
    }

    /// An upper estimate of the encoded size (the ops dominate it).
    pub fn size_hint(&self) -> usize {
        64 + self
            .stores
            .iter()
            .map(|s| 256 + s.name.len() + s.ops.len())
            .sum::<usize>()
    }

    /// Decodes a record.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        rmp_serde::from_slice(bytes).map_err(codec_error)
    }
}

/// The error for a commit record that failed to encode or decode.
fn codec_error(e: impl std::fmt::Display) -> SopError {
    SopError::Codec {
        store: "<wal>".into(),
        what: "commit record",
        reason: e.to_string(),
    }
}

mod bytes_as_bin {
    use serde::de::{Deserializer, Error, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a byte string")
        }
        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_bytes(V)
    }
}
