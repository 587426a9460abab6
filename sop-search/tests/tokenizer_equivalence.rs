//! The tokenizer's ASCII scanner emits exactly the words `unicode-segmentation` finds, on
//! every text of the Cranfield collection (documents and queries) and on text with
//! non-ASCII characters (which takes the Unicode path).

use std::path::PathBuf;

use sop_search::analyzer::{Tokenizer, UnicodeWordTokenizer};
use sop_search::BeirDataset;
use unicode_segmentation::UnicodeSegmentation;

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    UnicodeWordTokenizer.tokenize(text, &mut |w| out.push(w.to_owned()));
    out
}

#[test]
fn cranfield_texts_tokenize_as_unicode_words() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/cranfield");
    let ds = BeirDataset::load(&dir).expect("load datasets/cranfield");
    let texts: Vec<String> = ds
        .corpus
        .iter()
        .map(|d| d.full_text())
        .chain(ds.queries.iter().map(|q| q.text.clone()))
        .collect();
    let mut words = 0;
    for text in &texts {
        let reference: Vec<&str> = text.unicode_words().collect();
        assert_eq!(tokens(text), reference, "{text:?}");
        words += reference.len();
    }
    assert!(words > 200_000, "only {words} words");
}

#[test]
fn non_ascii_text_takes_the_unicode_path() {
    let text = "naïve café, don’t stop: 3.5 km — Zürich’s 1,000 r\u{e9}sum\u{e9}s";
    let reference: Vec<&str> = text.unicode_words().collect();
    assert_eq!(tokens(text), reference);
    assert!(reference.contains(&"naïve") && reference.contains(&"1,000"));
}
