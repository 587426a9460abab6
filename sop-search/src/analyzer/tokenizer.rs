//! Tokenizers: the first stage of an analyzer, splitting text into raw tokens.
//!
//! Owns the [`Tokenizer`] trait and [`UnicodeWordTokenizer`]. Invariant: a tokenizer emits
//! tokens in text order and never emits an empty token; for ASCII text the word scanner
//! here emits exactly the words of `unicode-segmentation` (differential tests check it on
//! random text and on all of Cranfield), only faster.

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
        if text.is_ascii() {
            ascii_words(text, sink);
            return;
        }
        for word in text.unicode_words() {
            if !word.is_empty() {
                sink(word);
            }
        }
    }
}

/// Byte classes of the ASCII scanner: letters, digits and `_` (UAX #29 ALetter, Numeric and
/// ExtendNumLet within ASCII), whose runs never break.
const WORD: u8 = 1;
const LETTER: u8 = 2;
const DIGIT: u8 = 4;

/// The class bits of every byte (non-ASCII bytes never reach the scanner).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            WORD | LETTER
        } else if c.is_ascii_digit() {
            WORD | DIGIT
        } else if c == b'_' {
            WORD
        } else {
            0
        };
        b += 1;
    }
    t
};

#[inline]
fn class(b: u8) -> u8 {
    CLASS[b as usize]
}

/// The UAX #29 words of ASCII `text` that contain a letter or digit, as `unicode_words`
/// finds them. Within ASCII the rules reduce to: runs of letters, digits and `_` stay
/// together (WB5, WB8–WB10, WB13a/b), and a single `:`, `.` or `'` joins two letters
/// (WB6/WB7) while a single `,`, `;`, `.` or `'` joins two digits (WB11/WB12); everything
/// else breaks and is not a word.
fn ascii_words(text: &str, sink: &mut dyn FnMut(&str)) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if class(b[i]) & WORD == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let mut alphanumeric = false;
        loop {
            while let Some(&c) = b.get(i) {
                let k = class(c);
                if k & WORD == 0 {
                    break;
                }
                alphanumeric |= k != WORD;
                i += 1;
            }
            let (Some(&mid), Some(&next)) = (b.get(i), b.get(i + 1)) else {
                break;
            };
            let joint = class(b[i - 1]) & class(next);
            let joins = (joint & LETTER != 0 && matches!(mid, b':' | b'.' | b'\''))
                || (joint & DIGIT != 0 && matches!(mid, b',' | b';' | b'.' | b'\''));
            if !joins {
                break;
            }
            i += 1;
        }
        if alphanumeric {
            sink(&text[start..i]);
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
    fn ascii_scanner_agrees_with_unicode_segmentation() {
        const ALPHABET: &[u8] = b"aZq09_.:',;- \n\r\t\"!?()/$%e7";
        let mut state = 0x9E37_79B9_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..50_000 {
            let len = (next() % 16) as usize;
            let text: String = (0..len)
                .map(|_| char::from(ALPHABET[(next() % ALPHABET.len() as u64) as usize]))
                .collect();
            let mut fast = Vec::new();
            ascii_words(&text, &mut |w| fast.push(w.to_owned()));
            let reference: Vec<&str> = text.unicode_words().collect();
            assert_eq!(fast, reference, "{text:?}");
        }
    }

    #[test]
    fn cranfield_texts_tokenize_as_unicode_words() {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/cranfield");
        let ds = crate::BeirDataset::load(&dir).expect("load datasets/cranfield");
        let texts = ds
            .corpus
            .iter()
            .map(|d| d.full_text())
            .chain(ds.queries.iter().map(|q| q.text.clone()));
        let mut count = 0;
        for text in texts {
            let reference: Vec<&str> = text.unicode_words().collect();
            assert_eq!(words(&text), reference, "{text:?}");
            count += reference.len();
        }
        assert!(count > 200_000, "only {count} words");
    }

    #[test]
    fn non_ascii_text_takes_the_unicode_path() {
        let text = "naïve café, don’t stop: 3.5 km — Zürich’s 1,000 r\u{e9}sum\u{e9}s";
        let reference: Vec<&str> = text.unicode_words().collect();
        assert_eq!(words(text), reference);
        assert!(reference.contains(&"naïve") && reference.contains(&"1,000"));
    }

    #[test]
    fn empty_and_punctuation_only_text_gives_nothing() {
        assert!(words("").is_empty());
        assert!(words(" ,.;-- /!").is_empty());
    }
}
