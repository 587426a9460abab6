//! The versioned rebuild, [`optimize`] (SPEC §2.3), from version `N` to `N+1`:
//!
//! 0. take the rebuild lock ([`crate::lock`]); a stale lock of a crashed run is taken over and
//!    every versioned store other than `N` (its half-built `N+1`) is dropped;
//! 1. walk `vecs_vN` (keys only, a `NoCheck` reader) and number live items densely `0..n-1`
//!    into `lku_v{N+1}`; tombstoned items are removed from `data`;
//! 2. draw `min(sample_size, n)` **distinct uniform** sequence numbers and fetch their vectors
//!    through the Lookup tree (`lku → data → vecs`): a uniform sample whatever the insertion
//!    order, so sorted or skewed input still yields centroids for every cluster;
//! 3. k-means++ then Lloyd (`iterations`, tolerance 1e-5) on the sample → `centroids_v{N+1}`;
//! 4. stream `vecs_vN` again and migrate every live vector to `vecs_v{N+1}` (tombstones are
//!    not copied), recording the new location in the data keys' `next_*` fields — readers of
//!    version `N` still resolve the old location;
//! 5. switch `active_version` and release the lock in one short transaction, then drop the
//!    version-`N` stores.
//!
//! Every phase runs in its own transactions of at most `batch` items, so no transaction holds
//! a million reads. Writers are refused for the whole run; readers are never blocked.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde_json::Value;
use sop_core::{Btree, Database, Direction, Transaction, TransactionMode};

use crate::cache;
use crate::centroids::Centroids;
use crate::config::centroids_for;
use crate::error::{Ctx, Result, VectorError};
use crate::item_id::ItemId;
use crate::kmeans::{train, KMeansConfig};
use crate::lock::{drop_other_versions, heartbeat, lock_domain, switch_version, unlock_domain};
use crate::schema::{CentroidRecord, DataKey, DomainConfig, Location, OrdF32, StoreNames, VecKey};
use crate::store::{find_data_key, options, LOCK_TTL_MS};
use crate::stored::StoredVector;

/// Parameters of [`optimize`].
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildOptions {
    /// Maximum sample drawn through the Lookup tree (50,000).
    pub sample_size: usize,
    /// Maximum Lloyd iterations (10).
    pub iterations: usize,
    /// Number of centroids (`√n` when `None`).
    pub centroids: Option<usize>,
    /// Items per transaction (20,000).
    pub batch: usize,
    /// Age after which another owner's lock counts as crashed.
    pub lock_ttl: Duration,
    /// k-means seed.
    pub seed: u64,
    /// Threads for k-means and assignment.
    pub threads: usize,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            sample_size: 50_000,
            iterations: 10,
            centroids: None,
            batch: 20_000,
            lock_ttl: Duration::from_millis(LOCK_TTL_MS),
            seed: 7,
            threads: crate::parallel::default_threads(),
        }
    }
}

/// What [`optimize`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildReport {
    /// The new active version.
    pub version: u32,
    /// Live items numbered and migrated.
    pub items: u64,
    /// Tombstones removed physically.
    pub tombstones_removed: u64,
    /// Centroids of the new version.
    pub centroids: usize,
    /// Vectors in the k-means sample.
    pub sample: usize,
    /// Whether a crashed rebuild was cleaned up first.
    pub recovered: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Wall-clock seconds per phase, in order: `walk`, `number` (the Lookup tree), `sample`
    /// (tombstone removal and the sample), `train`, `migrate`, `switch`.
    pub phases: Vec<(&'static str, f64)>,
}

/// A rebuild run in progress.
struct Run<'a> {
    db: &'a Database,
    domain: &'a str,
    owner: String,
    names: StoreNames,
    cfg: DomainConfig,
    opts: &'a RebuildOptions,
    beat: Instant,
    phases: Vec<(&'static str, f64)>,
    phase_start: Instant,
}

async fn begin(db: &Database, domain: &str, mode: TransactionMode) -> Result<Transaction> {
    db.begin(mode).await.ctx(domain, "begin")
}

/// Rebuilds domain `domain` into a new version (see the module docs).
pub async fn optimize(db: &Database, domain: &str, opts: &RebuildOptions) -> Result<RebuildReport> {
    let started = Instant::now();
    let owner = sop_core::Uuid::new_v4().to_string();
    let ttl = opts.lock_ttl.as_millis() as u64;
    let grant = lock_domain(db, domain, &owner, ttl).await?;
    let mut run = Run {
        db,
        domain,
        owner,
        names: StoreNames::new(domain),
        cfg: grant.config,
        opts,
        beat: Instant::now(),
        phases: Vec::new(),
        phase_start: Instant::now(),
    };
    let result = run.execute().await;
    match result {
        Ok((items, tombstones_removed, centroids, sample)) => Ok(RebuildReport {
            version: run.cfg.active_version + 1,
            items,
            tombstones_removed,
            centroids,
            sample,
            recovered: grant.recovered,
            seconds: started.elapsed().as_secs_f64(),
            phases: std::mem::take(&mut run.phases),
        }),
        Err(e) => {
            // Best effort: leave the domain writable and without half-built stores.
            let _ = drop_other_versions(db, domain, run.cfg.active_version).await;
            let _ = unlock_domain(db, domain, &run.owner).await;
            Err(e)
        }
    }
}

impl Run<'_> {
    fn source_version(&self) -> u32 {
        self.cfg.active_version
    }

    fn target_version(&self) -> u32 {
        self.cfg.active_version + 1
    }

    /// Records the seconds since the previous mark under `phase`.
    fn mark(&mut self, phase: &'static str) {
        self.phases
            .push((phase, self.phase_start.elapsed().as_secs_f64()));
        self.phase_start = Instant::now();
    }

    async fn execute(&mut self) -> Result<(u64, u64, usize, usize)> {
        drop_other_versions(self.db, self.domain, self.source_version()).await?;
        let (live, dead) = self.walk().await?;
        self.mark("walk");
        self.number(&live).await?;
        self.mark("number");
        let removed = self.remove_tombstones(&dead).await?;
        let sample = self.sample(live.len()).await?;
        self.mark("sample");
        let dim = self.cfg.dimensions;
        let m = sample.len() / dim;
        let model = if m == 0 {
            None
        } else {
            let k = self
                .opts
                .centroids
                .unwrap_or(centroids_for(live.len()))
                .clamp(1, m);
            let cfg = KMeansConfig::new(k)
                .metric(self.cfg.metric)
                .seed(self.opts.seed)
                .threads(self.opts.threads)
                .max_iterations(self.opts.iterations);
            Some(train(&sample, dim, &cfg)?.centroids)
        };
        self.mark("train");
        let counts = match &model {
            Some(cb) => self.migrate(cb).await?,
            None => Vec::new(),
        };
        self.mark("migrate");
        self.write_centroids(model.as_ref(), &counts).await?;
        let k = counts.len();
        let new = switch_version(
            self.db,
            self.domain,
            &self.owner,
            live.len() as u64,
            k as u64,
        )
        .await?;
        drop_other_versions(self.db, self.domain, new).await?;
        cache::forget_version(&self.cfg.uuid, self.source_version());
        self.mark("switch");
        Ok((live.len() as u64, removed, k, m))
    }

    async fn beat(&mut self) -> Result<()> {
        if self.beat.elapsed() > Duration::from_secs(2) {
            heartbeat(self.db, self.domain, &self.owner).await?;
            self.beat = Instant::now();
        }
        Ok(())
    }

    /// Step 1a: live ids (scan order) and tombstoned ids of version N.
    async fn walk(&self) -> Result<(Vec<ItemId>, Vec<ItemId>)> {
        let tx = begin(self.db, self.domain, TransactionMode::NoCheck).await?;
        let name = self.names.vecs(self.source_version());
        let vecs: Btree<VecKey, StoredVector> =
            tx.open_btree(&name).await.ctx(self.domain, &name)?;
        let (mut live, mut dead) = (Vec::new(), Vec::new());
        let mut keys = std::pin::pin!(vecs.keys(.., Direction::Forward));
        while let Some(k) = keys.next().await {
            let k = k.ctx(self.domain, &name)?;
            if k.deleted {
                dead.push(k.id);
            } else {
                live.push(k.id);
            }
        }
        Ok((live, dead))
    }

    /// Step 1b: the Lookup tree `lku_v{N+1}`: `i → live[i]`.
    async fn number(&mut self, live: &[ItemId]) -> Result<()> {
        let name = self.names.lku(self.target_version());
        for (c, chunk) in live.chunks(self.opts.batch.max(1)).enumerate() {
            let tx = begin(self.db, self.domain, TransactionMode::ForWriting).await?;
            let lku: Btree<u64, String> = tx
                .new_btree(&name, options("lku"))
                .await
                .ctx(self.domain, &name)?;
            let base = (c * self.opts.batch.max(1)) as u64;
            for (i, id) in chunk.iter().enumerate() {
                lku.add(base + i as u64, id.to_string())
                    .await
                    .ctx(self.domain, &name)?;
            }
            tx.commit().await.ctx(self.domain, &name)?;
            self.beat().await?;
        }
        Ok(())
    }

    /// Step 1c: removes the data entries of tombstoned items (still tombstoned).
    async fn remove_tombstones(&mut self, dead: &[ItemId]) -> Result<u64> {
        let name = self.names.data();
        let mut removed = 0;
        for chunk in dead.chunks(self.opts.batch.max(1)) {
            let tx = begin(self.db, self.domain, TransactionMode::ForWriting).await?;
            let data: Btree<DataKey, Value> = tx.open_btree(&name).await.ctx(self.domain, &name)?;
            for id in chunk {
                if find_data_key(&data, self.domain, id)
                    .await?
                    .is_some_and(|k| k.deleted)
                {
                    data.remove_current().await.ctx(self.domain, &name)?;
                    removed += 1;
                }
            }
            tx.commit().await.ctx(self.domain, &name)?;
            self.beat().await?;
        }
        Ok(removed)
    }

    /// Step 2: distinct uniform sequence numbers → vectors, through the Lookup tree.
    async fn sample(&self, n: usize) -> Result<Vec<f32>> {
        let m = self.opts.sample_size.min(n);
        let mut rng = SmallRng::seed_from_u64(self.opts.seed);
        let mut seqs = rand::seq::index::sample(&mut rng, n, m).into_vec();
        seqs.sort_unstable();
        let tx = begin(self.db, self.domain, TransactionMode::NoCheck).await?;
        let d = self.domain;
        let (lname, vname) = (
            self.names.lku(self.target_version()),
            self.names.vecs(self.source_version()),
        );
        let data: Btree<DataKey, Value> = tx.open_btree(&self.names.data()).await.ctx(d, "data")?;
        let vecs: Btree<VecKey, StoredVector> = tx.open_btree(&vname).await.ctx(d, &vname)?;
        let mut out = Vec::with_capacity(m * self.cfg.dimensions);
        if m == 0 {
            return Ok(out);
        }
        let lku: Btree<u64, String> = tx.open_btree(&lname).await.ctx(d, &lname)?;
        for s in seqs {
            let inconsistent = |what: &str| VectorError::Inconsistent {
                domain: d.to_string(),
                reason: format!("lookup entry {s}: {what}"),
            };
            let id = lku
                .get(&(s as u64))
                .await
                .ctx(d, &lname)?
                .ok_or_else(|| inconsistent("missing"))?;
            let key = find_data_key(&data, d, &id)
                .await?
                .ok_or_else(|| inconsistent("no data"))?;
            let loc = key
                .location(self.source_version())
                .ok_or_else(|| inconsistent("no location"))?;
            let v = vecs.get(&loc.key(&id, false)).await.ctx(d, &vname)?;
            v.ok_or_else(|| inconsistent("no vector"))?
                .decode_into(&mut out);
        }
        Ok(out)
    }

    /// Step 4: migrates live vectors; returns the bucket sizes of the new codebook.
    async fn migrate(&mut self, codebook: &Centroids) -> Result<Vec<u64>> {
        let tx = begin(self.db, self.domain, TransactionMode::NoCheck).await?;
        let name = self.names.vecs(self.source_version());
        let vecs: Btree<VecKey, StoredVector> =
            tx.open_btree(&name).await.ctx(self.domain, &name)?;
        let mut counts = vec![0u64; codebook.len()];
        let mut batch: Vec<(VecKey, StoredVector)> = Vec::with_capacity(self.opts.batch);
        let mut rows = std::pin::pin!(vecs.range(.., Direction::Forward));
        while let Some(r) = rows.next().await {
            let (k, v) = r.ctx(self.domain, &name)?;
            if !k.deleted {
                batch.push((k, v));
            }
            if batch.len() >= self.opts.batch.max(1) {
                self.flush(codebook, std::mem::take(&mut batch), &mut counts)
                    .await?;
            }
        }
        self.flush(codebook, batch, &mut counts).await?;
        Ok(counts)
    }

    async fn flush(
        &mut self,
        codebook: &Centroids,
        mut batch: Vec<(VecKey, StoredVector)>,
        counts: &mut [u64],
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut flat: Vec<f32> = Vec::with_capacity(batch.len() * self.cfg.dimensions);
        for (_, v) in &batch {
            v.decode_into(&mut flat);
        }
        let asg = codebook.assign(&flat, self.opts.threads);
        let metric = self.cfg.metric;
        let (old, new, d) = (self.source_version(), self.target_version(), self.domain);
        let tx = begin(self.db, d, TransactionMode::ForWriting).await?;
        let (vname, dname) = (self.names.vecs(new), self.names.data());
        let vecs: Btree<VecKey, StoredVector> =
            tx.new_btree(&vname, options("vecs")).await.ctx(d, &vname)?;
        let data: Btree<DataKey, Value> = tx.open_btree(&dname).await.ctx(d, &dname)?;
        let mut moves: Vec<(VecKey, Location, StoredVector)> = batch
            .drain(..)
            .enumerate()
            .map(|(row, (k, v))| {
                let label = asg.labels[row];
                counts[label as usize] += 1;
                let next = Location {
                    centroid: label,
                    distance: crate::ingest::distance_from_score(metric, asg.scores[row]),
                };
                (k, next, v)
            })
            .collect();
        // New vectors in key order, then the data keys in id order (neighbouring writes share
        // leaves). An item's location in version N is its `vecs_vN` key, so its new data key
        // is known without reading it.
        moves.sort_unstable_by(|a, b| {
            (a.1.centroid, OrdF32(a.1.distance))
                .cmp(&(b.1.centroid, OrdF32(b.1.distance)))
                .then_with(|| a.0.id.cmp(&b.0.id))
        });
        let mut keys = Vec::with_capacity(moves.len());
        for (k, next, v) in moves {
            vecs.add(next.key(&k.id, false), v).await.ctx(d, &vname)?;
            let cur = Location {
                centroid: k.centroid,
                distance: k.distance.0,
            };
            keys.push(DataKey::migrating(k.id, cur, old, next, new));
        }
        keys.sort_unstable_by(|a, b| {
            crate::ingest::id_prefix(&a.id)
                .cmp(&crate::ingest::id_prefix(&b.id))
                .then_with(|| a.id.cmp(&b.id))
        });
        for key in keys {
            let id = key.id.clone();
            if !data.update_key(key).await.ctx(d, &dname)? {
                return Err(VectorError::Inconsistent {
                    domain: d.to_string(),
                    reason: format!("item `{id}` has a vector but no data entry"),
                });
            }
        }
        tx.commit().await.ctx(d, &vname)?;
        self.beat().await
    }

    /// Step 3 (stored): `centroids_v{N+1}` with the migrated counts; makes sure every store of
    /// the new version exists.
    async fn write_centroids(&self, codebook: Option<&Centroids>, counts: &[u64]) -> Result<()> {
        let d = self.domain;
        let tx = begin(self.db, d, TransactionMode::ForWriting).await?;
        let new = self.target_version();
        let name = self.names.centroids(new);
        let tree: Btree<u32, CentroidRecord> = tx
            .new_btree(&name, options("centroids"))
            .await
            .ctx(d, &name)?;
        let vname = self.names.vecs(new);
        let _: Btree<VecKey, StoredVector> =
            tx.new_btree(&vname, options("vecs")).await.ctx(d, &vname)?;
        let lname = self.names.lku(new);
        let _: Btree<u64, String> = tx.new_btree(&lname, options("lku")).await.ctx(d, &lname)?;
        if let Some(cb) = codebook {
            for (j, &count) in counts.iter().enumerate() {
                let rec = CentroidRecord {
                    vector: cb.get(j).to_vec(),
                    count,
                    deleted: 0,
                    epoch: rand::random(),
                };
                tree.add(j as u32, rec).await.ctx(d, &name)?;
            }
        }
        tx.commit().await.ctx(d, &name)
    }
}
