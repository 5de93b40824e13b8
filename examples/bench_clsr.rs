//! Cost of CLSR routing: the routed FFN (gate, partition, each token through one FFN)
//! against the plain dense FFN (`linear` fc1+GELU, fc2+residual), at whisper-base and
//! whisper-small widths, for an encoder pass (T = 1500) and a decoder step (T = 1), with
//! f16 weights as real checkpoints store them.
//!
//! `cargo run --release --no-default-features --example bench_clsr [-- T...]` (default T:
//! 1500 1)

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use web_time::Instant;
use whisper_clsr::gpu::{DType, Gpu, GpuOptions, Tensor, Weight};
use whisper_clsr::ops::clsr::{clsr_ffn, SharedFfn};
use whisper_clsr::ops::matmul::linear;
use whisper_clsr::pack::{Expert, ExpertLayer, Part, GATE_DIM};

fn random(rng: &mut impl Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

/// Seconds per call of `op`, over `iters` calls recorded back to back and one final wait.
fn time(gpu: &Gpu, iters: usize, mut op: impl FnMut() -> Tensor) -> f64 {
    let last = op();
    pollster::block_on(gpu.read_range(&last, 0, 1)).unwrap();
    let start = Instant::now();
    let mut last = op();
    for _ in 1..iters {
        last = op();
    }
    pollster::block_on(gpu.read_range(&last, 0, 1)).unwrap();
    start.elapsed().as_secs_f64() / iters as f64
}

struct Setup {
    x: Tensor,
    residual: Tensor,
    shared: [Weight; 4],
    /// Experts whose gate routes each ratio's share of tokens.
    experts: Vec<(f64, Expert<Weight>)>,
}

fn setup(gpu: &Gpu, rows: usize, d: usize, ffn: usize, ratios: &[f64]) -> Setup {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (s1, s2) = (1.0 / (d as f32).sqrt(), 1.0 / (ffn as f32).sqrt());
    let w = |rng: &mut rand::rngs::StdRng, n: usize, s: f32, shape: &[usize]| {
        gpu.weight_f32(&random(rng, n, s), shape, DType::F16)
            .unwrap()
    };
    let shared = [
        w(&mut rng, ffn * d, s1, &[ffn, d]),
        w(&mut rng, ffn, 1.0, &[ffn]),
        w(&mut rng, d * ffn, s2, &[d, ffn]),
        w(&mut rng, d, 1.0, &[d]),
    ];
    // Tokens are steered by the sign of their first feature: G = 4·z[0] plus small terms.
    let mut x = random(&mut rng, rows * d, 1.0);
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut rng);
    for (rank, &t) in order.iter().enumerate() {
        x[t * d] = if rank % 2 == 0 { 1.0 } else { -1.0 };
    }
    let mut experts = Vec::new();
    for &ratio in ratios {
        let mut gate_in = random(&mut rng, GATE_DIM * d, 0.05);
        let mut gate_out = random(&mut rng, GATE_DIM, 0.01);
        // Ratio 0 and 1 send every token one way whatever z[0]; 0.5 follows its sign.
        let (a, b) = match ratio {
            r if r <= 0.0 => (-1.0, -1.0),
            r if r >= 1.0 => (1.0, 1.0),
            _ => (1.0, -1.0),
        };
        for (unit, sign) in [(0, a), (1, b)] {
            gate_in[unit * d..(unit + 1) * d].fill(0.0);
            gate_in[unit * d] = 4.0 * if unit == 0 { 1.0 } else { -1.0 };
            gate_out[unit] = sign;
        }
        let layer = ExpertLayer {
            part: Part::Encoder,
            index: 0,
            expert: Expert {
                fc1: random(&mut rng, ffn * d, s1),
                fc1_bias: random(&mut rng, ffn, 1.0),
                fc2: random(&mut rng, d * ffn, s2),
                fc2_bias: random(&mut rng, d, 1.0),
                gate_in,
                gate_in_bias: vec![0.0; GATE_DIM],
                gate_out,
            },
        };
        experts.push((
            ratio,
            Expert::upload(gpu, &layer.expert, DType::F16).unwrap(),
        ));
    }
    Setup {
        x: gpu.upload(&x, &[rows, d]).unwrap(),
        residual: gpu
            .upload(&random(&mut rng, rows * d, 1.0), &[rows, d])
            .unwrap(),
        shared,
        experts,
    }
}

fn main() {
    if std::env::var_os("WGPU_BACKEND").is_none() {
        // SAFETY: nothing else runs yet.
        unsafe { std::env::set_var("WGPU_BACKEND", "vulkan") };
    }
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU");
    println!("device: {}", gpu.describe());
    println!("f16 weights; time per FFN block, best of the repeats; ratio = routed / dense\n");
    println!(
        "{:<8} {:>5} {:>10} | {:>9} {:>9} {:>9} | {:>6} {:>6} {:>6}",
        "model", "T", "dense", "g=0", "g=0.5", "g=1", "x0", "x0.5", "x1"
    );
    let token_counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are token counts"))
        .collect();
    let token_counts = if token_counts.is_empty() {
        vec![1500, 1]
    } else {
        token_counts
    };
    let ratios = [0.0, 0.5, 1.0];
    for (model, d, ffn) in [("base", 512, 2048), ("small", 768, 3072)] {
        for &rows in &token_counts {
            let s = setup(&gpu, rows, d, ffn, &ratios);
            let [w1, b1, w2, b2] = &s.shared;
            let (iters, repeats) = if rows <= 4 { (200, 5) } else { (2, 3) };
            let mut dense = f64::MAX;
            let mut routed = [f64::MAX; 3];
            for _ in 0..repeats {
                dense = dense.min(time(&gpu, iters, || {
                    let h = linear(&gpu, &s.x, w1, Some(b1), true, None);
                    linear(&gpu, &h, w2, Some(b2), false, Some(&s.residual))
                }));
                for (i, (_, expert)) in s.experts.iter().enumerate() {
                    routed[i] = routed[i].min(time(&gpu, iters, || {
                        let shared = SharedFfn {
                            fc1: w1,
                            fc1_bias: b1,
                            fc2: w2,
                            fc2_bias: b2,
                        };
                        clsr_ffn(&gpu, &s.x, shared, expert, &s.residual).out
                    }));
                }
            }
            let ms = |t: f64| format!("{:.3} ms", t * 1e3);
            println!(
                "{:<8} {:>5} {:>10} | {:>9} {:>9} {:>9} | {:>6.3} {:>6.3} {:>6.3}",
                model,
                rows,
                ms(dense),
                ms(routed[0]),
                ms(routed[1]),
                ms(routed[2]),
                routed[0] / dense,
                routed[1] / dense,
                routed[2] / dense
            );
        }
    }
}
