//! Closeness checks of f32 GPU results against f64 references.
//!
//! The rule for kernels: relative error ≲ 1e-4 against the f64 reference, measured as
//! [`assert_close`] does. Tolerances are part of what a test tests; do not widen them to make
//! a test pass.

/// Asserts |got − want| ≤ rtol·(|want| + mean|want|) elementwise: relative error, with the
/// mean magnitude as the floor for entries that cancel to near zero.
pub fn assert_close(got: &[f32], want: &[f64], rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mean = want.iter().map(|w| w.abs()).sum::<f64>() / want.len().max(1) as f64;
    let mut worst = (0.0f64, 0usize);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w).abs() / (w.abs() + mean).max(1e-30);
        if err > worst.0 || err.is_nan() {
            worst = (err, i);
        }
    }
    let (err, i) = worst;
    assert!(
        err <= rtol,
        "{what}: relative error {err:.3e} > {rtol:.0e} at {i}: got {} want {}",
        got[i],
        want[i]
    );
}

/// Asserts |got − want| ≤ rtol·|want| for one scalar (a loss value).
pub fn assert_scalar_close(got: f64, want: f64, rtol: f64, what: &str) {
    assert!(
        (got - want).abs() <= rtol * want.abs(),
        "{what}: {got} vs reference {want} (relative error {:.3e} > {rtol:.0e})",
        (got - want).abs() / want.abs()
    );
}

/// Largest |a − b| of two equally long f32 slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Largest |x − reference| and how many entries exceed `bound`.
pub fn error_vs(x: &[f32], reference: &[f64], bound: f64) -> (f64, usize) {
    assert_eq!(x.len(), reference.len());
    x.iter()
        .zip(reference)
        .fold((0.0, 0), |(worst, over), (&a, &r)| {
            let e = (a as f64 - r).abs();
            (worst.max(e), over + usize::from(e > bound))
        })
}
