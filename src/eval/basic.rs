//! Whisper's `BasicTextNormalizer`, for any language: lowercase, drop bracketed text, turn
//! marks, symbols and punctuation into spaces. A port of `whisper/normalizers/basic.py` from
//! openai/whisper (MIT licence, Copyright (c) 2022 OpenAI).

use regex::Regex;
use unicode_general_category::{get_general_category, GeneralCategory};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// Non-ASCII letters that NFKD does not split into a base letter and a diacritic.
const ADDITIONAL_DIACRITICS: [(char, &str); 16] = [
    ('œ', "oe"),
    ('Œ', "OE"),
    ('ø', "o"),
    ('Ø', "O"),
    ('æ', "ae"),
    ('Æ', "AE"),
    ('ß', "ss"),
    ('ẞ', "SS"),
    ('đ', "d"),
    ('Đ', "D"),
    ('ð', "d"),
    ('Ð', "D"),
    ('þ', "th"),
    ('Þ', "th"),
    ('ł', "l"),
    ('Ł', "L"),
];

/// Python's `unicodedata.category(c)[0] in "MSP"`: a mark, symbol or punctuation.
fn is_mark_symbol_or_punctuation(c: char) -> bool {
    use GeneralCategory::*;
    matches!(
        get_general_category(c),
        NonspacingMark
            | SpacingMark
            | EnclosingMark
            | MathSymbol
            | CurrencySymbol
            | ModifierSymbol
            | OtherSymbol
            | ConnectorPunctuation
            | DashPunctuation
            | OpenPunctuation
            | ClosePunctuation
            | InitialPunctuation
            | FinalPunctuation
            | OtherPunctuation
    )
}

/// NFKD, then: characters in `keep` stay; the letters of `ADDITIONAL_DIACRITICS` are
/// spelled out; nonspacing marks (diacritics) vanish; other marks, symbols and punctuation
/// become spaces.
pub fn remove_symbols_and_diacritics(text: &str, keep: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkd() {
        if keep.contains(c) {
            out.push(c);
        } else if let Some((_, spelled)) = ADDITIONAL_DIACRITICS.iter().find(|(d, _)| *d == c) {
            out.push_str(spelled);
        } else if get_general_category(c) == GeneralCategory::NonspacingMark {
            // A diacritic that NFKD separated from its letter: dropped.
            continue;
        } else if is_mark_symbol_or_punctuation(c) {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// NFKC, then marks, symbols and punctuation become spaces; diacritics stay.
pub fn remove_symbols(text: &str) -> String {
    text.nfkc()
        .map(|c| {
            if is_mark_symbol_or_punctuation(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Regular expressions shared by the basic and the English normaliser.
pub(crate) struct BracketPatterns {
    /// `<...>` or `[...]`, such as `[music]`.
    brackets: Regex,
    /// `(...)`, such as `(laughs)`.
    parentheses: Regex,
    whitespace: Regex,
}

impl BracketPatterns {
    pub(crate) fn new() -> Self {
        BracketPatterns {
            brackets: Regex::new(r"[<\[][^>\]]*[>\]]").expect("constant pattern"),
            parentheses: Regex::new(r"\(([^)]+?)\)").expect("constant pattern"),
            whitespace: Regex::new(r"\s+").expect("constant pattern"),
        }
    }

    /// Removes words between brackets and between parentheses.
    pub(crate) fn remove_bracketed(&self, text: &str) -> String {
        let text = self.brackets.replace_all(text, "");
        self.parentheses.replace_all(&text, "").into_owned()
    }

    /// Replaces each run of whitespace with one space (leading and trailing runs too).
    pub(crate) fn collapse_whitespace(&self, text: &str) -> String {
        self.whitespace.replace_all(text, " ").into_owned()
    }
}

/// Whisper's normaliser for languages other than English.
pub struct BasicTextNormalizer {
    remove_diacritics: bool,
    split_letters: bool,
    patterns: BracketPatterns,
}

impl BasicTextNormalizer {
    /// `remove_diacritics` also drops accents (`é` → `e`); `split_letters` puts a space
    /// between all grapheme clusters (for scoring languages written without spaces).
    pub fn new(remove_diacritics: bool, split_letters: bool) -> Self {
        BasicTextNormalizer {
            remove_diacritics,
            split_letters,
            patterns: BracketPatterns::new(),
        }
    }

    pub fn normalize(&self, text: &str) -> String {
        let text = self.patterns.remove_bracketed(&text.to_lowercase());
        let text = if self.remove_diacritics {
            remove_symbols_and_diacritics(&text, "")
        } else {
            remove_symbols(&text)
        };
        let mut text = text.to_lowercase();
        if self.split_letters {
            text = text.graphemes(true).collect::<Vec<_>>().join(" ");
        }
        self.patterns.collapse_whitespace(&text)
    }
}

impl Default for BasicTextNormalizer {
    fn default() -> Self {
        Self::new(false, false)
    }
}
