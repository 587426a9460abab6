//! Bytes on disk: frames, blobs, the registry, the WAL and metadata files.

pub mod blob_store;
pub mod catalog;
pub mod checked_json;
pub mod commit_record;
pub mod erasure;
pub mod faults;
pub mod frame;
pub mod fsio;
pub mod registry;
pub mod replication;
pub mod wal;
