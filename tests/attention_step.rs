//! The one-dispatch decoder-step attention (`runtime/attention_step.wgsl`) against an f64
//! reference composed of the plain operations: layer norm, the q/k/v Linears, the KV cache
//! append and scaled dot-product attention, on fresh random inputs; and whole decoder steps
//! of a random model through it against the general path (separate kernels).

use whisper_clsr::gpu::{DType, Gpu, KernelForms, Tensor, Weight};
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};
use whisper_clsr::ops::attention_step::{attention_step, StepKv, StepProjection, CROSS_CHUNK};
use whisper_clsr::ops::matmul::Rhs;
use whisper_clsr::ops::pack_halves::pack_halves;
use whisper_clsr_test_kit::random_model::{write_random_model, TinyConfig};
use whisper_clsr_test_kit::reference::ops::{attention, layer_norm, linear, AttnMask};
use whisper_clsr_test_kit::{
    assert_close, f64s, gpu, gpu_with, random, read, rng, through_f16, upload, weight,
};

/// Random LN and projection parameters of one sub-layer (`parts` = 3 for q, k, v; 1 for q),
/// uploaded as the kernel takes them, with the values the GPU sees.
struct Sub {
    w: Weight,
    norm_bias: Weight,
    w_seen: Vec<f64>,
    gamma: Vec<f64>,
    beta: Vec<f64>,
    /// Per part: its bias (k has none).
    biases: Vec<Option<Vec<f64>>>,
}

fn sub_layer(gpu: &Gpu, r: &mut impl rand::Rng, d: usize, parts: usize, dtype: DType) -> Sub {
    let scale = 1.0 / (d as f32).sqrt();
    let w: Vec<f32> = random(r, parts * d * d).iter().map(|x| x * scale).collect();
    let (w, w_seen) = weight(gpu, &w, &[parts * d, d], dtype);
    let gamma: Vec<f32> = random(r, d).iter().map(|x| 1.0 + 0.5 * x).collect();
    let beta = random(r, d);
    let mut table = [gamma.clone(), beta.clone()].concat();
    let mut biases = Vec::new();
    for part in 0..parts {
        if part == 1 {
            table.extend(vec![0.0; d]);
            biases.push(None);
        } else {
            let b = random(r, d);
            table.extend(&b);
            biases.push(Some(f64s(&b)));
        }
    }
    let norm_bias = gpu.weight_f32(&table, &[table.len()], DType::F32).unwrap();
    Sub {
        w,
        norm_bias,
        w_seen: f64s(&w_seen),
        gamma: f64s(&gamma),
        beta: f64s(&beta),
        biases,
    }
}

impl Sub {
    /// Projection `part` of the normalised rows `h` [rows, d].
    fn project(&self, h: &[f64], part: usize, d: usize) -> Vec<f64> {
        let w = &self.w_seen[part * d * d..(part + 1) * d * d];
        linear(h, w, self.biases[part].as_deref(), d)
    }

    fn norm(&self, x: &[f64], d: usize) -> Vec<f64> {
        x.chunks(d)
            .flat_map(|row| layer_norm(row, &self.gamma, &self.beta))
            .collect()
    }

    fn projection(&self, heads: usize) -> StepProjection<'_> {
        StepProjection {
            weight: &self.w,
            norm_bias: &self.norm_bias,
            heads,
        }
    }
}

#[test]
fn self_attention_step_matches_layer_norm_projections_and_cached_attention() {
    let gpu = gpu();
    let mut r = rng(71);
    // (d, heads, beams, past, weights): one row, beams, position 0, odd head widths, f16.
    let cases = [
        (64, 2, 1, 0, DType::F32),
        (96, 3, 1, 37, DType::F16),
        (384, 6, 1, 300, DType::F16),
        (512, 8, 3, 5, DType::F32),
        (80, 5, 2, 2, DType::F16),
    ];
    for (d, heads, beams, past, dtype) in cases {
        let what = format!("d {d}, heads {heads}, beams {beams}, past {past}, {dtype:?}");
        let sub = sub_layer(&gpu, &mut r, d, 3, dtype);
        let x = random(&mut r, beams * d);
        let capacity = past + 3;
        let k_cache = random(&mut r, capacity * beams * d);
        let v_cache = random(&mut r, capacity * beams * d);
        let (kt, vt) = (
            upload(&gpu, &k_cache, &[capacity * beams, d]),
            upload(&gpu, &v_cache, &[capacity * beams, d]),
        );
        let out = attention_step(
            &gpu,
            &upload(&gpu, &x, &[beams, d]),
            sub.projection(heads),
            StepKv::Cache {
                k: &kt,
                v: &vt,
                past,
            },
        );

        let h = sub.norm(&f64s(&x), d);
        let (q, k_new, v_new) = (
            sub.project(&h, 0, d),
            sub.project(&h, 1, d),
            sub.project(&h, 2, d),
        );
        let mut want = Vec::new();
        let (mut k_want, mut v_want) = (f64s(&k_cache), f64s(&v_cache));
        for b in 0..beams {
            let row = |t: usize| (t * beams + b) * d..(t * beams + b + 1) * d;
            k_want[row(past)].copy_from_slice(&k_new[b * d..(b + 1) * d]);
            v_want[row(past)].copy_from_slice(&v_new[b * d..(b + 1) * d]);
            let ks: Vec<f64> = (0..=past).flat_map(|t| k_want[row(t)].to_vec()).collect();
            let vs: Vec<f64> = (0..=past).flat_map(|t| v_want[row(t)].to_vec()).collect();
            let qb = &q[b * d..(b + 1) * d];
            want.extend(attention(qb, &ks, &vs, heads, d, AttnMask::Full));
        }
        assert_close(&read(&gpu, &out), &want, 1e-4, &format!("output, {what}"));
        // The new keys/values land at position `past`; every other cache row is untouched.
        assert_close(&read(&gpu, &kt), &k_want, 1e-4, &format!("keys, {what}"));
        assert_close(&read(&gpu, &vt), &v_want, 1e-4, &format!("values, {what}"));
        let untouched = |got: &[f32], before: &[f32]| {
            let new = past * beams * d..(past + 1) * beams * d;
            got.iter()
                .zip(before)
                .enumerate()
                .all(|(i, (g, b))| new.contains(&i) || g == b)
        };
        assert!(
            untouched(&read(&gpu, &kt), &k_cache),
            "keys elsewhere, {what}"
        );
        assert!(
            untouched(&read(&gpu, &vt), &v_cache),
            "values elsewhere, {what}"
        );
    }
}

/// Logits of a greedy walk (a 3-token prompt, then single tokens) and of beam steps, with the
/// decoder's one-dispatch step on or off, and the dispatches each step took.
fn decoder_walk(model: &mut WhisperNetwork, gpu: &Gpu, enc: &Tensor, fused: bool) -> Walk {
    model.decoder.fused_step = fused;
    let decoder = &model.decoder;
    let mut state = decoder.start(gpu, enc, None);
    let mut walk = Walk::default();
    let mut fed = vec![1u32, 7, 42];
    for next in [5u32, 299, 17, 3] {
        let d0 = gpu.dispatch_count();
        walk.logits
            .extend(read(gpu, &decoder.step(gpu, &mut state, &fed).unwrap()));
        walk.dispatches.push(gpu.dispatch_count() - d0);
        fed = vec![next];
    }
    decoder.reorder_beams(gpu, &mut state, &[0, 0, 0]).unwrap();
    for tokens in [[9u32, 10, 11], [12, 13, 14]] {
        let d0 = gpu.dispatch_count();
        let logits = decoder.step_beams(gpu, &mut state, &tokens).unwrap();
        walk.logits.extend(read(gpu, &logits));
        walk.dispatches.push(gpu.dispatch_count() - d0);
    }
    walk
}

#[derive(Default)]
struct Walk {
    logits: Vec<f32>,
    dispatches: Vec<u64>,
}

#[test]
fn decoder_steps_through_the_step_kernel_match_the_general_path() {
    let cases = [
        (safetensors::Dtype::F32, 73, KernelForms::Gpu),
        (safetensors::Dtype::F16, 74, KernelForms::Gpu),
        (safetensors::Dtype::F16, 75, KernelForms::Cpu),
    ];
    for (dtype, seed, forms) in cases {
        let dir = std::env::temp_dir().join(format!(
            "whisper-clsr-attention-step-{}-{seed}",
            std::process::id()
        ));
        let config = TinyConfig {
            heads: 4,
            ..TinyConfig::default()
        };
        write_random_model(&dir, &config, dtype, &mut rng(seed));
        let gpu = gpu_with(forms);
        let wc = WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap());
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let file = WeightFile::new(bytes, "random").unwrap();
        let mut model = WhisperNetwork::load(&gpu, wc.unwrap(), &file).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let mel = random(&mut rng(seed + 100), 80 * 3000);
        let enc = model
            .encoder
            .forward(&gpu, &gpu.upload(&mel, &[80, 3000]).unwrap(), None)
            .unwrap();

        let general = decoder_walk(&mut model, &gpu, &enc, false);
        let fused = decoder_walk(&mut model, &gpu, &enc, true);
        assert_close(
            &fused.logits,
            &f64s(&general.logits),
            1e-4,
            &format!("{dtype:?} {forms:?} logits"),
        );
        // The prompt (3 rows of one sequence) takes the general path; every later step saves
        // 5 dispatches per attention sub-layer (layer norm, projections, scores, softmax and
        // weighted sum become one), 10 per layer; the GPU forms spend one of them on the
        // combine pass of cross-attention over the 1500 frames' chunks and save one more by
        // folding the FFN layer norm into fc1, the CPU forms do neither: 10 either way.
        let layers = config.decoder_layers as u64;
        let saved = 10;
        assert_eq!(fused.dispatches[0], general.dispatches[0], "prompt step");
        for (i, (f, g)) in fused
            .dispatches
            .iter()
            .zip(&general.dispatches)
            .enumerate()
            .skip(1)
        {
            assert_eq!(
                g - f,
                saved * layers,
                "{forms:?} step {i}: {g} general vs {f} fused dispatches"
            );
        }
    }
}

#[test]
fn cross_attention_step_matches_layer_norm_query_and_attention_over_frames() {
    let gpu = gpu();
    let mut r = rng(72);
    // (d, heads, rows, frames, frames per chunk, weights, keys/values in halves): Whisper's
    // 1500 frames in the decoder's chunks and in one, a short encoder in one chunk and in
    // chunks of one to three frames (a short last chunk), beams, head size 2.
    let cases = [
        (384, 6, 1, 1500, CROSS_CHUNK, DType::F16, false),
        (384, 6, 1, 1500, CROSS_CHUNK, DType::F16, true),
        (384, 6, 1, 1500, 1500, DType::F32, false),
        (384, 6, 1, 1500, 1500, DType::F16, true),
        (64, 4, 1, 7, CROSS_CHUNK, DType::F32, false),
        (64, 4, 1, 7, 3, DType::F32, false),
        (64, 4, 1, 7, 3, DType::F32, true),
        (64, 4, 2, 5, 1, DType::F16, false),
        (8, 4, 2, 9, 4, DType::F16, true),
        (128, 2, 4, 300, 64, DType::F32, false),
        (512, 8, 2, 1500, CROSS_CHUNK, DType::F16, false),
        (512, 8, 2, 1500, CROSS_CHUNK, DType::F16, true),
    ];
    for (d, heads, rows, frames, chunk, dtype, halves) in cases {
        let what = format!(
            "d {d}, heads {heads}, rows {rows}, frames {frames}, chunk {chunk}, {dtype:?}, \
             keys/values in halves {halves}"
        );
        let sub = sub_layer(&gpu, &mut r, d, 1, dtype);
        let x = random(&mut r, rows * d);
        let (k, v) = (random(&mut r, frames * d), random(&mut r, frames * d));
        let (kt, vt) = (
            upload(&gpu, &k, &[frames, d]),
            upload(&gpu, &v, &[frames, d]),
        );
        let (kh, vh) = (pack_halves(&gpu, &kt), pack_halves(&gpu, &vt));
        let (k_op, v_op) = if halves {
            (Rhs::Halves(&kh), Rhs::Halves(&vh))
        } else {
            (Rhs::Act(&kt), Rhs::Act(&vt))
        };
        let out = attention_step(
            &gpu,
            &upload(&gpu, &x, &[rows, d]),
            sub.projection(heads),
            StepKv::Cross {
                k: k_op,
                v: v_op,
                chunk,
            },
        );
        // In halves, the values the kernel reads are the f16-rounded ones.
        let seen = |t: &[f32]| f64s(&if halves { through_f16(t) } else { t.to_vec() });
        let q = sub.project(&sub.norm(&f64s(&x), d), 0, d);
        let want = attention(&q, &seen(&k), &seen(&v), heads, d, AttnMask::Full);
        assert_close(&read(&gpu, &out), &want, 1e-4, &what);
    }
}
