//! Helpers shared by the GPU tests: a Vulkan device (lavapipe on CPU-only machines), random
//! data and closeness checks.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use whisper_clsr::gpu::{Gpu, GpuOptions};

/// Opens the test GPU, pinned to Vulkan unless the caller chose a backend.
pub fn gpu() -> Gpu {
    if std::env::var_os("WGPU_BACKEND").is_none() {
        // SAFETY: set before any thread of this test binary reads the environment.
        unsafe { std::env::set_var("WGPU_BACKEND", "vulkan") };
    }
    pollster::block_on(Gpu::new(GpuOptions::default())).expect("a Vulkan device (install mesa-vulkan-drivers)")
}

pub fn rng(seed: u64) -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(seed)
}

pub fn random(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Rounds values through f16, as packed-f16 weights store them.
pub fn through_f16(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()
}

pub fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

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

pub fn read(gpu: &Gpu, t: &whisper_clsr::gpu::Tensor) -> Vec<f32> {
    pollster::block_on(gpu.read(t)).expect("readback")
}
