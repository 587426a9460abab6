//! [`StoredVector`]: the value of a `vecs_vN` item, encoded as one byte string.
//!
//! Layout 2 (see [`crate::schema::LAYOUT_VERSION`]) writes a vector as a MessagePack `bin`
//! of its components as little-endian `f32` (`4 × dim` bytes): one copy in and out, no
//! per-component encoding, 20% smaller than layout 1's MessagePack array of `f32` (5 bytes a
//! component). Reading accepts both, so stores written by layout 1 stay readable; the
//! components round-trip bit for bit either way.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A stored vector (see the module docs), held in its encoded form: writes (the WAL record
/// and every node encoding) copy the bytes as they are; reads decode once.
///
/// Invariant: `bytes.len()` is a multiple of 4.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredVector {
    bytes: Vec<u8>,
}

impl StoredVector {
    /// Encodes `v`.
    pub fn new(v: &[f32]) -> Self {
        let mut bytes = vec![0u8; v.len() * 4];
        for (b, x) in bytes.chunks_exact_mut(4).zip(v) {
            b.copy_from_slice(&x.to_le_bytes());
        }
        Self { bytes }
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.bytes.len() / 4
    }

    /// Whether the vector has no component.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends the components to `out`.
    pub fn decode_into(&self, out: &mut Vec<f32>) {
        out.extend(
            self.bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
    }

    /// The components.
    pub fn to_vec(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.len());
        self.decode_into(&mut out);
        out
    }
}

impl Serialize for StoredVector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.bytes)
    }
}

struct StoredVisitor;

impl<'de> Visitor<'de> for StoredVisitor {
    type Value = StoredVector;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string of little-endian f32, or a sequence of f32")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<StoredVector, E> {
        self.visit_byte_buf(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<StoredVector, E> {
        if !bytes.len().is_multiple_of(4) {
            return Err(E::invalid_length(bytes.len(), &"a multiple of 4 bytes"));
        }
        Ok(StoredVector { bytes })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StoredVector, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(x) = seq.next_element::<f32>()? {
            out.push(x);
        }
        Ok(StoredVector::new(&out))
    }
}

impl<'de> Deserialize<'de> for StoredVector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StoredVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_bit_for_bit_and_reads_layout_1() -> Result<(), Box<dyn std::error::Error>> {
        let raw = vec![1.5, -0.0, f32::MIN_POSITIVE, 3.25e-7, f32::MAX];
        let v = StoredVector::new(&raw);
        assert_eq!((v.len(), v.is_empty()), (5, false));
        let bytes = rmp_serde::to_vec(&v)?;
        assert_eq!(bytes.len(), 2 + 4 * 5, "bin8 header and raw components");
        let back: StoredVector = rmp_serde::from_slice(&bytes)?;
        let bits = |s: &StoredVector| s.to_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&v));
        assert_eq!(back, v);
        // Layout 1 wrote a MessagePack array of f32.
        let old = rmp_serde::to_vec(&raw)?;
        let back: StoredVector = rmp_serde::from_slice(&old)?;
        assert_eq!(bits(&back), bits(&v));
        // A truncated byte string is an error, not a shorter vector.
        let bad = rmp_serde::to_vec(&serde_bytes_like(&[0u8; 7]))?;
        assert!(rmp_serde::from_slice::<StoredVector>(&bad).is_err());
        Ok(())
    }

    /// A value that serialises as a MessagePack `bin`.
    fn serde_bytes_like(b: &[u8]) -> impl Serialize + '_ {
        struct Bin<'a>(&'a [u8]);
        impl Serialize for Bin<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        Bin(b)
    }
}
