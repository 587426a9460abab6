//! The crate's single error type.
//!
//! Owns [`SearchError`] and the [`Result`] alias. Invariant: every variant names what it is
//! about — the file and line of a bad input record, the field that is wrong, the parameter that
//! is out of range, or the document id involved — so a message alone is enough to find the fault.

use std::path::PathBuf;

/// Everything that can go wrong in `sop-search`.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A line of a JSON-lines file is not valid JSON (or not a JSON object).
    #[error("{path}:{line}: invalid JSON record: {message}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What the parser said.
        message: String,
    },

    /// A record is missing a required field or has one of the wrong type.
    #[error("{path}:{line}: field `{field}` {problem}")]
    Field {
        /// The file involved.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field name, e.g. `_id`.
        field: &'static str,
        /// What is wrong with it, e.g. "is missing".
        problem: String,
    },

    /// A line of a file does not have the expected shape (a qrels row, or a line that is not
    /// valid UTF-8).
    #[error("{path}:{line}: {message}")]
    Format {
        /// The file involved.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },

    /// The same id appears twice where ids must be unique.
    #[error("{path}:{line}: duplicate id `{id}` (first seen on line {first_line})")]
    DuplicateId {
        /// The file involved.
        path: PathBuf,
        /// 1-based line of the duplicate.
        line: usize,
        /// 1-based line where the id was first seen.
        first_line: usize,
        /// The repeated id.
        id: String,
    },

    /// A BM25 (or other) parameter is out of its valid range.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// The parameter name, e.g. `k1`.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// The valid range or rule.
        reason: &'static str,
    },

    /// An operation on a specific document failed.
    #[error("document `{doc_id}`: {message}")]
    Document {
        /// The external document id.
        doc_id: String,
        /// What went wrong.
        message: String,
    },

    /// A posting list violates its invariants (sorted, unique doc numbers, tf > 0).
    #[error("posting list of term #{term}: {message}")]
    InvalidPostings {
        /// Position of the term in the query.
        term: usize,
        /// Which invariant is broken, at which position.
        message: String,
    },

    /// A B-tree operation of the index failed; sop-core has rolled the transaction back.
    #[error("search index `{index}`: {source}")]
    Store {
        /// The index name (the stores are `index/...`).
        index: String,
        /// The storage error.
        #[source]
        source: sop_core::SopError,
    },

    /// The stored index contradicts its own invariants (e.g. a posting the document table
    /// says exists is missing).
    #[error("search index `{index}` is inconsistent: {message}")]
    Corrupt {
        /// The index name.
        index: String,
        /// Which invariant is broken, about which term or document.
        message: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, SearchError>;
