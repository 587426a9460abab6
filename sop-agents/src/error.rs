//! The crate's single error type.
//!
//! Invariant: every variant names what it concerns — the config field, the Ollama host and
//! model, or the file — so a message alone tells the operator where to look.

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
}

impl AgentError {
    /// Shorthand for [`AgentError::Config`].
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        AgentError::Config {
            field: field.into(),
            message: message.into(),
        }
    }
}
