//! A training run as the CLI drives it: load student, teacher and data, train with a
//! progress bar, append one metrics object per step to `RUN_DIR/metrics.jsonl`, score the
//! validation set by WER every `--eval-every` steps (keeping the best experts in
//! `RUN_DIR/best/`, stopping after `--patience` evaluations without improvement), take
//! atomic checkpoints (resuming from `RUN_DIR/checkpoint.safetensors` when present) and
//! export the pack to `RUN_DIR/{language}.pack.safetensors` (docs/training.md lists the
//! files).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use whisper_clsr::audio::LogMel;
use whisper_clsr::decode::languages::normalize_language;
use whisper_clsr::eval::{read_corpus, Split};
use whisper_clsr::gpu::Gpu;
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};
use whisper_clsr::pack::{ExpertPack, Part};
use whisper_clsr::{Error, Result, Whisper};

use crate::best::BestSoFar;
use crate::checkpoint;
use crate::clips::{self, Reason};
use crate::data::{
    check_tokenizer_key, prepare, prepare_all, ManifestEntry, TextEncoder, TokenizerKey,
};
use crate::decode_ahead::DecodeAhead;
use crate::export::{to_pack, write_pack};
use crate::frozen_cache::FrozenCache;
use crate::progress::Progress;
use crate::teacher_file::{corpus_fingerprint, TeacherFile, TopKTeacher};
use crate::trainer::{batch_indices, Prepared, StepMetrics, TrainConfig, Trainer};
use crate::validation::{self, ValidationSet};

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub student: PathBuf,
    pub teacher: Option<PathBuf>,
    /// A teacher cache written by `teach` (`--teacher-cache`), instead of `teacher`.
    pub teacher_topk: Option<PathBuf>,
    pub language: String,
    /// The training corpus: a JSONL manifest, a Common Voice or FLEURS TSV, or `cv:DIR` /
    /// `fleurs:DIR` for the release's train split (`whisper_clsr::eval::read_corpus`).
    pub train: String,
    /// The validation corpus, as `train` (a directory stands for its dev split).
    pub valid: Option<String>,
    /// Clips longer than this many seconds (at most 30) are dropped.
    pub max_duration: f64,
    /// Transcribe and score the validation set every this many steps (0: only at the end;
    /// it is always scored at the end when given).
    pub eval_every: u64,
    /// Use at most this many validation utterances (the first ones).
    pub eval_max: Option<usize>,
    /// Stop after this many evaluations without a lower validation WER.
    pub patience: Option<u32>,
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
    /// Host memory for the frozen encoder's outputs when only decoder experts train
    /// (`config.expert_layers`), kept after their first epoch (0: none).
    pub encoder_cache_bytes: usize,
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
/// `gate_ratio_encoder` / `gate_ratio_decoder`: each trained layer's mean soft gate (the
/// first `encoder_layers` of `m`'s are the encoder's).
fn metrics_line(
    m: &StepMetrics,
    encoder_layers: usize,
    seconds: f64,
    gpu_bytes: u64,
    skipped_clips: usize,
) -> String {
    let split = encoder_layers.min(m.layer_gate_ratio.len());
    let (encoder, decoder) = m.layer_gate_ratio.split_at(split);
    serde_json::json!({
        "step": m.step, "loss": m.loss, "ce": m.ce, "gate_loss": m.gate_loss, "js": m.js,
        "gate_ratio": m.gate_ratio, "gate_ratio_encoder": encoder,
        "gate_ratio_decoder": decoder, "lr": m.lr, "grad_norm": m.grad_norm,
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

/// The student as a runtime [`Whisper`] (which then owns the device: training borrows its
/// `gpu` and `model`, validation transcribes with it, so both share one copy of the base
/// weights), its weight file (for the pack's base fingerprint) and its tokenizer.
pub fn load_student(gpu: Gpu, dir: &Path) -> Result<(Whisper, WeightFile, TextEncoder)> {
    let weights = read(dir, "model.safetensors")?;
    // A second host copy while loading: the runtime consumes its bytes, the trainer keeps
    // the file for fingerprints and expert initialisation.
    let file = WeightFile::new(
        weights.clone(),
        dir.join("model.safetensors").display().to_string(),
    )?;
    let tokenizer = read(dir, "tokenizer.json")?;
    let whisper = Whisper::from_bytes(gpu, &read(dir, "config.json")?, weights, &tokenizer)?;
    let text = TextEncoder::from_bytes(&tokenizer)?;
    Ok((whisper, file, text))
}

/// Reads a teacher cache (`--teacher-cache`), refuses it when made for another corpus,
/// tokenizer, τ or language, and indexes the training clips in it (checking their labels).
fn load_teacher_cache(
    path: &Path,
    o: &RunOptions,
    language: &str,
    student_text: &TextEncoder,
    max_len: usize,
    train: &[ManifestEntry],
) -> Result<TopKTeacher> {
    eprintln!("reading teacher cache {}", path.display());
    let file = TeacherFile::read(path)?;
    let entries = read_corpus(&o.train, Split::Train)?;
    file.check_fits(
        path,
        &o.train,
        &corpus_fingerprint(&entries),
        &TokenizerKey::of(&student_text.whisper),
        o.config.objective.tau,
        language,
    )?;
    let targets = train
        .iter()
        .map(|e| {
            student_text
                .teacher_forcing(&e.text, language, max_len)
                .map(|(_, t)| t)
        })
        .collect::<Result<Vec<_>>>()?;
    let of_example = file.index_clips(path, train, &targets)?;
    eprintln!(
        "teacher cache: top-{} of {} from {} (teacher {}), {} training clips found",
        file.meta.top_k,
        file.meta.vocab,
        file.meta.teacher,
        file.meta.teacher_fingerprint,
        of_example.len()
    );
    Ok(TopKTeacher { file, of_example })
}

/// Runs the training described by `o` on `gpu`.
pub fn run(gpu: Gpu, o: &RunOptions) -> Result<()> {
    let language = normalize_language(&o.language)
        .ok_or_else(|| Error::InvalidInput(format!("unknown language '{}'", o.language)))?;
    if o.valid.is_none() && (o.eval_every > 0 || o.patience.is_some()) {
        return Err(Error::InvalidInput(
            "--eval-every and --patience evaluate on the validation set: give it with --valid"
                .into(),
        ));
    }
    if o.eval_max == Some(0) {
        return Err(Error::InvalidInput(
            "--eval-max 0 leaves no validation utterance: give at least 1, or leave it out for all"
                .into(),
        ));
    }
    if o.patience == Some(0) {
        return Err(Error::InvalidInput(
            "--patience 0 would stop before training: give at least 1 evaluation".into(),
        ));
    }
    let max_duration = clips::max_duration(o.max_duration)?;
    if o.max_duration > clips::WINDOW_SECONDS {
        eprintln!(
            "--max-duration {} is over Whisper's {} s window: clips over {} s are dropped",
            o.max_duration,
            clips::WINDOW_SECONDS,
            clips::WINDOW_SECONDS
        );
    }
    if let (Some(dir), Some(file)) = (&o.teacher, &o.teacher_topk) {
        return Err(Error::InvalidInput(format!(
            "--teacher {} and --teacher-cache {} both give the teacher: keep one",
            dir.display(),
            file.display()
        )));
    }
    std::fs::create_dir_all(&o.out).map_err(|e| Error::io(&o.out, e))?;
    eprintln!("loading student {}", o.student.display());
    let (mut whisper, student_file, student_text) = load_student(gpu, &o.student)?;
    let teacher = match &o.teacher {
        Some(dir) => {
            eprintln!("loading teacher {}", dir.display());
            let t = load_model(&whisper.gpu, dir)?;
            check_tokenizer_key(
                &TokenizerKey::of(&student_text.whisper),
                &TokenizerKey::of(&t.text.whisper),
                &dir.display().to_string(),
            )?;
            Some(t)
        }
        None => None,
    };
    let c = whisper.model.config.clone();
    let max_len = c.max_target_positions;
    let mel = LogMel::new(c.num_mel_bins)?;
    let teacher_mel = teacher
        .as_ref()
        .map(|t| LogMel::new(t.model.config.num_mel_bins))
        .transpose()?;
    // The corpus' clips in the run's language that pass the checks of `clips`, with the
    // left-out ones reported; transcripts are limited to `positions` decoder positions.
    let read_set = |spec: &str,
                    split: Split,
                    max: Option<usize>,
                    positions: usize|
     -> Result<clips::Selection> {
        let mut entries = read_corpus(spec, split)?;
        if let Some(max) = max {
            entries.truncate(max);
        }
        // A line without a language is in the run's.
        let other = |e: &&ManifestEntry| {
            e.language
                .as_deref()
                .is_some_and(|l| normalize_language(l) != Some(language))
        };
        if let Some(e) = entries.iter().find(other) {
            return Err(Error::InvalidInput(format!(
                "{spec}: '{}' is in language '{}', but this run trains '{language}' (batches are single-language)",
                e.audio.display(),
                e.language.as_deref().unwrap_or_default()
            )));
        }
        let selection = clips::select(
            &entries,
            language,
            &student_text,
            positions,
            max_duration,
            o.strict,
        )?;
        for line in selection.report(spec, max_duration, positions) {
            eprintln!("{line}");
        }
        Ok(selection)
    };
    let load = |entry: &ManifestEntry| {
        prepare(
            entry,
            language,
            &student_text,
            &mel,
            teacher_mel.as_ref(),
            max_len,
        )
    };
    let train_set = read_set(&o.train, Split::Train, None, max_len)?;
    let skipped_clips = train_set.count(Reason::Unreadable);
    let train = train_set.kept.as_slice();
    let topk = o
        .teacher_topk
        .as_deref()
        .map(|path| load_teacher_cache(path, o, language, &student_text, max_len, train))
        .transpose()?;
    let (valid, valid_set) = match o.valid.as_deref() {
        Some(spec) => {
            // A validation transcript longer than the decoder's positions is kept: WER
            // scores its whole text; its validation loss covers the positions that fit
            // (`prepare` truncates).
            let entries = read_set(spec, Split::Dev, o.eval_max, usize::MAX)?.kept;
            let set = prepare_all(
                &entries,
                language,
                &student_text,
                &mel,
                teacher_mel.as_ref(),
                max_len,
                o.strict,
            )?;
            for (clip, why) in &set.skipped {
                eprintln!("skipped {}: {why}", clip.display());
            }
            let scored = ValidationSet::load(&entries, language);
            if scored.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "{spec}: no validation utterance could be loaded; fix the corpus or leave out --valid"
                )));
            }
            (Some(set.examples), Some(scored))
        }
        None => (None, None),
    };
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
    let init = ExpertPack::init_from_base(&c, &student_file, language)?;
    let mut trainer = Trainer::new(&whisper.gpu, &whisper.model, &init, config)?;
    if !config.expert_layers.covers(Part::Encoder) {
        trainer.encoder_cache = FrozenCache::new(o.encoder_cache_bytes);
    }
    // metrics.jsonl splits the per-layer gate ratios into the encoder's and the decoder's.
    let trained_encoder_layers = trainer
        .layers
        .iter()
        .filter(|l| l.part == Part::Encoder)
        .count();
    let ckpt = o.out.join("checkpoint.safetensors");
    let best_dir = o.out.join("best");
    let best_ckpt = best_dir.join("checkpoint.safetensors");
    let metrics_path = o.out.join("metrics.jsonl");
    let utterances_path = validation::utterances_path(&o.out);
    let mut best = BestSoFar::default();
    if ckpt.exists() {
        let meta = checkpoint::load(&whisper.gpu, &mut trainer, &ckpt)?;
        best = BestSoFar::from_run_meta(&meta);
        eprintln!(
            "resumed from {} at step {}",
            ckpt.display(),
            trainer.step_count()
        );
    }
    truncate_metrics(&metrics_path, trainer.step_count())?;
    truncate_metrics(&utterances_path, trainer.step_count())?;
    let open = |path: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))
    };
    let mut metrics = open(&metrics_path)?;
    let mut utterance_lines = valid_set
        .as_ref()
        .map(|_| open(&utterances_path))
        .transpose()?;
    let run_meta = |best: &BestSoFar| {
        serde_json::json!({"language": language, "steps": o.steps, "batch": config.batch,
            "seed": config.seed, "validation": best})
    };
    let eval_due = |step: u64| {
        valid_set.is_some()
            && ((o.eval_every > 0 && step.is_multiple_of(o.eval_every)) || step == o.steps)
    };
    let progress = Progress::new(o.steps, trainer.step_count());
    let mut cache = FrozenCache::new(o.teacher_cache_bytes);
    // The examples of every remaining step, in the order the steps take them, decoded on a
    // background thread a couple of batches ahead (docs/training.md).
    let first_step = trainer.step_count();
    let order = (first_step..o.steps)
        .flat_map(move |step| batch_indices(config.seed, config.batch, step, train.len()));
    let next_example = |ahead: &DecodeAhead<Result<Prepared>>, i: usize| -> Result<Prepared> {
        let (j, example) = ahead.next().ok_or_else(|| {
            Error::InvalidInput("the background audio decoder stopped early".into())
        })?;
        if i != j {
            return Err(Error::InvalidInput(format!(
                "the background audio decoder delivered example {j} where the step takes {i} \
                 (a bug: please report it)"
            )));
        }
        example.map_err(|e| {
            Error::InvalidInput(format!(
                "training clip {} passed the checks before training but cannot be decoded \
                 now: {e} (was it changed during the run? fix or remove it from the corpus)",
                train[i].audio.display()
            ))
        })
    };
    std::thread::scope(|scope| -> Result<()> {
        let ahead = DecodeAhead::spawn(scope, order, 2 * config.batch, |i| load(&train[i]));
        while trainer.step_count() < o.steps && !best.patience_exhausted(o.patience) {
            let t0 = Instant::now();
            let idx = trainer.batch_indices(train.len());
            let mut examples = Vec::with_capacity(idx.len());
            for &i in &idx {
                examples.push(next_example(&ahead, i)?);
            }
            let batch: Vec<&Prepared> = examples.iter().collect();
            let m = match &topk {
                Some(topk) => {
                    trainer.step_topk(&whisper.gpu, &whisper.model, topk, &batch, &idx)?
                }
                None => trainer.step(
                    &whisper.gpu,
                    &whisper.model,
                    teacher.as_ref().map(|t| &t.model),
                    &batch,
                    Some((&idx, &mut cache)),
                )?,
            };
            let seconds = t0.elapsed().as_secs_f64();
            writeln!(
                metrics,
                "{}",
                metrics_line(
                    &m,
                    trained_encoder_layers,
                    seconds,
                    whisper.gpu.activation_bytes(),
                    skipped_clips
                )
            )
            .map_err(|e| Error::io(&metrics_path, e))?;
            progress.step(&m, seconds);
            let mut evaluated = false;
            if let (true, Some(set)) = (eval_due(m.step), &valid_set) {
                let pack = to_pack(
                    &whisper.gpu,
                    &trainer,
                    &whisper.model,
                    &student_file,
                    language,
                    serde_json::json!({}),
                )?;
                let v = set.score(&mut whisper, &pack, m.step)?;
                let improved = best.record(m.step, v.wer);
                if improved {
                    std::fs::create_dir_all(&best_dir).map_err(|e| Error::io(&best_dir, e))?;
                    checkpoint::save(&whisper.gpu, &trainer, &best_ckpt, run_meta(&best))?;
                }
                progress.println(format!(
                    "step {}: validation WER {:.2}% CER {:.2}% over {} utterances{}",
                    m.step,
                    100.0 * v.wer,
                    100.0 * v.cer,
                    v.utterances.len(),
                    if improved {
                        " (best so far)".to_string()
                    } else {
                        format!(
                            " (best {:.2}% at step {}; {} without improvement)",
                            100.0 * best.wer.unwrap_or(f64::NAN),
                            best.step.unwrap_or(0),
                            best.evals_without_improvement
                        )
                    }
                ));
                writeln!(metrics, "{}", validation::metrics_line(&v, &best))
                    .map_err(|e| Error::io(&metrics_path, e))?;
                if let Some(file) = &mut utterance_lines {
                    for u in &v.utterances {
                        let line = serde_json::to_string(u)
                            .map_err(|e| Error::InvalidInput(format!("utterance line: {e}")))?;
                        writeln!(file, "{line}").map_err(|e| Error::io(&utterances_path, e))?;
                    }
                }
                evaluated = true;
            }
            // An evaluation changes the best-so-far state the checkpoint carries.
            if evaluated || m.step % o.checkpoint_every.max(1) == 0 || m.step == o.steps {
                checkpoint::save(&whisper.gpu, &trainer, &ckpt, run_meta(&best))?;
            }
        }
        Ok(())
    })?;
    progress.finish();
    if !config.expert_layers.covers(Part::Encoder) {
        let kept = &trainer.encoder_cache;
        eprintln!(
            "frozen encoder outputs: {} MiB kept in host memory, reused {} times \
             (--encoder-cache-mb {})",
            kept.bytes() >> 20,
            kept.hits,
            o.encoder_cache_bytes >> 20
        );
    }
    let stopped_early = best.patience_exhausted(o.patience);
    if stopped_early {
        eprintln!(
            "stopped early at step {} of {}: {} evaluation(s) in a row without a lower \
             validation WER (--patience {}); best {:.2}% at step {}",
            trainer.step_count(),
            o.steps,
            best.evals_without_improvement,
            o.patience.unwrap_or(0),
            100.0 * best.wer.unwrap_or(f64::NAN),
            best.step.unwrap_or(0)
        );
    }
    let summary = serde_json::json!({
        "base_model": o.student.display().to_string(),
        "teacher": o.teacher.as_ref().map(|p| p.display().to_string())
            .or_else(|| topk.as_ref().map(|t| t.file.meta.teacher.clone())),
        "teacher_cache": o.teacher_topk.as_ref().map(|p| p.display().to_string()),
        "data": o.train,
        "valid_data": o.valid,
        "examples": train.len(),
        "dropped_too_long": train_set.count(Reason::TooLong),
        "dropped_transcript_too_long": train_set.count(Reason::TranscriptTooLong),
        "max_duration": max_duration,
        "skipped_clips": skipped_clips,
        "skipped_steps": trainer.skipped_steps,
        "steps": o.steps,
        "steps_run": trainer.step_count(),
        "stopped_early": stopped_early,
        "budget": config.objective.budget,
        "expert_layers": config.expert_layers.name(),
        "seed": config.seed,
        "best_valid_wer": best.wer,
        "best_valid_step": best.step,
    });
    // The validation loss (soft gates, as in training) of a trainer's experts.
    let validation_loss = |trainer: &Trainer| -> Result<Option<StepMetrics>> {
        let Some(valid) = &valid else {
            return Ok(None);
        };
        let v = trainer.evaluate(
            &whisper.gpu,
            &whisper.model,
            teacher.as_ref().map(|t| &t.model),
            valid,
        )?;
        // A teacher cache covers the training corpus only: no JS term on validation.
        let js_note = if topk.is_some() {
            " (no JS: the teacher cache covers the training corpus only)"
        } else {
            ""
        };
        eprintln!(
            "validation loss at step {}: {:.4} (ce {:.4} js {:.4} gate {:.4}) gate ratio {:.3}{js_note}",
            trainer.step_count(),
            v.loss,
            v.ce,
            v.js,
            v.gate_loss,
            v.gate_ratio
        );
        Ok(Some(v))
    };
    let export = |trainer: &Trainer,
                  which: &str,
                  path: &Path,
                  mut training: serde_json::Value,
                  loss: Option<&StepMetrics>| {
        if let (Some(valid), Some(v)) = (&valid, loss) {
            training["valid_examples"] = valid.len().into();
            training["valid_loss"] = v.loss.into();
            training["valid_ce"] = v.ce.into();
        }
        training["experts"] = which.into();
        training["experts_step"] = trainer.step_count().into();
        let pack = to_pack(
            &whisper.gpu,
            trainer,
            &whisper.model,
            &student_file,
            language,
            training,
        )?;
        write_pack(&pack, path, o.pack_f16)?;
        eprintln!(
            "wrote {} ({which} experts, step {})",
            path.display(),
            trainer.step_count()
        );
        Ok::<(), Error>(())
    };
    let last_loss = validation_loss(&trainer)?;
    if let Some(v) = &last_loss {
        let path = o.out.join("valid.json");
        std::fs::write(
            &path,
            metrics_line(
                v,
                trained_encoder_layers,
                1.0,
                whisper.gpu.activation_bytes(),
                0,
            ),
        )
        .map_err(|e| Error::io(&path, e))?;
    }
    let pack_path = o.out.join(format!("{language}.pack.safetensors"));
    if best.step.is_none() {
        // No validation by WER: the last experts are the pack.
        return export(&trainer, "last", &pack_path, summary, last_loss.as_ref());
    }
    let last_path = o.out.join(format!("{language}.last.pack.safetensors"));
    export(
        &trainer,
        "last",
        &last_path,
        summary.clone(),
        last_loss.as_ref(),
    )?;
    if best.step == Some(trainer.step_count()) {
        // The last experts are the best ones.
        return export(&trainer, "best", &pack_path, summary, last_loss.as_ref());
    }
    drop(trainer);
    let mut best_trainer = Trainer::new(&whisper.gpu, &whisper.model, &init, config)?;
    checkpoint::load(&whisper.gpu, &mut best_trainer, &best_ckpt)?;
    if Some(best_trainer.step_count()) != best.step {
        return Err(Error::InvalidInput(format!(
            "{} holds step {}, but the run's best validation WER came from step {}; \
             delete {} to train again from scratch",
            best_ckpt.display(),
            best_trainer.step_count(),
            best.step.unwrap_or(0),
            o.out.display()
        )));
    }
    let best_loss = validation_loss(&best_trainer)?;
    export(
        &best_trainer,
        "best",
        &pack_path,
        summary,
        best_loss.as_ref(),
    )
}
