//! Central finite differences: the check that an analytic gradient (from the GPU) is the
//! derivative of the function it claims to differentiate.
//!
//! [`FiniteDiff::check`] perturbs chosen coordinates of a point by ±h, evaluates a scalar
//! loss at both, and compares (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h with the analytic entry:
//!
//! |fd − analytic| ≤ rtol·(|fd| + scale), with `scale` the mean |analytic| over all entries,
//!
//! so that entries near zero are judged against the gradient's typical size. The loss is
//! usually L = Σ r·f(x) for a fixed random r (see [`dot`]), whose gradient is the backward
//! pass fed with r.

use rand::Rng;

/// Indices to probe: all of `0..n` when `n ≤ count`, else up to `count` random ones, sorted
/// and without repeats.
pub fn probe_indices(rng: &mut impl Rng, n: usize, count: usize) -> Vec<usize> {
    if n <= count {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..count).map(|_| rng.random_range(0..n)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Central difference (f(h) − f(−h)) / 2h of a scalar function of a shift.
pub fn central_difference(h: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
    (f(h) - f(-h)) / (2.0 * h)
}

/// Σ r·y in f64: the scalar loss whose gradient w.r.t. y is r.
pub fn dot(r: &[f32], y: &[f32]) -> f64 {
    r.iter().zip(y).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// A coordinate a finite difference can shift: f32 inputs of a GPU kernel, f64 inputs of a
/// CPU reference.
pub trait Coordinate: Copy {
    /// `self + d`, rounded to the coordinate's type.
    fn shifted(self, d: f64) -> Self;
}

impl Coordinate for f32 {
    fn shifted(self, d: f64) -> Self {
        self + d as f32
    }
}

impl Coordinate for f64 {
    fn shifted(self, d: f64) -> Self {
        self + d
    }
}

/// The step and tolerance of a finite-difference check.
#[derive(Clone, Copy, Debug)]
pub struct FiniteDiff {
    /// The shift h. Large enough that the loss's own rounding, divided by 2h, stays far below
    /// the tolerance; small enough that the O(h²) truncation error does too.
    pub step: f64,
    /// The relative tolerance (see the module documentation).
    pub rtol: f64,
}

/// One probed coordinate.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub index: usize,
    pub analytic: f64,
    pub numeric: f64,
    pub rel_err: f64,
}

/// What a check measured: every probe, the scale and the worst relative error.
#[derive(Clone, Debug)]
pub struct Report {
    pub probes: Vec<Probe>,
    pub scale: f64,
    pub worst: f64,
}

impl FiniteDiff {
    pub const fn new(step: f64, rtol: f64) -> Self {
        Self { step, rtol }
    }

    /// Compares `analytic` (the gradient of `loss` at `point`) with central differences at
    /// `indices`, calling `loss` on a copy of `point` with one coordinate shifted by ±step.
    /// Panics with a table of every probe when one is off by more than the tolerance.
    pub fn check<T: Coordinate>(
        &self,
        what: &str,
        analytic: &[f32],
        point: &[T],
        indices: &[usize],
        mut loss: impl FnMut(&[T]) -> f64,
    ) -> Report {
        assert_eq!(
            analytic.len(),
            point.len(),
            "{what}: gradient and point lengths"
        );
        let mut shifted = point.to_vec();
        let numeric: Vec<f64> = indices
            .iter()
            .map(|&i| {
                central_difference(self.step, |d| {
                    shifted[i] = point[i].shifted(d);
                    let l = loss(&shifted);
                    shifted[i] = point[i];
                    l
                })
            })
            .collect();
        self.compare(what, analytic, indices, &numeric)
    }

    /// Like [`check`](Self::check), for coordinates that are not one slice: `loss(i, d)` is
    /// the loss with coordinate `i` shifted by `d`.
    pub fn check_with(
        &self,
        what: &str,
        analytic: &[f32],
        indices: &[usize],
        mut loss: impl FnMut(usize, f64) -> f64,
    ) -> Report {
        let numeric: Vec<f64> = indices
            .iter()
            .map(|&i| central_difference(self.step, |d| loss(i, d)))
            .collect();
        self.compare(what, analytic, indices, &numeric)
    }

    fn compare(&self, what: &str, analytic: &[f32], indices: &[usize], numeric: &[f64]) -> Report {
        let scale =
            analytic.iter().map(|g| g.abs() as f64).sum::<f64>() / analytic.len().max(1) as f64;
        let probes: Vec<Probe> = indices
            .iter()
            .zip(numeric)
            .map(|(&index, &numeric)| {
                let analytic = analytic[index] as f64;
                let rel_err = (analytic - numeric).abs() / (numeric.abs() + scale).max(1e-30);
                Probe {
                    index,
                    analytic,
                    numeric,
                    rel_err,
                }
            })
            .collect();
        let worst = probes.iter().map(|p| p.rel_err).fold(0.0, f64::max);
        // NaN (a loss or gradient that broke) counts as over.
        let over = |p: &Probe| p.rel_err.is_nan() || p.rel_err > self.rtol;
        let failed = probes.iter().any(over);
        if failed {
            let mut table = String::new();
            for p in &probes {
                let mark = if p.rel_err <= self.rtol {
                    ""
                } else {
                    "  <- over"
                };
                table += &format!(
                    "\n  [{}] analytic {:+.6e}  finite difference {:+.6e}  rel err {:.3e}{mark}",
                    p.index, p.analytic, p.numeric, p.rel_err
                );
            }
            panic!(
                "{what}: gradient differs from central differences (h = {:e}) by more than \
                 rtol {:.0e} of (|fd| + mean|gradient| = {scale:.3e}):{table}",
                self.step, self.rtol
            );
        }
        Report {
            probes,
            scale,
            worst,
        }
    }
}
