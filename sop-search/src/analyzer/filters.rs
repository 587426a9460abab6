//! Token filters: the stages after the tokenizer.
//!
//! Owns the [`TokenFilter`] trait and the standard filters: [`LowerCaser`],
//! [`ApostropheNormalizer`], [`MaxLengthFilter`], [`StopWordFilter`] and [`SnowballStemmer`].
//! Invariant: a filter either rewrites a token in place or drops it; it never produces an
//! empty token (a filter that would, drops the token instead).

use std::collections::HashSet;
use std::fmt::{self, Debug};

use super::language::Language;

/// One stage of an analyzer after the tokenizer. Must be a pure function of the token (the
/// analyzer memoises the chain's outcome per raw token).
pub trait TokenFilter: Debug + Send + Sync {
    /// Rewrites `token` in place; returns `false` to drop it from the stream.
    fn apply(&self, token: &mut String) -> bool;
}

/// Lowercases tokens (full Unicode lowercase; ASCII is done in place without allocating).
#[derive(Debug, Clone, Copy, Default)]
pub struct LowerCaser;

impl TokenFilter for LowerCaser {
    fn apply(&self, token: &mut String) -> bool {
        if token.is_ascii() {
            token.make_ascii_lowercase();
        } else if token.chars().any(char::is_uppercase) {
            *token = token.to_lowercase();
        }
        true
    }
}

/// Maps typographic apostrophes (`’`, `‘`, `ʼ`) to `'`, so `don’t` meets the stop list and
/// the stemmer's possessive rule like `don't`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApostropheNormalizer;

impl TokenFilter for ApostropheNormalizer {
    fn apply(&self, token: &mut String) -> bool {
        if !token.is_ascii() && token.contains(['\u{2019}', '\u{2018}', '\u{02BC}']) {
            *token = token.replace(['\u{2019}', '\u{2018}', '\u{02BC}'], "'");
        }
        true
    }
}

/// Drops tokens longer than a byte limit (junk such as base64 or URLs run together).
#[derive(Debug, Clone, Copy)]
pub struct MaxLengthFilter {
    /// Tokens with more bytes than this are dropped.
    pub max_bytes: usize,
}

impl TokenFilter for MaxLengthFilter {
    fn apply(&self, token: &mut String) -> bool {
        token.len() <= self.max_bytes
    }
}

/// Drops tokens found in a stop-word set. Put it after [`LowerCaser`]: matching is exact.
#[derive(Debug, Clone, Default)]
pub struct StopWordFilter {
    words: HashSet<String>,
}

impl StopWordFilter {
    /// A filter dropping exactly `words`.
    pub fn new<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            words: words.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `word` is a stop word.
    pub fn contains(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    /// Number of stop words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

impl TokenFilter for StopWordFilter {
    fn apply(&self, token: &mut String) -> bool {
        !self.words.contains(token.as_str())
    }
}

/// Snowball stemming (rust-stemmers) for one [`Language`]. It keeps no memo of its own: an
/// [`crate::Analyzer`] memoises its whole filter chain per raw token, so each distinct word
/// is stemmed once per analyzer.
pub struct SnowballStemmer {
    language: Language,
    stemmer: rust_stemmers::Stemmer,
}

impl SnowballStemmer {
    /// A stemmer for `language`.
    pub fn new(language: Language) -> Self {
        Self {
            language,
            stemmer: rust_stemmers::Stemmer::create(language.algorithm()),
        }
    }

    /// The language this stemmer was built for.
    pub fn language(&self) -> Language {
        self.language
    }
}

impl Debug for SnowballStemmer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnowballStemmer")
            .field("language", &self.language)
            .finish()
    }
}

impl TokenFilter for SnowballStemmer {
    fn apply(&self, token: &mut String) -> bool {
        match self.stemmer.stem(token) {
            std::borrow::Cow::Owned(stem) if stem.is_empty() => false,
            std::borrow::Cow::Owned(stem) => {
                *token = stem;
                true
            }
            std::borrow::Cow::Borrowed(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(filter: &dyn TokenFilter, token: &str) -> Option<String> {
        let mut t = token.to_owned();
        filter.apply(&mut t).then_some(t)
    }

    #[test]
    fn lowercases_ascii_and_unicode() {
        assert_eq!(run(&LowerCaser, "FoX").as_deref(), Some("fox"));
        assert_eq!(run(&LowerCaser, "ÉCOLE").as_deref(), Some("école"));
    }

    #[test]
    fn normalizes_typographic_apostrophes() {
        assert_eq!(
            run(&ApostropheNormalizer, "don’t").as_deref(),
            Some("don't")
        );
    }

    #[test]
    fn drops_stop_words_and_long_tokens() {
        let stop = StopWordFilter::new(["the", "of"]);
        assert_eq!(run(&stop, "the"), None);
        assert_eq!(run(&stop, "fox").as_deref(), Some("fox"));
        let long = MaxLengthFilter { max_bytes: 3 };
        assert_eq!(run(&long, "abcd"), None);
        assert_eq!(run(&long, "abc").as_deref(), Some("abc"));
    }

    #[test]
    fn stems_english() {
        let s = SnowballStemmer::new(Language::English);
        assert_eq!(run(&s, "running").as_deref(), Some("run"));
        assert_eq!(run(&s, "foxes").as_deref(), Some("fox"));
        assert_eq!(run(&s, "aerodynamics").as_deref(), Some("aerodynam"));
        assert_eq!(run(&s, "fox").as_deref(), Some("fox"));
    }
}
