//! Model import: turns a CTranslate2 Whisper package (`model.bin`, `tokenizer.json`, optional
//! `config.json`) into the Hugging Face layout the runtime loads (`model.safetensors`,
//! `config.json`, `tokenizer.json`). Tensors keep their source dtype; nothing is re-quantized.
//! `torch` (feature `torch-import`, native only) reads PyTorch checkpoints, for importing the
//! paper's released experts into packs (docs/pack-format.md).

pub mod ct2;
pub mod hf_config;
#[cfg(feature = "torch-import")]
pub mod torch;
mod whisper_spec;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ct2::Ct2Dtype;
pub use hf_config::HfConfigFile;
use hf_config::{Ct2Config, SpecialTokens};
pub use whisper_spec::sinusoids;
use whisper_spec::HfTensor;

use crate::{Error, Result};

/// What [`convert_ct2`] wrote.
#[derive(Clone, Debug)]
pub struct ConvertSummary {
    pub config: HfConfigFile,
    /// Tensors in `model.safetensors`.
    pub n_tensors: usize,
    /// Bytes of tensor data in `model.safetensors`.
    pub weight_bytes: u64,
    /// Largest |value| among the dropped attention k biases (0 for every known package).
    pub max_abs_dropped_k_bias: f32,
    pub out_dir: PathBuf,
}

impl fmt::Display for ConvertSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config.whisper;
        write!(
            f,
            "whisper d_model {} · {} encoder / {} decoder layers · vocab {} · {} mel bins · \
             {} tensors ({}, {:.1} MB) → {}",
            c.d_model,
            c.encoder_layers,
            c.decoder_layers,
            c.vocab_size,
            c.num_mel_bins,
            self.n_tensors,
            self.config.torch_dtype,
            self.weight_bytes as f64 / 1e6,
            self.out_dir.display()
        )
    }
}

/// Converts a CTranslate2 Whisper model into `out_dir` (created if missing). Each output file
/// is written to a temporary name and renamed, so a reader never sees a half-written file.
pub fn convert_ct2(
    model_bin: &Path,
    tokenizer_json: &Path,
    ct2_config: Option<&Path>,
    out_dir: &Path,
) -> Result<ConvertSummary> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io(p, e));
    let bytes = read(model_bin)?;
    let tokenizer = read(tokenizer_json)?;
    let ct2_cfg = ct2_config.map(read).transpose()?;
    let names = Names {
        model_bin: &model_bin.display().to_string(),
        tokenizer_json: &tokenizer_json.display().to_string(),
        ct2_config: &ct2_config.map_or(String::new(), |p| p.display().to_string()),
    };
    let (mapped, config, alignment_heads) =
        prepare(&bytes, &tokenizer, ct2_cfg.as_deref(), &names)?;

    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let weight_bytes = mapped.tensors.iter().map(|t| t.data.len() as u64).sum();
    let n_tensors = mapped.tensors.len();
    // transformers refuses safetensors files without a known "format". One key only: the
    // header serializes a HashMap, and more keys would make the output order-random.
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let views = mapped.tensors.iter().map(|t| (t.name.as_str(), View(t)));
    write_atomic(&out_dir.join("model.safetensors"), |tmp| {
        safetensors::serialize_to_file(views, Some(metadata), tmp)
            .map_err(|e| Error::Convert(format!("writing {}: {e}", tmp.display())))
    })?;
    write_bytes_atomic(&out_dir.join("tokenizer.json"), &tokenizer)?;
    let json = serde_json::to_vec_pretty(&config)
        .map_err(|e| Error::Convert(format!("serializing config.json: {e}")))?;
    write_bytes_atomic(&out_dir.join("config.json"), &json)?;
    // Word timestamps read the alignment heads where Hugging Face keeps them.
    if let Some(heads) = alignment_heads {
        let generation = serde_json::json!({ "alignment_heads": heads });
        let json = serde_json::to_vec_pretty(&generation)
            .map_err(|e| Error::Convert(format!("serializing generation_config.json: {e}")))?;
        write_bytes_atomic(&out_dir.join("generation_config.json"), &json)?;
    }

    Ok(ConvertSummary {
        config,
        n_tensors,
        weight_bytes,
        max_abs_dropped_k_bias: mapped.max_abs_dropped_k_bias,
        out_dir: out_dir.to_path_buf(),
    })
}

/// Checks a CTranslate2 Whisper package held in memory, as [`convert_ct2`] would, without
/// writing anything; returns the `config.json` a conversion would write. For validating an
/// upload before converting it, and for fuzzing the importer.
pub fn inspect_ct2(
    model_bin: &[u8],
    tokenizer_json: &[u8],
    ct2_config: Option<&[u8]>,
) -> Result<HfConfigFile> {
    let names = Names {
        model_bin: "model.bin",
        tokenizer_json: "tokenizer.json",
        ct2_config: "config.json",
    };
    prepare(model_bin, tokenizer_json, ct2_config, &names).map(|(_, config, _)| config)
}

/// How the three inputs are named in messages.
struct Names<'n> {
    model_bin: &'n str,
    tokenizer_json: &'n str,
    ct2_config: &'n str,
}

/// What a conversion writes besides the weights: the HF config and the alignment heads (for
/// `generation_config.json`) when the CTranslate2 config lists them.
type Prepared<'a> = (
    whisper_spec::MappedWhisper<'a>,
    HfConfigFile,
    Option<Vec<(usize, usize)>>,
);

/// Parses and maps `model.bin`, reads the special tokens and the CTranslate2 config, and
/// builds the HF config.
fn prepare<'a>(
    bytes: &'a [u8],
    tokenizer: &[u8],
    ct2_config: Option<&[u8]>,
    names: &Names,
) -> Result<Prepared<'a>> {
    let model = ct2::parse_model_bin(bytes)
        .map_err(|e| Error::Convert(format!("{}: {}", names.model_bin, strip(e))))?;
    let mapped = whisper_spec::map_whisper(&model)
        .map_err(|e| Error::Convert(format!("{}: {}", names.model_bin, strip(e))))?;
    let tokens = SpecialTokens::from_tokenizer_json(tokenizer)
        .map_err(|e| Error::Convert(format!("{}: {}", names.tokenizer_json, strip(e))))?;
    let ct2_cfg = match ct2_config {
        Some(text) => Ct2Config::from_json(text)
            .map_err(|e| Error::Convert(format!("{}: {}", names.ct2_config, strip(e))))?,
        None => Ct2Config::default(),
    };
    let dtype = mapped
        .tensors
        .iter()
        .find(|t| t.name == "model.decoder.embed_tokens.weight")
        .map_or(Ct2Dtype::F32, |t| t.dtype);
    let config = hf_config::build(&mapped.config, dtype.name(), &tokens, &ct2_cfg)?;
    let layers = mapped.config.decoder_layers;
    let heads = mapped.config.decoder_attention_heads;
    if let Some(&(l, h)) = ct2_cfg
        .alignment_heads
        .iter()
        .flatten()
        .find(|&&(l, h)| l >= layers || h >= heads)
    {
        return Err(Error::Convert(format!(
            "{}: alignment head ({l}, {h}) is outside the decoder's {layers} layers of {heads} \
             heads",
            names.ct2_config
        )));
    }
    Ok((mapped, config, ct2_cfg.alignment_heads))
}

/// The message of a Convert error without its "convert: " prefix, for re-wrapping with a path.
fn strip(e: Error) -> String {
    match e {
        Error::Convert(m) => m,
        other => other.to_string(),
    }
}

/// Writes through `write(tmp)` to a sibling temporary file, then renames it onto `path`.
fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result =
        write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| Error::io(tmp, e))
    })
}

/// safetensors' view of a converted tensor.
struct View<'t, 'a>(&'t HfTensor<'a>);

impl safetensors::View for View<'_, '_> {
    fn dtype(&self) -> safetensors::Dtype {
        use safetensors::Dtype;
        match self.0.dtype {
            Ct2Dtype::F32 => Dtype::F32,
            Ct2Dtype::F16 => Dtype::F16,
            Ct2Dtype::Bf16 => Dtype::BF16,
            Ct2Dtype::I8 => Dtype::I8,
            Ct2Dtype::I16 => Dtype::I16,
            Ct2Dtype::I32 => Dtype::I32,
        }
    }

    fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0.data)
    }

    fn data_len(&self) -> usize {
        self.0.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whisper_spec::tests::tiny_whisper;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "whisper-clsr-convert-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn inputs(dir: &Path, max_token: u32) -> (PathBuf, PathBuf, PathBuf) {
        let (bin, tok, cfg) = (
            dir.join("model.bin"),
            dir.join("tokenizer.json"),
            dir.join("ct2.json"),
        );
        std::fs::write(&bin, tiny_whisper(4, 1).build("WhisperSpec")).unwrap();
        let tokenizer = format!(
            r#"{{"added_tokens":[{{"id":9,"content":"<|endoftext|>"}},{{"id":{max_token},"content":"<|startoftranscript|>"}}]}}"#
        );
        std::fs::write(&tok, tokenizer).unwrap();
        std::fs::write(
            &cfg,
            r#"{"suppress_ids":[1,2],"suppress_ids_begin":[9],"lang_ids":[]}"#,
        )
        .unwrap();
        (bin, tok, cfg)
    }

    #[test]
    fn converts_into_hf_directory() {
        let dir = scratch("ok");
        let (bin, tok, cfg) = inputs(&dir, 10);
        let out = dir.join("out");
        let summary = convert_ct2(&bin, &tok, Some(&cfg), &out).unwrap();
        assert_eq!(summary.n_tensors, 5 + 15 + 2 + 2 + 24 + 2);
        assert_eq!(summary.max_abs_dropped_k_bias, 3.0);

        let weights = std::fs::read(out.join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&weights).unwrap();
        assert_eq!(st.len(), summary.n_tensors);
        let emb = st.tensor("model.decoder.embed_tokens.weight").unwrap();
        assert_eq!(
            (emb.dtype(), emb.shape()),
            (safetensors::Dtype::F16, &[11, 4][..])
        );

        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["d_model"], 4);
        assert_eq!(config["vocab_size"], 11);
        assert_eq!(config["eos_token_id"], 9);
        assert_eq!(config["decoder_start_token_id"], 10);
        assert_eq!(config["suppress_tokens"], serde_json::json!([1, 2]));
        assert_eq!(config["begin_suppress_tokens"], serde_json::json!([9]));
        assert_eq!(config["torch_dtype"], "float16");
        assert_eq!(
            std::fs::read(out.join("tokenizer.json")).unwrap(),
            std::fs::read(&tok).unwrap()
        );
        // Only the three outputs: no temporary files left behind.
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);

        // Without the CTranslate2 config the suppression keys are left to the loader.
        let summary = convert_ct2(&bin, &tok, None, &dir.join("out2")).unwrap();
        assert!(summary.config.whisper.suppress_tokens.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = scratch("err");
        let (bin, tok, cfg) = inputs(&dir, 11);
        let err = convert_ct2(&bin, &tok, Some(&cfg), &dir.join("out"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("another model"), "{err}");

        let bytes = std::fs::read(&bin).unwrap();
        std::fs::write(&bin, &bytes[..bytes.len() / 2]).unwrap();
        let err = convert_ct2(&bin, &tok, Some(&cfg), &dir.join("out"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("model.bin: model.bin is truncated"), "{err}");

        let err = convert_ct2(&dir.join("missing.bin"), &tok, None, &dir.join("out")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(!dir.join("out").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
