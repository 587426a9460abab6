//! Run-time CPU dispatch for the hot kernels: one plain-Rust body compiled twice.
//!
//! The workspace builds for the baseline x86-64 target (SSE2), so the auto-vectorised kernels
//! would otherwise use 4-lane registers only. `multiversion!` turns one
//! kernel body into
//! - a portable copy (always compiled, used on other CPUs and architectures), and
//! - on x86-64, a copy compiled with AVX2 enabled (`#[target_feature]`), called when the CPU
//!   reports AVX2 at run time ([`has_avx2`]).
//!
//! Both copies run the same operations in the same order (no fused multiply-add: the
//! compiler never contracts `a * b + c` on its own), so they return **bit-identical** results;
//! the AVX2 copy is only wider. The kernels' tests compare the dispatched copy, the portable
//! copy and a plain scalar reference.
//!
//! The one `unsafe` of the crate lives in the macro: calling a `#[target_feature]` function
//! is unsafe because running AVX2 instructions on a CPU without them is undefined behaviour.
//! The call is guarded by the run-time check, which is exactly that function's precondition.

/// Whether the CPU supports AVX2 (checked once; the standard library caches the answer).
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `$name` (dispatching to an AVX2 build of the body when the CPU has it) and
/// `$portable` (the same body for the baseline target), see the [module docs](crate::simd).
///
/// ```text
/// multiversion! {
///     /// docs
///     pub fn name / name_portable (a: &[f32], b: &[f32]) -> f32 { body }
/// }
/// ```
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident / $portable:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)?
        $body:block
    ) => {
        $(#[$meta])*
        #[inline]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[inline]
                fn avx2($($arg: $ty),*) $(-> $ret)? $body
                if $crate::simd::has_avx2() {
                    // SAFETY: `avx2` only requires the AVX2 target feature, which the CPU
                    // reported at run time just above.
                    #[allow(unsafe_code)]
                    return unsafe { avx2($($arg),*) };
                }
            }
            $portable($($arg),*)
        }

        /// The portable (baseline target) build of the kernel of the same name.
        // Kept out of line on purpose: inlined into a caller's loop, LLVM's SLP vectoriser
        // has been seen to transpose the blocked kernels into shuffles, running ~3x slower.
        #[inline(never)]
        $vis fn $portable($($arg: $ty),*) $(-> $ret)? $body
    };
}
pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::*;

    crate::simd::multiversion! {
        /// Sum of squares (test kernel).
        fn sum_sq / sum_sq_portable(x: &[f32]) -> f32 {
            let mut acc = [0f32; 8];
            for c in x.chunks_exact(8) {
                for i in 0..8 {
                    acc[i] += c[i] * c[i];
                }
            }
            acc.iter().sum()
        }
    }

    #[test]
    fn both_builds_agree_bit_for_bit() {
        let x: Vec<f32> = (0..1024).map(|i| (i as f32 * 0.37).sin()).collect();
        assert_eq!(sum_sq(&x).to_bits(), sum_sq_portable(&x).to_bits());
        let naive: f32 = x.iter().map(|v| v * v).sum();
        assert!((sum_sq(&x) - naive).abs() < 1e-3);
        // On the build machines this is x86-64 with AVX2; the check must at least not panic.
        let _ = has_avx2();
    }
}
