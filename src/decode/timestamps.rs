//! Whisper's timestamp rules (OpenAI `ApplyTimestampRules`) as the per-step filter the
//! token-pick kernel applies. The host knows every token sampled so far (it reads each one
//! back), so it derives the few numbers the rules need; the kernel applies them, and also the
//! rule that depends on the logits themselves (timestamp probability mass above the best text
//! token forces a timestamp).
//!
//! Timestamp tokens start at `<|0.00|>` and step by 0.02 s (two mel frames, one encoder frame).

use crate::ops::token_pick::TimestampFilter;

/// Seconds per timestamp step.
pub const TIME_PRECISION: f64 = 0.02;
/// Mel frames per timestamp step (the encoder's stride-2 convolution).
pub const INPUT_STRIDE: usize = 2;

/// The filter for the next token after `sampled` (the tokens generated after the prompt).
///
/// - never a timestamp after two timestamps in a row (or after the first one);
/// - never text (ids below EOT) right after a timestamp that follows text, so timestamps pair;
/// - timestamps never decrease, and a closing timestamp is above its opening one;
/// - the first token is a timestamp no later than `max_initial` steps (when given).
pub fn timestamp_filter(
    sampled: &[u32],
    ts_begin: u32,
    vocab_size: u32,
    max_initial: Option<u32>,
) -> TimestampFilter {
    let is_ts = |t: u32| t >= ts_begin;
    let last_ts = sampled.last().is_some_and(|&t| is_ts(t));
    let penultimate_ts = sampled.len() < 2 || is_ts(sampled[sampled.len() - 2]);
    let closing = last_ts && !penultimate_ts;
    let min = match sampled.iter().rev().find(|&&t| is_ts(t)) {
        // A timestamp may repeat the last one only to close a segment that has text.
        Some(&last) if closing => last,
        Some(&last) => last + 1,
        None => ts_begin,
    };
    let first = sampled.is_empty();
    let max = match max_initial {
        Some(steps) if first => (ts_begin + steps).min(vocab_size - 1),
        _ => vocab_size - 1,
    };
    TimestampFilter {
        first,
        no_timestamp: last_ts && penultimate_ts,
        no_text: closing,
        min,
        max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u32 = 100; // <|0.00|>
    const V: u32 = 200;

    #[test]
    fn first_token_is_an_early_timestamp() {
        let f = timestamp_filter(&[], TS, V, Some(50));
        assert!(f.first && !f.no_timestamp && !f.no_text);
        assert_eq!((f.min, f.max), (TS, TS + 50));
        assert_eq!(timestamp_filter(&[], TS, V, None).max, V - 1);
    }

    #[test]
    fn an_opening_timestamp_wants_text() {
        // After the first timestamp (penultimate counts as one: nothing before it).
        let f = timestamp_filter(&[TS + 3], TS, V, Some(50));
        assert!(f.no_timestamp && !f.no_text && !f.first);
        assert_eq!(f.min, TS + 4);
        assert_eq!(f.max, V - 1);
    }

    #[test]
    fn text_then_timestamp_closes_a_segment() {
        let f = timestamp_filter(&[TS + 3, 7, TS + 9], TS, V, None);
        assert!(f.no_text && !f.no_timestamp);
        // The next opening timestamp may equal the closing one.
        assert_eq!(f.min, TS + 9);
    }

    #[test]
    fn a_closed_pair_wants_text() {
        let f = timestamp_filter(&[TS + 3, 7, TS + 9, TS + 9], TS, V, None);
        assert!(f.no_timestamp && !f.no_text);
        assert_eq!(f.min, TS + 10);
    }

    #[test]
    fn inside_text_the_segment_end_is_after_its_start() {
        let f = timestamp_filter(&[TS + 3, 7, 8], TS, V, None);
        assert!(!f.no_timestamp && !f.no_text);
        assert_eq!(f.min, TS + 4);
    }
}
