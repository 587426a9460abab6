//! [`Scan`]: the top-k scan of one query over cached [`Bucket`]s.
//!
//! Per bucket, in probe order:
//! 1. **triangle-inequality pruning** (cosine and L2): once `k` candidates are held, only rows
//!    with `|d(x,c) − d(q,c)| ≤ d_k` can enter (`d_k` the Euclidean distance of the current
//!    k-th candidate), a contiguous range of the distance-sorted rows — often empty for a
//!    bucket of another cluster;
//! 2. **8-bit pre-filter**: integer dot products of the coded query with the coded residuals
//!    give, per row, an *upper bound* of its exact score ([`crate::quant`]'s rigorous error
//!    bound plus a rounding slack);
//! 3. **exact scoring** of the rows whose bound reaches the current k-th score, kept in a
//!    bounded heap.
//!
//! A row is skipped only when it provably cannot enter the top `k`, so the result equals an
//! exact scan of the probed buckets (up to float rounding of equal scores). Scores follow the
//! crate convention ([`crate::metric`]): `q·x` for cosine (prepared unit vectors) and dot,
//! `−‖q−x‖²` for L2. Scratch buffers live in the [`Scan`], so a query allocates nothing per row;
//! they are borrowed from a per-thread pool and handed back when the scan is dropped, so
//! successive queries on a thread reuse them instead of growing fresh buffers to the size of
//! their largest bucket (at a million vectors that growth was ~15% of query time).

use std::cell::RefCell;

use crate::bucket::Bucket;
use crate::distance;
use crate::metric::Metric;
use crate::quant::{self, CodedQuery};
use crate::topk::{Scored, TopK};

/// Relative slack added to every bound for float rounding (scores and estimates are `f32`).
const ROUNDING: f32 = 1e-5;

/// Rows whose bounds are checked with one branch.
const CHUNK: usize = 16;

/// Scratch buffers of a [`Scan`]: integer dot products and bounds, one per row of a bucket.
#[derive(Default)]
struct Scratch {
    dots: Vec<i32>,
    bounds: Vec<f32>,
}

thread_local! {
    /// Buffers of the last finished scan on this thread, reused by the next one.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A row of a probed bucket: `(probe index, row)`.
pub type RowRef = (u32, u32);

/// The state of one query's scan (see the module docs).
pub struct Scan<'q> {
    q: &'q [f32],
    metric: Metric,
    coded: CodedQuery,
    q_norm: f32,
    top: TopK<RowRef>,
    prune: bool,
    scratch: Scratch,
    /// Rows whose exact score was computed.
    pub exact_scored: usize,
    /// Rows considered after pruning.
    pub considered: usize,
}

/// Per-bucket constants of the bound: `ub = mul·(qc + s·(sq·dot + a) + bq·l1) + add·(1)`.
struct BoundParams {
    qc: f32,
    sq: f32,
    a: f32,
    bq: f32,
    l2: bool,
    q_norm: f32,
}

crate::simd::multiversion! {
    /// Upper bounds of the exact scores of rows from their integer dot products.
    fn upper_bounds / upper_bounds_portable(
        p: &BoundParams,
        dots: &[i32],
        scale: &[f32],
        l1: &[f32],
        norms: &[f32],
        out: &mut [f32],
    ) {
        let n = out.len();
        let (dots, scale, l1, norms) = (&dots[..n], &scale[..n], &l1[..n], &norms[..n]);
        for i in 0..n {
            let est = p.qc + scale[i] * p.sq * dots[i] as f32;
            let err = scale[i] * p.a + p.bq * l1[i];
            let slack = ROUNDING * (p.q_norm + norms[i]) * (p.q_norm + norms[i]);
            out[i] = if p.l2 {
                2.0 * (est + err) - norms[i] * norms[i] - p.q_norm * p.q_norm + slack
            } else {
                est + err + slack
            };
        }
    }
}

/// Euclidean distance from a score (`None` for dot, whose scores are not distances).
pub fn score_to_distance(metric: Metric, score: f32) -> Option<f32> {
    match metric {
        Metric::Cosine => Some((2.0 - 2.0 * score).max(0.0).sqrt()),
        Metric::L2 => Some((-score).max(0.0).sqrt()),
        Metric::Dot => None,
    }
}

impl<'q> Scan<'q> {
    /// A scan for the `k` best rows for prepared query `q` under `metric`.
    pub fn new(q: &'q [f32], metric: Metric, k: usize, prune: bool) -> Self {
        Self {
            q,
            metric,
            coded: CodedQuery::new(q),
            q_norm: distance::norm(q),
            top: TopK::new(k),
            prune: prune && metric != Metric::Dot,
            scratch: SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut())),
            exact_scored: 0,
            considered: 0,
        }
    }

    /// The exact score of `x`.
    #[inline]
    fn score(&self, x: &[f32]) -> f32 {
        match self.metric {
            Metric::L2 => -distance::l2_squared(self.q, x),
            Metric::Cosine | Metric::Dot => distance::dot(self.q, x),
        }
    }

    /// The rows of `bucket` that can still enter the top `k` (triangle inequality).
    fn range(&self, bucket: &Bucket) -> (usize, usize) {
        let n = bucket.len();
        if !self.prune || n == 0 {
            return (0, n);
        }
        let Some(dk) = self
            .top
            .threshold()
            .and_then(|t| score_to_distance(self.metric, t))
        else {
            return (0, n);
        };
        let dq = distance::l2_squared(self.q, bucket.centre()).sqrt();
        let slack = dk + 1e-3 * (1.0 + dq);
        let d = bucket.distances();
        let (from, to) = (dq - slack, dq + slack);
        let lo = if d[0] >= from {
            0
        } else {
            d.partition_point(|&x| x < from)
        };
        let hi = if d[n - 1] <= to {
            n
        } else {
            d.partition_point(|&x| x <= to)
        };
        (lo, hi.max(lo))
    }

    /// Scans `bucket` (the probe numbered `probe`).
    pub fn bucket(&mut self, probe: u32, bucket: &Bucket) {
        let (lo, hi) = self.range(bucket);
        let n = hi - lo;
        if n == 0 {
            return;
        }
        self.considered += n;
        let codes = bucket.codes();
        let Scratch { dots, bounds } = &mut self.scratch;
        if dots.len() < n {
            dots.resize(n, 0);
            bounds.resize(n, 0.0);
        }
        quant::dot_codes(&self.coded.codes, codes.rows(lo, hi), &mut dots[..n]);
        let p = BoundParams {
            qc: distance::dot(self.q, bucket.centre()),
            sq: self.coded.scale,
            a: 0.5 * self.coded.l1,
            bq: 0.5 * self.coded.scale,
            l2: self.metric == Metric::L2,
            q_norm: self.q_norm,
        };
        upper_bounds(
            &p,
            &dots[..n],
            &codes.scales()[lo..hi],
            &codes.l1_norms()[lo..hi],
            &bucket.norms()[lo..hi],
            &mut bounds[..n],
        );
        let mut threshold = self.top.threshold().unwrap_or(f32::NEG_INFINITY);
        let bounds = std::mem::take(&mut self.scratch.bounds);
        for (c, chunk) in bounds[..n].chunks(CHUNK).enumerate() {
            // Branch once per chunk: most chunks hold no candidate.
            if !chunk.iter().fold(false, |any, &b| any | (b >= threshold)) {
                continue;
            }
            for (j, &b) in chunk.iter().enumerate() {
                if b < threshold {
                    continue;
                }
                let row = lo + c * CHUNK + j;
                let s = self.score(bucket.row(row));
                self.exact_scored += 1;
                if self.top.push(s, (probe, row as u32)) {
                    threshold = self.top.threshold().unwrap_or(f32::NEG_INFINITY);
                }
            }
        }
        self.scratch.bounds = bounds;
    }

    /// Scores every row of `bucket` exactly, appending to `all` (for filtered queries, which
    /// must rank all candidates).
    pub fn bucket_all(&self, probe: u32, bucket: &Bucket, all: &mut Vec<Scored<RowRef>>) {
        for row in 0..bucket.len() {
            all.push(Scored {
                score: self.score(bucket.row(row)),
                id: (probe, row as u32),
            });
        }
    }

    /// The kept rows, best first.
    pub fn into_sorted_vec(mut self) -> Vec<Scored<RowRef>> {
        std::mem::replace(&mut self.top, TopK::new(0)).into_sorted_vec()
    }
}

impl Drop for Scan<'_> {
    /// Hands the scratch buffers back to this thread's pool (keeping the larger of two).
    fn drop(&mut self) {
        let mine = std::mem::take(&mut self.scratch);
        // `try_with`: during thread teardown the pool may be gone; the buffers are then freed.
        let _ = SCRATCH.try_with(|s| {
            let mut pooled = s.borrow_mut();
            if mine.dots.capacity() > pooled.dots.capacity() {
                *pooled = mine;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::BucketBuilder;
    use crate::error::Result;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// Buckets of random rows around random centres, rows sorted by distance.
    fn buckets(metric: Metric, dim: usize, rng: &mut SmallRng) -> Result<Vec<Bucket>> {
        let mut out = Vec::new();
        for b in 0..5 {
            let mut centre: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            metric.prepare(&mut centre);
            let mut rows: Vec<(f32, Vec<f32>)> = (0..(40 + 30 * b))
                .map(|_| {
                    let mut v: Vec<f32> = centre
                        .iter()
                        .map(|c| c + rng.gen_range(-0.4f32..0.4))
                        .collect();
                    metric.prepare(&mut v);
                    (distance::l2_squared(&v, &centre).sqrt(), v)
                })
                .collect();
            rows.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut builder = BucketBuilder::new(&centre);
            for (i, (d, v)) in rows.iter().enumerate() {
                builder.push(&format!("{b}-{i}"), *d, v)?;
            }
            out.push(builder.finish()?);
        }
        Ok(out)
    }

    #[test]
    fn filtered_scan_equals_exact_scan_for_every_metric() -> Result<()> {
        let mut rng = SmallRng::seed_from_u64(21);
        for metric in Metric::ALL {
            for dim in [3usize, 64, 100] {
                let bs = buckets(metric, dim, &mut rng)?;
                for _ in 0..20 {
                    let mut q: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                    metric.prepare(&mut q);
                    for prune in [false, true] {
                        let mut scan = Scan::new(&q, metric, 7, prune);
                        let mut all = Vec::new();
                        for (p, b) in bs.iter().enumerate() {
                            scan.bucket(p as u32, b);
                            scan.bucket_all(p as u32, b, &mut all);
                        }
                        all.sort_by(crate::topk::rank_cmp);
                        all.truncate(7);
                        let got = scan.into_sorted_vec();
                        let want: Vec<f32> = all.iter().map(|s| s.score).collect();
                        let have: Vec<f32> = got.iter().map(|s| s.score).collect();
                        assert_eq!(have, want, "{metric} dim {dim} prune {prune}");
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn scratch_buffers_are_reused_by_the_next_scan() -> Result<()> {
        let mut rng = SmallRng::seed_from_u64(4);
        let bs = buckets(Metric::Cosine, 16, &mut rng)?;
        let q = bs[0].row(0).to_vec();
        let run = || {
            let mut scan = Scan::new(&q, Metric::Cosine, 3, false);
            for (p, b) in bs.iter().enumerate() {
                scan.bucket(p as u32, b);
            }
            let ptr = scan.scratch.dots.as_ptr();
            (scan.into_sorted_vec(), ptr)
        };
        let (first, p1) = run();
        let (second, p2) = run();
        assert_eq!(first, second);
        assert_eq!(p1, p2, "the second scan got the first one's buffer back");
        assert_eq!(first[0].id, (0, 0));
        Ok(())
    }

    #[test]
    fn bounds_are_computed_alike_by_both_builds() {
        let p = BoundParams {
            qc: 0.5,
            sq: 0.01,
            a: 2.0,
            bq: 0.005,
            l2: true,
            q_norm: 1.5,
        };
        let dots: Vec<i32> = (0..37).map(|i| i * 97 - 1500).collect();
        let f = |k: f32| (0..37).map(|i| k + i as f32 * 0.01).collect::<Vec<f32>>();
        let (s, l, n) = (f(0.001), f(0.2), f(1.0));
        let mut a = vec![0f32; 37];
        let mut b = vec![0f32; 37];
        upper_bounds(&p, &dots, &s, &l, &n, &mut a);
        upper_bounds_portable(&p, &dots, &s, &l, &n, &mut b);
        assert_eq!(a, b);
        let est = 0.5 + s[3] * 0.01 * dots[3] as f32 + s[3] * 2.0 + 0.005 * l[3];
        let want = 2.0 * est - n[3] * n[3] - 2.25;
        assert!((a[3] - want).abs() < 1e-3);
    }
}
