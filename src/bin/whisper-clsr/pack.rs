//! `whisper-clsr pack inspect|init|import-distilwhisper`.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use whisper_clsr::decode::languages::{language_name, normalize_language};
use whisper_clsr::gpu::DType;
use whisper_clsr::model::{WeightFile, WhisperConfig};
use whisper_clsr::pack::{base_fingerprint, ExpertPack};

use crate::MODEL_HELP;

#[derive(Subcommand)]
pub enum Command {
    /// Show a pack's metadata, size, per-layer tensor shapes and base-model fingerprint.
    Inspect {
        /// The expert pack (.safetensors)
        pack: PathBuf,
        /// Also check the pack against this base model.
        #[arg(long, help = MODEL_HELP)]
        model: Option<PathBuf>,
    },
    /// Write a new pack initialised as DistilWhisper does (expert = copy of the frozen FFN,
    /// gate W_in ~ N(0, 0.01), b_in = 0, w_out = 0): the trainer's starting point.
    Init {
        #[arg(long, help = MODEL_HELP)]
        model: PathBuf,
        /// Language the pack is for (code such as ca, or a name such as catalan).
        #[arg(long)]
        language: String,
        /// Output file (.safetensors).
        #[arg(long)]
        out: PathBuf,
        /// Storage type of the pack's tensors; `auto` follows the model's FFN weights.
        #[arg(long, value_enum, default_value_t = Storage::Auto)]
        dtype: Storage,
    },
    /// Import one language's experts from a DistilWhisper checkpoint (the paper's released
    /// expert.<language>.bin, a PyTorch state dict) into a pack for the base model it was
    /// trained on (whisper-small for the released ones). See docs/pack-format.md.
    #[command(name = "import-distilwhisper")]
    ImportDistilwhisper {
        /// The checkpoint written by torch.save (e.g. expert.catalan.bin).
        checkpoint: PathBuf,
        #[arg(long, help = MODEL_HELP)]
        model: PathBuf,
        /// Which language to import when the checkpoint holds several (code such as ca, or a
        /// name such as catalan).
        #[arg(long)]
        language: Option<String>,
        /// Output file (.safetensors).
        #[arg(long)]
        out: PathBuf,
        /// Storage type of the pack's tensors; `auto` follows the model's FFN weights.
        #[arg(long, value_enum, default_value_t = Storage::Auto)]
        dtype: Storage,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Storage {
    Auto,
    F16,
    F32,
}

impl Storage {
    /// The storage type to write; `Auto` takes the model's FFN weights' type.
    pub fn resolve(self, config: &WhisperConfig, file: &WeightFile) -> Result<DType, String> {
        Ok(match self {
            Storage::F16 => DType::F16,
            Storage::F32 => DType::F32,
            Storage::Auto => file
                .gpu_dtype(
                    "model.encoder.layers.0.fc1.weight",
                    &[config.encoder_ffn_dim, config.d_model],
                )
                .map_err(|e| e.to_string())?,
        })
    }
}

pub fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Inspect { pack, model } => inspect(&pack, model.as_deref()),
        Command::Init {
            model,
            language,
            out,
            dtype,
        } => init(&model, &language, &out, dtype),
        Command::ImportDistilwhisper {
            checkpoint,
            model,
            language,
            out,
            dtype,
        } => crate::pack_import::run(&checkpoint, &model, language.as_deref(), &out, dtype),
    }
}

/// config.json and model.safetensors of a model directory, without a GPU.
pub fn read_base(dir: &Path) -> Result<(WhisperConfig, WeightFile), String> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|e| {
            format!(
                "{}: {e} (a model directory holds config.json, model.safetensors and \
                 tokenizer.json)",
                path.display()
            )
        })
    };
    let config = WhisperConfig::from_json(&read("config.json")?).map_err(|e| e.to_string())?;
    let file = WeightFile::new(read("model.safetensors")?, "model.safetensors")
        .map_err(|e| e.to_string())?;
    Ok((config, file))
}

fn inspect(path: &Path, model: Option<&Path>) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let pack =
        ExpertPack::from_bytes(&bytes, &path.display().to_string()).map_err(|e| e.to_string())?;
    let m = &pack.meta;
    let language = language_name(&m.language).unwrap_or("unknown language");
    println!("pack            {}", path.display());
    println!("format version  {}", m.format_version);
    println!("language        {} ({language})", m.language);
    println!("base model      {}", m.base_fingerprint);
    println!(
        "dimensions      d_model {} · ffn {} · gate {}",
        m.d_model, m.ffn_dim, m.gate_dim
    );
    println!("encoder layers  {:?}", m.encoder_layers);
    println!("decoder layers  {:?}", m.decoder_layers);
    println!(
        "size            {:.1} MB · {} parameters · {}",
        bytes.len() as f64 / 1e6,
        pack.parameter_count(),
        match pack.dtype {
            DType::F16 => "f16",
            DType::F32 => "f32",
        }
    );
    println!("training        {}", m.training);
    println!("tensors:");
    for (name, shape) in pack.tensor_shapes() {
        println!("  {name:<40} {shape:?}");
    }
    if let Some(dir) = model {
        let (config, file) = read_base(dir)?;
        let fingerprint = base_fingerprint(&config, &file).map_err(|e| e.to_string())?;
        pack.check_base(&fingerprint, &config)
            .map_err(|e| e.to_string())?;
        println!("fits {} ({fingerprint})", dir.display());
    }
    Ok(())
}

fn init(model: &Path, language: &str, out: &Path, storage: Storage) -> Result<(), String> {
    let code = normalize_language(language).ok_or_else(|| {
        format!("unknown language '{language}': give a Whisper language code such as ca, ta, th")
    })?;
    eprintln!("reading {} ...", model.display());
    let (config, file) = read_base(model)?;
    let dtype = storage.resolve(&config, &file)?;
    let pack = ExpertPack::init_from_base(&config, &file, code).map_err(|e| e.to_string())?;
    pack.write_atomic(out, dtype).map_err(|e| e.to_string())?;
    eprintln!(
        "wrote {} (language {code}, {} layers, {} parameters, base {})",
        out.display(),
        pack.layers.len(),
        pack.parameter_count(),
        pack.meta.base_fingerprint
    );
    Ok(())
}
