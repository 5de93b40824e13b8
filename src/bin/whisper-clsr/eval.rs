//! `whisper-clsr eval`: transcribes every utterance of a manifest with the real runtime (hard
//! gates, exactly what users get) and scores the transcripts: one JSON line per utterance
//! and a corpus summary (WER, CER, edit counts, real-time factor).

use std::io::Write;
use std::path::PathBuf;

use whisper_clsr::audio;
use whisper_clsr::decode::languages::normalize_language;
use whisper_clsr::decode::DecodeOptions;
use whisper_clsr::eval::{
    character_errors, read_corpus, word_errors, EditCounts, ManifestEntry, ScoringUnit, Split,
};
use whisper_clsr::{TranscribeOptions, Whisper};

use crate::load::load_whisper;
use crate::normalize::{NormalizerArgs, NormalizerName};
use crate::MODEL_HELP;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, help = MODEL_HELP)]
    model: PathBuf,
    /// Language expert pack (.safetensors); repeat for several languages. Utterances in a
    /// pack's language route through it.
    #[arg(long = "expert", value_name = "PACK")]
    experts: Vec<PathBuf>,
    /// JSONL manifest: one {"audio": path, "text": reference, "language": code} per line
    /// (paths relative to the manifest); or a Common Voice / FLEURS TSV, or cv:DIR /
    /// fleurs:DIR for a release's test.tsv (docs/evaluation.md).
    #[arg(long, value_name = "CORPUS")]
    data: String,
    /// Language of every utterance (overrides the manifest's; without either it is detected).
    #[arg(long)]
    language: Option<String>,
    /// Score at most this many utterances (the first ones).
    #[arg(long)]
    max: Option<usize>,
    /// Folder for `utterances.jsonl` (one line per utterance) and `summary.json`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Stop at the first utterance whose audio cannot be read, instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// Beam search with this many hypotheses (1: greedy).
    #[arg(long, default_value_t = 1)]
    beam_size: usize,
    /// Decode at temperature 0 only, without the sampling fallback (as the trainer's
    /// validation scores): quicker and deterministic where the model loops.
    #[arg(long)]
    no_fallback: bool,
    /// Decode without timestamp tokens (each clip one segment), as expert packs are trained
    /// and as the trainer's validation scores (docs/training.md).
    #[arg(long)]
    without_timestamps: bool,
    #[command(flatten)]
    normalizer: NormalizerArgs,
}

/// One scored utterance, a line of `utterances.jsonl`.
#[derive(serde::Serialize)]
struct Scored {
    audio: PathBuf,
    language: String,
    reference: String,
    hypothesis: String,
    /// The texts as they were compared, after normalisation.
    reference_normalized: String,
    hypothesis_normalized: String,
    /// What the word counts count: "words", or "characters" for languages without spaces.
    unit: ScoringUnit,
    words: EditCounts,
    characters: EditCounts,
    wer: f64,
    duration: f64,
    seconds: f64,
}

/// `summary.json`, and what the command prints.
#[derive(serde::Serialize)]
struct Summary {
    wer: f64,
    cer: f64,
    words: EditCounts,
    characters: EditCounts,
    utterances: usize,
    /// Utterances whose audio could not be read (listed on stderr).
    skipped: usize,
    audio_seconds: f64,
    processing_seconds: f64,
    rtf: f64,
    model: PathBuf,
    experts: Vec<PathBuf>,
    timestamps: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    if args.beam_size == 0 {
        return Err("--beam-size must be at least 1 (1 decodes greedily)".into());
    }
    let forced = match &args.language {
        Some(name) => Some(
            normalize_language(name)
                .ok_or_else(|| format!("unknown language {name:?}: give a code such as ca"))?,
        ),
        None => None,
    };
    // Checked before the model loads: a bad normaliser flag fails at once.
    args.normalizer.build(NormalizerName::English)?;
    let mut entries = read_corpus(&args.data, Split::Test).map_err(|e| e.to_string())?;
    if let Some(max) = args.max {
        entries.truncate(max);
    }
    let mut out = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("--out {}: {e}", dir.display()))?;
            let path = dir.join("utterances.jsonl");
            Some(std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let (whisper, _) = load_whisper(&args.model, &args.experts)?;

    let mut summary = Summary {
        wer: 0.0,
        cer: 0.0,
        words: EditCounts::default(),
        characters: EditCounts::default(),
        utterances: 0,
        skipped: 0,
        audio_seconds: 0.0,
        processing_seconds: 0.0,
        rtf: 0.0,
        model: args.model.clone(),
        experts: args.experts.clone(),
        timestamps: !args.without_timestamps,
    };
    for (index, entry) in entries.iter().enumerate() {
        let language = match forced {
            Some(code) => Some(code.to_string()),
            None => match &entry.language {
                Some(name) => Some(
                    normalize_language(name)
                        .ok_or_else(|| {
                            format!(
                                "{}: unknown language {name:?} for {}",
                                args.data,
                                entry.audio.display()
                            )
                        })?
                        .to_string(),
                ),
                None => None,
            },
        };
        let scored = match score(&whisper, entry, language, &args) {
            Ok(scored) => scored,
            Err(Failure::Audio(message)) if !args.strict => {
                eprintln!("skipped: {message}");
                summary.skipped += 1;
                continue;
            }
            Err(Failure::Audio(message) | Failure::Other(message)) => return Err(message),
        };
        eprintln!(
            "[{}/{}] {}: WER {:.1}% ({:.1} s of audio in {:.1} s)",
            index + 1,
            entries.len(),
            entry.audio.display(),
            100.0 * scored.wer,
            scored.duration,
            scored.seconds
        );
        summary.words += scored.words;
        summary.characters += scored.characters;
        summary.utterances += 1;
        summary.audio_seconds += scored.duration;
        summary.processing_seconds += scored.seconds;
        if let Some(file) = &mut out {
            let line = serde_json::to_string(&scored).map_err(|e| e.to_string())?;
            writeln!(file, "{line}").map_err(|e| format!("writing utterances.jsonl: {e}"))?;
        }
    }
    if summary.utterances == 0 {
        return Err(format!(
            "no utterance of {} could be scored ({} skipped)",
            args.data, summary.skipped
        ));
    }
    summary.wer = summary.words.error_rate();
    summary.cer = summary.characters.error_rate();
    summary.rtf = summary.processing_seconds / summary.audio_seconds.max(1e-9);
    let json = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    if let Some(dir) = &args.out {
        let path = dir.join("summary.json");
        std::fs::write(&path, &json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("{json}");
    Ok(())
}

/// Why an utterance could not be scored: its audio (skippable), or anything else.
enum Failure {
    Audio(String),
    Other(String),
}

/// Transcribes one utterance and scores it against its reference, normalised with the
/// normaliser asked for (default: English for English, basic otherwise).
fn score(
    whisper: &Whisper,
    entry: &ManifestEntry,
    language: Option<String>,
    args: &Args,
) -> Result<Scored, Failure> {
    let decoded = audio::load_audio(&entry.audio)
        .map_err(|e| Failure::Audio(format!("{}: {e}", entry.audio.display())))?;
    let duration = decoded.samples.len() as f64 / f64::from(audio::SAMPLE_RATE);
    let options = TranscribeOptions {
        language,
        decode: DecodeOptions {
            beam_size: args.beam_size,
            temperatures: if args.no_fallback {
                vec![0.0]
            } else {
                DecodeOptions::default().temperatures
            },
            timestamps: !args.without_timestamps,
            ..DecodeOptions::default()
        },
        ..TranscribeOptions::default()
    };
    let started = std::time::Instant::now();
    let transcript =
        pollster::block_on(whisper.transcribe(&decoded.samples, &options, &mut |_| Ok(())))
            .map_err(|e| Failure::Other(format!("{}: {e}", entry.audio.display())))?;
    let seconds = started.elapsed().as_secs_f64();
    let code = transcript.language.as_str();
    let default = if code == "en" {
        NormalizerName::English
    } else {
        NormalizerName::Basic
    };
    let normalizer = args.normalizer.build(default).map_err(Failure::Other)?;
    let reference_normalized = normalizer.normalize(&entry.text);
    let hypothesis_normalized = normalizer.normalize(&transcript.text);
    let unit = ScoringUnit::for_language(Some(code));
    let (reference, hypothesis) = ([&reference_normalized], [&hypothesis_normalized]);
    let words = word_errors(&reference, &hypothesis, unit).expect("one line each");
    let characters = character_errors(&reference, &hypothesis).expect("one line each");
    Ok(Scored {
        audio: entry.audio.clone(),
        language: code.to_string(),
        reference: entry.text.clone(),
        hypothesis: transcript.text,
        reference_normalized,
        hypothesis_normalized,
        unit,
        words,
        characters,
        wer: words.error_rate(),
        duration,
        seconds,
    })
}
