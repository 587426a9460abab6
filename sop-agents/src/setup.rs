//! Building a Doctor's components from its JSON config and its Nurse's config.
//!
//! The Nurse's vocabulary is the Nurse's `data[]` terms plus every symptom listed in the
//! Doctor's case descriptions; lay synonyms come from both configs. With [`LlmMode::Off`] the
//! Nurse is heuristic, the Doctor answers with evidence and an `ollama` embedder is replaced by
//! the `simple` one (the fingerprint records which one built the database). With
//! [`LlmMode::Ollama`] the configured Ollama models are used.
//! Invariant: nothing here touches storage; [`doctor_parts`] only assembles values.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{AgentConfig, EmbedderKind, GeneratorConfig, GeneratorKind};
use crate::doctor::case::cases_of;
use crate::doctor::{BuildProgress, DoctorParts};
use crate::embedder::Embedder;
use crate::error::AgentError;
use crate::generator::Generator;
use crate::nurse::heuristic::HeuristicTranslator;
use crate::nurse::llm::LlmTranslator;
use crate::nurse::vocabulary::Vocabulary;
use crate::nurse::Nurse;
use crate::ollama::embedder::OllamaEmbedder;
use crate::ollama::generator::OllamaGenerator;
use crate::simple_embedder::SimpleEmbedder;
use crate::synonyms::SynonymMap;

/// Whether LLMs are used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmMode {
    /// No LLM: heuristic Nurse, evidence answers, simple embedder.
    Off,
    /// The configs' Ollama models at `host`.
    Ollama {
        /// The Ollama server (e.g. `http://localhost:11434`).
        host: String,
    },
}

/// Asks `host` for its models (`/api/tags`) within `timeout`: a liveness probe.
pub async fn probe_ollama(host: &str, timeout: Duration) -> Result<Vec<String>, AgentError> {
    OllamaGenerator::new(host, "probe", timeout)?
        .list_models()
        .await
}

/// The Nurse's vocabulary (see the module docs).
pub fn nurse_vocabulary(nurse: &AgentConfig, doctor: &AgentConfig) -> Vocabulary {
    let mut vocabulary = Vocabulary::from_terms(nurse.data.iter().map(|d| d.text.as_str()));
    vocabulary.extend_from_descriptions(doctor.data.iter().map(|d| d.description.as_str()));
    vocabulary
}

/// The heuristic translator with both configs' synonyms.
pub fn heuristic_translator(nurse: &AgentConfig, doctor: &AgentConfig) -> HeuristicTranslator {
    let synonyms = nurse.synonyms.iter().chain(doctor.synonyms.iter());
    HeuristicTranslator::with_synonyms(nurse_vocabulary(nurse, doctor), synonyms)
}

fn ollama_generator(
    config: &GeneratorConfig,
    host: &str,
) -> Result<Option<Arc<dyn Generator>>, AgentError> {
    match (config.kind, config.model.as_deref()) {
        (GeneratorKind::Ollama, Some(model)) => Ok(Some(Arc::new(OllamaGenerator::new(
            host,
            model,
            config.timeout(),
        )?))),
        _ => Ok(None),
    }
}

/// The Nurse for `mode`.
pub fn nurse_for(
    nurse: &AgentConfig,
    doctor: &AgentConfig,
    mode: &LlmMode,
) -> Result<Nurse, AgentError> {
    let heuristic = heuristic_translator(nurse, doctor);
    let LlmMode::Ollama { host } = mode else {
        return Ok(Nurse::heuristic_only(heuristic));
    };
    Ok(match ollama_generator(&nurse.generator, host)? {
        Some(generator) => {
            let g = &nurse.generator;
            let llm = LlmTranslator::new(generator, g.options.clone(), g.timeout());
            Nurse::with_llm(heuristic, llm)
        }
        None => Nurse::heuristic_only(heuristic),
    })
}

/// The document embedder for `mode` (an `ollama` embedder without dims is probed).
pub async fn embedder_for(
    doctor: &AgentConfig,
    mode: &LlmMode,
) -> Result<Arc<dyn Embedder>, AgentError> {
    let e = &doctor.embedder;
    if let (EmbedderKind::Ollama, LlmMode::Ollama { host }, Some(model)) =
        (e.kind, mode, e.model.as_deref())
    {
        let timeout = doctor.generator.timeout();
        let embedder = match e.dims {
            Some(dims) => OllamaEmbedder::new(host, model, dims, timeout)?,
            None => OllamaEmbedder::probe(host, model, timeout).await?,
        };
        return Ok(Arc::new(embedder));
    }
    let synonyms = SynonymMap::from_pairs(doctor.synonyms.iter());
    Ok(Arc::new(
        SimpleEmbedder::new(e.simple_dims())?.with_synonyms(synonyms),
    ))
}

/// Assembles a Doctor's parts for `folder` from the two configs.
pub async fn doctor_parts(
    doctor: &AgentConfig,
    nurse: &AgentConfig,
    folder: PathBuf,
    mode: &LlmMode,
    progress: BuildProgress,
) -> Result<DoctorParts, AgentError> {
    let generator = match mode {
        LlmMode::Ollama { host } => ollama_generator(&doctor.generator, host)?,
        LlmMode::Off => None,
    };
    Ok(DoctorParts {
        folder,
        nurse: nurse_for(nurse, doctor, mode)?,
        embedder: embedder_for(doctor, mode).await?,
        generator,
        progress,
    })
}

/// The number of cases a config's `data[]` holds (what a rebuild writes).
pub fn case_count(doctor: &AgentConfig) -> usize {
    cases_of(&doctor.data).len()
}
