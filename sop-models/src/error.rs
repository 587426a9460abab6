//! The crate's single error type, [`ModelError`], and [`ModelId`], the
//! `category/name@version` triple every error names.
//!
//! Invariants: every variant names the model (or the category/name) it is
//! about; errors coming from `sop-core` are wrapped, never flattened, so
//! `source()` reaches the original [`SopError`] (with the damaged file's path
//! for CRC failures). A wrapped `SopError` means the caller's transaction has
//! been rolled back by `sop-core`; the registry's own errors (not found,
//! already exists, invalid argument) leave the transaction usable.

use std::fmt;

use sop_core::SopError;

/// Result alias of `sop-models`.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// Identifies a model version: `category/name@version` (the version may be
/// empty when an error concerns a model as a whole).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelId {
    /// The category (for example `vision`).
    pub category: String,
    /// The model name within the category.
    pub name: String,
    /// The version string (empty for "any version").
    pub version: String,
}

impl ModelId {
    /// A model version.
    pub fn new(category: &str, name: &str, version: &str) -> Self {
        ModelId {
            category: category.to_string(),
            name: name.to_string(),
            version: version.to_string(),
        }
    }

    /// A model as a whole (no version).
    pub fn model(category: &str, name: &str) -> Self {
        ModelId::new(category, name, "")
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.category, self.name)?;
        if !self.version.is_empty() {
            write!(f, "@{}", self.version)?;
        }
        Ok(())
    }
}

/// Everything that can go wrong in the model registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The model version does not exist (never saved, or deleted).
    #[error("model {model} not found")]
    NotFound {
        /// The missing model version.
        model: Box<ModelId>,
    },
    /// The model has no version at all.
    #[error("model {model} has no versions")]
    NoVersions {
        /// The model.
        model: Box<ModelId>,
    },
    /// The alias is not set on the model.
    #[error("alias '{alias}' of model {model} is not set")]
    AliasNotFound {
        /// The model.
        model: Box<ModelId>,
        /// The alias looked up.
        alias: String,
    },
    /// Saving a version that exists without `SaveOptions::overwrite`.
    #[error(
        "model {model} already exists; save it with SaveOptions::overwrite(true) to replace it"
    )]
    AlreadyExists {
        /// The existing model version.
        model: Box<ModelId>,
    },
    /// A caller-supplied argument is invalid (empty name, too long, ...).
    #[error("model {model}: invalid {field}: {reason}")]
    InvalidArgument {
        /// The model the call was about.
        model: Box<ModelId>,
        /// The argument.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The model body could not be encoded, or not decoded into the
    /// requested type.
    #[error("model {model}: cannot {action} the model body: {source}")]
    Codec {
        /// The model version.
        model: Box<ModelId>,
        /// `encode` or `decode`.
        action: &'static str,
        /// The MessagePack codec's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The model version has no binary artifact.
    #[error("model {model} has no artifact")]
    NoArtifact {
        /// The model version.
        model: Box<ModelId>,
    },
    /// A chunk of the artifact failed its CRC or format check on disk.
    #[error("artifact of model {model} is damaged in chunk {chunk}: {source}")]
    CorruptArtifact {
        /// The model version.
        model: Box<ModelId>,
        /// The damaged chunk number (0-based).
        chunk: u64,
        /// The `sop-core` error (names the blob file).
        #[source]
        source: SopError,
    },
    /// The artifact's chunks do not add up to what its summary records
    /// (missing chunk, wrong length, whole-artifact CRC mismatch).
    #[error("artifact of model {model} is inconsistent: {reason}")]
    ArtifactMismatch {
        /// The model version.
        model: Box<ModelId>,
        /// What does not match.
        reason: String,
    },
    /// Reading the artifact source or writing the artifact sink failed.
    #[error("artifact of model {model}: I/O error while {action}: {source}")]
    Io {
        /// The model version.
        model: Box<ModelId>,
        /// `reading the source` or `writing the sink`.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A storage error from `sop-core` (the transaction has been rolled back).
    #[error("model registry '{registry}', {op} of model {model}: {source}")]
    Store {
        /// The registry's name.
        registry: String,
        /// The registry operation.
        op: &'static str,
        /// The model (or category) involved.
        model: Box<ModelId>,
        /// The `sop-core` error.
        #[source]
        source: SopError,
    },
}

impl ModelError {
    /// True when the error reports damaged bytes on disk (CRC or format).
    pub fn is_corruption(&self) -> bool {
        match self {
            ModelError::CorruptArtifact { .. } => true,
            ModelError::Store { source, .. } => source.is_corruption(),
            _ => false,
        }
    }

    /// True when retrying the whole transaction may succeed (conflicts, timeouts).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ModelError::Store { source, .. } if source.is_retryable())
    }

    /// The model this error is about.
    pub fn model(&self) -> &ModelId {
        match self {
            ModelError::NotFound { model }
            | ModelError::NoVersions { model }
            | ModelError::AliasNotFound { model, .. }
            | ModelError::AlreadyExists { model }
            | ModelError::InvalidArgument { model, .. }
            | ModelError::Codec { model, .. }
            | ModelError::NoArtifact { model }
            | ModelError::CorruptArtifact { model, .. }
            | ModelError::ArtifactMismatch { model, .. }
            | ModelError::Io { model, .. }
            | ModelError::Store { model, .. } => model,
        }
    }
}
