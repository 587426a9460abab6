//! `Vocabulary`: the canonical clinical terms an agent may output.
//!
//! Invariants: terms are stored trimmed, lower-case, with single spaces, first occurrence
//! wins, insertion order is kept; lookups are case-, spacing- and inflection-insensitive
//! (two spellings with the same content stems name the same term).

use std::collections::HashMap;

use serde::Deserialize;

use crate::error::AgentError;
use crate::text::content_stems;

/// The closed set of canonical terms (see module docs).
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    terms: Vec<String>,
    by_key: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct TermItem {
    text: String,
}

/// Normalises a term's spelling: trimmed, lower-case, single spaces.
pub fn normalize_term(term: &str) -> String {
    term.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn key_of(term: &str) -> String {
    let stems = content_stems(term);
    if stems.is_empty() {
        normalize_term(term)
    } else {
        stems.join(" ")
    }
}

impl Vocabulary {
    /// An empty vocabulary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a vocabulary from terms (duplicates and blanks are skipped).
    pub fn from_terms<I, S>(terms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut v = Self::new();
        for t in terms {
            v.insert(t.as_ref());
        }
        v
    }

    /// Parses a JSON array of `{ "text": term, ... }` items (the `nurse_data.json` layout).
    pub fn from_json_items(json: &str, what: &str) -> Result<Self, AgentError> {
        let items: Vec<TermItem> = serde_json::from_str(json).map_err(|e| AgentError::Parse {
            what: what.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self::from_terms(items.iter().map(|i| i.text.as_str())))
    }

    /// Adds the symptoms listed in case descriptions (`"Symptoms: a, b, c"`).
    pub fn extend_from_descriptions<I, S>(&mut self, descriptions: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for d in descriptions {
            for term in symptom_list(d.as_ref()) {
                self.insert(&term);
            }
        }
    }

    /// Adds one term; returns false when it was blank or already present.
    pub fn insert(&mut self, term: &str) -> bool {
        let norm = normalize_term(term);
        if norm.is_empty() {
            return false;
        }
        let key = key_of(&norm);
        if self.by_key.contains_key(&key) {
            return false;
        }
        self.by_key.insert(key, self.terms.len());
        self.terms.push(norm);
        true
    }

    /// The canonical spelling of `term`, when it names a vocabulary term.
    pub fn canonical(&self, term: &str) -> Option<&str> {
        self.by_key
            .get(&key_of(term))
            .map(|&i| self.terms[i].as_str())
    }

    /// True when `term` names a vocabulary term.
    pub fn contains(&self, term: &str) -> bool {
        self.canonical(term).is_some()
    }

    /// All terms, in insertion order.
    pub fn terms(&self) -> &[String] {
        &self.terms
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// True when there is no term.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// Splits a case description (`"Symptoms: a, b, c"`) into normalised symptom terms.
pub fn symptom_list(description: &str) -> Vec<String> {
    let body = description
        .split_once(':')
        .map_or(description, |(_, rest)| rest);
    body.split([',', ';'])
        .map(normalize_term)
        .filter(|t| !t.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_insensitive_to_case_spacing_and_inflection() {
        let mut v = Vocabulary::from_terms(["Abdominal Pain", "vomiting", "vomiting"]);
        v.extend_from_descriptions(["Symptoms: itching, dischromic  patches"]);
        assert_eq!(v.len(), 4);
        assert_eq!(v.canonical("abdominal  pains"), Some("abdominal pain"));
        assert_eq!(
            v.canonical("Dischromic patches"),
            Some("dischromic patches")
        );
        assert!(!v.contains("headache"));
    }

    #[test]
    fn bad_json_is_a_parse_error_naming_the_source() {
        let err = Vocabulary::from_json_items("[{", "nurse_data.json").expect_err("bad json");
        assert!(err.to_string().contains("nurse_data.json"));
    }
}
