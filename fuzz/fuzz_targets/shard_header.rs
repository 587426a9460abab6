//! cargo-fuzz target: erasure shard files (sop-core). The body lives in `sop_fuzz::shard_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sop_fuzz::shard_header(data));
