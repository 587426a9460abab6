//! sop-agents: Nurse/Doctor expert agents (embedders, generators, Nurse translation,
//! rank fusion, condition ranking, agent configs). Storage-backed parts come later.

pub mod config;
pub mod doctor;
pub mod embedder;
pub mod error;
pub mod fusion;
pub mod generator;
pub mod nurse;
pub mod ollama;
pub mod simple_embedder;
pub mod synonyms;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod text;

pub use config::AgentConfig;
pub use embedder::Embedder;
pub use error::AgentError;
pub use generator::{GenerationOptions, Generator};
pub use nurse::{Nurse, Translation, TranslationSource};
pub use simple_embedder::SimpleEmbedder;
