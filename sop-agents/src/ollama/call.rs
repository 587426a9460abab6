//! Shared plumbing for Ollama calls: time bounds and error mapping.
//!
//! Invariant: every Ollama call of this crate goes through [`bounded`], so none can hang
//! longer than its configured timeout.

use std::future::Future;
use std::time::Duration;

use ollama_rs::error::OllamaError;

use crate::error::AgentError;

/// Runs `fut` with a time budget; on expiry returns `AgentError::Timeout` naming host/model.
pub async fn bounded<T>(
    host: &str,
    model: &str,
    timeout: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, AgentError> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| AgentError::Timeout {
            host: host.to_string(),
            model: model.to_string(),
            timeout,
        })
}

/// Converts an ollama-rs error into an `AgentError` naming host and model.
pub fn map_ollama_error(host: &str, model: &str, error: OllamaError) -> AgentError {
    let message = match &error {
        OllamaError::ReqwestError(e) if e.is_connect() => {
            format!("unreachable: {}", with_sources(e))
        }
        OllamaError::JsonError(e) => {
            return AgentError::BadAnswer {
                host: host.to_string(),
                model: model.to_string(),
                message: format!("unexpected JSON: {e}"),
            }
        }
        other => with_sources(other),
    };
    AgentError::Ollama {
        host: host.to_string(),
        model: model.to_string(),
        message,
    }
}

/// `error` followed by its chain of sources, `: `-separated.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}
