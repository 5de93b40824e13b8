//! A checkpoint that does not match its config fails with an error naming the tensor and
//! the shapes involved.

mod support;

use safetensors::tensor::TensorView;
use safetensors::SafeTensors;
use support::random_model::{write_random_model, TinyConfig};
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperModel};

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
        &mut support::rng(9),
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
    let gpu = support::gpu();
    let config =
        WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let file = WeightFile::new(out, "model.safetensors").unwrap();
    match WhisperModel::load(&gpu, config, &file) {
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
        &mut support::rng(10),
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
