//! [`ModelRegistry`]: the handle, its stores, and saving, loading, listing
//! and deleting model versions.
//!
//! A registry named `r` is three `sop-core` B-trees opened in the caller's
//! transaction: `r.models` ([`ModelKey`] with ride-on summary → MessagePack
//! body and metadata, medium placement), `r.aliases` and `r.chunks` (artifacts, big
//! placement). Every change commits or rolls back with that transaction,
//! together with whatever else it wrote.
//!
//! Invariants: a stored category, name, version or alias is 1..=256 bytes; a
//! version's summary lists exactly the aliases pointing at it; its artifact
//! chunks exist exactly for `0..summary.artifact.chunks`. Listings only scan
//! keys, never model bodies.

use std::ops::Bound;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sop_core::{
    Btree, Direction, SopError, StoreOptions, Transaction, TransactionMode, ValuePlacement,
};

use crate::error::{ModelError, ModelId, Result};
use crate::keys::{AliasKey, Bytes, ChunkKey, ModelKey, ModelSummary};
use crate::record::{ModelInfo, ModelMetadata, ModelRecord, SaveOptions};

/// Default artifact chunk size: 1 MiB.
pub const DEFAULT_CHUNK_SIZE: usize = 1 << 20;
/// Longest category, name, version or alias, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;

/// A versioned model registry living in the caller's transaction.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use sop_core::{Database, DatabaseOptions, TransactionMode};
/// use sop_models::{ModelMetadata, ModelRegistry, SaveOptions};
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(DatabaseOptions::new(dir.path())).await?;
/// let tx = db.begin(TransactionMode::ForWriting).await?;
/// let models = ModelRegistry::open(&tx, "models").await?;
/// models.save("vision", "resnet", "1.9.0", &vec![0.1f32, 0.2]).await?;
/// let meta = ModelMetadata::new().metric("accuracy", 0.93).tag("resnet");
/// models
///     .save_with("vision", "resnet", "1.10.0", &vec![0.3f32], SaveOptions::new().metadata(meta))
///     .await?;
/// models.set_alias("vision", "resnet", "production", "1.10.0").await?;
/// tx.commit().await?;
///
/// let tx = db.begin(TransactionMode::ForReading).await?;
/// let models = ModelRegistry::open(&tx, "models").await?;
/// let latest = models.latest("vision", "resnet").await?.expect("a version");
/// assert_eq!(latest.id.version, "1.10.0"); // semver order, not lexical
/// let weights: Vec<f32> = models.get_by_alias("vision", "resnet", "production").await?;
/// assert_eq!(weights, vec![0.3]);
/// assert_eq!(models.list("vision").await?, vec!["resnet".to_string()]);
/// tx.commit().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct ModelRegistry {
    pub(crate) name: String,
    pub(crate) models: Btree<ModelKey, ModelRecord>,
    pub(crate) aliases: Btree<AliasKey, String>,
    pub(crate) chunks: Btree<ChunkKey, Bytes>,
    pub(crate) chunk_size: usize,
}

impl ModelRegistry {
    /// Opens the registry `name` in `tx`, creating its stores when `tx` is
    /// `ForWriting`. In a read-only transaction the registry must have been
    /// created and committed before (otherwise `sop-core` reports
    /// `StoreNotFound` and rolls the transaction back).
    pub async fn open(tx: &Transaction, name: &str) -> Result<ModelRegistry> {
        let writing = tx.mode() == TransactionMode::ForWriting;
        let models = open_store(tx, name, "models", writing, 256, ValuePlacement::Medium).await?;
        let aliases = open_store(tx, name, "aliases", writing, 128, ValuePlacement::Small).await?;
        let chunks = open_store(tx, name, "chunks", writing, 256, ValuePlacement::Big).await?;
        Ok(ModelRegistry {
            name: name.to_string(),
            models,
            aliases,
            chunks,
            chunk_size: DEFAULT_CHUNK_SIZE,
        })
    }

    /// Sets the chunk size used by later [`ModelRegistry::put_artifact`]
    /// calls on this handle (stored per artifact, so readers need not know).
    /// Clamped to `1..=64 MiB`.
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.clamp(1, 64 << 20);
        self
    }

    /// The registry's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The transaction this registry lives in.
    pub fn transaction(&self) -> &Transaction {
        self.models.transaction()
    }

    /// Saves a new model version (MessagePack-encoded); saving an existing version
    /// is [`ModelError::AlreadyExists`] (use [`ModelRegistry::save_with`]
    /// and [`SaveOptions::overwrite`] to replace it).
    pub async fn save<M: Serialize + ?Sized>(
        &self,
        category: &str,
        name: &str,
        version: &str,
        model: &M,
    ) -> Result<ModelInfo> {
        self.save_with(category, name, version, model, SaveOptions::new())
            .await
    }

    /// Saves a model version with metadata and the overwrite choice. An
    /// overwrite keeps the created time and aliases and drops the artifact.
    pub async fn save_with<M: Serialize + ?Sized>(
        &self,
        category: &str,
        name: &str,
        version: &str,
        model: &M,
        options: SaveOptions,
    ) -> Result<ModelInfo> {
        let id = ModelId::new(category, name, version);
        check_field(&id, "category", category)?;
        check_field(&id, "name", name)?;
        check_field(&id, "version", version)?;
        let body = rmp_serde::to_vec_named(model).map_err(|e| ModelError::Codec {
            model: id.clone(),
            action: "encode",
            source: Box::new(e),
        })?;
        let now = now_ms();
        let summary = match self.find_key(&id, "save").await? {
            Some(_) if !options.overwrite => return Err(ModelError::AlreadyExists { model: id }),
            Some(old) => {
                self.remove_chunks(&id, &old.summary).await?;
                ModelSummary {
                    created_ms: old.summary.created_ms,
                    aliases: old.summary.aliases,
                    ..ModelSummary::default()
                }
            }
            None => ModelSummary {
                created_ms: now,
                ..ModelSummary::default()
            },
        };
        let mut key = ModelKey::probe(category, name, version);
        key.summary = ModelSummary {
            updated_ms: now,
            body_bytes: body.len() as u64,
            ..summary
        };
        let record = ModelRecord {
            body: Bytes(body),
            metadata: options.metadata,
        };
        self.models
            .upsert(key.clone(), record)
            .await
            .map_err(self.store_err("save", &id))?;
        Ok(key.into())
    }

    /// Loads a model version; a missing one is [`ModelError::NotFound`].
    pub async fn get<T: DeserializeOwned>(
        &self,
        category: &str,
        name: &str,
        version: &str,
    ) -> Result<T> {
        let id = ModelId::new(category, name, version);
        let record = self.record(&id, "get").await?;
        rmp_serde::from_slice(&record.body.0).map_err(|e| ModelError::Codec {
            model: id,
            action: "decode",
            source: Box::new(e),
        })
    }

    /// Loads the latest version (see [`ModelRegistry::latest`]) with its info.
    pub async fn get_latest<T: DeserializeOwned>(
        &self,
        category: &str,
        name: &str,
    ) -> Result<(ModelInfo, T)> {
        let Some(info) = self.latest(category, name).await? else {
            return Err(ModelError::NoVersions {
                model: ModelId::model(category, name),
            });
        };
        let model = self.get(category, name, &info.id.version).await?;
        Ok((info, model))
    }

    /// The metadata of a model version.
    pub async fn metadata(
        &self,
        category: &str,
        name: &str,
        version: &str,
    ) -> Result<ModelMetadata> {
        let id = ModelId::new(category, name, version);
        Ok(self.record(&id, "metadata").await?.metadata)
    }

    /// Replaces the metadata of an existing model version (the body stays).
    pub async fn set_metadata(
        &self,
        category: &str,
        name: &str,
        version: &str,
        metadata: ModelMetadata,
    ) -> Result<()> {
        let id = ModelId::new(category, name, version);
        let mut key = self.require_key(&id, "set_metadata").await?;
        let mut record = self.record(&id, "set_metadata").await?;
        record.metadata = metadata;
        key.summary.updated_ms = now_ms();
        self.models
            .upsert(key, record)
            .await
            .map_err(self.store_err("set_metadata", &id))
    }

    /// The summary of a model version (no body load); `None` when missing.
    pub async fn info(
        &self,
        category: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<ModelInfo>> {
        let id = ModelId::new(category, name, version);
        Ok(self.find_key(&id, "info").await?.map(ModelInfo::from))
    }

    /// The greatest version of a model: semver precedence among versions
    /// that parse as semver (`1.10.0 > 1.9.0`, pre-releases below their
    /// release), which rank above non-semver versions (ordered lexically).
    pub async fn latest(&self, category: &str, name: &str) -> Result<Option<ModelInfo>> {
        let (lo, hi) = model_bounds(category, name);
        let id = ModelId::model(category, name);
        let keys = self.scan(lo, hi, Direction::Backward, 1, "latest", &id).await?;
        Ok(keys.into_iter().next().map(ModelInfo::from))
    }

    /// Version strings of a model in ascending version order (see
    /// [`ModelRegistry::latest`]); empty when the model has none.
    pub async fn versions(&self, category: &str, name: &str) -> Result<Vec<String>> {
        let infos = self.version_infos(category, name).await?;
        Ok(infos.into_iter().map(|i| i.id.version).collect())
    }

    /// Summaries of every version of a model, in ascending version order.
    pub async fn version_infos(&self, category: &str, name: &str) -> Result<Vec<ModelInfo>> {
        let (lo, hi) = model_bounds(category, name);
        let id = ModelId::model(category, name);
        let keys = self
            .scan(lo, hi, Direction::Forward, usize::MAX, "versions", &id)
            .await?;
        Ok(keys.into_iter().map(ModelInfo::from).collect())
    }

    /// Names of the models of a category, sorted and distinct; empty for an
    /// unknown category.
    pub async fn list(&self, category: &str) -> Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        for info in self.list_infos(category).await? {
            if names.last() != Some(&info.id.name) {
                names.push(info.id.name);
            }
        }
        Ok(names)
    }

    /// Summaries of every version of every model of a category, ordered by
    /// name then version.
    pub async fn list_infos(&self, category: &str) -> Result<Vec<ModelInfo>> {
        let lo = ModelKey::probe(category, "", "");
        let hi = ModelKey::probe(&format!("{category}\0"), "", "");
        let id = ModelId::model(category, "*");
        let keys = self
            .scan(lo, hi, Direction::Forward, usize::MAX, "list", &id)
            .await?;
        Ok(keys.into_iter().map(ModelInfo::from).collect())
    }

    /// Deletes a model version with its aliases and artifact; `false` when it
    /// does not exist.
    pub async fn delete(&self, category: &str, name: &str, version: &str) -> Result<bool> {
        let id = ModelId::new(category, name, version);
        let Some(key) = self.find_key(&id, "delete").await? else {
            return Ok(false);
        };
        self.remove_chunks(&id, &key.summary).await?;
        for alias in &key.summary.aliases {
            let akey = AliasKey {
                category: category.to_string(),
                name: name.to_string(),
                alias: alias.clone(),
            };
            self.aliases
                .remove(&akey)
                .await
                .map_err(self.store_err("delete", &id))?;
        }
        self.models
            .remove(&key)
            .await
            .map_err(self.store_err("delete", &id))
    }

    // ----- helpers shared with the alias and artifact modules -----

    /// Wraps a `sop-core` error with the registry, operation and model.
    pub(crate) fn store_err(
        &self,
        op: &'static str,
        id: &ModelId,
    ) -> impl FnOnce(SopError) -> ModelError {
        let registry = self.name.clone();
        let model = id.clone();
        move |source| ModelError::Store {
            registry,
            op,
            model,
            source,
        }
    }

    /// The stored key (with its summary) of a version, without its value.
    pub(crate) async fn find_key(&self, id: &ModelId, op: &'static str) -> Result<Option<ModelKey>> {
        let probe = ModelKey::probe(&id.category, &id.name, &id.version);
        let mut stream = std::pin::pin!(self.models.keys(probe.clone()..=probe, Direction::Forward));
        match stream.next().await {
            Some(r) => r.map(Some).map_err(self.store_err(op, id)),
            None => Ok(None),
        }
    }

    /// Like [`Self::find_key`] but a missing version is `NotFound`.
    pub(crate) async fn require_key(&self, id: &ModelId, op: &'static str) -> Result<ModelKey> {
        self.find_key(id, op)
            .await?
            .ok_or_else(|| ModelError::NotFound { model: id.clone() })
    }

    async fn record(&self, id: &ModelId, op: &'static str) -> Result<ModelRecord> {
        let probe = ModelKey::probe(&id.category, &id.name, &id.version);
        self.models
            .get(&probe)
            .await
            .map_err(self.store_err(op, id))?
            .ok_or_else(|| ModelError::NotFound { model: id.clone() })
    }

    /// Keys in `[lo, hi)`, at most `limit`, in `direction`.
    async fn scan(
        &self,
        lo: ModelKey,
        hi: ModelKey,
        direction: Direction,
        limit: usize,
        op: &'static str,
        id: &ModelId,
    ) -> Result<Vec<ModelKey>> {
        let range = (Bound::Included(lo), Bound::Excluded(hi));
        let mut stream = std::pin::pin!(self.models.keys(range, direction));
        let mut out = Vec::new();
        while out.len() < limit {
            match stream.next().await {
                Some(r) => out.push(r.map_err(self.store_err(op, id))?),
                None => break,
            }
        }
        Ok(out)
    }

    /// Removes the artifact chunks recorded in `summary`.
    pub(crate) async fn remove_chunks(&self, id: &ModelId, summary: &ModelSummary) -> Result<()> {
        let Some(artifact) = summary.artifact else {
            return Ok(());
        };
        for chunk in 0..artifact.chunks {
            self.chunks
                .remove(&chunk_key(id, chunk))
                .await
                .map_err(self.store_err("remove artifact", id))?;
        }
        Ok(())
    }
}

/// `[lo, hi)` holding exactly the versions of `category/name`.
pub(crate) fn model_bounds(category: &str, name: &str) -> (ModelKey, ModelKey) {
    (
        ModelKey::probe(category, name, ""),
        ModelKey::probe(category, &format!("{name}\0"), ""),
    )
}

/// The key of chunk `chunk` of a version's artifact.
pub(crate) fn chunk_key(id: &ModelId, chunk: u64) -> ChunkKey {
    ChunkKey {
        category: id.category.clone(),
        name: id.name.clone(),
        version: id.version.clone(),
        chunk,
    }
}

/// Refuses empty or over-long identifiers.
pub(crate) fn check_field(id: &ModelId, field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_FIELD_BYTES {
        return Err(ModelError::InvalidArgument {
            model: id.clone(),
            field,
            reason: format!(
                "must be 1..={MAX_FIELD_BYTES} bytes, got {} bytes",
                value.len()
            ),
        });
    }
    Ok(())
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

async fn open_store<K, V>(
    tx: &Transaction,
    registry: &str,
    suffix: &str,
    create: bool,
    slot_length: usize,
    placement: ValuePlacement,
) -> Result<Btree<K, V>>
where
    K: sop_core::Key + Ord,
    V: sop_core::Value,
{
    let store = format!("{registry}.{suffix}");
    let r = if create {
        let options = StoreOptions::with_slot_length(slot_length).placement(placement);
        tx.new_btree::<K, V>(&store, options).await
    } else {
        tx.open_btree::<K, V>(&store).await
    };
    r.map_err(|source| ModelError::Store {
        registry: registry.to_string(),
        op: "open",
        model: ModelId::model("*", "*"),
        source,
    })
}
