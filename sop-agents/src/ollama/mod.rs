//! Ollama-backed embedder and generator (ollama-rs, plain HTTP, no TLS).
//!
//! Invariant: the host comes from the caller or `OLLAMA_HOST` (default
//! `http://localhost:11434`) and every call is time-bounded.

pub mod call;
pub mod embedder;
pub mod generator;
pub mod host;
