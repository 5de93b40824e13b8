//! Helpers shared by the trainer's GPU tests: a Vulkan device (lavapipe on CPU-only
//! machines), random data, closeness checks and central finite differences.
#![allow(dead_code)]

pub mod tiny;

use rand::{Rng, SeedableRng};
use whisper_clsr::gpu::{DType, Gpu, GpuOptions, Tensor, Weight};

/// Opens the test GPU, pinned to Vulkan unless the caller chose a backend.
pub fn gpu() -> Gpu {
    if std::env::var_os("WGPU_BACKEND").is_none() {
        // SAFETY: set before any thread of this test binary reads the environment.
        unsafe { std::env::set_var("WGPU_BACKEND", "vulkan") };
    }
    pollster::block_on(Gpu::new(GpuOptions::default()))
        .expect("a Vulkan device (install mesa-vulkan-drivers)")
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

/// A frozen weight plus the exact values the GPU sees (f16-rounded when stored as f16).
pub fn weight(gpu: &Gpu, data: &[f32], shape: &[usize], dtype: DType) -> (Weight, Vec<f32>) {
    let w = gpu.weight_f32(data, shape, dtype).unwrap();
    let seen = match dtype {
        DType::F32 => data.to_vec(),
        DType::F16 => through_f16(data),
    };
    (w, seen)
}

pub fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

pub fn gelu_grad(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
        + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
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

pub fn read(gpu: &Gpu, t: &Tensor) -> Vec<f32> {
    pollster::block_on(gpu.read(t)).expect("readback")
}

pub fn read_weight(gpu: &Gpu, w: &Weight) -> Vec<f32> {
    let t = gpu.tensor(w.shape());
    gpu.copy(w.buffer(), 0, t.buffer(), 0, (w.len() * 4) as u64);
    read(gpu, &t)
}

pub fn upload(gpu: &Gpu, data: &[f32], shape: &[usize]) -> Tensor {
    gpu.upload(data, shape).unwrap()
}

/// Indices to probe with finite differences: up to `count` spread over `0..n`.
pub fn probe_indices(rng: &mut impl Rng, n: usize, count: usize) -> Vec<usize> {
    if n <= count {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..count).map(|_| rng.random_range(0..n)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Central difference (f(x + h) − f(x − h)) / 2h of a scalar function of element `i`.
pub fn central_difference(h: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
    (f(h) - f(-h)) / (2.0 * h)
}

/// Compares analytic gradient entries with finite differences at `indices`:
/// |fd − analytic| ≤ rtol·(|fd| + scale), with `scale` the mean |analytic| over all entries.
pub fn assert_fd(
    analytic: &[f32],
    indices: &[usize],
    fd: impl Fn(usize) -> f64,
    rtol: f64,
    what: &str,
) {
    let scale = analytic.iter().map(|g| g.abs() as f64).sum::<f64>() / analytic.len().max(1) as f64;
    for &i in indices {
        let want = fd(i);
        let got = analytic[i] as f64;
        let err = (got - want).abs() / (want.abs() + scale).max(1e-30);
        assert!(
            err <= rtol,
            "{what}: gradient {i} = {got} but finite difference gives {want} (rel err {err:.3e} > {rtol:.0e})"
        );
    }
}

/// Σ r·y in f64.
pub fn dot(r: &[f32], y: &[f32]) -> f64 {
    r.iter().zip(y).map(|(&a, &b)| a as f64 * b as f64).sum()
}
