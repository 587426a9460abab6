//! Where Ollama lives: `OLLAMA_HOST` resolution and client construction.
//!
//! Invariants: a resolved host always has a scheme and no trailing slash; the default is
//! `http://localhost:11434`; a bare `host:port` (Ollama's own convention) gets `http://`.

use ollama_rs::Ollama;

use crate::error::AgentError;

/// The environment variable naming the Ollama server.
pub const OLLAMA_HOST_ENV: &str = "OLLAMA_HOST";
/// The host used when `OLLAMA_HOST` is unset or blank.
pub const DEFAULT_OLLAMA_HOST: &str = "http://localhost:11434";

/// Normalises a host string: adds `http://` when there is no scheme, drops trailing slashes.
pub fn normalize_host(host: &str) -> String {
    let h = host.trim().trim_end_matches('/');
    if h.contains("://") {
        h.to_string()
    } else {
        format!("http://{h}")
    }
}

/// The host from `OLLAMA_HOST`, or the default.
pub fn host_from_env() -> String {
    match std::env::var(OLLAMA_HOST_ENV) {
        Ok(h) if !h.trim().is_empty() => normalize_host(&h),
        _ => DEFAULT_OLLAMA_HOST.to_string(),
    }
}

/// Builds an ollama-rs client for `host`; the error names the host and `model`.
pub fn client_for(host: &str, model: &str) -> Result<Ollama, AgentError> {
    Ollama::try_new(normalize_host(host)).map_err(|e| AgentError::Ollama {
        host: host.to_string(),
        model: model.to_string(),
        message: format!("invalid host URL: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(normalize_host("127.0.0.1:11434"), "http://127.0.0.1:11434");
        assert_eq!(normalize_host("http://x:1/"), "http://x:1");
        assert!(client_for("http://[bad", "m").is_err());
    }
}
