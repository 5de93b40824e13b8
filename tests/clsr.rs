//! The routed CLSR feed-forward against the dense CPU formula
//! `residual + g·FFN_lang(z) + (1 − g)·FFN_shared(z)`, g = 1[w_out·ReLU(W_in z + b_in) ≥ 0],
//! on a real Vulkan device (lavapipe where there is no GPU); decoder-step sizes in both
//! kernel forms (the GPU's split K and the CPU drivers' `WALK`).

use whisper_clsr_test_kit as kit;

use kit::reference::{clsr_ffn as cpu_clsr_ffn, ClsrExpert, Ffn};
use kit::{as_stored, assert_close, f64s, gpu, gpu_with, random, read, rng};
use rand::seq::SliceRandom;
use rand::Rng;
use whisper_clsr::gpu::{DType, Gpu, KernelForms, Weight};
use whisper_clsr::ops::clsr::{clsr_ffn, clsr_ffn_counted, GateCount, GateCounts, SharedFfn};
use whisper_clsr::pack::{Expert, ExpertLayer, Part, GATE_DIM};

const RTOL: f64 = 1e-4;

/// The frozen FFN's weights (fc1, fc1 bias, fc2, fc2 bias) as the CLSR kernels take them.
fn as_shared(w: &[Weight; 4]) -> SharedFfn<'_> {
    SharedFfn {
        fc1: &w[0],
        fc1_bias: &w[1],
        fc2: &w[2],
        fc2_bias: &w[3],
    }
}

/// Host values of one FFN, as uploaded.
struct HostFfn {
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
}

fn random_ffn(r: &mut impl Rng, d: usize, ffn: usize) -> HostFfn {
    // Scaled so activations stay O(1) at every width.
    let s1 = 1.0 / (d as f32).sqrt();
    let s2 = 1.0 / (ffn as f32).sqrt();
    let scale = |v: Vec<f32>, s: f32| v.into_iter().map(|x| x * s).collect::<Vec<_>>();
    HostFfn {
        w1: scale(random(r, ffn * d), s1),
        b1: random(r, ffn),
        w2: scale(random(r, d * ffn), s2),
        b2: random(r, d),
    }
}

impl HostFfn {
    /// An expert layer with this FFN and the gate (W_in, b_in, w_out).
    fn expert(
        &self,
        part: Part,
        index: usize,
        gate: (Vec<f32>, Vec<f32>, Vec<f32>),
    ) -> ExpertLayer {
        ExpertLayer {
            part,
            index,
            expert: Expert {
                fc1: self.w1.clone(),
                fc1_bias: self.b1.clone(),
                fc2: self.w2.clone(),
                fc2_bias: self.b2.clone(),
                gate_in: gate.0,
                gate_in_bias: gate.1,
                gate_out: gate.2,
            },
        }
    }

    /// The FFN as frozen weights of `dtype`: fc1, fc1 bias, fc2, fc2 bias.
    fn upload(&self, gpu: &Gpu, dtype: DType) -> [Weight; 4] {
        let (ffn, d) = (self.b1.len(), self.b2.len());
        let up = |v: &[f32], shape: &[usize]| gpu.weight_f32(v, shape, dtype).unwrap();
        [
            up(&self.w1, &[ffn, d]),
            up(&self.b1, &[ffn]),
            up(&self.w2, &[d, ffn]),
            up(&self.b2, &[d]),
        ]
    }
}

/// The values the GPU sees of an FFN stored as `dtype`, in f64.
fn seen(f: &HostFfn, dtype: DType) -> Ffn {
    let see = |v: &[f32]| f64s(&as_stored(v, dtype));
    Ffn {
        fc1: see(&f.w1),
        fc1_bias: see(&f.b1),
        fc2: see(&f.w2),
        fc2_bias: see(&f.b2),
    }
}

/// A gate whose sign follows z[0]: units 0 and 1 give G ≈ 4·z[0]; the other 62 units add
/// small random terms so the whole W_in·z, ReLU and w_out reduction is exercised.
fn steering_gate(r: &mut impl Rng, d: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut w_in: Vec<f32> = random(r, GATE_DIM * d).iter().map(|x| x * 0.05).collect();
    let mut b_in: Vec<f32> = random(r, GATE_DIM).iter().map(|x| x * 0.05).collect();
    let mut w_out: Vec<f32> = random(r, GATE_DIM).iter().map(|x| x * 0.01).collect();
    for (unit, sign) in [(0, 1.0f32), (1, -1.0)] {
        w_in[unit * d..(unit + 1) * d].fill(0.0);
        w_in[unit * d] = 4.0 * sign;
        b_in[unit] = 0.0;
        w_out[unit] = sign;
    }
    (w_in, b_in, w_out)
}

struct Case {
    rows: usize,
    d: usize,
    ffn: usize,
    /// Tokens meant for the expert.
    experts: usize,
    dtype: DType,
    seed: u64,
}

/// Runs one routed FFN and checks output, gates and counters against the CPU.
fn check(gpu: &Gpu, c: &Case) {
    let Case {
        rows,
        d,
        ffn,
        dtype,
        ..
    } = *c;
    let what = format!("T={rows} d={d} ffn={ffn} experts={} {dtype:?}", c.experts);
    let mut r = rng(c.seed);
    let mut x = random(&mut r, rows * d);
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut r);
    for (rank, &tok) in order.iter().enumerate() {
        x[tok * d] = if rank < c.experts { 1.0 } else { -1.0 };
    }
    let residual = random(&mut r, rows * d);
    let shared = random_ffn(&mut r, d, ffn);
    let lang = random_ffn(&mut r, d, ffn);
    let (w_in, b_in, w_out) = steering_gate(&mut r, d);

    let layer = lang.expert(
        Part::Encoder,
        0,
        (w_in.clone(), b_in.clone(), w_out.clone()),
    );
    let expert = Expert::upload(gpu, &layer.expert, dtype).unwrap();
    let frozen = shared.upload(gpu, dtype);
    let xt = gpu.upload(&x, &[rows, d]).unwrap();
    let rt = gpu.upload(&residual, &[rows, d]).unwrap();
    let counts = GateCounts::new(gpu, 3).unwrap();
    let y = clsr_ffn_counted(
        gpu,
        &xt,
        as_shared(&frozen),
        &expert,
        &rt,
        Some((&counts, 1)),
    );
    let got = read(gpu, &y.out);
    let got_gates = pollster::block_on(gpu.read_u32(&y.gates)).unwrap();
    let got_counts = pollster::block_on(counts.read(gpu)).unwrap();

    // The dense formula, with the values the GPU sees.
    let see = |v: &[f32]| f64s(&as_stored(v, dtype));
    let expert = ClsrExpert {
        ffn: seen(&lang, dtype),
        gate_in: see(&w_in),
        gate_in_bias: see(&b_in),
        gate_out: see(&w_out),
    };
    let xd = f64s(&x);
    for (t, g) in expert.gate_logits(&xd).iter().enumerate() {
        assert!(
            g.abs() > 1.0,
            "{what}: test gate of token {t} too close to 0"
        );
    }
    let (mixed, gates) = cpu_clsr_ffn(&xd, &seen(&shared, dtype), &expert);
    let want: Vec<f64> = mixed
        .iter()
        .zip(&residual)
        .map(|(m, &r)| r as f64 + m)
        .collect();
    let want_gates: Vec<u32> = gates.iter().map(|&g| g as u32).collect();
    assert_eq!(
        want_gates.iter().sum::<u32>() as usize,
        c.experts,
        "{what}: setup"
    );
    assert_eq!(got_gates, want_gates, "{what}: gates");
    assert_close(&got, &want, RTOL, &what);
    let expected = GateCount {
        expert: c.experts as u32,
        tokens: rows as u32,
    };
    assert_eq!(
        got_counts,
        [GateCount::default(), expected, GateCount::default()],
        "{what}: counts"
    );
}

fn check_ratios(gpu: &Gpu, rows: usize, d: usize, ffn: usize, ratios: &[f64], seed: u64) {
    for dtype in [DType::F32, DType::F16] {
        for (i, &ratio) in ratios.iter().enumerate() {
            let experts = (ratio * rows as f64).round() as usize;
            let seed = seed + i as u64;
            check(
                gpu,
                &Case {
                    rows,
                    d,
                    ffn,
                    experts,
                    dtype,
                    seed,
                },
            );
        }
    }
}

#[test]
fn routed_ffn_matches_dense_formula_at_encoder_length() {
    let gpu = gpu();
    check_ratios(&gpu, 1500, 64, 256, &[0.0, 0.3, 0.5, 1.0], 10);
}

#[test]
fn routed_ffn_matches_dense_formula_at_odd_sizes() {
    let gpu = gpu();
    // Odd K for both Linears (37, 75), partial tiles everywhere, the few-row boundary (4, 5).
    check_ratios(&gpu, 77, 37, 75, &[0.0, 0.3, 0.5, 1.0], 20);
    check_ratios(&gpu, 130, 20, 66, &[0.5], 30);
    check_ratios(&gpu, 4, 37, 75, &[0.0, 0.5, 1.0], 40);
    check_ratios(&gpu, 5, 37, 75, &[0.0, 0.4, 1.0], 50);
}

#[test]
fn routed_ffn_matches_dense_formula_at_decoder_step_sizes() {
    for forms in [KernelForms::Gpu, KernelForms::Cpu] {
        let gpu = gpu_with(forms);
        check_ratios(&gpu, 1, 64, 256, &[0.0, 1.0], 60);
        check_ratios(&gpu, 3, 64, 256, &[0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0], 70);
        check_ratios(&gpu, 2, 37, 75, &[0.0, 0.5, 1.0], 80);
        check_ratios(&gpu, 4, 37, 75, &[0.0, 0.5, 1.0], 40);
    }
}

#[test]
fn walking_routed_linears_read_aligned_activations_16_bytes_at_a_time() {
    // The CPU drivers' few-row routed Linears read the activation rows 16 bytes at a time
    // (WIDE_A) exactly when K is a whole number of the weights' 16-byte units; right either
    // way (checked against the CPU inside `check`).
    let gpu = gpu_with(KernelForms::Cpu);
    for (rows, d, ffn, dtype, wide) in [
        (1, 64, 256, DType::F16, true),
        (3, 64, 256, DType::F32, true),
        (3, 36, 76, DType::F16, false),
        (2, 37, 75, DType::F32, false),
    ] {
        gpu.start_kernel_profile();
        check(
            &gpu,
            &Case {
                rows,
                d,
                ffn,
                experts: rows / 2,
                dtype,
                seed: 100 + rows as u64,
            },
        );
        let linears: Vec<String> = gpu
            .take_kernel_profile()
            .into_iter()
            .map(|t| t.kernel)
            .filter(|k| k.starts_with("runtime/clsr_gemv.wgsl"))
            .collect();
        assert_eq!(linears.len(), 2, "fc1 and fc2: {linears:?}");
        for variant in &linears {
            let defines = kit::defines_of(variant);
            assert!(defines.contains(&"WALK"), "{variant}");
            assert_eq!(
                defines.contains(&"WIDE_A"),
                wide,
                "T={rows} d={d} ffn={ffn} {dtype:?}: ran {variant}"
            );
        }
    }
}

#[test]
fn routed_ffn_matches_dense_formula_at_whisper_base_width() {
    // Decoder steps (1 and 3 tokens) in both kernel forms, an encoder-like block once.
    let cases = [
        (1, 1, KernelForms::Gpu),
        (3, 2, KernelForms::Gpu),
        (1, 1, KernelForms::Cpu),
        (3, 2, KernelForms::Cpu),
        (70, 23, KernelForms::Auto),
    ];
    for (rows, experts, forms) in cases {
        check(
            &gpu_with(forms),
            &Case {
                rows,
                d: 512,
                ffn: 2048,
                experts,
                dtype: DType::F16,
                seed: 90 + rows as u64,
            },
        );
    }
}

#[test]
fn zero_gate_output_sends_every_token_to_an_expert_equal_to_the_shared_ffn() {
    // The paper's initialisation: w_out = 0, so G = 0 ≥ 0 for every token, and FFN_lang is a
    // copy of FFN_shared, so the block computes exactly the original FFN.
    let gpu = gpu();
    let (d, ffn) = (48, 192);
    let mut r = rng(5);
    for rows in [1, 3, 200] {
        let shared = random_ffn(&mut r, d, ffn);
        let gate = (
            random(&mut r, GATE_DIM * d),
            vec![0.0; GATE_DIM],
            vec![0.0; GATE_DIM],
        );
        let layer = shared.expert(Part::Decoder, 2, gate);
        let expert = Expert::upload(&gpu, &layer.expert, DType::F32).unwrap();
        let frozen = shared.upload(&gpu, DType::F32);
        let x = random(&mut r, rows * d);
        let residual = random(&mut r, rows * d);
        let xt = gpu.upload(&x, &[rows, d]).unwrap();
        let rt = gpu.upload(&residual, &[rows, d]).unwrap();
        let y = clsr_ffn(&gpu, &xt, as_shared(&frozen), &expert, &rt);
        let gates = pollster::block_on(gpu.read_u32(&y.gates)).unwrap();
        assert_eq!(
            gates,
            vec![1; rows],
            "T={rows}: every token takes the expert"
        );
        let f = seen(&shared, DType::F32).forward(&f64s(&x));
        let want: Vec<f64> = f
            .iter()
            .zip(&residual)
            .map(|(f, &r)| r as f64 + f)
            .collect();
        assert_close(&read(&gpu, &y.out), &want, RTOL, &format!("T={rows}"));
    }
}

#[test]
fn gate_counts_accumulate_per_slot_until_reset() {
    let gpu = gpu();
    let (d, ffn) = (32, 64);
    let mut r = rng(6);
    let (w_in, b_in, w_out) = steering_gate(&mut r, d);
    let shared = random_ffn(&mut r, d, ffn);
    let layer = shared.expert(Part::Encoder, 0, (w_in, b_in, w_out));
    let expert = Expert::upload(&gpu, &layer.expert, DType::F32).unwrap();
    let frozen = shared.upload(&gpu, DType::F32);
    let counts = GateCounts::new(&gpu, 2).unwrap();
    // Slot 0: a 100-token pass with 40 experts; slot 1: three one-token steps, two experts.
    let run = |rows: usize, experts: usize, slot: usize| {
        let mut x = random(&mut rng(rows as u64 + slot as u64), rows * d);
        for t in 0..rows {
            x[t * d] = if t < experts { 1.0 } else { -1.0 };
        }
        let xt = gpu.upload(&x, &[rows, d]).unwrap();
        let rt = gpu.upload(&x, &[rows, d]).unwrap();
        clsr_ffn_counted(
            &gpu,
            &xt,
            as_shared(&frozen),
            &expert,
            &rt,
            Some((&counts, slot)),
        );
        // Uploads land before the next submission: submit before the pooled input buffer
        // is handed out and overwritten again.
        gpu.flush();
    };
    run(100, 40, 0);
    for experts in [1, 0, 1] {
        run(1, experts, 1);
    }
    let got = pollster::block_on(counts.read(&gpu)).unwrap();
    assert_eq!(
        got,
        [
            GateCount {
                expert: 40,
                tokens: 100
            },
            GateCount {
                expert: 2,
                tokens: 3
            }
        ]
    );
    assert_eq!(got[0].fraction(), Some(0.4));
    counts.reset(&gpu);
    run(1, 1, 0);
    let got = pollster::block_on(counts.read(&gpu)).unwrap();
    assert_eq!(
        got,
        [
            GateCount {
                expert: 1,
                tokens: 1
            },
            GateCount::default()
        ]
    );
    assert_eq!(got[1].fraction(), None);
}
