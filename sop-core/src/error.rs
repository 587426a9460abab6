//! The crate's single error type.
//!
//! Every variant names what it is about (store, file, key, field) so a caller can
//! act on it without a debugger. After any error returned from inside a
//! transaction the transaction is rolled back and unusable.

use std::path::PathBuf;

/// Result alias used throughout `sop-core`.
pub type Result<T, E = SopError> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum SopError {
    /// An operating-system I/O error on a named file or folder.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A checksum did not match: the bytes on disk are damaged.
    #[error("CRC mismatch in {path}{}: stored {stored:#010x}, computed {computed:#010x}", block.map(|b| format!(" (block {b})")).unwrap_or_default())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// The block within the file, for block-structured files.
        block: Option<u64>,
        /// The checksum recorded in the file.
        stored: u32,
        /// The checksum computed from the bytes read.
        computed: u32,
    },
    /// A file's structure is invalid (bad magic, unknown version, truncated).
    #[error("invalid format in {path}: {reason}")]
    Format {
        /// The file involved.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key or value could not be encoded or decoded.
    #[error("codec error in store '{store}' ({what}): {reason}")]
    Codec {
        /// The store involved.
        store: String,
        /// What was being encoded or decoded.
        what: &'static str,
        /// The serializer's message.
        reason: String,
    },
    /// `open_btree` of a store that does not exist.
    #[error("store '{0}' does not exist")]
    StoreNotFound(String),
    /// Opening a store with options or types that differ from the stored ones.
    #[error("store '{store}' is incompatible: {reason}")]
    IncompatibleStore {
        /// The store involved.
        store: String,
        /// What differs.
        reason: String,
    },
    /// Re-opening a database with options that conflict with the persisted ones.
    #[error("database options conflict with {path}: {reason}")]
    OptionsConflict {
        /// The options file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// A caller-supplied argument is invalid.
    #[error("invalid argument '{field}': {reason}")]
    InvalidArgument {
        /// The argument or field.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A write was attempted in a transaction that does not allow writes.
    #[error(
        "store '{store}': {op} is not allowed in a {mode:?} transaction (transaction rolled back)"
    )]
    ReadOnlyTransaction {
        /// The store involved.
        store: String,
        /// The rejected operation.
        op: &'static str,
        /// The transaction's mode.
        mode: crate::TransactionMode,
    },
    /// The transaction was already committed, rolled back, or failed earlier.
    #[error("transaction is no longer usable: {0}")]
    TransactionClosed(String),
    /// Optimistic concurrency check failed at commit: somebody else changed what
    /// this transaction read or wrote.
    #[error("conflict in store '{store}': {reason} (transaction rolled back)")]
    Conflict {
        /// The store involved.
        store: String,
        /// What changed underneath.
        reason: String,
    },
    /// The transaction ran past its `max_time`.
    #[error("transaction exceeded its max_time of {0:?} (transaction rolled back)")]
    Timeout(std::time::Duration),
    /// The cursor is not positioned on an item.
    #[error("store '{0}': the cursor is not positioned on an item")]
    NoCurrentItem(String),
    /// A store is locked for maintenance (for example a rebuild).
    #[error("store '{store}' is locked: {reason}")]
    Locked {
        /// The store involved.
        store: String,
        /// Who holds it and why.
        reason: String,
    },
    /// A background task panicked or was cancelled.
    #[error("internal task failed: {0}")]
    Task(String),
    /// An erasure-coded blob has fewer intact shards than data shards, so it
    /// cannot be reconstructed; `lost` names every missing or damaged shard.
    #[error("erasure-coded blob {blob} cannot be read: {available} intact shard(s), {needed} needed; lost shards: {}", crate::storage::erasure::describe_faults(lost))]
    ShardsLost {
        /// The blob.
        blob: uuid::Uuid,
        /// Intact shards needed (the data shard count).
        needed: usize,
        /// Intact shards found.
        available: usize,
        /// Each missing or damaged shard: index, folder (drive) and reason.
        lost: Vec<crate::storage::erasure::ShardFault>,
    },
    /// A write, fsync or removal of an erasure-coded blob failed on more
    /// shards than the parity tolerates.
    #[error("erasure-coded blob {blob}: {op} failed on {} shard(s), more than the {parity} parity shard(s) tolerate{}; failed shards: {}", failed.len(), if *rolled_back { " (rolled back: every shard written was removed)" } else { "" }, crate::storage::erasure::describe_faults(failed))]
    ShardWriteFailed {
        /// The blob.
        blob: uuid::Uuid,
        /// The operation: `write`, `fsync` or `remove`.
        op: &'static str,
        /// The parity shard count (failures tolerated).
        parity: usize,
        /// Each failed shard: index, folder (drive) and reason.
        failed: Vec<crate::storage::erasure::ShardFault>,
        /// True when the shards already written were removed again.
        rolled_back: bool,
    },
    /// More shard folders (drives) than the parity tolerates could not be
    /// created when the erasure-coding backend was opened.
    #[error("erasure coding: {} shard folder(s) unavailable, more than the {parity} parity shard(s) tolerate: {}", failed.len(), crate::storage::erasure::describe_faults(failed))]
    ShardFoldersUnavailable {
        /// The parity shard count (failures tolerated).
        parity: usize,
        /// Each unavailable folder and why.
        failed: Vec<crate::storage::erasure::ShardFault>,
    },
    /// Redis (clustered mode) could not be reached or answered with an error.
    /// Nothing was committed by the failing operation; retry once Redis is
    /// back (the connection is re-established automatically).
    #[error("Redis at {url} unavailable during {op}: {reason} (transaction rolled back)")]
    Redis {
        /// The Redis URL of the cluster.
        url: String,
        /// What was being done (`lock`, `unlock`, `cache get`, ...).
        op: &'static str,
        /// The client's message.
        reason: String,
    },
    /// The cluster commit lock could not be taken before the transaction's
    /// deadline, or was lost (expired) before the commit point.
    #[error("cluster lock '{key}': {reason} (transaction rolled back)")]
    ClusterLock {
        /// The Redis key of the lock.
        key: String,
        /// What happened.
        reason: String,
    },
    /// The Reed-Solomon codec rejected a blob's shards (an internal error).
    #[error("erasure coding of blob {blob} failed: {reason}")]
    Erasure {
        /// The blob.
        blob: uuid::Uuid,
        /// The codec's message.
        reason: String,
    },
}

impl SopError {
    /// Builds an [`SopError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SopError::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds an [`SopError::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        SopError::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// `Ok` when the checksum `stored` in a whole-file record of `path` equals the
    /// one `computed` from the bytes read; otherwise [`SopError::Corrupt`] naming the file.
    pub fn check_crc(path: &std::path::Path, stored: u32, computed: u32) -> Result<(), Self> {
        if stored == computed {
            return Ok(());
        }
        Err(SopError::Corrupt {
            path: path.to_path_buf(),
            block: None,
            stored,
            computed,
        })
    }

    /// True when retrying the whole transaction may succeed (conflicts,
    /// timeouts, Redis unavailable or the cluster lock lost).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SopError::Conflict { .. }
                | SopError::Timeout(_)
                | SopError::Redis { .. }
                | SopError::ClusterLock { .. }
        )
    }

    /// True when the error reports damaged bytes (CRC or format).
    pub fn is_corruption(&self) -> bool {
        matches!(self, SopError::Corrupt { .. } | SopError::Format { .. })
    }
}
