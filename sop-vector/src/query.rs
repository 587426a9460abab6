//! Search: [`VectorStore::query`] and payload [`Filter`]s.
//!
//! A query probes the `nprobe` centroids nearest to the (prepared) query vector, best first.
//! Each probed bucket is a [`Bucket`] of its live rows, served from the process cache while
//! the bucket's epoch is unchanged (see [`crate::cache`]), otherwise read from `vecs_vN`
//! (tombstones skipped). The cache is used only by transactions that have not changed
//! `vecs` or `centroids`, so a transaction always sees its own writes.
//!
//! Without a filter the buckets go through a [`Scan`]: triangle-inequality pruning on the
//! stored distances, an 8-bit pre-filter with a rigorous bound, exact scores for the rows that
//! can still enter the top `k` — the result of an exact scan of the probed buckets. With a
//! filter every candidate is scored exactly and ranked, and payloads are read in rank order
//! until `k` pass. Results never repeat an id. A payload is read from `data` once per cached
//! bucket row and then kept in the bucket's payload slot (see [`crate::bucket`]), but only in
//! transactions that have not changed `vecs`, `centroids` or `data`; others always read
//! `data`.

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
    /// Whether `vecs` and `centroids` are unchanged in this transaction: only then may
    /// buckets come from, or go to, the process cache.
    fn buckets_clean(&self) -> bool {
        self.vecs.snapshot_version().is_some() && self.centroids.snapshot_version().is_some()
    }

    /// The buckets of codebook rows `rows` of `set`, in order: cached (one cache lock for
    /// all), or read from `vecs_vN` (and cached when `clean`).
    async fn probed_buckets(
        &self,
        set: &CentroidSet,
        rows: &[usize],
        clean: bool,
    ) -> Result<Vec<Arc<Bucket>>> {
        let (uuid, version) = (&self.config.uuid, self.config.active_version);
        let wanted: Vec<(u32, u64)> = rows.iter().map(|&r| (set.ids[r], set.epochs[r])).collect();
        let cached = if clean {
            cache::buckets(uuid, version, &wanted)
        } else {
            vec![None; wanted.len()]
        };
        let mut out = Vec::with_capacity(wanted.len());
        for ((&(c, epoch), hit), &row) in wanted.iter().zip(cached).zip(rows) {
            let b = match hit {
                Some(b) => b,
                None => {
                    let b = Arc::new(self.load_bucket(set, row).await?);
                    if clean {
                        cache::put_bucket(uuid, version, c, epoch, b.clone());
                    }
                    b
                }
            };
            out.push(b);
        }
        Ok(out)
    }

    /// Bucket of codebook row `row` of `set`, read from `vecs_vN` in this transaction.
    async fn load_bucket(&self, set: &CentroidSet, row: usize) -> Result<Bucket> {
        let c = set.ids[row];
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
        builder.finish()
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
        let clean = self.buckets_clean();
        let rows: Vec<usize> = probes.iter().map(|p| p.id as usize).collect();
        let buckets = self.probed_buckets(&set, &rows, clean).await?;
        let mut scan = Scan::new(&q, metric, k, self.prune);
        let ranked: Vec<Scored<RowRef>> = match filter {
            None => {
                for (i, b) in buckets.iter().enumerate() {
                    if let Some(next) = buckets.get(i + 1) {
                        next.prefetch_head();
                    }
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
        // Payload slots of cached buckets hold committed payloads: usable only when this
        // transaction has changed none of the trees a bucket and its payloads come from.
        let slots = clean && self.data.snapshot_version().is_some();
        self.resolve(ranked, &buckets, k, filter, slots).await
    }

    /// Turns ranked rows into hits: dedup, payload fetch, filter. With `slots`, payloads come
    /// from (and are kept in) the buckets' payload slots.
    async fn resolve(
        &self,
        ranked: Vec<Scored<RowRef>>,
        buckets: &[Arc<Bucket>],
        k: usize,
        filter: Option<&Filter>,
        slots: bool,
    ) -> Result<Vec<Hit>> {
        let mut seen = HashSet::new();
        let mut hits: Vec<Hit> = Vec::with_capacity(k);
        for s in ranked {
            let (bucket, row) = (&buckets[s.id.0 as usize], s.id.1 as usize);
            let id = bucket.id(row);
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
            let payload = match bucket.payload(row).filter(|_| slots) {
                Some(p) => p.clone(),
                None => {
                    let p = self
                        .data
                        .get(&DataKey::probe(id))
                        .await
                        .ctx(&self.domain, self.data.name())?
                        .unwrap_or(Value::Null);
                    if slots {
                        bucket.keep_payload(row, &p);
                    }
                    p
                }
            };
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
