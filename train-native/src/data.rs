//! Training data (minimal): a JSONL manifest, one `{"audio": path, "text": str,
//! "language": code}` per line (the runtime's [`read_manifest`], shared with
//! `whisper-clsr eval`), decoded and turned into log-mel with the runtime's audio code, and
//! tokenized for teacher forcing:
//! decoder input `<|startoftranscript|> <|lang|> <|transcribe|> <|notimestamps|> text`,
//! targets the next token at every position from the last prompt token on (text, then
//! `<|endoftext|>`), no loss on predicting the prompt itself.

use std::path::PathBuf;

use whisper_clsr::audio::{load_audio_file, LogMel};
use whisper_clsr::decode::tokenizer::{Task, WhisperTokenizer};
pub use whisper_clsr::eval::{read_manifest, ManifestEntry};
use whisper_clsr::{Error, Result};

use crate::loss::vocab::IGNORE;
use crate::trainer::{Audio, Prepared};

/// Tokenizes text for teacher forcing.
pub struct TextEncoder {
    pub whisper: WhisperTokenizer,
    inner: tokenizers::Tokenizer,
}

impl TextEncoder {
    pub fn from_bytes(json: &[u8]) -> Result<TextEncoder> {
        // First: it checks what the tokenizers crate would panic on.
        let whisper = WhisperTokenizer::from_bytes(json)?;
        let inner = tokenizers::Tokenizer::from_bytes(json)
            .map_err(|e| Error::Tokenizer(format!("tokenizer.json could not be read: {e}")))?;
        Ok(TextEncoder { whisper, inner })
    }

    /// Text tokens as Whisper emits them (with the leading space).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let text = format!(" {}", text.trim());
        let enc = self
            .inner
            .encode(text.as_str(), false)
            .map_err(|e| Error::Tokenizer(format!("could not tokenize '{}': {e}", text.trim())))?;
        Ok(enc.get_ids().to_vec())
    }

    /// (decoder input, targets) for `text` in `language`, at most `max_len` positions.
    pub fn teacher_forcing(
        &self,
        text: &str,
        language: &str,
        max_len: usize,
    ) -> Result<(Vec<u32>, Vec<u32>)> {
        let prompt = self.whisper.prompt(Some(language), Task::Transcribe)?;
        let text = self.encode(text)?;
        let mut tokens = prompt.clone();
        tokens.extend(&text);
        let mut targets = vec![IGNORE; prompt.len() - 1];
        targets.extend(&text);
        targets.push(self.whisper.eot);
        if tokens.len() > max_len {
            tokens.truncate(max_len);
            targets.truncate(max_len);
        }
        Ok((tokens, targets))
    }
}

/// What distillation needs two tokenizers to agree on: the vocabulary size and the ids of
/// the special tokens a training prompt uses (the teacher's and the student's next-token
/// distributions are compared id by id). Stored in teacher cache files.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenizerKey {
    pub vocab_size: usize,
    pub sot: u32,
    pub eot: u32,
    pub no_timestamps: u32,
    pub transcribe: Option<u32>,
    /// (code, id) of every language token.
    pub languages: Vec<(String, u32)>,
}

impl TokenizerKey {
    pub fn of(t: &WhisperTokenizer) -> TokenizerKey {
        TokenizerKey {
            vocab_size: t.vocab_size(),
            sot: t.sot,
            eot: t.eot,
            no_timestamps: t.no_timestamps,
            transcribe: t.transcribe,
            languages: t
                .languages
                .iter()
                .map(|(c, id)| (c.to_string(), *id))
                .collect(),
        }
    }
}

impl std::fmt::Display for TokenizerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transcribe = self
            .transcribe
            .map_or("none".to_string(), |t| t.to_string());
        write!(
            f,
            "vocabulary {}, <|startoftranscript|> {}, <|endoftext|> {}, <|notimestamps|> {}, \
             <|transcribe|> {transcribe}, {} language tokens",
            self.vocab_size,
            self.sot,
            self.eot,
            self.no_timestamps,
            self.languages.len()
        )?;
        if let Some((code, id)) = self.languages.first() {
            write!(f, " from <|{code}|> {id}")?;
        }
        Ok(())
    }
}

/// Refuses a teacher (`what`: a model directory or a cache file) whose tokenizer differs from
/// the student's, naming both.
pub fn check_tokenizer_key(
    student: &TokenizerKey,
    teacher: &TokenizerKey,
    what: &str,
) -> Result<()> {
    if student != teacher {
        return Err(Error::InvalidInput(format!(
            "the teacher's tokenizer ({what}: {teacher}) differs from the student's ({student}): \
             distillation compares next-token distributions id by id, so both must share one \
             tokenizer; pick a teacher of the student's family (multilingual Whisper models share \
             one, English-only .en models and large-v3 have their own)"
        )));
    }
    Ok(())
}

/// Refuses a teacher whose tokenizer differs from the student's.
pub fn check_same_tokenizer(student: &WhisperTokenizer, teacher: &WhisperTokenizer) -> Result<()> {
    check_tokenizer_key(
        &TokenizerKey::of(student),
        &TokenizerKey::of(teacher),
        "teacher",
    )
}

/// Loads an entry's audio and computes the student's (and, when the mel sizes differ, the
/// teacher's) log-mel; the text is tokenized as said in `language`.
pub fn prepare(
    entry: &ManifestEntry,
    language: &str,
    text: &TextEncoder,
    student_mel: &LogMel,
    teacher_mel: Option<&LogMel>,
    max_len: usize,
) -> Result<Prepared> {
    let samples = load_audio_file(&entry.audio)?;
    let mel = student_mel.compute(&samples)?;
    let teacher = match teacher_mel {
        Some(t) if t.n_mels() != student_mel.n_mels() => Some(Audio::Mel(t.compute(&samples)?)),
        _ => None,
    };
    let (tokens, targets) = text.teacher_forcing(&entry.text, language, max_len)?;
    Ok(Prepared {
        student: Audio::Mel(mel),
        teacher,
        tokens,
        targets,
    })
}

/// A manifest's examples, ready to train on, and the clips left out.
pub struct PreparedSet {
    pub examples: Vec<Prepared>,
    /// Clips whose audio could not be read (missing, unreadable, corrupt), with why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Prepares every entry of a manifest. A clip whose audio cannot be loaded (missing,
/// corrupt, undecodable) is skipped and listed in [`PreparedSet::skipped`], one bad file
/// in a long manifest should not end a run, unless `strict`, where it is an error naming
/// the file. Other errors (the text) always fail.
pub fn prepare_all(
    entries: &[ManifestEntry],
    language: &str,
    text: &TextEncoder,
    student_mel: &LogMel,
    teacher_mel: Option<&LogMel>,
    max_len: usize,
    strict: bool,
) -> Result<PreparedSet> {
    let mut set = PreparedSet {
        examples: Vec::with_capacity(entries.len()),
        skipped: Vec::new(),
    };
    for entry in entries {
        match prepare(entry, language, text, student_mel, teacher_mel, max_len) {
            Ok(example) => set.examples.push(example),
            Err(e @ (Error::Io { .. } | Error::Audio(_))) => {
                if strict {
                    return Err(crate::clips::unusable_clip(&entry.audio, &e));
                }
                set.skipped.push((entry.audio.clone(), e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    if let (true, Some((path, why))) = (set.examples.is_empty(), set.skipped.first()) {
        return Err(Error::InvalidInput(format!(
            "none of the {} clips could be loaded (first: {}: {why})",
            entries.len(),
            path.display(),
        )));
    }
    Ok(set)
}
