//! `whisper-clsr wer`: corpus word and character error rates of a hypothesis file against a
//! reference file, line by line.

use std::path::{Path, PathBuf};

use whisper_clsr::decode::languages::normalize_language;
use whisper_clsr::eval::{ErrorRates, ScoringUnit};

use crate::normalize::{NormalizerArgs, NormalizerName};

/// How `wer` reports.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// A readable summary.
    Text,
    /// One JSON object: wer, cer, hits, substitutions, deletions, insertions, …
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Reference transcripts, one utterance per line.
    reference: PathBuf,
    /// Hypotheses, one per line, in the reference's order.
    hypothesis: PathBuf,
    #[command(flatten)]
    normalizer: NormalizerArgs,
    /// Language of the texts (code such as ca, or a name). Chinese, Japanese, Thai, Lao,
    /// Burmese and Cantonese are written without spaces: their WER counts characters.
    #[arg(long)]
    language: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The JSON line `--format json` prints. The edit counts are those of the WER.
#[derive(serde::Serialize)]
struct Report<'a> {
    wer: f64,
    cer: f64,
    hits: usize,
    substitutions: usize,
    deletions: usize,
    insertions: usize,
    /// What the WER counted: "words", or "characters" for languages without spaces.
    unit: ScoringUnit,
    lines: usize,
    language: Option<&'a str>,
}

fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text.lines().map(str::to_owned).collect())
}

pub fn run(args: Args) -> Result<(), String> {
    let language = match &args.language {
        Some(name) => Some(
            normalize_language(name)
                .ok_or_else(|| format!("unknown language {name:?}: give a code such as ca"))?,
        ),
        None => None,
    };
    let default_normalizer = match language {
        None | Some("en") => NormalizerName::English,
        Some(_) => NormalizerName::Basic,
    };
    let normalizer = args.normalizer.build(default_normalizer)?;
    let reference = read_lines(&args.reference)?;
    let hypothesis = read_lines(&args.hypothesis)?;
    if reference.len() != hypothesis.len() {
        return Err(format!(
            "{} has {} lines but {} has {}; the files must be aligned line by line, one \
             utterance per line",
            args.reference.display(),
            reference.len(),
            args.hypothesis.display(),
            hypothesis.len()
        ));
    }
    let normalize = |lines: &[String]| -> Vec<String> {
        lines.iter().map(|l| normalizer.normalize(l)).collect()
    };
    let unit = ScoringUnit::for_language(language);
    let rates = ErrorRates::score(&normalize(&reference), &normalize(&hypothesis), unit)
        .map_err(|e| e.to_string())?;

    match args.format {
        Format::Json => {
            let report = Report {
                wer: rates.wer(),
                cer: rates.cer(),
                hits: rates.words.hits,
                substitutions: rates.words.substitutions,
                deletions: rates.words.deletions,
                insertions: rates.words.insertions,
                unit,
                lines: reference.len(),
                language,
            };
            println!(
                "{}",
                serde_json::to_string(&report).map_err(|e| e.to_string())?
            );
        }
        Format::Text => {
            let unit_name = match unit {
                ScoringUnit::Words => "words",
                ScoringUnit::Characters => "characters",
            };
            let w = rates.words;
            let c = rates.characters;
            println!(
                "WER {:.2}%  {} reference {unit_name}: {} hits, {} substitutions, {} deletions, \
                 {} insertions",
                100.0 * rates.wer(),
                w.reference_len(),
                w.hits,
                w.substitutions,
                w.deletions,
                w.insertions
            );
            println!(
                "CER {:.2}%  {} reference characters: {} hits, {} substitutions, {} deletions, \
                 {} insertions",
                100.0 * rates.cer(),
                c.reference_len(),
                c.hits,
                c.substitutions,
                c.deletions,
                c.insertions
            );
            if unit == ScoringUnit::Characters {
                println!(
                    "({} is written without spaces: its WER counts characters)",
                    language.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
