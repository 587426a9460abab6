//! `AgentEmbedder`: embeds a query as the user's text plus the Nurse's translation.
//!
//! The composed text puts the canonical terms first (they match the knowledge base's wording)
//! and the user's own words after them (they keep what the Nurse could not map). Documents are
//! embedded unchanged by the same base embedder, so queries and documents share one space.
//! Invariant: `dimensions()` and the vectors are exactly the base embedder's.

use std::sync::Arc;

use async_trait::async_trait;

use crate::embedder::Embedder;
use crate::error::AgentError;
use crate::nurse::Translation;

/// An [`Embedder`] wrapper that also embeds (text, translation) pairs; see the module docs.
#[derive(Clone)]
pub struct AgentEmbedder {
    base: Arc<dyn Embedder>,
}

impl std::fmt::Debug for AgentEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentEmbedder")
            .field("base", &self.base.name())
            .finish()
    }
}

impl AgentEmbedder {
    /// Wraps `base`.
    pub fn new(base: Arc<dyn Embedder>) -> Self {
        Self { base }
    }

    /// The wrapped embedder.
    pub fn base(&self) -> &Arc<dyn Embedder> {
        &self.base
    }

    /// The text embedded for a query: the canonical terms, then the user's words.
    pub fn compose(text: &str, terms: &[String]) -> String {
        match (terms.is_empty(), text.trim().is_empty()) {
            (true, _) => text.trim().to_string(),
            (false, true) => terms.join(", "),
            (false, false) => format!("{}. {}", terms.join(", "), text.trim()),
        }
    }

    /// Embeds `text` together with the Nurse's `translation`.
    pub async fn embed_query(
        &self,
        text: &str,
        translation: &Translation,
    ) -> Result<Vec<f32>, AgentError> {
        let composed = Self::compose(text, &translation.terms);
        let mut vectors = self.base.embed(&[composed]).await?;
        vectors.pop().ok_or_else(|| AgentError::Embedding {
            embedder: self.base.name().to_string(),
            message: "no vector returned for the query".into(),
        })
    }
}

#[async_trait]
impl Embedder for AgentEmbedder {
    fn name(&self) -> &str {
        self.base.name()
    }

    fn dimensions(&self) -> usize {
        self.base.dimensions()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, AgentError> {
        self.base.embed(texts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nurse::TranslationSource;
    use crate::simple_embedder::SimpleEmbedder;

    #[test]
    fn composes_terms_then_text() {
        let terms = vec!["vomiting".to_string(), "abdominal pain".to_string()];
        assert_eq!(
            AgentEmbedder::compose(" my tummy hurts ", &terms),
            "vomiting, abdominal pain. my tummy hurts"
        );
        assert_eq!(
            AgentEmbedder::compose("", &terms),
            "vomiting, abdominal pain"
        );
        assert_eq!(AgentEmbedder::compose("ouch", &[]), "ouch");
    }

    #[tokio::test]
    async fn query_vector_is_the_base_embedding_of_the_composition() -> Result<(), AgentError> {
        let base = SimpleEmbedder::new(64)?;
        let agent = AgentEmbedder::new(Arc::new(base.clone()));
        let translation = Translation {
            terms: vec!["headache".into()],
            source: TranslationSource::Heuristic,
            fallback_reason: None,
        };
        let v = agent.embed_query("my head hurts", &translation).await?;
        assert_eq!(v, base.embed_one("headache. my head hurts"));
        assert_eq!(agent.dimensions(), 64);
        Ok(())
    }
}
