//! The crate's single error type.
//!
//! Invariant: every variant names what it concerns — the config field, the Ollama host and
//! model, the file, or the agent and store — so a message alone tells the operator where to
//! look. Storage errors keep their source ([`StorageError`]) so callers can ask whether the
//! bytes on disk are damaged ([`AgentError::is_corruption`]).

use std::time::Duration;

/// Everything that can go wrong in sop-agents.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// An agent configuration is invalid; `field` is a dotted path such as `embedder.model`.
    #[error("invalid config: {field}: {message}")]
    Config {
        /// Dotted path of the offending field (e.g. `generator.timeout_ms`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A JSON document (config, data set) could not be parsed.
    #[error("cannot parse {what}: {message}")]
    Parse {
        /// What was being parsed (a file path or a description).
        what: String,
        /// The parser's message (serde_json includes line and column).
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Ollama server could not be reached or answered with an error.
    #[error("ollama at {host} (model {model}): {message}")]
    Ollama {
        /// The host that was called.
        host: String,
        /// The model that was requested.
        model: String,
        /// What went wrong.
        message: String,
    },
    /// An Ollama call did not finish within its time budget.
    #[error("ollama at {host} (model {model}): timed out after {timeout:?}")]
    Timeout {
        /// The host that was called.
        host: String,
        /// The model that was requested.
        model: String,
        /// The budget that was exceeded.
        timeout: Duration,
    },
    /// The Ollama server answered, but the answer is unusable (wrong shape, wrong count...).
    #[error("ollama at {host} (model {model}): bad answer: {message}")]
    BadAnswer {
        /// The host that was called.
        host: String,
        /// The model that was requested.
        model: String,
        /// Why the answer was rejected.
        message: String,
    },
    /// An embedder was asked for something it cannot do (e.g. dimension mismatch).
    #[error("embedder {embedder}: {message}")]
    Embedding {
        /// Name of the embedder.
        embedder: String,
        /// What went wrong.
        message: String,
    },
    /// The agent's database (sop-core, sop-vector or sop-search) failed.
    #[error("agent {agent}: store {store}: {source}")]
    Storage {
        /// The agent whose database failed.
        agent: String,
        /// The store (B-tree, vector domain, search index or database folder) involved.
        store: String,
        /// The storage crate's error (boxed: storage errors are large).
        #[source]
        source: Box<StorageError>,
    },
}

/// An error of one of the storage crates, kept intact.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The B-tree engine.
    #[error(transparent)]
    Core(#[from] sop_core::SopError),
    /// The vector store.
    #[error(transparent)]
    Vector(#[from] sop_vector::VectorError),
    /// The BM25 index.
    #[error(transparent)]
    Search(#[from] sop_search::SearchError),
}

impl StorageError {
    /// True when the bytes on disk are damaged (CRC or format error, broken index invariant).
    pub fn is_corruption(&self) -> bool {
        match self {
            StorageError::Core(e) => e.is_corruption(),
            StorageError::Vector(e) => e.sop().is_some_and(sop_core::SopError::is_corruption),
            StorageError::Search(sop_search::SearchError::Store { source, .. }) => {
                source.is_corruption()
            }
            StorageError::Search(sop_search::SearchError::Corrupt { .. }) => true,
            StorageError::Search(_) => false,
        }
    }
}

impl AgentError {
    /// Shorthand for [`AgentError::Storage`].
    pub fn storage(
        agent: impl Into<String>,
        store: impl Into<String>,
        source: impl Into<StorageError>,
    ) -> Self {
        AgentError::Storage {
            agent: agent.into(),
            store: store.into(),
            source: Box::new(source.into()),
        }
    }

    /// True when this is a storage error caused by damaged bytes on disk.
    pub fn is_corruption(&self) -> bool {
        matches!(self, AgentError::Storage { source, .. } if source.is_corruption())
    }

    /// Shorthand for [`AgentError::Config`].
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        AgentError::Config {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_name_agent_and_store_and_flag_corruption() {
        let e = AgentError::storage(
            "doctor",
            "doctor/cases",
            sop_core::SopError::StoreNotFound("doctor/cases".into()),
        );
        let message = e.to_string();
        assert!(message.contains("agent doctor") && message.contains("store doctor/cases"));
        assert!(!e.is_corruption());
        let bad = sop_core::SopError::format("blobs/ab/abcd.blob", "bad magic");
        assert!(AgentError::storage("doctor", "verify", bad).is_corruption());
    }
}
