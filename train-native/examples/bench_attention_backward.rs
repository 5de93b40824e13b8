//! Attention backward at whisper-base's encoder shape (8 heads × 64, 1500 × 1500): wall and
//! CPU time of the forward and the backward, and the backward's largest error on head 0
//! against an f64 CPU reference.
//!
//! ```text
//! cargo run --release -p whisper-clsr-train --example bench_attention_backward -- \
//!     [--frames 1500]
//! ```

use std::time::Instant;

use whisper_clsr::gpu::{Gpu, GpuOptions, Tensor};
use whisper_clsr::ops::attention::{attention, AttentionShape};
use whisper_clsr::ops::softmax::Mask;
use whisper_clsr_train::backward::attention::{attention_backward, AttentionTape};
use whisper_clsr_train::profile::{cpu_seconds, wait};

fn timed<T>(gpu: &Gpu, what: &str, f: impl FnOnce() -> T) -> T {
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let out = f();
    wait(gpu);
    println!(
        "{what}: {:.2} s wall, {:.2} CPU s",
        t0.elapsed().as_secs_f64(),
        cpu_seconds() - c0
    );
    out
}

/// dQ, dK, dV of head 0 ([rows, hd] each) in f64.
#[allow(clippy::type_complexity)]
fn cpu_head0(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dout: &[f32],
    t: usize,
    d: usize,
    hd: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let scale = 1.0 / (hd as f64).sqrt();
    let at = |x: &[f32], r: usize, c: usize| x[r * d + c] as f64;
    let (mut dq, mut dk, mut dv) = (vec![0.0; t * hd], vec![0.0; t * hd], vec![0.0; t * hd]);
    let mut p = vec![0.0; t];
    let mut dp = vec![0.0; t];
    for i in 0..t {
        for j in 0..t {
            p[j] = (0..hd).map(|c| at(q, i, c) * at(k, j, c)).sum::<f64>() * scale;
            dp[j] = (0..hd).map(|c| at(dout, i, c) * at(v, j, c)).sum::<f64>();
        }
        let m = p.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = p.iter().map(|x| (x - m).exp()).sum();
        for x in p.iter_mut() {
            *x = (*x - m).exp() / z;
        }
        let dd: f64 = (0..t).map(|j| p[j] * dp[j]).sum();
        for j in 0..t {
            let ds = p[j] * (dp[j] - dd);
            for c in 0..hd {
                dq[i * hd + c] += scale * ds * at(k, j, c);
                dk[j * hd + c] += scale * ds * at(q, i, c);
                dv[j * hd + c] += p[j] * at(dout, i, c);
            }
        }
    }
    (dq, dk, dv)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut frames = 1500;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--frames" => frames = it.next().ok_or("--frames needs a value")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default()))?;
    println!("device: {}", gpu.describe());
    let s = AttentionShape {
        heads: 8,
        head_dim: 64,
        q_len: frames,
        kv_len: frames,
        beams: 1,
    };
    let d = s.heads * s.head_dim;
    let mut state = 1u32;
    let mut random = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    };
    let (hq, hk, hv, hdo) = (
        random(frames * d),
        random(frames * d),
        random(frames * d),
        random(frames * d),
    );
    let up = |v: &[f32]| gpu.upload(v, &[frames, d]);
    let (q, k, v, dout) = (up(&hq)?, up(&hk)?, up(&hv)?, up(&hdo)?);
    let o = timed(&gpu, "forward attention (runtime)", || {
        attention(&gpu, &q, &k, &v, s, Mask::None)
    });
    // Compile the pipelines outside the timed runs.
    let tape = AttentionTape {
        q: &q,
        k: &k,
        v: &v,
        o: &o,
    };
    let _ = attention_backward(&gpu, tape, &dout, s, None);
    let g = timed(&gpu, "backward", || {
        attention_backward(&gpu, tape, &dout, s, None)
    });
    // f64 CPU reference of head 0 (dQ, dK, dV columns 0..64).
    let reference = cpu_head0(&hq, &hk, &hv, &hdo, frames, d, s.head_dim);
    let compare =
        |what: &str, got: &Tensor, want: &[f64]| -> Result<(), Box<dyn std::error::Error>> {
            let got = pollster::block_on(gpu.read(got))?;
            let mut worst = 0.0f64;
            let mean = want.iter().map(|x| x.abs()).sum::<f64>() / want.len() as f64;
            for r in 0..frames {
                for c in 0..s.head_dim {
                    let w = want[r * s.head_dim + c];
                    let e = (got[r * d + c] as f64 - w).abs() / (w.abs() + mean);
                    worst = worst.max(e);
                }
            }
            println!("  {what} head 0 vs f64 CPU: max rel err {worst:.2e}");
            Ok(())
        };
    compare("dQ", &g.dq, &reference.0)?;
    compare("dK", &g.dk, &reference.1)?;
    compare("dV", &g.dv, &reference.2)?;
    Ok(())
}
