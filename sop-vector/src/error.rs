//! The single error type of `sop-vector`.
//!
//! Every fallible function in the crate returns [`Result`]. Messages always name what went
//! wrong *where*: the store and field for vector validation, the file and row for `.fvecs` /
//! `.ivecs` I/O, the argument name for bad parameters. Variants carry owned context so errors
//! can cross threads and transactions.

use std::path::PathBuf;

/// Errors produced by `sop-vector`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// A vector does not have the dimension fixed for its store.
    #[error("store `{store}`, field `{field}`: expected {expected} dimensions, got {actual}")]
    DimensionMismatch {
        /// Store (or domain) the vector was meant for.
        store: String,
        /// Field holding the vector (for example `vector` or `query`).
        field: String,
        /// Dimension fixed for the store.
        expected: usize,
        /// Dimension of the offending vector.
        actual: usize,
    },

    /// A vector component is NaN or infinite.
    #[error("store `{store}`, field `{field}`: component {index} is not finite ({value})")]
    NonFinite {
        /// Store (or domain) the vector was meant for.
        store: String,
        /// Field holding the vector.
        field: String,
        /// Index of the first non-finite component.
        index: usize,
        /// The offending value (NaN or ±inf).
        value: f32,
    },

    /// A vector has zero length where the metric needs a direction (cosine).
    #[error("store `{store}`, field `{field}`: zero vector cannot be used with the cosine metric")]
    ZeroVector {
        /// Store (or domain) the vector was meant for.
        store: String,
        /// Field holding the vector.
        field: String,
    },

    /// An I/O error on a named file.
    #[error("file `{path}`: {source}")]
    Io {
        /// File being read or written.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A malformed row in a vector file.
    #[error("file `{path}`, row {row}: {reason}")]
    Format {
        /// File being read or written.
        path: PathBuf,
        /// Zero-based row index.
        row: usize,
        /// What is wrong with the row.
        reason: String,
    },

    /// A parameter is out of its valid range.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// Name of the parameter.
        name: &'static str,
        /// Why the value is rejected.
        reason: String,
    },

    /// A metric name that is not `cosine`, `l2` or `dot`.
    #[error("unknown metric `{0}` (expected `cosine`, `l2` or `dot`)")]
    UnknownMetric(String),

    /// The storage engine failed while working on a vector domain's store.
    #[error("vector domain `{domain}`, store `{store}`: {source}")]
    Store {
        /// The vector domain.
        domain: String,
        /// The B-tree store (or operation) involved.
        store: String,
        /// The engine's error.
        #[source]
        source: sop_core::SopError,
    },

    /// The domain is read-only because a versioned rebuild holds its lock.
    #[error(
        "vector domain `{domain}` is locked by rebuild `{owner}` (building version {target_version}, \
         heartbeat {age_ms} ms ago): writes are refused until it finishes; readers are unaffected"
    )]
    Locked {
        /// The vector domain.
        domain: String,
        /// Owner id of the rebuild holding the lock.
        owner: String,
        /// Version being built.
        target_version: u32,
        /// Milliseconds since the lock's last heartbeat.
        age_ms: u64,
    },

    /// The domain does not exist (opened for reading before any write).
    #[error("vector domain `{0}` does not exist")]
    DomainNotFound(String),

    /// The domain exists with a different configuration.
    #[error("vector domain `{domain}`: {reason}")]
    ConfigMismatch {
        /// The vector domain.
        domain: String,
        /// What differs.
        reason: String,
    },

    /// Stored data breaks an invariant of the layout.
    #[error("vector domain `{domain}`: inconsistent stored data: {reason}")]
    Inconsistent {
        /// The vector domain.
        domain: String,
        /// What is wrong.
        reason: String,
    },
}

impl VectorError {
    /// Shorthand for [`VectorError::InvalidArgument`].
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}

impl VectorError {
    /// Wraps an engine error, naming the domain and store.
    pub fn store(domain: &str, store: &str, source: sop_core::SopError) -> Self {
        Self::Store {
            domain: domain.to_string(),
            store: store.to_string(),
            source,
        }
    }

    /// The engine error inside, when this is a [`VectorError::Store`].
    pub fn sop(&self) -> Option<&sop_core::SopError> {
        match self {
            Self::Store { source, .. } => Some(source),
            _ => None,
        }
    }

    /// True when retrying the whole transaction may succeed (engine conflicts, timeouts).
    pub fn is_retryable(&self) -> bool {
        self.sop().is_some_and(|e| e.is_retryable())
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, VectorError>;

/// Attaches the domain and store to an engine result.
pub(crate) trait Ctx<T> {
    /// Maps an [`sop_core::SopError`] into [`VectorError::Store`].
    fn ctx(self, domain: &str, store: &str) -> Result<T>;
}

impl<T> Ctx<T> for std::result::Result<T, sop_core::SopError> {
    fn ctx(self, domain: &str, store: &str) -> Result<T> {
        self.map_err(|e| VectorError::store(domain, store, e))
    }
}
