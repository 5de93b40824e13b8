//! AdamW on the GPU against a CPU reference: warm-up + linear decay, global-norm clipping
//! over several tensors, gradient accumulation over micro-batches, decoupled weight decay.

use whisper_clsr::gpu::Tensor;
use whisper_clsr_test_kit::*;
use whisper_clsr_train::elementwise::axpy;
use whisper_clsr_train::optim::{AdamW, AdamWConfig, Param};

#[test]
fn learning_rate_warms_up_then_decays_linearly() {
    let c = AdamWConfig {
        lr: 1.0,
        warmup_steps: 4,
        total_steps: 14,
        ..AdamWConfig::default()
    };
    let lrs: Vec<f32> = (0..15).map(|s| c.lr_at(s)).collect();
    assert_eq!(&lrs[..4], &[0.25, 0.5, 0.75, 1.0]);
    assert_eq!(lrs[4], 1.0);
    assert!((lrs[9] - 0.5).abs() < 1e-6);
    assert_eq!(lrs[14], 0.0);
    let flat = AdamWConfig {
        lr: 2.0,
        warmup_steps: 0,
        total_steps: 10,
        ..AdamWConfig::default()
    };
    assert_eq!(flat.lr_at(0), 2.0);
}

struct CpuAdam {
    p: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
}

#[test]
fn adamw_with_clipping_and_accumulation_matches_cpu() {
    let gpu = gpu();
    let mut rg = rng(31);
    let shapes: [&[usize]; 3] = [&[5, 7], &[300], &[1]];
    for (max_norm, wd) in [(0.5f32, 0.01f32), (0.0, 0.0), (1e6, 0.1)] {
        let config = AdamWConfig {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weight_decay: wd,
            max_grad_norm: max_norm,
            warmup_steps: 2,
            total_steps: 5,
        };
        let init: Vec<Vec<f32>> = shapes
            .iter()
            .map(|s| random(&mut rg, s.iter().product()))
            .collect();
        let params: Vec<Param> = init
            .iter()
            .zip(shapes)
            .map(|(v, s)| Param::new(&gpu, v, s).unwrap())
            .collect();
        let mut cpu: Vec<CpuAdam> = init
            .iter()
            .map(|v| CpuAdam {
                p: v.iter().map(|&x| x as f64).collect(),
                m: vec![0.0; v.len()],
                v: vec![0.0; v.len()],
            })
            .collect();
        let mut opt = AdamW::new(config);
        let refs: Vec<&Param> = params.iter().collect();
        for step in 0..4u64 {
            // Two micro-batches: gradients are summed into Param::grad.
            let micro: Vec<Vec<Vec<f32>>> = (0..2)
                .map(|_| init.iter().map(|v| random(&mut rg, v.len())).collect())
                .collect();
            for mb in &micro {
                let uploads: Vec<Tensor> = mb
                    .iter()
                    .zip(shapes)
                    .map(|(g, s)| upload(&gpu, g, s))
                    .collect();
                for (p, g) in params.iter().zip(&uploads) {
                    axpy(&gpu, &p.grad, 1.0, g);
                }
                gpu.flush();
            }
            let norm_sq = read(&gpu, &opt.update(&gpu, &refs, 2))[0] as f64;
            // CPU reference.
            let grads: Vec<Vec<f64>> = (0..shapes.len())
                .map(|t| {
                    (0..init[t].len())
                        .map(|i| (micro[0][t][i] as f64 + micro[1][t][i] as f64) / 2.0)
                        .collect()
                })
                .collect();
            let n2: f64 = grads.iter().flatten().map(|g| g * g).sum();
            assert!(
                (norm_sq / 4.0 - n2).abs() <= 1e-5 * n2,
                "step {step}: norm² {} vs {n2}",
                norm_sq / 4.0
            );
            let clip = if max_norm > 0.0 {
                (max_norm as f64 / (n2.sqrt() + 1e-6)).min(1.0)
            } else {
                1.0
            };
            let lr = config.lr_at(step) as f64;
            let t = (step + 1) as i32;
            let (b1, b2) = (config.beta1 as f64, config.beta2 as f64);
            for (c, g) in cpu.iter_mut().zip(&grads) {
                for (i, &gv) in g.iter().enumerate() {
                    let gi = gv * clip;
                    c.m[i] = b1 * c.m[i] + (1.0 - b1) * gi;
                    c.v[i] = b2 * c.v[i] + (1.0 - b2) * gi * gi;
                    let upd = (c.m[i] / (1.0 - b1.powi(t)))
                        / ((c.v[i] / (1.0 - b2.powi(t))).sqrt() + config.eps as f64);
                    c.p[i] = c.p[i] * (1.0 - lr * wd as f64) - lr * upd;
                }
            }
            for (k, (p, c)) in params.iter().zip(&cpu).enumerate() {
                let what = format!("max_norm {max_norm} wd {wd} step {step} tensor {k}");
                assert_close(
                    &read_weight(&gpu, &p.value),
                    &c.p,
                    1e-5,
                    &format!("{what}: value"),
                );
                assert_close(&read(&gpu, &p.m), &c.m, 1e-4, &format!("{what}: m"));
                assert_close(&read(&gpu, &p.v), &c.v, 1e-4, &format!("{what}: v"));
                assert!(
                    read(&gpu, &p.grad).iter().all(|&g| g == 0.0),
                    "{what}: gradient zeroed"
                );
            }
        }
    }
}
