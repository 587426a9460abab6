//! `Nurse`: the LLM path with validation, falling back to the heuristic translator.
//!
//! Invariants: `translate` never fails — when the LLM is absent, unreachable, slow (beyond
//! its timeout) or answers nothing inside the vocabulary, the heuristic answers, and the
//! returned [`Translation`] says which path answered and why a fallback happened.

use crate::nurse::heuristic::HeuristicTranslator;
use crate::nurse::llm::LlmTranslator;
use crate::nurse::vocabulary::Vocabulary;

/// Which path produced a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranslationSource {
    /// The LLM answered with vocabulary terms.
    Llm,
    /// The heuristic translator answered.
    Heuristic,
}

/// The Nurse's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// Canonical vocabulary terms, each once.
    pub terms: Vec<String>,
    /// Which path produced `terms`.
    pub source: TranslationSource,
    /// Why the LLM was not used, when an LLM was configured but the heuristic answered.
    pub fallback_reason: Option<String>,
}

/// Lay description -> canonical terms (see module docs).
#[derive(Debug, Clone)]
pub struct Nurse {
    heuristic: HeuristicTranslator,
    llm: Option<LlmTranslator>,
}

impl Nurse {
    /// A Nurse that only uses the heuristic translator.
    pub fn heuristic_only(heuristic: HeuristicTranslator) -> Self {
        Self {
            heuristic,
            llm: None,
        }
    }

    /// A Nurse that asks the LLM first and falls back to `heuristic`.
    pub fn with_llm(heuristic: HeuristicTranslator, llm: LlmTranslator) -> Self {
        Self {
            heuristic,
            llm: Some(llm),
        }
    }

    /// The vocabulary terms are drawn from.
    pub fn vocabulary(&self) -> &Vocabulary {
        self.heuristic.vocabulary()
    }

    /// True when an LLM path is configured.
    pub fn has_llm(&self) -> bool {
        self.llm.is_some()
    }

    /// Translates `text` (never fails; see module docs).
    pub async fn translate(&self, text: &str) -> Translation {
        let fallback_reason = match &self.llm {
            None => None,
            Some(llm) => match llm.translate(text, self.vocabulary()).await {
                Ok(terms) => {
                    return Translation {
                        terms,
                        source: TranslationSource::Llm,
                        fallback_reason: None,
                    }
                }
                Err(e) => Some(e.to_string()),
            },
        };
        Translation {
            terms: self.heuristic.translate(text),
            source: TranslationSource::Heuristic,
            fallback_reason,
        }
    }
}
