//! # sop-core — the transactional B-tree engine of SOP for Rust
//!
//! An async-first storage engine: generic B-trees in ACID transactions over
//! copy-on-write node blobs, a registry of logical → physical handles, a
//! write-ahead log with group commit, and L1/L2 caches. Every store of every
//! crate of the workspace (vector indexes, BM25 indexes, model registries) is
//! a set of B-trees here and commits in the caller's transaction.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use sop_core::{Database, DatabaseOptions, StoreOptions, TransactionMode};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Database::open(DatabaseOptions::new(dir.path())).await?;
//!
//! let tx = db.begin(TransactionMode::ForWriting).await?;
//! let fruits = tx.new_btree::<String, u32>("fruits", StoreOptions::default()).await?;
//! fruits.add("apple".into(), 3).await?;
//! fruits.add("pear".into(), 5).await?;
//! tx.commit().await?;
//!
//! let tx = db.begin(TransactionMode::ForReading).await?;
//! let fruits = tx.open_btree::<String, u32>("fruits").await?;
//! assert_eq!(fruits.get(&"pear".to_string()).await?, Some(5));
//! assert_eq!(fruits.count().await?, 2);
//! tx.commit().await?;
//! # Ok::<(), sop_core::SopError>(()) }).unwrap();
//! ```
//!
//! See `ARCHITECTURE.md` for the code map and `FORMAT.md` for the bytes.

pub mod btree;
pub mod cache;
pub mod cluster;
mod database;
pub mod engine;
mod error;
pub mod id_hash;
mod index_spec;
mod log_replay;
mod options;
pub mod storage;
mod transaction;
mod typed_open;
mod verify;

pub use btree::handle::{Btree, Direction, ItemInfo};
pub use cache::l2::{CacheTtls, L2Cache, MemoryL2Cache};
pub use database::Database;
pub use engine::EngineStats;
pub use error::{Result, SopError};
pub use index_spec::{compare_json, Comparator, IndexField, IndexSpec, KeyOrder, NaturalOrder};
pub use options::{
    DatabaseOptions, Mode, StoreOptions, TransactionMode, TransactionOptions, ValuePlacement,
    DEFAULT_MAX_TIME, MAX_MAX_TIME,
};
pub use transaction::{Transaction, DEADLINE_CHECK_EVERY};
pub use uuid::Uuid;
pub use verify::{VerifyOptions, VerifyPhase, VerifyProgress, VerifyReport};

/// The README's Rust samples, compiled as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// On-disk format version written into every frame, block and metadata file.
pub const FORMAT_VERSION: u32 = 2;

/// Bounds every key type satisfies (ordering comes from `Ord` or a [`KeyOrder`]).
pub trait Key:
    serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static
{
}
impl<T: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static> Key for T {}

/// Bounds every value type satisfies.
pub trait Value:
    serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static
{
}
impl<T: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static> Value
    for T
{
}
