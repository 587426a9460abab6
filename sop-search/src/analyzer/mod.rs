//! The analyzer pipeline: text → terms.
//!
//! Owns [`Analyzer`] (a [`Tokenizer`] followed by [`TokenFilter`]s, in the style of tantivy),
//! its builder, the serialisable [`AnalyzerConfig`] and [`TermFrequencies`].
//! Invariants: analysis is a pure function of the configuration and the text (the same text
//! always gives the same terms, in text order); no emitted term is empty; documents and
//! queries must go through the same analyzer for scores to mean anything.

mod filters;
mod language;
mod memo;
mod stop_words;
mod tokenizer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use memo::{MemoPool, MemoState};

use serde::{Deserialize, Serialize};

pub use filters::{
    ApostropheNormalizer, LowerCaser, MaxLengthFilter, SnowballStemmer, StopWordFilter, TokenFilter,
};
pub use language::Language;
pub use memo::{MAX_ANALYSIS_THREADS, TOKEN_MEMO_ENTRIES};
pub use stop_words::{LUCENE_ENGLISH, NLTK_ENGLISH};
pub use tokenizer::{Tokenizer, UnicodeWordTokenizer};

/// Tokens longer than this many bytes are dropped by the configured analyzers.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 40;

/// Which stop words an [`AnalyzerConfig`] removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopWords {
    /// Keep every token.
    None,
    /// Lucene's 33-word English list ([`LUCENE_ENGLISH`]).
    LuceneEnglish,
    /// NLTK's 179-word English list ([`NLTK_ENGLISH`]).
    NltkEnglish,
    /// A caller-supplied list (matched after lowercasing).
    Custom(Vec<String>),
}

impl StopWords {
    /// The words of this list.
    pub fn words(&self) -> Vec<String> {
        match self {
            StopWords::None => Vec::new(),
            StopWords::LuceneEnglish => LUCENE_ENGLISH.iter().map(|w| (*w).to_owned()).collect(),
            StopWords::NltkEnglish => NLTK_ENGLISH.iter().map(|w| (*w).to_owned()).collect(),
            StopWords::Custom(words) => words.iter().map(|w| w.to_lowercase()).collect(),
        }
    }
}

/// A serialisable description of an analyzer, e.g. to persist next to an index so queries are
/// analysed exactly like the documents were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzerConfig {
    /// Stemming language (also selects nothing else: stop words are set separately).
    pub language: Language,
    /// Whether to apply the Snowball stemmer.
    pub stemming: bool,
    /// Which stop words to drop.
    pub stop_words: StopWords,
    /// Tokens longer than this many bytes are dropped.
    pub max_token_bytes: usize,
}

impl AnalyzerConfig {
    /// The English default: Unicode words, lowercase, NLTK English stop words, English
    /// Snowball stemming. On Cranfield (title + text, BM25 defaults) NLTK's list gives
    /// nDCG@10 0.367 against 0.358 with Lucene's and 0.359 with none; without stemming
    /// 0.340 (`examples/cranfield_tuning.rs` reproduces the table).
    pub fn english() -> Self {
        Self {
            language: Language::English,
            stemming: true,
            stop_words: StopWords::NltkEnglish,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }

    /// Stemming for `language` and no stop words (the lists shipped here are English only).
    pub fn for_language(language: Language) -> Self {
        Self {
            language,
            stemming: true,
            stop_words: StopWords::None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }

    /// Builds the analyzer this configuration describes.
    pub fn build(&self) -> Analyzer {
        let mut builder = Analyzer::builder(UnicodeWordTokenizer)
            .filter(MaxLengthFilter {
                max_bytes: self.max_token_bytes,
            })
            .filter(LowerCaser)
            .filter(ApostropheNormalizer);
        let stop = self.stop_words.words();
        if !stop.is_empty() {
            builder = builder.filter(StopWordFilter::new(stop));
        }
        if self.stemming {
            builder = builder.filter(SnowballStemmer::new(self.language));
        }
        builder.build()
    }
}

/// Analyzers built by [`AnalyzerConfig::shared`], most recent first.
static SHARED: Mutex<Vec<(AnalyzerConfig, Analyzer)>> = Mutex::new(Vec::new());
/// Configurations [`SHARED`] remembers.
const SHARED_ENTRIES: usize = 16;

impl AnalyzerConfig {
    /// The analyzer of this configuration, built once per process and shared (so an index
    /// opened in every transaction keeps its stop-word set and stemming memo warm).
    pub fn shared(&self) -> Analyzer {
        // The list is always consistent: a poisoned lock carries no meaning here.
        let mut built = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, a)) = built.iter().find(|(c, _)| c == self) {
            return a.clone();
        }
        let analyzer = self.build();
        built.insert(0, (self.clone(), analyzer.clone()));
        built.truncate(SHARED_ENTRIES);
        analyzer
    }
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self::english()
    }
}

/// Term counts of one analysed text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TermFrequencies {
    /// Distinct terms with their counts, sorted by term.
    pub terms: Vec<(String, u32)>,
    /// Number of terms emitted (the BM25 document length).
    pub length: u32,
}

/// A tokenizer followed by an ordered chain of filters. Cheap to clone (stages are shared).
///
/// Filters are pure, so the outcome of the whole chain is memoised per raw token (words
/// repeat with a Zipf distribution; the Snowball stemmer dominated indexing time), and each
/// distinct term is interned once (see `memo`).
#[derive(Debug, Clone)]
pub struct Analyzer {
    tokenizer: Arc<dyn Tokenizer>,
    filters: Vec<Arc<dyn TokenFilter>>,
    memos: Arc<MemoPool>,
}

/// Builds an [`Analyzer`] stage by stage.
#[derive(Debug)]
pub struct AnalyzerBuilder {
    analyzer: Analyzer,
}

impl AnalyzerBuilder {
    /// Appends a filter (filters run in the order added).
    pub fn filter<F: TokenFilter + 'static>(mut self, filter: F) -> Self {
        self.analyzer.filters.push(Arc::new(filter));
        self
    }

    /// Finishes the analyzer.
    pub fn build(self) -> Analyzer {
        self.analyzer
    }
}

impl Analyzer {
    /// Starts an analyzer with `tokenizer` and no filters.
    pub fn builder<T: Tokenizer + 'static>(tokenizer: T) -> AnalyzerBuilder {
        AnalyzerBuilder {
            analyzer: Analyzer {
                tokenizer: Arc::new(tokenizer),
                filters: Vec::new(),
                memos: Arc::default(),
            },
        }
    }

    /// The default English analyzer ([`AnalyzerConfig::english`]).
    pub fn english() -> Self {
        AnalyzerConfig::english().build()
    }

    /// Analyses `text` into terms, in text order.
    pub fn analyze(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.analyze_into(text, &mut out);
        out
    }

    /// Appends the terms of `text` to `out` (reuse `out` across calls to save allocations).
    pub fn analyze_into(&self, text: &str, out: &mut Vec<String>) {
        let mut memo = self.memos.get(0).lock();
        let mut ids = Vec::new();
        self.term_ids(&mut memo, text, &mut ids);
        out.extend(ids.iter().map(|&id| String::from(&**memo.term(id))));
    }

    /// Appends the memo id of each term of `text` to `ids`, in text order.
    fn term_ids(&self, memo: &mut MemoState, text: &str, ids: &mut Vec<u32>) {
        self.tokenizer.tokenize(text, &mut |raw| {
            ids.extend(memo.lookup(raw, |token| self.run_filters(token)));
        });
    }

    /// Runs the filter chain on `token`; `false` if a filter dropped it.
    fn run_filters(&self, token: &mut String) -> bool {
        self.filters.iter().all(|f| f.apply(token))
    }

    /// Analyses `text` and counts its terms (sorted by term).
    pub fn term_frequencies(&self, text: &str) -> TermFrequencies {
        let counts = self.term_counts(text);
        let mut terms: Vec<(String, u32)> = counts
            .terms
            .into_iter()
            .map(|(t, n)| (String::from(&*t), n))
            .collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        TermFrequencies {
            terms,
            length: counts.length,
        }
    }

    /// Analyses `text` and counts its terms without copying them: each distinct term once,
    /// as the analyzer's interned string, in order of first occurrence. The fast path of
    /// indexing.
    pub fn term_counts(&self, text: &str) -> TermCounts {
        let mut memo = self.memos.get(0).lock();
        self.count_with(&mut memo, text)
    }

    /// [`Self::term_counts`] of every text, in order. A batch of at least
    /// [`PARALLEL_BATCH_BYTES`] is split into contiguous runs of about equal size analysed
    /// on scoped threads (one per core, each with its own memo); the calling thread
    /// analyses the first run. The counts are the same as one by one.
    pub fn term_counts_batch<T: AsRef<str> + Sync>(&self, texts: &[T]) -> Vec<TermCounts> {
        let bytes: usize = texts.iter().map(|t| t.as_ref().len()).sum();
        let threads = self.memos.len().min(texts.len());
        if threads < 2 || bytes < PARALLEL_BATCH_BYTES {
            let mut memo = self.memos.get(0).lock();
            return texts
                .iter()
                .map(|t| self.count_with(&mut memo, t.as_ref()))
                .collect();
        }
        let runs = split_by_bytes(texts, threads);
        let analyse = |worker: usize, run: &[T]| {
            let mut memo = self.memos.get(worker).lock();
            run.iter()
                .map(|t| self.count_with(&mut memo, t.as_ref()))
                .collect::<Vec<_>>()
        };
        std::thread::scope(|scope| {
            let helpers: Vec<_> = runs[1..]
                .iter()
                .enumerate()
                .map(|(k, run)| scope.spawn(move || analyse(k + 1, run)))
                .collect();
            let mut out = analyse(0, runs[0]);
            out.reserve(texts.len() - out.len());
            for (k, helper) in helpers.into_iter().enumerate() {
                // A panicking filter panics the helper; analyse its run here instead,
                // so the panic surfaces on the calling thread as it would one by one.
                match helper.join() {
                    Ok(counts) => out.extend(counts),
                    Err(_) => out.extend(analyse(0, runs[k + 1])),
                }
            }
            out
        })
    }

    /// Counts the terms of `text` with `memo` (locked by the caller).
    fn count_with(&self, memo: &mut MemoState, text: &str) -> TermCounts {
        // Safe between texts: no memo id outlives the text it was looked up for.
        memo.make_room();
        // About one distinct term per 12 bytes of text: one allocation for most texts.
        let mut distinct: Vec<u32> = Vec::with_capacity(text.len() / 12 + 4);
        let mut length = 0u32;
        self.tokenizer.tokenize(text, &mut |raw| {
            if let Some(id) = memo.lookup(raw, |token| self.run_filters(token)) {
                length = length.saturating_add(1);
                if memo.bump(id) == 1 {
                    distinct.push(id);
                }
            }
        });
        let terms = distinct
            .into_iter()
            .map(|id| (memo.term(id).clone(), memo.take_count(id)))
            .collect();
        TermCounts { terms, length }
    }
}

/// Batches with fewer text bytes than this are analysed on the calling thread only.
pub const PARALLEL_BATCH_BYTES: usize = 64 * 1024;

/// Splits `texts` into at most `parts` contiguous, non-empty runs of about equal bytes.
fn split_by_bytes<T: AsRef<str>>(texts: &[T], parts: usize) -> Vec<&[T]> {
    let total: usize = texts.iter().map(|t| t.as_ref().len()).sum();
    let share = total.div_ceil(parts.max(1)).max(1);
    let mut runs = Vec::with_capacity(parts);
    let (mut start, mut filled) = (0, 0);
    for (i, t) in texts.iter().enumerate() {
        filled += t.as_ref().len();
        if filled >= share && runs.len() + 1 < parts {
            runs.push(&texts[start..=i]);
            (start, filled) = (i + 1, 0);
        }
    }
    if start < texts.len() {
        runs.push(&texts[start..]);
    }
    runs
}

/// Term counts of one analysed text, sharing the analyzer's interned term strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TermCounts {
    /// Distinct terms with their counts, in order of first occurrence.
    pub terms: Vec<(Arc<str>, u32)>,
    /// Number of terms emitted (the BM25 document length).
    pub length: u32,
}

/// Counts `terms` into distinct terms (sorted) and a total length.
pub fn count_terms(terms: Vec<String>) -> TermFrequencies {
    let length = u32::try_from(terms.len()).unwrap_or(u32::MAX);
    let mut counts: HashMap<String, u32> = HashMap::with_capacity(terms.len());
    for t in terms {
        *counts.entry(t).or_insert(0) += 1;
    }
    let mut terms: Vec<(String, u32)> = counts.into_iter().collect();
    terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    TermFrequencies { terms, length }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_pipeline_lowercases_drops_stop_words_and_stems() {
        let a = Analyzer::english();
        assert_eq!(
            a.analyze("The Quick brown Foxes are JUMPING over the lazy dogs."),
            vec!["quick", "brown", "fox", "jump", "lazi", "dog"]
        );
    }

    #[test]
    fn stemming_can_be_turned_off_and_stop_words_changed() {
        let cfg = AnalyzerConfig {
            stemming: false,
            stop_words: StopWords::Custom(vec!["FOX".into()]),
            ..AnalyzerConfig::english()
        };
        assert_eq!(
            cfg.build().analyze("The foxes and the Fox"),
            vec!["the", "foxes", "and", "the"]
        );
    }

    #[test]
    fn other_languages_stem_with_their_own_rules() {
        let a = AnalyzerConfig::for_language(Language::French).build();
        assert_eq!(
            a.analyze("Les chevaux mangeaient"),
            vec!["le", "cheval", "mang"]
        );
    }

    #[test]
    fn term_frequencies_count_and_measure_length() {
        let tf = Analyzer::english().term_frequencies("fox, the fox and a dog");
        assert_eq!(tf.length, 3);
        assert_eq!(tf.terms, vec![("dog".to_owned(), 1), ("fox".to_owned(), 2)]);
    }

    #[test]
    fn term_counts_agree_with_counting_the_analysed_terms() {
        let a = Analyzer::english();
        let text = "Foxes, the fox and a dog; FOX dogs. Boundary-layer flows flow";
        let mut counts = a.term_counts(text);
        counts.terms.sort();
        let expect = count_terms(a.analyze(text));
        assert_eq!(counts.length, expect.length);
        let got: Vec<(String, u32)> = counts
            .terms
            .iter()
            .map(|(t, n)| (t.to_string(), *n))
            .collect();
        assert_eq!(got, expect.terms);
        assert_eq!(a.term_frequencies(text), expect);
    }

    #[test]
    fn a_parallel_batch_counts_like_one_text_at_a_time() {
        // Enough bytes to be split over threads (when the machine has more than one core;
        // the pool below is forced to four memos so the split happens everywhere).
        let words = [
            "Flow", "flows", "boundary", "layer", "the", "shock", "waves", "of",
        ];
        let texts: Vec<String> = (0..400)
            .map(|i| {
                (0..60)
                    .map(|j| words[(i * 7 + j * 3 + j / 5) % words.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
                    + &format!(" doc{i} unique{}", i % 13)
            })
            .collect();
        assert!(texts.iter().map(String::len).sum::<usize>() >= PARALLEL_BATCH_BYTES);
        let mut parallel = Analyzer::english();
        parallel.memos = Arc::new(MemoPool::new(4));
        let batch = parallel.term_counts_batch(&texts);
        let single = Analyzer::english();
        let one_by_one: Vec<TermCounts> = texts.iter().map(|t| single.term_counts(t)).collect();
        assert_eq!(batch, one_by_one);
        // Every memo of the pool took part.
        for i in 0..4 {
            assert!(
                parallel.memos.get(i).lock().known_tokens() > 0,
                "memo {i} unused"
            );
        }
    }

    #[test]
    fn batches_split_into_contiguous_runs_of_about_equal_bytes() {
        let texts = ["aaaa", "bb", "cc", "dddd", "e", "fff"];
        let runs = split_by_bytes(&texts, 3);
        assert_eq!(runs.concat(), texts);
        assert_eq!(runs, vec![&texts[..2], &texts[2..4], &texts[4..]]);
        assert_eq!(split_by_bytes(&texts, 1), vec![&texts[..]]);
        assert_eq!(split_by_bytes(&texts[..2], 5).concat(), texts[..2]);
        assert!(split_by_bytes::<&str>(&[], 2).is_empty());
    }

    #[test]
    fn config_round_trips_through_json() {
        let cfg = AnalyzerConfig::english();
        let json = serde_json::to_string(&cfg).expect("serialise");
        let back: AnalyzerConfig = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, cfg);
    }

    #[test]
    fn custom_pipelines_compose() {
        let a = Analyzer::builder(UnicodeWordTokenizer)
            .filter(LowerCaser)
            .build();
        assert_eq!(a.analyze("Hello, World"), vec!["hello", "world"]);
    }
}
