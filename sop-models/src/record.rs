//! What a model version stores besides its key: the encoded body and its
//! [`ModelMetadata`]; plus the caller-facing [`SaveOptions`] and
//! [`ModelInfo`].
//!
//! Invariant: the body is MessagePack with named fields (`rmp_serde`), so
//! floats round-trip bit-exactly (JSON text parsing may not) and a body can
//! be decoded into a different, field-compatible type later.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::ModelId;
use crate::keys::{Bytes, ModelKey, ModelSummary};

/// The value of the models store (medium placement: one cached blob each).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ModelRecord {
    /// The model, MessagePack-encoded with field names.
    pub body: Bytes,
    /// Params, metrics, tags.
    pub metadata: ModelMetadata,
}

/// Free-form description of a model version: training parameters, evaluation
/// metrics and tags. The created time lives in [`ModelSummary`].
///
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// Human description.
    pub description: String,
    /// Training parameters (any JSON value).
    pub params: BTreeMap<String, serde_json::Value>,
    /// Evaluation metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Free tags.
    pub tags: BTreeSet<String>,
}

impl ModelMetadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Adds a training parameter (any JSON value).
    pub fn param(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.params.insert(key.into(), value);
        self
    }

    /// Adds a metric.
    pub fn metric(mut self, key: impl Into<String>, value: f64) -> Self {
        self.metrics.insert(key.into(), value);
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.insert(tag.into());
        self
    }
}

/// Options of [`crate::ModelRegistry::save_with`].
#[derive(Debug, Clone, Default)]
pub struct SaveOptions {
    /// Replace an existing version (keeps its created time and aliases,
    /// drops its artifact). Without it saving an existing version is
    /// [`crate::ModelError::AlreadyExists`].
    pub overwrite: bool,
    /// Metadata to store with the version.
    pub metadata: ModelMetadata,
}

impl SaveOptions {
    /// No overwrite, empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `overwrite`.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Sets the metadata.
    pub fn metadata(mut self, metadata: ModelMetadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A model version as listings see it: its id and ride-on summary (no body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// `category/name@version`.
    pub id: ModelId,
    /// Created/updated times, sizes, aliases, artifact.
    pub summary: ModelSummary,
}

impl From<ModelKey> for ModelInfo {
    fn from(k: ModelKey) -> Self {
        ModelInfo {
            id: ModelId {
                category: k.category,
                name: k.name,
                version: k.version.into(),
            },
            summary: k.summary,
        }
    }
}
