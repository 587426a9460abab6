//! [`PackedSlab`]: vectors stored in a blocked, transposed layout for one-against-many scoring.
//!
//! Rows are grouped in blocks of [`BLOCK`]; inside a block, component `d` of all its rows is
//! contiguous (`block[d * BLOCK + j]` = row `j`, component `d`). Scoring a query against a block
//! is then `acc[j] += x[d] · block[d][j]` over `d`: a broadcast times a contiguous vector,
//! which the compiler vectorises without shuffles and with [`BLOCK`]/4 independent SIMD
//! accumulators (plus 2× more in the two-query kernels). This is the layout of the k-means
//! assignment step and of per-bucket slabs in the IVF cache.
//!
//! Invariants: `data.len() == blocks() * dim * BLOCK`; padding rows (index ≥ `len()`) are
//! zero and callers must ignore their scores. Each score is summed sequentially over `d`, so a
//! row's score is bit-identical whichever kernel (one or two queries) computed it.

use crate::error::{Result, VectorError};

/// Rows per block.
pub const BLOCK: usize = 16;

/// Vectors in blocked transposed layout (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackedSlab {
    dim: usize,
    len: usize,
    data: Vec<f32>,
}

impl PackedSlab {
    /// Packs `rows` (`n × dim`, row-major).
    pub fn from_rows(dim: usize, rows: &[f32]) -> Result<Self> {
        if dim == 0 {
            return Err(VectorError::invalid("dim", "must be at least 1"));
        }
        if !rows.len().is_multiple_of(dim) {
            return Err(VectorError::invalid(
                "rows",
                format!("length {} is not a multiple of dim {dim}", rows.len()),
            ));
        }
        let len = rows.len() / dim;
        let blocks = len.div_ceil(BLOCK);
        let mut data = vec![0f32; blocks * dim * BLOCK];
        for (i, row) in rows.chunks_exact(dim).enumerate() {
            let block = &mut data[(i / BLOCK) * dim * BLOCK..(i / BLOCK + 1) * dim * BLOCK];
            let j = i % BLOCK;
            for (d, &v) in row.iter().enumerate() {
                block[d * BLOCK + j] = v;
            }
        }
        Ok(Self { dim, len, data })
    }

    /// Dimension of the rows.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of (real) rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of blocks (`⌈len / BLOCK⌉`).
    pub fn blocks(&self) -> usize {
        self.data.len() / (self.dim * BLOCK)
    }

    /// Block `b` (`dim × BLOCK` values).
    ///
    /// # Panics
    /// If `b >= blocks()`.
    #[inline]
    pub fn block(&self, b: usize) -> &[f32] {
        let size = self.dim * BLOCK;
        &self.data[b * size..(b + 1) * size]
    }

    /// Component `d` of row `i` (for tests and debugging; not a hot path).
    ///
    /// # Panics
    /// If `i >= len()` or `d >= dim()`.
    pub fn get(&self, i: usize, d: usize) -> f32 {
        assert!(i < self.len && d < self.dim, "index out of range");
        self.block(i / BLOCK)[d * BLOCK + i % BLOCK]
    }
}

#[inline(always)]
fn check(x: &[f32], block: &[f32]) {
    assert_eq!(
        x.len() * BLOCK,
        block.len(),
        "query length does not match packed block"
    );
}

crate::simd::multiversion! {
    /// Dot products of `x` with the [`BLOCK`] rows of a packed block.
    ///
    /// # Panics
    /// If `block.len() != x.len() * BLOCK`.
    pub fn dot_block / dot_block_portable(x: &[f32], block: &[f32]) -> [f32; BLOCK] {
        check(x, block);
        let mut acc = [0f32; BLOCK];
        for (&xd, col) in x.iter().zip(block.chunks_exact(BLOCK)) {
            for j in 0..BLOCK {
                acc[j] += xd * col[j];
            }
        }
        acc
    }
}

crate::simd::multiversion! {
    /// Dot products of two queries with the rows of a packed block (one pass over the block).
    ///
    /// # Panics
    /// If either query does not match the block.
    pub fn dot_block2 / dot_block2_portable(
        x0: &[f32],
        x1: &[f32],
        block: &[f32],
    ) -> [[f32; BLOCK]; 2] {
        check(x0, block);
        check(x1, block);
        let mut a0 = [0f32; BLOCK];
        let mut a1 = [0f32; BLOCK];
        for ((&u, &v), col) in x0.iter().zip(x1).zip(block.chunks_exact(BLOCK)) {
            for j in 0..BLOCK {
                a0[j] += u * col[j];
            }
            for j in 0..BLOCK {
                a1[j] += v * col[j];
            }
        }
        [a0, a1]
    }
}

crate::simd::multiversion! {
    /// Dot products of four queries with the rows of a packed block (one pass over the block;
    /// eight independent SIMD accumulators, the k-means assignment kernel).
    ///
    /// # Panics
    /// If a query does not match the block.
    pub fn dot_block4 / dot_block4_portable(x: [&[f32]; 4], block: &[f32]) -> [[f32; BLOCK]; 4] {
        for q in x {
            check(q, block);
        }
        let mut acc = [[0f32; BLOCK]; 4];
        for (d, col) in block.chunks_exact(BLOCK).enumerate() {
            let v = [x[0][d], x[1][d], x[2][d], x[3][d]];
            for r in 0..4 {
                for j in 0..BLOCK {
                    acc[r][j] += v[r] * col[j];
                }
            }
        }
        acc
    }
}

crate::simd::multiversion! {
    /// Dot products of one query with the rows of four packed blocks (eight independent SIMD
    /// accumulators; the k-means++ distance update).
    ///
    /// # Panics
    /// If a block does not match the query.
    pub fn dot_blocks4 / dot_blocks4_portable(x: &[f32], blocks: [&[f32]; 4]) -> [[f32; BLOCK]; 4] {
        for b in blocks {
            check(x, b);
        }
        let mut acc = [[0f32; BLOCK]; 4];
        for (d, &xd) in x.iter().enumerate() {
            for r in 0..4 {
                let col = &blocks[r][d * BLOCK..(d + 1) * BLOCK];
                for j in 0..BLOCK {
                    acc[r][j] += xd * col[j];
                }
            }
        }
        acc
    }
}

crate::simd::multiversion! {
    /// Squared L2 distances of `x` to the rows of a packed block.
    ///
    /// # Panics
    /// If `block.len() != x.len() * BLOCK`.
    pub fn l2_block / l2_block_portable(x: &[f32], block: &[f32]) -> [f32; BLOCK] {
        check(x, block);
        let mut acc = [0f32; BLOCK];
        for (&xd, col) in x.iter().zip(block.chunks_exact(BLOCK)) {
            for j in 0..BLOCK {
                let t = xd - col[j];
                acc[j] += t * t;
            }
        }
        acc
    }
}

crate::simd::multiversion! {
    /// Squared L2 distances of two queries to the rows of a packed block.
    ///
    /// # Panics
    /// If either query does not match the block.
    pub fn l2_block2 / l2_block2_portable(
        x0: &[f32],
        x1: &[f32],
        block: &[f32],
    ) -> [[f32; BLOCK]; 2] {
        check(x0, block);
        check(x1, block);
        let mut a0 = [0f32; BLOCK];
        let mut a1 = [0f32; BLOCK];
        for ((&u, &v), col) in x0.iter().zip(x1).zip(block.chunks_exact(BLOCK)) {
            for j in 0..BLOCK {
                let t = u - col[j];
                a0[j] += t * t;
            }
            for j in 0..BLOCK {
                let t = v - col[j];
                a1[j] += t * t;
            }
        }
        [a0, a1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn kernels_match_row_kernels() -> Result<()> {
        let mut rng = SmallRng::seed_from_u64(1);
        for (n, dim) in [(1usize, 1usize), (15, 3), (16, 8), (37, 19), (100, 128)] {
            let rows: Vec<f32> = (0..n * dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let p = PackedSlab::from_rows(dim, &rows)?;
            assert_eq!((p.len(), p.dim(), p.blocks()), (n, dim, n.div_ceil(BLOCK)));
            let x0: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let x1: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            for b in 0..p.blocks() {
                let blk = p.block(b);
                let d = dot_block(&x0, blk);
                let l = l2_block(&x0, blk);
                let d2 = dot_block2(&x0, &x1, blk);
                let l2 = l2_block2(&x0, &x1, blk);
                // Same arithmetic in one-, two- and four-query kernels and in the portable
                // and AVX2 builds: bit-identical.
                assert_eq!(d, d2[0]);
                assert_eq!(l, l2[0]);
                let d4 = dot_block4([&x1, &x0, &x1, &x0], blk);
                let b4 = dot_blocks4(&x0, [blk, blk, blk, blk]);
                assert_eq!(b4, [d; 4]);
                assert_eq!(b4, dot_blocks4_portable(&x0, [blk; 4]));
                assert_eq!((d4[1], d4[2]), (d, d2[1]));
                assert_eq!(d4, dot_block4_portable([&x1, &x0, &x1, &x0], blk));
                assert_eq!(d, dot_block_portable(&x0, blk));
                assert_eq!(d2, dot_block2_portable(&x0, &x1, blk));
                assert_eq!(l, l2_block_portable(&x0, blk));
                assert_eq!(l2, l2_block2_portable(&x0, &x1, blk));
                for j in 0..BLOCK {
                    let i = b * BLOCK + j;
                    if i >= n {
                        assert_eq!(d[j], 0.0);
                        continue;
                    }
                    let row = &rows[i * dim..(i + 1) * dim];
                    assert_eq!(p.get(i, dim - 1), row[dim - 1]);
                    let tol = 1e-4 * dim as f32;
                    assert!((d[j] - distance::dot(&x0, row)).abs() < tol);
                    assert!((d2[1][j] - distance::dot(&x1, row)).abs() < tol);
                    assert!((l[j] - distance::l2_squared(&x0, row)).abs() < tol);
                    assert!((l2[1][j] - distance::l2_squared(&x1, row)).abs() < tol);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn bad_shapes_rejected() {
        assert!(PackedSlab::from_rows(0, &[]).is_err());
        assert!(PackedSlab::from_rows(3, &[1.0; 4]).is_err());
        assert!(PackedSlab::from_rows(3, &[]).is_ok_and(|p| p.is_empty() && p.blocks() == 0));
    }
}
