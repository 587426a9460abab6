//! Test support (feature `test-support`): a loopback mock of Ollama's HTTP API.
//!
//! Invariant: nothing here is compiled into normal builds.

pub mod mock_ollama;

pub use mock_ollama::{unreachable_host, MockOllama, RecordedRequest};
