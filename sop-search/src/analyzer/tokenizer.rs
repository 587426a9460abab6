//! Tokenizers: the first stage of an analyzer, splitting text into raw tokens.
//!
//! Owns the [`Tokenizer`] trait and [`UnicodeWordTokenizer`]. Invariant: a tokenizer emits
//! tokens in text order and never emits an empty token.

use std::fmt::Debug;

use unicode_segmentation::UnicodeSegmentation;

/// Splits text into raw tokens, calling `sink` once per token in text order.
pub trait Tokenizer: Debug + Send + Sync {
    /// Emits every token of `text`, in order, to `sink`. Tokens are never empty.
    fn tokenize(&self, text: &str, sink: &mut dyn FnMut(&str));
}

/// Splits on Unicode (UAX #29) word boundaries and keeps only "words": runs containing at
/// least one letter or digit (punctuation and whitespace are dropped). `3.5`, `don't` and
/// `naïve` are one token each; `boundary-layer` is two.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnicodeWordTokenizer;

impl Tokenizer for UnicodeWordTokenizer {
    fn tokenize(&self, text: &str, sink: &mut dyn FnMut(&str)) {
        for word in text.unicode_words() {
            if !word.is_empty() {
                sink(word);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        UnicodeWordTokenizer.tokenize(text, &mut |w| out.push(w.to_owned()));
        out
    }

    #[test]
    fn splits_on_word_boundaries_and_drops_punctuation() {
        assert_eq!(
            words("The quick (brown) fox -- boundary-layer, M = 3.5!"),
            vec!["The", "quick", "brown", "fox", "boundary", "layer", "M", "3.5"]
        );
    }

    #[test]
    fn keeps_contractions_and_non_ascii_words() {
        assert_eq!(
            words("don't stop naïve café"),
            vec!["don't", "stop", "naïve", "café"]
        );
    }

    #[test]
    fn empty_and_punctuation_only_text_gives_nothing() {
        assert!(words("").is_empty());
        assert!(words(" ,.;-- /!").is_empty());
    }
}
