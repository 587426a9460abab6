//! Search: [`VectorStore::query`] and payload [`Filter`]s.
//!
//! A query probes the `nprobe` centroids nearest to the (prepared) query vector, best first.
//! Each probed bucket is scanned from a contiguous [`crate::PackedSlab`] of its live vectors,
//! served from the process cache while the bucket's epoch is unchanged (see [`crate::cache`]),
//! otherwise read from `vecs_vN` (tombstones skipped). Bucket rows are in ascending distance to
//! their centroid, so once `k` candidates are held, **triangle-inequality pruning** restricts
//! the scan to rows with `|d(x,c) − d(q,c)| ≤ d_k` (`d_k` the Euclidean distance of the current
//! k-th candidate): cosine and L2 only, exact (never loses a result).
//!
//! Without a filter the `k` best rows are kept in a heap; with a filter every candidate is
//! ranked and payloads are read in rank order until `k` pass. Results never repeat an id.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::{Map, Value};
use sop_core::Direction;

use crate::cache::{self, Bucket, CentroidSet};
use crate::error::{Ctx, Result};
use crate::packed::{self, PackedSlab, BLOCK};
use crate::schema::{DataKey, VecKey};
use crate::store::VectorStore;
use crate::topk::{Scored, TopK};
use crate::validate::prepare_vector;
use crate::Metric;

/// One search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Item id.
    pub id: String,
    /// Score, higher is better: cosine similarity, dot product, or `−‖q−x‖²` for L2.
    pub score: f32,
    /// The item's payload.
    pub payload: Value,
}

type Predicate = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// A payload filter: field equalities (all must hold) and an optional closure.
#[derive(Clone, Default)]
pub struct Filter {
    equals: Map<String, Value>,
    predicate: Option<Predicate>,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("equals", &self.equals)
            .field("predicate", &self.predicate.is_some())
            .finish()
    }
}

impl Filter {
    /// A filter that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `payload[field] == value`.
    pub fn eq(mut self, field: impl Into<String>, value: Value) -> Self {
        self.equals.insert(field.into(), value);
        self
    }

    /// Requires `f(payload)`.
    pub fn with(mut self, f: impl Fn(&Value) -> bool + Send + Sync + 'static) -> Self {
        self.predicate = Some(Arc::new(f));
        self
    }

    /// Whether `payload` passes.
    pub fn matches(&self, payload: &Value) -> bool {
        self.equals.iter().all(|(k, v)| payload.get(k) == Some(v))
            && self.predicate.as_ref().is_none_or(|p| p(payload))
    }
}

/// Euclidean distance from a score between prepared vectors (`None` for dot).
fn score_to_distance(metric: Metric, score: f32) -> Option<f32> {
    match metric {
        Metric::Cosine => Some((2.0 - 2.0 * score).max(0.0).sqrt()),
        Metric::L2 => Some((-score).max(0.0).sqrt()),
        Metric::Dot => None,
    }
}

/// Scores one packed block.
#[inline]
fn score_block(metric: Metric, q: &[f32], block: &[f32]) -> [f32; BLOCK] {
    match metric {
        Metric::L2 => packed::l2_block(q, block).map(|x| -x),
        Metric::Cosine | Metric::Dot => packed::dot_block(q, block),
    }
}

impl VectorStore {
    /// Bucket `row` of `set`: cached slab, or read from `vecs_vN`.
    async fn bucket(&self, set: &CentroidSet, row: usize) -> Result<Arc<Bucket>> {
        let (c, epoch) = (set.ids[row], set.epochs[row]);
        let (uuid, version) = (&self.config.uuid, self.config.active_version);
        let clean =
            self.vecs.snapshot_version().is_some() && self.centroids.snapshot_version().is_some();
        if clean {
            if let Some(b) = cache::bucket(uuid, version, c, epoch) {
                return Ok(b);
            }
        }
        let mut ids = Vec::new();
        let mut distances = Vec::new();
        let mut flat = Vec::new();
        let mut rows = std::pin::pin!(self.vecs.range(
            VecKey::bucket_start(c)..VecKey::bucket_start(c + 1),
            Direction::Forward
        ));
        while let Some(r) = rows.next().await {
            let (k, v) = r.ctx(&self.domain, self.vecs.name())?;
            if !k.deleted {
                flat.extend_from_slice(&v);
                distances.push(k.distance.0);
                ids.push(k.id);
            }
        }
        let bucket = Arc::new(Bucket {
            ids,
            distances,
            slab: PackedSlab::from_rows(self.config.dimensions, &flat)?,
        });
        if clean {
            cache::put_bucket(uuid, version, c, epoch, bucket.clone());
        }
        Ok(bucket)
    }

    /// The `k` nearest live items to `vector` among the `nprobe` nearest buckets, passing
    /// `filter`, best first, without duplicate ids.
    pub async fn query(
        &self,
        vector: &[f32],
        k: usize,
        filter: Option<&Filter>,
        nprobe: usize,
    ) -> Result<Vec<Hit>> {
        let metric = self.config.metric;
        let q = prepare_vector(
            &self.domain,
            "query",
            vector,
            self.config.dimensions,
            metric,
        )?;
        let set = self.centroid_set().await?;
        let Some(codebook) = set.codebook.as_ref() else {
            return Ok(Vec::new());
        };
        if k == 0 {
            return Ok(Vec::new());
        }
        let probes = codebook.nearest_n(&q, nprobe.max(1));
        let mut buckets = Vec::with_capacity(probes.len());
        for p in &probes {
            buckets.push(self.bucket(&set, p.id as usize).await?);
        }
        let ranked: Vec<Scored<(u32, u32)>> = match filter {
            None => {
                let mut top = TopK::new(k);
                self.scan(&q, &probes, &buckets, |s, id| {
                    top.push(s, id);
                    top.threshold()
                });
                top.into_sorted_vec()
            }
            Some(_) => {
                let mut all = Vec::new();
                self.scan(&q, &probes, &buckets, |score, id| {
                    all.push(Scored { score, id });
                    None
                });
                all.sort_unstable_by(crate::topk::rank_cmp);
                all
            }
        };
        self.resolve(ranked, &buckets, k, filter).await
    }

    /// Scores the probed buckets; `push` returns the current k-th score (for pruning).
    fn scan(
        &self,
        q: &[f32],
        probes: &[Scored<u32>],
        buckets: &[Arc<Bucket>],
        mut push: impl FnMut(f32, (u32, u32)) -> Option<f32>,
    ) {
        let metric = self.config.metric;
        let centroid_metric = if metric.is_spherical() {
            Metric::Cosine
        } else {
            Metric::L2
        };
        let mut threshold: Option<f32> = None;
        for (pi, (probe, bucket)) in probes.iter().zip(buckets).enumerate() {
            let (mut lo, mut hi) = (0, bucket.ids.len());
            if self.prune {
                let dq = score_to_distance(centroid_metric, probe.score);
                let dk = threshold.and_then(|t| score_to_distance(metric, t));
                if let (Some(dq), Some(dk)) = (dq, dk) {
                    let slack = dk + 1e-3 * (1.0 + dq);
                    lo = bucket.distances.partition_point(|&d| d < dq - slack);
                    hi = bucket.distances.partition_point(|&d| d <= dq + slack);
                }
            }
            if lo >= hi {
                continue;
            }
            for b in lo / BLOCK..hi.div_ceil(BLOCK) {
                let scores = score_block(metric, q, bucket.slab.block(b));
                let rows = (b * BLOCK..(b + 1) * BLOCK).zip(scores);
                for (row, s) in rows.take_while(|(r, _)| *r < bucket.ids.len()) {
                    threshold = push(s, (pi as u32, row as u32)).or(threshold);
                }
            }
        }
    }

    /// Turns ranked rows into hits: dedup, payload fetch, filter.
    async fn resolve(
        &self,
        ranked: Vec<Scored<(u32, u32)>>,
        buckets: &[Arc<Bucket>],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Hit>> {
        let mut seen = HashSet::new();
        let mut hits = Vec::with_capacity(k);
        for s in ranked {
            let id = &buckets[s.id.0 as usize].ids[s.id.1 as usize];
            if !seen.insert(id.as_str()) {
                continue;
            }
            let payload = self
                .data
                .get(&DataKey::probe(id.as_str()))
                .await
                .ctx(&self.domain, self.data.name())?
                .unwrap_or(Value::Null);
            if filter.is_some_and(|f| !f.matches(&payload)) {
                continue;
            }
            hits.push(Hit {
                id: id.clone(),
                score: s.score,
                payload,
            });
            if hits.len() == k {
                break;
            }
        }
        Ok(hits)
    }
}
