//! Low-level access shared by the registry's modules: wrapping `sop-core`
//! errors with the model involved, key lookups and scans (keys only, never
//! values), chunk removal, scan bounds and argument validation.
//!
//! Invariants: lookups go through `keys()` streams, never the B-tree
//! cursor, so concurrent calls on one registry handle cannot disturb each
//! other; every `SopError` leaves here wrapped in [`ModelError::Store`].

use std::ops::Bound;

use futures::StreamExt;
use sop_core::{Direction, SopError};

use crate::error::{ModelError, ModelId, Result};
use crate::keys::{ChunkKey, ModelKey, ModelSummary};
use crate::record::ModelRecord;
use crate::registry::{ModelRegistry, MAX_FIELD_BYTES};

impl ModelRegistry {
    /// Wraps a `sop-core` error with the registry, operation and model.
    pub(crate) fn store_err(
        &self,
        op: &'static str,
        id: &ModelId,
    ) -> impl FnOnce(SopError) -> ModelError {
        let registry = self.name.clone();
        let model = Box::new(id.clone());
        move |source| ModelError::Store {
            registry,
            op,
            model,
            source,
        }
    }

    /// The stored key (with its summary) of a version, without its value.
    pub(crate) async fn find_key(
        &self,
        id: &ModelId,
        op: &'static str,
    ) -> Result<Option<ModelKey>> {
        let probe = ModelKey::probe(&id.category, &id.name, &id.version);
        let mut stream =
            std::pin::pin!(self.models.keys(probe.clone()..=probe, Direction::Forward));
        match stream.next().await {
            Some(r) => r.map(Some).map_err(self.store_err(op, id)),
            None => Ok(None),
        }
    }

    /// Like [`Self::find_key`] but a missing version is `NotFound`.
    pub(crate) async fn require_key(&self, id: &ModelId, op: &'static str) -> Result<ModelKey> {
        self.find_key(id, op)
            .await?
            .ok_or_else(|| ModelError::NotFound {
                model: id.clone().into(),
            })
    }

    /// The stored value (body and metadata) of a version; missing is `NotFound`.
    pub(crate) async fn record(&self, id: &ModelId, op: &'static str) -> Result<ModelRecord> {
        let probe = ModelKey::probe(&id.category, &id.name, &id.version);
        self.models
            .get(&probe)
            .await
            .map_err(self.store_err(op, id))?
            .ok_or_else(|| ModelError::NotFound {
                model: id.clone().into(),
            })
    }

    /// Keys in `[lo, hi)`, at most `limit`, in `direction`.
    pub(crate) async fn scan(
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
            model: id.clone().into(),
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
