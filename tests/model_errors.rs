//! A checkpoint that does not match its config fails with an error naming the tensor and
//! the shapes involved.

use whisper_clsr_test_kit as kit;

use kit::random_model::{write_random_model, TinyConfig};
use safetensors::tensor::TensorView;
use safetensors::SafeTensors;
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};

/// Loads the model in `dir` after `edit` rewrote its tensors; returns the error text.
fn load_error(
    name: &str,
    edit: impl Fn(&str, TensorView) -> Option<(Vec<usize>, Vec<u8>)>,
) -> String {
    let dir =
        std::env::temp_dir().join(format!("whisper-clsr-errors-{}-{name}", std::process::id()));
    write_random_model(
        &dir,
        &TinyConfig::default(),
        safetensors::Dtype::F32,
        &mut kit::rng(9),
    );
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let parsed = SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, Vec<usize>, Vec<u8>)> = parsed
        .tensors()
        .into_iter()
        .filter_map(|(n, view)| edit(&n, view).map(|(shape, data)| (n, shape, data)))
        .collect();
    let views: Vec<(String, TensorView)> = kept
        .iter()
        .map(|(n, shape, data)| {
            (
                n.clone(),
                TensorView::new(safetensors::Dtype::F32, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    let out = safetensors::serialize(views, None).unwrap();
    let gpu = kit::gpu();
    let config =
        WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let file = WeightFile::new(out, "model.safetensors").unwrap();
    match WhisperNetwork::load(&gpu, config, &file) {
        Ok(_) => panic!("{name}: loading should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_tensor_is_named() {
    let target = "model.decoder.layers.1.fc2.bias";
    let err = load_error("missing", |n, v| {
        (n != target).then(|| (v.shape().to_vec(), v.data().to_vec()))
    });
    assert!(
        err.contains(target) && err.contains("missing") && err.contains("[64]"),
        "{err}"
    );
}

#[test]
fn wrong_shape_is_named_with_both_shapes() {
    let target = "model.encoder.layers.0.fc1.weight";
    let err = load_error("shape", |n, v| {
        if n == target {
            // Same element count, transposed shape.
            Some((vec![64, 256], v.data().to_vec()))
        } else {
            Some((v.shape().to_vec(), v.data().to_vec()))
        }
    });
    assert!(
        err.contains(target) && err.contains("[64, 256]") && err.contains("[256, 64]"),
        "{err}"
    );
}

#[test]
fn truncated_file_is_refused_before_loading() {
    let dir =
        std::env::temp_dir().join(format!("whisper-clsr-errors-{}-trunc", std::process::id()));
    write_random_model(
        &dir,
        &TinyConfig::default(),
        safetensors::Dtype::F16,
        &mut kit::rng(10),
    );
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    for cut in [10, bytes.len() / 2, bytes.len() - 1] {
        let err = WeightFile::new(bytes[..cut].to_vec(), "model.safetensors")
            .err()
            .expect("truncated file refused");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn inconsistent_config_is_refused() {
    let bad = br#"{"d_model": 64, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 3,
        "decoder_attention_heads": 2, "encoder_ffn_dim": 256, "decoder_ffn_dim": 256, "num_mel_bins": 80,
        "vocab_size": 100}"#;
    let err = WhisperConfig::from_json(bad).unwrap_err().to_string();
    assert!(err.contains("encoder_attention_heads = 3"), "{err}");
    let err = WhisperConfig::from_json(b"{\"d_model\": 1}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a Whisper config"), "{err}");
}

/// The tiny random model's config and weights, with the weights re-stored as `dtype` and
/// `poison` (tensor name, element) set to NaN.
fn poisoned_file(dtype: safetensors::Dtype, tensor: &str, element: usize, seed: u64) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!(
        "whisper-clsr-errors-{}-nan-{dtype:?}",
        std::process::id()
    ));
    write_random_model(
        &dir,
        &TinyConfig::default(),
        safetensors::Dtype::F32,
        &mut kit::rng(seed),
    );
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let parsed = SafeTensors::deserialize(&bytes).unwrap();
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = parsed
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let mut values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if name == tensor {
                values[element] = f32::NAN;
            }
            let data = match dtype {
                safetensors::Dtype::F32 => values.iter().flat_map(|x| x.to_le_bytes()).collect(),
                safetensors::Dtype::F16 => values
                    .iter()
                    .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                    .collect(),
                safetensors::Dtype::BF16 => values
                    .iter()
                    .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
                    .collect(),
                other => panic!("no test for {other:?}"),
            };
            (name, view.shape().to_vec(), data)
        })
        .collect();
    let views = owned.iter().map(|(n, shape, data)| {
        (
            n.clone(),
            TensorView::new(dtype, shape.clone(), data).unwrap(),
        )
    });
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let gpu = kit::gpu();
    let config_json = {
        let dir = std::env::temp_dir().join(format!(
            "whisper-clsr-errors-{}-nan-config",
            std::process::id()
        ));
        write_random_model(
            &dir,
            &TinyConfig::default(),
            safetensors::Dtype::F32,
            &mut kit::rng(3),
        );
        std::fs::read(dir.join("config.json")).unwrap()
    };
    for (dtype, tensor, element) in [
        (
            safetensors::Dtype::F32,
            "model.decoder.layers.1.fc2.weight",
            17,
        ),
        (
            safetensors::Dtype::F16,
            "model.encoder.layers.0.self_attn.q_proj.weight",
            0,
        ),
        (
            safetensors::Dtype::BF16,
            "model.decoder.embed_tokens.weight",
            299 * 64 + 63,
        ),
    ] {
        let config = WhisperConfig::from_json(&config_json).unwrap();
        // The clean file loads; the poisoned one is refused before it reaches the GPU kernels.
        let clean = poisoned_file(dtype, "none", 0, 3);
        let file = WeightFile::new(clean, "model.safetensors").unwrap();
        WhisperNetwork::load(&gpu, config.clone(), &file).unwrap();
        let file = WeightFile::new(
            poisoned_file(dtype, tensor, element, 3),
            "model.safetensors",
        )
        .unwrap();
        let err = match WhisperNetwork::load(&gpu, config, &file) {
            Ok(_) => panic!("{dtype:?}: a NaN in {tensor} must be refused"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(tensor)
                && err.contains(&format!("NaN at element {element}"))
                && err.contains("corrupt"),
            "{dtype:?}: {err}"
        );
    }
}

/// Loads the tiny random model with `edit` applied to its config.json; the error text.
fn config_error(edit: impl Fn(&mut serde_json::Value)) -> String {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "whisper-clsr-errors-{}-config-{call}",
        std::process::id()
    ));
    write_random_model(
        &dir,
        &TinyConfig::default(),
        safetensors::Dtype::F16,
        &mut kit::rng(4),
    );
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    edit(&mut json);
    let config = WhisperConfig::from_json(json.to_string().as_bytes()).unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let file = WeightFile::new(bytes, "tiny/model.safetensors").unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // Refused on the host, before anything is uploaded: no GPU needed to find out.
    match config.check_weights(&file) {
        Ok(()) => panic!("{json}: loading should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_that_contradicts_the_weights_is_refused_naming_field_and_tensor() {
    let cases: [(&str, serde_json::Value, &[&str]); 9] = [
        (
            "encoder_layers",
            0.into(),
            &[
                "encoder_layers = 0",
                "encoder layer 1",
                "set encoder_layers to 2",
            ],
        ),
        (
            "decoder_layers",
            1.into(),
            &[
                "decoder_layers = 1",
                "model.decoder.layers.1.",
                "set decoder_layers to 2",
            ],
        ),
        (
            "encoder_layers",
            3.into(),
            &[
                "encoder_layers = 3",
                "only has tensors for 2 encoder layers",
            ],
        ),
        (
            "d_model",
            128.into(),
            &[
                "d_model = 128",
                "model.encoder.conv1.weight",
                "[64, 80, 3]",
                "set d_model to 64",
            ],
        ),
        (
            "num_mel_bins",
            128.into(),
            &[
                "num_mel_bins = 128",
                "model.encoder.conv1.weight",
                "set num_mel_bins to 80",
            ],
        ),
        (
            "vocab_size",
            51865.into(),
            &[
                "vocab_size = 51865",
                "model.decoder.embed_tokens.weight",
                "[300, 64]",
            ],
        ),
        (
            "max_target_positions",
            448.into(),
            &[
                "max_target_positions = 448",
                "model.decoder.embed_positions.weight",
            ],
        ),
        (
            "encoder_ffn_dim",
            1024.into(),
            &[
                "encoder_ffn_dim = 1024",
                "model.encoder.layers.0.fc1.weight",
                "[256, 64]",
            ],
        ),
        (
            "decoder_ffn_dim",
            128.into(),
            &["decoder_ffn_dim = 128", "model.decoder.layers.0.fc1.weight"],
        ),
    ];
    for (field, value, parts) in cases {
        let err = config_error(|c| c[field] = value.clone());
        for p in parts
            .iter()
            .chain(&["tiny/model.safetensors", "another model"])
        {
            assert!(
                err.contains(p),
                "{field} = {value}: {err:?} should mention {p:?}"
            );
        }
    }
}

#[test]
fn tiny_en_with_a_config_that_drops_the_encoder_is_refused() {
    use whisper_clsr::Whisper;
    let real = kit::model_dir("whisper-tiny.en");
    let dir = std::env::temp_dir().join(format!(
        "whisper-clsr-errors-{}-tiny-no-encoder",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["model.safetensors", "tokenizer.json"] {
        let _ = std::fs::remove_file(dir.join(name));
        std::os::unix::fs::symlink(real.join(name), dir.join(name)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(real.join("config.json")).unwrap()).unwrap();
    config["encoder_layers"] = 0.into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let err = match Whisper::load_dir(kit::gpu(), &dir) {
        Ok(_) => panic!("a tiny.en with encoder_layers 0 must not load"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("encoder_layers = 0")
            && err.contains("model.encoder.layers.3.")
            && err.contains("set encoder_layers to 4"),
        "{err}"
    );

    // Heads cannot be read off the weights: a released width must have 64-wide heads.
    config["encoder_layers"] = 4.into();
    config["decoder_attention_heads"] = 3.into();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let err = match Whisper::load_dir(kit::gpu(), &dir) {
        Ok(_) => panic!("a tiny.en with 3 decoder heads must not load"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("decoder_attention_heads = 3")
            && err.contains("set decoder_attention_heads to 6"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
