//! The clips a run trains on, chosen before training (docs/training.md, "What is dropped"):
//! a clip whose audio cannot be read is skipped (an error with `--strict`), one longer than
//! `--max-duration` (never more than Whisper's 30 s window) or whose transcript does not fit
//! the decoder (its positions, prompt included) is dropped. Every reason is counted and
//! reported with a few example files, never silently.
//!
//! Durations come from the container header ([`probe_duration`]); only a file whose header
//! does not say is decoded here. The audio itself is decoded while training, ahead of the
//! GPU ([`crate::decode_ahead`]).

use std::path::{Path, PathBuf};

use whisper_clsr::audio::{load_audio_file, probe_duration, SAMPLE_RATE};
use whisper_clsr::eval::ManifestEntry;
use whisper_clsr::{Error, Result};

use crate::data::TextEncoder;

/// Whisper's encoder window: longer audio would be cut, its transcript no longer matching.
pub const WINDOW_SECONDS: f64 = 30.0;

/// Clip names listed per reason in the summary line.
const EXAMPLES_PER_REASON: usize = 3;

/// Why a clip was left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Missing, unreadable or not audio.
    Unreadable,
    /// Longer than the run's maximum duration.
    TooLong,
    /// More decoder positions than the model has.
    TranscriptTooLong,
}

/// A corpus after the checks: the clips kept (in corpus order) and those left out.
#[derive(Debug, Default)]
pub struct Selection {
    pub kept: Vec<ManifestEntry>,
    pub left_out: Vec<(Reason, PathBuf, String)>,
}

impl Selection {
    /// How many clips were left out for `reason`.
    pub fn count(&self, reason: Reason) -> usize {
        self.left_out.iter().filter(|(r, ..)| *r == reason).count()
    }

    /// One line per reason with a few example files (what the run prints), the unreadable
    /// clips also one per line with why.
    pub fn report(&self, corpus: &str, max_duration: f64, max_len: usize) -> Vec<String> {
        let total = self.kept.len() + self.left_out.len();
        let mut lines: Vec<String> = self
            .left_out
            .iter()
            .filter(|(r, ..)| *r == Reason::Unreadable)
            .map(|(_, clip, why)| format!("skipped {}: {why}", clip.display()))
            .collect();
        for reason in [
            Reason::Unreadable,
            Reason::TooLong,
            Reason::TranscriptTooLong,
        ] {
            let n = self.count(reason);
            if n == 0 {
                continue;
            }
            let examples: Vec<String> = self
                .left_out
                .iter()
                .filter(|(r, ..)| *r == reason)
                .take(EXAMPLES_PER_REASON)
                .map(|(_, clip, _)| clip.display().to_string())
                .collect();
            let what = match reason {
                Reason::Unreadable => format!(
                    "skipped {n} of {total} clips whose audio could not be loaded \
                     (--strict makes this an error)"
                ),
                Reason::TooLong => format!(
                    "dropped {n} of {total} clips longer than {max_duration} s (--max-duration)"
                ),
                Reason::TranscriptTooLong => format!(
                    "dropped {n} of {total} clips whose transcript needs more than the \
                     decoder's {max_len} positions (prompt included)"
                ),
            };
            lines.push(format!("{corpus}: {what}, e.g. {}", examples.join(", ")));
        }
        lines
    }
}

/// What `--strict` makes of a training clip that cannot be read or decoded.
pub(crate) fn unusable_clip(audio: &Path, e: &Error) -> Error {
    Error::InvalidInput(format!(
        "training clip {} is unusable: {e} (fix or remove it from the corpus, or run without \
         --strict to skip such clips)",
        audio.display()
    ))
}

/// `--max-duration` as used: positive, at most [`WINDOW_SECONDS`].
pub fn max_duration(requested: f64) -> Result<f64> {
    if !(requested.is_finite() && requested > 0.0) {
        return Err(Error::InvalidInput(format!(
            "--max-duration {requested} keeps no clip: give a positive number of seconds \
             (at most {WINDOW_SECONDS}, Whisper's window)"
        )));
    }
    Ok(requested.min(WINDOW_SECONDS))
}

/// Decoder positions a transcript takes: the prompt, then its text tokens.
fn positions(entry: &ManifestEntry, language: &str, text: &TextEncoder) -> Result<usize> {
    let prompt = text.whisper.prompt(
        Some(language),
        whisper_clsr::decode::tokenizer::Task::Transcribe,
    )?;
    Ok(prompt.len() + text.encode(&entry.text)?.len())
}

/// The clip's duration in seconds: from its header, else by decoding it.
fn duration(audio: &Path) -> Result<f64> {
    match probe_duration(audio)? {
        Some(seconds) => Ok(seconds),
        None => Ok(load_audio_file(audio)?.len() as f64 / SAMPLE_RATE as f64),
    }
}

/// Checks every entry (see the module docs). With `strict`, an unreadable clip is an error
/// naming it; an empty selection is an error naming the first clip left out.
pub fn select(
    entries: &[ManifestEntry],
    language: &str,
    text: &TextEncoder,
    max_len: usize,
    max_duration: f64,
    strict: bool,
) -> Result<Selection> {
    let mut out = Selection::default();
    for entry in entries {
        let clip = entry.audio.clone();
        let needed = positions(entry, language, text)?;
        if needed > max_len {
            let why = format!("{needed} decoder positions");
            out.left_out.push((Reason::TranscriptTooLong, clip, why));
            continue;
        }
        match duration(&entry.audio) {
            Ok(seconds) if seconds > max_duration => {
                let why = format!("{seconds:.2} s");
                out.left_out.push((Reason::TooLong, clip, why));
            }
            Ok(_) => out.kept.push(entry.clone()),
            Err(e @ (Error::Io { .. } | Error::Audio(_))) => {
                if strict {
                    return Err(unusable_clip(&entry.audio, &e));
                }
                out.left_out.push((Reason::Unreadable, clip, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    if let (true, Some((_, clip, why))) = (out.kept.is_empty(), out.left_out.first()) {
        return Err(Error::InvalidInput(format!(
            "none of the {} clips is usable: {} unreadable, {} longer than {max_duration} s \
             (--max-duration), {} with a transcript over the decoder's {max_len} positions \
             (first: {}: {why})",
            entries.len(),
            out.count(Reason::Unreadable),
            out.count(Reason::TooLong),
            out.count(Reason::TranscriptTooLong),
            clip.display(),
        )));
    }
    Ok(out)
}
