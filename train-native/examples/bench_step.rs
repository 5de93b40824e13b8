//! Training-step benchmark: student fwd+bwd + teacher fwd at batch 1 on one utterance, the
//! time of each step, a per-phase profile of one step, and the memory the run holds.
//!
//! ```text
//! cargo run --release -p whisper-clsr-train --example bench_step -- \
//!     [--student models/whisper-base] [--teacher DIR|none] [--audio FILE --text T --language L] \
//!     [--steps 2] [--no-profile] [--expert-layers all|decoder]
//! ```
//! With `--expert-layers decoder` the frozen encoder's output is kept after the first step
//! (as a run keeps it after a clip's first epoch), so the later steps show a decoder-only
//! step's cost.
//! The first step includes shader compilation; the profiled step is the last one (its
//! phases wait for the device after each, so it runs slightly slower than the others).

use std::path::PathBuf;
use std::time::Instant;

use whisper_clsr::audio::LogMel;
use whisper_clsr::gpu::{Gpu, GpuOptions};
use whisper_clsr::pack::ExpertPack;
use whisper_clsr_train::data::{prepare, ManifestEntry};
use whisper_clsr_train::expert_layers::ExpertLayers;
use whisper_clsr_train::frozen_cache::FrozenCache;
use whisper_clsr_train::profile;
use whisper_clsr_train::run::load_model;
use whisper_clsr_train::trainer::{TrainConfig, Trainer};

struct Args {
    student: PathBuf,
    teacher: Option<PathBuf>,
    audio: PathBuf,
    text: String,
    language: String,
    steps: u64,
    profile: bool,
    expert_layers: ExpertLayers,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        student: "models/whisper-base".into(),
        teacher: Some("models/whisper-base".into()),
        audio: "../shared/fixtures/jfk.wav".into(),
        text: "And so my fellow Americans, ask not what your country can do for you, \
               ask what you can do for your country."
            .into(),
        language: "en".into(),
        steps: 2,
        profile: true,
        expert_layers: ExpertLayers::All,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--student" => a.student = value()?.into(),
            "--teacher" => {
                let v = value()?;
                a.teacher = (v != "none").then(|| v.into());
            }
            "--audio" => a.audio = value()?.into(),
            "--text" => a.text = value()?,
            "--language" => a.language = value()?,
            "--steps" => a.steps = value()?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--no-profile" => a.profile = false,
            "--expert-layers" => a.expert_layers = value()?.parse()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.steps == 0 {
        return Err("--steps must be at least 1".into());
    }
    Ok(a)
}

/// (current, peak) resident set size of this process in bytes, from /proc (Linux).
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse()?;
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default()))?;
    println!("device: {}", gpu.describe());
    let student = load_model(&gpu, &a.student)?;
    let teacher = a
        .teacher
        .as_ref()
        .map(|dir| load_model(&gpu, dir))
        .transpose()?;
    let c = &student.model.config;
    let mel = LogMel::new(c.num_mel_bins)?;
    let entry = ManifestEntry {
        audio: a.audio.clone(),
        text: a.text.clone(),
        language: None,
    };
    let language = whisper_clsr::decode::languages::normalize_language(&a.language)
        .ok_or(format!("unknown language {}", a.language))?;
    let example = prepare(
        &entry,
        language,
        &student.text,
        &mel,
        None,
        c.max_target_positions,
    )?;
    let init = ExpertPack::init_from_base(c, &student.file, language)?;
    let mut config = TrainConfig {
        batch: 1,
        expert_layers: a.expert_layers,
        ..TrainConfig::default()
    };
    config.optim.total_steps = a.steps.max(10);
    let mut trainer = Trainer::new(&gpu, &student.model, &init, config)?;
    trainer.encoder_cache = FrozenCache::new(1 << 30);
    // Keyed caches need the example's id; the teacher's gets no room (a live teacher each step).
    let mut teacher_cache = FrozenCache::new(0);
    println!(
        "student {} (d_model {}, {}+{} layers, experts in {} layers), teacher {}, {} decoder tokens, {} frames",
        a.student.display(),
        c.d_model,
        c.encoder_layers,
        c.decoder_layers,
        a.expert_layers,
        a.teacher
            .as_ref()
            .map_or("none".into(), |t| t.display().to_string()),
        example.tokens.len(),
        c.max_source_positions
    );
    let mut times = Vec::new();
    let mut phases = Vec::new();
    for step in 0..a.steps {
        let profiled = a.profile && step + 1 == a.steps;
        if profiled {
            profile::enable(&gpu);
        }
        let t0 = Instant::now();
        let cpu0 = profile::cpu_seconds();
        let m = trainer.step(
            &gpu,
            &student.model,
            teacher.as_ref().map(|t| &t.model),
            &[&example],
            Some((&[0], &mut teacher_cache)),
        )?;
        let dt = t0.elapsed().as_secs_f64();
        let cpu = profile::cpu_seconds() - cpu0;
        if profiled {
            phases = profile::take();
        }
        println!(
            "step {}: {:.1} s wall, {:.1} CPU s{} (loss {:.4}: ce {:.4} js {:.4} gate {:.4}, gate ratio {:.3})",
            m.step,
            dt,
            cpu,
            if profiled { " (profiled)" } else { "" },
            m.loss,
            m.ce,
            m.js,
            m.gate_loss,
            m.gate_ratio
        );
        times.push(dt);
    }
    if !phases.is_empty() {
        let total: f64 = phases.iter().map(|p| p.1).sum();
        println!("phases of the profiled step (wall clock, device waited after each):");
        for (label, s, n) in &phases {
            println!(
                "  {label:<34} {s:>8.2} s  {:>5.1} %  ({n} marks)",
                100.0 * s / total
            );
        }
        println!("  {:<34} {total:>8.2} s", "total");
    }
    let steady: Vec<f64> = times.iter().skip(1).copied().collect();
    if !steady.is_empty() {
        println!(
            "step time after the first: mean {:.1} s over {} step(s)",
            steady.iter().sum::<f64>() / steady.len() as f64,
            steady.len()
        );
    }
    let trainable: usize = trainer
        .experts
        .iter()
        .flat_map(|e| e.values())
        .map(|p| p.len())
        .sum();
    let weights =
        |dir: &PathBuf| std::fs::metadata(dir.join("model.safetensors")).map_or(0, |m| m.len());
    let frozen = weights(&a.student) + a.teacher.as_ref().map_or(0, weights);
    let (rss_now, rss_peak) = rss();
    println!("memory:");
    println!(
        "  frozen weights (student + teacher files, stored as loaded): {:.0} MiB",
        mib(frozen)
    );
    println!(
        "  trainable parameters: {trainable} ({:.0} MiB f32 values, {:.0} MiB with grad + AdamW moments)",
        mib(4 * trainable as u64),
        mib(16 * trainable as u64)
    );
    println!(
        "  pooled GPU buffers allocated (activations, gradients, moments; peak): {:.0} MiB",
        mib(gpu.activation_bytes())
    );
    println!(
        "  process RSS: {:.0} MiB now, {:.0} MiB peak (lavapipe's device memory is host memory)",
        mib(rss_now),
        mib(rss_peak)
    );
    Ok(())
}
