//! Importing the paper's released experts (`src/pack/distilwhisper.rs`, reader in
//! `src/convert/torch/`) from checkpoints written as `torch.save` writes them
//! (`kit::torch_checkpoint`): the values reach the runtime's expert layers unchanged and
//! compute the reference's hard-gated CLSR FFN, a routed transcription runs, and corrupt or
//! mismatched checkpoints are refused with clear errors.

use std::io::Cursor;
use std::path::PathBuf;

use kit::torch_checkpoint::{distilwhisper_experts, Checkpoint, Container, Entry, Storage};
use whisper_clsr::convert::torch::TorchCheckpoint;
use whisper_clsr::{TranscribeOptions, Whisper};

use super::*;

/// The tiny multilingual-shaped base: d_model 32, ffn 128, one layer per stack.
const DIMS: (usize, usize, usize) = (32, 128, GATE_DIM);
const LAYERS: (usize, usize) = (1, 1);

fn tiny_base(name: &str, seed: u64) -> (PathBuf, WhisperConfig, WeightFile) {
    let dir =
        std::env::temp_dir().join(format!("whisper-clsr-import-{}-{name}", std::process::id()));
    kit::tiny_whisper::write(&dir, seed);
    let config =
        WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let file = WeightFile::new(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        "tiny/model.safetensors",
    )
    .unwrap();
    (dir, config, file)
}

fn import(
    bytes: Vec<u8>,
    config: &WhisperConfig,
    file: &WeightFile,
    language: Option<&str>,
) -> whisper_clsr::Result<ExpertPack> {
    let mut checkpoint = TorchCheckpoint::from_reader(Cursor::new(bytes), "expert.test.bin")?;
    ExpertPack::import_distilwhisper(&mut checkpoint, config, file, language, &mut |_, _| {})
}

fn import_error(bytes: Vec<u8>, config: &WhisperConfig, file: &WeightFile) -> String {
    import(bytes, config, file, None)
        .expect_err("the checkpoint must be refused")
        .to_string()
}

fn entry<'a>(entries: &'a [Entry], name: &str) -> &'a Entry {
    entries.iter().find(|e| e.0 == name).unwrap()
}

fn values_of(pack_layer: &ExpertLayer, tensor: ExpertTensor) -> &Vec<f32> {
    pack_layer.expert.get(tensor)
}

/// The reference name of a pack tensor, as the checkpoint names it.
fn reference(part: Part, index: usize, language: &str, tensor: ExpertTensor) -> String {
    let p = format!("model.{}.layers.{index}.ffn_clsr", part.name());
    match tensor {
        ExpertTensor::Fc1 => format!("{p}.proj.{language}.fc1.weight"),
        ExpertTensor::Fc1Bias => format!("{p}.proj.{language}.fc1.bias"),
        ExpertTensor::Fc2 => format!("{p}.proj.{language}.fc2.weight"),
        ExpertTensor::Fc2Bias => format!("{p}.proj.{language}.fc2.bias"),
        ExpertTensor::GateIn => format!("{p}.gate_in.{language}.weight"),
        ExpertTensor::GateInBias => format!("{p}.gate_in.{language}.bias"),
        ExpertTensor::GateOut => format!("{p}.gate_out.{language}.weight"),
    }
}

/// `y = x Wᵀ + b` for a PyTorch Linear weight `[out, in]`, in f64.
fn torch_linear(x: &[f64], w: &[f32], b: &[f32], rows: usize) -> Vec<f64> {
    let (out, inp) = (b.len(), w.len() / b.len());
    let mut y = vec![0.0; rows * out];
    for r in 0..rows {
        for o in 0..out {
            let dot: f64 = (0..inp)
                .map(|i| x[r * inp + i] * w[o * inp + i] as f64)
                .sum();
            y[r * out + o] = dot + b[o] as f64;
        }
    }
    y
}

#[test]
fn imported_experts_reach_the_runtime_unchanged_and_route_a_transcription() {
    let (dir, config, file) = tiny_base("values", 61);
    assert_eq!(
        (config.d_model, config.encoder_ffn_dim),
        (DIMS.0, DIMS.1),
        "tiny base"
    );
    let entries = distilwhisper_experts(&mut rng(62), "english", DIMS, LAYERS);
    let path = dir.join("expert.english.bin");
    std::fs::write(
        &path,
        Checkpoint::save(&entries, Container::StateDict, Storage::Float).to_bytes(),
    )
    .unwrap();

    // An independent reader of torch's format (candle's) reads the test's file as written.
    let read_by_candle = candle_core::pickle::read_all(&path).unwrap();
    assert_eq!(read_by_candle.len(), entries.len());
    for (name, tensor) in &read_by_candle {
        let (_, shape, values) = entry(&entries, name);
        assert_eq!(tensor.dims(), shape.as_slice(), "{name}");
        let got: Vec<f32> = tensor.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(&got, values, "{name}");
    }

    let mut checkpoint = TorchCheckpoint::open(&path).unwrap();
    let mut calls = Vec::new();
    let pack =
        ExpertPack::import_distilwhisper(&mut checkpoint, &config, &file, None, &mut |d, t| {
            calls.push((d, t))
        })
        .unwrap();
    let total = (entries.iter().map(|e| e.2.len() * 4).sum::<usize>()) as u64;
    assert_eq!(calls.first(), Some(&(0, total)), "progress starts at 0");
    assert_eq!(
        calls.last(),
        Some(&(total, total)),
        "progress ends at the total"
    );
    assert_eq!(pack.meta.language, "en");
    assert_eq!(
        pack.meta.base_fingerprint,
        base_fingerprint(&config, &file).unwrap()
    );
    assert_eq!(
        (pack.meta.d_model, pack.meta.ffn_dim, pack.meta.gate_dim),
        DIMS
    );
    assert_eq!(
        (
            pack.meta.encoder_layers.clone(),
            pack.meta.decoder_layers.clone()
        ),
        (vec![0], vec![0])
    );
    assert_eq!(pack.meta.training["checkpoint"], "expert.english.bin");
    assert_eq!(pack.meta.training["checkpoint_language"], "english");
    assert_eq!(pack.dtype, DType::F32);

    // The pack file, loaded by the runtime: every expert tensor on the GPU holds the
    // checkpoint's values in the checkpoint's [out, in] layout.
    let mut whisper = Whisper::load_dir(gpu(), &dir).unwrap();
    let meta = whisper
        .add_expert_pack(&pack.to_bytes(DType::F32), "en.safetensors")
        .unwrap();
    assert_eq!(meta.language, "en");
    let experts = whisper.experts_for("en").expect("the pack is loaded");
    for (part, stack) in [
        (Part::Encoder, &experts.encoder),
        (Part::Decoder, &experts.decoder),
    ] {
        let expert = stack[0].as_ref().expect("layer 0 covered");
        for tensor in ExpertTensor::ALL {
            let (name, shape, values) = entry(&entries, &reference(part, 0, "english", tensor));
            let weight = expert.get(tensor);
            assert_eq!(weight.shape(), shape.as_slice(), "{name}");
            assert_eq!(&read_weight(&whisper.gpu, weight), values, "{name}");
        }
    }

    // The runtime's CLSR FFN on the encoder layer computes the reference's inference
    // forward with the checkpoint's tensors: G = w_out·ReLU(W_in z + b_in), expert FFN where
    // G ≥ 0, frozen FFN elsewhere (PyTorch Linear: z Wᵀ + b).
    let gpu = &whisper.gpu;
    let (d, rows) = (DIMS.0, 24);
    let z = random(&mut rng(63), rows * d);
    let residual = random(&mut rng(64), rows * d);
    let layer = &whisper.model.encoder.blocks[0].ffn;
    let expert = experts.encoder[0].as_ref().unwrap();
    let y = clsr_ffn(
        gpu,
        &gpu.upload(&z, &[rows, d]).unwrap(),
        SharedFfn {
            fc1: &layer.fc1.weight,
            fc1_bias: layer.fc1.bias.as_ref().unwrap(),
            fc2: &layer.fc2.weight,
            fc2_bias: layer.fc2.bias.as_ref().unwrap(),
        },
        expert,
        &gpu.upload(&residual, &[rows, d]).unwrap(),
    );
    let gates = pollster::block_on(gpu.read_u32(&y.gates)).unwrap();
    let out = read(gpu, &y.out);
    let ck = |t| &entry(&entries, &reference(Part::Encoder, 0, "english", t)).2;
    let zf = kit::f64s(&z);
    let g_hidden: Vec<f64> = torch_linear(
        &zf,
        ck(ExpertTensor::GateIn),
        ck(ExpertTensor::GateInBias),
        rows,
    )
    .into_iter()
    .map(|v| v.max(0.0))
    .collect();
    let g = torch_linear(&g_hidden, ck(ExpertTensor::GateOut), &[0.0], rows);
    let ffn = |w1: &[f32], b1: &[f32], w2: &[f32], b2: &[f32]| {
        let h: Vec<f64> = torch_linear(&zf, w1, b1, rows)
            .into_iter()
            .map(kit::gelu)
            .collect();
        torch_linear(&h, w2, b2, rows)
    };
    let shared = |name: &str, shape: &[usize]| {
        host_f32(&file, &format!("model.encoder.layers.0.{name}"), shape)
    };
    let (f, dd) = (DIMS.1, DIMS.0);
    let expert_out = ffn(
        ck(ExpertTensor::Fc1),
        ck(ExpertTensor::Fc1Bias),
        ck(ExpertTensor::Fc2),
        ck(ExpertTensor::Fc2Bias),
    );
    let shared_out = ffn(
        &shared("fc1.weight", &[f, dd]),
        &shared("fc1.bias", &[f]),
        &shared("fc2.weight", &[dd, f]),
        &shared("fc2.bias", &[dd]),
    );
    let mut routed = [0, 0];
    for r in 0..rows {
        if g[r].abs() < 1e-4 {
            continue; // too close to the boundary for f32 vs f64
        }
        let open = g[r] >= 0.0;
        routed[open as usize] += 1;
        assert_eq!(gates[r], open as u32, "row {r}: G = {}", g[r]);
        let from = if open { &expert_out } else { &shared_out };
        let want: Vec<f64> = (0..d)
            .map(|c| residual[r * d + c] as f64 + from[r * d + c])
            .collect();
        assert_close(&out[r * d..(r + 1) * d], &want, 1e-4, &format!("row {r}"));
    }
    assert!(
        routed[0] > 0 && routed[1] > 0,
        "both routes exercised: {routed:?}"
    );

    // A transcription in the pack's language runs through the experts.
    let samples: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    let options = TranscribeOptions {
        language: Some("en".into()),
        decode: whisper_clsr::decode::DecodeOptions::greedy(),
        ..Default::default()
    };
    let transcript =
        pollster::block_on(whisper.transcribe(&samples, &options, &mut |_| Ok(()))).unwrap();
    assert_eq!(transcript.expert.as_deref(), Some("en"));
    let stats = transcript.gate_stats.expect("routed: gate statistics");
    assert_eq!((stats.encoder.len(), stats.decoder.len()), (1, 1));
    assert!(
        stats.encoder[0].is_some() && stats.decoder[0].is_some(),
        "{stats:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn half_precision_plain_dicts_import_and_language_picks_one_of_several() {
    let (dir, config, file) = tiny_base("languages", 71);
    std::fs::remove_dir_all(&dir).unwrap();
    let catalan = distilwhisper_experts(&mut rng(72), "catalan", DIMS, LAYERS);
    let thai = distilwhisper_experts(&mut rng(73), "thai", DIMS, LAYERS);
    let both: Vec<Entry> = catalan.iter().chain(&thai).cloned().collect();
    let bytes = Checkpoint::save(&both, Container::Dict, Storage::Half).to_bytes();

    let msg = import_error(bytes.clone(), &config, &file);
    assert_mentions(
        &msg,
        &[
            "expert.test.bin",
            "several languages (catalan, thai)",
            "--language",
        ],
    );
    let msg = import(bytes.clone(), &config, &file, Some("ta"))
        .unwrap_err()
        .to_string();
    assert_mentions(&msg, &["catalan, thai", "not for 'ta'"]);

    for (language, code, entries) in [("th", "th", &thai), ("Catalan", "ca", &catalan)] {
        let pack = import(bytes.clone(), &config, &file, Some(language)).unwrap();
        assert_eq!(pack.meta.language, code);
        assert_eq!(pack.dtype, DType::F16, "an all-fp16 checkpoint");
        let name = if code == "th" { "thai" } else { "catalan" };
        for layer in &pack.layers {
            for tensor in ExpertTensor::ALL {
                let (n, _, values) =
                    entry(entries, &reference(layer.part, layer.index, name, tensor));
                assert_eq!(values_of(layer, tensor), &through_f16(values), "{n}");
            }
        }
    }
}

/// Replaces the first occurrence of `from` in `bytes`.
fn patch(bytes: &mut Vec<u8>, from: &[u8], to: &[u8]) {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    bytes.splice(at..at + from.len(), to.iter().copied());
}

#[test]
fn corrupt_and_mismatched_checkpoints_are_refused_with_clear_errors() {
    let (dir, config, file) = tiny_base("errors", 81);
    std::fs::remove_dir_all(&dir).unwrap();
    let entries = distilwhisper_experts(&mut rng(82), "english", DIMS, LAYERS);
    let good = || Checkpoint::save(&entries, Container::StateDict, Storage::Float);
    import(good().to_bytes(), &config, &file, None).expect("the unedited checkpoint imports");

    // Truncated download.
    let bytes = good().to_bytes();
    let msg = import_error(bytes[..bytes.len() * 2 / 3].to_vec(), &config, &file);
    assert_mentions(&msg, &["expert.test.bin", "truncated"]);

    // A flipped byte in a tensor's data: the zip checksum catches it.
    let mut bytes = good().to_bytes();
    let data = bytes.len() / 2;
    bytes[data] ^= 0x40;
    let msg = import_error(bytes, &config, &file);
    assert_mentions(&msg, &["expert.test.bin", "corrupt"]);

    // A pickle with an opcode torch.save never writes (the byte after PROTO 2).
    let mut ck = good();
    ck.record_mut("data.pkl")[2] = 0xff;
    let msg = import_error(ck.to_bytes(), &config, &file);
    assert_mentions(
        &msg,
        &["expert.test.bin", "data.pkl", "opcode 0xff at byte 2"],
    );

    // A storage record shorter than the pickle declares.
    let mut ck = good();
    ck.record_mut("data/0").truncate(100);
    let msg = import_error(ck.to_bytes(), &config, &file);
    assert_mentions(&msg, &["data/0", "holds 100 bytes", "4096 elements"]);

    // A transposed (non-contiguous) view: fc2.weight [32, 128] with stride (1, 32).
    let mut ck = good();
    patch(
        ck.record_mut("data.pkl"),
        b"K\x80K\x01\x86",
        b"K\x01K\x20\x86",
    );
    let msg = import_error(ck.to_bytes(), &config, &file);
    assert_mentions(&msg, &["fc2.weight", "not contiguous"]);

    // A big-endian checkpoint.
    let mut ck = good();
    *ck.record_mut("byteorder") = b"big".to_vec();
    assert_mentions(
        &import_error(ck.to_bytes(), &config, &file),
        &["byteorder", "little-endian"],
    );

    // A gate of the wrong shape: both shapes named.
    let mut bad = entries.clone();
    let gate = bad
        .iter_mut()
        .find(|e| {
            e.0.ends_with("decoder.layers.0.ffn_clsr.gate_in.english.weight")
        })
        .unwrap();
    gate.1 = vec![GATE_DIM, DIMS.0 + 1];
    gate.2 = vec![0.1; GATE_DIM * (DIMS.0 + 1)];
    let msg = import_error(
        Checkpoint::save(&bad, Container::Dict, Storage::Float).to_bytes(),
        &config,
        &file,
    );
    assert_mentions(
        &msg,
        &[
            "decoder.layers.0.ffn_clsr.gate_in.english.weight",
            "[64, 33]",
            "[64, 32]",
        ],
    );

    // A missing tensor is named.
    let bad: Vec<Entry> = entries
        .iter()
        .filter(|e| !e.0.contains("decoder.layers.0.ffn_clsr.gate_out"))
        .cloned()
        .collect();
    let msg = import_error(
        Checkpoint::save(&bad, Container::Dict, Storage::Float).to_bytes(),
        &config,
        &file,
    );
    assert_mentions(
        &msg,
        &["model.decoder.layers.0.ffn_clsr.gate_out.english.weight is missing"],
    );

    // Experts for another base size: wider (d_model 64), or more layers.
    let wide = distilwhisper_experts(&mut rng(83), "english", (64, 256, GATE_DIM), LAYERS);
    let msg = import_error(
        Checkpoint::save(&wide, Container::Dict, Storage::Float).to_bytes(),
        &config,
        &file,
    );
    assert_mentions(&msg, &["[256, 64]", "d_model 32", "another base model"]);
    let deep = distilwhisper_experts(&mut rng(84), "english", DIMS, (2, 1));
    let msg = import_error(
        Checkpoint::save(&deep, Container::Dict, Storage::Float).to_bytes(),
        &config,
        &file,
    );
    assert_mentions(
        &msg,
        &[
            "encoder layers [0, 1]",
            "encoder has 1 layer and",
            "another base model",
        ],
    );

    // A checkpoint without experts (a plain Whisper state dict).
    let plain: Vec<Entry> = vec![
        (
            "model.encoder.layers.0.fc1.weight".into(),
            vec![4, 2],
            vec![0.5; 8],
        ),
        (
            "model.encoder.layers.0.fc1.bias".into(),
            vec![4],
            vec![0.5; 4],
        ),
    ];
    let msg = import_error(
        Checkpoint::save(&plain, Container::StateDict, Storage::Float).to_bytes(),
        &config,
        &file,
    );
    assert_mentions(
        &msg,
        &[
            "none of its 2 tensors is a language expert",
            "model.encoder.layers.0.fc1.weight",
        ],
    );

    // A diverged expert.
    let mut bad = entries.clone();
    bad[3].2[1] = f32::NAN;
    let msg = import_error(
        Checkpoint::save(&bad, Container::Dict, Storage::Float).to_bytes(),
        &config,
        &file,
    );
    assert_mentions(&msg, &[&bad[3].0, "NaN"]);
}

/// A whisper-small expert file has ~170 tensors: its pickle stores memo entries past 255
/// (`LONG_BINPUT`, fetched with `LONG_BINGET`). 1100 tensors also split the dict's items
/// into two `SETITEMS` batches. Both readers (ours and candle's) must agree with the values.
#[test]
fn large_state_dicts_with_long_memo_indices_read_back_exactly() {
    let entries: Vec<Entry> = (0..1100)
        .map(|i| (format!("t.{i}"), vec![2], vec![i as f32, -(i as f32) / 7.0]))
        .collect();
    let ck = Checkpoint::save(&entries, Container::StateDict, Storage::Float);
    // Each tensor stores at least five memo entries (name, persistent id, size, stride, args).
    let bytes = ck.to_bytes();
    let mut checkpoint =
        TorchCheckpoint::from_reader(Cursor::new(bytes.clone()), "big.bin").unwrap();
    let names: Vec<String> = checkpoint
        .tensors()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let want: Vec<String> = entries.iter().map(|e| e.0.clone()).collect();
    assert_eq!(names, want);
    for (name, _, values) in [&entries[0], &entries[300], &entries[1099]] {
        assert_eq!(&checkpoint.read_f32(name).unwrap(), values, "{name}");
    }

    // candle's reader parses the same pickle to the same names, shapes and storages (its
    // tensor loading reopens the archive per tensor, too slow for 1100 here).
    let path = std::env::temp_dir().join(format!("whisper-clsr-big-{}.bin", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let infos = candle_core::pickle::read_pth_tensor_info(&path, false, None).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(infos.len(), entries.len());
    let mut seen = std::collections::HashSet::new();
    for info in &infos {
        // Entry i is `t.{i}` in storage `data/{i}` (candle lists them in its own order).
        let i: usize = info.name.strip_prefix("t.").unwrap().parse().unwrap();
        assert!(i < entries.len() && seen.insert(i), "{}", info.name);
        assert_eq!(info.layout.dims(), [2], "{}", info.name);
        assert!(info.path.ends_with(&format!("data/{i}")), "{}", info.path);
    }
}
