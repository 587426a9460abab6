//! `OllamaEmbedder`: batch embeddings through Ollama's `/api/embed` (ollama-rs).
//!
//! Invariants: one HTTP call per `embed` batch; every call is bounded by the configured
//! timeout; an answer with the wrong number of vectors or the wrong width is an error
//! (`AgentError::BadAnswer`) naming host and model, never a silently short result.

use std::time::Duration;

use async_trait::async_trait;
use ollama_rs::generation::embeddings::request::{EmbeddingsInput, GenerateEmbeddingsRequest};
use ollama_rs::Ollama;

use crate::embedder::Embedder;
use crate::error::AgentError;
use crate::ollama::call::{bounded, map_ollama_error};
use crate::ollama::host::{client_for, normalize_host};

/// Embeds texts with an Ollama embedding model.
#[derive(Debug, Clone)]
pub struct OllamaEmbedder {
    client: Ollama,
    host: String,
    model: String,
    name: String,
    dims: usize,
    timeout: Duration,
}

impl OllamaEmbedder {
    /// An embedder for `model` at `host` producing `dims`-wide vectors, each call bounded by
    /// `timeout`.
    pub fn new(
        host: &str,
        model: &str,
        dims: usize,
        timeout: Duration,
    ) -> Result<Self, AgentError> {
        if model.trim().is_empty() {
            return Err(AgentError::config("embedder.model", "must not be empty"));
        }
        if dims == 0 {
            return Err(AgentError::config(
                "embedder.dims",
                "must be greater than 0",
            ));
        }
        let host = normalize_host(host);
        Ok(Self {
            client: client_for(&host, model)?,
            name: format!("ollama:{model}"),
            host,
            model: model.to_string(),
            dims,
            timeout,
        })
    }

    /// Connects to `model` at `host` and learns its width by embedding one probe text.
    pub async fn probe(host: &str, model: &str, timeout: Duration) -> Result<Self, AgentError> {
        let mut e = Self::new(host, model, 1, timeout)?;
        let v = e.raw_embed(vec!["dimension probe".to_string()]).await?;
        let dims = v.first().map_or(0, Vec::len);
        if dims == 0 {
            return Err(e.bad_answer("probe returned an empty vector"));
        }
        e.dims = dims;
        Ok(e)
    }

    /// The host this embedder calls.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The model this embedder uses.
    pub fn model(&self) -> &str {
        &self.model
    }

    fn bad_answer(&self, message: impl Into<String>) -> AgentError {
        AgentError::BadAnswer {
            host: self.host.clone(),
            model: self.model.clone(),
            message: message.into(),
        }
    }

    async fn raw_embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, AgentError> {
        let request =
            GenerateEmbeddingsRequest::new(self.model.clone(), EmbeddingsInput::Multiple(texts));
        let answer = bounded(
            &self.host,
            &self.model,
            self.timeout,
            self.client.generate_embeddings(request),
        )
        .await?
        .map_err(|e| map_ollama_error(&self.host, &self.model, e))?;
        Ok(answer.embeddings)
    }
}

#[async_trait]
impl Embedder for OllamaEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, AgentError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let vectors = self.raw_embed(texts.to_vec()).await?;
        if vectors.len() != texts.len() {
            return Err(self.bad_answer(format!(
                "{} vectors for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        if let Some(v) = vectors.iter().find(|v| v.len() != self.dims) {
            return Err(self.bad_answer(format!(
                "vector of width {} (expected {})",
                v.len(),
                self.dims
            )));
        }
        Ok(vectors)
    }
}
