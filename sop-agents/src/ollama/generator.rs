//! `OllamaGenerator`: chat (system prompt + user prompt) and raw generate over ollama-rs.
//!
//! Invariants: non-streaming calls only; each call is bounded by the configured timeout;
//! errors name host and model; an empty answer is returned as-is (callers validate content).

use std::time::Duration;

use async_trait::async_trait;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::ChatMessage;
use ollama_rs::generation::completion::request::GenerationRequest;
use ollama_rs::models::ModelOptions;
use ollama_rs::Ollama;

use crate::error::AgentError;
use crate::generator::{GenerationOptions, Generator};
use crate::ollama::call::{bounded, map_ollama_error};
use crate::ollama::host::{client_for, normalize_host};

/// A text generator backed by an Ollama chat model.
#[derive(Debug, Clone)]
pub struct OllamaGenerator {
    client: Ollama,
    host: String,
    model: String,
    name: String,
    timeout: Duration,
}

/// Maps our options onto ollama-rs's `ModelOptions`.
pub fn model_options(options: &GenerationOptions) -> ModelOptions {
    let mut m = ModelOptions::default();
    if let Some(v) = options.temperature {
        m = m.temperature(v);
    }
    if let Some(v) = options.top_p {
        m = m.top_p(v);
    }
    if let Some(v) = options.top_k {
        m = m.top_k(v);
    }
    if let Some(v) = options.num_predict {
        m = m.num_predict(v);
    }
    if let Some(v) = options.num_ctx {
        m = m.num_ctx(v);
    }
    if let Some(v) = options.seed {
        m = m.seed(v);
    }
    m
}

impl OllamaGenerator {
    /// A generator for `model` at `host`, each call bounded by `timeout`.
    pub fn new(host: &str, model: &str, timeout: Duration) -> Result<Self, AgentError> {
        if model.trim().is_empty() {
            return Err(AgentError::config("generator.model", "must not be empty"));
        }
        let host = normalize_host(host);
        Ok(Self {
            client: client_for(&host, model)?,
            name: format!("ollama:{model}"),
            host,
            model: model.to_string(),
            timeout,
        })
    }

    /// The host this generator calls.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The model this generator uses.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Chat: a system message then a user message; returns the assistant's content.
    pub async fn chat(
        &self,
        system: &str,
        prompt: &str,
        options: &GenerationOptions,
    ) -> Result<String, AgentError> {
        let mut messages = Vec::with_capacity(2);
        if !system.is_empty() {
            messages.push(ChatMessage::system(system.to_string()));
        }
        messages.push(ChatMessage::user(prompt.to_string()));
        let request =
            ChatMessageRequest::new(self.model.clone(), messages).options(model_options(options));
        let answer = bounded(
            &self.host,
            &self.model,
            self.timeout,
            self.client.send_chat_messages(request),
        )
        .await?
        .map_err(|e| map_ollama_error(&self.host, &self.model, e))?;
        Ok(answer.message.content)
    }

    /// Raw completion through `/api/generate` with an optional system prompt.
    pub async fn complete(
        &self,
        system: &str,
        prompt: &str,
        options: &GenerationOptions,
    ) -> Result<String, AgentError> {
        let mut request =
            GenerationRequest::new(self.model.clone(), prompt).options(model_options(options));
        if !system.is_empty() {
            request = request.system(system);
        }
        let answer = bounded(
            &self.host,
            &self.model,
            self.timeout,
            self.client.generate(request),
        )
        .await?
        .map_err(|e| map_ollama_error(&self.host, &self.model, e))?;
        Ok(answer.response)
    }

    /// Names of the models the server has (`/api/tags`); a cheap liveness check.
    pub async fn list_models(&self) -> Result<Vec<String>, AgentError> {
        let models = bounded(
            &self.host,
            &self.model,
            self.timeout,
            self.client.list_local_models(),
        )
        .await?
        .map_err(|e| map_ollama_error(&self.host, &self.model, e))?;
        Ok(models.into_iter().map(|m| m.name).collect())
    }
}

#[async_trait]
impl Generator for OllamaGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    async fn generate(
        &self,
        system: &str,
        prompt: &str,
        options: &GenerationOptions,
    ) -> Result<String, AgentError> {
        self.chat(system, prompt, options).await
    }
}
