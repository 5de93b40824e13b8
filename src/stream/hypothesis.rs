//! What one decoding of the live buffer produced: segments of words with times relative to
//! the start of the buffer, the language and expert it was decoded with, and the conversion
//! from a transcript's segments.

use serde::Serialize;

use crate::decode::fallback::is_repetitive;
use crate::decode::longform::Segment;
use crate::decode::DecodeOptions;

/// One word (leading space and punctuation included, as Whisper writes it) and its span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecognizedWord {
    #[serde(rename = "word")]
    pub text: String,
    pub start: f64,
    pub end: f64,
}

/// One timestamped segment of a hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct RecognizedSegment {
    pub start: f64,
    pub end: f64,
    pub words: Vec<RecognizedWord>,
}

/// One decoding of the buffer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recognition {
    pub segments: Vec<RecognizedSegment>,
    /// The language it was decoded in (given or detected); `None` when the recogniser does
    /// not say.
    pub language: Option<String>,
    /// The language of the expert pack its tokens were routed through; `None` for the plain
    /// base model.
    pub expert: Option<String>,
}

impl From<Vec<RecognizedSegment>> for Recognition {
    /// A decoding that says nothing of its language or expert.
    fn from(segments: Vec<RecognizedSegment>) -> Self {
        Recognition {
            segments,
            ..Recognition::default()
        }
    }
}

/// The segments of a transcript as words, less those whose decoding repeats itself by the
/// long-form check of `options` (compression ratio above its threshold).
/// Word times come from the word-level alignment when the transcript has it; otherwise a
/// segment's span is shared among its whitespace-separated words in proportion to their
/// length, which is coarse but keeps the words in order in time (the commit policy drops
/// words by time).
pub fn hypothesis_from_segments(
    segments: &[Segment],
    options: &DecodeOptions,
) -> Vec<RecognizedSegment> {
    segments
        .iter()
        .filter(|s| !is_repetitive(options, s.compression_ratio))
        .map(|s| {
            let words = match &s.words {
                Some(words) if !words.is_empty() => words
                    .iter()
                    .map(|w| RecognizedWord {
                        text: w.word.clone(),
                        start: w.start,
                        end: w.end,
                    })
                    .collect(),
                _ => spread_words(&s.text, s.start, s.end),
            };
            RecognizedSegment {
                start: s.start,
                end: s.end,
                words,
            }
        })
        .collect()
}

/// Splits `text` into words and shares `[start, end]` among them by character count.
fn spread_words(text: &str, start: f64, end: f64) -> Vec<RecognizedWord> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let total: usize = words.iter().map(|w| w.chars().count()).sum();
    let span = (end - start).max(0.0);
    let mut at = start;
    words
        .iter()
        .map(|w| {
            let len = span * w.chars().count() as f64 / total.max(1) as f64;
            let word = RecognizedWord {
                text: format!(" {w}"),
                start: at,
                end: at + len,
            };
            at += len;
            word
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_words_covers_the_span_in_order() {
        let words = spread_words(" And so, my", 1.0, 3.0);
        let texts: Vec<_> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, [" And", " so,", " my"]);
        assert_eq!(words[0].start, 1.0);
        assert!((words[2].end - 3.0).abs() < 1e-9);
        assert!(words.windows(2).all(|p| p[0].end <= p[1].start + 1e-9));
        assert!(spread_words("  ", 0.0, 1.0).is_empty());
    }

    fn segment(text: &str, start: f64, end: f64) -> Segment {
        Segment {
            id: 0,
            seek: 0,
            start,
            end,
            text: text.to_string(),
            tokens: Vec::new(),
            temperature: 0.0,
            avg_logprob: -0.3,
            compression_ratio: crate::decode::fallback::compression_ratio(text),
            no_speech_prob: 0.0,
            words: None,
        }
    }

    #[test]
    fn a_repetitive_segment_is_left_out_of_the_hypothesis() {
        let looped = format!(" niggarding.{}", " 1.".repeat(40));
        let segments = [
            segment(" And tender churl makes waste in", 0.0, 2.0),
            segment(&looped, 2.0, 3.0),
        ];
        let options = DecodeOptions::default();
        assert!(is_repetitive(&options, segments[1].compression_ratio));
        assert!(!is_repetitive(&options, segments[0].compression_ratio));
        let hypothesis = hypothesis_from_segments(&segments, &options);
        assert_eq!(hypothesis.len(), 1);
        assert_eq!(hypothesis[0].words.len(), 6);
        assert_eq!(hypothesis[0].end, 2.0);
        // Without a threshold nothing is left out.
        let off = DecodeOptions {
            compression_ratio_threshold: None,
            ..DecodeOptions::default()
        };
        assert_eq!(hypothesis_from_segments(&segments, &off).len(), 2);
    }
}
