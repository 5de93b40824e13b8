//! `whisper-clsr transcribe`.

use std::path::{Path, PathBuf};

use whisper_clsr::decode::{DecodeOptions, Task};
use whisper_clsr::gpu::{Gpu, GpuOptions};
use whisper_clsr::{audio, GateStats, TranscribeOptions, Transcript, Whisper};

use crate::{Format, MODEL_HELP};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, help = MODEL_HELP)]
    model: PathBuf,
    /// Spoken language code (en, ca, ...); detected from the audio when omitted.
    #[arg(long)]
    language: Option<String>,
    /// Language expert pack (.safetensors) to load; repeat for several languages. The pack
    /// of the spoken language is used; other languages run the plain model.
    #[arg(long = "expert", value_name = "PACK")]
    experts: Vec<PathBuf>,
    /// Draw, per layer, the fraction of tokens the expert gates routed to the expert (on
    /// stderr; JSON output always carries them as `gate_stats`).
    #[arg(long)]
    gate_stats: bool,
    /// Translate to English instead of transcribing.
    #[arg(long)]
    translate: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Most tokens to generate per file.
    #[arg(long, default_value_t = 224)]
    max_tokens: usize,
    #[arg(required = true)]
    audio: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<(), String> {
    let options = TranscribeOptions {
        language: args.language.clone(),
        task: if args.translate {
            Task::Translate
        } else {
            Task::Transcribe
        },
        decode: DecodeOptions {
            max_new_tokens: args.max_tokens,
        },
    };
    let started = std::time::Instant::now();
    eprintln!("loading {} ...", args.model.display());
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default())).map_err(|e| e.to_string())?;
    eprintln!("device: {}", gpu.describe());
    if gpu.is_cpu() {
        eprintln!(
            "note: this is a software device running on the CPU, far slower than a GPU \
             (about a minute per clip for whisper-base); if the machine has a GPU, install its \
             Vulkan driver"
        );
    }
    let mut whisper = Whisper::load_dir(gpu, &args.model).map_err(|e| e.to_string())?;
    for path in &args.experts {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = whisper
            .add_expert_pack(&bytes, &path.display().to_string())
            .map_err(|e| e.to_string())?;
        eprintln!(
            "expert pack {}: language {}, {} encoder + {} decoder layers",
            path.display(),
            meta.language,
            meta.encoder_layers.len(),
            meta.decoder_layers.len()
        );
    }
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    eprintln!("model loaded in {load_ms:.0} ms");

    let mut failures = 0;
    for file in &args.audio {
        match transcribe_file(&whisper, file, &options) {
            Ok(mut t) => {
                t.timings.load_ms = load_ms;
                report(file, &t, args.format, args.gate_stats);
            }
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                failures += 1;
            }
        }
    }
    if failures > 0 {
        return Err(format!("{failures} of {} files failed", args.audio.len()));
    }
    Ok(())
}

fn transcribe_file(
    whisper: &Whisper,
    file: &Path,
    options: &TranscribeOptions,
) -> whisper_clsr::Result<Transcript> {
    let audio::DecodedAudio {
        samples,
        non_finite_samples,
    } = audio::load_audio(file)?;
    if non_finite_samples > 0 {
        eprintln!(
            "warning: {}: {non_finite_samples} NaN/infinite samples replaced by silence (the \
             file is damaged or its encoder is faulty)",
            file.display()
        );
    }
    eprintln!(
        "transcribing {} ({:.1} s) ...",
        file.display(),
        samples.len() as f64 / audio::SAMPLE_RATE as f64
    );
    pollster::block_on(whisper.transcribe(&samples, options, &mut |_| {}))
}

/// The transcript on stdout (text or one JSON line), a summary on stderr.
fn report(file: &Path, t: &Transcript, format: Format, gate_stats: bool) {
    match format {
        Format::Text => println!("{}", t.text),
        Format::Json => {
            let line = serde_json::json!({
                "file": file.display().to_string(),
                "text": t.text,
                "language": t.language,
                "language_detected": t.language_detected,
                "expert": t.expert,
                "tokens": t.tokens,
                "timings": t.timings,
                "gate_stats": t.gate_stats,
                "device": t.device,
            });
            println!("{line}");
        }
    }
    let expert = match &t.expert {
        Some(language) => format!(", expert {language}"),
        None => String::new(),
    };
    eprintln!(
        "{}: language {}{}{expert}, encoder {:.0} ms, {:.1} tokens/s, RTF {:.3}",
        file.display(),
        t.language,
        if t.language_detected {
            " (detected)"
        } else {
            ""
        },
        t.timings.encoder_ms,
        t.timings.tokens_per_s,
        t.timings.rtf
    );
    if gate_stats {
        match &t.gate_stats {
            Some(stats) => eprint!("{}", gate_chart(stats)),
            None => eprintln!("gate stats: no expert pack for language {}", t.language),
        }
    }
}

/// One bar per layer: the share of tokens routed to the expert.
fn gate_chart(stats: &GateStats) -> String {
    const WIDTH: usize = 40;
    let mut out = String::from("gate stats (share of tokens routed to the expert):\n");
    for (part, layers) in [("encoder", &stats.encoder), ("decoder", &stats.decoder)] {
        for (i, fraction) in layers.iter().enumerate() {
            let line = match fraction {
                Some(f) => {
                    let filled = (f * WIDTH as f64).round() as usize;
                    format!(
                        "{}{} {:5.1}%",
                        "#".repeat(filled),
                        ".".repeat(WIDTH - filled),
                        f * 100.0
                    )
                }
                None => "(shared FFN: layer not in the pack)".to_string(),
            };
            out.push_str(&format!("  {part} {i:>2} |{line}\n"));
        }
    }
    out
}
