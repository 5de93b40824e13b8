//! The fuzz targets as plain functions, so they build (and can be called) on stable Rust;
//! the binaries in `fuzz_targets/` hand them libFuzzer's inputs. Each function accepts any
//! bytes: a parser may refuse them with an error, and panics only when a property breaks
//! (libFuzzer then keeps the input). Panics inside the parsers abort under libFuzzer, so a
//! panic the crate would catch natively is found too.

use std::sync::OnceLock;

use whisper_clsr::audio::decode_audio;
use whisper_clsr::convert::hf_config::SpecialTokens;
use whisper_clsr::convert::inspect_ct2;
use whisper_clsr::decode::tokenizer::{Task, WhisperTokenizer};
use whisper_clsr::model::weights::HostTensor;
use whisper_clsr::model::{WeightFile, WhisperConfig};
use whisper_clsr::pack::{base_fingerprint, ExpertPack};

#[allow(dead_code)]
#[path = "../../test-kit/src/random_model.rs"]
mod random_model;

#[allow(dead_code)]
#[path = "../../test-kit/src/ct2.rs"]
mod ct2;

/// The config of the model the corpus' `model.safetensors` seeds were written for, and its
/// weights (for the config.json target).
fn fuzz_model() -> &'static (WhisperConfig, WeightFile) {
    static MODEL: OnceLock<(WhisperConfig, WeightFile)> = OnceLock::new();
    MODEL.get_or_init(|| {
        use rand::SeedableRng;
        let dir = std::env::temp_dir().join(format!("whisper-clsr-fuzz-{}", std::process::id()));
        random_model::write_random_model(
            &dir,
            &fuzz_model_config(),
            safetensors::Dtype::F16,
            &mut rand::rngs::StdRng::seed_from_u64(77),
        );
        let config = std::fs::read(dir.join("config.json")).expect("written");
        let weights = std::fs::read(dir.join("model.safetensors")).expect("written");
        let _ = std::fs::remove_dir_all(&dir);
        (
            WhisperConfig::from_json(&config).expect("valid"),
            WeightFile::new(weights, "seed").expect("valid"),
        )
    })
}

/// The model `tests/fuzz_loaders.rs` writes as the seed (keep the two in step).
pub fn fuzz_model_config() -> random_model::TinyConfig {
    random_model::TinyConfig {
        d_model: 16,
        heads: 2,
        encoder_layers: 1,
        decoder_layers: 1,
        vocab: 40,
        n_mels: 80,
        target_positions: 8,
    }
}

/// `model.safetensors` of the seed model's architecture: parse, check against the config,
/// convert every tensor, fingerprint, initialise a pack.
pub fn model_safetensors(data: &[u8]) {
    let (config, _) = fuzz_model();
    let Ok(file) = WeightFile::new(data.to_vec(), "fuzz") else {
        return;
    };
    if config.check_weights(&file).is_err() {
        return;
    }
    for (name, shape) in file.shapes() {
        match file.host(&name, &shape) {
            Ok(HostTensor::F32(v)) => assert!(v.iter().all(|x| x.is_finite()), "{name}"),
            Ok(HostTensor::F16(v)) => assert!(v.iter().all(|x| x.is_finite()), "{name}"),
            Err(_) => return,
        }
    }
    let _ = base_fingerprint(config, &file);
    let _ = ExpertPack::init_from_base(config, &file, "ca");
}

/// An expert pack: anything accepted is finite, shaped as its metadata says, one expert
/// per layer.
pub fn expert_pack(data: &[u8]) {
    let Ok(pack) = ExpertPack::from_bytes(data, "fuzz") else {
        return;
    };
    let (d, ffn, gate) = (pack.meta.d_model, pack.meta.ffn_dim, pack.meta.gate_dim);
    let mut seen = std::collections::HashSet::new();
    for l in &pack.layers {
        assert!(seen.insert((l.part, l.index)), "a layer twice");
        assert_eq!(l.expert.dims(), (d, ffn, gate));
        assert_eq!(l.expert.fc1.len(), ffn * d);
        assert_eq!(l.expert.gate_in.len(), gate * d);
        for v in l.expert.values() {
            assert!(v.iter().all(|x| x.is_finite()));
        }
    }
}

/// `config.json` against the seed model's weights: a config the weights accept must agree
/// with them on every size.
pub fn config_json(data: &[u8]) {
    let (original, file) = fuzz_model();
    let Ok(config) = WhisperConfig::from_json(data) else {
        return;
    };
    if config.check_weights(file).is_err() {
        return;
    }
    let sizes = |c: &WhisperConfig| {
        [
            c.d_model,
            c.encoder_layers,
            c.decoder_layers,
            c.encoder_ffn_dim,
            c.decoder_ffn_dim,
            c.num_mel_bins,
            c.vocab_size,
            c.max_source_positions,
            c.max_target_positions,
        ]
    };
    assert_eq!(
        sizes(&config),
        sizes(original),
        "accepted a contradicting config"
    );
    base_fingerprint(&config, file).expect("a consistent config fingerprints");
}

/// `tokenizer.json`, through the runtime's and the converter's readers.
pub fn tokenizer_json(data: &[u8]) {
    let _ = SpecialTokens::from_tokenizer_json(data);
    let Ok(tok) = WhisperTokenizer::from_bytes(data) else {
        return;
    };
    let tok = tok.for_vocab_size(40);
    let _ = tok.prompt(None, Task::Transcribe);
    let _ = tok.decode(&[0, 1, 2, 3, tok.sot, tok.eot, tok.no_timestamps]);
    let _ = tok.vocab_size();
}

/// A CTranslate2 `model.bin`, converted (in memory) with a fixed tokenizer and config.
pub fn ct2_model_bin(data: &[u8]) {
    if let Ok(config) = inspect_ct2(
        data,
        ct2::TINY_CT2_TOKENIZER.as_bytes(),
        Some(ct2::TINY_CT2_CONFIG.as_bytes()),
    ) {
        assert!(
            config.whisper.d_model > 0
                && config.whisper.vocab_size > 0
                && config.whisper.num_mel_bins > 0
        );
    }
}

/// Any audio container (the format is probed, no extension hint).
pub fn audio(data: &[u8]) {
    if let Ok(audio) = decode_audio(data, None) {
        assert!(!audio.samples.is_empty());
        assert!(audio.samples.iter().all(|x| x.is_finite()));
    }
}

#[cfg(test)]
mod tests {
    /// Every target accepts its seed and garbage without a panic.
    #[test]
    fn targets_run_on_seeds_and_garbage() {
        let garbage: Vec<u8> = (0..2048u32).map(|i| (i * 7919 % 251) as u8).collect();
        let (bin, _) = super::ct2::Ct2File::tiny_whisper(4, 1).bytes();
        super::ct2_model_bin(&bin);
        super::tokenizer_json(super::ct2::TINY_CT2_TOKENIZER.as_bytes());
        for target in [
            super::model_safetensors,
            super::expert_pack,
            super::config_json,
            super::tokenizer_json,
            super::ct2_model_bin,
            super::audio,
        ] {
            target(&garbage);
            target(&garbage[..7]);
            target(&[]);
        }
    }
}
