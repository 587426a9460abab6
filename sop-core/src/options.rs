//! Options of databases, stores and transactions.
//!
//! Database options are persisted once per stores folder (`options.json`); a
//! re-open with conflicting options is an [`SopError::OptionsConflict`].
//! Store options are persisted in the catalog; a re-open with different ones is
//! an [`SopError::IncompatibleStore`].

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SopError};
use crate::index_spec::IndexSpec;

/// Default transaction `max_time` (15 minutes, as SOP).
pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(15 * 60);
/// Upper bound of a transaction's `max_time` (1 hour).
pub const MAX_MAX_TIME: Duration = Duration::from_secs(60 * 60);

/// How processes coordinate on a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Mode {
    /// One process; in-process locks and caches. No external service.
    #[default]
    Standalone,
    /// Several processes share the folders; Redis holds locks and the L2 cache.
    Clustered {
        /// Redis connection URL, for example `redis://127.0.0.1:6379`.
        redis_url: String,
    },
}

/// Options of [`crate::Database::open`].
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// Stores folders (metadata: registry, catalog, WAL, checkpoint journal).
    /// One folder, or two for active/passive replication of the metadata
    /// (see `storage::replication`); every folder receives the options file.
    pub stores_folders: Vec<PathBuf>,
    /// Where node and value blobs live when they are not erasure coded;
    /// `None` = the first stores folder. Required (or `erasure`) with two
    /// stores folders, so a dead metadata drive does not take the data with it.
    pub blobs_folder: Option<PathBuf>,
    /// Deployment mode.
    pub mode: Mode,
    /// Number of decoded nodes kept by the L1 cache.
    pub l1_cache_nodes: usize,
    /// Number of values (medium placement) kept by the value cache.
    pub value_cache_items: usize,
    /// Blocks per registry segment file (each block is 4096 bytes).
    pub registry_segment_blocks: u32,
    /// WAL bytes after which a checkpoint is taken automatically.
    pub checkpoint_wal_bytes: u64,
    /// Entries kept by the standalone (in-memory) L2 cache.
    pub l2_cache_entries: usize,
    /// L2 time-to-live per kind of entry.
    pub cache_ttls: crate::cache::l2::CacheTtls,
    /// Erasure coding of every node and value blob across shard folders
    /// (drives); `None` keeps one file per blob in the first stores folder.
    pub erasure: Option<crate::storage::erasure::ErasureConfig>,
}

impl DatabaseOptions {
    /// Standalone options over one folder with default cache sizes.
    pub fn new(folder: impl Into<PathBuf>) -> Self {
        DatabaseOptions {
            stores_folders: vec![folder.into()],
            blobs_folder: None,
            mode: Mode::Standalone,
            l1_cache_nodes: 20_000,
            value_cache_items: 10_000,
            registry_segment_blocks: 1024,
            checkpoint_wal_bytes: 256 << 20,
            l2_cache_entries: 50_000,
            cache_ttls: crate::cache::l2::CacheTtls::default(),
            erasure: None,
        }
    }

    /// Replicated metadata over two stores folders (active first on a new
    /// database), blobs in `blobs_folder`.
    pub fn replicated(
        active: impl Into<PathBuf>,
        passive: impl Into<PathBuf>,
        blobs_folder: impl Into<PathBuf>,
    ) -> Self {
        let mut o = DatabaseOptions::new(active);
        o.stores_folders.push(passive.into());
        o.blobs_folder = Some(blobs_folder.into());
        o
    }

    /// The persisted subset, compared on re-open.
    pub(crate) fn persisted(&self) -> PersistedOptions {
        PersistedOptions {
            format_version: crate::FORMAT_VERSION,
            registry_segment_blocks: self.registry_segment_blocks,
            clustered: matches!(self.mode, Mode::Clustered { .. }),
            erasure: self
                .erasure
                .as_ref()
                .map(|e| (e.data_shards, e.parity_shards)),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.stores_folders.is_empty() {
            return Err(SopError::InvalidArgument {
                field: "stores_folders",
                reason: "at least one folder is required".into(),
            });
        }
        if self.stores_folders.len() > 2 {
            return Err(SopError::InvalidArgument {
                field: "stores_folders",
                reason: format!(
                    "one folder, or two for replicated metadata; got {}",
                    self.stores_folders.len()
                ),
            });
        }
        if self.stores_folders.len() == 2 {
            if self.stores_folders[0] == self.stores_folders[1] {
                return Err(SopError::InvalidArgument {
                    field: "stores_folders",
                    reason: "the two replicated metadata folders must differ".into(),
                });
            }
            match &self.blobs_folder {
                None if self.erasure.is_none() => {
                    return Err(SopError::InvalidArgument {
                        field: "blobs_folder",
                        reason: "replicated metadata (two stores_folders) needs a blobs_folder \
                                 (or erasure) outside both metadata folders"
                            .into(),
                    })
                }
                Some(b) if self.stores_folders.iter().any(|f| b.starts_with(f)) => {
                    return Err(SopError::InvalidArgument {
                        field: "blobs_folder",
                        reason: format!("{} is inside a replicated metadata folder", b.display()),
                    })
                }
                _ => {}
            }
        }
        if let Some(e) = &self.erasure {
            e.validate()?;
        }
        if self.registry_segment_blocks == 0 {
            return Err(SopError::InvalidArgument {
                field: "registry_segment_blocks",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// Options persisted in every stores folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PersistedOptions {
    pub format_version: u32,
    pub registry_segment_blocks: u32,
    pub clustered: bool,
    #[serde(default)]
    pub erasure: Option<(usize, usize)>,
}

/// Where a store keeps its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ValuePlacement {
    /// Inside the node (best for small values).
    #[default]
    Small,
    /// One blob per value, fetched on demand and cached.
    Medium,
    /// One blob per value, written at once, never cached.
    Big,
}

/// Options of a B-tree store, fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreOptions {
    /// Maximum items per leaf node (and children per internal node). Even, >= 4.
    pub slot_length: usize,
    /// Unique keys (`true`) or duplicates allowed.
    pub unique: bool,
    /// Value placement.
    pub value_placement: ValuePlacement,
    /// Free-form description.
    pub description: String,
    /// Ordering of `serde_json::Value` keys; `None` for natural `Ord` keys.
    pub index_spec: Option<IndexSpec>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            slot_length: 1000,
            unique: true,
            value_placement: ValuePlacement::Small,
            description: String::new(),
            index_spec: None,
        }
    }
}

impl StoreOptions {
    /// Default options with the given slot length.
    pub fn with_slot_length(slot_length: usize) -> Self {
        StoreOptions {
            slot_length,
            ..Default::default()
        }
    }

    /// Sets uniqueness.
    pub fn unique(mut self, unique: bool) -> Self {
        self.unique = unique;
        self
    }

    /// Sets value placement.
    pub fn placement(mut self, placement: ValuePlacement) -> Self {
        self.value_placement = placement;
        self
    }

    pub(crate) fn validate(&self, store: &str) -> Result<()> {
        if self.slot_length < 4 || !self.slot_length.is_multiple_of(2) || self.slot_length > 65_536
        {
            return Err(SopError::InvalidArgument {
                field: "slot_length",
                reason: format!(
                    "store '{store}': slot_length must be even and in 4..=65536, got {}",
                    self.slot_length
                ),
            });
        }
        Ok(())
    }
}

/// What a transaction may do and what its commit checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionMode {
    /// Reads and writes; commit validates everything read and written.
    ForWriting,
    /// Reads only; commit re-validates everything read.
    ForReading,
    /// Reads only, no validation at commit (fastest).
    NoCheck,
}

/// Options of [`crate::Database::begin_with`].
#[derive(Debug, Clone, Copy)]
pub struct TransactionOptions {
    /// The mode.
    pub mode: TransactionMode,
    /// Bounds the transaction's life, its commit and every lock TTL.
    /// Capped at [`MAX_MAX_TIME`].
    pub max_time: Duration,
}

impl TransactionOptions {
    /// Options with the default `max_time`.
    pub fn new(mode: TransactionMode) -> Self {
        TransactionOptions {
            mode,
            max_time: DEFAULT_MAX_TIME,
        }
    }
}
