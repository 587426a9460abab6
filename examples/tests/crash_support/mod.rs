//! Shared parts of the cross-crate crash harness (`crash_all_stores.rs`):
//! the deterministic workload and its model, and the checks run after every
//! kill.

pub mod check;
pub mod workload;
