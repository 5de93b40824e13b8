//! The training-mode CLSR block (soft noisy gates, gate-input and expert dropout,
//! skip-gate, gate budget) against a CPU implementation of the same forward (f64, the
//! same counter-based RNG), and its parameter and input gradients against central finite
//! differences of that forward.

mod support;

use support::{upload_expert, Mode};
use whisper_clsr::gpu::{DType, Gpu, Weight};
use whisper_clsr::ops::clsr::SharedFfn;
use whisper_clsr_test_kit::reference::{clsr_train, ClsrExpert, Ffn};
use whisper_clsr_test_kit::*;
use whisper_clsr_train::clsr::{clsr_backward, clsr_forward, gate_noise_alpha, TrainMode};
use whisper_clsr_train::loss::budget::budget_loss;
use whisper_clsr_train::reduce::{sum_into, Term};

struct Dims {
    t: usize,
    d: usize,
    ffn: usize,
    h: usize,
}

/// CPU forward: (out, soft gates).
fn cpu_forward(
    z: &[f64],
    res: &[f64],
    shared: &Ffn,
    e: &ClsrExpert,
    mode: &TrainMode,
) -> (Vec<f64>, Vec<f64>) {
    let (mixed, gates) = clsr_train(z, shared, e, &Mode(mode));
    (mixed.iter().zip(res).map(|(m, r)| r + m).collect(), gates)
}

/// L = Σ r·out + |Σ mask·g / N − b|.
#[allow(clippy::too_many_arguments)]
fn cpu_loss(
    z: &[f64],
    res: &[f64],
    shared: &Ffn,
    e: &ClsrExpert,
    mode: &TrainMode,
    r: &[f32],
    mask: &[f32],
    b: f64,
) -> f64 {
    let (out, gates) = cpu_forward(z, res, shared, e, mode);
    let n = mask.iter().filter(|&&m| m > 0.0).count() as f64;
    let mean = gates
        .iter()
        .zip(mask)
        .map(|(g, &m)| g * m as f64)
        .sum::<f64>()
        / n;
    out.iter().zip(r).map(|(o, &w)| o * w as f64).sum::<f64>() + (mean - b).abs()
}

fn run_case(gpu: &Gpu, dm: Dims, dtype: DType, mode: TrainMode, seed: u64) {
    let mut rg = rng(seed);
    let Dims { t, d, ffn, h } = dm;
    let z = random(&mut rg, t * d);
    let res = random(&mut rg, t * d);
    let w_scale = 1.0 / (d as f32).sqrt();
    let f_scale = 1.0 / (ffn as f32).sqrt();
    // fc1, fc1_bias, fc2, fc2_bias: the shared FFN's, then the expert's.
    let mut ffn_values = || {
        [(ffn * d, w_scale), (ffn, 0.1), (d * ffn, f_scale), (d, 0.1)]
            .map(|(n, s)| random_scaled(&mut rg, n, s))
    };
    let (sh, ex) = (ffn_values(), ffn_values());
    let gate =
        [(h * d, 2.0 * w_scale), (h, 0.2), (h, 1.0)].map(|(n, s)| random_scaled(&mut rg, n, s));
    let r = random(&mut rg, t * d);
    let mask: Vec<f32> = (0..t)
        .map(|i| if i == t - 1 && t > 1 { 0.0 } else { 1.0 })
        .collect();
    let count = mask.iter().filter(|&&m| m > 0.0).count();
    let budget = 0.5f32;

    // GPU: frozen shared FFN (dtype), trainable expert (f32).
    let shapes: [&[usize]; 4] = [&[ffn, d], &[ffn], &[d, ffn], &[d]];
    let shared_w: Vec<(Weight, Vec<f32>)> = sh
        .iter()
        .zip(shapes)
        .map(|(v, s)| weight(gpu, v, s, dtype))
        .collect();
    let shared = SharedFfn {
        fc1: &shared_w[0].0,
        fc1_bias: &shared_w[1].0,
        fc2: &shared_w[2].0,
        fc2_bias: &shared_w[3].0,
    };
    // The trainable expert (f32) and its f64 reference (the same values).
    let expert_cpu = ClsrExpert::from_tensors(
        [&ex[0], &ex[1], &ex[2], &ex[3], &gate[0], &gate[1], &gate[2]].map(|v| f64s(v)),
    );
    let expert = upload_expert(gpu, &expert_cpu, d, ffn, h);
    let zt = upload(gpu, &z, &[t, d]);
    let rt = upload(gpu, &res, &[t, d]);
    let (out, saved) = clsr_forward(gpu, &zt, &rt, shared, &expert, &mode);

    // CPU forward on exactly the values the GPU sees.
    let shared_cpu = Ffn {
        fc1: f64s(&shared_w[0].1),
        fc1_bias: f64s(&shared_w[1].1),
        fc2: f64s(&shared_w[2].1),
        fc2_bias: f64s(&shared_w[3].1),
    };
    let (zd, resd) = (f64s(&z), f64s(&res));
    let (want_out, want_gates) = cpu_forward(&zd, &resd, &shared_cpu, &expert_cpu, &mode);
    let what = format!(
        "clsr t{t} d{d} ffn{ffn} h{h} {dtype:?} skip={} alpha={}",
        mode.skip, mode.alpha
    );
    assert_close(
        &read(gpu, &out),
        &want_out,
        1e-4,
        &format!("{what}: forward"),
    );
    assert_close(
        &read(gpu, &saved.gates),
        &want_gates,
        1e-4,
        &format!("{what}: gates"),
    );

    // GPU backward of L = Σ r·out + |mean(g) − b|.
    let mask_t = upload(gpu, &mask, &[t]);
    let gate_sum = gpu.tensor(&[1]);
    sum_into(
        gpu,
        saved.gates.buffer(),
        t,
        Term::Weighted(&mask_t),
        &gate_sum,
        0,
        1.0,
        false,
    );
    let budget_t = budget_loss(gpu, &gate_sum, count, budget, 1.0);
    let dout = upload(gpu, &r, &[t, d]);
    let dz = read(
        gpu,
        &clsr_backward(
            gpu, &dout, &zt, &saved, shared, &expert, &mode, &budget_t, &mask_t, true,
        )
        .expect("input gradient asked for"),
    );

    let loss = |z: &[f64], e: &ClsrExpert| {
        cpu_loss(z, &resd, &shared_cpu, e, &mode, &r, &mask, budget as f64)
    };
    let fd = FiniteDiff::new(1e-5, 2e-3);
    let idx = probe_indices(&mut rg, t * d, 8);
    fd.check(&format!("{what}: dL/dz"), &dz, &zd, &idx, |z| {
        loss(z, &expert_cpu)
    });
    let names = ClsrExpert::<Vec<f64>>::NAMES;
    for (field, (name, param)) in names.iter().zip(expert.values()).enumerate() {
        let grad = read(gpu, &param.grad);
        if mode.skip && !name.starts_with("gate") {
            assert!(
                grad.iter().all(|&g| g == 0.0),
                "{what}: {name} gets no gradient under skip-gate"
            );
            continue;
        }
        let idx = probe_indices(&mut rg, grad.len(), 8);
        fd.check_with(&format!("{what}: d{name}"), &grad, &idx, |i, eps| {
            let mut e2 = expert_cpu.clone();
            e2.tensors_mut()[field][i] += eps;
            loss(&zd, &e2)
        });
    }
}

fn mode(alpha: f32, skip: bool, seed: u32, layer: u32) -> TrainMode {
    TrainMode {
        alpha,
        gate_dropout: 0.1,
        expert_dropout: 0.3,
        skip,
        seed,
        layer,
    }
}

#[test]
fn clsr_training_block_matches_cpu_and_finite_differences() {
    let gpu = gpu();
    // Tiled products (t > 4) and GEMV-sized ones (t ≤ 4), odd widths, both weight types.
    run_case(
        &gpu,
        Dims {
            t: 7,
            d: 12,
            ffn: 20,
            h: 8,
        },
        DType::F32,
        mode(1.0, false, 5, 0),
        51,
    );
    run_case(
        &gpu,
        Dims {
            t: 3,
            d: 10,
            ffn: 24,
            h: 5,
        },
        DType::F16,
        mode(2.5, false, 6, 3),
        52,
    );
    run_case(
        &gpu,
        Dims {
            t: 70,
            d: 64,
            ffn: 256,
            h: 64,
        },
        DType::F16,
        mode(0.0, false, 7, 1),
        53,
    );
    run_case(
        &gpu,
        Dims {
            t: 9,
            d: 16,
            ffn: 33,
            h: 8,
        },
        DType::F32,
        mode(5.0, true, 8, 2),
        54,
    );
}

#[test]
fn gate_noise_grows_linearly_to_five() {
    assert_eq!(gate_noise_alpha(0, 100), 0.0);
    assert_eq!(gate_noise_alpha(50, 100), 2.5);
    assert_eq!(gate_noise_alpha(100, 100), 5.0);
    assert_eq!(gate_noise_alpha(300, 100), 5.0);
}
