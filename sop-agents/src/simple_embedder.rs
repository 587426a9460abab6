//! `SimpleEmbedder`: a dependency-free hashing bag-of-words embedder.
//!
//! Pipeline: tokenise -> synonym phrases -> drop stop words -> stem -> unigram (+ optional
//! bigram) features -> signed feature hashing (FNV-1a) into `dimensions` buckets -> L2
//! normalisation. Invariants: deterministic across runs and platforms; every non-empty output
//! has unit L2 norm; a text with no content words embeds to the zero vector.

use async_trait::async_trait;

use crate::embedder::Embedder;
use crate::error::AgentError;
use crate::synonyms::SynonymMap;
use crate::text::{fnv1a, is_stop_word, stem, tokenize};

/// Default width of a `SimpleEmbedder` vector.
pub const DEFAULT_SIMPLE_DIMS: usize = 1024;

/// Weight of a bigram feature relative to a unigram.
const BIGRAM_WEIGHT: f32 = 0.5;

/// Hashing bag-of-words embedder (see the module docs).
#[derive(Debug, Clone)]
pub struct SimpleEmbedder {
    name: String,
    dims: usize,
    synonyms: SynonymMap,
    bigrams: bool,
}

impl SimpleEmbedder {
    /// A `dims`-wide embedder without synonyms, with bigrams. `dims` must be > 0.
    pub fn new(dims: usize) -> Result<Self, AgentError> {
        if dims == 0 {
            return Err(AgentError::config(
                "embedder.dims",
                "must be greater than 0",
            ));
        }
        Ok(Self {
            name: format!("simple-{dims}"),
            dims,
            synonyms: SynonymMap::new(),
            bigrams: true,
        })
    }

    /// Sets the synonym phrases applied before hashing.
    pub fn with_synonyms(mut self, synonyms: SynonymMap) -> Self {
        self.synonyms = synonyms;
        self
    }

    /// Enables or disables word-bigram features.
    pub fn with_bigrams(mut self, bigrams: bool) -> Self {
        self.bigrams = bigrams;
        self
    }

    /// The content stems of `text` after synonyms and stop words (the hashed unigrams).
    pub fn features(&self, text: &str) -> Vec<String> {
        self.synonyms
            .apply(&tokenize(text))
            .into_iter()
            .filter(|t| !is_stop_word(t))
            .map(|t| stem(&t))
            .collect()
    }

    /// Embeds one text synchronously (the trait method batches over this).
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dims];
        let stems = self.features(text);
        for s in &stems {
            self.add_feature(&mut v, s.as_bytes(), 1.0);
        }
        if self.bigrams {
            for pair in stems.windows(2) {
                let key = format!("{}\u{1f}{}", pair[0], pair[1]);
                self.add_feature(&mut v, key.as_bytes(), BIGRAM_WEIGHT);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }

    fn add_feature(&self, v: &mut [f32], key: &[u8], weight: f32) {
        let h = fnv1a(key);
        // Truncation is intended: the bucket is h mod dims.
        let bucket = (h % self.dims as u64) as usize;
        let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
        v[bucket] += sign * weight;
    }
}

#[async_trait]
impl Embedder for SimpleEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, AgentError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

/// Cosine similarity of two vectors (0 when either is zero or lengths differ).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_normalised_and_synonym_aware() {
        let e = SimpleEmbedder::new(256)
            .expect("dims")
            .with_synonyms(SynonymMap::from_pairs([("throwing up", "vomiting")]));
        let a = e.embed_one("throwing up all night");
        let b = e.embed_one("vomiting all night");
        assert_eq!(a, e.embed_one("throwing up all night"));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(cosine(&a, &b) > 0.999);
        assert!(e.embed_one("the and of").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn zero_dims_is_a_config_error_naming_the_field() {
        let err = SimpleEmbedder::new(0).expect_err("zero dims");
        assert!(err.to_string().contains("embedder.dims"));
    }

    #[tokio::test]
    async fn batch_embed_keeps_order() {
        let e = SimpleEmbedder::new(64).expect("dims");
        let texts = vec!["cough".to_string(), "fever".to_string()];
        let out = e.embed(&texts).await.expect("embed");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], e.embed_one("cough"));
        assert_eq!(out[1].len(), 64);
    }
}
