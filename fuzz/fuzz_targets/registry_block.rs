//! cargo-fuzz target: registry block images (sop-core). The body lives in `sop_fuzz::registry_block`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sop_fuzz::registry_block(data));
