//! [`ModelRegistry`]: the handle, its stores, and saving, loading and
//! deleting model versions (listings live in `listing`, aliases in
//! `aliases`, artifacts in `artifact`).
//!
//! A registry named `r` is three `sop-core` B-trees opened in the caller's
//! transaction: `r.models` ([`ModelKey`] with ride-on summary → MessagePack
//! body and metadata, medium placement), `r.aliases` and `r.chunks`
//! (artifacts, big placement). Every change commits or rolls back with that
//! transaction, together with whatever else it wrote.
//!
//! Invariants: a stored category, name, version or alias is 1..=256 bytes; a
//! version's summary lists exactly the aliases pointing at it; its artifact
//! chunks exist exactly for `0..summary.artifact.chunks`. Listings only scan
//! keys, never model bodies.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sop_core::{Btree, StoreOptions, Transaction, TransactionMode, ValuePlacement};

use crate::access::{check_field, now_ms};
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
            model: id.clone().into(),
            action: "encode",
            source: Box::new(e),
        })?;
        let now = now_ms();
        let summary = match self.find_key(&id, "save").await? {
            Some(_) if !options.overwrite => {
                return Err(ModelError::AlreadyExists { model: id.into() })
            }
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
            model: id.into(),
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
                model: ModelId::model(category, name).into(),
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
        model: ModelId::model("*", "*").into(),
        source,
    })
}
