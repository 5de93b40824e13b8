//! Expert packs: the file format round trip, its error messages, the base-model check, the
//! paper's initialisation from a base model and the import of the paper's released experts.

use whisper_clsr_test_kit as kit;

use std::collections::HashMap;

use kit::random_model::{write_random_model, TinyConfig};
use kit::{assert_close, gpu, random, read, read_weight, rng, through_f16};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use whisper_clsr::gpu::DType;
use whisper_clsr::model::weights::HostTensor;
use whisper_clsr::model::{WeightFile, WhisperConfig};
use whisper_clsr::ops::clsr::{clsr_ffn, SharedFfn};
use whisper_clsr::ops::matmul::linear;
use whisper_clsr::pack::{
    base_fingerprint, Expert, ExpertLayer, ExpertPack, ExpertTensor, PackMeta, Part,
    FORMAT_VERSION, GATE_DIM, META_KEY,
};

// In this test binary rather than its own: every test binary links the whole runtime, which
// costs CI minutes.
#[path = "pack/distilwhisper_import.rs"]
mod distilwhisper_import;

const D: usize = 8;
const FFN: usize = 12;

fn layer(part: Part, index: usize, seed: u64) -> ExpertLayer {
    let mut r = rng(seed);
    ExpertLayer {
        part,
        index,
        expert: Expert {
            fc1: random(&mut r, FFN * D),
            fc1_bias: random(&mut r, FFN),
            fc2: random(&mut r, D * FFN),
            fc2_bias: random(&mut r, D),
            gate_in: random(&mut r, GATE_DIM * D),
            gate_in_bias: random(&mut r, GATE_DIM),
            gate_out: random(&mut r, GATE_DIM),
        },
    }
}

/// A hand-made pack: encoder layers 0 and 2, decoder layer 1.
fn small_pack() -> ExpertPack {
    ExpertPack {
        meta: PackMeta {
            format_version: FORMAT_VERSION,
            language: "ca".into(),
            base_fingerprint: "fnv1a64:0123456789abcdef".into(),
            d_model: D,
            ffn_dim: FFN,
            gate_dim: GATE_DIM,
            encoder_layers: vec![0, 2],
            decoder_layers: vec![1],
            training: serde_json::json!({"data": "cv-ca 10k", "steps": 1200, "budget": 0.5, "val_wer": 23.4}),
        },
        layers: vec![
            layer(Part::Encoder, 0, 1),
            layer(Part::Encoder, 2, 2),
            layer(Part::Decoder, 1, 3),
        ],
        dtype: DType::F32,
    }
}

fn round(l: &ExpertLayer) -> ExpertLayer {
    ExpertLayer {
        part: l.part,
        index: l.index,
        expert: Expert {
            fc1: through_f16(&l.expert.fc1),
            fc1_bias: through_f16(&l.expert.fc1_bias),
            fc2: through_f16(&l.expert.fc2),
            fc2_bias: through_f16(&l.expert.fc2_bias),
            gate_in: through_f16(&l.expert.gate_in),
            gate_in_bias: through_f16(&l.expert.gate_in_bias),
            gate_out: through_f16(&l.expert.gate_out),
        },
    }
}

/// Re-serialises a safetensors file: `edit` may drop (None) or replace each tensor, and
/// `meta` replaces the `__metadata__` map.
fn rewrite(
    bytes: &[u8],
    mut edit: impl FnMut(&str, &TensorView) -> Option<(Vec<usize>, Vec<u8>)>,
    meta: Option<HashMap<String, String>>,
) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .filter_map(|(name, view)| {
            edit(&name, &view).map(|(shape, data)| (name, view.dtype(), shape, data))
        })
        .collect();
    let views = owned
        .iter()
        .map(|(n, dt, s, d)| (n.clone(), TensorView::new(*dt, s.clone(), d).unwrap()));
    safetensors::serialize(views, meta).unwrap()
}

fn keep(_: &str, v: &TensorView) -> Option<(Vec<usize>, Vec<u8>)> {
    Some((v.shape().to_vec(), v.data().to_vec()))
}

fn metadata_of(bytes: &[u8]) -> HashMap<String, String> {
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    header.metadata().clone().unwrap()
}

fn error_of(bytes: &[u8]) -> String {
    ExpertPack::from_bytes(bytes, "ca.pack")
        .expect_err("the pack must be refused")
        .to_string()
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "{message:?} should mention {p:?}");
    }
}

#[test]
fn round_trip_keeps_values_and_metadata_in_f32_and_f16() {
    let pack = small_pack();
    let back = ExpertPack::from_bytes(&pack.to_bytes(DType::F32), "ca.pack").unwrap();
    assert_eq!(back, pack, "f32 round trip is exact");

    let bytes = pack.to_bytes(DType::F16);
    let back = ExpertPack::from_bytes(&bytes, "ca.pack").unwrap();
    assert_eq!(back.dtype, DType::F16);
    assert_eq!(back.meta, pack.meta);
    let rounded: Vec<ExpertLayer> = pack.layers.iter().map(round).collect();
    assert_eq!(
        back.layers, rounded,
        "f16 round trip rounds each value once"
    );
    assert!(back.layer(Part::Encoder, 2).is_some() && back.layer(Part::Encoder, 1).is_none());

    // The file itself: tensor names, shapes, dtype and the metadata JSON.
    let st = SafeTensors::deserialize(&bytes).unwrap();
    for (name, shape) in [
        ("encoder.layers.2.expert.fc1.weight", vec![FFN, D]),
        ("encoder.layers.2.expert.fc1.bias", vec![FFN]),
        ("encoder.layers.0.expert.fc2.weight", vec![D, FFN]),
        ("decoder.layers.1.expert.fc2.bias", vec![D]),
        ("decoder.layers.1.gate.in.weight", vec![GATE_DIM, D]),
        ("decoder.layers.1.gate.in.bias", vec![GATE_DIM]),
        ("decoder.layers.1.gate.out.weight", vec![1, GATE_DIM]),
    ] {
        let view = st.tensor(name).unwrap();
        assert_eq!(view.shape(), shape.as_slice(), "{name}");
        assert_eq!(view.dtype(), Dtype::F16, "{name}");
    }
    assert_eq!(st.len(), 3 * 7);
    let json: serde_json::Value = serde_json::from_str(&metadata_of(&bytes)[META_KEY]).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["language"], "ca");
    assert_eq!(json["base_fingerprint"], "fnv1a64:0123456789abcdef");
    assert_eq!(
        (&json["d_model"], &json["ffn_dim"], &json["gate_dim"]),
        (&D.into(), &FFN.into(), &GATE_DIM.into())
    );
    assert_eq!(json["encoder_layers"], serde_json::json!([0, 2]));
    assert_eq!(json["decoder_layers"], serde_json::json!([1]));
    assert_eq!(json["training"]["val_wer"], 23.4);
}

#[test]
fn write_atomic_replaces_the_file_without_leaving_a_temporary() {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-pack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ca.pack");
    std::fs::write(&path, b"an older pack").unwrap();
    let pack = small_pack();
    pack.write_atomic(&path, DType::F32).unwrap();
    let back = ExpertPack::from_bytes(&std::fs::read(&path).unwrap(), "ca.pack").unwrap();
    assert_eq!(back, pack);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ca.pack"], "only the pack remains");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_pack_is_refused() {
    let bytes = small_pack().to_bytes(DType::F16);
    for cut in [bytes.len() - 10, 100, 5] {
        let msg = error_of(&bytes[..cut]);
        assert_mentions(
            &msg,
            &["ca.pack", "not a readable safetensors file", "truncated"],
        );
    }
}

#[test]
fn wrong_shaped_tensor_is_named_with_both_shapes() {
    let bytes = small_pack().to_bytes(DType::F32);
    let bad = rewrite(
        &bytes,
        |name, v| {
            if name == "encoder.layers.2.expert.fc2.weight" {
                Some((vec![FFN, D], v.data().to_vec()))
            } else {
                keep(name, v)
            }
        },
        Some(metadata_of(&bytes)),
    );
    let msg = error_of(&bad);
    assert_mentions(
        &msg,
        &[
            "ca.pack",
            "encoder.layers.2.expert.fc2.weight",
            "has shape [12, 8]",
            "expected [8, 12]",
        ],
    );
}

#[test]
fn missing_tensor_is_named() {
    let bytes = small_pack().to_bytes(DType::F32);
    let bad = rewrite(
        &bytes,
        |name, v| (name != "decoder.layers.1.gate.out.weight").then(|| keep(name, v).unwrap()),
        Some(metadata_of(&bytes)),
    );
    let msg = error_of(&bad);
    assert_mentions(
        &msg,
        &["missing tensor decoder.layers.1.gate.out.weight", "[1, 64]"],
    );
}

#[test]
fn tensors_no_listed_layer_uses_are_refused() {
    let bytes = small_pack().to_bytes(DType::F32);
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    // A layer the metadata does not list, and a stray tensor.
    let fc1 = owned
        .iter()
        .find(|(n, ..)| n == "decoder.layers.1.expert.fc1.weight")
        .unwrap()
        .clone();
    owned.push((
        "decoder.layers.7.expert.fc1.weight".into(),
        fc1.1,
        fc1.2,
        fc1.3,
    ));
    owned.push(("zz.padding".into(), Dtype::F32, vec![4], vec![0; 16]));
    let views = owned
        .iter()
        .map(|(n, dt, s, d)| (n.clone(), TensorView::new(*dt, s.clone(), d).unwrap()));
    let bad = safetensors::serialize(views, Some(metadata_of(&bytes))).unwrap();
    assert_mentions(
        &error_of(&bad),
        &[
            "2 tensor(s) that no listed layer uses",
            "decoder.layers.7.expert.fc1.weight",
        ],
    );
}

#[test]
fn missing_metadata_and_unknown_version_are_refused() {
    let bytes = small_pack().to_bytes(DType::F32);
    let msg = error_of(&rewrite(&bytes, keep, None));
    assert_mentions(
        &msg,
        &[
            "ca.pack",
            "no `whisper_clsr` entry",
            "not a whisper-clsr expert pack",
        ],
    );
    let other = HashMap::from([("format".to_string(), "pt".to_string())]);
    let msg = error_of(&rewrite(&bytes, keep, Some(other)));
    assert_mentions(&msg, &["no `whisper_clsr` entry"]);

    let mut meta = metadata_of(&bytes);
    let mut json: serde_json::Value = serde_json::from_str(&meta[META_KEY]).unwrap();
    json["format_version"] = 2.into();
    meta.insert(META_KEY.into(), json.to_string());
    let msg = error_of(&rewrite(&bytes, keep, Some(meta)));
    assert_mentions(&msg, &["unknown pack format version 2", "reads version 1"]);
}

/// `bytes` with one value of tensor `target` replaced by `bits` (the value's little-endian
/// bit pattern in the tensor's own dtype).
fn poison(bytes: &[u8], target: &str, index: usize, bits: &[u8]) -> Vec<u8> {
    rewrite(
        bytes,
        |name, v| {
            let mut data = v.data().to_vec();
            if name == target {
                data[index * bits.len()..(index + 1) * bits.len()].copy_from_slice(bits);
            }
            Some((v.shape().to_vec(), data))
        },
        Some(metadata_of(bytes)),
    )
}

#[test]
fn non_finite_gate_or_expert_values_are_refused_with_the_tensor_named() {
    let f32_pack = small_pack().to_bytes(DType::F32);
    let f16_pack = small_pack().to_bytes(DType::F16);
    // (pack bytes, tensor, element, the value's bits, how the error names the value)
    type Case<'a> = (&'a [u8], &'a str, usize, Vec<u8>, &'a str);
    let cases: [Case; 4] = [
        (
            &f32_pack,
            "decoder.layers.1.gate.out.weight",
            5,
            f32::NAN.to_le_bytes().to_vec(),
            "NaN at element 5",
        ),
        (
            &f32_pack,
            "encoder.layers.2.gate.in.weight",
            0,
            f32::INFINITY.to_le_bytes().to_vec(),
            "an infinity at element 0",
        ),
        (
            &f16_pack,
            "encoder.layers.0.gate.in.bias",
            63,
            half::f16::NAN.to_le_bytes().to_vec(),
            "NaN at element 63",
        ),
        (
            &f16_pack,
            "decoder.layers.1.expert.fc2.weight",
            7,
            half::f16::NEG_INFINITY.to_le_bytes().to_vec(),
            "an infinity at element 7",
        ),
    ];
    for (bytes, target, index, bits, what) in cases {
        // The untouched pack loads; the poisoned one is refused, naming tensor and value.
        ExpertPack::from_bytes(bytes, "ca.pack").unwrap();
        let msg = error_of(&poison(bytes, target, index, &bits));
        assert_mentions(&msg, &["ca.pack", target, what, "export it again"]);
    }
}

#[test]
fn a_layer_listed_twice_is_refused() {
    let bytes = small_pack().to_bytes(DType::F32);
    let mut meta = metadata_of(&bytes);
    let mut json: serde_json::Value = serde_json::from_str(&meta[META_KEY]).unwrap();
    json["encoder_layers"] = serde_json::json!([0, 2, 0]);
    meta.insert(META_KEY.into(), json.to_string());
    let msg = error_of(&rewrite(&bytes, keep, Some(meta)));
    assert_mentions(&msg, &["ca.pack", "layer 0 twice in encoder_layers"]);
}

/// A random tiny Whisper (d_model 64, 2 + 2 layers) as a config and weight file.
fn tiny_model(dtype: Dtype, seed: u64) -> (WhisperConfig, WeightFile) {
    // Tests run in parallel and may ask for the same model: each call gets its own directory.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "whisper-clsr-pack-model-{}-{call}",
        std::process::id()
    ));
    write_random_model(&dir, &TinyConfig::default(), dtype, &mut rng(seed));
    let config =
        WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (
        config,
        WeightFile::new(bytes, "tiny/model.safetensors").unwrap(),
    )
}

fn host_f32(file: &WeightFile, name: &str, shape: &[usize]) -> Vec<f32> {
    match file.host(name, shape).unwrap() {
        HostTensor::F32(v) => v,
        HostTensor::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
    }
}

#[test]
fn fingerprint_ignores_storage_type_and_tells_models_apart() {
    let (config, f32_file) = tiny_model(Dtype::F32, 7);
    let (_, f16_file) = tiny_model(Dtype::F16, 7);
    let (_, other_file) = tiny_model(Dtype::F32, 8);
    let a = base_fingerprint(&config, &f32_file).unwrap();
    assert!(a.starts_with("fnv1a64:") && a.len() == 8 + 16, "{a}");
    assert_eq!(
        a,
        base_fingerprint(&config, &f16_file).unwrap(),
        "f32 vs f16 storage"
    );
    let b = base_fingerprint(&config, &other_file).unwrap();
    assert_ne!(a, b, "different weights");

    let mut pack = small_pack();
    pack.meta.base_fingerprint = b.clone();
    let msg = pack.check_base(&a, &config).unwrap_err().to_string();
    assert_mentions(
        &msg,
        &["`ca`", "trained for a different base model", &a, &b],
    );
}

#[test]
fn check_base_refuses_layers_and_widths_the_model_lacks() {
    let (config, file) = tiny_model(Dtype::F32, 7);
    let fp = base_fingerprint(&config, &file).unwrap();
    let mut pack = ExpertPack::init_from_base(&config, &file, "ta").unwrap();
    pack.check_base(&fp, &config).unwrap();
    pack.meta.decoder_layers = vec![0, 5];
    let msg = pack.check_base(&fp, &config).unwrap_err().to_string();
    assert_mentions(&msg, &["decoder layer 5", "has 2 decoder layers"]);
    pack.meta.decoder_layers = vec![0];
    pack.meta.d_model = 32;
    let msg = pack.check_base(&fp, &config).unwrap_err().to_string();
    assert_mentions(&msg, &["d_model 32", "64"]);
}

#[test]
fn init_from_base_copies_the_frozen_ffn_and_zeroes_the_gate_output() {
    for dtype in [Dtype::F32, Dtype::F16] {
        let (config, file) = tiny_model(dtype, 11);
        let pack = ExpertPack::init_from_base(&config, &file, "th").unwrap();
        let (d, ffn) = (config.d_model, config.encoder_ffn_dim);
        assert_eq!(pack.meta.language, "th");
        assert_eq!(
            pack.meta.base_fingerprint,
            base_fingerprint(&config, &file).unwrap()
        );
        assert_eq!(
            (pack.meta.d_model, pack.meta.ffn_dim, pack.meta.gate_dim),
            (d, ffn, GATE_DIM)
        );
        assert_eq!(pack.meta.encoder_layers, [0, 1]);
        assert_eq!(pack.meta.decoder_layers, [0, 1]);
        assert_eq!(pack.layers.len(), 4);
        let mut gate_values = Vec::new();
        for l in &pack.layers {
            let base = format!("model.{}.layers.{}", l.part.name(), l.index);
            assert_eq!(
                l.expert.fc1,
                host_f32(&file, &format!("{base}.fc1.weight"), &[ffn, d])
            );
            assert_eq!(
                l.expert.fc1_bias,
                host_f32(&file, &format!("{base}.fc1.bias"), &[ffn])
            );
            assert_eq!(
                l.expert.fc2,
                host_f32(&file, &format!("{base}.fc2.weight"), &[d, ffn])
            );
            assert_eq!(
                l.expert.fc2_bias,
                host_f32(&file, &format!("{base}.fc2.bias"), &[d])
            );
            assert!(l.expert.gate_out.iter().all(|&w| w == 0.0), "w_out = 0");
            assert!(l.expert.gate_in_bias.iter().all(|&b| b == 0.0), "b_in = 0");
            assert_eq!(l.expert.gate_in.len(), GATE_DIM * d);
            gate_values.extend_from_slice(&l.expert.gate_in);
        }
        // W_in ~ N(0, 0.01²): sample mean and deviation over 4 × 64 × 64 draws.
        let n = gate_values.len() as f64;
        let mean = gate_values.iter().map(|&x| x as f64).sum::<f64>() / n;
        let std = (gate_values
            .iter()
            .map(|&x| (x as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!(
            mean.abs() < 0.001 && (std - 0.01).abs() < 0.001,
            "mean {mean}, std {std}"
        );
        // Seeded: the same inputs give the same pack; layers draw different gates.
        assert_eq!(
            pack,
            ExpertPack::init_from_base(&config, &file, "th").unwrap()
        );
        assert_ne!(pack.layers[0].expert.gate_in, pack.layers[1].expert.gate_in);
        let back = ExpertPack::from_bytes(&pack.to_bytes(DType::F32), "th.pack").unwrap();
        assert_eq!(back, pack);
    }
}

#[test]
fn initialised_pack_leaves_the_ffn_output_unchanged_on_the_gpu() {
    let gpu = gpu();
    let (config, file) = tiny_model(Dtype::F16, 12);
    let pack = ExpertPack::init_from_base(&config, &file, "ca").unwrap();
    let (d, ffn) = (config.d_model, config.encoder_ffn_dim);
    for (layer, rows) in [(Part::Encoder, 300), (Part::Decoder, 1)] {
        let base = format!("model.{}.layers.1", layer.name());
        let load = |name: &str, shape: &[usize]| {
            file.load(&gpu, &format!("{base}.{name}"), shape).unwrap()
        };
        let (w1, b1) = (load("fc1.weight", &[ffn, d]), load("fc1.bias", &[ffn]));
        let (w2, b2) = (load("fc2.weight", &[d, ffn]), load("fc2.bias", &[d]));
        let expert =
            Expert::upload(&gpu, &pack.layer(layer, 1).unwrap().expert, w1.dtype()).unwrap();
        let mut r = rng(rows as u64);
        let x = gpu.upload(&random(&mut r, rows * d), &[rows, d]).unwrap();
        let res = gpu.upload(&random(&mut r, rows * d), &[rows, d]).unwrap();
        let y = clsr_ffn(
            &gpu,
            &x,
            SharedFfn {
                fc1: &w1,
                fc1_bias: &b1,
                fc2: &w2,
                fc2_bias: &b2,
            },
            &expert,
            &res,
        );
        let h = linear(&gpu, &x, &w1, Some(&b1), true, None);
        let dense = read(&gpu, &linear(&gpu, &h, &w2, Some(&b2), false, Some(&res)));
        let want: Vec<f64> = dense.iter().map(|&v| v as f64).collect();
        assert_close(
            &read(&gpu, &y.out),
            &want,
            1e-5,
            &format!("{layer:?} T={rows}"),
        );
        let gates = pollster::block_on(gpu.read_u32(&y.gates)).unwrap();
        assert_eq!(
            gates,
            vec![1; rows],
            "w_out = 0 sends every token to the expert"
        );
    }
}
