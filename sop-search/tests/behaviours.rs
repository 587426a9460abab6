//! SOP's search behaviours, and scores against a BM25 computed from scratch, on the
//! in-memory reference index and on the B-tree index (a real database in a tempdir).

#[macro_use]
mod common;

mod memory {
    behaviour_tests!(sop_search::MemoryIndex);
}

mod btree {
    behaviour_tests!(crate::common::BtreeFixture);
}
