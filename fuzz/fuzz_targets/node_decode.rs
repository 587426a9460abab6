//! cargo-fuzz target: B-tree node payloads and node frames (sop-core). The body lives in `sop_fuzz::node_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sop_fuzz::node_decode(data));
