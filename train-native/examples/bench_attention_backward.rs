//! Attention backward at whisper-base's encoder shape (8 heads × 64, 1500 × 1500): the
//! current matmul-based backward, and optionally the earlier one-thread-per-row kernel
//! (its WGSL given as a file, e.g. from `git show 515faed:shaders/train_attention_backward.wgsl`)
//! on the same inputs, with their wall and CPU time and the largest difference of their
//! gradients.
//!
//! ```text
//! cargo run --release -p whisper-clsr-train --example bench_attention_backward -- \
//!     [--frames 1500] [--old-shader FILE]
//! ```

use std::time::Instant;

use bytemuck::{Pod, Zeroable};
use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, GpuOptions, Tensor};
use whisper_clsr::ops::attention::{attention, AttentionShape};
use whisper_clsr::ops::softmax::Mask;
use whisper_clsr_train::backward::attention::attention_backward;
use whisper_clsr_train::kernel::threads_grid;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct OldParams {
    heads: u32,
    head_dim: u32,
    q_len: u32,
    kv_len: u32,
    d: u32,
    causal: u32,
    past: u32,
    scale: f32,
}

/// CPU seconds (user + system, all threads) of this process, from /proc (100 ticks/s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f.get(11)
        .zip(f.get(12))
        .map_or(0.0, |(u, s)| (u + s) as f64 / 100.0)
}

fn timed<T>(gpu: &Gpu, what: &str, f: impl FnOnce() -> T) -> T {
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let out = f();
    gpu.flush();
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    println!(
        "{what}: {:.2} s wall, {:.2} CPU s",
        t0.elapsed().as_secs_f64(),
        cpu_seconds() - c0
    );
    out
}

#[allow(clippy::too_many_arguments)]
fn old_backward(
    gpu: &Gpu,
    source: &'static str,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    o: &Tensor,
    dout: &Tensor,
    s: AttentionShape,
) -> [Tensor; 3] {
    let d = s.heads * s.head_dim;
    let kernel = |entry| Kernel::new("old_attention_backward.wgsl", source, entry);
    let p = OldParams {
        heads: s.heads as u32,
        head_dim: s.head_dim as u32,
        q_len: s.q_len as u32,
        kv_len: s.kv_len as u32,
        d: d as u32,
        causal: 0,
        past: 0,
        scale: 1.0 / (s.head_dim as f32).sqrt(),
    };
    let bytes = bytemuck::bytes_of(&p);
    let stats = gpu.tensor(&[s.heads, s.q_len, 2]);
    let (dq, dk, dv) = (
        gpu.tensor(&[s.q_len, d]),
        gpu.tensor(&[s.kv_len, d]),
        gpu.tensor(&[s.kv_len, d]),
    );
    let grid = threads_grid(s.heads * s.q_len, 64);
    gpu.dispatch(
        &kernel("row_stats"),
        bytes,
        &[
            (1, q.buffer()),
            (2, k.buffer()),
            (4, o.buffer()),
            (5, dout.buffer()),
            (6, stats.buffer()),
        ],
        grid,
    );
    gpu.dispatch(
        &kernel("grad_q"),
        bytes,
        &[
            (1, q.buffer()),
            (2, k.buffer()),
            (3, v.buffer()),
            (5, dout.buffer()),
            (7, stats.buffer()),
            (8, dq.buffer()),
        ],
        grid,
    );
    gpu.dispatch(
        &kernel("grad_kv"),
        bytes,
        &[
            (1, q.buffer()),
            (2, k.buffer()),
            (3, v.buffer()),
            (5, dout.buffer()),
            (7, stats.buffer()),
            (9, dk.buffer()),
            (10, dv.buffer()),
        ],
        threads_grid(s.heads * s.kv_len, 64),
    );
    [dq, dk, dv]
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
    let mut old: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--frames" => frames = it.next().ok_or("--frames needs a value")?.parse()?,
            "--old-shader" => old = Some(it.next().ok_or("--old-shader needs a file")?),
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
    let up = |v: Vec<f32>| gpu.upload(&v, &[frames, d]);
    let (q, k, v, dout) = (
        up(random(frames * d))?,
        up(random(frames * d))?,
        up(random(frames * d))?,
        up(random(frames * d))?,
    );
    let o = timed(&gpu, "forward attention (runtime)", || {
        attention(&gpu, &q, &k, &v, s, Mask::None)
    });
    // Compile the pipelines outside the timed runs.
    let _ = attention_backward(&gpu, &q, &k, &v, &o, &dout, s, None);
    let g = timed(&gpu, "backward, matmul-based (current)", || {
        attention_backward(&gpu, &q, &k, &v, &o, &dout, s, None)
    });
    // f64 CPU reference of head 0 (dQ, dK, dV columns 0..64).
    let (hq, hk, hv, hdo) = (
        pollster::block_on(gpu.read(&q))?,
        pollster::block_on(gpu.read(&k))?,
        pollster::block_on(gpu.read(&v))?,
        pollster::block_on(gpu.read(&dout))?,
    );
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
    println!("current:");
    compare("dQ", &g.dq, &reference.0)?;
    compare("dK", &g.dk, &reference.1)?;
    compare("dV", &g.dv, &reference.2)?;
    if let Some(path) = old {
        let source: &'static str = Box::leak(std::fs::read_to_string(&path)?.into_boxed_str());
        let [dq, dk, dv] = timed(&gpu, "backward, one thread per row (old)", || {
            old_backward(&gpu, source, &q, &k, &v, &o, &dout, s)
        });
        for (what, a, b) in [("dQ", &g.dq, &dq), ("dK", &g.dk, &dk), ("dV", &g.dv, &dv)] {
            let (a, b) = (
                pollster::block_on(gpu.read(a))?,
                pollster::block_on(gpu.read(b))?,
            );
            let scale = b.iter().map(|x| x.abs()).fold(0.0f32, f32::max);
            let diff = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            println!("{what}: max |current − old| = {diff:.3e} (max |old| {scale:.3e})");
        }
        println!("old:");
        compare("dQ", &dq, &reference.0)?;
        compare("dK", &dk, &reference.1)?;
        compare("dV", &dv, &reference.2)?;
    }
    Ok(())
}
