//! Helpers shared by the GPU tests: a Vulkan device (lavapipe on CPU-only machines), random
//! data and closeness checks.
#![allow(dead_code)]

pub mod candle_ref;
pub mod ct2;
pub mod f64_encoder;
pub mod fixtures;
pub mod random_model;

use rand::{Rng, SeedableRng};
use whisper_clsr::gpu::{Gpu, GpuOptions};

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

/// A converted test model under `models/` (or `$WHISPER_CLSR_MODELS`).
pub fn model_dir(name: &str) -> std::path::PathBuf {
    let dir = model_dir_any(name);
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: run scripts/fetch-models.sh first",
        dir.display()
    );
    dir
}

/// A directory under the models folder (`$WHISPER_CLSR_MODELS` or `models/`), whatever
/// layout it holds (e.g. the CTranslate2 original `whisper-tiny.en-ct2`).
pub fn model_dir_any(name: &str) -> std::path::PathBuf {
    let root = std::env::var_os("WHISPER_CLSR_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    let dir = root.join(name);
    assert!(
        dir.is_dir(),
        "{} is missing: run scripts/fetch-models.sh first",
        dir.display()
    );
    dir
}

/// Writes a 16-bit PCM WAV.
pub fn write_wav(path: &std::path::Path, samples: &[f32], rate: u32, channels: u16) {
    let data: Vec<u8> = samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}

/// Lowercase words without punctuation, for transcripts that differ only in commas.
pub fn words(text: &str) -> String {
    let kept: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}
