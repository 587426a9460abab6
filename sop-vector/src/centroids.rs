//! [`Centroids`]: a trained codebook and the nearest-centroid search that is the hot loop of
//! both k-means (assignment step) and the IVF store (insert routing, probe selection).
//!
//! Assignment criterion, by metric (see [`Metric::is_spherical`]):
//! - spherical (cosine): centroids are unit length, the nearest centroid maximises `x·c`;
//! - Euclidean (L2, dot): the nearest centroid minimises `‖x−c‖²`, computed as maximising
//!   `x·c − ‖c‖²/2` (one dot product per pair plus a precomputed bias).
//!
//! The *centroid score* returned for a pair follows the crate convention (higher is better):
//! `x·c` (cosine similarity for prepared vectors) when spherical, `−‖x−c‖²` otherwise.
//!
//! Invariants: `data.len() == k * dim`, `bias.len() == k`, `bias[j] == −‖c_j‖²/2` for
//! Euclidean codebooks and `0` for spherical ones. Ties pick the smaller centroid index.

use crate::distance;
use crate::error::{Result, VectorError};
use crate::metric::Metric;
use crate::packed::{self, PackedSlab, BLOCK};
use crate::parallel;
use crate::topk::{Scored, TopK};

/// Minimum number of rows before [`Centroids::assign`] spawns threads.
const PARALLEL_MIN_ROWS: usize = 256;

/// A set of `k` centroids of dimension `dim` for a metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Centroids {
    metric: Metric,
    dim: usize,
    data: Vec<f32>,
    /// Per padded centroid slot: `0` or `−‖c‖²/2`; `−∞` for padding slots.
    bias: Vec<f32>,
    packed: PackedSlab,
}

/// Result of assigning a slab of rows to their nearest centroids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assignment {
    /// Nearest centroid index per row.
    pub labels: Vec<u32>,
    /// Centroid score per row (`x·c` if spherical, else `−‖x−c‖²`).
    pub scores: Vec<f32>,
}

impl Centroids {
    /// Builds a codebook from `k * dim` row-major values. For cosine the centroids are
    /// renormalised (a zero centroid is an error).
    pub fn new(metric: Metric, dim: usize, mut data: Vec<f32>) -> Result<Self> {
        if dim == 0 {
            return Err(VectorError::invalid("dim", "must be at least 1"));
        }
        if data.is_empty() || !data.len().is_multiple_of(dim) {
            return Err(VectorError::invalid(
                "centroids",
                format!(
                    "length {} is not a positive multiple of dim {dim}",
                    data.len()
                ),
            ));
        }
        if let Some(i) = data.iter().position(|x| !x.is_finite()) {
            return Err(VectorError::invalid(
                "centroids",
                format!("centroid {} component {} is not finite", i / dim, i % dim),
            ));
        }
        if metric.is_spherical() {
            for (j, c) in data.chunks_exact_mut(dim).enumerate() {
                if !metric.prepare(c) {
                    return Err(VectorError::invalid(
                        "centroids",
                        format!("centroid {j} is a zero vector under the cosine metric"),
                    ));
                }
            }
        }
        let packed = PackedSlab::from_rows(dim, &data)?;
        let spherical = metric.is_spherical();
        let mut bias: Vec<f32> = data
            .chunks_exact(dim)
            .map(|c| {
                if spherical {
                    0.0
                } else {
                    -0.5 * distance::norm_squared(c)
                }
            })
            .collect();
        bias.resize(packed.blocks() * BLOCK, f32::NEG_INFINITY);
        Ok(Self {
            metric,
            dim,
            data,
            bias,
            packed,
        })
    }

    /// Metric the codebook was built for.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Dimension of each centroid.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of centroids `k`.
    pub fn len(&self) -> usize {
        self.packed.len()
    }

    /// Whether the codebook is empty (never true for a constructed codebook).
    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// Centroid `j`.
    ///
    /// # Panics
    /// If `j >= len()`.
    pub fn get(&self, j: usize) -> &[f32] {
        &self.data[j * self.dim..(j + 1) * self.dim]
    }

    /// The flat row-major centroid data.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Consumes the codebook, returning the flat row-major centroid data.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Converts an internal assignment score (`x·c + bias`) into the centroid score.
    #[inline]
    fn to_centroid_score(&self, raw: f32, x_norm2: f32) -> f32 {
        if self.metric.is_spherical() {
            raw
        } else {
            // −‖x−c‖² = 2(x·c − ‖c‖²/2) − ‖x‖², clamped: rounding can push it above 0.
            (2.0 * raw - x_norm2).min(0.0)
        }
    }

    /// Centroid score of `x` against centroid `j` (see the module docs), computed directly.
    ///
    /// # Panics
    /// If `x.len() != dim()` or `j >= len()`.
    pub fn score(&self, x: &[f32], j: usize) -> f32 {
        let c = self.get(j);
        if self.metric.is_spherical() {
            distance::dot(x, c)
        } else {
            -distance::l2_squared(x, c)
        }
    }

    /// Best `(label, x·c + bias)` for one row.
    #[inline]
    fn best_one(&self, x: &[f32]) -> (u32, f32) {
        let mut best = (0u32, f32::NEG_INFINITY);
        for b in 0..self.packed.blocks() {
            let s = packed::dot_block(x, self.packed.block(b));
            let bias = &self.bias[b * BLOCK..(b + 1) * BLOCK];
            for j in 0..BLOCK {
                let v = s[j] + bias[j];
                if v > best.1 {
                    best = (((b * BLOCK) + j) as u32, v);
                }
            }
        }
        best
    }

    /// Best `(label, x·c + bias)` for four rows in one pass over the codebook; bit-identical
    /// to four calls of [`Self::best_one`].
    #[inline]
    fn best_four(&self, x: [&[f32]; 4]) -> [(u32, f32); 4] {
        let mut best = [(0u32, f32::NEG_INFINITY); 4];
        for b in 0..self.packed.blocks() {
            let s = packed::dot_block4(x, self.packed.block(b));
            let bias = &self.bias[b * BLOCK..(b + 1) * BLOCK];
            for (r, sr) in s.iter().enumerate() {
                for j in 0..BLOCK {
                    let v = sr[j] + bias[j];
                    if v > best[r].1 {
                        best[r] = (((b * BLOCK) + j) as u32, v);
                    }
                }
            }
        }
        best
    }

    /// Nearest centroid of one prepared vector: `(index, centroid score)`.
    ///
    /// # Panics
    /// If `x.len() != dim()`.
    pub fn nearest(&self, x: &[f32]) -> (usize, f32) {
        let (label, raw) = self.best_one(x);
        let n2 = if self.metric.is_spherical() {
            0.0
        } else {
            distance::norm_squared(x)
        };
        (label as usize, self.to_centroid_score(raw, n2))
    }

    /// The `n` nearest centroids of a prepared vector, best first, with their centroid
    /// scores (ties: smaller index first). Used to pick the buckets to probe.
    ///
    /// # Panics
    /// If `x.len() != dim()`.
    pub fn nearest_n(&self, x: &[f32], n: usize) -> Vec<Scored<u32>> {
        let k = self.len();
        let mut top = TopK::new(n.min(k));
        // Candidates below the current n-th score are rejected with one compare.
        let mut threshold = f32::NEG_INFINITY;
        for b in 0..self.packed.blocks() {
            let s = packed::dot_block(x, self.packed.block(b));
            for (j, &v) in s.iter().enumerate() {
                let i = b * BLOCK + j;
                let v = v + self.bias[i];
                if i < k && v >= threshold && top.push(v, i as u32) {
                    threshold = top.threshold().unwrap_or(f32::NEG_INFINITY);
                }
            }
        }
        let n2 = if self.metric.is_spherical() {
            0.0
        } else {
            distance::norm_squared(x)
        };
        top.into_sorted_vec()
            .into_iter()
            .map(|e| Scored {
                score: self.to_centroid_score(e.score, n2),
                id: e.id,
            })
            .collect()
    }

    /// Assigns every row of `data` (`n * dim` prepared values) to its nearest centroid, using
    /// up to `threads` threads. Deterministic: independent of `threads`.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of `dim()`.
    pub fn assign(&self, data: &[f32], threads: usize) -> Assignment {
        assert_eq!(
            data.len() % self.dim,
            0,
            "data is not a whole number of rows"
        );
        let n = data.len() / self.dim;
        let mut pairs = vec![(0u32, 0f32); n];
        let dim = self.dim;
        parallel::fill_parts(&mut pairs, threads, PARALLEL_MIN_ROWS, |start, part| {
            let row = |i: usize| &data[(start + i) * dim..(start + i + 1) * dim];
            let finish = |x: &[f32], (label, raw): (u32, f32)| {
                let n2 = if self.metric.is_spherical() {
                    0.0
                } else {
                    distance::norm_squared(x)
                };
                (label, self.to_centroid_score(raw, n2))
            };
            let m = part.len();
            let mut i = 0;
            while i + 3 < m {
                let x = [row(i), row(i + 1), row(i + 2), row(i + 3)];
                let best = self.best_four(x);
                for r in 0..4 {
                    part[i + r] = finish(x[r], best[r]);
                }
                i += 4;
            }
            while i < m {
                let x = row(i);
                part[i] = finish(x, self.best_one(x));
                i += 1;
            }
        });
        let (labels, scores) = pairs.into_iter().unzip();
        Assignment { labels, scores }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn random(rng: &mut SmallRng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }

    fn brute(c: &Centroids, x: &[f32]) -> (usize, f32) {
        let mut best = (0, f32::NEG_INFINITY);
        for j in 0..c.len() {
            let s = if c.metric().is_spherical() {
                distance::dot(x, c.get(j))
            } else {
                -distance::l2_squared(x, c.get(j))
            };
            if s > best.1 {
                best = (j, s);
            }
        }
        best
    }

    #[test]
    fn assignment_matches_brute_force_for_every_metric() -> Result<()> {
        let mut rng = SmallRng::seed_from_u64(11);
        let dim = 37;
        for metric in Metric::ALL {
            let c = Centroids::new(metric, dim, random(&mut rng, 13 * dim))?;
            let mut data = random(&mut rng, 501 * dim);
            for row in data.chunks_exact_mut(dim) {
                metric.prepare(row);
            }
            let single = c.assign(&data, 1);
            let multi = c.assign(&data, 2);
            assert_eq!(single, multi, "{metric}: thread count changed the result");
            for (i, row) in data.chunks_exact(dim).enumerate() {
                let (j, s) = brute(&c, row);
                assert_eq!(single.labels[i] as usize, j, "{metric} row {i}");
                assert!((single.scores[i] - s).abs() < 1e-4, "{metric} row {i}");
                assert_eq!(c.nearest(row).0, j);
                let top = c.nearest_n(row, 3);
                assert_eq!(top.len(), 3);
                assert_eq!(top[0].id as usize, j);
                assert!(top[0].score >= top[1].score && top[1].score >= top[2].score);
                assert!((c.score(row, j) - s).abs() < 1e-4);
            }
        }
        Ok(())
    }

    #[test]
    fn bad_codebooks_are_rejected() {
        assert!(Centroids::new(Metric::L2, 0, vec![1.0]).is_err());
        assert!(Centroids::new(Metric::L2, 2, vec![1.0; 3]).is_err());
        assert!(Centroids::new(Metric::L2, 2, vec![]).is_err());
        assert!(Centroids::new(Metric::L2, 2, vec![1.0, f32::NAN]).is_err());
        assert!(Centroids::new(Metric::Cosine, 2, vec![0.0, 0.0]).is_err());
        assert!(Centroids::new(Metric::L2, 2, vec![0.0, 0.0]).is_ok());
    }
}
