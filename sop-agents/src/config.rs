//! JSON agent configurations (`doctor.json`, `nurse.json`...).
//!
//! Invariants: unknown fields are rejected (typos surface instead of being ignored);
//! [`AgentConfig::validate`] reports the first problem as `AgentError::Config` whose `field`
//! is a dotted path (`embedder.model`, `data[3].id`, `pipeline[0].agent`); a config that
//! validates can be turned into components without further checks.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::generator::GenerationOptions;
use crate::simple_embedder::DEFAULT_SIMPLE_DIMS;

/// Default LLM call budget, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 20_000;

/// One agent's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Stable identifier (`[a-z0-9_-]+`), referenced by pipelines.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// What the agent does.
    #[serde(default)]
    pub description: String,
    /// System prompt given to the agent's LLM.
    #[serde(default)]
    pub system_prompt: String,
    /// Extra lay phrase -> canonical term synonyms.
    #[serde(default)]
    pub synonyms: BTreeMap<String, String>,
    /// How texts are embedded.
    #[serde(default)]
    pub embedder: EmbedderConfig,
    /// Which LLM answers, if any.
    #[serde(default)]
    pub generator: GeneratorConfig,
    /// Where the agent's database lives.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Retrieval and answering policies.
    #[serde(default)]
    pub policies: Policies,
    /// Agents run before this one, in order.
    #[serde(default)]
    pub pipeline: Vec<PipelineStep>,
    /// The restore disk: the knowledge base the database is rebuilt from.
    #[serde(default)]
    pub data: Vec<DataItem>,
}

/// Embedder kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderKind {
    /// The built-in hashing embedder.
    #[default]
    Simple,
    /// An Ollama embedding model.
    Ollama,
}

/// Embedder settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedderConfig {
    /// Which embedder.
    #[serde(default)]
    pub kind: EmbedderKind,
    /// Model name (required for `ollama`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Vector width (`simple`: default 1024; `ollama`: probed when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dims: Option<usize>,
}

impl EmbedderConfig {
    /// The width for a `simple` embedder (configured or default).
    pub fn simple_dims(&self) -> usize {
        self.dims.unwrap_or(DEFAULT_SIMPLE_DIMS)
    }
}

/// Generator kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorKind {
    /// An Ollama chat model.
    Ollama,
    /// No LLM: heuristic/evidence answers only.
    #[default]
    None,
}

/// Generator settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Which generator.
    #[serde(default)]
    pub kind: GeneratorKind,
    /// Model name (required for `ollama`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sampling options.
    #[serde(default)]
    pub options: GenerationOptions,
    /// Per-call time budget in milliseconds (default 20,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl GeneratorConfig {
    /// The per-call budget.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS))
    }
}

/// Storage deployment modes (see SPEC §1.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageMode {
    /// Local files, in-process caches.
    #[default]
    Standalone,
    /// Shared with other processes through Redis.
    Clustered,
}

/// Storage settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Database folder (relative paths are resolved by the caller); default `data/<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Deployment mode.
    #[serde(default)]
    pub mode: StorageMode,
}

/// Retrieval and answering policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policies {
    /// Candidates taken from each retriever (vector, BM25) before fusion.
    pub top_k: usize,
    /// Conditions reported.
    pub max_results: usize,
    /// Best cases of a condition that count towards its score.
    pub max_cases_per_condition: usize,
    /// Fall back to heuristics/evidence when the LLM fails (else the error is reported).
    pub fallback_to_heuristics: bool,
    /// Vector-index buckets probed per query (more = closer to exact search).
    pub nprobe: usize,
}

impl Default for Policies {
    fn default() -> Self {
        Self {
            top_k: 50,
            max_results: 3,
            max_cases_per_condition: 3,
            fallback_to_heuristics: true,
            nprobe: 64,
        }
    }
}

/// How a pipeline step's output reaches the next agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PipelineMode {
    /// Appended to the input as context.
    #[default]
    Context,
    /// Replaces the input.
    Replace,
}

/// One step of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineStep {
    /// Id of the agent to run.
    pub agent: String,
    /// What to do with its output.
    #[serde(default)]
    pub mode: PipelineMode,
}

/// One knowledge-base item of the restore disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataItem {
    /// Unique id within the agent.
    pub id: String,
    /// The item's label (a condition for the Doctor, a term for the Nurse).
    pub text: String,
    /// Free text (e.g. `"Symptoms: ..."`).
    #[serde(default)]
    pub description: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn required(field: &str, value: &Option<String>, kind: &str) -> Result<(), AgentError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(()),
        _ => Err(AgentError::config(
            field,
            format!("required when kind = {kind}"),
        )),
    }
}

impl AgentConfig {
    /// Parses and validates a config; `what` names the source in errors.
    pub fn from_json_str(json: &str, what: &str) -> Result<Self, AgentError> {
        let config: AgentConfig = serde_json::from_str(json).map_err(|e| AgentError::Parse {
            what: what.to_string(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a config file.
    pub fn from_file(path: &Path) -> Result<Self, AgentError> {
        let json = std::fs::read_to_string(path).map_err(|source| AgentError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json_str(&json, &path.display().to_string())
    }

    /// The database folder: `storage.path` or `data/<id>`.
    pub fn storage_path(&self) -> String {
        self.storage
            .path
            .clone()
            .unwrap_or_else(|| format!("data/{}", self.id))
    }

    /// Checks every rule; the error names the first offending field.
    pub fn validate(&self) -> Result<(), AgentError> {
        if !valid_id(&self.id) {
            return Err(AgentError::config("id", "must be non-empty [a-z0-9_-]"));
        }
        if self.name.trim().is_empty() {
            return Err(AgentError::config("name", "must not be empty"));
        }
        if self.embedder.kind == EmbedderKind::Ollama {
            required("embedder.model", &self.embedder.model, "ollama")?;
        }
        if self.embedder.dims == Some(0) {
            return Err(AgentError::config(
                "embedder.dims",
                "must be greater than 0",
            ));
        }
        if self.generator.kind == GeneratorKind::Ollama {
            required("generator.model", &self.generator.model, "ollama")?;
        }
        if self.generator.timeout_ms == Some(0) {
            return Err(AgentError::config(
                "generator.timeout_ms",
                "must be greater than 0",
            ));
        }
        if matches!(&self.storage.path, Some(p) if p.trim().is_empty()) {
            return Err(AgentError::config(
                "storage.path",
                "must not be empty when given",
            ));
        }
        let p = &self.policies;
        for (field, value) in [
            ("policies.top_k", p.top_k),
            ("policies.nprobe", p.nprobe),
            ("policies.max_results", p.max_results),
            (
                "policies.max_cases_per_condition",
                p.max_cases_per_condition,
            ),
        ] {
            if value == 0 {
                return Err(AgentError::config(field, "must be greater than 0"));
            }
        }
        for (i, step) in self.pipeline.iter().enumerate() {
            if !valid_id(&step.agent) {
                return Err(AgentError::config(
                    format!("pipeline[{i}].agent"),
                    "must be an agent id ([a-z0-9_-]+)",
                ));
            }
            if step.agent == self.id {
                return Err(AgentError::config(
                    format!("pipeline[{i}].agent"),
                    "an agent cannot run itself",
                ));
            }
        }
        for (phrase, term) in &self.synonyms {
            if phrase.trim().is_empty() || term.trim().is_empty() {
                return Err(AgentError::config(
                    format!("synonyms[{phrase:?}]"),
                    "phrase and term must not be empty",
                ));
            }
        }
        let mut ids = HashSet::new();
        for (i, item) in self.data.iter().enumerate() {
            if item.id.trim().is_empty() {
                return Err(AgentError::config(
                    format!("data[{i}].id"),
                    "must not be empty",
                ));
            }
            if !ids.insert(item.id.as_str()) {
                return Err(AgentError::config(
                    format!("data[{i}].id"),
                    format!("duplicate id {:?}", item.id),
                ));
            }
            if item.text.trim().is_empty() {
                return Err(AgentError::config(
                    format!("data[{i}].text"),
                    "must not be empty",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(json: &str) -> String {
        match AgentConfig::from_json_str(json, "test.json") {
            Err(AgentError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = AgentConfig::from_json_str(r#"{"id":"doc","name":"Doctor"}"#, "t").expect("ok");
        assert_eq!(c.embedder.kind, EmbedderKind::Simple);
        assert_eq!(c.embedder.simple_dims(), 1024);
        assert_eq!(c.generator.kind, GeneratorKind::None);
        assert_eq!(c.storage_path(), "data/doc");
        assert_eq!(c.policies.top_k, 50);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            field_of(r#"{"id":"d","name":"D","embedder":{"kind":"ollama"}}"#),
            "embedder.model"
        );
        assert_eq!(
            field_of(
                r#"{"id":"d","name":"D","generator":{"kind":"ollama","model":"m","timeout_ms":0}}"#
            ),
            "generator.timeout_ms"
        );
        assert_eq!(field_of(r#"{"id":"D!","name":"D"}"#), "id");
        assert_eq!(
            field_of(r#"{"id":"d","name":"D","pipeline":[{"agent":"d"}]}"#),
            "pipeline[0].agent"
        );
        assert_eq!(
            field_of(
                r#"{"id":"d","name":"D","data":[{"id":"a","text":"x"},{"id":"a","text":"y"}]}"#
            ),
            "data[1].id"
        );
        let err = AgentConfig::from_json_str(r#"{"id":"d","name":"D","embeder":{}}"#, "cfg.json")
            .expect_err("unknown field");
        assert!(err.to_string().contains("cfg.json") && err.to_string().contains("embeder"));
    }

    #[test]
    fn shipped_configs_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/medical");
        let doctor = AgentConfig::from_file(&dir.join("doctor.json")).expect("doctor.json");
        assert_eq!(doctor.data.len(), 1000);
        assert_eq!(doctor.pipeline[0].agent, "nurse");
        let nurse = AgentConfig::from_file(&dir.join("nurse.json")).expect("nurse.json");
        assert_eq!(nurse.data.len(), 44);
    }
}
