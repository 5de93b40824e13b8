//! The whole training step on a tiny random Whisper (d_model 64, 2 encoder + 2 decoder
//! layers, the multilingual vocabulary of 51865 tokens) with a random teacher of another
//! width: the losses against a CPU implementation of the same network (f64), and the
//! gradients of the loss w.r.t. every expert and gate tensor of every layer against
//! central finite differences of that CPU loss.

mod support;

use support::tiny::random_model::{write_random_model, TinyConfig};
use support::*;
use whisper_clsr::model::weights::HostTensor;
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};
use whisper_clsr::pack::{Expert as PackExpert, ExpertTensor};
use whisper_clsr_train::clsr::{trainable, TrainMode};
use whisper_clsr_train::loss::vocab::IGNORE;
use whisper_clsr_train::optim::Param;
use whisper_clsr_train::rng::{dropout_keeps, rng_normal};
use whisper_clsr_train::student::{slot, teacher_forward, train_example, Example, Objective};

const VOCAB: usize = 51865;
const GATE: usize = 64;

/// Host copy of a model's tensors, by name.
struct Host {
    file: WeightFile,
    c: WhisperConfig,
}

impl Host {
    fn get(&self, name: &str, shape: &[usize]) -> Vec<f64> {
        match self.file.host(name, shape).unwrap() {
            HostTensor::F32(v) => v.iter().map(|&x| x as f64).collect(),
            HostTensor::F16(v) => v.iter().map(|x| x.to_f32() as f64).collect(),
        }
    }
}

fn load(dir: &std::path::Path) -> (Host, Vec<u8>, WhisperConfig) {
    let c = WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let file = WeightFile::new(bytes.clone(), "test").unwrap();
    (Host { file, c: c.clone() }, bytes, c)
}

fn linear(x: &[f64], w: &[f64], b: Option<&[f64]>, rows: usize, k: usize, n: usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * n];
    for i in 0..rows {
        for j in 0..n {
            y[i * n + j] =
                b.map_or(0.0, |b| b[j]) + (0..k).map(|c| x[i * k + c] * w[j * k + c]).sum::<f64>();
        }
    }
    y
}

fn layer_norm(x: &[f64], g: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for (row, out) in x.chunks(d).zip(y.chunks_mut(d)) {
        let mean = row.iter().sum::<f64>() / d as f64;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (var + 1e-5).sqrt();
        for j in 0..d {
            out[j] = (row[j] - mean) * inv * g[j] + b[j];
        }
    }
    y
}

fn mha(q: &[f64], k: &[f64], v: &[f64], heads: usize, d: usize, causal: bool) -> Vec<f64> {
    let (ql, kl) = (q.len() / d, k.len() / d);
    let hd = d / heads;
    let scale = 1.0 / (hd as f64).sqrt();
    let mut o = vec![0.0; ql * d];
    for h in 0..heads {
        for i in 0..ql {
            let vis = if causal { i + 1 } else { kl };
            let s: Vec<f64> = (0..vis)
                .map(|j| {
                    (0..hd)
                        .map(|c| q[i * d + h * hd + c] * k[j * d + h * hd + c])
                        .sum::<f64>()
                        * scale
                })
                .collect();
            let m = s.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for c in 0..hd {
                o[i * d + h * hd + c] = (0..vis).map(|j| e[j] / z * v[j * d + h * hd + c]).sum();
            }
        }
    }
    o
}

#[derive(Clone)]
struct Expert {
    t: [Vec<f64>; 7],
}

/// CPU mirror of the GPU training network. Returns (hidden [S, d], gates of every layer).
struct Net<'a> {
    h: &'a Host,
}

impl Net<'_> {
    fn attn(&self, p: &str, xq: &[f64], xkv: &[f64], causal: bool) -> Vec<f64> {
        let d = self.h.c.d_model;
        let (rq, rk) = (xq.len() / d, xkv.len() / d);
        let w = |n: &str| self.h.get(&format!("{p}.{n}.weight"), &[d, d]);
        let b = |n: &str| self.h.get(&format!("{p}.{n}.bias"), &[d]);
        let q = linear(xq, &w("q_proj"), Some(&b("q_proj")), rq, d, d);
        let k = linear(xkv, &w("k_proj"), None, rk, d, d);
        let v = linear(xkv, &w("v_proj"), Some(&b("v_proj")), rk, d, d);
        let a = mha(&q, &k, &v, self.h.c.encoder_attention_heads, d, causal);
        linear(&a, &w("out_proj"), Some(&b("out_proj")), rq, d, d)
    }

    fn ln(&self, name: &str, x: &[f64]) -> Vec<f64> {
        let d = self.h.c.d_model;
        layer_norm(
            x,
            &self.h.get(&format!("{name}.weight"), &[d]),
            &self.h.get(&format!("{name}.bias"), &[d]),
            d,
        )
    }

    fn ffn(
        &self,
        p: &str,
        z: &[f64],
        e: Option<(&Expert, &TrainMode)>,
        gates: &mut Vec<f64>,
    ) -> Vec<f64> {
        let (d, f) = (self.h.c.d_model, self.h.c.encoder_ffn_dim);
        let rows = z.len() / d;
        let run = |w1: &[f64], b1: &[f64], w2: &[f64], b2: &[f64], drop: Option<&TrainMode>| {
            let mut hid: Vec<f64> = linear(z, w1, Some(b1), rows, d, f)
                .into_iter()
                .map(gelu)
                .collect();
            if let Some(m) = drop {
                for (i, v) in hid.iter_mut().enumerate() {
                    *v = if dropout_keeps(m.expert_dropout_draw(), i as u32, m.expert_dropout) {
                        *v / (1.0 - m.expert_dropout as f64)
                    } else {
                        0.0
                    };
                }
            }
            linear(&hid, w2, Some(b2), rows, f, d)
        };
        let ys = run(
            &self.h.get(&format!("{p}.fc1.weight"), &[f, d]),
            &self.h.get(&format!("{p}.fc1.bias"), &[f]),
            &self.h.get(&format!("{p}.fc2.weight"), &[d, f]),
            &self.h.get(&format!("{p}.fc2.bias"), &[d]),
            None,
        );
        let Some((e, m)) = e else { return ys };
        let ye = run(&e.t[0], &e.t[1], &e.t[2], &e.t[3], Some(m));
        let zg: Vec<f64> = z
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if dropout_keeps(m.gate_dropout_draw(), i as u32, m.gate_dropout) {
                    v / (1.0 - m.gate_dropout as f64)
                } else {
                    0.0
                }
            })
            .collect();
        let a = linear(&zg, &e.t[4], Some(&e.t[5]), rows, d, GATE);
        let mut out = vec![0.0; rows * d];
        for r in 0..rows {
            let g0: f64 = (0..GATE)
                .map(|j| a[r * GATE + j].max(0.0) * e.t[6][j])
                .sum();
            let g =
                1.0 / (1.0 + (-(g0 + m.alpha as f64 * rng_normal(m.noise_draw(), r as u32))).exp());
            gates.push(g);
            let gm = if m.skip { 0.0 } else { g };
            for c in 0..d {
                out[r * d + c] = gm * ye[r * d + c] + (1.0 - gm) * ys[r * d + c];
            }
        }
        out
    }

    /// Decoder hidden states after the final LN; expert layers get their CLSR when given.
    fn forward(
        &self,
        enc_in: &[f64],
        tokens: &[u32],
        experts: Option<(&[Expert], &[TrainMode])>,
        gates: &mut Vec<f64>,
    ) -> Vec<f64> {
        let c = &self.h.c;
        let d = c.d_model;
        let add = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<f64>>();
        let mut x = enc_in.to_vec();
        for i in 0..c.encoder_layers {
            let p = format!("model.encoder.layers.{i}");
            let h = self.ln(&format!("{p}.self_attn_layer_norm"), &x);
            x = add(&x, &self.attn(&format!("{p}.self_attn"), &h, &h, false));
            let z = self.ln(&format!("{p}.final_layer_norm"), &x);
            x = add(
                &x,
                &self.ffn(&p, &z, experts.map(|(e, m)| (&e[i], &m[i])), gates),
            );
        }
        let enc = self.ln("model.encoder.layer_norm", &x);
        let emb = self
            .h
            .get("model.decoder.embed_tokens.weight", &[c.vocab_size, d]);
        let pos = self.h.get(
            "model.decoder.embed_positions.weight",
            &[c.max_target_positions, d],
        );
        let mut x: Vec<f64> = tokens
            .iter()
            .enumerate()
            .flat_map(|(i, &t)| (0..d).map(move |j| (t as usize, i, j)))
            .map(|(t, i, j)| emb[t * d + j] + pos[i * d + j])
            .collect();
        for i in 0..c.decoder_layers {
            let p = format!("model.decoder.layers.{i}");
            let h = self.ln(&format!("{p}.self_attn_layer_norm"), &x);
            x = add(&x, &self.attn(&format!("{p}.self_attn"), &h, &h, true));
            let h = self.ln(&format!("{p}.encoder_attn_layer_norm"), &x);
            x = add(
                &x,
                &self.attn(&format!("{p}.encoder_attn"), &h, &enc, false),
            );
            let z = self.ln(&format!("{p}.final_layer_norm"), &x);
            let idx = c.encoder_layers + i;
            x = add(
                &x,
                &self.ffn(&p, &z, experts.map(|(e, m)| (&e[idx], &m[idx])), gates),
            );
        }
        self.ln("model.decoder.layer_norm", &x)
    }

    fn log_probs(&self, hidden: &[f64], tau: f64) -> Vec<Vec<f64>> {
        let d = self.h.c.d_model;
        let emb = self.h.get("model.decoder.embed_tokens.weight", &[VOCAB, d]);
        hidden
            .chunks(d)
            .map(|row| {
                let z: Vec<f64> = (0..VOCAB)
                    .map(|v| (0..d).map(|j| row[j] * emb[v * d + j]).sum::<f64>() / tau)
                    .collect();
                let m = z.iter().cloned().fold(f64::MIN, f64::max);
                let lse = m + z.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
                z.iter().map(|x| x - lse).collect()
            })
            .collect()
    }
}

/// (CE, JS, budget) weighted as in `obj`.
#[allow(clippy::too_many_arguments)]
fn cpu_losses(
    net: &Net,
    enc_in: &[f64],
    tokens: &[u32],
    targets: &[u32],
    experts: &[Expert],
    modes: &[TrainMode],
    teacher_lp: &[Vec<f64>],
    obj: &Objective,
) -> [f64; 3] {
    let mut gates = Vec::new();
    let hidden = net.forward(enc_in, tokens, Some((experts, modes)), &mut gates);
    let lp = net.log_probs(&hidden, 1.0);
    let lq_tau = net.log_probs(&hidden, obj.tau as f64);
    let count = targets.iter().filter(|&&t| t != IGNORE).count() as f64;
    let (mut ce, mut js) = (0.0, 0.0);
    for (r, &t) in targets.iter().enumerate() {
        if t == IGNORE {
            continue;
        }
        let eps = obj.smoothing as f64;
        ce += (1.0 - eps) * -lp[r][t as usize] - eps * lp[r].iter().sum::<f64>() / VOCAB as f64;
        for v in 0..VOCAB {
            let (lpt, lqs) = (teacher_lp[r][v], lq_tau[r][v]);
            let lm = (0.5 * (lpt.exp() + lqs.exp())).ln();
            js += 0.5 * lpt.exp() * (lpt - lm) + 0.5 * lqs.exp() * (lqs - lm);
        }
    }
    let mean_g = gates.iter().sum::<f64>() / gates.len() as f64;
    let tau2 = (obj.tau as f64).powi(2);
    [
        obj.ce as f64 * ce / count,
        obj.js as f64 * tau2 * js / count,
        obj.budget_weight as f64 * (mean_g - obj.budget as f64).abs(),
    ]
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
    let (shost, sbytes, scfg) = load(&sdir);
    let (thost, tbytes, tcfg) = load(&tdir);
    let student = WhisperNetwork::load(
        &gpu,
        scfg.clone(),
        &WeightFile::new(sbytes, "student").unwrap(),
    )
    .unwrap();
    let teacher = WhisperNetwork::load(
        &gpu,
        tcfg.clone(),
        &WeightFile::new(tbytes, "teacher").unwrap(),
    )
    .unwrap();
    let (d, f, frames) = (64, 256, 12);

    // Experts: random around small values so every tensor gets a gradient.
    let layers = 4;
    let shapes = [f * d, f, d * f, d, GATE * d, GATE, GATE];
    let scales = [0.15, 0.1, 0.07, 0.1, 0.3, 0.1, 0.5];
    let experts_cpu: Vec<Expert> = (0..layers)
        .map(|_| Expert {
            t: std::array::from_fn(|i| {
                random(&mut rg, shapes[i])
                    .iter()
                    .map(|&v| v as f64 * scales[i])
                    .collect()
            }),
        })
        .collect();
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let experts: Vec<PackExpert<Param>> = experts_cpu
        .iter()
        .map(|e| {
            let v = PackExpert::try_from_fn(|t| {
                let i = ExpertTensor::ALL.iter().position(|&x| x == t).unwrap();
                Ok::<_, ()>(f32s(&e.t[i]))
            })
            .unwrap();
            assert_eq!(v.dims(), (d, f, GATE));
            trainable(&gpu, &v).unwrap()
        })
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
        enc_input: &enc_s_t,

        tokens: &tokens,
        targets: &targets,
    };
    let losses = read(
        &gpu,
        &train_example(&gpu, &student, &experts, &modes, Some(&trun), &ex, &obj).unwrap(),
    );
    eprintln!("GPU step on the tiny model: {:?}", start.elapsed());

    // CPU reference.
    let snet = Net { h: &shost };
    let tnet = Net { h: &thost };
    let enc_s64: Vec<f64> = enc_s.iter().map(|&v| v as f64).collect();
    let enc_t64: Vec<f64> = enc_t.iter().map(|&v| v as f64).collect();
    let t_hidden = tnet.forward(&enc_t64, &tokens, None, &mut Vec::new());
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

    // Finite differences of the CPU loss w.r.t. expert and gate tensors of every layer.
    let total = |e: &[Expert]| {
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
    let names = [
        "fc1",
        "fc1_bias",
        "fc2",
        "fc2_bias",
        "gate_in",
        "gate_in_bias",
        "gate_out",
    ];
    for (l, e) in experts.iter().enumerate() {
        for (t, param) in e.values().iter().enumerate() {
            let grad = read(&gpu, &param.grad);
            let what = format!("layer {l} {}", names[t]);
            if modes[l].skip && t < 4 {
                assert!(
                    grad.iter().all(|&g| g == 0.0),
                    "{what}: skip-gate layer's expert gets no gradient"
                );
                continue;
            }
            let fd = |i: usize| {
                central_difference(1e-4, |h| {
                    let mut e2 = experts_cpu.clone();
                    e2[l].t[t][i] += h;
                    total(&e2)
                })
            };
            assert_fd(
                &grad,
                &probe_indices(&mut rg, grad.len(), 2),
                fd,
                2e-3,
                &what,
            );
        }
    }
    std::fs::remove_dir_all(&tmp).ok();
}
