//! The counter-based RNG (`shaders/lib/rng.wgsl`) and dropout (a variant of `shaders/train/elementwise.wgsl`).
//! Draws are a pure function of (seed, stream, index), so backward passes regenerate masks
//! and noise, and a resumed run reproduces them. The CPU mirror below is bit-identical for integers.

use whisper_clsr::gpu::{Gpu, Tensor};

use crate::elementwise::{run, Op, Operands};

/// Where a draw comes from: a per-step seed and a per-use stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Draw {
    pub seed: u32,
    pub stream: u32,
}

/// Inverted dropout of `x` with drop probability `p_drop`. Applying it to dy with the same
/// `draw` is its backward.
pub fn dropout(gpu: &Gpu, x: &Tensor, p_drop: f32, draw: Draw) -> Tensor {
    assert!(
        (0.0..1.0).contains(&p_drop),
        "dropout probability {p_drop} outside [0, 1)"
    );
    let y = gpu.tensor(x.shape());
    let io = Operands {
        x: Some(x.buffer()),
        y: y.buffer(),
        dy: None,
    };
    run(gpu, Op::Dropout(p_drop, draw), x.len(), io);
    y
}

/// CPU mirror of `pcg_hash`.
pub fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

/// CPU mirror of `rng_u32`.
pub fn rng_u32(draw: Draw, index: u32) -> u32 {
    pcg_hash(pcg_hash(pcg_hash(draw.seed).wrapping_add(draw.stream)).wrapping_add(index))
}

/// CPU mirror of `rng_uniform`.
pub fn rng_uniform(draw: Draw, index: u32) -> f32 {
    (rng_u32(draw, index) >> 8) as f32 * (1.0 / 16777216.0)
}

/// CPU mirror of `rng_normal` (in f64; the GPU's transcendentals differ in the last bits).
pub fn rng_normal(draw: Draw, index: u32) -> f64 {
    let u1 = (((rng_u32(draw, 2 * index) >> 8) as f64) + 0.5) / 16777216.0;
    let u2 = ((rng_u32(draw, 2 * index + 1) >> 8) as f64) / 16777216.0;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Whether dropout keeps element `index` (CPU mirror of the kernel's test).
pub fn dropout_keeps(draw: Draw, index: u32, p_drop: f32) -> bool {
    rng_uniform(draw, index) >= p_drop
}
