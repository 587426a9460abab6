//! Bad input to sop-agents' JSON configs: broken and deeply nested JSON,
//! unknown fields, invalid ids and values (each error names the dotted
//! field), files with invalid UTF-8 or missing (named by path).

use sop_agents::AgentConfig;

use super::Tried;

type Error = Box<dyn std::error::Error>;

/// Runs the sop-agents cases.
pub fn run(t: &Tried) -> Result<(), Error> {
    let parse = |json: &str| AgentConfig::from_json_str(json, "doctor.json");
    t.refused(
        "broken JSON",
        parse("{\"id\": \"doctor\","),
        &["doctor.json"],
    );
    t.refused("not an object", parse("[1, 2, 3]"), &["doctor.json"]);
    t.refused("empty document", parse(""), &["doctor.json"]);
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    t.refused("100,000 nested arrays", parse(&deep), &["doctor.json"]);
    t.refused(
        "unknown field",
        parse(r#"{"id":"d","name":"D","colour":"red"}"#),
        &["colour"],
    );
    t.refused("missing name", parse(r#"{"id":"d"}"#), &["name"]);
    let cases = [
        (r#"{"id":"Bad Id","name":"D"}"#, "id"),
        (r#"{"id":"","name":"D"}"#, "id"),
        (r#"{"id":"d","name":"   "}"#, "name"),
        (
            r#"{"id":"d","name":"D","embedder":{"kind":"simple","dims":0}}"#,
            "embedder.dims",
        ),
        (
            r#"{"id":"d","name":"D","embedder":{"kind":"ollama"}}"#,
            "embedder.model",
        ),
        (
            r#"{"id":"d","name":"D","generator":{"kind":"ollama"}}"#,
            "generator.model",
        ),
        (
            r#"{"id":"d","name":"D","storage":{"path":" "}}"#,
            "storage.path",
        ),
        (
            r#"{"id":"d","name":"D","policies":{"top_k":0}}"#,
            "policies.top_k",
        ),
        // serde names the value and its line and column, not the field path.
        (
            r#"{"id":"d","name":"D","embedder":{"kind":"simple","dims":-3}}"#,
            "`-3`",
        ),
        (
            r#"{"id":"d","name":"D","embedder":{"kind":"telepathy"}}"#,
            "telepathy",
        ),
    ];
    for (json, field) in cases {
        t.refused(field, parse(json), &[field]);
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("latin1.json");
    std::fs::write(&path, b"{\"id\":\"d\",\"name\":\"Caf\xe9\"}")?;
    t.refused(
        "invalid UTF-8 file",
        AgentConfig::from_file(&path),
        &["latin1.json"],
    );
    t.refused(
        "missing file",
        AgentConfig::from_file(&dir.path().join("nope.json")),
        &["nope.json"],
    );
    let long_id = "a".repeat(1 << 16);
    let ok = t.accepted(
        "64 KiB id",
        parse(&format!(r#"{{"id":"{long_id}","name":"Long"}}"#)),
    );
    assert_eq!(ok.id, long_id);
    Ok(())
}
