//! Input validation for vectors entering a store: fixed dimension, finite components, and
//! a usable direction for cosine.
//!
//! Invariant: a vector that passed [`check_vector`] has exactly `dim` finite components; one
//! that passed [`prepare_vector`] is also prepared for its metric (unit length for cosine).
//! Errors name the store, the field and the first offending component index.

use crate::error::{Result, VectorError};
use crate::metric::Metric;

/// Checks that `v` has `dim` components, all finite.
///
/// `store` and `field` only label the error (for example `("docs/vecs", "vector")`).
pub fn check_vector(store: &str, field: &str, v: &[f32], dim: usize) -> Result<()> {
    if v.len() != dim {
        return Err(VectorError::DimensionMismatch {
            store: store.to_string(),
            field: field.to_string(),
            expected: dim,
            actual: v.len(),
        });
    }
    if let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(VectorError::NonFinite {
            store: store.to_string(),
            field: field.to_string(),
            index,
            value,
        });
    }
    Ok(())
}

/// Validates `v` with [`check_vector`] and returns a copy prepared for `metric`
/// (normalised for cosine). A zero vector under cosine is a [`VectorError::ZeroVector`].
pub fn prepare_vector(
    store: &str,
    field: &str,
    v: &[f32],
    dim: usize,
    metric: Metric,
) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(v.len());
    prepare_into(store, field, v, dim, metric, &mut out)?;
    Ok(out)
}

/// [`prepare_vector`] appending to `out` (no allocation of its own); on error `out` is left
/// as it was.
pub fn prepare_into(
    store: &str,
    field: &str,
    v: &[f32],
    dim: usize,
    metric: Metric,
    out: &mut Vec<f32>,
) -> Result<()> {
    check_vector(store, field, v, dim)?;
    let start = out.len();
    out.extend_from_slice(v);
    if !metric.prepare(&mut out[start..]) {
        out.truncate(start);
        return Err(VectorError::ZeroVector {
            store: store.to_string(),
            field: field.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_dimension_names_store_and_field() {
        let err = check_vector("docs", "vector", &[1.0, 2.0], 3).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("docs") && msg.contains("vector"), "{msg}");
        assert!(msg.contains("expected 3") && msg.contains("got 2"), "{msg}");
    }

    #[test]
    fn nan_and_infinity_name_the_index() {
        for (bad, idx) in [
            (f32::NAN, 1usize),
            (f32::INFINITY, 2),
            (f32::NEG_INFINITY, 0),
        ] {
            let mut v = vec![0.5f32; 3];
            v[idx] = bad;
            match check_vector("s", "query", &v, 3) {
                Err(VectorError::NonFinite { index, field, .. }) => {
                    assert_eq!(index, idx);
                    assert_eq!(field, "query");
                }
                other => panic!("expected NonFinite, got {other:?}"),
            }
        }
    }

    #[test]
    fn prepare_normalises_cosine_and_rejects_zero() -> Result<()> {
        let v = prepare_vector("s", "vector", &[3.0, 4.0], 2, Metric::Cosine)?;
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(
            prepare_vector("s", "vector", &[3.0, 4.0], 2, Metric::L2)?,
            vec![3.0, 4.0]
        );
        assert!(matches!(
            prepare_vector("s", "vector", &[0.0, 0.0], 2, Metric::Cosine),
            Err(VectorError::ZeroVector { .. })
        ));
        Ok(())
    }

    #[test]
    fn prepare_into_appends_and_leaves_out_unchanged_on_error() -> Result<()> {
        let mut out = vec![9.0];
        prepare_into("s", "vector", &[3.0, 4.0], 2, Metric::Cosine, &mut out)?;
        assert_eq!(out.len(), 3);
        assert!((out[1] - 0.6).abs() < 1e-6 && (out[2] - 0.8).abs() < 1e-6);
        let zero = prepare_into("s", "vector", &[0.0, 0.0], 2, Metric::Cosine, &mut out);
        assert!(matches!(zero, Err(VectorError::ZeroVector { .. })));
        let short = prepare_into("s", "vector", &[1.0], 2, Metric::Cosine, &mut out);
        assert!(short.is_err());
        assert_eq!(out.len(), 3, "failed calls append nothing");
        Ok(())
    }
}
