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

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, VectorError>;
