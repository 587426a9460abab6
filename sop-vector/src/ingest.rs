//! Writes: [`VectorStore::upsert`] and the batch fast path [`VectorStore::upsert_batch`].
//!
//! A batch is validated completely before anything is written. It is then assigned to its
//! nearest centroids in one multi-threaded pass ([`crate::Centroids::assign`]); when the domain
//! has no centroid yet, k-means (k-means++ then Lloyd, `k = √batch`) is trained on the batch
//! first. The `data` entries are written in id order, then the `vecs` entries in key order, so
//! consecutive inserts land in the same leaves. On a unique `data` tree (layout 2) a new item
//! costs one `data` insert (existence checked in the same descent) and one `vecs` insert; an
//! existing id is *moved* (its old `vecs` entry removed). Bucket counts are updated once per
//! touched bucket. Touched buckets that the batch pushes past the split bound of the
//! [`crate::HealingPolicy`] are split in the same transaction, *before* the batch's rows reach
//! `vecs`: their rows are written once, at the key the split gives them (see [`crate::split`]).

use std::collections::HashMap;

use serde_json::Value;

use crate::error::{Ctx, Result};
use crate::kmeans::{train, KMeansConfig};
use crate::schema::{CentroidRecord, DataKey, Location, VecKey};
use crate::split::Incoming;
use crate::store::VectorStore;
use crate::stored::StoredVector;
use crate::validate::prepare_into;
use crate::Metric;

/// An item of a batch with its location and prepared vector.
struct Row {
    item: NewItem,
    loc: Location,
    vector: StoredVector,
}

/// An item to upsert.
#[derive(Clone, Debug, PartialEq)]
pub struct NewItem {
    /// Item id (dedup key).
    pub id: String,
    /// The raw vector (normalised on write for cosine).
    pub vector: Vec<f32>,
    /// Payload JSON (`Null` for none).
    pub payload: Value,
}

impl NewItem {
    /// An item without payload.
    pub fn new(id: impl Into<String>, vector: Vec<f32>) -> Self {
        Self {
            id: id.into(),
            vector,
            payload: Value::Null,
        }
    }

    /// Sets the payload.
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
}

/// The first 8 bytes of an id as a big-endian number: orders like the id itself, except that
/// ids sharing those bytes compare equal (then the whole ids decide).
pub(crate) fn id_prefix(id: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = id.len().min(8);
    b[..n].copy_from_slice(&id.as_bytes()[..n]);
    u64::from_be_bytes(b)
}

/// Euclidean distance to the centroid from a centroid score (see [`crate::Centroids`]).
pub(crate) fn distance_from_score(metric: Metric, score: f32) -> f32 {
    if metric.is_spherical() {
        (2.0 - 2.0 * score).max(0.0).sqrt()
    } else {
        (-score).max(0.0).sqrt()
    }
}

impl VectorStore {
    /// Inserts or moves one item. Prefer [`VectorStore::upsert_batch`] for many items.
    pub async fn upsert(&self, id: &str, vector: &[f32], payload: Value) -> Result<()> {
        self.upsert_batch(vec![NewItem {
            id: id.to_string(),
            vector: vector.to_vec(),
            payload,
        }])
        .await
    }

    /// Inserts or moves a batch of items (the last occurrence of a repeated id wins).
    /// Nothing is written when any vector is invalid (wrong length, NaN, infinity, zero for
    /// cosine) or the domain is locked by a rebuild.
    pub async fn upsert_batch(&self, items: Vec<NewItem>) -> Result<()> {
        let dim = self.config.dimensions;
        let metric = self.config.metric;
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            last.insert(it.id.as_str(), i);
        }
        let mut flat = Vec::with_capacity(last.len() * dim);
        let mut order = Vec::with_capacity(last.len());
        for (i, it) in items.iter().enumerate() {
            if last.get(it.id.as_str()) == Some(&i) {
                prepare_into(&self.domain, "vector", &it.vector, dim, metric, &mut flat)?;
                order.push(i);
            }
        }
        if order.is_empty() {
            return Ok(());
        }
        self.ensure_writable().await?;
        let mut set = self.centroid_set().await?;
        if set.codebook.is_none() {
            self.train_initial(&flat).await?;
            set = self.centroid_set().await?;
        }
        let Some(codebook) = set.codebook.as_ref() else {
            return Ok(());
        };
        let asg = codebook.assign(&flat, self.threads);
        let version = self.config.active_version;
        let mut rows: Vec<Row> = Vec::with_capacity(order.len());
        let mut items: Vec<Option<NewItem>> = items.into_iter().map(Some).collect();
        for (row, &i) in order.iter().enumerate() {
            if let Some(mut item) = items[i].take() {
                item.vector = Vec::new();
                rows.push(Row {
                    item,
                    loc: Location {
                        centroid: set.ids[asg.labels[row] as usize],
                        distance: distance_from_score(metric, asg.scores[row]),
                    },
                    vector: StoredVector::new(&flat[row * dim..(row + 1) * dim]),
                });
            }
        }
        drop(flat);
        let mut deltas: HashMap<u32, (i64, i64)> = HashMap::new();
        // Data entries in id order, then vectors in key order: neighbouring inserts land in
        // the same leaves.
        let mut by_id: Vec<(u64, usize)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (id_prefix(&r.item.id), i))
            .collect();
        by_id.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| rows[a.1].item.id.cmp(&rows[b.1].item.id))
        });
        for (_, i) in by_id {
            let row = &mut rows[i];
            let payload = std::mem::take(&mut row.item.payload);
            self.put_data(&row.item.id, row.loc, version, payload, &mut deltas)
                .await?;
        }
        for row in &rows {
            deltas.entry(row.loc.centroid).or_default().0 += 1;
        }
        // Buckets this batch pushes past the split bound are split before their rows reach
        // `vecs`, so those rows are written once, at their final key.
        let plan = if self.healing.auto_split {
            self.overfull(&set, &deltas)
        } else {
            Vec::new()
        };
        let mut incoming: HashMap<u32, Incoming> =
            plan.iter().map(|&(c, _)| (c, Vec::new())).collect();
        let mut direct: Vec<(VecKey, StoredVector)> = Vec::with_capacity(rows.len());
        for row in rows {
            let key = row.loc.key(row.item.id, false);
            match incoming.get_mut(&key.centroid) {
                Some(bucket) => bucket.push((key, row.vector)),
                None => direct.push((key, row.vector)),
            }
        }
        direct.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let vname = self.vecs.name();
        for (key, vector) in direct {
            self.vecs.add(key, vector).await.ctx(&self.domain, vname)?;
        }
        self.adjust_counts(&deltas).await?;
        for (c, parts) in plan {
            let rows = incoming.remove(&c).unwrap_or_default();
            self.split_into(c, parts, rows).await?;
        }
        Ok(())
    }

    /// Writes the data entry of an upserted item at `loc`. An existing item is *moved*: its
    /// old `vecs` entry is removed and its bucket counts adjusted in `deltas`.
    async fn put_data(
        &self,
        id: &str,
        loc: Location,
        version: u32,
        payload: Value,
        deltas: &mut HashMap<u32, (i64, i64)>,
    ) -> Result<()> {
        let (d, dname) = (&self.domain, self.data.name());
        // A unique `data` tree (layout 2) checks and inserts in one descent; the payload is
        // kept for the rare move (cheap for the common `Null`).
        let payload = if self.data.options().unique {
            let keep = (!payload.is_null()).then(|| payload.clone());
            let key = DataKey::at(id, loc, version);
            if self.data.add(key, payload).await.ctx(d, dname)? {
                return Ok(());
            }
            keep.unwrap_or(Value::Null)
        } else {
            payload
        };
        let key = DataKey::at(id, loc, version);
        match self.data_key(id).await? {
            Some(old) => {
                let old_loc = self.location(&old)?;
                self.vecs
                    .remove(&old_loc.key(id, old.deleted))
                    .await
                    .ctx(d, self.vecs.name())?;
                let e = deltas.entry(old_loc.centroid).or_default();
                if old.deleted {
                    e.1 -= 1;
                } else {
                    e.0 -= 1;
                }
                self.data.upsert(key, payload).await.ctx(d, dname)?;
            }
            None => {
                self.data.add(key, payload).await.ctx(d, dname)?;
            }
        }
        Ok(())
    }

    /// Trains the first codebook on a batch (`k = √n`) and stores it.
    async fn train_initial(&self, flat: &[f32]) -> Result<()> {
        let dim = self.config.dimensions;
        let n = flat.len() / dim;
        let k = crate::config::centroids_for(n);
        let cfg = KMeansConfig::new(k)
            .metric(self.config.metric)
            .seed(self.seed)
            .threads(self.threads);
        let model = train(flat, dim, &cfg)?;
        for j in 0..model.centroids.len() {
            let rec = CentroidRecord {
                vector: model.centroids.get(j).to_vec(),
                count: 0,
                deleted: 0,
                epoch: rand::random(),
            };
            self.centroids
                .add(j as u32, rec)
                .await
                .ctx(&self.domain, self.centroids.name())?;
        }
        Ok(())
    }
}
