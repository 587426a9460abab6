//! Condition ranking: from fused case hits to ranked conditions with supporting cases.
//!
//! A condition's score is the sum of the fused scores of its best `max_cases_per_condition`
//! cases (default 3), so a condition is rewarded for several strongly matching cases without
//! conditions with many near-duplicate cases winning on volume alone.
//! Invariants: pure and deterministic; output sorted by score descending, ties by the best
//! case's position in the input, then by condition name; supporting case ids keep input order.

use std::collections::HashMap;

/// One retrieved case, as produced by fusion, with the condition it documents.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseHit {
    /// Case id.
    pub case_id: String,
    /// The condition the case documents (the case's `text`).
    pub condition: String,
    /// Fused relevance score (higher is better).
    pub score: f64,
}

/// A ranked condition and the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedCondition {
    /// Condition name.
    pub condition: String,
    /// Aggregated score.
    pub score: f64,
    /// Ids of the cases that contributed, best first.
    pub supporting_cases: Vec<String>,
}

/// How case scores are aggregated into a condition score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingOptions {
    /// At most this many best cases of a condition count towards its score (>= 1).
    pub max_cases_per_condition: usize,
}

impl Default for RankingOptions {
    fn default() -> Self {
        Self {
            max_cases_per_condition: 3,
        }
    }
}

/// Ranks conditions from case hits (best first in `hits`' score order).
pub fn rank_conditions(hits: &[CaseHit], options: RankingOptions) -> Vec<RankedCondition> {
    let cap = options.max_cases_per_condition.max(1);
    let mut order: Vec<usize> = (0..hits.len()).collect();
    order.sort_by(|&a, &b| hits[b].score.total_cmp(&hits[a].score).then(a.cmp(&b)));
    let mut by_condition: HashMap<&str, (RankedCondition, usize)> = HashMap::new();
    for (position, &i) in order.iter().enumerate() {
        let hit = &hits[i];
        let entry = by_condition
            .entry(hit.condition.as_str())
            .or_insert_with(|| {
                (
                    RankedCondition {
                        condition: hit.condition.clone(),
                        score: 0.0,
                        supporting_cases: Vec::new(),
                    },
                    position,
                )
            });
        if entry.0.supporting_cases.len() < cap {
            entry.0.score += hit.score;
            entry.0.supporting_cases.push(hit.case_id.clone());
        }
    }
    let mut ranked: Vec<(RankedCondition, usize)> = by_condition.into_values().collect();
    ranked.sort_by(|a, b| {
        b.0.score
            .total_cmp(&a.0.score)
            .then(a.1.cmp(&b.1))
            .then_with(|| a.0.condition.cmp(&b.0.condition))
    });
    ranked.into_iter().map(|(c, _)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, condition: &str, score: f64) -> CaseHit {
        CaseHit {
            case_id: id.into(),
            condition: condition.into(),
            score,
        }
    }

    #[test]
    fn caps_cases_per_condition_and_keeps_evidence() {
        let hits = vec![
            hit("a1", "A", 1.0),
            hit("b1", "B", 0.9),
            hit("a2", "A", 0.1),
            hit("b2", "B", 0.8),
            hit("a3", "A", 0.1),
            hit("a4", "A", 0.1),
        ];
        let out = rank_conditions(
            &hits,
            RankingOptions {
                max_cases_per_condition: 2,
            },
        );
        assert_eq!(out[0].condition, "B");
        assert_eq!(out[0].supporting_cases, vec!["b1", "b2"]);
        assert_eq!(out[1].supporting_cases, vec!["a1", "a2"]);
        assert!((out[1].score - 1.1).abs() < 1e-12);
    }

    #[test]
    fn ties_break_by_first_position_then_name() {
        let hits = vec![hit("x", "Zeta", 0.5), hit("y", "Alpha", 0.5)];
        let out = rank_conditions(&hits, RankingOptions::default());
        assert_eq!(out[0].condition, "Zeta");
        assert!(rank_conditions(&[], RankingOptions::default()).is_empty());
    }
}
