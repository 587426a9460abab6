//! Distance kernels on `f32` slices: dot product, squared L2, norms, normalisation.
//!
//! Owns the hot inner loops of the crate. The kernels are plain safe Rust written so that the
//! compiler auto-vectorises them: each keeps [`LANES`] independent `f32` accumulators (a fixed
//! array updated lane by lane over `chunks_exact`), which breaks the loop-carried dependency
//! of a naive sum and maps onto SIMD registers; each kernel is also built for AVX2 and picked at
//! run time ([`crate::simd`]). The tail (`len % LANES` components) is summed
//! scalar. Accumulators are reduced pairwise in a fixed order, so results are deterministic
//! for given inputs (but may differ from a naive left-to-right sum in the last bits).
//!
//! Invariants: both operands of a binary kernel have the same length (checked, panics
//! otherwise: a length mismatch is a programming error — validate inputs at the boundary with
//! [`crate::validate`]). No `unsafe`.
//!
//! One-against-many scoring (k-means assignment, bucket scans) should use the blocked layout of
//! [`crate::packed`], which is several times faster than repeated calls to these kernels.

/// Number of independent accumulators used by the single-pair kernels.
pub const LANES: usize = 16;

#[inline(always)]
fn reduce<const N: usize>(acc: [f32; N]) -> f32 {
    // Pairwise reduction in a fixed order; N is a power of two here.
    let mut acc = acc;
    let mut width = N;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0]
}

#[inline(always)]
fn check_len(a: &[f32], b: &[f32]) {
    assert_eq!(
        a.len(),
        b.len(),
        "distance kernel called with vectors of different lengths"
    );
}

crate::simd::multiversion! {
    /// Dot product `Σ a[i]·b[i]`.
    ///
    /// # Panics
    /// If `a.len() != b.len()`.
    pub fn dot / dot_portable(a: &[f32], b: &[f32]) -> f32 {
        check_len(a, b);
        let mut acc = [0.0f32; LANES];
        let ac = a.chunks_exact(LANES);
        let bc = b.chunks_exact(LANES);
        let (ar, br) = (ac.remainder(), bc.remainder());
        for (x, y) in ac.zip(bc) {
            for i in 0..LANES {
                acc[i] += x[i] * y[i];
            }
        }
        let mut sum = reduce(acc);
        for (x, y) in ar.iter().zip(br) {
            sum += x * y;
        }
        sum
    }
}

crate::simd::multiversion! {
    /// Squared Euclidean distance `Σ (a[i]−b[i])²`.
    ///
    /// # Panics
    /// If `a.len() != b.len()`.
    pub fn l2_squared / l2_squared_portable(a: &[f32], b: &[f32]) -> f32 {
        check_len(a, b);
        let mut acc = [0.0f32; LANES];
        let ac = a.chunks_exact(LANES);
        let bc = b.chunks_exact(LANES);
        let (ar, br) = (ac.remainder(), bc.remainder());
        for (x, y) in ac.zip(bc) {
            for i in 0..LANES {
                let d = x[i] - y[i];
                acc[i] += d * d;
            }
        }
        let mut sum = reduce(acc);
        for (x, y) in ar.iter().zip(br) {
            let d = x - y;
            sum += d * d;
        }
        sum
    }
}

crate::simd::multiversion! {
    /// Squared Euclidean norm `Σ a[i]²`.
    pub fn norm_squared / norm_squared_portable(a: &[f32]) -> f32 {
        let mut acc = [0.0f32; LANES];
        let ac = a.chunks_exact(LANES);
        let ar = ac.remainder();
        for x in ac {
            for i in 0..LANES {
                acc[i] += x[i] * x[i];
            }
        }
        let mut sum = reduce(acc);
        for x in ar {
            sum += x * x;
        }
        sum
    }
}

/// Euclidean norm `√Σ a[i]²`.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    norm_squared(a).sqrt()
}

/// Scales `a` in place to unit length and returns its original norm. A vector whose norm is
/// zero or not finite is left untouched; the returned norm tells the caller to reject it.
#[inline]
pub fn normalize(a: &mut [f32]) -> f32 {
    let n = norm(a);
    if n > 0.0 && n.is_finite() {
        let inv = 1.0 / n;
        for x in a.iter_mut() {
            *x *= inv;
        }
    }
    n
}

/// Cosine similarity `a·b / (‖a‖‖b‖)`, in `[-1, 1]`; `0.0` when either vector is zero.
///
/// # Panics
/// If `a.len() != b.len()`.
#[inline]
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let denom = (norm_squared(a) * norm_squared(b)).sqrt();
    if denom > 0.0 {
        dot(a, b) / denom
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }
    fn naive_l2(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum()
    }
    fn random_vec(rng: &mut SmallRng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }
    fn close(a: f32, b: f64, scale: f64) -> bool {
        (a as f64 - b).abs() <= 1e-5 * scale.max(1.0)
    }

    #[test]
    fn kernels_match_naive_for_all_lengths() {
        let mut rng = SmallRng::seed_from_u64(7);
        for n in [
            0usize, 1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 128, 129, 768, 1000,
        ] {
            let a = random_vec(&mut rng, n);
            let b = random_vec(&mut rng, n);
            let scale = n as f64;
            assert!(close(dot(&a, &b), naive_dot(&a, &b), scale), "dot n={n}");
            assert!(
                close(l2_squared(&a, &b), naive_l2(&a, &b), scale),
                "l2 n={n}"
            );
            assert!(
                close(norm_squared(&a), naive_dot(&a, &a), scale),
                "norm n={n}"
            );
            // The AVX2 and portable builds agree bit for bit.
            assert_eq!(dot(&a, &b).to_bits(), dot_portable(&a, &b).to_bits());
            assert_eq!(
                l2_squared(&a, &b).to_bits(),
                l2_squared_portable(&a, &b).to_bits()
            );
            assert_eq!(
                norm_squared(&a).to_bits(),
                norm_squared_portable(&a).to_bits()
            );
        }
    }

    #[test]
    fn normalize_and_cosine() {
        let mut v = vec![3.0f32, 4.0];
        assert_eq!(normalize(&mut v), 5.0);
        assert!((norm(&v) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[0.0, 2.0])).abs() < 1e-7);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
        let mut zero = vec![0.0f32; 4];
        assert_eq!(normalize(&mut zero), 0.0);
        assert_eq!(zero, vec![0.0; 4]);
        assert_eq!(cosine(&zero, &[1.0, 0.0, 0.0, 0.0]), 0.0);
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn length_mismatch_panics() {
        let _ = dot(&[1.0, 2.0], &[1.0]);
    }
}
