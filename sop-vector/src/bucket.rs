//! [`Bucket`]: one bucket's live vectors laid out for scanning (SPEC §2.4 "hot buckets are
//! cached as contiguous vector slabs").
//!
//! Built from a bucket's `vecs_vN` key range (ascending distance to the centroid), it holds
//! per row: the item id, the distance to the centroid (for triangle-inequality pruning), the
//! exact vector (row-major `f32`, for exact scores), the 8-bit code of its residual to the
//! centroid ([`crate::quant`], for the pre-filter) and its Euclidean norm (for `L2` scores and
//! rounding slack). Nothing here is persisted: the layout can change without a format change.
//!
//! Each row also has a payload slot, empty when built and filled at most once by the query
//! path ([`Bucket::keep_payload`]) with the payload read from `data`, so a cached bucket
//! answers later queries without a `data` lookup. A slot is only sound for the state the
//! bucket was read from: `crate::query` fills and reads slots only in transactions whose
//! `vecs`, `centroids` and `data` trees are clean, and every payload write also moves the
//! item's `vecs` entry and gives its bucket a new epoch (a new cache entry). Payloads whose
//! estimated heap size exceeds [`PAYLOAD_SLOT_MAX`] are not kept (their slot records that).
//!
//! Invariants: every per-row array has `len()` entries in the same (key) order; `distances`
//! is non-decreasing; `centre` is the centroid the residuals were coded against; `bytes()`
//! never changes after [`BucketBuilder::finish`] (the cache's weight accounting relies on it).

use std::sync::OnceLock;

use serde_json::Value;
use sop_core::btree::prefetch;

use crate::distance;
use crate::error::{Result, VectorError};
use crate::quant::{self, CodeSlab};

/// A bucket's live rows, ready to scan (see the module docs).
#[derive(Clone, Debug)]
pub struct Bucket {
    dim: usize,
    id_text: String,
    id_ends: Vec<u32>,
    distances: Vec<f32>,
    rows: Vec<f32>,
    norms: Vec<f32>,
    codes: CodeSlab,
    centre: Vec<f32>,
    /// Per row: unset, `Some(payload)`, or `None` for a payload too large to keep.
    payloads: Vec<OnceLock<Option<Value>>>,
}

/// Largest estimated heap size (bytes) of a payload kept in a payload slot; the cache budget
/// counts this much per row.
pub const PAYLOAD_SLOT_MAX: usize = 128;

/// Nominal heap bytes of one array element or one map key or value: `serde_json::Value`'s
/// size without the `preserve_order` feature. A constant rather than `size_of::<Value>()`, so
/// that which payloads fit a slot does not depend on the serde_json features the rest of a
/// build enables (with `preserve_order` a `Value` is over twice as large).
const NOMINAL_ENTRY_BYTES: usize = 32;

/// Estimated heap bytes of `v` (string bytes, array and map entries at
/// [`NOMINAL_ENTRY_BYTES`], map keys), or `None` once it exceeds `limit`.
fn heap_size(v: &Value, limit: usize) -> Option<usize> {
    let mut total = 0usize;
    add_heap_size(v, limit, &mut total)?;
    (total <= limit).then_some(total)
}

/// Adds `v`'s heap bytes to `total`; `None` as soon as `total` exceeds `limit`.
fn add_heap_size(v: &Value, limit: usize, total: &mut usize) -> Option<()> {
    let entry = NOMINAL_ENTRY_BYTES;
    let mut grow = |n: usize| {
        *total = total.saturating_add(n);
        (*total <= limit).then_some(())
    };
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => Some(()),
        Value::String(s) => grow(s.len()),
        Value::Array(a) => {
            grow(a.len() * entry)?;
            a.iter().try_for_each(|x| add_heap_size(x, limit, total))
        }
        Value::Object(m) => {
            grow(m.len() * 2 * entry)?;
            m.iter().try_for_each(|(k, x)| {
                *total = total.saturating_add(k.len());
                add_heap_size(x, limit, total)
            })
        }
    }
}

/// Accumulates rows in key order, then codes them ([`BucketBuilder::finish`]).
#[derive(Debug)]
pub struct BucketBuilder {
    bucket: Bucket,
}

impl BucketBuilder {
    /// A builder for rows of `centre.len()` components coded against `centre`.
    pub fn new(centre: &[f32]) -> Self {
        Self {
            bucket: Bucket {
                dim: centre.len(),
                id_text: String::new(),
                id_ends: Vec::new(),
                distances: Vec::new(),
                rows: Vec::new(),
                norms: Vec::new(),
                codes: CodeSlab::new(centre.len()),
                centre: centre.to_vec(),
                payloads: Vec::new(),
            },
        }
    }

    /// Appends a row (rows must come in non-decreasing `distance`).
    pub fn push(&mut self, id: &str, distance: f32, vector: &[f32]) -> Result<()> {
        let b = &mut self.bucket;
        if vector.len() != b.dim {
            return Err(VectorError::invalid(
                "vector",
                format!(
                    "item `{id}` has {} components, the bucket {}",
                    vector.len(),
                    b.dim
                ),
            ));
        }
        if b.distances.last().is_some_and(|&d| d > distance) {
            return Err(VectorError::invalid(
                "distance",
                format!("item `{id}` breaks the ascending distance order of its bucket"),
            ));
        }
        b.id_text.push_str(id);
        let end = u32::try_from(b.id_text.len())
            .map_err(|_| VectorError::invalid("id", "bucket ids exceed 4 GiB"))?;
        b.id_ends.push(end);
        b.distances.push(distance);
        b.rows.extend_from_slice(vector);
        b.norms.push(distance::norm(vector));
        Ok(())
    }

    /// Codes the residuals and returns the bucket.
    pub fn finish(mut self) -> Result<Bucket> {
        let b = &mut self.bucket;
        b.codes = CodeSlab::from_residuals(b.dim, &b.rows, &b.centre)?;
        b.payloads = std::iter::repeat_with(OnceLock::new)
            .take(b.distances.len())
            .collect();
        Ok(self.bucket)
    }
}

impl Bucket {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.distances.len()
    }

    /// Whether the bucket is empty.
    pub fn is_empty(&self) -> bool {
        self.distances.is_empty()
    }

    /// Dimension of the rows.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Id of row `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn id(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.id_ends[i - 1] as usize
        };
        &self.id_text[start..self.id_ends[i] as usize]
    }

    /// Distances to the centroid (ascending).
    pub fn distances(&self) -> &[f32] {
        &self.distances
    }

    /// The exact vector of row `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.dim..(i + 1) * self.dim]
    }

    /// Euclidean norms of the rows.
    pub fn norms(&self) -> &[f32] {
        &self.norms
    }

    /// Residual codes.
    pub fn codes(&self) -> &CodeSlab {
        &self.codes
    }

    /// Hints that a scan of this bucket starts soon: asks for its first code rows and the
    /// first lines of its per-row values (a hint only, see [`sop_core::btree::prefetch`]).
    pub fn prefetch_head(&self) {
        /// Per-row values asked for: two cache lines of `f32`.
        const HEAD_ROWS: usize = 32;
        let n = self.len();
        let codes = self.codes.rows(0, n);
        prefetch::slice(&codes[..codes.len().min(quant::PREFETCH_AHEAD)]);
        let head = n.min(HEAD_ROWS);
        prefetch::slice(&self.codes.scales()[..head]);
        prefetch::slice(&self.codes.l1_norms()[..head]);
        prefetch::slice(&self.norms[..head]);
        prefetch::slice(&self.distances[..head]);
    }

    /// The centroid the residuals are coded against.
    pub fn centre(&self) -> &[f32] {
        &self.centre
    }

    /// The payload kept for row `i`: `None` when its slot is unset or the payload was too
    /// large to keep (see the module docs for when a slot may be used).
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn payload(&self, i: usize) -> Option<&Value> {
        self.payloads[i].get().and_then(Option::as_ref)
    }

    /// Fills row `i`'s payload slot with `payload` (read from `data` in a transaction in
    /// which this bucket's state is the committed one); a slot already filled is kept.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn keep_payload(&self, i: usize, payload: &Value) {
        self.payloads[i]
            .get_or_init(|| heap_size(payload, PAYLOAD_SLOT_MAX).map(|_| payload.clone()));
    }

    /// Approximate bytes held (for the cache budget), payload slots counted at their maximum;
    /// constant once built.
    pub fn bytes(&self) -> usize {
        self.id_text.len()
            + 4 * (self.id_ends.len() + self.distances.len() + self.rows.len() + self.norms.len())
            + self.codes.bytes()
            + 4 * self.centre.len()
            + self.payloads.len()
                * (std::mem::size_of::<OnceLock<Option<Value>>>() + PAYLOAD_SLOT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_ids_and_order_are_kept() -> Result<()> {
        let mut b = BucketBuilder::new(&[0.0, 0.0]);
        b.push("a", 0.5, &[0.3, 0.4])?;
        b.push("", 1.0, &[0.6, 0.8])?;
        b.push("ccc", 1.0, &[1.0, 0.0])?;
        assert!(b.push("d", 0.9, &[1.0, 0.0]).is_err(), "order checked");
        assert!(b.push("e", 2.0, &[1.0]).is_err(), "length checked");
        let b = b.finish()?;
        // A prefetch is a hint: on a bucket with rows or none it reads nothing out of bounds
        // and changes nothing.
        b.prefetch_head();
        let empty = BucketBuilder::new(&[0.0, 0.0]).finish()?;
        empty.prefetch_head();
        assert!(empty.is_empty() && empty.codes().rows(0, 0).is_empty());
        assert_eq!((b.len(), b.dim()), (3, 2));
        assert_eq!((b.id(0), b.id(1), b.id(2)), ("a", "", "ccc"));
        assert_eq!(b.row(1), &[0.6, 0.8]);
        assert_eq!(b.distances(), &[0.5, 1.0, 1.0]);
        assert!((b.norms()[0] - 0.5).abs() < 1e-6);
        assert_eq!(b.codes().len(), 3);
        assert!(b.bytes() > 0 && !b.is_empty());
        Ok(())
    }

    #[test]
    fn payload_slots_fill_once_and_skip_large_payloads() -> Result<()> {
        let mut b = BucketBuilder::new(&[0.0]);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            b.push(id, i as f32, &[1.0])?;
        }
        let b = b.finish()?;
        let bytes = b.bytes();
        assert_eq!(b.payload(0), None, "slots start empty");
        b.keep_payload(0, &serde_json::json!({"lang": "en"}));
        b.keep_payload(0, &serde_json::json!({"lang": "fr"}));
        assert_eq!(b.payload(0), Some(&serde_json::json!({"lang": "en"})));
        b.keep_payload(1, &Value::Null);
        assert_eq!(b.payload(1), Some(&Value::Null));
        let big = serde_json::json!({"text": "x".repeat(PAYLOAD_SLOT_MAX)});
        b.keep_payload(2, &big);
        assert_eq!(b.payload(2), None, "a large payload is not kept");
        assert_eq!(b.bytes(), bytes, "the cache weight does not change");
        Ok(())
    }

    #[test]
    fn heap_size_estimates_grow_with_content_and_stop_at_the_limit() {
        assert_eq!(heap_size(&Value::Null, 0), Some(0));
        assert_eq!(heap_size(&serde_json::json!(12.5), 0), Some(0));
        assert_eq!(heap_size(&serde_json::json!("abcd"), 64), Some(4));
        assert_eq!(heap_size(&serde_json::json!("abcd"), 3), None);
        let nested = serde_json::json!({"a": [1, 2, {"b": "cc"}]});
        let n = heap_size(&nested, 10_000).expect("small");
        assert!(n > heap_size(&serde_json::json!([1, 2]), 10_000).expect("small"));
        assert_eq!(heap_size(&nested, n - 1), None);
    }
}
