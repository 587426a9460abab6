//! Deterministic clustered test data: unit vectors around random unit centres, with skewed
//! (Zipf-like) cluster sizes, optionally laid out sorted by cluster, plus queries drawn near
//! the data.
//!
//! Model: centre `c_j` is a uniformly random unit vector; a base row of cluster `j` is
//! `normalize(c_j + spread·g/√dim)` with `g` standard normal per component (so the noise norm is
//! ≈ `spread`); a query is `normalize(x + query_spread·g/√dim)` for a base row `x` chosen
//! uniformly (queries follow the data skew). Cluster `j` has weight `1/(j+1)^zipf_exponent`.
//!
//! Invariants: the output depends only on the spec (not on the thread count): rows are
//! generated in fixed chunks, each from its own generator seeded from `(seed, chunk)`. Every
//! cluster gets at least one row. Every vector is finite and unit length.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::distance;
use crate::error::{Result, VectorError};
use crate::parallel;
use crate::slab::VectorSlab;

/// Rows generated per independently seeded chunk.
const CHUNK_ROWS: usize = 1024;

/// Parameters of [`generate`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClusteredSpec {
    /// Number of base vectors.
    pub n: usize,
    /// Dimension.
    pub dim: usize,
    /// Number of clusters (`1 ≤ clusters ≤ n`).
    pub clusters: usize,
    /// Zipf exponent of the cluster sizes (`0` = equal sizes; default `1.0`).
    pub zipf_exponent: f64,
    /// Noise norm around a centre (default `0.5`).
    pub spread: f32,
    /// Lay base rows out cluster by cluster (largest cluster first), as a sorted insert
    /// would; otherwise rows are shuffled. Default `true`.
    pub sorted_by_cluster: bool,
    /// Number of query vectors.
    pub queries: usize,
    /// Noise norm of a query around the base row it is drawn from (default `0.2`).
    pub query_spread: f32,
    /// Random seed.
    pub seed: u64,
    /// Worker threads (does not affect the output).
    pub threads: usize,
}

impl ClusteredSpec {
    /// Defaults for `n` vectors of `dim` dimensions: `√n` clusters (at least 1), Zipf 1.0,
    /// spread 0.5, sorted by cluster, 1,000 queries (at most `n`), query spread 0.2, seed 42.
    pub fn new(n: usize, dim: usize) -> Self {
        Self {
            n,
            dim,
            clusters: ((n as f64).sqrt() as usize).max(1),
            zipf_exponent: 1.0,
            spread: 0.5,
            sorted_by_cluster: true,
            queries: n.min(1000),
            query_spread: 0.2,
            seed: 42,
            threads: parallel::default_threads(),
        }
    }
}

/// Output of [`generate`].
#[derive(Clone, Debug)]
pub struct ClusteredData {
    /// Base vectors, unit length.
    pub base: VectorSlab,
    /// Cluster of every base row.
    pub labels: Vec<u32>,
    /// Query vectors, unit length.
    pub queries: VectorSlab,
    /// Base row each query was drawn near.
    pub query_sources: Vec<u32>,
    /// Cluster centres, unit length.
    pub centers: VectorSlab,
    /// Number of base rows per cluster.
    pub cluster_sizes: Vec<usize>,
}

/// SplitMix64 finaliser: decorrelates derived seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn stream_rng(seed: u64, stream: u64, index: u64) -> SmallRng {
    SmallRng::seed_from_u64(mix(
        mix(seed ^ stream.wrapping_mul(0xA24B_AED4_963E_E407)) ^ index
    ))
}

/// Fills `out` with standard normal samples (Box–Muller).
fn gaussian(rng: &mut SmallRng, out: &mut [f32]) {
    for pair in out.chunks_mut(2) {
        let u1: f32 = 1.0 - rng.gen::<f32>(); // (0, 1]
        let u2: f32 = rng.gen::<f32>();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f32::consts::TAU * u2).sin_cos();
        pair[0] = r * c;
        if pair.len() > 1 {
            pair[1] = r * s;
        }
    }
}

/// `out = normalize(center + scale·g)`; falls back to `center` if the sum vanishes.
fn perturb(rng: &mut SmallRng, center: &[f32], scale: f32, out: &mut [f32]) {
    gaussian(rng, out);
    for (o, &c) in out.iter_mut().zip(center) {
        *o = c + scale * *o;
    }
    let n = distance::normalize(out);
    if !(n > 0.0 && n.is_finite()) {
        out.copy_from_slice(center);
    }
}

/// Zipf-like cluster sizes summing to `n`: weight `1/(j+1)^exponent`, every cluster at least
/// one row, remainders assigned by largest fraction (ties to the smaller index).
pub fn cluster_sizes(n: usize, clusters: usize, exponent: f64) -> Result<Vec<usize>> {
    if clusters == 0 || clusters > n {
        return Err(VectorError::invalid(
            "clusters",
            format!("must be between 1 and n = {n}, got {clusters}"),
        ));
    }
    if !exponent.is_finite() || exponent < 0.0 {
        return Err(VectorError::invalid(
            "zipf_exponent",
            format!("must be finite and non-negative, got {exponent}"),
        ));
    }
    let weights: Vec<f64> = (0..clusters)
        .map(|j| 1.0 / ((j + 1) as f64).powf(exponent))
        .collect();
    let total: f64 = weights.iter().sum();
    let spare = (n - clusters) as f64;
    let mut sizes = Vec::with_capacity(clusters);
    let mut fracs = Vec::with_capacity(clusters);
    for (j, w) in weights.iter().enumerate() {
        let exact = spare * w / total;
        sizes.push(1 + exact.floor() as usize);
        fracs.push((exact - exact.floor(), j));
    }
    let assigned: usize = sizes.iter().sum();
    fracs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, j) in fracs.iter().take(n - assigned) {
        sizes[j] += 1;
    }
    Ok(sizes)
}

/// Generates clustered base and query vectors per `spec`.
pub fn generate(spec: &ClusteredSpec) -> Result<ClusteredData> {
    let dim = spec.dim;
    if dim == 0 {
        return Err(VectorError::invalid("dim", "must be at least 1"));
    }
    for (name, v) in [("spread", spec.spread), ("query_spread", spec.query_spread)] {
        if !v.is_finite() || v < 0.0 {
            return Err(VectorError::invalid(
                name,
                format!("must be finite and ≥ 0, got {v}"),
            ));
        }
    }
    if u32::try_from(spec.n).is_err() {
        return Err(VectorError::invalid("n", "must fit in u32"));
    }
    let sizes = cluster_sizes(spec.n, spec.clusters, spec.zipf_exponent)?;

    let mut rng = stream_rng(spec.seed, 0, 0);
    let mut centers = vec![0f32; spec.clusters * dim];
    for c in centers.chunks_exact_mut(dim) {
        let zero = vec![0f32; dim];
        loop {
            perturb(&mut rng, &zero, 1.0, c);
            if distance::norm_squared(c) > 0.5 {
                break;
            }
        }
    }

    let mut labels: Vec<u32> = Vec::with_capacity(spec.n);
    for (j, &s) in sizes.iter().enumerate() {
        labels.extend(std::iter::repeat_n(j as u32, s));
    }
    if !spec.sorted_by_cluster {
        labels.shuffle(&mut stream_rng(spec.seed, 1, 0));
    }

    let scale = spec.spread / (dim as f32).sqrt();
    let mut base = vec![0f32; spec.n * dim];
    {
        let mut chunks: Vec<&mut [f32]> = base.chunks_mut(CHUNK_ROWS * dim).collect();
        let (labels, centers) = (&labels, &centers);
        parallel::fill_parts(&mut chunks, spec.threads, 2, |first, part| {
            for (ci, chunk) in part.iter_mut().enumerate() {
                let chunk_index = first + ci;
                let mut rng = stream_rng(spec.seed, 2, chunk_index as u64);
                for (r, row) in chunk.chunks_exact_mut(dim).enumerate() {
                    let j = labels[chunk_index * CHUNK_ROWS + r] as usize;
                    perturb(&mut rng, &centers[j * dim..(j + 1) * dim], scale, row);
                }
            }
        });
    }

    let mut qrng = stream_rng(spec.seed, 3, 0);
    let qscale = spec.query_spread / (dim as f32).sqrt();
    let mut queries = vec![0f32; spec.queries * dim];
    let mut query_sources = Vec::with_capacity(spec.queries);
    for q in queries.chunks_exact_mut(dim) {
        let src = qrng.gen_range(0..spec.n);
        query_sources.push(src as u32);
        perturb(&mut qrng, &base[src * dim..(src + 1) * dim], qscale, q);
    }

    Ok(ClusteredData {
        base: VectorSlab::new(dim, base)?,
        labels,
        queries: VectorSlab::new(dim, queries)?,
        query_sources,
        centers: VectorSlab::new(dim, centers)?,
        cluster_sizes: sizes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_skewed_and_sum_to_n() -> Result<()> {
        let s = cluster_sizes(10_000, 20, 1.0)?;
        assert_eq!(s.iter().sum::<usize>(), 10_000);
        assert!(s.windows(2).all(|w| w[0] >= w[1]));
        assert!(s[0] > 10 * s[19]);
        assert_eq!(cluster_sizes(10, 10, 2.0)?, vec![1; 10]);
        assert_eq!(cluster_sizes(12, 4, 0.0)?, vec![3; 4]);
        assert!(cluster_sizes(3, 4, 1.0).is_err());
        assert!(cluster_sizes(3, 0, 1.0).is_err());
        Ok(())
    }

    #[test]
    fn deterministic_and_independent_of_threads() -> Result<()> {
        let mut spec = ClusteredSpec::new(3000, 20);
        spec.threads = 1;
        let a = generate(&spec)?;
        spec.threads = 2;
        let b = generate(&spec)?;
        assert_eq!(a.base, b.base);
        assert_eq!(a.queries, b.queries);
        spec.seed += 1;
        let c = generate(&spec)?;
        assert_ne!(a.base, c.base);
        Ok(())
    }

    #[test]
    fn layout_norms_and_closeness() -> Result<()> {
        let mut spec = ClusteredSpec::new(2000, 32);
        spec.clusters = 10;
        let d = generate(&spec)?;
        assert_eq!(d.base.len(), 2000);
        assert_eq!(d.queries.len(), 1000);
        assert!(
            d.labels.windows(2).all(|w| w[0] <= w[1]),
            "sorted by cluster"
        );
        for v in d.base.rows().chain(d.queries.rows()) {
            assert!((distance::norm(v) - 1.0).abs() < 1e-5);
        }
        // Rows sit closer to their own centre than to any other.
        for (row, &l) in d.base.rows().zip(&d.labels) {
            let own = distance::dot(row, d.centers.row(l as usize));
            for j in 0..10 {
                if j != l as usize {
                    assert!(own > distance::dot(row, d.centers.row(j)));
                }
            }
        }
        for (q, &s) in d.queries.rows().zip(&d.query_sources) {
            assert!(distance::dot(q, d.base.row(s as usize)) > 0.9);
        }
        spec.sorted_by_cluster = false;
        let shuffled = generate(&spec)?;
        assert!(shuffled.labels.windows(2).any(|w| w[0] > w[1]));
        let mut a = shuffled.labels.clone();
        a.sort_unstable();
        assert_eq!(a, d.labels);
        Ok(())
    }
}
