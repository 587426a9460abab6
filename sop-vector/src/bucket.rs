//! [`Bucket`]: one bucket's live vectors laid out for scanning (SPEC §2.4 "hot buckets are
//! cached as contiguous vector slabs").
//!
//! Built from a bucket's `vecs_vN` key range (ascending distance to the centroid), it holds
//! per row: the item id, the distance to the centroid (for triangle-inequality pruning), the
//! exact vector (row-major `f32`, for exact scores), the 8-bit code of its residual to the
//! centroid ([`crate::quant`], for the pre-filter) and its Euclidean norm (for `L2` scores and
//! rounding slack). Nothing here is persisted: the layout can change without a format change.
//!
//! Invariants: every per-row array has `len()` entries in the same (key) order; `distances`
//! is non-decreasing; `centre` is the centroid the residuals were coded against.

use crate::distance;
use crate::error::{Result, VectorError};
use crate::quant::CodeSlab;

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

    /// The centroid the residuals are coded against.
    pub fn centre(&self) -> &[f32] {
        &self.centre
    }

    /// Approximate bytes held (for the cache budget).
    pub fn bytes(&self) -> usize {
        self.id_text.len()
            + 4 * (self.id_ends.len() + self.distances.len() + self.rows.len() + self.norms.len())
            + self.codes.bytes()
            + 4 * self.centre.len()
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
        assert_eq!((b.len(), b.dim()), (3, 2));
        assert_eq!((b.id(0), b.id(1), b.id(2)), ("a", "", "ccc"));
        assert_eq!(b.row(1), &[0.6, 0.8]);
        assert_eq!(b.distances(), &[0.5, 1.0, 1.0]);
        assert!((b.norms()[0] - 0.5).abs() < 1e-6);
        assert_eq!(b.codes().len(), 3);
        assert!(b.bytes() > 0 && !b.is_empty());
        Ok(())
    }
}
