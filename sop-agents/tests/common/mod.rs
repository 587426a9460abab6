//! Shared helpers for the storage-backed Doctor tests: the shipped configs, a heuristic-only
//! Doctor over a database folder, and a config with a subset of the data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use sop_agents::config::AgentConfig;
use sop_agents::doctor::{BuildProgress, Doctor};
use sop_agents::setup::{doctor_parts, LlmMode};
use sop_agents::AgentError;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `datasets/medical/<name>`.
pub fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../datasets/medical")
        .join(name)
}

/// The shipped Doctor and Nurse configs.
pub fn configs() -> Result<(AgentConfig, AgentConfig), AgentError> {
    Ok((
        AgentConfig::from_file(&dataset("doctor.json"))?,
        AgentConfig::from_file(&dataset("nurse.json"))?,
    ))
}

/// The Doctor config with only its first `n` cases and `dims`-wide simple embeddings.
pub fn small_doctor(n: usize, dims: usize) -> Result<(AgentConfig, AgentConfig), AgentError> {
    let (mut doctor, nurse) = configs()?;
    doctor.data.truncate(n);
    doctor.embedder.dims = Some(dims);
    Ok((doctor, nurse))
}

/// Starts a Doctor without any LLM over `folder`.
pub async fn start(
    doctor: &AgentConfig,
    nurse: &AgentConfig,
    folder: &Path,
) -> Result<Doctor, AgentError> {
    let parts = doctor_parts(
        doctor,
        nurse,
        folder.to_path_buf(),
        &LlmMode::Off,
        BuildProgress::hidden(),
    )
    .await?;
    Doctor::start(doctor, parts).await
}
