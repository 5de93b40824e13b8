//! Seeded random data and conversions between the GPU's f32 and the references' f64.

use rand::{Rng, SeedableRng};

/// The tests' random number generator: the same seed gives the same data on every machine.
pub fn rng(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// `n` values uniform in [−1, 1).
pub fn random(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// `n` values uniform in [−scale, scale) (drawn as [`random`], then scaled).
pub fn random_scaled(rng: &mut impl Rng, n: usize, scale: f32) -> Vec<f32> {
    random(rng, n).iter().map(|v| v * scale).collect()
}

/// f32 values as f64 (exact).
pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// f64 values rounded to f32.
pub fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}
