//! The LLM translation path of the Nurse.
//!
//! The system prompt carries the whole vocabulary and asks for a JSON array of terms; the
//! answer is parsed leniently (JSON array, `{"terms": [...]}`, or a comma/line separated list)
//! and validated: only vocabulary terms survive, canonically spelled, each once.
//! Invariants: a call never outlasts `timeout`; an answer with no vocabulary term is an error
//! (`AgentError::BadAnswer`) so the caller can fall back.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::AgentError;
use crate::generator::{GenerationOptions, Generator};
use crate::nurse::vocabulary::Vocabulary;

/// Default time budget of one LLM translation.
pub const DEFAULT_NURSE_TIMEOUT: Duration = Duration::from_secs(20);

/// Translates lay text with a [`Generator`], validating against a vocabulary.
#[derive(Clone)]
pub struct LlmTranslator {
    generator: Arc<dyn Generator>,
    options: GenerationOptions,
    timeout: Duration,
}

impl std::fmt::Debug for LlmTranslator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmTranslator")
            .field("generator", &self.generator.name())
            .field("options", &self.options)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The system prompt: the task, the output format and the full vocabulary, one term a line.
pub fn system_prompt(vocabulary: &Vocabulary) -> String {
    let mut s = String::from(
        "You are a triage nurse. Translate the patient's lay description into clinical \
         symptom terms. Use ONLY terms from the vocabulary below, spelled exactly as listed. \
         Answer with a JSON array of strings and nothing else, e.g. [\"vomiting\", \
         \"abdominal pain\"]. If nothing matches, answer [].\n\nVocabulary:\n",
    );
    for t in vocabulary.terms() {
        s.push_str("- ");
        s.push_str(t);
        s.push('\n');
    }
    s
}

/// The user prompt for one description.
pub fn user_prompt(text: &str) -> String {
    format!("Patient: {text}\nTerms:")
}

fn candidates(answer: &str) -> Vec<String> {
    let trimmed = answer.trim();
    // Prefer the first JSON array or object embedded in the answer.
    let json_slice = trimmed
        .find(['[', '{'])
        .and_then(|start| trimmed.rfind([']', '}']).map(|end| (start, end)))
        .filter(|(s, e)| s < e)
        .map(|(s, e)| &trimmed[s..=e]);
    if let Some(Ok(value)) = json_slice.map(serde_json::from_str::<Value>) {
        let items = match &value {
            Value::Array(items) => items.clone(),
            Value::Object(map) => map
                .values()
                .find_map(|v| v.as_array().cloned())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        return items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
    }
    trimmed
        .split([',', '\n', ';'])
        .map(|s| {
            s.trim()
                .trim_start_matches(['-', '*', '•', ' '])
                .trim_matches(['"', '\'', '.', '[', ']', ' '])
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parses an LLM answer into canonical vocabulary terms (out-of-vocabulary terms dropped).
pub fn parse_answer(answer: &str, vocabulary: &Vocabulary) -> Vec<String> {
    let mut seen = HashSet::new();
    candidates(answer)
        .iter()
        .filter_map(|c| vocabulary.canonical(c))
        .filter(|t| seen.insert(t.to_string()))
        .map(str::to_string)
        .collect()
}

impl LlmTranslator {
    /// A translator over `generator`, each call bounded by `timeout`.
    pub fn new(
        generator: Arc<dyn Generator>,
        options: GenerationOptions,
        timeout: Duration,
    ) -> Self {
        Self {
            generator,
            options,
            timeout,
        }
    }

    /// The generator's name.
    pub fn generator_name(&self) -> &str {
        self.generator.name()
    }

    /// The configured time budget.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Asks the LLM; returns validated terms, or an error when it failed, timed out or
    /// answered nothing inside the vocabulary.
    pub async fn translate(
        &self,
        text: &str,
        vocabulary: &Vocabulary,
    ) -> Result<Vec<String>, AgentError> {
        let system = system_prompt(vocabulary);
        let prompt = user_prompt(text);
        let call = self.generator.generate(&system, &prompt, &self.options);
        let answer = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| AgentError::Timeout {
                host: self.generator.name().to_string(),
                model: self.generator.name().to_string(),
                timeout: self.timeout,
            })??;
        let terms = parse_answer(&answer, vocabulary);
        if terms.is_empty() {
            return Err(AgentError::BadAnswer {
                host: self.generator.name().to_string(),
                model: self.generator.name().to_string(),
                message: format!("no vocabulary term in answer {:?}", truncate(&answer, 200)),
            });
        }
        Ok(terms)
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary::from_terms(["vomiting", "abdominal pain", "headache"])
    }

    #[test]
    fn parses_json_objects_and_lists_dropping_unknown_terms() {
        let v = vocab();
        assert_eq!(
            parse_answer(
                "Sure! [\"Vomiting\", \"tummy ache\", \"abdominal pain\"]",
                &v
            ),
            vec!["vomiting", "abdominal pain"]
        );
        assert_eq!(
            parse_answer("{\"terms\": [\"headache\"]}", &v),
            vec!["headache"]
        );
        assert_eq!(
            parse_answer("- headache\n- vomiting\n- vomiting\n- cancer", &v),
            vec!["headache", "vomiting"]
        );
        assert!(parse_answer("I don't know", &v).is_empty());
    }

    #[test]
    fn system_prompt_lists_every_term() {
        let p = system_prompt(&vocab());
        assert!(p.contains("- vomiting\n") && p.contains("- abdominal pain\n"));
    }
}
