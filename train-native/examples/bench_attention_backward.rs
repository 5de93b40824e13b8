//! Attention backward at whisper-base's shapes (8 heads × 64): by default the encoder's
//! 1500 × 1500; `--queries N` for cross-attention (N decoder tokens over the frames),
//! `--causal` for decoder self-attention (N tokens over themselves). Wall and CPU time of the
//! forward and of both backward kernels (the recompute path and the flash kernel) side by
//! side, their peak memory, a kernel profile of each, and each one's largest error on
//! head 0 against an f64 CPU reference.
//!
//! ```text
//! cargo run --release -p whisper-clsr-train --example bench_attention_backward -- \
//!     [--frames 1500] [--queries N] [--causal]
//! ```

use std::time::Instant;

use whisper_clsr::gpu::{Gpu, GpuOptions, Tensor};
use whisper_clsr::ops::attention::{attention, AttentionShape};
use whisper_clsr::ops::softmax::Mask;
use whisper_clsr_train::backward::attention::{
    attention_backward_with, AttentionBackwardKernel, AttentionTape,
};
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

/// dQ, dK, dV of head 0 ([rows, hd] each) in f64; `causal`: query i sees keys j ≤ i.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn cpu_head0(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dout: &[f32],
    (q_len, kv_len): (usize, usize),
    causal: bool,
    d: usize,
    hd: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let scale = 1.0 / (hd as f64).sqrt();
    let at = |x: &[f32], r: usize, c: usize| x[r * d + c] as f64;
    let mut dq = vec![0.0; q_len * hd];
    let (mut dk, mut dv) = (vec![0.0; kv_len * hd], vec![0.0; kv_len * hd]);
    for i in 0..q_len {
        let t = if causal { i + 1 } else { kv_len };
        let mut p = vec![0.0; t];
        let mut dp = vec![0.0; t];
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
    let mut queries = None;
    let mut causal = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--frames" => frames = it.next().ok_or("--frames needs a value")?.parse()?,
            "--queries" => queries = Some(it.next().ok_or("--queries needs a value")?.parse()?),
            "--causal" => causal = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    // Causal self-attention: the queries are the keys.
    let q_len = queries.unwrap_or(frames);
    let kv_len = if causal { q_len } else { frames };
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default()))?;
    println!("device: {}", gpu.describe());
    let s = AttentionShape {
        heads: 8,
        head_dim: 64,
        q_len,
        kv_len,
        beams: 1,
    };
    println!("shape: {s:?}, causal {causal}");
    let (mask, past) = if causal {
        (Mask::Causal { q_len, past: 0 }, Some(0))
    } else {
        (Mask::None, None)
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
        random(q_len * d),
        random(kv_len * d),
        random(kv_len * d),
        random(q_len * d),
    );
    let up = |v: &[f32], rows: usize| gpu.upload(v, &[rows, d]);
    let (q, k, v, dout) = (
        up(&hq, q_len)?,
        up(&hk, kv_len)?,
        up(&hv, kv_len)?,
        up(&hdo, q_len)?,
    );
    let o = timed(&gpu, "forward attention (runtime)", || {
        attention(&gpu, &q, &k, &v, s, mask)
    });
    let tape = AttentionTape {
        q: &q,
        k: &k,
        v: &v,
        o: &o,
    };
    let kernels = [
        ("recompute", AttentionBackwardKernel::RECOMPUTE),
        ("flash", AttentionBackwardKernel::Flash),
    ];
    let mut grads = Vec::new();
    for (name, kernel) in kernels {
        // Compile the pipelines outside the timed run.
        let _ = attention_backward_with(&gpu, tape, &dout, s, past, kernel);
        wait(&gpu);
        gpu.release_pooled();
        let before = gpu.activation_bytes();
        gpu.reset_peak_activation_bytes();
        let g = timed(&gpu, &format!("backward, {name}"), || {
            attention_backward_with(&gpu, tape, &dout, s, past, kernel)
        });
        // Transient buffers and the three gradients.
        let peak = gpu.peak_activation_bytes() - before;
        println!(
            "  peak memory beyond the inputs: {:.1} MiB",
            peak as f64 / (1 << 20) as f64
        );
        grads.push((name, g));
    }
    // Where each kernel's time goes (dispatches one at a time, so the sums exceed the
    // batched wall times above).
    for (name, kernel) in kernels {
        gpu.start_kernel_profile();
        let _ = attention_backward_with(&gpu, tape, &dout, s, past, kernel);
        println!("kernel profile, {name}:");
        for t in gpu.take_kernel_profile() {
            println!(
                "  {:8.1} ms  {:3}×  {}",
                t.total.as_secs_f64() * 1e3,
                t.dispatches,
                t.kernel
            );
        }
    }
    // f64 CPU reference of head 0 (dQ, dK, dV columns 0..64).
    let reference = cpu_head0(&hq, &hk, &hv, &hdo, (q_len, kv_len), causal, d, s.head_dim);
    let compare = |what: &str,
                   got: &Tensor,
                   want: &[f64],
                   rows: usize|
     -> Result<(), Box<dyn std::error::Error>> {
        let got = pollster::block_on(gpu.read(got))?;
        let mut worst = 0.0f64;
        let mean = want.iter().map(|x| x.abs()).sum::<f64>() / want.len() as f64;
        for r in 0..rows {
            for c in 0..s.head_dim {
                let w = want[r * s.head_dim + c];
                let e = (got[r * d + c] as f64 - w).abs() / (w.abs() + mean);
                worst = worst.max(e);
            }
        }
        println!("  {what} head 0 vs f64 CPU: max rel err {worst:.2e}");
        Ok(())
    };
    for (name, g) in &grads {
        println!("{name}:");
        compare("dQ", &g.dq, &reference.0, q_len)?;
        compare("dK", &g.dk, &reference.1, kv_len)?;
        compare("dV", &g.dv, &reference.2, kv_len)?;
    }
    Ok(())
}
