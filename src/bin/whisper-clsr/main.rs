//! The `whisper-clsr` command line: transcribe audio files, import models and make or
//! inspect language expert packs.

mod convert;
mod eval;
mod load;
mod normalize;
mod pack;
mod pack_import;
mod stream;
mod transcribe;
mod wer;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "whisper-clsr",
    version,
    about = "Whisper speech recognition on WGSL kernels, with DistilWhisper language experts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transcribe audio files of any length (WAV, FLAC, MP3, OGG), with segment timestamps.
    Transcribe(transcribe::Args),
    /// Live transcription of a file or raw PCM on stdin: voice activity, then commits as the
    /// words become final.
    Stream(stream::Args),
    /// Convert a CTranslate2 Whisper model.bin into a Hugging Face layout directory.
    #[command(name = "convert-ct2")]
    ConvertCt2(convert::Args),
    /// Language expert packs: inspect one, initialise one from a base model, or import the
    /// paper's released experts.
    #[command(subcommand)]
    Pack(pack::Command),
    /// Normalise text as Whisper's evaluation does: lines from stdin to stdout.
    Normalize(normalize::Args),
    /// Word and character error rates of a hypothesis file against a reference file.
    Wer(wer::Args),
    /// Transcribe a manifest of utterances and score them: WER, CER, per-utterance JSONL.
    Eval(eval::Args),
}

/// Output format of `transcribe`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The transcript's text.
    Text,
    /// One JSON object per file: text, segments, language, timings.
    Json,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
    /// Tab-separated start, end (milliseconds) and text per segment.
    Tsv,
}

impl Format {
    /// File extension of `--output-dir` files.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Text => "txt",
            Format::Json => "json",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Tsv => "tsv",
        }
    }
}

/// A model directory argument's help, shared by the subcommands that take one.
pub const MODEL_HELP: &str =
    "Model directory in Hugging Face layout (config.json, model.safetensors, tokenizer.json)";

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Transcribe(args) => transcribe::run(args),
        Command::Stream(args) => stream::run(args),
        Command::ConvertCt2(args) => convert::run(args),
        Command::Pack(command) => pack::run(command),
        Command::Normalize(args) => normalize::run(args),
        Command::Wer(args) => wer::run(args),
        Command::Eval(args) => eval::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
