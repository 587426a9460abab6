//! The B+tree: nodes, committed versions, transaction views and the handle.

pub mod buffer_pool;
pub mod chunks;
pub mod handle;
pub mod ids;
pub mod item;
pub mod key_search;
pub mod leaf;
pub mod memo;
pub mod ops;
pub mod prefetch;
pub mod store;
pub mod version;
pub mod view;
