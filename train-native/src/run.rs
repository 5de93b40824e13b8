//! A training run as the CLI drives it: load student, teacher and data, train with a
//! progress bar, append one metrics object per step to `RUN_DIR/metrics.jsonl`, take
//! atomic checkpoints (resuming from `RUN_DIR/checkpoint.safetensors` when present) and
//! export the pack to `RUN_DIR/{language}.pack.safetensors`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use whisper_clsr::audio::LogMel;
use whisper_clsr::decode::languages::normalize_language;
use whisper_clsr::gpu::Gpu;
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};
use whisper_clsr::pack::ExpertPack;
use whisper_clsr::{Error, Result};

use crate::checkpoint;
use crate::data::{check_same_tokenizer, prepare_all, read_manifest, ManifestEntry, TextEncoder};
use crate::export::{to_pack, write_pack};
use crate::progress::Progress;
use crate::teacher_cache::TeacherCache;
use crate::trainer::{Prepared, StepMetrics, TrainConfig, Trainer};

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub student: PathBuf,
    pub teacher: Option<PathBuf>,
    pub language: String,
    pub train: PathBuf,
    pub valid: Option<PathBuf>,
    pub out: PathBuf,
    pub steps: u64,
    pub config: TrainConfig,
    /// Fraction of the steps spent warming up.
    pub warmup_ratio: f32,
    /// Checkpoint every this many steps (and at the end).
    pub checkpoint_every: u64,
    pub pack_f16: bool,
    /// Host memory for the teacher's outputs, kept after their first epoch (0: none).
    pub teacher_cache_bytes: usize,
    /// Fail on a clip whose audio cannot be loaded instead of skipping it.
    pub strict: bool,
}

/// A Whisper directory loaded for training.
pub struct Loaded {
    pub model: WhisperNetwork,
    pub file: WeightFile,
    pub text: TextEncoder,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let p = dir.join(name);
    std::fs::read(&p).map_err(|e| Error::io(&p, e))
}

/// Loads config.json, model.safetensors and tokenizer.json from a model directory.
pub fn load_model(gpu: &Gpu, dir: &Path) -> Result<Loaded> {
    let config = WhisperConfig::from_json(&read(dir, "config.json")?)?;
    let file = WeightFile::new(
        read(dir, "model.safetensors")?,
        dir.join("model.safetensors").display().to_string(),
    )?;
    let model = WhisperNetwork::load(gpu, config, &file)?;
    let text = TextEncoder::from_bytes(&read(dir, "tokenizer.json")?)?;
    Ok(Loaded { model, file, text })
}

/// One metrics.jsonl object. Timing and memory are measurements of this process, not part
/// of the training state (a resumed run reproduces every other field). `skipped_clips`:
/// training clips left out because their audio could not be loaded; `skipped`: this step
/// was not applied (non-finite loss or gradient); `skipped_steps`: such steps so far.
fn metrics_line(m: &StepMetrics, seconds: f64, gpu_bytes: u64, skipped_clips: usize) -> String {
    serde_json::json!({
        "step": m.step, "loss": m.loss, "ce": m.ce, "gate_loss": m.gate_loss, "js": m.js,
        "gate_ratio": m.gate_ratio, "lr": m.lr, "grad_norm": m.grad_norm,
        "tokens": m.tokens, "tokens_per_s": m.tokens as f64 / seconds,
        "step_seconds": seconds, "activation_bytes": gpu_bytes,
        "skipped": m.skipped, "skipped_steps": m.skipped_steps, "skipped_clips": skipped_clips,
    })
    .to_string()
}

/// Keeps the metrics lines up to `step` (a resumed run rewrites what followed).
fn truncate_metrics(path: &Path, step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s <= step)
        })
        .collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| Error::io(path, e))
}

/// Runs the training described by `o`.
pub fn run(gpu: &Gpu, o: &RunOptions) -> Result<()> {
    let language = normalize_language(&o.language)
        .ok_or_else(|| Error::InvalidInput(format!("unknown language '{}'", o.language)))?;
    std::fs::create_dir_all(&o.out).map_err(|e| Error::io(&o.out, e))?;
    eprintln!("loading student {}", o.student.display());
    let student = load_model(gpu, &o.student)?;
    let teacher = match &o.teacher {
        Some(dir) => {
            eprintln!("loading teacher {}", dir.display());
            let t = load_model(gpu, dir)?;
            check_same_tokenizer(&student.text.whisper, &t.text.whisper)?;
            Some(t)
        }
        None => None,
    };
    let c = &student.model.config;
    let max_len = c.max_target_positions;
    let mel = LogMel::new(c.num_mel_bins)?;
    let teacher_mel = teacher
        .as_ref()
        .map(|t| LogMel::new(t.model.config.num_mel_bins))
        .transpose()?;
    let load_set = |path: &Path| -> Result<(Vec<Prepared>, usize)> {
        let entries = read_manifest(path)?;
        // A line without a language is in the run's.
        let other = |e: &&ManifestEntry| {
            e.language
                .as_deref()
                .is_some_and(|l| normalize_language(l) != Some(language))
        };
        if let Some(e) = entries.iter().find(other) {
            return Err(Error::InvalidInput(format!(
                "{}: '{}' is in language '{}', but this run trains '{language}' (batches are single-language)",
                path.display(),
                e.audio.display(),
                e.language.as_deref().unwrap_or_default()
            )));
        }
        let set = prepare_all(
            &entries,
            language,
            &student.text,
            &mel,
            teacher_mel.as_ref(),
            max_len,
            o.strict,
        )?;
        for (clip, why) in &set.skipped {
            eprintln!("skipped {}: {why}", clip.display());
        }
        if !set.skipped.is_empty() {
            eprintln!(
                "{}: skipped {} of {} clips whose audio could not be loaded (--strict makes this an error)",
                path.display(),
                set.skipped.len(),
                entries.len()
            );
        }
        Ok((set.examples, set.skipped.len()))
    };
    let (train, skipped_clips) = load_set(&o.train)?;
    let valid = o
        .valid
        .as_deref()
        .map(load_set)
        .transpose()?
        .map(|(examples, _)| examples);
    eprintln!(
        "{} training examples{}",
        train.len(),
        valid
            .as_ref()
            .map_or(String::new(), |v| format!(", {} validation", v.len()))
    );

    let mut config = o.config;
    config.optim.total_steps = o.steps;
    config.optim.warmup_steps = (o.warmup_ratio * o.steps as f32).round() as u64;
    let init = ExpertPack::init_from_base(c, &student.file, language)?;
    let mut trainer = Trainer::new(gpu, &student.model, &init, config)?;
    let ckpt = o.out.join("checkpoint.safetensors");
    let metrics_path = o.out.join("metrics.jsonl");
    if ckpt.exists() {
        checkpoint::load(gpu, &mut trainer, &ckpt)?;
        eprintln!(
            "resumed from {} at step {}",
            ckpt.display(),
            trainer.step_count()
        );
        truncate_metrics(&metrics_path, trainer.step_count())?;
    } else {
        truncate_metrics(&metrics_path, 0)?;
    }
    let mut metrics = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)
        .map_err(|e| Error::io(&metrics_path, e))?;
    let run_meta = serde_json::json!({"language": language, "steps": o.steps, "batch": config.batch, "seed": config.seed});
    let progress = Progress::new(o.steps, trainer.step_count());
    let mut cache = TeacherCache::new(o.teacher_cache_bytes);
    while trainer.step_count() < o.steps {
        let t0 = Instant::now();
        let idx = trainer.batch_indices(train.len());
        let batch: Vec<&Prepared> = idx.iter().map(|&i| &train[i]).collect();
        let m = trainer.step_cached(
            gpu,
            &student.model,
            teacher.as_ref().map(|t| &t.model),
            &batch,
            Some((&idx, &mut cache)),
        )?;
        let seconds = t0.elapsed().as_secs_f64();
        writeln!(
            metrics,
            "{}",
            metrics_line(&m, seconds, gpu.activation_bytes(), skipped_clips)
        )
        .map_err(|e| Error::io(&metrics_path, e))?;
        progress.step(&m, seconds);
        if m.step % o.checkpoint_every.max(1) == 0 || m.step == o.steps {
            checkpoint::save(gpu, &trainer, &ckpt, run_meta.clone())?;
        }
    }
    progress.finish();
    let mut summary = serde_json::json!({
        "data": o.train.display().to_string(),
        "examples": train.len(),
        "skipped_clips": skipped_clips,
        "skipped_steps": trainer.skipped_steps,
        "steps": o.steps,
        "budget": config.objective.budget,
        "teacher": o.teacher.as_ref().map(|p| p.display().to_string()),
    });
    if let Some(valid) = &valid {
        let v = trainer.evaluate(
            gpu,
            &student.model,
            teacher.as_ref().map(|t| &t.model),
            valid,
        )?;
        eprintln!(
            "validation: loss {:.4} (ce {:.4} js {:.4} gate {:.4}) gate ratio {:.3}",
            v.loss, v.ce, v.js, v.gate_loss, v.gate_ratio
        );
        summary["valid_examples"] = valid.len().into();
        summary["valid_loss"] = v.loss.into();
        summary["valid_ce"] = v.ce.into();
        let path = o.out.join("valid.json");
        std::fs::write(&path, metrics_line(&v, 1.0, gpu.activation_bytes(), 0))
            .map_err(|e| Error::io(&path, e))?;
    }
    let pack = to_pack(
        gpu,
        &trainer,
        &student.model,
        &student.file,
        language,
        summary,
    )?;
    let path = o.out.join(format!("{language}.pack.safetensors"));
    write_pack(&pack, &path, o.pack_f16)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
