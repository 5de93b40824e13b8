//! `whisper-clsr-train train --student DIR --teacher DIR --language CODE --train M.jsonl
//! --valid M.jsonl --out RUN_DIR [--steps N --batch B --lr … --eval-every N --patience K]`
//! (or `--teacher-cache FILE` instead of `--teacher`),
//! `whisper-clsr-train teach --teacher DIR --language CODE --train CORPUS --out FILE --top-k K`
//! and `whisper-clsr-train report RUN_DIR [--out report.html]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use whisper_clsr::gpu::{Gpu, GpuOptions};
use whisper_clsr_train::expert_layers::ExpertLayers;
use whisper_clsr_train::optim::AdamWConfig;
use whisper_clsr_train::report;
use whisper_clsr_train::run::{run, RunOptions};
use whisper_clsr_train::student::Objective;
use whisper_clsr_train::teach::TeachOptions;
use whisper_clsr_train::trainer::TrainConfig;

#[derive(Parser)]
#[command(
    name = "whisper-clsr-train",
    about = "Train DistilWhisper language experts on whisper-clsr's GPU kernels"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a language expert pack (CE + gate budget + JS distillation from the teacher).
    // Boxed: the options are large next to `report`'s.
    Train(Box<TrainArgs>),
    /// Run a teacher once over a training corpus and store its top-k log-probabilities per
    /// target token in a teacher cache file, for `train --teacher-cache` (docs/training.md).
    Teach(TeachArgs),
    /// Write an HTML report of a run (curves, validation WER, gate ratios, gate heatmap).
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct ReportArgs {
    /// The run directory (the --out of `train`).
    run_dir: PathBuf,
    /// Where to write the page (default RUN_DIR/report.html).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct TeachArgs {
    /// Teacher model directory (config.json, model.safetensors, tokenizer.json); it must
    /// share the student's tokenizer.
    #[arg(long)]
    teacher: PathBuf,
    /// Language code of the run (the prompt's language token), as `train --language`.
    #[arg(long)]
    language: String,
    /// Training corpus, exactly as `train --train` will be given it.
    #[arg(long, value_name = "CORPUS")]
    train: String,
    /// The teacher cache file to write (safetensors; written atomically).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Tokens kept per target position: the K most likely; the rest of the teacher's
    /// probability is stored as one number and spread evenly over the other tokens in
    /// training (K = vocabulary size: exact). Memory: 8·K bytes per target token.
    #[arg(long, value_name = "K", default_value_t = 64)]
    top_k: usize,
    /// Temperature τ of the stored log-probabilities (train's --tau must be the same).
    #[arg(long, default_value_t = 1.0)]
    tau: f32,
    /// As `train --max-duration`: clips longer than this are left out.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    max_duration: f64,
    /// Fail on a missing or unreadable audio file instead of skipping it.
    #[arg(long)]
    strict: bool,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Student model directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    student: PathBuf,
    /// Teacher model directory (any size, the student's tokenizer); without it (or
    /// --teacher-cache) the JS term is dropped.
    #[arg(long, conflicts_with = "teacher_cache")]
    teacher: Option<PathBuf>,
    /// A teacher cache written by `teach` for this --train corpus, --language and --tau,
    /// instead of --teacher: the teacher is then never loaded (docs/training.md).
    #[arg(long, value_name = "FILE")]
    teacher_cache: Option<PathBuf>,
    /// Language code of the expert (e.g. ca).
    #[arg(long)]
    language: String,
    /// Training corpus: a JSONL manifest ({"audio", "text", "language"} per line), a Common
    /// Voice TSV (header row with path, sentence) or FLEURS TSV (no header), or cv:DIR /
    /// fleurs:DIR for a release's train.tsv (docs/training.md).
    #[arg(long, value_name = "CORPUS")]
    train: String,
    /// Validation corpus, as --train (cv:DIR / fleurs:DIR stand for dev.tsv): scored by
    /// WER/CER (transcribed with the current experts) at the end and every --eval-every
    /// steps; the pack holds the experts with the lowest WER.
    #[arg(long, value_name = "CORPUS")]
    valid: Option<String>,
    /// Drop clips longer than this many seconds (Whisper's window, 30 s, is the most);
    /// dropped clips are counted on stderr.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    max_duration: f64,
    /// Transcribe and score the validation set every N steps (0: only at the end).
    #[arg(long, default_value_t = 0, value_name = "N")]
    eval_every: u64,
    /// Score at most M validation utterances (the first ones; default all).
    #[arg(long, value_name = "M")]
    eval_max: Option<usize>,
    /// Stop after K evaluations in a row without a lower validation WER.
    #[arg(long, value_name = "K")]
    patience: Option<u32>,
    /// Run directory: metrics.jsonl, checkpoint.safetensors, the exported pack.
    #[arg(long)]
    out: PathBuf,
    /// Optimizer steps in all (a killed run resumes from its checkpoint towards this).
    #[arg(long, default_value_t = 1000)]
    steps: u64,
    /// Examples per optimizer step (gradient accumulation, one example at a time).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Peak learning rate of AdamW.
    #[arg(long, default_value_t = 1e-4)]
    lr: f32,
    /// Share of --steps over which the learning rate rises linearly to --lr; it then decays
    /// linearly to 0 at the last step.
    #[arg(long, default_value_t = 0.1)]
    warmup_ratio: f32,
    /// Clip the global gradient norm to this (0: no clipping).
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f32,
    /// Target mean gate b of the budget loss.
    #[arg(long, default_value_t = 0.5)]
    budget: f32,
    /// JS temperature τ.
    #[arg(long, default_value_t = 1.0)]
    tau: f32,
    /// Weight β of the JS term.
    #[arg(long, default_value_t = 2.0)]
    beta: f32,
    /// Skip-gate probability.
    #[arg(long, default_value_t = 0.2)]
    skip: f32,
    /// Seed of the batch order and of the gates' random draws (noise, skips): the same seed
    /// repeats a run.
    #[arg(long, default_value_t = 0)]
    seed: u32,
    /// Write the resumable checkpoint (atomically) every N steps, after each evaluation
    /// and at the end.
    #[arg(long, default_value_t = 50)]
    checkpoint_every: u64,
    /// Store the exported pack as f16 (default f32).
    #[arg(long)]
    pack_f16: bool,
    /// MiB of host memory for the teacher's outputs, reused after an example's first
    /// epoch instead of running the teacher again (0 turns this off).
    #[arg(long, default_value_t = 1024)]
    teacher_cache_mb: usize,
    /// The layers that get trainable experts: all (every encoder and decoder layer, as in
    /// the paper) or decoder (the encoder stays frozen and its output is computed once per
    /// clip: several times faster steps; docs/training.md).
    #[arg(long, default_value_t = ExpertLayers::All, value_name = "all|decoder")]
    expert_layers: ExpertLayers,
    /// MiB of host memory for the frozen encoder's outputs with --expert-layers decoder,
    /// reused after a clip's first epoch instead of running the encoder again (0: off).
    #[arg(long, default_value_t = 2048)]
    encoder_cache_mb: usize,
    /// Fail on a missing or unreadable audio file instead of skipping it (skipped clips are
    /// listed on stderr and counted in metrics.jsonl).
    #[arg(long)]
    strict: bool,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Train(a) => train(*a),
        Command::Teach(a) => teach(a),
        Command::Report(a) => {
            let out = a.out.unwrap_or_else(|| a.run_dir.join("report.html"));
            report::write_report(&a.run_dir, &out).map(|()| eprintln!("wrote {}", out.display()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn teach(a: TeachArgs) -> whisper_clsr::Result<()> {
    let options = TeachOptions {
        teacher: a.teacher,
        language: a.language,
        train: a.train,
        out: a.out,
        top_k: a.top_k,
        tau: a.tau,
        max_duration: a.max_duration,
        strict: a.strict,
    };
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default()))?;
    eprintln!("device: {}", gpu.describe());
    whisper_clsr_train::teach::teach(&gpu, &options).map(|_| ())
}

fn train(a: TrainArgs) -> whisper_clsr::Result<()> {
    let config = TrainConfig {
        objective: Objective {
            budget: a.budget,
            tau: a.tau,
            js: a.beta,
            ..Objective::default()
        },
        optim: AdamWConfig {
            lr: a.lr,
            max_grad_norm: a.max_grad_norm,
            ..AdamWConfig::default()
        },
        batch: a.batch,
        skip_prob: a.skip,
        seed: a.seed,
        expert_layers: a.expert_layers,
        ..TrainConfig::default()
    };
    let options = RunOptions {
        student: a.student,
        teacher: a.teacher,
        teacher_topk: a.teacher_cache,
        language: a.language,
        train: a.train,
        valid: a.valid,
        max_duration: a.max_duration,
        eval_every: a.eval_every,
        eval_max: a.eval_max,
        patience: a.patience,
        out: a.out,
        steps: a.steps,
        config,
        warmup_ratio: a.warmup_ratio,
        checkpoint_every: a.checkpoint_every,
        pack_f16: a.pack_f16,
        teacher_cache_bytes: a.teacher_cache_mb << 20,
        encoder_cache_bytes: a.encoder_cache_mb << 20,
        strict: a.strict,
    };
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default()))?;
    eprintln!("device: {}", gpu.describe());
    run(gpu, &options)
}
