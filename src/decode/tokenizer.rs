//! The Whisper tokenizer (`tokenizer.json` through the `tokenizers` crate) and the special
//! tokens, looked up by name: their ids differ between English-only, multilingual and
//! large-v3 vocabularies.

use super::languages::LANGUAGES;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Task {
    #[default]
    Transcribe,
    Translate,
}

pub struct WhisperTokenizer {
    inner: tokenizers::Tokenizer,
    pub sot: u32,
    pub eot: u32,
    pub transcribe: Option<u32>,
    pub translate: Option<u32>,
    pub no_timestamps: u32,
    /// `<|0.00|>`, the first timestamp token; every id from here on is a timestamp.
    pub timestamp_begin: u32,
    /// `<|nospeech|>` (`<|nocaptions|>` in older vocabularies), when the vocabulary has it.
    pub no_speech: Option<u32>,
    /// `<|startofprev|>`, which introduces previous text as a prompt.
    pub sot_prev: Option<u32>,
    /// (code, token id) of every language token the vocabulary has; empty for English-only models.
    pub languages: Vec<(&'static str, u32)>,
}

/// tokenizers 0.22 cuts `continuing_subword_prefix` off the front of each merge's second
/// token by length and panics where that length is not a character boundary of the token.
fn check_bpe_merges(json: &serde_json::Value) -> Result<()> {
    let model = &json["model"];
    let prefix = model["continuing_subword_prefix"].as_str().unwrap_or("");
    if prefix.is_empty() {
        return Ok(());
    }
    for merge in model["merges"].as_array().into_iter().flatten() {
        let second = match merge {
            serde_json::Value::String(s) => s.split(' ').nth(1),
            serde_json::Value::Array(pair) => pair.get(1).and_then(|b| b.as_str()),
            _ => None,
        };
        if second.is_some_and(|b| !b.is_char_boundary(prefix.len())) {
            return Err(Error::Tokenizer(format!(
                "tokenizer.json: the BPE merge {merge} does not start with the model's \
                 continuing_subword_prefix {prefix:?}; the file is corrupt — download it again"
            )));
        }
    }
    Ok(())
}

/// Smallest vocabulary of a multilingual Whisper (large-v3 has one more token).
const MULTILINGUAL_VOCAB: usize = 51865;

impl WhisperTokenizer {
    pub fn from_bytes(json: &[u8]) -> Result<WhisperTokenizer> {
        // tokenizers 0.22 panics (`expect("Helper")`) on a JSON syntax error inside the
        // "decoder" object, and a panic aborts in the browser: check the syntax first.
        let value = serde_json::from_slice::<serde_json::Value>(json).map_err(|e| {
            Error::Tokenizer(format!(
                "tokenizer.json is not valid JSON ({e}); it may be truncated — download it again"
            ))
        })?;
        check_bpe_merges(&value)?;
        super::precompiled_check::check(&value)?;
        let inner = tokenizers::Tokenizer::from_bytes(json)
            .map_err(|e| Error::Tokenizer(format!("tokenizer.json could not be read: {e}")))?;
        let id = |name: &str| inner.token_to_id(name);
        let need = |name: &str| {
            id(name).ok_or_else(|| {
                Error::Tokenizer(format!(
                    "tokenizer.json has no {name} token; is it a Whisper tokenizer?"
                ))
            })
        };
        let languages = LANGUAGES
            .iter()
            .filter_map(|(code, _)| id(&format!("<|{code}|>")).map(|t| (*code, t)))
            .collect();
        let no_timestamps = need("<|notimestamps|>")?;
        Ok(WhisperTokenizer {
            sot: need("<|startoftranscript|>")?,
            eot: need("<|endoftext|>")?,
            transcribe: id("<|transcribe|>"),
            translate: id("<|translate|>"),
            no_timestamps,
            // Tokenizers without timestamp entries still number them right after
            // <|notimestamps|>, as OpenAI's tokenizer does.
            timestamp_begin: id("<|0.00|>").unwrap_or(no_timestamps + 1),
            no_speech: id("<|nospeech|>").or_else(|| id("<|nocaptions|>")),
            sot_prev: id("<|startofprev|>"),
            languages,
            inner,
        })
    }

    /// Fits the tokenizer to the model's vocabulary. English-only checkpoints (vocabulary
    /// below 51865, as OpenAI's `is_multilingual` decides) never saw language or task tokens,
    /// even where their tokenizer.json lists them: drop them, so prompts leave them out and
    /// no language is detected.
    pub fn for_vocab_size(mut self, vocab_size: usize) -> WhisperTokenizer {
        if vocab_size < MULTILINGUAL_VOCAB {
            self.languages.clear();
            self.transcribe = None;
            self.translate = None;
        }
        self
    }

    /// True for models that only speak English (no language or task tokens).
    pub fn is_english_only(&self) -> bool {
        self.languages.is_empty()
    }

    pub fn language_token(&self, code: &str) -> Option<u32> {
        self.languages
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(_, t)| t)
    }

    /// `<|startoftranscript|> [<|lang|> <|task|>] <|notimestamps|>`.
    pub fn prompt(&self, language: Option<&str>, task: Task) -> Result<Vec<u32>> {
        let mut tokens = self.sot_sequence(language, task)?;
        tokens.push(self.no_timestamps);
        Ok(tokens)
    }

    /// `<|startoftranscript|> [<|lang|> <|task|>]`: the start of every window's prompt.
    pub fn sot_sequence(&self, language: Option<&str>, task: Task) -> Result<Vec<u32>> {
        let mut tokens = vec![self.sot];
        if !self.is_english_only() {
            let code = language.unwrap_or("en");
            let lang = self.language_token(code).ok_or_else(|| {
                Error::InvalidInput(format!("this model has no language token for '{code}'"))
            })?;
            tokens.push(lang);
            let task_token = match task {
                Task::Transcribe => self.transcribe,
                Task::Translate => self.translate,
            };
            tokens.push(
                task_token
                    .ok_or_else(|| Error::Tokenizer("no task token in the vocabulary".into()))?,
            );
        } else if language.is_some_and(|l| l != "en") {
            return Err(Error::InvalidInput(format!(
                "this is an English-only model; it cannot transcribe language '{}'",
                language.unwrap_or_default()
            )));
        } else if task == Task::Translate {
            return Err(Error::InvalidInput(
                "an English-only model cannot translate".into(),
            ));
        }
        Ok(tokens)
    }

    /// Token ids of plain text (no special tokens added), e.g. an initial prompt.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(format!("encoding text failed: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of generated tokens; special tokens (ids ≥ EOT) are dropped.
    pub fn decode(&self, tokens: &[u32]) -> Result<String> {
        let text: Vec<u32> = tokens.iter().copied().filter(|&t| t < self.eot).collect();
        self.inner
            .decode(&text, true)
            .map_err(|e| Error::Tokenizer(format!("decoding tokens failed: {e}")))
    }

    /// Text of tokens with special tokens kept (`<|endoftext|>`, timestamps).
    pub fn decode_with_specials(&self, tokens: &[u32]) -> Result<String> {
        self.inner
            .decode(tokens, false)
            .map_err(|e| Error::Tokenizer(format!("decoding tokens failed: {e}")))
    }

    /// Groups tokens into words, as OpenAI's `split_to_word_tokens` does: per run of tokens
    /// that decodes to whole characters for languages written without spaces (zh, ja, th,
    /// lo, my, yue), else a new word at each piece that starts with a space, is punctuation
    /// or is a special token.
    pub fn split_to_words(
        &self,
        tokens: &[u32],
        language: &str,
    ) -> Result<Vec<(String, Vec<u32>)>> {
        let pieces = self.split_on_unicode(tokens)?;
        if matches!(language, "zh" | "ja" | "th" | "lo" | "my" | "yue") {
            return Ok(pieces);
        }
        const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
        let mut words: Vec<(String, Vec<u32>)> = Vec::new();
        for (piece, piece_tokens) in pieces {
            let special = piece_tokens[0] >= self.eot;
            let with_space = piece.starts_with(' ');
            // Python's substring `in`: a blank piece counts as punctuation.
            let punctuation = PUNCTUATION.contains(piece.trim());
            match words.last_mut() {
                Some(last) if !(special || with_space || punctuation) => {
                    last.0.push_str(&piece);
                    last.1.extend(piece_tokens);
                }
                _ => words.push((piece, piece_tokens)),
            }
        }
        Ok(words)
    }

    /// Splits tokens where the decoded text so far ends on a whole character.
    fn split_on_unicode(&self, tokens: &[u32]) -> Result<Vec<(String, Vec<u32>)>> {
        const REPLACEMENT: char = '\u{fffd}';
        let full: Vec<char> = self.decode_with_specials(tokens)?.chars().collect();
        let mut out = Vec::new();
        let mut current = Vec::new();
        let mut offset = 0;
        for &token in tokens {
            current.push(token);
            let decoded = self.decode_with_specials(&current)?;
            let complete = match decoded.chars().position(|c| c == REPLACEMENT) {
                None => true,
                // A replacement character that is really in the text.
                Some(at) => full.get(offset + at) == Some(&REPLACEMENT),
            };
            if complete {
                offset += decoded.chars().count();
                out.push((decoded, std::mem::take(&mut current)));
            }
        }
        Ok(out)
    }

    /// Text of one token, for streaming.
    pub fn token_text(&self, token: u32) -> String {
        self.decode(&[token]).unwrap_or_default()
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
