//! Exact (brute-force) nearest neighbours and recall@k, the yardstick for the IVF index.
//!
//! Scores follow [`Metric::score`] on raw vectors (cosine is computed from precomputed norms,
//! so it may differ from `Metric::score` in the last bits). Ties rank the smaller base index
//! first, so the ground truth is deterministic and independent of the thread count.
//!
//! The scan is tiled: each thread owns a contiguous range of queries and walks the base in
//! tiles of `BASE_BLOCK` (1,024) rows, packed ([`crate::packed`]) so they stay in L2 cache while
//! every query of the thread is scored against them, two queries per pass.

use crate::distance;
use crate::error::{Result, VectorError};
use crate::metric::Metric;
use crate::packed::{self, PackedSlab, BLOCK};
use crate::parallel;
use crate::slab::VectorSlab;
use crate::topk::{Scored, TopK};

/// Base rows per cache block (512 KiB at 128 dimensions).
const BASE_BLOCK: usize = 1024;

/// Exact top-`k` neighbours of every query: per query, `(score, base index)` best first.
///
/// Errors if the dimensions differ or the base has more than `u32::MAX` rows.
pub fn exact_top_k_scored(
    base: &VectorSlab,
    queries: &VectorSlab,
    k: usize,
    metric: Metric,
    threads: usize,
) -> Result<Vec<Vec<Scored<u32>>>> {
    if base.dim() != queries.dim() {
        return Err(VectorError::invalid(
            "queries",
            format!(
                "dimension {} differs from base dimension {}",
                queries.dim(),
                base.dim()
            ),
        ));
    }
    if u32::try_from(base.len()).is_err() {
        return Err(VectorError::invalid("base", "more than u32::MAX rows"));
    }
    let inv_norm = |v: &[f32]| {
        let n = distance::norm(v);
        if n > 0.0 {
            1.0 / n
        } else {
            0.0
        }
    };
    let (base_inv, query_inv): (Vec<f32>, Vec<f32>) = if metric == Metric::Cosine {
        (
            base.rows().map(inv_norm).collect(),
            queries.rows().map(inv_norm).collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let mut out: Vec<Vec<Scored<u32>>> = vec![Vec::new(); queries.len()];
    let dim = base.dim();
    parallel::fill_parts(&mut out, threads, 2, |first, part| {
        let nq = part.len();
        let mut tops: Vec<TopK<u32>> = (0..nq).map(|_| TopK::new(k)).collect();
        let q = |i: usize| queries.row(first + i);
        let qinv = |i: usize| query_inv.get(first + i).copied().unwrap_or(1.0);
        for block_start in (0..base.len()).step_by(BASE_BLOCK) {
            let block_end = (block_start + BASE_BLOCK).min(base.len());
            let rows = &base.as_slice()[block_start * dim..block_end * dim];
            let Ok(tile) = PackedSlab::from_rows(dim, rows) else {
                continue; // unreachable: rows come from a valid slab
            };
            let mut push = |qi: usize, b: usize, s: &[f32; BLOCK]| {
                for (j, &v) in s.iter().enumerate() {
                    let i = block_start + b * BLOCK + j;
                    if i >= block_end {
                        break;
                    }
                    let score = match metric {
                        Metric::L2 => -v,
                        Metric::Dot => v,
                        Metric::Cosine => v * base_inv[i] * qinv(qi),
                    };
                    tops[qi].push(score, i as u32);
                }
            };
            for qi in (0..nq).step_by(2) {
                for b in 0..tile.blocks() {
                    let blk = tile.block(b);
                    if qi + 1 < nq {
                        let [s0, s1] = match metric {
                            Metric::L2 => packed::l2_block2(q(qi), q(qi + 1), blk),
                            Metric::Dot | Metric::Cosine => {
                                packed::dot_block2(q(qi), q(qi + 1), blk)
                            }
                        };
                        push(qi, b, &s0);
                        push(qi + 1, b, &s1);
                    } else {
                        let s0 = match metric {
                            Metric::L2 => packed::l2_block(q(qi), blk),
                            Metric::Dot | Metric::Cosine => packed::dot_block(q(qi), blk),
                        };
                        push(qi, b, &s0);
                    }
                }
            }
        }
        for (slot, top) in part.iter_mut().zip(tops) {
            *slot = top.into_sorted_vec();
        }
    });
    Ok(out)
}

/// Exact top-`k` base indices of every query, best first (see [`exact_top_k_scored`]).
pub fn exact_top_k(
    base: &VectorSlab,
    queries: &VectorSlab,
    k: usize,
    metric: Metric,
    threads: usize,
) -> Result<Vec<Vec<u32>>> {
    Ok(exact_top_k_scored(base, queries, k, metric, threads)?
        .into_iter()
        .map(|row| row.into_iter().map(|e| e.id).collect())
        .collect())
}

/// Mean recall@k: for each query, the fraction of the first `min(k, truth.len())` true
/// neighbours found among the first `k` results. Errors if the query counts differ or `k == 0`.
pub fn recall_at_k(truth: &[Vec<u32>], found: &[Vec<u32>], k: usize) -> Result<f64> {
    if truth.len() != found.len() {
        return Err(VectorError::invalid(
            "found",
            format!("{} result lists for {} queries", found.len(), truth.len()),
        ));
    }
    if k == 0 {
        return Err(VectorError::invalid("k", "must be at least 1"));
    }
    if truth.is_empty() {
        return Ok(1.0);
    }
    let mut sum = 0.0;
    for (t, f) in truth.iter().zip(found) {
        let t = &t[..k.min(t.len())];
        if t.is_empty() {
            sum += 1.0;
            continue;
        }
        let f = &f[..k.min(f.len())];
        let hits = t.iter().filter(|id| f.contains(id)).count();
        sum += hits as f64 / t.len() as f64;
    }
    Ok(sum / truth.len() as f64)
}

/// Converts neighbour lists to `.ivecs` rows. Errors if an id exceeds `i32::MAX`.
pub fn to_ivecs(rows: &[Vec<u32>]) -> Result<Vec<Vec<i32>>> {
    rows.iter()
        .enumerate()
        .map(|(q, r)| {
            r.iter()
                .map(|&id| {
                    i32::try_from(id).map_err(|_| {
                        VectorError::invalid("ids", format!("query {q}: id {id} exceeds i32::MAX"))
                    })
                })
                .collect()
        })
        .collect()
}

/// Converts `.ivecs` rows to neighbour lists. Errors on a negative id.
pub fn from_ivecs(rows: &[Vec<i32>]) -> Result<Vec<Vec<u32>>> {
    rows.iter()
        .enumerate()
        .map(|(q, r)| {
            r.iter()
                .map(|&id| {
                    u32::try_from(id).map_err(|_| {
                        VectorError::invalid("ids", format!("query {q}: negative id {id}"))
                    })
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn random_slab(rng: &mut SmallRng, n: usize, dim: usize) -> Result<VectorSlab> {
        VectorSlab::new(
            dim,
            (0..n * dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect(),
        )
    }

    #[test]
    fn matches_naive_sort_for_every_metric_and_thread_count() -> Result<()> {
        let mut rng = SmallRng::seed_from_u64(21);
        let dim = 19;
        // More than one base block; quantised values force score ties.
        let mut base = random_slab(&mut rng, 2500, dim)?;
        for i in 0..base.len() {
            for v in base.row_mut(i) {
                *v = (*v * 2.0).round() / 2.0;
            }
        }
        let queries = random_slab(&mut rng, 7, dim)?;
        for metric in Metric::ALL {
            let got1 = exact_top_k_scored(&base, &queries, 10, metric, 1)?;
            let got2 = exact_top_k_scored(&base, &queries, 10, metric, 2)?;
            assert_eq!(got1, got2, "{metric}");
            for (q, got) in queries.rows().zip(&got1) {
                let mut all: Vec<(f32, u32)> = base
                    .rows()
                    .enumerate()
                    .map(|(i, x)| (metric.score(q, x), i as u32))
                    .collect();
                all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                for (g, w) in got.iter().zip(&all) {
                    assert!((g.score - w.0).abs() < 1e-4, "{metric}");
                }
                // Ids agree wherever the naive scores are not (near-)tied.
                let ids: Vec<u32> = got.iter().map(|e| e.id).collect();
                let want: Vec<u32> = all[..10].iter().map(|e| e.1).collect();
                let r = recall_at_k(&[want], &[ids], 10)?;
                assert!(r >= 0.9, "{metric}: recall {r}");
            }
        }
        Ok(())
    }

    #[test]
    fn exact_match_is_first() -> Result<()> {
        let mut rng = SmallRng::seed_from_u64(5);
        let base = random_slab(&mut rng, 300, 16)?;
        let queries = base.gather(&[3, 250]);
        for metric in [Metric::Cosine, Metric::L2] {
            let gt = exact_top_k(&base, &queries, 5, metric, 2)?;
            assert_eq!(gt[0][0], 3);
            assert_eq!(gt[1][0], 250);
            assert_eq!(recall_at_k(&gt, &gt, 5)?, 1.0);
        }
        Ok(())
    }

    #[test]
    fn recall_and_ivecs_conversion() -> Result<()> {
        let truth = vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]];
        let found = vec![vec![4, 9, 1, 0], vec![5, 6, 7, 8]];
        assert!((recall_at_k(&truth, &found, 4)? - 0.75).abs() < 1e-12);
        assert!((recall_at_k(&truth, &found, 1)? - 0.5).abs() < 1e-12);
        assert!(recall_at_k(&truth, &found[..1], 4).is_err());
        assert!(recall_at_k(&truth, &found, 0).is_err());
        assert_eq!(from_ivecs(&to_ivecs(&truth)?)?, truth);
        assert!(from_ivecs(&[vec![-1]]).is_err());
        assert!(to_ivecs(&[vec![u32::MAX]]).is_err());
        let a = VectorSlab::new(2, vec![0.0; 4])?;
        let b = VectorSlab::new(3, vec![0.0; 3])?;
        assert!(exact_top_k(&a, &b, 1, Metric::L2, 1).is_err());
        Ok(())
    }
}
