//! Runs the `doctor` example end to end through `cargo run` (test profile, so the binary
//! `cargo test` already built is reused): `--ask` names the right condition, `--eval` prints
//! one JSON line with `queries`, `top1` and `top3`. Ollama is pointed at an unused loopback
//! port, so the example falls back (quickly) to the heuristic Nurse and the simple embedder.

use std::path::Path;
use std::process::{Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn unused_loopback_host() -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(format!("http://127.0.0.1:{port}"))
}

fn run_example(data: &Path, args: &[&str]) -> Result<Output, Box<dyn std::error::Error>> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args([
            "run",
            "-q",
            "--profile",
            "test",
            "--manifest-path",
            manifest,
        ])
        .args(["--example", "doctor", "--", "--data"])
        .arg(data)
        .args(args)
        .env("OLLAMA_HOST", unused_loopback_host()?)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "example failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(output)
}

#[test]
fn ask_names_the_condition_and_eval_prints_one_json_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("doctor");

    let ask = run_example(
        &data,
        &[
            "--ask",
            "my tummy hurts and I keep throwing up and have the runs, my eyes look sunken \
             and I'm really thirsty",
        ],
    )?;
    let stdout = String::from_utf8(ask.stdout)?;
    let stderr = String::from_utf8(ask.stderr)?;
    let first = stdout
        .lines()
        .find(|l| l.starts_with("1. "))
        .ok_or("no ranked condition")?;
    assert!(first.contains("Gastroenteritis"), "{stdout}");
    assert!(
        stdout.contains("case gastroenteritis_"),
        "evidence cites cases: {stdout}"
    );
    let fallback: Vec<&str> = stderr.lines().filter(|l| l.contains("No Ollama")).collect();
    assert_eq!(fallback.len(), 1, "one fallback line: {stderr}");
    assert!(stderr.contains("rebuilt"), "first start rebuilds: {stderr}");

    let queries = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../datasets/medical/lay_queries_dev.jsonl"
    );
    let eval = run_example(&data, &["--eval", queries])?;
    let stdout = String::from_utf8(eval.stdout)?;
    let stderr = String::from_utf8(eval.stderr)?;
    assert!(
        stderr.contains("opened"),
        "second start rebuilds nothing: {stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(lines[0])?;
    assert_eq!(json["queries"], 20);
    let top1 = json["top1"].as_f64().ok_or("top1")?;
    let top3 = json["top3"].as_f64().ok_or("top3")?;
    assert!(top3 >= 0.8 && top1 >= 0.6, "{json}");
    Ok(())
}
