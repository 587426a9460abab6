//! Search: [`VectorStore::query`] and payload [`Filter`]s.
//!
//! A query probes the `nprobe` centroids nearest to the (prepared) query vector, best first.
//! Each probed bucket is a [`Bucket`] of its live rows, served from the process cache while
//! the bucket's epoch is unchanged (see [`crate::cache`]), otherwise read from `vecs_vN`
//! (tombstones skipped).
//!
//! Without a filter the buckets go through a [`Scan`]: triangle-inequality pruning on the
//! stored distances, an 8-bit pre-filter with a rigorous bound, exact scores for the rows that
//! can still enter the top `k` — the result of an exact scan of the probed buckets. With a
//! filter every candidate is scored exactly and ranked, and payloads are read in rank order
//! until `k` pass. Results never repeat an id.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::{Map, Value};
use sop_core::Direction;

use crate::bucket::{Bucket, BucketBuilder};
use crate::cache::{self, CentroidSet};
use crate::error::{Ctx, Result, VectorError};
use crate::scan::{RowRef, Scan};
use crate::schema::{DataKey, VecKey};
use crate::store::VectorStore;
use crate::topk::Scored;
use crate::validate::prepare_vector;

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

impl VectorStore {
    /// Bucket `row` of `set`: cached, or read from `vecs_vN`.
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
        let Some(codebook) = set.codebook.as_ref() else {
            return Err(VectorError::Inconsistent {
                domain: self.domain.clone(),
                reason: format!("bucket {c} read without a codebook"),
            });
        };
        let mut builder = BucketBuilder::new(codebook.get(row));
        let mut rows = std::pin::pin!(self.vecs.range(
            VecKey::bucket_start(c)..VecKey::bucket_start(c + 1),
            Direction::Forward
        ));
        let mut vector = Vec::with_capacity(self.config.dimensions);
        while let Some(r) = rows.next().await {
            let (k, v) = r.ctx(&self.domain, self.vecs.name())?;
            if !k.deleted {
                vector.clear();
                v.decode_into(&mut vector);
                builder.push(&k.id, k.distance.0, &vector)?;
            }
        }
        let bucket = Arc::new(builder.finish()?);
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
        let mut scan = Scan::new(&q, metric, k, self.prune);
        let ranked: Vec<Scored<RowRef>> = match filter {
            None => {
                for (i, b) in buckets.iter().enumerate() {
                    scan.bucket(i as u32, b);
                }
                scan.into_sorted_vec()
            }
            Some(_) => {
                let mut all = Vec::new();
                for (i, b) in buckets.iter().enumerate() {
                    scan.bucket_all(i as u32, b, &mut all);
                }
                all.sort_unstable_by(crate::topk::rank_cmp);
                all
            }
        };
        self.resolve(ranked, &buckets, k, filter).await
    }

    /// Turns ranked rows into hits: dedup, payload fetch, filter.
    async fn resolve(
        &self,
        ranked: Vec<Scored<RowRef>>,
        buckets: &[Arc<Bucket>],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Hit>> {
        let mut seen = HashSet::new();
        let mut hits: Vec<Hit> = Vec::with_capacity(k);
        for s in ranked {
            let id = buckets[s.id.0 as usize].id(s.id.1 as usize);
            // An id lives in one bucket of a version, so repeats are rare: a short scan of
            // the hits so far, a set only for long result lists.
            let repeated = if k <= 32 {
                hits.iter().any(|h| h.id == id)
            } else {
                !seen.insert(id)
            };
            if repeated {
                continue;
            }
            let payload = self
                .data
                .get(&DataKey::probe(id))
                .await
                .ctx(&self.domain, self.data.name())?
                .unwrap_or(Value::Null);
            if filter.is_some_and(|f| !f.matches(&payload)) {
                continue;
            }
            hits.push(Hit {
                id: id.to_string(),
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
