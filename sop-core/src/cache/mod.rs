//! Caches: L1 (in-process decoded objects) and L2 (shared bytes with TTLs).

pub mod l1;
pub mod l2;
