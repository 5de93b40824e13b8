//! `whisper-clsr normalize`: Whisper's text normalisers as a filter, stdin to stdout, and the
//! normaliser options `wer` shares.

use std::io::{BufRead, BufWriter, ErrorKind, Write};

use clap::ValueEnum;
use whisper_clsr::eval::TextNormalizer;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NormalizerName {
    /// Whisper's English normaliser: numbers, British spellings, contractions, symbols.
    English,
    /// Whisper's normaliser for other languages: case, brackets, symbols.
    Basic,
    /// Whitespace collapsed only; case and punctuation kept.
    None,
}

#[derive(clap::Args)]
pub struct NormalizerArgs {
    /// Text normaliser [default: english; for `wer`, basic when --language names another
    /// language]
    #[arg(long, value_enum)]
    pub normalizer: Option<NormalizerName>,
    /// With the basic normaliser: also drop diacritics (é → e, ß → ss).
    #[arg(long)]
    pub remove_diacritics: bool,
    /// With the basic normaliser: a space between every character (grapheme cluster).
    #[arg(long)]
    pub split_letters: bool,
}

impl NormalizerArgs {
    /// The normaliser asked for, or `default` when none was named.
    pub fn build(&self, default: NormalizerName) -> Result<TextNormalizer, String> {
        let name = self.normalizer.unwrap_or(default);
        if name != NormalizerName::Basic && (self.remove_diacritics || self.split_letters) {
            return Err(
                "--remove-diacritics and --split-letters apply to --normalizer basic only".into(),
            );
        }
        Ok(match name {
            NormalizerName::English => TextNormalizer::english(),
            NormalizerName::Basic => {
                TextNormalizer::basic(self.remove_diacritics, self.split_letters)
            }
            NormalizerName::None => TextNormalizer::WhitespaceOnly,
        })
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    normalizer: NormalizerArgs,
}

pub fn run(args: Args) -> Result<(), String> {
    let normalizer = args.normalizer.build(NormalizerName::English)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (index, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| format!("reading stdin, line {}: {e}", index + 1))?;
        if let Err(e) = writeln!(out, "{}", normalizer.normalize(&line)) {
            return closed_pipe_is_done(e);
        }
    }
    out.flush().or_else(closed_pipe_is_done)
}

/// A reader that stopped early (`| head`) is not an error.
fn closed_pipe_is_done(e: std::io::Error) -> Result<(), String> {
    if e.kind() == ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(format!("writing stdout: {e}"))
    }
}
