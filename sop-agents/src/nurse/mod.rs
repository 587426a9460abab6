//! The Nurse: lay description -> canonical clinical terms of the knowledge base vocabulary.
//!
//! Invariant: whatever path produced them (LLM or heuristic), the Nurse only ever outputs
//! terms of its vocabulary.

pub mod agent;
pub mod heuristic;
pub mod lay_phrases;
pub mod llm;
pub mod vocabulary;

pub use agent::{Nurse, Translation, TranslationSource};
