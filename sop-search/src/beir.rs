//! Loader for collections in the BEIR layout.
//!
//! Owns [`BeirDoc`], [`BeirQuery`], [`Qrels`], [`BeirDataset`] and the three file readers:
//! `corpus.jsonl` (`{"_id", "title"?, "text"}` per line), `queries.jsonl` (`{"_id", "text"}`)
//! and `qrels.tsv` (`query-id<TAB>corpus-id<TAB>score`, with an optional header line).
//! Invariants: ids are unique within a file (a repeat is an error naming both lines); blank
//! lines are skipped; every error names the file and the 1-based line. Ids may be JSON strings
//! or integers (some BEIR exports write numbers); they are kept as strings.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Result, SearchError};

/// One corpus document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeirDoc {
    /// External id (`_id`).
    pub id: String,
    /// Title (empty if absent).
    pub title: String,
    /// Body text.
    pub text: String,
}

impl BeirDoc {
    /// Title and text joined by a newline (title omitted when empty) — what gets indexed.
    pub fn full_text(&self) -> String {
        if self.title.is_empty() {
            self.text.clone()
        } else {
            format!("{}\n{}", self.title, self.text)
        }
    }
}

/// One query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeirQuery {
    /// External id (`_id`).
    pub id: String,
    /// Query text.
    pub text: String,
}

/// Relevance judgements: query id → (doc id → graded relevance).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qrels {
    /// The judgements. Ordered maps keep iteration deterministic.
    pub judgments: BTreeMap<String, BTreeMap<String, i32>>,
}

impl Qrels {
    /// The judgements of `query_id`, if any.
    pub fn for_query(&self, query_id: &str) -> Option<&BTreeMap<String, i32>> {
        self.judgments.get(query_id)
    }

    /// Number of judged queries.
    pub fn len(&self) -> usize {
        self.judgments.len()
    }

    /// Whether there are no judgements.
    pub fn is_empty(&self) -> bool {
        self.judgments.is_empty()
    }
}

/// A whole BEIR collection.
#[derive(Debug, Clone, Default)]
pub struct BeirDataset {
    /// Documents in file order.
    pub corpus: Vec<BeirDoc>,
    /// Queries in file order.
    pub queries: Vec<BeirQuery>,
    /// Relevance judgements.
    pub qrels: Qrels,
}

impl BeirDataset {
    /// Loads `dir/corpus.jsonl`, `dir/queries.jsonl` and `dir/qrels.tsv` (falling back to
    /// BEIR's `dir/qrels/test.tsv`).
    pub fn load(dir: &Path) -> Result<Self> {
        let mut qrels = dir.join("qrels.tsv");
        if !qrels.exists() && dir.join("qrels").join("test.tsv").exists() {
            qrels = dir.join("qrels").join("test.tsv");
        }
        Self::load_files(
            &dir.join("corpus.jsonl"),
            &dir.join("queries.jsonl"),
            &qrels,
        )
    }

    /// Loads the three files from explicit paths.
    pub fn load_files(corpus: &Path, queries: &Path, qrels: &Path) -> Result<Self> {
        Ok(Self {
            corpus: load_corpus(corpus)?,
            queries: load_queries(queries)?,
            qrels: load_qrels(qrels)?,
        })
    }
}

/// Reads `corpus.jsonl`.
pub fn load_corpus(path: &Path) -> Result<Vec<BeirDoc>> {
    let mut docs = Vec::new();
    let mut seen = HashMap::new();
    for_each_json_object(path, |line, obj| {
        let id = id_field(path, line, obj)?;
        check_unique(path, line, &id, &mut seen)?;
        let title = optional_string(path, line, obj, "title")?;
        let text = required_string(path, line, obj, "text")?;
        docs.push(BeirDoc { id, title, text });
        Ok(())
    })?;
    Ok(docs)
}

/// Reads `queries.jsonl`.
pub fn load_queries(path: &Path) -> Result<Vec<BeirQuery>> {
    let mut queries = Vec::new();
    let mut seen = HashMap::new();
    for_each_json_object(path, |line, obj| {
        let id = id_field(path, line, obj)?;
        check_unique(path, line, &id, &mut seen)?;
        let text = required_string(path, line, obj, "text")?;
        queries.push(BeirQuery { id, text });
        Ok(())
    })?;
    Ok(queries)
}

/// Reads `qrels.tsv`. A first line starting with `query-id` is a header and skipped.
pub fn load_qrels(path: &Path) -> Result<Qrels> {
    let mut qrels = Qrels::default();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for_each_line(path, |line_no, line| {
        if line_no == 1 && line.starts_with("query-id") {
            return Ok(());
        }
        let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
        if cols.len() != 3 {
            return Err(SearchError::Format {
                path: path.to_path_buf(),
                line: line_no,
                message: format!(
                    "expected 3 tab-separated columns (query-id, corpus-id, score), found {}",
                    cols.len()
                ),
            });
        }
        let (query, doc) = (cols[0], cols[1]);
        if query.is_empty() || doc.is_empty() {
            return Err(SearchError::Format {
                path: path.to_path_buf(),
                line: line_no,
                message: "empty query-id or corpus-id".into(),
            });
        }
        let score: i32 = cols[2].parse().map_err(|_| SearchError::Format {
            path: path.to_path_buf(),
            line: line_no,
            message: format!("score `{}` is not an integer", cols[2]),
        })?;
        let key = (query.to_owned(), doc.to_owned());
        if let Some(first) = seen.insert(key, line_no) {
            return Err(SearchError::DuplicateId {
                path: path.to_path_buf(),
                line: line_no,
                first_line: first,
                id: format!("{query}/{doc}"),
            });
        }
        qrels
            .judgments
            .entry(query.to_owned())
            .or_default()
            .insert(doc.to_owned(), score);
        Ok(())
    })?;
    Ok(qrels)
}

fn io_error(path: &Path, source: std::io::Error) -> SearchError {
    SearchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Calls `f(line_no, line)` for every non-blank line (1-based numbers).
fn for_each_line(path: &Path, mut f: impl FnMut(usize, &str) -> Result<()>) -> Result<()> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let reader = BufReader::new(file);
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| match e.kind() {
            // Name the line: the file is readable, one line is not text.
            std::io::ErrorKind::InvalidData => SearchError::Format {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!("not valid UTF-8 ({e})"),
            },
            _ => io_error(path, e),
        })?;
        let trimmed = line.trim_end_matches('\r');
        if trimmed.trim().is_empty() {
            continue;
        }
        f(i + 1, trimmed)?;
    }
    Ok(())
}

fn for_each_json_object(
    path: &Path,
    mut f: impl FnMut(usize, &Map<String, Value>) -> Result<()>,
) -> Result<()> {
    for_each_line(path, |line_no, line| {
        let value: Value = serde_json::from_str(line).map_err(|e| SearchError::Json {
            path: path.to_path_buf(),
            line: line_no,
            message: e.to_string(),
        })?;
        match value {
            Value::Object(obj) => f(line_no, &obj),
            other => Err(SearchError::Json {
                path: path.to_path_buf(),
                line: line_no,
                message: format!("expected an object, found {}", kind(&other)),
            }),
        }
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field_error(path: &Path, line: usize, field: &'static str, problem: String) -> SearchError {
    SearchError::Field {
        path: PathBuf::from(path),
        line,
        field,
        problem,
    }
}

fn id_field(path: &Path, line: usize, obj: &Map<String, Value>) -> Result<String> {
    match obj.get("_id") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(field_error(path, line, "_id", "is empty".into())),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(field_error(
            path,
            line,
            "_id",
            format!("must be a string or integer, found {}", kind(other)),
        )),
        None => Err(field_error(path, line, "_id", "is missing".into())),
    }
}

fn required_string(
    path: &Path,
    line: usize,
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<String> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(field_error(
            path,
            line,
            field,
            format!("must be a string, found {}", kind(other)),
        )),
        None => Err(field_error(path, line, field, "is missing".into())),
    }
}

fn optional_string(
    path: &Path,
    line: usize,
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => required_string(path, line, obj, field),
    }
}

fn check_unique(
    path: &Path,
    line: usize,
    id: &str,
    seen: &mut HashMap<String, usize>,
) -> Result<()> {
    if let Some(first) = seen.insert(id.to_owned(), line) {
        return Err(SearchError::DuplicateId {
            path: path.to_path_buf(),
            line,
            first_line: first,
            id: id.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
        let path = dir.join(name);
        let mut f = File::create(&path).expect("create test file");
        f.write_all(content.as_bytes()).expect("write test file");
        path
    }

    #[test]
    fn loads_a_small_collection() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "corpus.jsonl",
            "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"hello\"}\n\n{\"_id\": 2, \"text\": \"x\"}\n",
        );
        write(
            dir.path(),
            "queries.jsonl",
            "{\"_id\": \"q1\", \"text\": \"hello\"}\n",
        );
        write(
            dir.path(),
            "qrels.tsv",
            "query-id\tcorpus-id\tscore\nq1\td1\t2\r\nq1\t2\t0\n",
        );
        let ds = BeirDataset::load(dir.path()).expect("load");
        assert_eq!(ds.corpus.len(), 2);
        assert_eq!(ds.corpus[0].full_text(), "T\nhello");
        assert_eq!(ds.corpus[1].id, "2");
        assert_eq!(ds.corpus[1].title, "");
        assert_eq!(ds.queries[0].id, "q1");
        let q1 = ds.qrels.for_query("q1").expect("q1 judged");
        assert_eq!(q1.get("d1"), Some(&2));
        assert_eq!(q1.get("2"), Some(&0));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            dir.path(),
            "corpus.jsonl",
            "{\"_id\": \"a\", \"text\": \"x\"}\n{\"title\": \"t\", \"text\": \"y\"}\n",
        );
        let msg = load_corpus(&p).expect_err("missing _id").to_string();
        assert!(
            msg.contains("corpus.jsonl:2") && msg.contains("`_id` is missing"),
            "{msg}"
        );

        let p = write(dir.path(), "c2.jsonl", "{\"_id\": \"a\", \"text\": 5}\n");
        let msg = load_corpus(&p).expect_err("bad text").to_string();
        assert!(
            msg.contains("c2.jsonl:1") && msg.contains("`text` must be a string"),
            "{msg}"
        );

        let p = write(
            dir.path(),
            "c3.jsonl",
            "{\"_id\": \"a\", \"text\": \"x\"}\n{not json\n",
        );
        let msg = load_corpus(&p).expect_err("bad json").to_string();
        assert!(
            msg.contains("c3.jsonl:2") && msg.contains("invalid JSON"),
            "{msg}"
        );

        let p = write(
            dir.path(),
            "q.jsonl",
            "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"a\", \"text\": \"y\"}\n",
        );
        let msg = load_queries(&p).expect_err("duplicate").to_string();
        assert!(
            msg.contains("q.jsonl:2") && msg.contains("first seen on line 1"),
            "{msg}"
        );

        let p = write(
            dir.path(),
            "qrels.tsv",
            "query-id\tcorpus-id\tscore\nq1\td1\n",
        );
        let msg = load_qrels(&p).expect_err("two columns").to_string();
        assert!(
            msg.contains("qrels.tsv:2") && msg.contains("3 tab-separated"),
            "{msg}"
        );

        let p = write(dir.path(), "qrels2.tsv", "q1\td1\thigh\n");
        let msg = load_qrels(&p).expect_err("bad score").to_string();
        assert!(
            msg.contains("qrels2.tsv:1") && msg.contains("`high`"),
            "{msg}"
        );

        let msg = load_corpus(&dir.path().join("absent.jsonl"))
            .expect_err("missing file")
            .to_string();
        assert!(msg.contains("absent.jsonl"), "{msg}");
    }
}
