//! The similarity [`Metric`] of a vector store and the crate-wide *score* convention.
//!
//! **Score convention: higher is better, for every metric.**
//!
//! | metric | [`Metric::score`] | exact match | range |
//! |---|---|---|---|
//! | `Cosine` (default) | cosine similarity `a·b/(‖a‖‖b‖)` | `1.0` | `[-1, 1]` |
//! | `L2` | negative squared Euclidean distance `−‖a−b‖²` | `0.0` | `(-∞, 0]` |
//! | `Dot` | inner product `a·b` | — | `ℝ` |
//!
//! Negative *squared* L2 is used (not `1/(1+d)`) because it is exact, cheap and monotonic, so
//! ranking, top-k thresholds and ground truth all agree bit for bit. Use
//! [`Metric::display_score`] to present an L2 score as `1/(1+d)` in `(0, 1]`.
//!
//! Stores *prepare* vectors once ([`Metric::prepare`]: cosine vectors are normalised to unit
//! length) so the hot path scores prepared vectors with [`Metric::score_prepared`], where cosine
//! is a plain dot product.
//!
//! Clustering for a metric: cosine trains spherical k-means (unit centroids, assignment by dot);
//! `L2` and `Dot` train Euclidean k-means (mean centroids, assignment by L2) — see
//! [`Metric::is_spherical`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::distance;
use crate::error::VectorError;

/// Similarity metric of a vector store. Serialised as `"cosine"`, `"l2"` or `"dot"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Cosine similarity (the default). Vectors are stored normalised.
    #[default]
    Cosine,
    /// Euclidean distance; scored as `−‖a−b‖²`.
    L2,
    /// Inner product; scored as `a·b`.
    Dot,
}

impl Metric {
    /// All metrics, in declaration order.
    pub const ALL: [Metric; 3] = [Metric::Cosine, Metric::L2, Metric::Dot];

    /// Lower-case name (`cosine`, `l2`, `dot`), as serialised.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
            Metric::Dot => "dot",
        }
    }

    /// Score of `a` against `b` on raw (unprepared) vectors; higher is better.
    ///
    /// # Panics
    /// If the lengths differ.
    #[inline]
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine => distance::cosine(a, b),
            Metric::L2 => -distance::l2_squared(a, b),
            Metric::Dot => distance::dot(a, b),
        }
    }

    /// Score of two vectors already passed through [`Metric::prepare`]; equals
    /// [`Metric::score`] up to rounding. The hot-path variant: cosine is a dot product.
    ///
    /// # Panics
    /// If the lengths differ.
    #[inline]
    pub fn score_prepared(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine | Metric::Dot => distance::dot(a, b),
            Metric::L2 => -distance::l2_squared(a, b),
        }
    }

    /// Whether stored vectors and queries must be normalised to unit length.
    pub fn normalizes(self) -> bool {
        matches!(self, Metric::Cosine)
    }

    /// Whether k-means for this metric is spherical (unit centroids, assignment by dot).
    pub fn is_spherical(self) -> bool {
        matches!(self, Metric::Cosine)
    }

    /// Prepares a vector for storage or querying: normalises it for cosine, no-op otherwise.
    /// Returns `false` when a cosine vector has zero norm and cannot be used.
    /// Call [`crate::validate::check_vector`] first to reject NaN and infinities.
    pub fn prepare(self, v: &mut [f32]) -> bool {
        if self.normalizes() {
            let n = distance::normalize(v);
            n > 0.0 && n.is_finite()
        } else {
            true
        }
    }

    /// Presentation form of a score: L2 becomes `1/(1+‖a−b‖)` in `(0, 1]` (exact match `1.0`);
    /// cosine and dot are returned unchanged. Monotonic, so it never changes a ranking.
    pub fn display_score(self, score: f32) -> f32 {
        match self {
            Metric::L2 => 1.0 / (1.0 + (-score).max(0.0).sqrt()),
            Metric::Cosine | Metric::Dot => score,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = VectorError;

    /// Parses `cosine`, `l2` (or `euclidean`) and `dot` (or `ip`), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cosine" | "cos" => Ok(Metric::Cosine),
            "l2" | "euclidean" => Ok(Metric::L2),
            "dot" | "ip" | "inner_product" => Ok(Metric::Dot),
            _ => Err(VectorError::UnknownMetric(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_cosine_and_serde_round_trips() -> Result<(), serde_json::Error> {
        assert_eq!(Metric::default(), Metric::Cosine);
        for m in Metric::ALL {
            let s = serde_json::to_string(&m)?;
            assert_eq!(s, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Metric>(&s)?, m);
            assert_eq!(m.to_string().parse::<Metric>().ok(), Some(m));
        }
        assert!(matches!(
            "manhattan".parse::<Metric>(),
            Err(VectorError::UnknownMetric(_))
        ));
        Ok(())
    }

    #[test]
    fn higher_is_better_for_every_metric() {
        let q = [1.0f32, 0.0, 0.0];
        let near = [0.9f32, 0.1, 0.0];
        let far = [-1.0f32, 0.5, 0.0];
        for m in Metric::ALL {
            assert!(m.score(&q, &near) > m.score(&q, &far), "{m}");
            assert!(m.display_score(m.score(&q, &near)) > m.display_score(m.score(&q, &far)));
        }
        assert!((Metric::Cosine.score(&q, &q) - 1.0).abs() < 1e-6);
        assert_eq!(Metric::L2.score(&q, &q), 0.0);
        assert_eq!(Metric::L2.display_score(0.0), 1.0);
    }

    #[test]
    fn prepared_scores_match_raw_scores() {
        let a = [3.0f32, 4.0, 1.0, -2.0];
        let b = [1.0f32, -1.0, 2.0, 0.5];
        for m in Metric::ALL {
            let (mut pa, mut pb) = (a, b);
            assert!(m.prepare(&mut pa) && m.prepare(&mut pb));
            let raw = m.score(&a, &b);
            assert!((m.score_prepared(&pa, &pb) - raw).abs() < 1e-5, "{m}");
        }
        let mut zero = [0.0f32; 4];
        assert!(!Metric::Cosine.prepare(&mut zero));
        assert!(Metric::L2.prepare(&mut zero));
    }
}
