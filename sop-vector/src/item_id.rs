//! [`ItemId`]: an item id as the `vecs` and `data` keys hold it, cheap to copy.
//!
//! A write transaction copies every leaf it changes (copy-on-write), and with it every key of
//! the leaf. A batch of inserts spread over all buckets touches most leaves of `vecs`, so a key
//! copy is on the hottest path of ingest: with a `String` id it was one allocation (and later
//! one free) per key of every touched leaf. An `ItemId` keeps ids of up to [`INLINE`] bytes in
//! place (a copy is a `memcpy`) and shares longer ones (a copy is a reference count).
//!
//! Invariants: the bytes are valid UTF-8 (built only from `&str`); ordering, equality and
//! hashing are those of the string, whichever representation holds it. It serialises as a
//! plain string, so the stored bytes are exactly those of a `String` id.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest id kept in place (the type is as large as a `String`).
pub const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

/// An item id (see the module docs).
#[derive(Clone)]
pub struct ItemId(Repr);

impl ItemId {
    /// The id `s`.
    pub fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            ItemId(Repr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            ItemId(Repr::Shared(Arc::from(s)))
        }
    }

    /// The id's UTF-8 bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Shared(s) => s.as_bytes(),
        }
    }

    /// The id.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Always valid (built from a `&str`); the check costs a few instructions on at
            // most INLINE bytes and keeps the crate free of `unsafe`.
            Repr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Repr::Shared(s) => s,
        }
    }

    /// Whether the id is kept in place (no heap object).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl Default for ItemId {
    fn default() -> Self {
        ItemId::new("")
    }
}

impl Deref for ItemId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ItemId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for ItemId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for ItemId {
    fn from(s: &str) -> Self {
        ItemId::new(s)
    }
}

impl From<&String> for ItemId {
    fn from(s: &String) -> Self {
        ItemId::new(s)
    }
}

impl From<String> for ItemId {
    fn from(s: String) -> Self {
        ItemId::new(&s)
    }
}

impl From<&ItemId> for ItemId {
    fn from(s: &ItemId) -> Self {
        s.clone()
    }
}

impl PartialEq for ItemId {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for ItemId {}

impl PartialEq<str> for ItemId {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for ItemId {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialOrd for ItemId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ItemId {
    /// Byte order, which for UTF-8 is the order of the strings.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for ItemId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ItemId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = ItemId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an item id string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ItemId, E> {
        Ok(ItemId::new(v))
    }
}

impl<'de> Deserialize<'de> for ItemId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            "a",
            "b",
            "ab",
            "é",
            "z\u{1F600}",
            "0123456789012345678901",
            "01234567890123456789012",
            "0123456789012345678901a",
            "a-much-longer-id-that-cannot-stay-inline-at-all",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend((0..200).map(|i| format!("{}", i * 7919)));
        v
    }

    #[test]
    fn orders_and_compares_like_the_strings() {
        let strings = ids();
        for a in &strings {
            let ia = ItemId::new(a);
            assert_eq!(ia.as_str(), a);
            assert_eq!(ia.is_inline(), a.len() <= INLINE);
            for b in &strings {
                let ib = ItemId::new(b);
                assert_eq!(ia.cmp(&ib), a.cmp(b), "{a:?} vs {b:?}");
                assert_eq!(ia == ib, a == b);
            }
        }
        assert_eq!(std::mem::size_of::<ItemId>(), std::mem::size_of::<String>());
    }

    #[test]
    fn serialises_exactly_as_a_string() -> Result<(), Box<dyn std::error::Error>> {
        for s in ids() {
            let id = ItemId::new(&s);
            let bytes = rmp_serde::to_vec(&id)?;
            assert_eq!(bytes, rmp_serde::to_vec(&s)?);
            let back: ItemId = rmp_serde::from_slice(&bytes)?;
            assert_eq!(back, id);
            let json = serde_json::to_string(&id)?;
            assert_eq!(json, serde_json::to_string(&s)?);
            assert_eq!(serde_json::from_str::<ItemId>(&json)?, id);
        }
        // Anything but a string is refused.
        assert!(rmp_serde::from_slice::<ItemId>(&rmp_serde::to_vec(&7u32)?).is_err());
        Ok(())
    }
}
