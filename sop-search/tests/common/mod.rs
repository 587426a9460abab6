//! Shared test support: a brute-force BM25 computed from raw texts, the search behaviours
//! every index must show (as a macro instantiated per index type), and a B-tree index
//! fixture on a real database in a temporary folder.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;

use sop_core::{Database, DatabaseOptions, Transaction, TransactionMode};
use sop_search::{Analyzer, MemoryIndex, SearchConfig, SearchHit, SearchIndex};

/// BM25 from the raw texts with nothing shared with the index but the analyzer
/// (k1 = 1.2, b = 0.75, each distinct query term once).
pub fn brute_force(docs: &[(&str, &str)], query: &str) -> HashMap<String, f64> {
    let (k1, b) = (1.2, 0.75);
    let analyzer = Analyzer::english();
    let analysed: Vec<(String, Vec<String>)> = docs
        .iter()
        .map(|(id, text)| ((*id).to_owned(), analyzer.analyze(text)))
        .collect();
    let n = analysed.len() as f64;
    let avgdl = analysed.iter().map(|(_, t)| t.len() as f64).sum::<f64>() / n;
    let mut q_terms = analyzer.analyze(query);
    q_terms.sort();
    q_terms.dedup();
    let mut scores = HashMap::new();
    for (id, terms) in &analysed {
        let mut score = 0.0;
        for q in &q_terms {
            let df = analysed.iter().filter(|(_, t)| t.contains(q)).count() as f64;
            let tf = terms.iter().filter(|t| *t == q).count() as f64;
            if tf == 0.0 {
                continue;
            }
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            let dl = terms.len() as f64;
            score += idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl));
        }
        if score > 0.0 {
            scores.insert(id.clone(), score);
        }
    }
    scores
}

/// Asserts `hits` are exactly the brute-force matches of `query` over `docs`, scores equal
/// to 1e-6, in non-increasing score order with ties by id.
pub fn assert_brute_force(hits: &[SearchHit], docs: &[(&str, &str)], query: &str) {
    let expected = brute_force(docs, query);
    assert_eq!(hits.len(), expected.len(), "query {query:?}: {hits:?}");
    for h in hits {
        let want = expected[&h.doc_id];
        assert!(
            (h.score - want).abs() < 1e-6,
            "{query:?} {}: {} vs {want}",
            h.doc_id,
            h.score
        );
    }
    for w in hits.windows(2) {
        assert!(
            w[0].score > w[1].score || (w[0].score == w[1].score && w[0].doc_id < w[1].doc_id),
            "{query:?}: order {w:?}"
        );
    }
}

/// The queries the brute-force comparisons run.
pub const QUERIES: [&str; 6] = [
    "fox",
    "lazy dog",
    "cat dog fox",
    "jumping foxes dogs dogs",
    "garden",
    "hours everywhere mass",
];

/// An index the behaviour tests can build and query synchronously.
pub trait Searcher {
    /// An index holding `docs`.
    fn build(docs: &[(&str, &str)]) -> Self;
    /// The best `k` hits of `query`.
    fn search(&self, query: &str, k: usize) -> Vec<SearchHit>;
}

impl Searcher for MemoryIndex {
    fn build(docs: &[(&str, &str)]) -> Self {
        let mut idx = MemoryIndex::english();
        for (id, text) in docs {
            idx.add(id, text).expect("add document");
        }
        idx
    }

    fn search(&self, query: &str, k: usize) -> Vec<SearchHit> {
        MemoryIndex::search(self, query, k)
    }
}

/// A database in a temporary folder holding one search index named `docs`.
pub struct BtreeFixture {
    pub rt: tokio::runtime::Runtime,
    pub db: Database,
    pub dir: tempfile::TempDir,
}

pub const INDEX: &str = "docs";

impl BtreeFixture {
    /// An empty database.
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = rt
            .block_on(Database::open(DatabaseOptions::new(dir.path())))
            .expect("open database");
        Self { rt, db, dir }
    }

    /// Closes the database and opens it again from its folder.
    pub fn reopen(self) -> Self {
        let Self { rt, db, dir } = self;
        let db = rt.block_on(async {
            db.close().await.expect("close database");
            Database::open(DatabaseOptions::new(dir.path()))
                .await
                .expect("reopen database")
        });
        Self { rt, db, dir }
    }

    /// Opens the index in a new transaction of `mode`.
    pub async fn open(&self, mode: TransactionMode) -> (Transaction, SearchIndex) {
        let tx = self.db.begin(mode).await.expect("begin");
        let idx = SearchIndex::open(&tx, INDEX, SearchConfig::default())
            .await
            .expect("open index");
        (tx, idx)
    }
}

impl Searcher for BtreeFixture {
    fn build(docs: &[(&str, &str)]) -> Self {
        let fx = BtreeFixture::new();
        fx.rt.block_on(async {
            let (tx, idx) = fx.open(TransactionMode::ForWriting).await;
            idx.add_batch(docs).await.expect("add batch");
            tx.commit().await.expect("commit");
        });
        fx
    }

    fn search(&self, query: &str, k: usize) -> Vec<SearchHit> {
        self.rt.block_on(async {
            let (tx, idx) = self.open(TransactionMode::NoCheck).await;
            let hits = idx.search(query, k).await.expect("search");
            tx.commit().await.expect("commit");
            hits
        })
    }
}

/// SOP's search behaviours, instantiated for one [`Searcher`] type.
#[allow(unused_macros)] // not every test binary instantiates it
macro_rules! behaviour_tests {
    ($index:ty) => {
        use crate::common::{assert_brute_force, Searcher, QUERIES};
        use sop_search::SearchHit;

        fn index(docs: &[(&str, &str)]) -> $index {
            <$index as Searcher>::build(docs)
        }

        fn ids(hits: &[SearchHit]) -> Vec<&str> {
            hits.iter().map(|h| h.doc_id.as_str()).collect()
        }

        #[test]
        fn fox_finds_both_fox_docs() {
            let idx = index(&[
                ("1", "The quick brown fox jumps over the lazy dog"),
                ("2", "A fox is a small omnivorous mammal"),
                ("3", "Cats sleep most of the day"),
            ]);
            let hits = idx.search("fox", 10);
            let mut found = ids(&hits);
            found.sort_unstable();
            assert_eq!(found, vec!["1", "2"]);
        }

        #[test]
        fn higher_term_frequency_ranks_first() {
            let idx = index(&[
                ("once", "fox runs across the green field today"),
                ("twice", "fox runs across the green field fox"),
            ]);
            assert_eq!(ids(&idx.search("fox", 10)), vec!["twice", "once"]);
        }

        #[test]
        fn long_document_is_length_normalised_below_short_one() {
            let idx = index(&[
                (
                    "long",
                    "fox river valley mountain forest meadow stream canyon desert glacier island",
                ),
                ("short", "fox den"),
                ("other", "owl tree"),
            ]);
            let hits = idx.search("fox", 10);
            assert_eq!(ids(&hits), vec!["short", "long"]);
            assert!(hits[0].score > hits[1].score);
        }

        #[test]
        fn cat_dog_ranks_the_doc_with_both_terms_first() {
            let idx = index(&[
                ("c", "the cat sat on the mat"),
                ("cd", "the cat chased the dog"),
                ("d", "the dog barked at the mailman"),
                ("x", "birds sing in the morning"),
            ]);
            let hits = idx.search("cat dog", 10);
            assert_eq!(hits.len(), 3, "OR semantics: every doc with either term");
            assert_eq!(hits[0].doc_id, "cd");
        }

        #[test]
        fn ties_break_on_external_id_not_insertion_order() {
            let idx = index(&[("b", "fox"), ("c", "fox"), ("a", "fox"), ("d", "owl")]);
            assert_eq!(ids(&idx.search("fox", 2)), vec!["a", "b"]);
            assert_eq!(ids(&idx.search("fox", 10)), vec!["a", "b", "c"]);
        }

        #[test]
        fn empty_and_unknown_queries_return_nothing() {
            let idx = index(&[("1", "fox")]);
            assert!(idx.search("", 10).is_empty());
            assert!(idx.search("the of and", 10).is_empty(), "stop words only");
            assert!(idx.search("zebra", 10).is_empty());
            assert!(idx.search("fox", 0).is_empty());
        }

        #[test]
        fn scores_equal_a_brute_force_bm25_from_the_raw_texts() {
            let docs = crate::common::SAMPLE;
            let idx = index(&docs);
            for query in QUERIES {
                assert_brute_force(&idx.search(query, 100), &docs, query);
            }
        }
    };
}

/// A small collection for the brute-force comparisons.
pub const SAMPLE: [(&str, &str); 5] = [
    ("1", "The quick brown fox jumps over the lazy dog"),
    ("2", "A fox, a fox! Foxes everywhere in the fox den"),
    ("3", "Dogs and cats living together, mass hysteria"),
    ("4", "The cat chased the dog around the garden for hours"),
    ("5", "Jumping over fences is what lazy dogs never do"),
];
