//! The `Generator` abstraction: a language model answering a prompt under a system prompt.
//!
//! Invariant: implementations return the model's whole text answer (no streaming) or an
//! `AgentError` naming the host/model; they never panic on a bad answer.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::AgentError;

/// Sampling options passed to a generator; `None` means "the model's default".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationOptions {
    /// Sampling temperature (0 = deterministic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Maximum number of tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_predict: Option<i32>,
    /// Context window size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<u64>,
    /// Random seed, for reproducible answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i32>,
}

/// A text generator (an LLM).
#[async_trait]
pub trait Generator: Send + Sync {
    /// A short, stable name (e.g. `ollama:llama3.2`).
    fn name(&self) -> &str;
    /// Answers `prompt` under the `system` prompt.
    async fn generate(
        &self,
        system: &str,
        prompt: &str,
        options: &GenerationOptions,
    ) -> Result<String, AgentError>;
}
