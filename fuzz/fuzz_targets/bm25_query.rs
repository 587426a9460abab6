//! cargo-fuzz target: BM25 queries: analyzer, query terms, MaxScore top-k (sop-search). The body lives in `sop_fuzz::bm25_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sop_fuzz::bm25_query(data));
