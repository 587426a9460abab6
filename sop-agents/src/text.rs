//! Text normalisation shared by the embedder, the heuristic Nurse and BM25-style scoring.
//!
//! Invariants: all functions are pure and deterministic; tokens are lower-case, contain only
//! alphanumerics (apostrophes are dropped, so "can't" becomes "cant"), and stems come from the
//! Snowball English stemmer.

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

/// English stop words dropped before hashing/matching (negations are kept: they carry meaning).
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "always", "am", "an", "and", "any", "are",
    "around", "as", "at", "be", "been", "before", "being", "bit", "but", "by", "can", "could",
    "day", "days", "did", "do", "does", "doing", "down", "during", "each", "even", "feel",
    "feeling", "feels", "felt", "for", "from", "get", "getting", "got", "had", "has", "have",
    "having", "he", "her", "here", "him", "his", "how", "i", "if", "im", "in", "into", "is", "it",
    "its", "ive", "just", "keep", "keeps", "kind", "lately", "like", "look", "looks", "lot", "me",
    "more", "most", "much", "my", "myself", "of", "off", "on", "once", "only", "or", "other",
    "our", "out", "over", "quite", "really", "recently", "same", "she", "since", "so", "some",
    "still", "such", "symptom", "symptoms", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "through", "time", "to", "too", "up", "very", "was",
    "we", "week", "weeks", "were", "what", "when", "where", "which", "while", "who", "with",
    "would", "you", "your",
];

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Splits `text` into lower-case word tokens (apostrophes removed, punctuation dropped).
pub fn tokenize(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase().replace(['\'', '’'], "");
    lowered
        .unicode_words()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// True when `token` (lower-case) is a stop word.
pub fn is_stop_word(token: &str) -> bool {
    STOP_WORDS.binary_search(&token).is_ok()
}

/// The Snowball English stem of a lower-case token.
pub fn stem(token: &str) -> String {
    stemmer().stem(token).into_owned()
}

/// Tokenises, drops stop words and stems: the "content stems" of a text, in order.
pub fn content_stems(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .filter(|t| !is_stop_word(t))
        .map(|t| stem(&t))
        .collect()
}

/// Levenshtein edit distance between two strings (by chars).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// FNV-1a 64-bit hash: stable across runs and platforms (used for feature hashing).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOP_WORDS.to_vec());
    }

    #[test]
    fn tokenize_drops_apostrophes_and_punctuation() {
        assert_eq!(
            tokenize("I can't BREATHE, ok?"),
            vec!["i", "cant", "breathe", "ok"]
        );
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("diarrhea", "diarrhoea"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn content_stems_stem_and_filter() {
        assert_eq!(content_stems("my knees are aching"), vec!["knee", "ach"]);
    }
}
