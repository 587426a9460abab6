//! Bucket maintenance inside a writer's transaction: [`VectorStore::split_centroid`] (2-means
//! split of one bucket, SPEC §2.4), the automatic split bound, and
//! [`VectorStore::add_centroid`].
//!
//! Split bound (see [`crate::HealingPolicy`]): a bucket with `live` items splits when
//! `live > split_factor × min(mean bucket size, √total)` and `live ≥ min_split_size`. The `√total`
//! term lets a domain that started with too few centroids (a tiny first batch) grow towards the
//! `√n` buckets a rebuild would give, without waiting for the rebuild.
//!
//! An automatic split cuts the bucket into `⌈live / min(mean, √total)⌉` pieces (2 to 64) with
//! k-means, so a bucket that a sorted batch filled at once is split once into pieces of about
//! the target size instead of being halved batch after batch (each halving re-keys the whole
//! bucket). [`VectorStore::split_centroid`] always cuts in two. The old centroid id keeps one
//! piece, the others get new ids; every entry of the bucket is re-keyed (new distance) and its
//! data key re-pointed. Tombstones of the bucket are dropped physically on the way
//! (tombstone GC).
//!
//! Batch writes split *before* their rows reach `vecs`: [`VectorStore::upsert_batch`] works out
//! which touched buckets will be past the bound (`VectorStore::overfull`) and hands each one
//! its incoming rows (`Incoming`). The split then sees exactly the rows an eager split after
//! the insert would have read (same order: distance, then id), so it computes the same pieces,
//! but the incoming rows are written once, at their final key, instead of being inserted,
//! removed and inserted again.

use std::collections::HashMap;

use futures::StreamExt;
use sop_core::Direction;

use crate::cache::CentroidSet;
use crate::distance;
use crate::error::{Ctx, Result, VectorError};
use crate::kmeans::split_in_parts;
use crate::schema::{CentroidRecord, DataKey, Location, VecKey};
use crate::store::VectorStore;
use crate::stored::StoredVector;

impl VectorStore {
    /// The buckets of `touched` (in ascending order) past the split bound once the per-bucket
    /// `(live, deleted)` `deltas` are applied to the counts of `set`, each with the number of
    /// pieces to cut it into.
    pub(crate) fn overfull(
        &self,
        set: &CentroidSet,
        deltas: &HashMap<u32, (i64, i64)>,
    ) -> Vec<(u32, usize)> {
        let live = |row: usize| {
            let c = set.ids[row];
            let d = deltas.get(&c).map_or(0, |d| d.0);
            set.counts[row].saturating_add_signed(d)
        };
        let total: u64 = (0..set.ids.len()).map(live).sum();
        if set.ids.is_empty() || total == 0 {
            return Vec::new();
        }
        let total = total as f64;
        let mean = total / set.ids.len() as f64;
        let target = mean.min(total.sqrt());
        let bound = self.healing.split_factor * target;
        let mut touched: Vec<u32> = deltas.keys().copied().collect();
        touched.sort_unstable();
        touched
            .into_iter()
            .filter_map(|c| {
                let n = live(set.row_of(c)?);
                (n >= self.healing.min_split_size && n as f64 > bound)
                    .then(|| (c, split_parts(n, target)))
            })
            .collect()
    }

    /// Splits every bucket of `touched` past the split bound (the rows are already in `vecs`
    /// and counted): the eager reference the batch path is tested against.
    #[cfg(test)]
    pub(crate) async fn split_overfull(&self, touched: &[u32]) -> Result<()> {
        let set = self.centroid_set().await?;
        let deltas = touched.iter().map(|&c| (c, (0, 0))).collect();
        for (c, parts) in self.overfull(&set, &deltas) {
            self.split_into(c, parts, Vec::new()).await?;
        }
        Ok(())
    }

    /// Reads bucket `c`: live `(key, vector)` pairs and tombstone keys.
    async fn read_bucket(&self, c: u32) -> Result<(Vec<(VecKey, StoredVector)>, Vec<VecKey>)> {
        let mut live = Vec::new();
        let mut dead = Vec::new();
        let mut rows = std::pin::pin!(self.vecs.range(
            VecKey::bucket_start(c)..VecKey::bucket_start(c + 1),
            Direction::Forward
        ));
        while let Some(r) = rows.next().await {
            let (k, v) = r.ctx(&self.domain, self.vecs.name())?;
            if k.deleted {
                dead.push(k);
            } else {
                live.push((k, v));
            }
        }
        Ok((live, dead))
    }

    /// Splits bucket `c` in two with 2-means; returns the new centroid id, or `None` when the
    /// bucket has fewer than two live items.
    pub async fn split_centroid(&self, c: u32) -> Result<Option<u32>> {
        self.split_into(c, 2, Vec::new()).await
    }

    /// Splits bucket `c` into up to `parts` buckets with `parts`-means (fewer when it holds
    /// fewer live items): `c` keeps the first piece, the others get consecutive new ids.
    /// Returns the first new id, or `None` when the bucket has fewer than two live items.
    ///
    /// `incoming` are rows of this batch routed to `c` but not yet in `vecs` (their data
    /// entries are written and counted): they take part in the split as if they were stored,
    /// and are written once, at their final key.
    pub(crate) async fn split_into(
        &self,
        c: u32,
        parts: usize,
        incoming: Incoming,
    ) -> Result<Option<u32>> {
        self.ensure_writable().await?;
        let (d, cname) = (&self.domain, self.centroids.name());
        if self.centroids.get(&c).await.ctx(d, cname)?.is_none() {
            return Err(VectorError::invalid(
                "centroid",
                format!("no centroid {c} in `{d}`"),
            ));
        }
        let (stored, dead) = self.read_bucket(c).await?;
        for k in &dead {
            self.vecs.remove(k).await.ctx(d, self.vecs.name())?;
            self.data
                .remove(&DataKey::probe(k.id.as_str()))
                .await
                .ctx(d, self.data.name())?;
        }
        let live = merge_incoming(stored, incoming);
        if live.len() < 2 {
            for (k, v, in_vecs) in live {
                if !in_vecs {
                    self.vecs.add(k, v).await.ctx(d, self.vecs.name())?;
                }
            }
            return Ok(None);
        }
        let dim = self.config.dimensions;
        let mut flat: Vec<f32> = Vec::with_capacity(live.len() * dim);
        for (_, v, _) in &live {
            v.decode_into(&mut flat);
        }
        let parts = parts.clamp(2, live.len());
        let seed = self.seed ^ u64::from(c);
        let model = split_in_parts(&flat, dim, self.config.metric, seed, parts)?;
        let new_id = self.next_centroid_id().await?;
        let ids: Vec<u32> = std::iter::once(c)
            .chain((0..parts as u32 - 1).map(|i| new_id + i))
            .collect();
        let mut counts = vec![0u64; parts];
        for (((old, v, in_vecs), &label), row) in live
            .into_iter()
            .zip(&model.labels)
            .zip(flat.chunks_exact(dim))
        {
            let half = label as usize;
            counts[half] += 1;
            let centre = model.centroids.get(half);
            let loc = Location {
                centroid: ids[half],
                distance: distance::l2_squared(row, centre).sqrt(),
            };
            if in_vecs {
                self.vecs.remove(&old).await.ctx(d, self.vecs.name())?;
            }
            self.vecs
                .add(loc.key(old.id.clone(), false), v)
                .await
                .ctx(d, self.vecs.name())?;
            let key = DataKey::at(old.id.as_str(), loc, self.config.active_version);
            self.data.update_key(key).await.ctx(d, self.data.name())?;
        }
        for half in 0..parts {
            let rec = CentroidRecord {
                vector: model.centroids.get(half).to_vec(),
                count: counts[half],
                deleted: 0,
                epoch: rand::random(),
            };
            self.centroids.upsert(ids[half], rec).await.ctx(d, cname)?;
        }
        Ok(Some(new_id))
    }

    /// One past the largest centroid id.
    async fn next_centroid_id(&self) -> Result<u32> {
        let name = self.centroids.name();
        if !self.centroids.last().await.ctx(&self.domain, name)? {
            return Ok(0);
        }
        let last = self.centroids.current_key().await.ctx(&self.domain, name)?;
        Ok(last.map_or(0, |k| k + 1))
    }

    /// Adds an empty centroid at `vector`; new items near it are routed to it. Existing items
    /// stay in their buckets until the next rebuild. Returns the new centroid id.
    pub async fn add_centroid(&self, vector: &[f32]) -> Result<u32> {
        self.ensure_writable().await?;
        let v = crate::validate::prepare_vector(
            &self.domain,
            "centroid",
            vector,
            self.config.dimensions,
            self.config.metric,
        )?;
        let id = self.next_centroid_id().await?;
        let rec = CentroidRecord {
            vector: v,
            count: 0,
            deleted: 0,
            epoch: rand::random(),
        };
        self.centroids
            .add(id, rec)
            .await
            .ctx(&self.domain, self.centroids.name())?;
        Ok(id)
    }

    /// The centroid vectors of the active version (codebook rows).
    pub async fn centroid_vectors(&self) -> Result<Vec<Vec<f32>>> {
        let set = self.centroid_set().await?;
        Ok(match &set.codebook {
            Some(cb) => (0..cb.len()).map(|j| cb.get(j).to_vec()).collect(),
            None => Vec::new(),
        })
    }
}

/// Rows of a batch routed to one bucket and not yet written to `vecs`: key at the bucket and
/// vector.
pub(crate) type Incoming = Vec<(VecKey, StoredVector)>;

/// The live rows of a bucket in key order (distance, then id), each marked with whether it is
/// stored in `vecs` already: `stored` (in key order, from the tree) merged with `incoming`.
fn merge_incoming(
    stored: Vec<(VecKey, StoredVector)>,
    mut incoming: Incoming,
) -> Vec<(VecKey, StoredVector, bool)> {
    incoming.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(stored.len() + incoming.len());
    let mut new = incoming.into_iter().peekable();
    for (k, v) in stored {
        while let Some((nk, nv)) = new.next_if(|(nk, _)| *nk < k) {
            out.push((nk, nv, false));
        }
        out.push((k, v, true));
    }
    out.extend(new.map(|(k, v)| (k, v, false)));
    out
}

/// Pieces an overfull bucket of `live` items is split into: enough for pieces of about
/// `target` items (the split bound divided by the split factor), at least 2 and at most
/// [`MAX_SPLIT_PARTS`].
fn split_parts(live: u64, target: f64) -> usize {
    let want = (live as f64 / target.max(1.0)).ceil() as usize;
    want.clamp(2, MAX_SPLIT_PARTS)
}

/// Upper bound of the pieces of one split (bounds the k-means cost inside a writer's batch).
const MAX_SPLIT_PARTS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_parts_aim_at_the_target_size_within_bounds() {
        assert_eq!(split_parts(300, 100.0), 3);
        assert_eq!(split_parts(301, 100.0), 4);
        assert_eq!(split_parts(65, 100.0), 2);
        assert_eq!(split_parts(1_000_000, 10.0), MAX_SPLIT_PARTS);
        assert_eq!(split_parts(50, 0.0), MAX_SPLIT_PARTS.min(50));
    }
}
