//! The B-tree keys of the registry's three stores and the ride-on summary.
//!
//! * [`ModelKey`] orders by `(category, name, version)` only; its
//!   [`ModelSummary`] rides on the key, so listings (`keys()` scans) never
//!   load a model body. Equality agrees with the order (summary ignored).
//! * [`AliasKey`] `(category, name, alias)` → version string.
//! * [`ChunkKey`] `(category, name, version, chunk no)` → [`Bytes`], one
//!   big-placement blob per chunk (CRC-framed by `sop-core`).
//!
//! Scan bounds: the empty name/version is smaller than every stored one (the
//! registry refuses empty strings), and `s + "\0"` is the smallest string
//! greater than `s`, so `[(c, n, ""), (c, n + "\0", ""))` holds exactly the
//! versions of `c/n` and `[(c, "", ""), (c + "\0", "", ""))` exactly the
//! models of category `c`.

use std::cmp::Ordering;
use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::version::Version;

/// Where and how a model version's binary artifact is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    /// Total size in bytes.
    pub size: u64,
    /// Number of chunks.
    pub chunks: u64,
    /// Bytes per chunk (every chunk but the last is full).
    pub chunk_size: u64,
    /// CRC32 of the whole artifact, checked when it is read to the end.
    pub crc32: u32,
}

/// What a listing knows about a model version without loading its body:
/// it rides on the B-tree key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ModelSummary {
    /// When the version was first saved (ms since the Unix epoch).
    pub created_ms: u64,
    /// When the body or metadata was last written (ms since the Unix epoch).
    pub updated_ms: u64,
    /// Size of the encoded (MessagePack) model body.
    pub body_bytes: u64,
    /// Aliases currently pointing at this version, sorted.
    pub aliases: Vec<String>,
    /// The binary artifact, if one was stored.
    pub artifact: Option<ArtifactInfo>,
}

/// Key of the models store; see the module docs for the ordering rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ModelKey {
    pub category: String,
    pub name: String,
    pub version: Version,
    pub summary: ModelSummary,
}

impl ModelKey {
    /// A key with an empty summary (for lookups and scan bounds).
    pub fn probe(category: &str, name: &str, version: &str) -> Self {
        ModelKey {
            category: category.to_string(),
            name: name.to_string(),
            version: Version::new(version),
            summary: ModelSummary::default(),
        }
    }

    fn ordered(&self) -> (&str, &str, &Version) {
        (&self.category, &self.name, &self.version)
    }
}

impl PartialEq for ModelKey {
    fn eq(&self, other: &Self) -> bool {
        self.ordered() == other.ordered()
    }
}

impl Eq for ModelKey {}

impl PartialOrd for ModelKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ModelKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ordered().cmp(&other.ordered())
    }
}

/// Key of the aliases store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct AliasKey {
    pub category: String,
    pub name: String,
    pub alias: String,
}

/// Key of the chunks store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct ChunkKey {
    pub category: String,
    pub name: String,
    pub version: String,
    pub chunk: u64,
}

/// A byte payload (artifact chunk, encoded model body) serialized as a
/// MessagePack `bin` (not an array of integers), so a chunk blob is its
/// bytes plus a few header bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
        Ok(Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> std::result::Result<Bytes, E> {
        Ok(Bytes(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Bytes, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(Bytes(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ride_on_summary_does_not_affect_order_or_equality() {
        let mut a = ModelKey::probe("c", "n", "1.0.0");
        let b = ModelKey::probe("c", "n", "1.0.0");
        a.summary.aliases.push("production".into());
        a.summary.body_bytes = 42;
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert!(ModelKey::probe("c", "n", "1.9.0") < ModelKey::probe("c", "n", "1.10.0"));
        assert!(ModelKey::probe("c", "n", "") < ModelKey::probe("c", "n", "draft"));
        assert!(ModelKey::probe("c", "n", "9.9.9") < ModelKey::probe("c", "n\0", ""));
        assert!(ModelKey::probe("c", "n\0", "") < ModelKey::probe("c", "n0", ""));
    }
}
