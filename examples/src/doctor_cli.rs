//! The `doctor` example's command line: argument parsing, defaults and output formatting.
//!
//! Invariants: the default configs are the workspace's `datasets/medical/{doctor,nurse}.json`
//! and the default database folder is `./sop-data/doctor`; parse errors name the argument.

use std::path::PathBuf;

use sop_agents::doctor::{Answer, AnswerSource};

/// Usage text.
pub const USAGE: &str = "usage: doctor [--ask TEXT | --eval FILE.jsonl] [--data DIR] \
[--doctor doctor.json] [--nurse nurse.json] [--no-llm]
  --ask TEXT      answer one question and exit (default: interactive prompt)
  --eval FILE     score labelled queries ({\"_id\",\"text\",\"diseases\"} lines); prints one JSON line
  --data DIR      the Doctor's database folder (default ./sop-data/doctor)
  --no-llm        do not probe Ollama (heuristic Nurse, simple embedder, evidence answers)";

/// What the example does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Answer one question.
    Ask(String),
    /// Score a query file.
    Eval(PathBuf),
    /// Read questions from stdin.
    Interactive,
    /// Print usage.
    Help,
}

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// What to do.
    pub command: Command,
    /// Database folder.
    pub data: PathBuf,
    /// Doctor config.
    pub doctor: PathBuf,
    /// Nurse config.
    pub nurse: PathBuf,
    /// Skip the Ollama probe.
    pub no_llm: bool,
}

/// `datasets/medical` of the workspace.
pub fn default_datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets/medical")
}

impl Args {
    /// Parses `args` (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut out = Args {
            command: Command::Interactive,
            data: PathBuf::from("sop-data/doctor"),
            doctor: default_datasets().join("doctor.json"),
            nurse: default_datasets().join("nurse.json"),
            no_llm: false,
        };
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--ask" => out.command = Command::Ask(value("--ask")?),
                "--eval" => out.command = Command::Eval(PathBuf::from(value("--eval")?)),
                "--data" => out.data = PathBuf::from(value("--data")?),
                "--doctor" => out.doctor = PathBuf::from(value("--doctor")?),
                "--nurse" => out.nurse = PathBuf::from(value("--nurse")?),
                "--no-llm" => out.no_llm = true,
                "-h" | "--help" => out.command = Command::Help,
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(out)
    }
}

/// The text printed for an answer: the LLM's text (if any) after the ranked evidence.
pub fn render_answer(answer: &Answer) -> String {
    match &answer.source {
        AnswerSource::Evidence => {
            let mut text = answer.text.clone();
            if let Some(reason) = &answer.fallback_reason {
                text.push_str(&format!("\n(LLM not used: {reason})"));
            }
            text
        }
        AnswerSource::Llm(name) => format!(
            "{}\n{name} says:\n{}",
            answer.diagnosis.evidence(),
            answer.text.trim()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_commands_and_names_bad_arguments() -> Result<(), String> {
        let a = parse(&["--ask", "my head hurts", "--data", "/tmp/x"])?;
        assert_eq!(a.command, Command::Ask("my head hurts".into()));
        assert_eq!(a.data, PathBuf::from("/tmp/x"));
        assert_eq!(parse(&[])?.command, Command::Interactive);
        assert_eq!(
            parse(&["--eval", "q.jsonl"])?.command,
            Command::Eval("q.jsonl".into())
        );
        assert!(parse(&["--ask"]).err().is_some_and(|e| e.contains("--ask")));
        assert!(parse(&["--bogus"])
            .err()
            .is_some_and(|e| e.contains("--bogus")));
        Ok(())
    }
}
