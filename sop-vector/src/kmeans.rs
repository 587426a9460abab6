//! k-means training: k-means++ initialisation, then Lloyd iterations; plus the 2-means split
//! used to split one overfull bucket.
//!
//! Input is a flat row-major `&[f32]` slab (`n × dim`) of *prepared* vectors (unit length for
//! cosine, see [`Metric::prepare`]). Cosine trains **spherical** k-means (centroids are the
//! renormalised means, assignment by dot product); L2 and dot train Euclidean k-means.
//!
//! Invariants and guarantees:
//! - Reproducible: the same data, config and seed give bit-identical centroids, whatever the
//!   thread count (assignments are per-row pure; sums are accumulated sequentially in `f64`).
//! - At most [`KMeansConfig::max_iterations`] assignment passes; stops early when the relative
//!   change of the objective between passes is below [`KMeansConfig::tolerance`].
//! - The returned labels are the assignment of every training row to the returned centroids.
//! - Empty clusters are re-seeded with the rows currently farthest from their centroid.
//! - Objective: `Σ ‖x−c‖²` (Euclidean) or `Σ (1 − x·c)` (spherical).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::centroids::{Assignment, Centroids};
use crate::distance;
use crate::error::{Result, VectorError};
use crate::metric::Metric;
use crate::packed::{self, PackedSlab, BLOCK};
use crate::parallel;

/// Minimum packed blocks before the k-means++ distance update is split across threads. The
/// update runs once per centroid (thousands of short steps): forking threads for each pays
/// off only for large inputs, and on a loaded machine every fork waits for a scheduler slot.
const PARALLEL_MIN_BLOCKS: usize = 1 << 14;

/// Parameters of [`train`].
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansConfig {
    /// Number of centroids (`1 ≤ k ≤ n`).
    pub k: usize,
    /// Maximum number of Lloyd assignment passes (default 20).
    pub max_iterations: usize,
    /// Stop when `|obj_prev − obj| / obj_prev` falls below this (default `1e-5`).
    pub tolerance: f64,
    /// Seed of the random generator (k-means++ draws).
    pub seed: u64,
    /// Metric the codebook is for (cosine → spherical k-means).
    pub metric: Metric,
    /// Worker threads for the assignment step (default: available parallelism).
    pub threads: usize,
}

impl KMeansConfig {
    /// Defaults for `k` centroids: 20 iterations, tolerance `1e-5`, seed 0, cosine.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            max_iterations: 20,
            tolerance: 1e-5,
            seed: 0,
            metric: Metric::Cosine,
            threads: parallel::default_threads(),
        }
    }

    /// Sets the metric.
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the maximum number of Lloyd iterations.
    pub fn max_iterations(mut self, iterations: usize) -> Self {
        self.max_iterations = iterations;
        self
    }

    /// Sets the number of worker threads.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }
}

/// Outcome of [`train`].
#[derive(Clone, Debug)]
pub struct KMeansModel {
    /// The trained codebook.
    pub centroids: Centroids,
    /// Centroid index of every training row (w.r.t. `centroids`).
    pub labels: Vec<u32>,
    /// Number of rows per centroid.
    pub sizes: Vec<usize>,
    /// Lloyd assignment passes performed.
    pub iterations: usize,
    /// Final objective (see module docs).
    pub objective: f64,
    /// Whether the tolerance was reached before `max_iterations`.
    pub converged: bool,
}

fn check_input(data: &[f32], dim: usize, k: usize) -> Result<usize> {
    if dim == 0 {
        return Err(VectorError::invalid("dim", "must be at least 1"));
    }
    if !data.len().is_multiple_of(dim) {
        return Err(VectorError::invalid(
            "data",
            format!("length {} is not a multiple of dim {dim}", data.len()),
        ));
    }
    let n = data.len() / dim;
    if k == 0 {
        return Err(VectorError::invalid("k", "must be at least 1"));
    }
    if k > n {
        return Err(VectorError::invalid(
            "k",
            format!("k = {k} exceeds the {n} training rows"),
        ));
    }
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(VectorError::invalid(
            "data",
            format!("row {} component {} is not finite", i / dim, i % dim),
        ));
    }
    if u32::try_from(k).is_err() {
        return Err(VectorError::invalid("k", "must fit in u32"));
    }
    Ok(n)
}

/// k-means++ seeding: the first centroid uniformly, each next one with probability
/// proportional to the squared distance to the nearest centroid chosen so far.
///
/// Distances are updated with the packed dot kernel: `‖x−c‖² = ‖x‖² + ‖c‖² − 2x·c`, clamped
/// at zero (rounding only perturbs the sampling weights).
fn kmeans_pp(
    data: &[f32],
    dim: usize,
    k: usize,
    threads: usize,
    rng: &mut SmallRng,
) -> Result<Vec<f32>> {
    let n = data.len() / dim;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let packed = PackedSlab::from_rows(dim, data)?;
    let norms: Vec<f32> = data.chunks_exact(dim).map(distance::norm_squared).collect();
    let mut centroids = Vec::with_capacity(k * dim);
    let first = rng.gen_range(0..n);
    centroids.extend_from_slice(row(first));
    // Per block of BLOCK rows, so threads split on block boundaries.
    let mut d2 = vec![[f32::INFINITY; BLOCK]; packed.blocks()];
    let mut last = first;
    for _ in 1..k {
        let c = row(last);
        let nc = distance::norm_squared(c);
        parallel::fill_parts(&mut d2, threads, PARALLEL_MIN_BLOCKS, |start, part| {
            let update = |b: usize, d: &mut [f32; BLOCK], dots: &[f32; BLOCK]| {
                for j in 0..BLOCK {
                    let i = b * BLOCK + j;
                    if i < n {
                        let v = (norms[i] + nc - 2.0 * dots[j]).max(0.0);
                        if v < d[j] {
                            d[j] = v;
                        }
                    } else {
                        d[j] = 0.0;
                    }
                }
            };
            let mut quads = part.chunks_exact_mut(4);
            let mut b = start;
            for quad in &mut quads {
                let blocks = [
                    packed.block(b),
                    packed.block(b + 1),
                    packed.block(b + 2),
                    packed.block(b + 3),
                ];
                let dots = packed::dot_blocks4(c, blocks);
                for (r, d) in quad.iter_mut().enumerate() {
                    update(b + r, d, &dots[r]);
                }
                b += 4;
            }
            for d in quads.into_remainder() {
                update(b, d, &packed::dot_block(c, packed.block(b)));
                b += 1;
            }
        });
        let flat = d2.as_flattened();
        let total: f64 = flat.iter().map(|&v| v as f64).sum();
        let next = if total > 0.0 {
            let mut target = rng.gen::<f64>() * total;
            let mut pick = n - 1;
            for (i, &v) in flat[..n].iter().enumerate() {
                target -= v as f64;
                if target < 0.0 && v > 0.0 {
                    pick = i;
                    break;
                }
            }
            // Rounding can leave `pick` on a zero-distance row; walk back to a positive one.
            if flat[pick] <= 0.0 {
                pick = flat[..n].iter().rposition(|&v| v > 0.0).unwrap_or(pick);
            }
            pick
        } else {
            // Fewer distinct rows than k: duplicates are unavoidable.
            rng.gen_range(0..n)
        };
        centroids.extend_from_slice(row(next));
        last = next;
    }
    Ok(centroids)
}

fn objective(metric: Metric, scores: &[f32]) -> f64 {
    if metric.is_spherical() {
        scores.iter().map(|&s| 1.0 - s as f64).sum()
    } else {
        scores.iter().map(|&s| -(s as f64)).sum()
    }
}

/// New centroids from an assignment: means (renormalised if spherical); empty clusters take
/// the rows farthest from their centroid (lowest score; ties by row index).
fn update(
    data: &[f32],
    dim: usize,
    metric: Metric,
    old: &Centroids,
    asg: &Assignment,
) -> Result<Centroids> {
    let k = old.len();
    let mut sums = vec![0f64; k * dim];
    let mut sizes = vec![0usize; k];
    for (x, &l) in data.chunks_exact(dim).zip(&asg.labels) {
        let l = l as usize;
        sizes[l] += 1;
        for (s, &v) in sums[l * dim..(l + 1) * dim].iter_mut().zip(x) {
            *s += v as f64;
        }
    }
    let mut out = vec![0f32; k * dim];
    for j in 0..k {
        let dst = &mut out[j * dim..(j + 1) * dim];
        if sizes[j] == 0 {
            dst.copy_from_slice(old.get(j));
            continue;
        }
        let inv = 1.0 / sizes[j] as f64;
        for (d, s) in dst.iter_mut().zip(&sums[j * dim..(j + 1) * dim]) {
            *d = (s * inv) as f32;
        }
        // A spherical mean can vanish (antipodal rows): keep the old direction.
        if metric.is_spherical() && distance::norm_squared(dst) <= f32::MIN_POSITIVE {
            dst.copy_from_slice(old.get(j));
        }
    }
    let empty: Vec<usize> = (0..k).filter(|&j| sizes[j] == 0).collect();
    if !empty.is_empty() {
        let mut far: Vec<(f32, usize)> = asg
            .scores
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, i))
            .collect();
        let m = empty.len().min(far.len());
        let cmp = |a: &(f32, usize), b: &(f32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if m < far.len() {
            far.select_nth_unstable_by(m, cmp);
            far.truncate(m);
        }
        far.sort_by(cmp);
        for (&j, &(_, i)) in empty.iter().zip(&far) {
            out[j * dim..(j + 1) * dim].copy_from_slice(&data[i * dim..(i + 1) * dim]);
        }
    }
    Centroids::new(metric, dim, out)
}

/// Trains `config.k` centroids on `data` (`n × dim`, prepared for `config.metric`).
///
/// Errors on `dim == 0`, a ragged slab, non-finite values, `k == 0` or `k > n`.
pub fn train(data: &[f32], dim: usize, config: &KMeansConfig) -> Result<KMeansModel> {
    check_input(data, dim, config.k)?;
    let metric = config.metric;
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let init = kmeans_pp(data, dim, config.k, config.threads, &mut rng)?;
    let mut centroids = Centroids::new(metric, dim, init)?;
    let mut prev: Option<f64> = None;
    let mut iterations = 0;
    let mut converged = false;
    let max_iter = config.max_iterations.max(1);
    loop {
        let asg = centroids.assign(data, config.threads);
        iterations += 1;
        let obj = objective(metric, &asg.scores);
        if let Some(p) = prev {
            let rel = (p - obj).abs() / p.abs().max(f64::MIN_POSITIVE);
            if rel < config.tolerance || obj == 0.0 {
                converged = true;
            }
        } else if obj == 0.0 {
            converged = true;
        }
        if converged || iterations >= max_iter {
            let mut sizes = vec![0usize; centroids.len()];
            for &l in &asg.labels {
                sizes[l as usize] += 1;
            }
            return Ok(KMeansModel {
                centroids,
                labels: asg.labels,
                sizes,
                iterations,
                objective: obj,
                converged,
            });
        }
        prev = Some(obj);
        centroids = update(data, dim, metric, &centroids, &asg)?;
    }
}

/// Splits one bucket in two with 2-means (k-means++ seeding, up to 20 iterations).
///
/// Returns the model whose `labels` (0 or 1) say which half each row goes to. Errors if the
/// bucket has fewer than two rows. Single-threaded: buckets are small.
pub fn split_in_two(data: &[f32], dim: usize, metric: Metric, seed: u64) -> Result<KMeansModel> {
    split_in_parts(data, dim, metric, seed, 2)
}

/// Splits one bucket into `parts` pieces with `parts`-means (k-means++ seeding, up to 20
/// iterations); `labels` say which piece each row goes to. Errors if the bucket has fewer
/// rows than `parts`. Single-threaded: runs inside a writer's batch.
pub fn split_in_parts(
    data: &[f32],
    dim: usize,
    metric: Metric,
    seed: u64,
    parts: usize,
) -> Result<KMeansModel> {
    let config = KMeansConfig::new(parts)
        .metric(metric)
        .seed(seed)
        .threads(1);
    train(data, dim, &config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `clusters` well-separated blobs on the axes (±e_j), `per` rows each, prepared.
    fn blobs(
        dim: usize,
        clusters: usize,
        per: usize,
        metric: Metric,
        seed: u64,
    ) -> (Vec<f32>, Vec<usize>) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for c in 0..clusters {
            for _ in 0..per {
                let mut v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-0.05f32..0.05)).collect();
                let axis = c / 2;
                v[axis] += if c % 2 == 0 { 10.0 } else { -10.0 };
                metric.prepare(&mut v);
                data.extend_from_slice(&v);
                truth.push(c);
            }
        }
        (data, truth)
    }

    fn recovers(model: &KMeansModel, truth: &[usize], clusters: usize) -> bool {
        // Every true cluster maps to exactly one label and labels are distinct across clusters.
        let mut map = vec![None; clusters];
        for (l, &t) in model.labels.iter().zip(truth) {
            match map[t] {
                None => map[t] = Some(*l),
                Some(m) if m != *l => return false,
                _ => {}
            }
        }
        let mut seen: Vec<u32> = map.iter().flatten().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len() == clusters
    }

    #[test]
    fn recovers_well_separated_clusters_for_every_metric() -> Result<()> {
        for metric in Metric::ALL {
            let (data, truth) = blobs(16, 8, 50, metric, 5);
            let model = train(&data, 16, &KMeansConfig::new(8).metric(metric).seed(1))?;
            assert!(recovers(&model, &truth, 8), "{metric}");
            assert!(model.iterations <= 20);
            assert!(model.converged, "{metric}");
            assert_eq!(model.sizes.iter().sum::<usize>(), truth.len());
            if metric.is_spherical() {
                for j in 0..8 {
                    assert!((distance::norm(model.centroids.get(j)) - 1.0).abs() < 1e-5);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn reproducible_with_a_seed_and_independent_of_threads() -> Result<()> {
        let mut rng = SmallRng::seed_from_u64(9);
        let dim = 24;
        let mut data: Vec<f32> = (0..3000 * dim)
            .map(|_| rng.gen_range(-1.0f32..1.0))
            .collect();
        for r in data.chunks_exact_mut(dim) {
            Metric::Cosine.prepare(r);
        }
        let cfg = KMeansConfig::new(20).seed(42);
        let a = train(&data, dim, &cfg.clone().threads(1))?;
        let b = train(&data, dim, &cfg.clone().threads(2))?;
        assert_eq!(a.centroids, b.centroids);
        assert_eq!(a.labels, b.labels);
        let c = train(&data, dim, &cfg.seed(43))?;
        assert_ne!(a.centroids, c.centroids);
        Ok(())
    }

    #[test]
    fn labels_match_returned_centroids() -> Result<()> {
        let (data, _) = blobs(8, 6, 30, Metric::L2, 2);
        let model = train(
            &data,
            8,
            &KMeansConfig::new(10).metric(Metric::L2).max_iterations(3),
        )?;
        let asg = model.centroids.assign(&data, 1);
        assert_eq!(asg.labels, model.labels);
        Ok(())
    }

    #[test]
    fn duplicates_and_empty_clusters_do_not_break_training() -> Result<()> {
        // 3 distinct points, k = 5: k-means++ must duplicate, updates must re-seed.
        let mut data = Vec::new();
        for i in 0..30 {
            data.extend_from_slice(&[(i % 3) as f32, 1.0]);
        }
        let model = train(&data, 2, &KMeansConfig::new(5).metric(Metric::L2))?;
        assert_eq!(model.centroids.len(), 5);
        assert!(model.objective.abs() < 1e-6);
        Ok(())
    }

    #[test]
    fn empty_cluster_is_reseeded_from_the_farthest_row() -> Result<()> {
        let data = [0.0f32, 0.0, 0.1, 0.0, 5.0, 0.0, 5.2, 0.0];
        let old = Centroids::new(Metric::L2, 2, vec![0.0, 0.0, 100.0, 100.0])?;
        let mut asg = old.assign(&data, 1);
        assert!(asg.labels.iter().all(|&l| l == 0));
        let new = update(&data, 2, Metric::L2, &old, &asg)?;
        // Row 3 (5.2, 0) is farthest from centroid 0 and becomes centroid 1.
        assert_eq!(new.get(1), &[5.2, 0.0]);
        asg = new.assign(&data, 1);
        assert_eq!(asg.labels, vec![0, 0, 1, 1]);
        Ok(())
    }

    #[test]
    fn split_in_two_separates_two_blobs() -> Result<()> {
        let (data, truth) = blobs(8, 2, 40, Metric::Cosine, 3);
        let model = split_in_two(&data, 8, Metric::Cosine, 7)?;
        assert!(recovers(&model, &truth, 2));
        assert!(split_in_two(&data[..8], 8, Metric::Cosine, 7).is_err());
        Ok(())
    }

    #[test]
    fn bad_input_is_rejected() {
        let data = vec![0.5f32; 20];
        assert!(train(&data, 0, &KMeansConfig::new(2)).is_err());
        assert!(train(&data, 3, &KMeansConfig::new(2)).is_err());
        assert!(train(&data, 4, &KMeansConfig::new(0)).is_err());
        assert!(train(&data, 4, &KMeansConfig::new(6)).is_err());
        let mut bad = data.clone();
        bad[7] = f32::NAN;
        let msg = train(&bad, 4, &KMeansConfig::new(2))
            .err()
            .map(|e| e.to_string());
        assert!(msg.unwrap_or_default().contains("row 1 component 3"));
    }
}
