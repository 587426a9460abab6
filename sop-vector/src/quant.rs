//! [`CodeSlab`]: 8-bit codes of bucket residuals, the pre-filter of a bucket scan.
//!
//! A bucket row `x` with centroid `c` is coded as its residual `r = x − c` scaled per row:
//! `s = max |rᵢ| / 127`, `codeᵢ = round(rᵢ / s)` in `[−127, 127]`, so `|rᵢ − s·codeᵢ| ≤ s/2`.
//! A query `q` is coded the same way once (scale `s_q`). Then
//!
//! `q·x = q·c + q·r ≈ q·c + s_q·s·(code_q · code)` with the **rigorous bound**
//! `|q·r − s_q·s·(code_q · code)| ≤ ‖q‖₁·s/2 + s_q/2 · ‖ŕ‖₁` (`ŕ = s·code`, `‖ŕ‖₁` stored per
//! row), so a scan can skip every row whose estimate plus bound cannot reach the current k-th
//! exact score, and score only the others exactly: the result is the exact scan's.
//!
//! Layout: row-major, each row padded with zero codes to a multiple of [`GROUP`] (128)
//! components ([`SMALL_GROUP`] for short rows). The kernel sums each group of products as one
//! fully unrolled reduction,
//! the shape the compiler turns into `pmaddwd` (16-bit multiply, pairwise add into 32-bit
//! lanes); integer sums are exact, so every build gives the same result. The kernel hints
//! the rows [`PREFETCH_AHEAD`] bytes ahead into the cache (a hint only: no effect on results).
//!
//! Invariants: `codes.len() == len() × padded()`; `scale.len() == l1.len() == len()`.

use sop_core::btree::prefetch;

use crate::error::{Result, VectorError};

/// Components per kernel group: rows are padded to a multiple of it (to [`SMALL_GROUP`] when
/// they have at most that many components).
pub const GROUP: usize = 128;

/// Group size of rows of at most 64 components.
pub const SMALL_GROUP: usize = 64;

/// How far ahead of the row being scored [`dot_codes`] asks for rows (bytes): about a DRAM
/// latency's worth of scanning.
pub const PREFETCH_AHEAD: usize = 2048;

/// Largest code magnitude.
const LEVELS: f32 = 127.0;

/// Row length of `dim` components once padded to whole groups.
pub fn padded(dim: usize) -> usize {
    if dim <= SMALL_GROUP {
        SMALL_GROUP
    } else {
        dim.div_ceil(GROUP) * GROUP
    }
}

/// 8-bit coded rows with per-row scale and coded L1 norm (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CodeSlab {
    padded: usize,
    codes: Vec<i8>,
    scale: Vec<f32>,
    l1: Vec<f32>,
}

/// A coded query: codes widened to `i16` (zero-padded like the rows), its scale and the
/// exact L1 norm of the query.
#[derive(Clone, Debug, PartialEq)]
pub struct CodedQuery {
    /// `padded(dim)` codes.
    pub codes: Vec<i16>,
    /// Scale `s_q`.
    pub scale: f32,
    /// `‖q‖₁` of the exact query.
    pub l1: f32,
}

crate::simd::multiversion! {
    /// Codes `v` into `out` (same length); returns the scale.
    fn code_into / code_into_portable(v: &[f32], out: &mut [i8]) -> f32 {
        let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        if max == 0.0 || !max.is_finite() {
            out.fill(0);
            return 0.0;
        }
        let s = max / LEVELS;
        let inv = 1.0 / s;
        for (o, &x) in out.iter_mut().zip(v) {
            *o = (x * inv).round().clamp(-LEVELS, LEVELS) as i8;
        }
        s
    }
}

impl CodedQuery {
    /// Codes a query.
    pub fn new(q: &[f32]) -> Self {
        let mut c = vec![0i8; padded(q.len())];
        let scale = code_into(q, &mut c[..q.len()]);
        Self {
            codes: c.into_iter().map(i16::from).collect(),
            scale,
            l1: q.iter().map(|x| x.abs()).sum(),
        }
    }
}

impl CodeSlab {
    /// An empty slab for rows of `dim` components.
    pub fn new(dim: usize) -> Self {
        Self {
            padded: padded(dim),
            ..Self::default()
        }
    }

    /// Codes the residuals `rows − centre` (`rows` is `n × dim`, row-major).
    pub fn from_residuals(dim: usize, rows: &[f32], centre: &[f32]) -> Result<Self> {
        if dim == 0 || centre.len() != dim || !rows.len().is_multiple_of(dim) {
            return Err(VectorError::invalid(
                "rows",
                format!(
                    "{} values and a centre of {} do not make rows of dimension {dim}",
                    rows.len(),
                    centre.len()
                ),
            ));
        }
        let mut slab = Self::new(dim);
        slab.codes.reserve(rows.len() / dim * slab.padded);
        let mut residual = vec![0f32; dim];
        for row in rows.chunks_exact(dim) {
            for ((r, &x), &c) in residual.iter_mut().zip(row).zip(centre) {
                *r = x - c;
            }
            slab.push(&residual);
        }
        Ok(slab)
    }

    /// Appends one residual row (of the slab's dimension, at most `padded` long).
    fn push(&mut self, residual: &[f32]) {
        let at = self.codes.len();
        self.codes.resize(at + self.padded, 0);
        let coded = &mut self.codes[at..at + residual.len()];
        let s = code_into(residual, coded);
        self.scale.push(s);
        self.l1
            .push(s * coded.iter().map(|&c| f32::from(c).abs()).sum::<f32>());
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.scale.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.scale.is_empty()
    }

    /// The codes of rows `lo..hi`, row-major (`padded` per row).
    ///
    /// # Panics
    /// If `lo > hi` or `hi > len()`.
    #[inline]
    pub fn rows(&self, lo: usize, hi: usize) -> &[i8] {
        &self.codes[lo * self.padded..hi * self.padded]
    }

    /// Per-row scales.
    pub fn scales(&self) -> &[f32] {
        &self.scale
    }

    /// Per-row `‖ŕ‖₁` (L1 norm of the decoded residual).
    pub fn l1_norms(&self) -> &[f32] {
        &self.l1
    }

    /// Bytes held (for cache budgets).
    pub fn bytes(&self) -> usize {
        self.codes.len() + 8 * self.len()
    }

    /// Decoded component `d` of row `i`'s residual (tests, debugging).
    ///
    /// # Panics
    /// If `i >= len()` or `d >= padded`.
    pub fn decoded(&self, i: usize, d: usize) -> f32 {
        self.scale[i] * f32::from(self.codes[i * self.padded + d])
    }
}

/// Sum of the `G` products of one group, fully unrolled (see the module docs).
#[inline(always)]
fn dot_group<const G: usize>(q: &[i16; G], x: &[i8; G]) -> i32 {
    let mut acc = [0i32; 16];
    for c in 0..G / 16 {
        for i in 0..16 {
            acc[i] += i32::from(q[c * 16 + i]) * i32::from(x[c * 16 + i]);
        }
    }
    acc.iter().sum()
}

/// Dot products of a coded query with consecutive rows, in groups of `G`.
#[inline(always)]
fn dot_rows<const G: usize>(q: &[i16], codes: &[i8], out: &mut [i32]) {
    let p = q.len();
    let (qg, _) = q.as_chunks::<G>();
    let mut ahead = PREFETCH_AHEAD.div_ceil(p) * p;
    for (row, o) in codes.chunks_exact(p).zip(out.iter_mut()) {
        // The scan streams from memory: hint the row `PREFETCH_AHEAD` bytes on, so the
        // fetch runs across page boundaries, where the hardware prefetcher stops.
        if let Some(next) = codes.get(ahead..ahead + p) {
            prefetch::slice(next);
        }
        ahead += p;
        let (xg, _) = row.as_chunks::<G>();
        let mut t = 0i32;
        for (a, b) in qg.iter().zip(xg) {
            t += dot_group::<G>(a, b);
        }
        *o = t;
    }
}

crate::simd::multiversion! {
    /// Integer dot products `code_q · code_row` of a coded query with consecutive coded rows
    /// (`codes` as returned by [`CodeSlab::rows`]), written to `out` (one per row).
    ///
    /// # Panics
    /// If `q.len()` is not a length returned by [`padded`] or `codes.len()` is not
    /// `out.len() × q.len()`.
    pub fn dot_codes / dot_codes_portable(q: &[i16], codes: &[i8], out: &mut [i32]) {
        let p = q.len();
        assert_eq!(codes.len(), out.len() * p, "codes do not match the output rows");
        if p == SMALL_GROUP {
            dot_rows::<SMALL_GROUP>(q, codes, out);
        } else {
            assert!(p > 0 && p.is_multiple_of(GROUP), "coded query is not whole groups");
            dot_rows::<GROUP>(q, codes, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn codes_match_scalar_reference_and_bound_holds() -> Result<()> {
        let mut rng = SmallRng::seed_from_u64(5);
        for (n, dim) in [(1usize, 1usize), (17, 3), (40, 8), (100, 128), (33, 129)] {
            let rows: Vec<f32> = (0..n * dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let centre: Vec<f32> = (0..dim).map(|_| rng.gen_range(-0.5f32..0.5)).collect();
            let slab = CodeSlab::from_residuals(dim, &rows, &centre)?;
            assert_eq!(slab.len(), n);
            let q: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let cq = CodedQuery::new(&q);
            assert_eq!(cq.codes.len(), padded(dim));
            let mut got = vec![0i32; n];
            dot_codes(&cq.codes, slab.rows(0, n), &mut got);
            let mut portable = vec![0i32; n];
            dot_codes_portable(&cq.codes, slab.rows(0, n), &mut portable);
            assert_eq!(got, portable);
            let mut tail = vec![0i32; n - n / 2];
            dot_codes(&cq.codes, slab.rows(n / 2, n), &mut tail);
            assert_eq!(tail, got[n / 2..]);
            for (i, &dot) in got.iter().enumerate() {
                // Scalar reference on the codes.
                let s = slab.scales()[i];
                let mut want = 0i64;
                let mut l1 = 0f32;
                for d in 0..dim {
                    let c = (slab.decoded(i, d) / s).round() as i64;
                    want += c * i64::from(cq.codes[d]);
                    l1 += slab.decoded(i, d).abs();
                    let r = rows[i * dim + d] - centre[d];
                    assert!((r - slab.decoded(i, d)).abs() <= s * 0.5 + 1e-6);
                }
                assert_eq!(i64::from(dot), want);
                assert!((l1 - slab.l1_norms()[i]).abs() <= 1e-4 * l1.max(1.0));
                // The bound of the module docs holds.
                let residual: Vec<f32> = (0..dim).map(|d| rows[i * dim + d] - centre[d]).collect();
                let exact = distance::dot(&q, &residual);
                let est = cq.scale * s * dot as f32;
                let bound = cq.l1 * s * 0.5 + cq.scale * 0.5 * slab.l1_norms()[i];
                assert!((exact - est).abs() <= bound * 1.001 + 1e-6, "row {i}");
            }
        }
        Ok(())
    }

    #[test]
    fn zero_residuals_and_bad_shapes() -> Result<()> {
        let slab = CodeSlab::from_residuals(2, &[1.0, 2.0], &[1.0, 2.0])?;
        assert_eq!(slab.scales(), &[0.0]);
        let mut out = [7i32];
        let mut q = vec![0i16; padded(2)];
        q[0] = 5;
        dot_codes(&q, slab.rows(0, 1), &mut out);
        assert_eq!(out, [0]);
        assert!(CodeSlab::from_residuals(0, &[], &[]).is_err());
        assert!(CodeSlab::from_residuals(2, &[1.0; 3], &[0.0; 2]).is_err());
        assert!(CodeSlab::from_residuals(2, &[1.0; 4], &[0.0; 3]).is_err());
        Ok(())
    }
}
