//! cargo-fuzz target: agent JSON configs (sop-agents). The body lives in `sop_fuzz::agent_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sop_fuzz::agent_config(data));
