//! Corpus word and character error rates over line-aligned references and hypotheses,
//! computed as jiwer computes them: the edits of all lines summed, divided by the summed
//! reference length, (S + D + I) / N — not the mean of per-line rates.

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use super::edit_distance::{align, EditCounts};

/// Languages written without spaces between words, scored character by character.
pub const LANGUAGES_WITHOUT_SPACES: [&str; 6] = ["zh", "ja", "th", "lo", "my", "yue"];

/// What the word error rate counts as a "word".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoringUnit {
    /// Whitespace-separated words.
    Words,
    /// Grapheme clusters other than whitespace, for languages written without spaces
    /// (a Thai consonant with its vowel and tone marks is one unit, as Whisper's
    /// `split_letters` makes it).
    Characters,
}

impl ScoringUnit {
    /// [`ScoringUnit::Characters`] for the languages of [`LANGUAGES_WITHOUT_SPACES`],
    /// [`ScoringUnit::Words`] otherwise (also when the language is unknown).
    pub fn for_language(code: Option<&str>) -> ScoringUnit {
        match code {
            Some(code) if LANGUAGES_WITHOUT_SPACES.contains(&code) => ScoringUnit::Characters,
            _ => ScoringUnit::Words,
        }
    }

    /// The units of one line.
    pub fn split(self, line: &str) -> Vec<&str> {
        match self {
            ScoringUnit::Words => line.split_whitespace().collect(),
            ScoringUnit::Characters => line
                .graphemes(true)
                .filter(|g| !g.chars().all(char::is_whitespace))
                .collect(),
        }
    }
}

/// The reference and the hypothesis have different numbers of lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the reference has {reference_lines} lines but the hypothesis has {hypothesis_lines}; \
     they must be aligned line by line"
)]
pub struct LineCountMismatch {
    pub reference_lines: usize,
    pub hypothesis_lines: usize,
}

fn check_line_counts<R, H>(reference: &[R], hypothesis: &[H]) -> Result<(), LineCountMismatch> {
    if reference.len() == hypothesis.len() {
        Ok(())
    } else {
        Err(LineCountMismatch {
            reference_lines: reference.len(),
            hypothesis_lines: hypothesis.len(),
        })
    }
}

/// Word-level edit counts summed over line pairs; `.error_rate()` of the result is the
/// corpus word error rate.
pub fn word_errors<R: AsRef<str>, H: AsRef<str>>(
    reference: &[R],
    hypothesis: &[H],
    unit: ScoringUnit,
) -> Result<EditCounts, LineCountMismatch> {
    check_line_counts(reference, hypothesis)?;
    Ok(reference
        .iter()
        .zip(hypothesis)
        .map(|(r, h)| align(&unit.split(r.as_ref()), &unit.split(h.as_ref())))
        .sum())
}

/// Character-level edit counts summed over line pairs, as jiwer's `cer`: each line is
/// trimmed, then every character (Unicode scalar value) counts, spaces included.
pub fn character_errors<R: AsRef<str>, H: AsRef<str>>(
    reference: &[R],
    hypothesis: &[H],
) -> Result<EditCounts, LineCountMismatch> {
    check_line_counts(reference, hypothesis)?;
    let chars = |line: &str| line.trim().chars().collect::<Vec<char>>();
    Ok(reference
        .iter()
        .zip(hypothesis)
        .map(|(r, h)| align(&chars(r.as_ref()), &chars(h.as_ref())))
        .sum())
}

/// Both error rates of a corpus.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ErrorRates {
    pub unit: ScoringUnit,
    /// Edits between the units of [`ErrorRates::unit`]; their error rate is the WER.
    pub words: EditCounts,
    pub characters: EditCounts,
}

impl ErrorRates {
    /// Scores line-aligned texts (normalise them first: see [`super::TextNormalizer`]).
    pub fn score<R: AsRef<str>, H: AsRef<str>>(
        reference: &[R],
        hypothesis: &[H],
        unit: ScoringUnit,
    ) -> Result<ErrorRates, LineCountMismatch> {
        Ok(ErrorRates {
            unit,
            words: word_errors(reference, hypothesis, unit)?,
            characters: character_errors(reference, hypothesis)?,
        })
    }

    pub fn wer(&self) -> f64 {
        self.words.error_rate()
    }

    pub fn cer(&self) -> f64 {
        self.characters.error_rate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_without_spaces_use_characters() {
        assert_eq!(
            ScoringUnit::for_language(Some("th")),
            ScoringUnit::Characters
        );
        assert_eq!(
            ScoringUnit::for_language(Some("yue")),
            ScoringUnit::Characters
        );
        assert_eq!(ScoringUnit::for_language(Some("en")), ScoringUnit::Words);
        assert_eq!(ScoringUnit::for_language(None), ScoringUnit::Words);
    }

    #[test]
    fn character_units_are_grapheme_clusters_without_spaces() {
        // "กี่" is KO KAI + SARA II + MAI EK: one cluster of three code points.
        assert_eq!(ScoringUnit::Characters.split("กี่ คน"), ["กี่", "ค", "น"]);
        assert_eq!(
            ScoringUnit::Characters.split("你好 世界"),
            ["你", "好", "世", "界"]
        );
    }

    #[test]
    fn chinese_scored_by_character() {
        // One substituted character out of four.
        let rates =
            ErrorRates::score(&["你好世界"], &["你好世间"], ScoringUnit::Characters).unwrap();
        assert_eq!(rates.words.substitutions, 1);
        assert_eq!(rates.wer(), 0.25);
    }

    #[test]
    fn corpus_rate_sums_edits_over_lines() {
        // Line 1: 1 error in 1 word (rate 1.0); line 2: 0 errors in 3 words.
        // Corpus: 1 / 4, not the mean of line rates (0.5).
        let rates =
            ErrorRates::score(&["a", "b c d"], &["x", "b c d"], ScoringUnit::Words).unwrap();
        assert_eq!(rates.wer(), 0.25);
    }

    #[test]
    fn mismatched_line_counts_are_an_error() {
        let error = word_errors(&["a", "b"], &["a"], ScoringUnit::Words).unwrap_err();
        assert_eq!(
            error,
            LineCountMismatch {
                reference_lines: 2,
                hypothesis_lines: 1
            }
        );
        assert!(error.to_string().contains("reference has 2 lines"));
        assert!(character_errors(&["a"], &["a", "b"]).is_err());
    }
}
