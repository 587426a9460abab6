//! The B+tree: nodes, committed versions, transaction views and the handle.

pub mod handle;
pub mod ids;
pub mod item;
pub mod leaf;
pub mod ops;
pub mod store;
pub mod version;
pub mod view;
