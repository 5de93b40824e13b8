//! Whisper's `EnglishTextNormalizer`, the normaliser behind Whisper's English WER numbers.
//! A port of `whisper/normalizers/english.py` from openai/whisper (MIT licence, Copyright
//! (c) 2022 OpenAI): lowercase, drop bracketed text and hesitations, expand contractions and
//! titles, standardise numbers and spellings, drop symbols.

use regex::Regex;

use super::basic::{remove_symbols_and_diacritics, BracketPatterns};
use super::english_numbers::EnglishNumberNormalizer;
use super::english_spelling::EnglishSpellingNormalizer;

/// (pattern, replacement), applied in this order.
const REPLACERS: [(&str, &str); 49] = [
    // common contractions
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "can not"),
    (r"\blet's\b", "let us"),
    (r"\bain't\b", "aint"),
    (r"\by'all\b", "you all"),
    (r"\bwanna\b", "want to"),
    (r"\bgotta\b", "got to"),
    (r"\bgonna\b", "going to"),
    (r"\bi'ma\b", "i am going to"),
    (r"\bimma\b", "i am going to"),
    (r"\bwoulda\b", "would have"),
    (r"\bcoulda\b", "could have"),
    (r"\bshoulda\b", "should have"),
    (r"\bma'am\b", "madam"),
    // contractions in titles/prefixes
    (r"\bmr\b", "mister "),
    (r"\bmrs\b", "missus "),
    (r"\bst\b", "saint "),
    (r"\bdr\b", "doctor "),
    (r"\bprof\b", "professor "),
    (r"\bcapt\b", "captain "),
    (r"\bgov\b", "governor "),
    (r"\bald\b", "alderman "),
    (r"\bgen\b", "general "),
    (r"\bsen\b", "senator "),
    (r"\brep\b", "representative "),
    (r"\bpres\b", "president "),
    (r"\brev\b", "reverend "),
    (r"\bhon\b", "honorable "),
    (r"\basst\b", "assistant "),
    (r"\bassoc\b", "associate "),
    (r"\blt\b", "lieutenant "),
    (r"\bcol\b", "colonel "),
    (r"\bjr\b", "junior "),
    (r"\bsr\b", "senior "),
    (r"\besq\b", "esquire "),
    // perfect tenses; ideally any past participle, but that is harder
    (r"'d been\b", " had been"),
    (r"'s been\b", " has been"),
    (r"'d gone\b", " had gone"),
    (r"'s gone\b", " has gone"),
    (r"'d done\b", " had done"), // "'s done" is ambiguous
    (r"'s got\b", " has got"),
    // general contractions
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'s\b", " is"),
    (r"'d\b", " would"),
    (r"'ll\b", " will"),
    (r"'t\b", " not"),
    (r"'ve\b", " have"),
    (r"'m\b", " am"),
];

/// Symbols the number normaliser needs; the other symbols become spaces before it runs.
const NUMERIC_SYMBOLS: &str = ".%$¢€£";

pub struct EnglishTextNormalizer {
    patterns: BracketPatterns,
    hesitations: Regex,
    space_before_apostrophe: Regex,
    replacers: Vec<(Regex, &'static str)>,
    comma_in_number: Regex,
    period_not_in_number: Regex,
    symbol_not_before_digit: Regex,
    percent_not_after_digit: Regex,
    numbers: EnglishNumberNormalizer,
    spellings: EnglishSpellingNormalizer,
}

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant pattern compiles")
}

impl EnglishTextNormalizer {
    pub fn new() -> Self {
        EnglishTextNormalizer {
            patterns: BracketPatterns::new(),
            hesitations: compile(r"\b(hmm|mm|mhm|mmm|uh|um)\b"),
            space_before_apostrophe: compile(r"\s+'"),
            replacers: REPLACERS
                .iter()
                .map(|(pattern, replacement)| (compile(pattern), *replacement))
                .collect(),
            comma_in_number: compile(r"(\d),(\d)"),
            period_not_in_number: compile(r"\.([^0-9]|$)"),
            symbol_not_before_digit: compile(r"[.$¢€£]([^0-9])"),
            percent_not_after_digit: compile(r"([^0-9])%"),
            numbers: EnglishNumberNormalizer::new(),
            spellings: EnglishSpellingNormalizer::new(),
        }
    }

    pub fn normalize(&self, text: &str) -> String {
        let text = self.patterns.remove_bracketed(&text.to_lowercase());
        let text = self.hesitations.replace_all(&text, "");
        let mut text = self
            .space_before_apostrophe
            .replace_all(&text, "'")
            .into_owned();
        for (pattern, replacement) in &self.replacers {
            // `NoExpand`: the replacements are literal text.
            text = pattern
                .replace_all(&text, regex::NoExpand(replacement))
                .into_owned();
        }
        let text = self.comma_in_number.replace_all(&text, "${1}${2}");
        let text = self.period_not_in_number.replace_all(&text, " ${1}");
        let text = remove_symbols_and_diacritics(&text, NUMERIC_SYMBOLS);

        let text = self.numbers.normalize(&text);
        let text = self.spellings.normalize(&text);

        // Prefix and suffix symbols that are not next to a number go.
        let text = self.symbol_not_before_digit.replace_all(&text, " ${1}");
        let text = self.percent_not_after_digit.replace_all(&text, "${1} ");
        self.patterns.collapse_whitespace(&text)
    }
}

impl Default for EnglishTextNormalizer {
    fn default() -> Self {
        Self::new()
    }
}
