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
use crate::parallel;
use crate::topk::{Scored, TopK};

/// Rows per block in the assignment loop: a block of points stays in L1 while centroid
/// groups stream past it.
const POINT_BLOCK: usize = 8;

/// Minimum number of rows before [`Centroids::assign`] spawns threads.
const PARALLEL_MIN_ROWS: usize = 256;

/// A set of `k` centroids of dimension `dim` for a metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Centroids {
    metric: Metric,
    dim: usize,
    data: Vec<f32>,
    bias: Vec<f32>,
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
        if data.is_empty() || data.len() % dim != 0 {
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
        let mut out = Self {
            metric,
            dim,
            data,
            bias: Vec::new(),
        };
        out.refresh_bias();
        Ok(out)
    }

    fn refresh_bias(&mut self) {
        let spherical = self.metric.is_spherical();
        self.bias = self
            .data
            .chunks_exact(self.dim)
            .map(|c| {
                if spherical {
                    0.0
                } else {
                    -0.5 * distance::norm_squared(c)
                }
            })
            .collect();
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
        self.bias.len()
    }

    /// Whether the codebook is empty (never true for a constructed codebook).
    pub fn is_empty(&self) -> bool {
        self.bias.is_empty()
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

    /// Assigns a block of rows (`xs.len() == rows * dim`) into `labels`/`raw` (raw = best
    /// `x·c + bias`).
    fn assign_block(&self, xs: &[f32], labels: &mut [u32], raw: &mut [f32]) {
        let dim = self.dim;
        let k = self.len();
        let rows = labels.len();
        raw.fill(f32::NEG_INFINITY);
        labels.fill(0);
        let k4 = k - k % 4;
        let mut j = 0;
        while j < k4 {
            let c = [
                self.get(j),
                self.get(j + 1),
                self.get(j + 2),
                self.get(j + 3),
            ];
            let b = [
                self.bias[j],
                self.bias[j + 1],
                self.bias[j + 2],
                self.bias[j + 3],
            ];
            for r in 0..rows {
                let s = distance::dot_x4(&xs[r * dim..(r + 1) * dim], c);
                for t in 0..4 {
                    let v = s[t] + b[t];
                    if v > raw[r] {
                        raw[r] = v;
                        labels[r] = (j + t) as u32;
                    }
                }
            }
            j += 4;
        }
        for j in k4..k {
            let c = self.get(j);
            for r in 0..rows {
                let v = distance::dot(&xs[r * dim..(r + 1) * dim], c) + self.bias[j];
                if v > raw[r] {
                    raw[r] = v;
                    labels[r] = j as u32;
                }
            }
        }
    }

    /// Nearest centroid of one prepared vector: `(index, centroid score)`.
    ///
    /// # Panics
    /// If `x.len() != dim()`.
    pub fn nearest(&self, x: &[f32]) -> (usize, f32) {
        let mut label = [0u32];
        let mut raw = [0f32];
        self.assign_block(x, &mut label, &mut raw);
        let n2 = if self.metric.is_spherical() {
            0.0
        } else {
            distance::norm_squared(x)
        };
        (label[0] as usize, self.to_centroid_score(raw[0], n2))
    }

    /// The `n` nearest centroids of a prepared vector, best first, with their centroid
    /// scores (ties: smaller index first). Used to pick the buckets to probe.
    ///
    /// # Panics
    /// If `x.len() != dim()`.
    pub fn nearest_n(&self, x: &[f32], n: usize) -> Vec<Scored<u32>> {
        let k = self.len();
        let mut top = TopK::new(n.min(k));
        let k4 = k - k % 4;
        let mut j = 0;
        while j < k4 {
            let c = [
                self.get(j),
                self.get(j + 1),
                self.get(j + 2),
                self.get(j + 3),
            ];
            let s = distance::dot_x4(x, c);
            for t in 0..4 {
                top.push(s[t] + self.bias[j + t], (j + t) as u32);
            }
            j += 4;
        }
        for j in k4..k {
            top.push(distance::dot(x, self.get(j)) + self.bias[j], j as u32);
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
            let mut labels = [0u32; POINT_BLOCK];
            let mut raw = [0f32; POINT_BLOCK];
            for (b, chunk) in part.chunks_mut(POINT_BLOCK).enumerate() {
                let first = start + b * POINT_BLOCK;
                let rows = chunk.len();
                let xs = &data[first * dim..(first + rows) * dim];
                self.assign_block(xs, &mut labels[..rows], &mut raw[..rows]);
                for (r, slot) in chunk.iter_mut().enumerate() {
                    let n2 = if self.metric.is_spherical() {
                        0.0
                    } else {
                        distance::norm_squared(&xs[r * dim..(r + 1) * dim])
                    };
                    *slot = (labels[r], self.to_centroid_score(raw[r], n2));
                }
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
