//! The heuristic lay -> clinical translator (no LLM needed).
//!
//! Steps: tokenise; rewrite lay words (`LAY_WORDS`) and stem; then match two kinds of
//! patterns against the text, longest first: lay phrases (in order, small gaps allowed) and
//! the vocabulary's own terms (any order within a short window, fuzzy per word by edit
//! distance). A match whose words were all already used by a longer match is skipped ("slight
//! fever" beats "fever"); a match preceded by a negation ("no", "not", "without"...) is skipped.
//! Invariants: deterministic; output terms are canonical vocabulary terms, each once, in the
//! order they appear in the text.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::nurse::lay_phrases::{LAY_PHRASES, LAY_WORDS};
use crate::nurse::vocabulary::Vocabulary;
use crate::text::{edit_distance, is_stop_word, stem, tokenize};

/// Words that negate the symptom that follows them.
const NEGATIONS: &[&str] = &[
    "no", "not", "never", "without", "dont", "didnt", "doesnt", "havent", "hasnt", "nor",
];
/// How many tokens before a match are checked for a negation.
const NEGATION_REACH: usize = 3;
/// Extra tokens a lay phrase may be spread over (gaps).
const PHRASE_SLACK: usize = 3;
/// Extra content words a vocabulary term may be spread over.
const TERM_SLACK: usize = 2;

/// One normalised token of the input.
#[derive(Debug, Clone)]
struct Token {
    raw: String,
    stem: String,
    content: bool,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// Ordered stems over all tokens.
    Phrase(Vec<String>),
    /// Unordered fuzzy stems over content tokens.
    Term(Vec<String>),
}

#[derive(Debug, Clone)]
struct Pattern {
    matcher: Matcher,
    targets: Vec<String>,
}

impl Pattern {
    fn len(&self) -> usize {
        match &self.matcher {
            Matcher::Phrase(s) | Matcher::Term(s) => s.len(),
        }
    }
}

/// Translates lay descriptions into canonical vocabulary terms (see module docs).
#[derive(Debug, Clone)]
pub struct HeuristicTranslator {
    vocabulary: Vocabulary,
    lay_words: HashMap<String, String>,
    patterns: Vec<Pattern>,
}

impl HeuristicTranslator {
    /// A translator over `vocabulary` with the built-in lay tables.
    pub fn new(vocabulary: Vocabulary) -> Self {
        Self::with_synonyms(vocabulary, std::iter::empty::<(String, String)>())
    }

    /// A translator with extra `(lay phrase, vocabulary term)` synonyms (e.g. from a config).
    pub fn with_synonyms<I, K, V>(vocabulary: Vocabulary, synonyms: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let lay_words: HashMap<String, String> = LAY_WORDS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut t = Self {
            vocabulary,
            lay_words,
            patterns: Vec::new(),
        };
        // Group phrase targets by normalised pattern; BTreeMap keeps the build deterministic.
        let mut phrases: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
        let extra: Vec<(String, String)> = synonyms
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        let all = LAY_PHRASES
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(extra);
        for (phrase, target) in all {
            let Some(canonical) = t.vocabulary.canonical(&target).map(str::to_string) else {
                continue;
            };
            let stems: Vec<String> = t.normalize(&phrase).into_iter().map(|x| x.stem).collect();
            if stems.is_empty() {
                continue;
            }
            let entry = phrases.entry(stems).or_default();
            if !entry.contains(&canonical) {
                entry.push(canonical);
            }
        }
        let mut patterns: Vec<Pattern> = phrases
            .into_iter()
            .map(|(stems, targets)| Pattern {
                matcher: Matcher::Phrase(stems),
                targets,
            })
            .collect();
        for term in t.vocabulary.terms() {
            let stems: Vec<String> = t
                .normalize(term)
                .into_iter()
                .filter(|x| x.content)
                .map(|x| x.stem)
                .collect();
            if !stems.is_empty() {
                patterns.push(Pattern {
                    matcher: Matcher::Term(stems),
                    targets: vec![term.clone()],
                });
            }
        }
        // Longest first; stable sort keeps the deterministic build order among equals.
        patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
        t.patterns = patterns;
        t
    }

    /// The vocabulary this translator emits terms from.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    fn normalize(&self, text: &str) -> Vec<Token> {
        tokenize(text)
            .into_iter()
            .map(|raw| {
                let word = self
                    .lay_words
                    .get(&raw)
                    .cloned()
                    .unwrap_or_else(|| raw.clone());
                Token {
                    content: !is_stop_word(&word),
                    stem: stem(&word),
                    raw,
                }
            })
            .collect()
    }

    /// Translates a lay description into canonical vocabulary terms (see module docs).
    pub fn translate(&self, text: &str) -> Vec<String> {
        let tokens = self.normalize(text);
        let content: Vec<usize> = (0..tokens.len()).filter(|&i| tokens[i].content).collect();
        let mut consumed: HashSet<usize> = HashSet::new();
        let mut found: Vec<(usize, String)> = Vec::new();
        for pattern in &self.patterns {
            let positions = match &pattern.matcher {
                Matcher::Phrase(stems) => match_phrase(&tokens, stems),
                Matcher::Term(stems) => match_term(&tokens, &content, stems),
            };
            let Some(positions) = positions else {
                continue;
            };
            if positions.iter().all(|p| consumed.contains(p)) {
                continue;
            }
            let first = positions.iter().copied().min().unwrap_or(0);
            if is_negated(&tokens, first) {
                continue;
            }
            consumed.extend(positions.iter().copied());
            for target in &pattern.targets {
                found.push((first, target.clone()));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut seen = HashSet::new();
        found
            .into_iter()
            .filter(|(_, t)| seen.insert(t.clone()))
            .map(|(_, t)| t)
            .collect()
    }
}

fn is_negated(tokens: &[Token], first: usize) -> bool {
    let from = first.saturating_sub(NEGATION_REACH);
    tokens[from..first]
        .iter()
        .any(|t| NEGATIONS.contains(&t.raw.as_str()))
}

/// Ordered match of `stems` over all tokens within `len + PHRASE_SLACK` tokens.
fn match_phrase(tokens: &[Token], stems: &[String]) -> Option<Vec<usize>> {
    let span = stems.len() + PHRASE_SLACK;
    for start in 0..tokens.len() {
        if tokens[start].stem != stems[0] {
            continue;
        }
        let mut positions = vec![start];
        let mut next = start + 1;
        for s in &stems[1..] {
            let end = (start + span).min(tokens.len());
            match (next..end).find(|&i| &tokens[i].stem == s) {
                Some(i) => {
                    positions.push(i);
                    next = i + 1;
                }
                None => break,
            }
        }
        if positions.len() == stems.len() {
            return Some(positions);
        }
    }
    None
}

/// True when two stems are the same word up to a small edit distance.
fn fuzzy_eq(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let n = a.chars().count().min(b.chars().count());
    let budget = match n {
        0..=4 => 0,
        5..=7 => 1,
        _ => 2,
    };
    budget > 0 && edit_distance(a, b) <= budget
}

/// Unordered fuzzy match of `stems` over content tokens within `len + TERM_SLACK` of them.
fn match_term(tokens: &[Token], content: &[usize], stems: &[String]) -> Option<Vec<usize>> {
    let width = stems.len() + TERM_SLACK;
    for start in 0..content.len() {
        let window = &content[start..(start + width).min(content.len())];
        let mut used: Vec<usize> = Vec::with_capacity(stems.len());
        for s in stems {
            let hit = window
                .iter()
                .copied()
                .find(|i| !used.contains(i) && fuzzy_eq(&tokens[*i].stem, s));
            match hit {
                Some(i) => used.push(i),
                None => break,
            }
        }
        if used.len() == stems.len() && used.contains(&window[0]) {
            return Some(used);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nurse_vocab() -> Vocabulary {
        Vocabulary::from_terms([
            "vomiting",
            "abdominal pain",
            "breathlessness",
            "high fever",
            "mild fever",
            "diarrhoea",
            "loss of appetite",
            "excessive hunger",
            "chest pain",
            "headache",
        ])
    }

    #[test]
    fn lay_phrases_map_to_vocabulary_terms() {
        let t = HeuristicTranslator::new(nurse_vocab());
        assert_eq!(
            t.translate("my tummy hurts and I keep throwing up"),
            vec!["abdominal pain", "vomiting"]
        );
        assert_eq!(t.translate("I can't breathe"), vec!["breathlessness"]);
        assert_eq!(
            t.translate("puking and the runs"),
            vec!["vomiting", "diarrhoea"]
        );
    }

    #[test]
    fn longer_phrases_win_and_negations_are_skipped() {
        let t = HeuristicTranslator::new(nurse_vocab());
        assert_eq!(t.translate("a slight fever"), vec!["mild fever"]);
        assert_eq!(t.translate("I'm not hungry"), vec!["loss of appetite"]);
        assert!(t.translate("no headache").is_empty());
    }

    #[test]
    fn fuzzy_and_unordered_vocabulary_matches() {
        let t = HeuristicTranslator::new(nurse_vocab());
        assert_eq!(t.translate("bad diarrhea"), vec!["diarrhoea"]);
        assert_eq!(t.translate("crushing pain in my chest"), vec!["chest pain"]);
    }

    #[test]
    fn config_synonyms_extend_the_tables_and_oov_targets_are_ignored() {
        let t = HeuristicTranslator::with_synonyms(
            nurse_vocab(),
            [("gippy tummy", "diarrhoea"), ("zzz", "not a term")],
        );
        assert_eq!(t.translate("a gippy tummy"), vec!["diarrhoea"]);
        assert!(t.translate("zzz").is_empty());
    }
}
