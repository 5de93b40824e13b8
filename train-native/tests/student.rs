//! The whole training step on a tiny random Whisper (d_model 64, 2 encoder + 2 decoder
//! layers, the multilingual vocabulary of 51865 tokens) with a random teacher of another
//! width: the losses against a CPU implementation of the same network (f64), and the
//! gradients of the loss w.r.t. every expert and gate tensor of every layer against
//! central finite differences of that CPU loss.

mod support;

use support::{upload_expert, Mode};
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};
use whisper_clsr::pack::Expert;
use whisper_clsr_test_kit::random_model::{write_random_model, TinyConfig};
use whisper_clsr_test_kit::reference::{
    clsr_train, jensen_shannon, smoothed_cross_entropy, ClsrExpert, F64Whisper, Ffn,
};
use whisper_clsr_test_kit::*;
use whisper_clsr_train::clsr::TrainMode;
use whisper_clsr_train::expert_layers::ExpertLayers;
use whisper_clsr_train::loss::vocab::IGNORE;
use whisper_clsr_train::optim::Param;
use whisper_clsr_train::student::{
    example_losses, slot, teacher_forward, EncoderInput, Example, Objective, Pass, Trainable,
};

const VOCAB: usize = 51865;
const GATE: usize = 64;

/// The model in `dir` on the GPU.
fn load(gpu: &whisper_clsr::gpu::Gpu, dir: &std::path::Path) -> WhisperNetwork {
    let c = WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    WhisperNetwork::load(gpu, c, &WeightFile::new(bytes, "test").unwrap()).unwrap()
}

/// (CE, JS, budget) weighted as in `obj`, of the f64 student whose expert layers (encoder
/// layers first, then decoder layers) run the training-mode CLSR block.
#[allow(clippy::too_many_arguments)]
fn cpu_losses(
    student: &F64Whisper,
    enc_in: &[f64],
    tokens: &[u32],
    targets: &[u32],
    experts: &[ClsrExpert],
    modes: &[TrainMode],
    teacher_lp: &[Vec<f64>],
    obj: &Objective,
) -> [f64; 3] {
    let mut gates = Vec::new();
    let mut clsr = |layer: usize, z: &[f64], shared: &Ffn<&[f64]>| {
        let (out, g) = clsr_train(z, shared, &experts[layer], &Mode(&modes[layer]));
        gates.extend(g);
        out
    };
    let enc = student.encoder_layers(enc_in, &mut clsr);
    let hidden = student.decoder(&enc, tokens, &mut clsr);
    let lp = student.log_probs(&hidden, 1.0);
    let lq_tau = student.log_probs(&hidden, obj.tau as f64);
    let count = targets.iter().filter(|&&t| t != IGNORE).count() as f64;
    let (mut ce, mut js) = (0.0, 0.0);
    for (r, &t) in targets.iter().enumerate() {
        if t == IGNORE {
            continue;
        }
        ce += smoothed_cross_entropy(&lp[r], t as usize, obj.smoothing as f64);
        js += jensen_shannon(&teacher_lp[r], &lq_tau[r]);
    }
    let mean_g = gates.iter().sum::<f64>() / gates.len() as f64;
    let tau2 = (obj.tau as f64).powi(2);
    [
        obj.ce as f64 * ce / count,
        obj.js as f64 * tau2 * js / count,
        obj.budget_weight as f64 * (mean_g - obj.budget as f64).abs(),
    ]
}

/// Per layer (encoder first), the mean soft gate of the CPU forward.
fn cpu_layer_gates(
    student: &F64Whisper,
    enc_in: &[f64],
    tokens: &[u32],
    experts: &[ClsrExpert],
    modes: &[TrainMode],
) -> Vec<f64> {
    let mut sums = vec![(0.0, 0usize); experts.len()];
    let mut clsr = |layer: usize, z: &[f64], shared: &Ffn<&[f64]>| {
        let (out, g) = clsr_train(z, shared, &experts[layer], &Mode(&modes[layer]));
        sums[layer].0 += g.iter().sum::<f64>();
        sums[layer].1 += g.len();
        out
    };
    let enc = student.encoder_layers(enc_in, &mut clsr);
    student.decoder(&enc, tokens, &mut clsr);
    sums.iter().map(|&(sum, n)| sum / n as f64).collect()
}

#[test]
fn loss_and_expert_gradients_of_a_tiny_whisper_match_cpu_and_finite_differences() {
    let gpu = gpu();
    let mut rg = rng(61);
    let tmp = std::env::temp_dir().join(format!("train-student-{}", std::process::id()));
    let sdir = tmp.join("student");
    let tdir = tmp.join("teacher");
    let student_cfg = TinyConfig {
        d_model: 64,
        heads: 1,
        encoder_layers: 2,
        decoder_layers: 2,
        vocab: VOCAB,
        n_mels: 80,
        target_positions: 16,
    };
    let teacher_cfg = TinyConfig {
        d_model: 128,
        heads: 2,
        encoder_layers: 1,
        decoder_layers: 1,
        vocab: VOCAB,
        n_mels: 80,
        target_positions: 16,
    };
    write_random_model(&sdir, &student_cfg, safetensors::Dtype::F16, &mut rg);
    write_random_model(&tdir, &teacher_cfg, safetensors::Dtype::F32, &mut rg);
    let (student, teacher) = (load(&gpu, &sdir), load(&gpu, &tdir));
    let (d, f, frames) = (64, 256, 12);

    // Experts: random around small values so every tensor gets a gradient.
    let layers = 4;
    let shapes = [f * d, f, d * f, d, GATE * d, GATE, GATE];
    let scales = [0.15, 0.1, 0.07, 0.1, 0.3, 0.1, 0.5];
    let experts_cpu: Vec<ClsrExpert> = (0..layers)
        .map(|_| {
            ClsrExpert::from_tensors(std::array::from_fn(|i| {
                random(&mut rg, shapes[i])
                    .iter()
                    .map(|&v| v as f64 * scales[i])
                    .collect()
            }))
        })
        .collect();
    let experts: Vec<Expert<Param>> = experts_cpu
        .iter()
        .map(|e| upload_expert(&gpu, e, d, f, GATE))
        .collect();
    let modes: Vec<TrainMode> = (0..layers as u32)
        .map(|l| TrainMode {
            alpha: 1.5,
            gate_dropout: 0.1,
            expert_dropout: 0.3,
            skip: l == 1,
            seed: 77,
            layer: l,
        })
        .collect();

    // <|startoftranscript|> <|en|> <|transcribe|> <|notimestamps|> text… ; targets shift left.
    let tokens = [50258u32, 50259, 50359, 50363, 400, 1029, 13];
    let targets = [IGNORE, IGNORE, IGNORE, 400, 1029, 13, 50257];
    let enc_s = random(&mut rg, frames * d);
    let enc_t = random(&mut rg, frames * 128);
    let enc_s_t = upload(&gpu, &enc_s, &[frames, d]);
    let enc_t_t = upload(&gpu, &enc_t, &[frames, 128]);
    let obj = Objective {
        tau: 2.0,
        ..Objective::default()
    };

    let start = std::time::Instant::now();
    let trun = teacher_forward(&gpu, &teacher, &enc_t_t, &tokens).unwrap();
    let ex = Example {
        encoder: EncoderInput::Stem(&enc_s_t),

        tokens: &tokens,
        targets: &targets,
    };
    let losses = read(
        &gpu,
        &example_losses(
            &gpu,
            &student,
            Trainable {
                experts: &experts,
                modes: &modes,
                layers: ExpertLayers::All,
            },
            Some(&trun),
            &ex,
            &obj,
            Pass::Train,
        )
        .unwrap(),
    );
    eprintln!("GPU step on the tiny model: {:?}", start.elapsed());

    // CPU reference.
    let snet = F64Whisper::load(&sdir);
    let tnet = F64Whisper::load(&tdir);
    let (enc_s64, enc_t64) = (f64s(&enc_s), f64s(&enc_t));
    let t_enc = tnet.encoder_layers(&enc_t64, &mut tnet.shared_ffn());
    let t_hidden = tnet.decoder(&t_enc, &tokens, &mut tnet.shared_ffn());
    let teacher_lp = tnet.log_probs(&t_hidden, obj.tau as f64);
    let want = cpu_losses(
        &snet,
        &enc_s64,
        &tokens,
        &targets,
        &experts_cpu,
        &modes,
        &teacher_lp,
        &obj,
    );
    for (name, i, w) in [
        ("CE", slot::CE, want[0]),
        ("JS", slot::JS, want[1]),
        ("budget", slot::BUDGET, want[2]),
    ] {
        assert!(
            (losses[i] as f64 - w).abs() <= 1e-4 * w.abs().max(1e-3),
            "{name}: GPU {} vs CPU {w}",
            losses[i]
        );
    }
    assert!(losses[slot::GATE_RATIO] > 0.0 && losses[slot::GATE_RATIO] < 1.0);
    // Each layer's mean soft gate (what metrics.jsonl logs per layer).
    let want_layers = cpu_layer_gates(&snet, &enc_s64, &tokens, &experts_cpu, &modes);
    let got_layers = &losses[slot::COUNT..];
    assert_eq!(got_layers.len(), layers);
    for (l, (g, w)) in got_layers.iter().zip(&want_layers).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= 1e-4,
            "layer {l} mean gate: GPU {g} vs CPU {w}"
        );
    }

    // Finite differences of the CPU loss w.r.t. expert and gate tensors of every layer.
    let total = |e: &[ClsrExpert]| {
        cpu_losses(
            &snet,
            &enc_s64,
            &tokens,
            &targets,
            e,
            &modes,
            &teacher_lp,
            &obj,
        )
        .iter()
        .sum::<f64>()
    };
    let fd = FiniteDiff::new(1e-4, 2e-3);
    for (l, e) in experts.iter().enumerate() {
        for (t, param) in e.values().iter().enumerate() {
            let grad = read(&gpu, &param.grad);
            let what = format!("layer {l} {}", ClsrExpert::<Vec<f64>>::NAMES[t]);
            if modes[l].skip && t < 4 {
                assert!(
                    grad.iter().all(|&g| g == 0.0),
                    "{what}: skip-gate layer's expert gets no gradient"
                );
                continue;
            }
            let idx = probe_indices(&mut rg, grad.len(), 2);
            fd.check_with(&what, &grad, &idx, |i, h| {
                let mut e2 = experts_cpu.clone();
                e2[l].tensors_mut()[t][i] += h;
                total(&e2)
            });
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
}
