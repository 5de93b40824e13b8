//! The training-mode CLSR block (soft noisy gates, gate-input and expert dropout,
//! skip-gate, gate budget) against a CPU implementation of the same forward (f64, the
//! same counter-based RNG), and its parameter and input gradients against central finite
//! differences of that forward.

mod support;

use support::*;
use whisper_clsr::gpu::{DType, Gpu, Weight};
use whisper_clsr::ops::clsr::SharedFfn;
use whisper_clsr::pack::Expert as PackExpert;
use whisper_clsr_train::clsr::{
    clsr_backward, clsr_forward, gate_noise_alpha, trainable, TrainMode,
};
use whisper_clsr_train::loss::budget::budget_loss;
use whisper_clsr_train::reduce::{sum_into, Term};
use whisper_clsr_train::rng::{dropout_keeps, rng_normal};

#[derive(Clone)]
struct Ffn {
    fc1: Vec<f64>,
    b1: Vec<f64>,
    fc2: Vec<f64>,
    b2: Vec<f64>,
}

#[derive(Clone)]
struct Expert {
    ffn: Ffn,
    w_in: Vec<f64>,
    b_in: Vec<f64>,
    w_out: Vec<f64>,
}

struct Dims {
    t: usize,
    d: usize,
    ffn: usize,
    h: usize,
}

fn linear(x: &[f64], w: &[f64], b: &[f64], rows: usize, k: usize, n: usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * n];
    for i in 0..rows {
        for j in 0..n {
            y[i * n + j] = b[j] + (0..k).map(|c| x[i * k + c] * w[j * k + c]).sum::<f64>();
        }
    }
    y
}

/// CPU forward: (out, soft gates).
fn cpu_forward(
    z: &[f64],
    res: &[f64],
    shared: &Ffn,
    e: &Expert,
    mode: &TrainMode,
    dm: &Dims,
) -> (Vec<f64>, Vec<f64>) {
    let Dims { t, d, ffn, h } = *dm;
    let zg: Vec<f64> = z
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if dropout_keeps(mode.gate_dropout_draw(), i as u32, mode.gate_dropout) {
                v / (1.0 - mode.gate_dropout as f64)
            } else {
                0.0
            }
        })
        .collect();
    let a = linear(&zg, &e.w_in, &e.b_in, t, d, h);
    let gates: Vec<f64> = (0..t)
        .map(|r| {
            let g: f64 = (0..h).map(|j| a[r * h + j].max(0.0) * e.w_out[j]).sum();
            let noisy = g + mode.alpha as f64 * rng_normal(mode.noise_draw(), r as u32);
            1.0 / (1.0 + (-noisy).exp())
        })
        .collect();
    let ffn_out = |f: &Ffn, drop: bool| {
        let mut hid: Vec<f64> = linear(z, &f.fc1, &f.b1, t, d, ffn)
            .into_iter()
            .map(gelu)
            .collect();
        if drop {
            for (i, v) in hid.iter_mut().enumerate() {
                *v = if dropout_keeps(mode.expert_dropout_draw(), i as u32, mode.expert_dropout) {
                    *v / (1.0 - mode.expert_dropout as f64)
                } else {
                    0.0
                };
            }
        }
        linear(&hid, &f.fc2, &f.b2, t, ffn, d)
    };
    let ys = ffn_out(shared, false);
    let ye = ffn_out(&e.ffn, true);
    let out = (0..t * d)
        .map(|i| {
            let g = if mode.skip { 0.0 } else { gates[i / d] };
            res[i] + g * ye[i] + (1.0 - g) * ys[i]
        })
        .collect();
    (out, gates)
}

/// L = Σ r·out + |Σ mask·g / N − b|.
#[allow(clippy::too_many_arguments)]
fn cpu_loss(
    z: &[f64],
    res: &[f64],
    shared: &Ffn,
    e: &Expert,
    mode: &TrainMode,
    dm: &Dims,
    r: &[f32],
    mask: &[f32],
    b: f64,
) -> f64 {
    let (out, gates) = cpu_forward(z, res, shared, e, mode, dm);
    let n = mask.iter().filter(|&&m| m > 0.0).count() as f64;
    let mean = gates
        .iter()
        .zip(mask)
        .map(|(g, &m)| g * m as f64)
        .sum::<f64>()
        / n;
    out.iter().zip(r).map(|(o, &w)| o * w as f64).sum::<f64>() + (mean - b).abs()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn run_case(gpu: &Gpu, dm: Dims, dtype: DType, mode: TrainMode, seed: u64) {
    let mut rg = rng(seed);
    let Dims { t, d, ffn, h } = dm;
    let small =
        |rg: &mut _, n, s: f32| -> Vec<f32> { random(rg, n).iter().map(|v| v * s).collect() };
    let z = random(&mut rg, t * d);
    let res = random(&mut rg, t * d);
    let w_scale = 1.0 / (d as f32).sqrt();
    let f_scale = 1.0 / (ffn as f32).sqrt();
    let sh = [
        small(&mut rg, ffn * d, w_scale),
        small(&mut rg, ffn, 0.1),
        small(&mut rg, d * ffn, f_scale),
        small(&mut rg, d, 0.1),
    ];
    let ex = [
        small(&mut rg, ffn * d, w_scale),
        small(&mut rg, ffn, 0.1),
        small(&mut rg, d * ffn, f_scale),
        small(&mut rg, d, 0.1),
    ];
    let gate = [
        small(&mut rg, h * d, 2.0 * w_scale),
        small(&mut rg, h, 0.2),
        small(&mut rg, h, 1.0),
    ];
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
    let values = PackExpert {
        fc1: ex[0].clone(),
        fc1_bias: ex[1].clone(),
        fc2: ex[2].clone(),
        fc2_bias: ex[3].clone(),
        gate_in: gate[0].clone(),
        gate_in_bias: gate[1].clone(),
        gate_out: gate[2].clone(),
    };
    assert_eq!(values.dims(), (d, ffn, h));
    let expert = trainable(gpu, &values).unwrap();
    let zt = upload(gpu, &z, &[t, d]);
    let rt = upload(gpu, &res, &[t, d]);
    let (out, saved) = clsr_forward(gpu, &zt, &rt, shared, &expert, &mode);

    // CPU forward on exactly the values the GPU sees.
    let shared_cpu = Ffn {
        fc1: f64s(&shared_w[0].1),
        b1: f64s(&shared_w[1].1),
        fc2: f64s(&shared_w[2].1),
        b2: f64s(&shared_w[3].1),
    };
    let expert_cpu = Expert {
        ffn: Ffn {
            fc1: f64s(&ex[0]),
            b1: f64s(&ex[1]),
            fc2: f64s(&ex[2]),
            b2: f64s(&ex[3]),
        },
        w_in: f64s(&gate[0]),
        b_in: f64s(&gate[1]),
        w_out: f64s(&gate[2]),
    };
    let (zd, resd) = (f64s(&z), f64s(&res));
    let (want_out, want_gates) = cpu_forward(&zd, &resd, &shared_cpu, &expert_cpu, &mode, &dm);
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

    let loss = |z: &[f64], e: &Expert| {
        cpu_loss(
            z,
            &resd,
            &shared_cpu,
            e,
            &mode,
            &dm,
            &r,
            &mask,
            budget as f64,
        )
    };
    let hstep = 1e-5;
    let fd_rtol = 2e-3;
    assert_fd(
        &dz,
        &probe_indices(&mut rg, t * d, 8),
        |i| {
            central_difference(hstep, |e| {
                let mut z2 = zd.clone();
                z2[i] += e;
                loss(&z2, &expert_cpu)
            })
        },
        fd_rtol,
        &format!("{what}: dL/dz"),
    );
    type Field = fn(&mut Expert) -> &mut Vec<f64>;
    let fields: [(&str, Field, &whisper_clsr_train::optim::Param); 7] = [
        ("fc1", |e| &mut e.ffn.fc1, &expert.fc1),
        ("fc1_bias", |e| &mut e.ffn.b1, &expert.fc1_bias),
        ("fc2", |e| &mut e.ffn.fc2, &expert.fc2),
        ("fc2_bias", |e| &mut e.ffn.b2, &expert.fc2_bias),
        ("gate_in", |e| &mut e.w_in, &expert.gate_in),
        ("gate_in_bias", |e| &mut e.b_in, &expert.gate_in_bias),
        ("gate_out", |e| &mut e.w_out, &expert.gate_out),
    ];
    for (name, field, param) in fields {
        let grad = read(gpu, &param.grad);
        let n = grad.len();
        let fd = |i: usize| {
            central_difference(hstep, |eps| {
                let mut e2 = expert_cpu.clone();
                field(&mut e2)[i] += eps;
                loss(&zd, &e2)
            })
        };
        if mode.skip && !name.starts_with("gate") {
            assert!(
                grad.iter().all(|&g| g == 0.0),
                "{what}: {name} gets no gradient under skip-gate"
            );
            continue;
        }
        assert_fd(
            &grad,
            &probe_indices(&mut rg, n, 8),
            fd,
            fd_rtol,
            &format!("{what}: d{name}"),
        );
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
