//! Scoring the Doctor on labelled queries (`{"_id", "text", "diseases": [...]}` JSON lines).
//!
//! A query counts for top-1 when the first ranked condition is one of its diseases, and for
//! top-3 when any of the first three is. Invariant: fractions are over all queries (0 queries
//! give 0.0, never NaN).

use serde::{Deserialize, Serialize};

use crate::doctor::Doctor;
use crate::error::AgentError;

/// One labelled query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabeledQuery {
    /// Query id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The lay description.
    pub text: String,
    /// Acceptable conditions.
    pub diseases: Vec<String>,
}

/// How one query went.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutcome {
    /// Query id.
    pub id: String,
    /// Acceptable conditions.
    pub expected: Vec<String>,
    /// Ranked conditions (at most three).
    pub predicted: Vec<String>,
    /// The Nurse's terms.
    pub terms: Vec<String>,
}

impl QueryOutcome {
    /// The first prediction is acceptable.
    pub fn top1(&self) -> bool {
        self.predicted
            .first()
            .is_some_and(|p| self.expected.contains(p))
    }

    /// One of the predictions is acceptable.
    pub fn top3(&self) -> bool {
        self.predicted.iter().any(|p| self.expected.contains(p))
    }
}

/// Scores over a query set.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// Number of queries.
    pub queries: usize,
    /// Fraction with an acceptable first condition.
    pub top1: f64,
    /// Fraction with an acceptable condition among the first three.
    pub top3: f64,
    /// Per query, in input order.
    pub outcomes: Vec<QueryOutcome>,
}

impl EvalReport {
    /// The one-line JSON summary: `{"queries":n,"top1":f,"top3":f}`.
    pub fn json_line(&self) -> String {
        serde_json::json!({
            "queries": self.queries,
            "top1": self.top1,
            "top3": self.top3,
        })
        .to_string()
    }
}

/// Parses JSON lines (blank lines skipped); errors name `what` and the 1-based line.
pub fn parse_queries(jsonl: &str, what: &str) -> Result<Vec<LabeledQuery>, AgentError> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| AgentError::Parse {
                what: format!("{what}:{}", i + 1),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Asks `doctor` every query (no LLM answer: retrieval and ranking only) and scores it.
pub async fn evaluate(doctor: &Doctor, queries: &[LabeledQuery]) -> Result<EvalReport, AgentError> {
    let mut outcomes = Vec::with_capacity(queries.len());
    for q in queries {
        let diagnosis = doctor.diagnose(&q.text).await?;
        outcomes.push(QueryOutcome {
            id: q.id.clone(),
            expected: q.diseases.clone(),
            predicted: diagnosis
                .condition_names()
                .into_iter()
                .take(3)
                .map(str::to_string)
                .collect(),
            terms: diagnosis.translation.terms,
        });
    }
    let n = outcomes.len();
    let fraction = |hits: usize| if n == 0 { 0.0 } else { hits as f64 / n as f64 };
    Ok(EvalReport {
        queries: n,
        top1: fraction(outcomes.iter().filter(|o| o.top1()).count()),
        top3: fraction(outcomes.iter().filter(|o| o.top3()).count()),
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_line() {
        let ok = parse_queries(
            "{\"_id\":\"q\",\"text\":\"t\",\"diseases\":[\"A\"]}\n\n",
            "f",
        );
        assert_eq!(ok.map(|v| v.len()).ok(), Some(1));
        let err = parse_queries("\n{\"_id\":1}", "dev.jsonl").expect_err("bad line");
        assert!(err.to_string().contains("dev.jsonl:2"), "{err}");
    }
}
