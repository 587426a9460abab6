//! The B+tree: nodes, committed versions, transaction views and the handle.

pub mod handle;
pub mod item;
pub mod ops;
pub mod store;
pub mod version;
pub mod view;
