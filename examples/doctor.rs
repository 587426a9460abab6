//! The Doctor, end to end — the README's main command:
//!
//! ```text
//! cargo run --release --example doctor -- --ask "my tummy hurts and I keep throwing up"
//! ```
//!
//! Loads `datasets/medical/doctor.json` (+ `nurse.json`), opens (or rebuilds from the config's
//! `data[]`) the standalone database under `./sop-data/doctor`, and answers: with the Ollama
//! models when an Ollama answers at `OLLAMA_HOST`, else with the heuristic Nurse, the simple
//! embedder and the ranked evidence. Without `--ask` it is an interactive prompt; `--eval
//! FILE.jsonl` prints `{"queries":..,"top1":..,"top3":..}`.

use std::io::{BufRead, Write};
use std::time::Duration;

use sop_agents::config::AgentConfig;
use sop_agents::doctor::{BuildProgress, Doctor};
use sop_agents::eval::{evaluate, parse_queries};
use sop_agents::ollama::host::host_from_env;
use sop_agents::setup::{doctor_parts, probe_ollama, LlmMode};
use sop_examples::doctor_cli::{render_answer, Args, Command, USAGE};

type Error = Box<dyn std::error::Error>;

/// Probes Ollama; prints ONE line saying which mode is used.
async fn llm_mode(args: &Args, doctor: &AgentConfig) -> LlmMode {
    if args.no_llm {
        eprintln!("LLM disabled (--no-llm): heuristic Nurse, simple embedder, evidence answers.");
        return LlmMode::Off;
    }
    let host = host_from_env();
    match probe_ollama(&host, Duration::from_millis(1500)).await {
        Ok(models) => {
            let wanted = doctor.generator.model.as_deref().unwrap_or("none");
            let present = models.iter().any(|m| m.split(':').next() == Some(wanted));
            let note = if present {
                ""
            } else {
                " (not pulled: answers fall back to evidence)"
            };
            eprintln!("Ollama at {host}: using model {wanted}{note}.");
            LlmMode::Ollama { host }
        }
        Err(_) => {
            eprintln!(
                "No Ollama at {host}: using the heuristic Nurse and the simple embedder \
                 (evidence answers)."
            );
            LlmMode::Off
        }
    }
}

async fn interactive(doctor: &Doctor) -> Result<(), Error> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        print!("describe your symptoms (or quit)> ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next() else {
            return Ok(());
        };
        let line = line?;
        match line.trim() {
            "" => continue,
            "quit" | "exit" => return Ok(()),
            question => println!("{}\n", render_answer(&doctor.ask(question).await?)),
        }
    }
}

async fn run(args: Args) -> Result<(), Error> {
    let doctor_cfg = AgentConfig::from_file(&args.doctor)?;
    let nurse_cfg = AgentConfig::from_file(&args.nurse)?;
    let mode = llm_mode(&args, &doctor_cfg).await;
    let parts = doctor_parts(
        &doctor_cfg,
        &nurse_cfg,
        args.data.clone(),
        &mode,
        BuildProgress::stderr(),
    )
    .await?;
    let doctor = Doctor::start(&doctor_cfg, parts).await?;
    let r = doctor.start_report();
    let what = if r.rebuilt { "rebuilt" } else { "opened" };
    eprintln!(
        "Knowledge base {}: {} cases, {what} in {} ms ({}).",
        args.data.display(),
        r.cases,
        r.millis,
        r.reason
    );
    match &args.command {
        Command::Ask(question) => println!("{}", render_answer(&doctor.ask(question).await?)),
        Command::Eval(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let queries = parse_queries(&text, &file.display().to_string())?;
            println!("{}", evaluate(&doctor, &queries).await?.json_line());
        }
        Command::Interactive => interactive(&doctor).await?,
        Command::Help => println!("{USAGE}"),
    }
    doctor.close().await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
