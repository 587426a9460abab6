//! `SynonymMap`: phrase-level rewriting of token sequences ("throw up" -> "vomiting").
//!
//! Invariants: keys and replacements are stored tokenised (see [`crate::text::tokenize`]);
//! rewriting is greedy, left to right, longest phrase first, and never rewrites its own
//! output, so it always terminates and is deterministic.

use std::collections::BTreeMap;

use crate::text::tokenize;

/// A map of phrases to replacement phrases, applied to token sequences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynonymMap {
    /// Phrase tokens -> replacement tokens (BTreeMap: deterministic iteration).
    entries: BTreeMap<Vec<String>, Vec<String>>,
    /// Longest phrase length, in tokens.
    max_len: usize,
}

impl SynonymMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a map from `(phrase, replacement)` pairs; empty phrases are ignored.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut map = Self::new();
        for (k, v) in pairs {
            map.insert(k.as_ref(), v.as_ref());
        }
        map
    }

    /// Adds (or replaces) one phrase.
    pub fn insert(&mut self, phrase: &str, replacement: &str) {
        let key = tokenize(phrase);
        if key.is_empty() {
            return;
        }
        self.max_len = self.max_len.max(key.len());
        self.entries.insert(key, tokenize(replacement));
    }

    /// Number of phrases.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no phrase is defined.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Rewrites `tokens`: each longest matching phrase is replaced by its replacement.
    pub fn apply(&self, tokens: &[String]) -> Vec<String> {
        if self.entries.is_empty() {
            return tokens.to_vec();
        }
        let mut out = Vec::with_capacity(tokens.len());
        let mut i = 0;
        while i < tokens.len() {
            let longest = self.max_len.min(tokens.len() - i);
            let hit = (1..=longest)
                .rev()
                .find_map(|n| self.entries.get(&tokens[i..i + n]).map(|r| (n, r)));
            match hit {
                Some((n, replacement)) => {
                    out.extend(replacement.iter().cloned());
                    i += n;
                }
                None => {
                    out.push(tokens[i].clone());
                    i += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_phrase_wins_and_output_is_not_rewritten() {
        let map = SynonymMap::from_pairs([
            ("throw up", "vomiting"),
            ("throw", "toss"),
            ("vomiting", "x"),
        ]);
        let out = map.apply(&tokenize("I throw up and throw"));
        assert_eq!(out, vec!["i", "vomiting", "and", "toss"]);
    }
}
