//! The `Embedder` abstraction: text in, fixed-width vectors out.
//!
//! Invariants every implementation keeps: `embed` returns exactly one vector per input text,
//! in input order, each of length `dimensions()`.

use async_trait::async_trait;

use crate::error::AgentError;

/// Turns texts into dense vectors of a fixed width.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// A short, stable name (used in logs, errors and fingerprints).
    fn name(&self) -> &str;
    /// Width of every vector this embedder returns.
    fn dimensions(&self) -> usize;
    /// Embeds a batch of texts; one vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, AgentError>;
}
