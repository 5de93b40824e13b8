//! Whisper's `EnglishSpellingNormalizer`: British spellings become American ones.
//!
//! `english.json` is openai/whisper's `whisper/normalizers/english.json` unchanged (MIT
//! licence, Copyright (c) 2022 OpenAI), itself from the list at
//! <https://www.tysto.com/uk-us-spelling-list.html>.

use std::collections::HashMap;

const BRITISH_TO_AMERICAN: &str = include_str!("english.json");

pub struct EnglishSpellingNormalizer {
    mapping: HashMap<String, String>,
}

impl EnglishSpellingNormalizer {
    pub fn new() -> Self {
        let mapping = serde_json::from_str(BRITISH_TO_AMERICAN)
            .expect("the embedded english.json is a JSON object of strings");
        EnglishSpellingNormalizer { mapping }
    }

    /// Maps each whitespace-separated word; the words come back joined by single spaces.
    pub fn normalize(&self, text: &str) -> String {
        text.split_whitespace()
            .map(|word| self.mapping.get(word).map_or(word, String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Default for EnglishSpellingNormalizer {
    fn default() -> Self {
        Self::new()
    }
}
