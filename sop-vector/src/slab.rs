//! [`VectorSlab`]: `n` vectors of one dimension stored contiguously, row-major, in one
//! `Vec<f32>`.
//!
//! The in-memory currency of the crate (k-means input, generated data, `.fvecs` contents,
//! bucket caches). Invariant: `dim > 0` and `data.len() == len() * dim`.

use crate::error::{Result, VectorError};

/// A contiguous row-major block of `len()` vectors of `dim()` components each.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSlab {
    dim: usize,
    data: Vec<f32>,
}

impl VectorSlab {
    /// Wraps `data` as rows of `dim` components. Errors if `dim == 0` or the length is not a
    /// multiple of `dim`.
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 {
            return Err(VectorError::invalid("dim", "must be at least 1"));
        }
        if !data.len().is_multiple_of(dim) {
            return Err(VectorError::invalid(
                "data",
                format!("length {} is not a multiple of dim {dim}", data.len()),
            ));
        }
        Ok(Self { dim, data })
    }

    /// An empty slab of dimension `dim` with room for `rows` vectors.
    pub fn with_capacity(dim: usize, rows: usize) -> Result<Self> {
        Self::new(dim, Vec::with_capacity(dim.saturating_mul(rows)))
    }

    /// Dimension of every row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Whether the slab has no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Mutable row `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Iterator over the rows.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.data.chunks_exact(self.dim)
    }

    /// Appends one row. Errors if its length is not `dim()`.
    pub fn push(&mut self, row: &[f32]) -> Result<()> {
        if row.len() != self.dim {
            return Err(VectorError::invalid(
                "row",
                format!("expected {} components, got {}", self.dim, row.len()),
            ));
        }
        self.data.extend_from_slice(row);
        Ok(())
    }

    /// The flat row-major data.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Consumes the slab, returning the flat row-major data.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// A new slab holding the rows at `indices`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn gather(&self, indices: &[usize]) -> VectorSlab {
        let mut data = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        VectorSlab {
            dim: self.dim,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_checked() -> Result<()> {
        assert!(VectorSlab::new(0, vec![]).is_err());
        assert!(VectorSlab::new(3, vec![1.0; 4]).is_err());
        let mut s = VectorSlab::new(2, vec![1.0, 2.0, 3.0, 4.0])?;
        assert_eq!(s.len(), 2);
        assert_eq!(s.row(1), &[3.0, 4.0]);
        assert!(s.push(&[1.0]).is_err());
        s.push(&[5.0, 6.0])?;
        assert_eq!(s.rows().count(), 3);
        assert_eq!(s.gather(&[2, 0]).as_slice(), &[5.0, 6.0, 1.0, 2.0]);
        Ok(())
    }
}
