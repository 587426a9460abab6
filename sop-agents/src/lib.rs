//! sop-agents: Nurse/Doctor expert agents — embedders, generators, the Nurse's translation,
//! rank fusion, condition ranking, agent configs, and the storage-backed Doctor with its
//! fallback-config rebuild.

pub mod agent_embedder;
pub mod config;
pub mod doctor;
pub mod embedder;
pub mod error;
pub mod eval;
pub mod fusion;
pub mod generator;
pub mod nurse;
pub mod ollama;
pub mod setup;
pub mod simple_embedder;
pub mod synonyms;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod text;

pub use agent_embedder::AgentEmbedder;
pub use config::AgentConfig;
pub use doctor::{Doctor, DoctorParts, RebuildReason, StartReport};
pub use embedder::Embedder;
pub use error::{AgentError, StorageError};
pub use generator::{GenerationOptions, Generator};
pub use nurse::{Nurse, Translation, TranslationSource};
pub use simple_embedder::SimpleEmbedder;
