//! `whisper-clsr transcribe`.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use whisper_clsr::decode::{DecodeOptions, Task};
use whisper_clsr::subtitles::{self, timestamp};
use whisper_clsr::{audio, Event, GateStats, TranscribeOptions, Transcript, Whisper};

use crate::load::load_whisper;
use crate::{Format, MODEL_HELP};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, help = MODEL_HELP)]
    model: PathBuf,
    /// Spoken language code (en, ca, ...); detected from the first 30 s when omitted.
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
    /// Write one file per input into this directory (NAME.txt, .json, .srt, .vtt or .tsv)
    /// instead of printing to stdout.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Most tokens to generate per 30 s window.
    #[arg(long, default_value_t = 224)]
    max_tokens: usize,
    /// Decode without timestamp tokens: each 30 s window becomes one segment.
    #[arg(long, conflicts_with = "word_timestamps")]
    without_timestamps: bool,
    /// Per-word start and end times (JSON `words` of each segment), from the model's
    /// alignment heads' cross-attention.
    #[arg(long)]
    word_timestamps: bool,
    /// Latest start of a window's first segment, in seconds.
    #[arg(long, default_value_t = 1.0)]
    max_initial_timestamp: f32,
    /// Temperature of the first decoding of each window (0: greedy).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    temperature: f32,
    /// Temperature step of the retries when a decoding fails the checks, up to 1.0; 0
    /// turns fallback off.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    temperature_increment_on_fallback: f32,
    /// Retry when the text's gzip compression ratio exceeds this (repetition).
    #[arg(long, default_value_t = 2.4)]
    compression_ratio_threshold: f32,
    /// Retry when the average token log-probability is below this.
    #[arg(long, default_value_t = -1.0, allow_negative_numbers = true)]
    logprob_threshold: f32,
    /// Skip a window as silence when <|nospeech|> is more likely than this (and the text is
    /// unlikely).
    #[arg(long, default_value_t = 0.6)]
    no_speech_threshold: f32,
    /// Candidates sampled per window at temperatures above 0; the most likely is kept.
    #[arg(long, default_value_t = 5)]
    best_of: usize,
    /// Beam search with this many hypotheses at temperature 0 (decoded side by side in one
    /// batch per step); 1 decodes greedily.
    #[arg(long, default_value_t = 1)]
    beam_size: usize,
    /// Beam search stops once round(beam size × patience) sequences have finished.
    #[arg(long, default_value_t = 1.0)]
    patience: f32,
    /// Length penalty α for ranking sampled candidates and beams, ((5 + length) / 6)^α;
    /// default: divide by the length.
    #[arg(long)]
    length_penalty: Option<f32>,
    /// Seed of the sampling RNG: the same seed gives the same transcript.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Do not feed the previous window's text as a prompt (less consistent style, but a
    /// window that went wrong cannot mislead the next one).
    #[arg(long)]
    no_condition_on_previous_text: bool,
    /// Text treated as said before the audio: names, spelling, punctuation style.
    #[arg(long)]
    initial_prompt: Option<String>,
    /// Audio files to transcribe, one after the other (any sample rate; stereo is mixed
    /// down).
    #[arg(required = true)]
    audio: Vec<PathBuf>,
}

/// The temperatures tried per window: from `start` up to 1.0 in `step`s (just `start`
/// when the step is 0).
fn temperatures(start: f32, step: f32) -> Result<Vec<f32>, String> {
    if !(start.is_finite() && start >= 0.0) {
        return Err(format!("--temperature {start}: use a value ≥ 0"));
    }
    if !(step.is_finite() && step >= 0.0) {
        return Err(format!(
            "--temperature-increment-on-fallback {step}: use a value ≥ 0 (0 turns fallback off)"
        ));
    }
    if step == 0.0 {
        return Ok(vec![start]);
    }
    let mut all = Vec::new();
    let mut i = 0;
    loop {
        let t = start + step * i as f32;
        if t > 1.0 + 1e-6 {
            break;
        }
        all.push(t);
        i += 1;
    }
    if all.is_empty() {
        all.push(start);
    }
    Ok(all)
}

fn options(args: &Args) -> Result<TranscribeOptions, String> {
    if args.best_of == 0 {
        return Err("--best-of must be at least 1".into());
    }
    if args.max_tokens == 0 {
        return Err("--max-tokens must be at least 1".into());
    }
    if args.beam_size == 0 {
        return Err("--beam-size must be at least 1 (1 decodes greedily)".into());
    }
    let options = TranscribeOptions {
        language: args.language.clone(),
        task: if args.translate {
            Task::Translate
        } else {
            Task::Transcribe
        },
        decode: DecodeOptions {
            max_new_tokens: args.max_tokens,
            timestamps: !args.without_timestamps,
            word_timestamps: args.word_timestamps,
            max_initial_timestamp: Some(args.max_initial_timestamp),
            temperatures: temperatures(args.temperature, args.temperature_increment_on_fallback)?,
            compression_ratio_threshold: Some(args.compression_ratio_threshold),
            logprob_threshold: Some(args.logprob_threshold),
            no_speech_threshold: Some(args.no_speech_threshold),
            best_of: args.best_of,
            beam_size: args.beam_size,
            patience: args.patience,
            length_penalty: args.length_penalty,
            condition_on_previous_text: !args.no_condition_on_previous_text,
            initial_prompt: args.initial_prompt.clone(),
            seed: args.seed,
            first_window_only: false,
            suppress_eot: false,
        },
    };
    options
        .decode
        .beam()
        .check()
        .map_err(|e| format!("--patience: {e}"))?;
    Ok(options)
}

pub fn run(args: Args) -> Result<(), String> {
    let options = options(&args)?;
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("--output-dir {}: {e}", dir.display()))?;
    }
    let (whisper, load_ms) = load_whisper(&args.model, &args.experts)?;
    if args.word_timestamps && !whisper.has_alignment_heads() {
        eprintln!(
            "note: the model names no alignment heads (generation_config.json); word timestamps \
             use every cross-attention head of the decoder's second half and are less precise"
        );
    }

    let mut failures = 0;
    for file in &args.audio {
        let result = transcribe_file(&whisper, file, &options).and_then(|mut t| {
            t.timings.load_ms = load_ms;
            report(file, &t, &args)
        });
        if let Err(e) = result {
            eprintln!("error: {}: {e}", file.display());
            failures += 1;
        }
    }
    if failures > 0 {
        return Err(format!("{failures} of {} files failed", args.audio.len()));
    }
    Ok(())
}

/// Transcribes one file, printing each segment on stderr as it is finished, above a
/// progress bar over the audio's duration when stderr is a terminal.
fn transcribe_file(
    whisper: &Whisper,
    file: &Path,
    options: &TranscribeOptions,
) -> Result<Transcript, String> {
    // Streamed from the file: memory follows the spectrogram, not the PCM (an hour is fine).
    let started = std::time::Instant::now();
    let audio::StreamedMel {
        mel,
        non_finite_samples,
    } = audio::load_long_mel(file, whisper.config().num_mel_bins).map_err(|e| e.to_string())?;
    let mel_ms = started.elapsed().as_secs_f64() * 1e3;
    if non_finite_samples > 0 {
        eprintln!(
            "warning: {}: {non_finite_samples} NaN/infinite samples replaced by silence (the \
             file is damaged or its encoder is faulty)",
            file.display()
        );
    }
    let seconds = mel.duration_seconds();
    eprintln!("transcribing {} ({seconds:.1} s) ...", file.display());
    let bar = ProgressBar::new((seconds * 10.0).round() as u64);
    if bar.is_hidden() {
        bar.finish_and_clear();
    } else {
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {msg} [{elapsed_precise}, {eta} left]")
                .expect("static template"),
        );
    }
    let mut on_event = |event: Event<'_>| {
        match event {
            Event::Segment(s) => {
                let line = format!(
                    "[{} --> {}] {}",
                    timestamp(s.start, '.'),
                    timestamp(s.end, '.'),
                    s.text.trim()
                );
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
            Event::Progress { done, total } => {
                bar.set_position((done * 10.0).round() as u64);
                bar.set_message(format!("{done:.1}/{total:.1} s"));
            }
            Event::Token(_) | Event::Retry { .. } => {}
        }
        Ok(())
    };
    let result = pollster::block_on(whisper.transcribe_mel(&mel, mel_ms, options, &mut on_event));
    bar.finish_and_clear();
    result.map_err(|e| e.to_string())
}

/// The transcript in the chosen format, on stdout or into `--output-dir`.
fn render(file: &Path, t: &Transcript, format: Format) -> String {
    match format {
        Format::Text => format!("{}\n", t.text),
        Format::Json => {
            let line = serde_json::json!({
                "file": file.display().to_string(),
                "text": t.text,
                "language": t.language,
                "language_detected": t.language_detected,
                "expert": t.expert,
                "tokens": t.tokens,
                "segments": t.segments,
                "duration": t.duration,
                "timings": t.timings,
                "gate_stats": t.gate_stats,
                "device": t.device,
            });
            format!("{line}\n")
        }
        Format::Srt => subtitles::srt(&t.segments),
        Format::Vtt => subtitles::vtt(&t.segments),
        Format::Tsv => subtitles::tsv(&t.segments),
    }
}

/// Writes the transcript, then a summary on stderr.
fn report(file: &Path, t: &Transcript, args: &Args) -> Result<(), String> {
    let rendered = render(file, t, args.format);
    match &args.output_dir {
        Some(dir) => {
            let stem = file.file_stem().unwrap_or(file.as_os_str());
            let path = dir.join(stem).with_extension(args.format.extension());
            std::fs::write(&path, rendered).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{rendered}"),
    }
    let expert = match &t.expert {
        Some(language) => format!(", expert {language}"),
        None => String::new(),
    };
    eprintln!(
        "{}: language {}{}{expert}, {} segments, encoder {:.0} ms, {:.1} tokens/s, RTF {:.3}",
        file.display(),
        t.language,
        if t.language_detected {
            " (detected)"
        } else {
            ""
        },
        t.segments.len(),
        t.timings.encoder_ms,
        t.timings.tokens_per_s,
        t.timings.rtf
    );
    if args.gate_stats {
        match &t.gate_stats {
            Some(stats) => eprint!("{}", gate_chart(stats)),
            None => eprintln!("gate stats: no expert pack for language {}", t.language),
        }
    }
    Ok(())
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
