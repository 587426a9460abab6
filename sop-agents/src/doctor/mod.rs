//! The Doctor agent: a knowledge base of cases in one sop-core database (vector store + BM25
//! index + case records), hybrid retrieval, condition ranking and answers.
//!
//! Files: [`case`] (the stored record), [`fingerprint`] (what a build came from),
//! [`knowledge`] (the stores), [`startup`] (the fallback-config rebuild), [`progress`]
//! (rebuild progress bar), [`ranking`] (conditions from fused hits, storage-free),
//! [`answer`] (diagnosis and answer types), [`agent`] (the [`Doctor`] itself).

pub mod agent;
pub mod answer;
pub mod case;
pub mod fingerprint;
pub mod knowledge;
pub mod progress;
pub mod ranking;
pub mod startup;

pub use agent::{Doctor, DoctorParts};
pub use answer::{Answer, AnswerSource, ConditionEvidence, Diagnosis};
pub use case::Case;
pub use knowledge::{KbMeta, KnowledgeBase};
pub use progress::BuildProgress;
pub use startup::{RebuildReason, StartReport};
