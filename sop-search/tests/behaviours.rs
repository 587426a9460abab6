//! SOP's search behaviours on the in-memory reference index, and its scores against a BM25
//! computed from scratch.

use std::collections::HashMap;

use sop_search::{Analyzer, MemoryIndex, SearchHit};

fn index(docs: &[(&str, &str)]) -> MemoryIndex {
    let mut idx = MemoryIndex::english();
    for (id, text) in docs {
        idx.add(id, text).expect("add document");
    }
    idx
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
            "fox river valley mountain forest meadow stream canyon desert glacier island harbor",
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

/// BM25 from the raw texts with nothing shared with the index but the analyzer.
fn brute_force(docs: &[(&str, &str)], query: &str) -> HashMap<String, f64> {
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

#[test]
fn scores_equal_a_brute_force_bm25_from_the_raw_texts() {
    let docs = [
        ("1", "The quick brown fox jumps over the lazy dog"),
        ("2", "A fox, a fox! Foxes everywhere in the fox den"),
        ("3", "Dogs and cats living together, mass hysteria"),
        ("4", "The cat chased the dog around the garden for hours"),
        ("5", "Jumping over fences is what lazy dogs never do"),
    ];
    let idx = index(&docs);
    for query in [
        "fox",
        "lazy dog",
        "cat dog fox",
        "jumping foxes dogs dogs",
        "garden",
    ] {
        let expected = brute_force(&docs, query);
        let hits = idx.search(query, 100);
        assert_eq!(hits.len(), expected.len(), "query {query:?}");
        for h in &hits {
            let want = expected[&h.doc_id];
            assert!(
                (h.score - want).abs() < 1e-6,
                "{query:?} {}: {} vs {want}",
                h.doc_id,
                h.score
            );
        }
        for w in hits.windows(2) {
            assert!(w[0].score >= w[1].score);
        }
    }
}
