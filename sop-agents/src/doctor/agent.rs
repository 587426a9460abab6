//! The storage-backed `Doctor`: Nurse translation → embedding → vector top-k + BM25 top-k →
//! reciprocal rank fusion (k = 60) → condition ranking → an LLM answer grounded on the
//! retrieved cases, or the ranked evidence.
//!
//! Invariants: starting a Doctor runs the fallback-config check ([`open_or_rebuild`]) exactly
//! once; questions only read the database; an LLM failure never loses the evidence (with
//! `policies.fallback_to_heuristics` the evidence answers instead).

use std::path::PathBuf;
use std::sync::Arc;

use crate::agent_embedder::AgentEmbedder;
use crate::config::AgentConfig;
use crate::doctor::answer::{evidence_answer, Answer, AnswerSource, ConditionEvidence, Diagnosis};
use crate::doctor::case::cases_of;
use crate::doctor::knowledge::{is_usable, KnowledgeBase};
use crate::doctor::progress::BuildProgress;
use crate::doctor::ranking::{rank_conditions, CaseHit, RankingOptions};
use crate::doctor::startup::{open_or_rebuild, StartInputs, StartReport};
use crate::embedder::Embedder;
use crate::error::AgentError;
use crate::fusion::{reciprocal_rank_fusion, RRF_K};
use crate::generator::Generator;
use crate::nurse::Nurse;

/// The components a Doctor is started with.
pub struct DoctorParts {
    /// The database folder.
    pub folder: PathBuf,
    /// The Nurse translating questions.
    pub nurse: Nurse,
    /// The base embedder (documents; queries through [`AgentEmbedder`]).
    pub embedder: Arc<dyn Embedder>,
    /// The LLM answering, if any.
    pub generator: Option<Arc<dyn Generator>>,
    /// Where rebuild progress goes.
    pub progress: BuildProgress,
}

/// The Doctor agent (see the module docs).
pub struct Doctor {
    config: AgentConfig,
    kb: KnowledgeBase,
    nurse: Nurse,
    embedder: AgentEmbedder,
    generator: Option<Arc<dyn Generator>>,
    report: StartReport,
}

impl Doctor {
    /// Starts the Doctor of `config`: checks (and if needed rebuilds) its knowledge base.
    pub async fn start(config: &AgentConfig, parts: DoctorParts) -> Result<Self, AgentError> {
        config.validate()?;
        let cases = cases_of(&config.data);
        let inputs = StartInputs {
            agent: &config.id,
            folder: &parts.folder,
            cases: &cases,
            embedder: parts.embedder.as_ref(),
            nprobe: config.policies.nprobe,
            progress: &parts.progress,
        };
        let (kb, report) = open_or_rebuild(&inputs).await?;
        Ok(Self {
            config: config.clone(),
            kb,
            nurse: parts.nurse,
            embedder: AgentEmbedder::new(parts.embedder),
            generator: parts.generator,
            report,
        })
    }

    /// What happened at start.
    pub fn start_report(&self) -> &StartReport {
        &self.report
    }

    /// The knowledge base.
    pub fn knowledge_base(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// The Nurse.
    pub fn nurse(&self) -> &Nurse {
        &self.nurse
    }

    /// The generator's name, when an LLM answers.
    pub fn generator_name(&self) -> Option<&str> {
        self.generator.as_deref().map(|g| g.name())
    }

    /// Checkpoints and releases the database.
    pub async fn close(self) -> Result<(), AgentError> {
        let agent = self.config.id.clone();
        self.kb
            .database()
            .clone()
            .close()
            .await
            .map_err(|e| AgentError::storage(agent, "close", e))
    }

    /// Retrieves and ranks conditions for `question` (no LLM answer).
    pub async fn diagnose(&self, question: &str) -> Result<Diagnosis, AgentError> {
        let policies = &self.config.policies;
        let translation = self.nurse.translate(question).await;
        let keywords = if translation.terms.is_empty() {
            question.to_string()
        } else {
            translation.terms.join(", ")
        };
        let vector = self.embedder.embed_query(question, &translation).await?;
        let vector = is_usable(&vector).then_some(vector);
        let retrieved = self
            .kb
            .retrieve(
                self.embedder.name(),
                vector.as_deref(),
                &keywords,
                policies.top_k,
            )
            .await?;
        let fused = reciprocal_rank_fusion(&[retrieved.vector_ids, retrieved.bm25_ids], RRF_K);
        let ids: Vec<&str> = fused.iter().map(|h| h.id.as_str()).collect();
        let mut cases = self.kb.cases(&ids).await?;
        let hits: Vec<CaseHit> = fused
            .iter()
            .filter_map(|h| {
                cases.get(&h.id).map(|c| CaseHit {
                    case_id: h.id.clone(),
                    condition: c.condition.clone(),
                    score: h.score,
                })
            })
            .collect();
        let options = RankingOptions {
            max_cases_per_condition: policies.max_cases_per_condition,
        };
        let conditions = rank_conditions(&hits, options)
            .into_iter()
            .take(policies.max_results)
            .map(|r| ConditionEvidence {
                cases: r
                    .supporting_cases
                    .iter()
                    .filter_map(|id| cases.remove(id))
                    .collect(),
                condition: r.condition,
                score: r.score,
            })
            .collect();
        Ok(Diagnosis {
            question: question.to_string(),
            translation,
            conditions,
        })
    }

    /// Answers `question`: the LLM grounded on the diagnosis when available, else the
    /// evidence.
    pub async fn ask(&self, question: &str) -> Result<Answer, AgentError> {
        let diagnosis = self.diagnose(question).await?;
        let Some(generator) = self.generator.as_ref() else {
            return Ok(Answer {
                text: evidence_answer(&diagnosis),
                diagnosis,
                source: AnswerSource::Evidence,
                fallback_reason: None,
            });
        };
        let g = &self.config.generator;
        let prompt = diagnosis.llm_prompt();
        let call = generator.generate(&self.config.system_prompt, &prompt, &g.options);
        let result = match tokio::time::timeout(g.timeout(), call).await {
            Ok(r) => r,
            Err(_) => Err(AgentError::Timeout {
                host: generator.name().to_string(),
                model: generator.name().to_string(),
                timeout: g.timeout(),
            }),
        };
        match result {
            Ok(text) if !text.trim().is_empty() => Ok(Answer {
                text,
                diagnosis,
                source: AnswerSource::Llm(generator.name().to_string()),
                fallback_reason: None,
            }),
            Ok(_) if self.config.policies.fallback_to_heuristics => Ok(Answer {
                text: evidence_answer(&diagnosis),
                diagnosis,
                source: AnswerSource::Evidence,
                fallback_reason: Some(format!("{} answered nothing", generator.name())),
            }),
            Err(e) if self.config.policies.fallback_to_heuristics => Ok(Answer {
                text: evidence_answer(&diagnosis),
                diagnosis,
                source: AnswerSource::Evidence,
                fallback_reason: Some(e.to_string()),
            }),
            Ok(_) => Err(AgentError::BadAnswer {
                host: generator.name().to_string(),
                model: generator.name().to_string(),
                message: "empty answer".into(),
            }),
            Err(e) => Err(e),
        }
    }
}
