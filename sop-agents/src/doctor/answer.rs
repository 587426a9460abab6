//! The Doctor's output: ranked conditions with their supporting cases ([`Diagnosis`]), and
//! the final [`Answer`] — an LLM text grounded on the diagnosis, or the evidence itself.
//!
//! Invariant: every condition and case an answer shows comes from the knowledge base; the LLM
//! prompt contains only the user's words, the Nurse's terms and the retrieved cases.

use std::fmt::Write as _;

use crate::doctor::case::Case;
use crate::nurse::{Translation, TranslationSource};

/// The notice closing every evidence answer.
pub const DISCLAIMER: &str = "This is not a diagnosis; please consult a clinician.";

/// A ranked condition and the cases supporting it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionEvidence {
    /// Condition name.
    pub condition: String,
    /// Aggregated fused score.
    pub score: f64,
    /// Supporting cases, best first.
    pub cases: Vec<Case>,
}

/// Retrieval and ranking result for one question.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The user's words.
    pub question: String,
    /// The Nurse's translation.
    pub translation: Translation,
    /// Ranked conditions, best first (at most `policies.max_results`).
    pub conditions: Vec<ConditionEvidence>,
}

impl Diagnosis {
    /// Condition names, best first.
    pub fn condition_names(&self) -> Vec<&str> {
        self.conditions
            .iter()
            .map(|c| c.condition.as_str())
            .collect()
    }

    /// The ranked conditions and their cases as plain text (also the LLM's grounding).
    pub fn evidence(&self) -> String {
        let mut out = String::new();
        let source = match self.translation.source {
            TranslationSource::Llm => "LLM",
            TranslationSource::Heuristic => "heuristic",
        };
        let terms = if self.translation.terms.is_empty() {
            "(none recognised)".to_string()
        } else {
            self.translation.terms.join(", ")
        };
        let _ = writeln!(out, "Clinical terms ({source} Nurse): {terms}");
        if self.conditions.is_empty() {
            let _ = writeln!(out, "No matching case in the knowledge base.");
        }
        for (i, c) in self.conditions.iter().enumerate() {
            let _ = writeln!(out, "{}. {} (score {:.4})", i + 1, c.condition, c.score);
            for case in &c.cases {
                let _ = writeln!(out, "   - case {}: {}", case.id, case.description);
            }
        }
        out
    }

    /// The prompt given to the LLM: question, terms and evidence.
    pub fn llm_prompt(&self) -> String {
        format!(
            "Patient's description: {}\n\n{}\nAnswer from these cases only: name the most \
             likely conditions, cite the case ids and the matching symptoms.",
            self.question.trim(),
            self.evidence()
        )
    }
}

/// Who wrote an [`Answer`]'s text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerSource {
    /// The named LLM, grounded on the diagnosis.
    Llm(String),
    /// No LLM: the ranked evidence.
    Evidence,
}

/// The Doctor's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Retrieval and ranking.
    pub diagnosis: Diagnosis,
    /// The answer text.
    pub text: String,
    /// Who wrote `text`.
    pub source: AnswerSource,
    /// Why the LLM was not used although one is configured.
    pub fallback_reason: Option<String>,
}

/// The evidence answer text.
pub fn evidence_answer(diagnosis: &Diagnosis) -> String {
    format!("{}{DISCLAIMER}", diagnosis.evidence())
}
