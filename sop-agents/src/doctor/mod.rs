//! The Doctor agent's storage-independent parts (condition ranking over fused case hits).
//!
//! Invariant: nothing here touches storage; retrieval results come in as plain values.

pub mod ranking;
