//! The checks that decide whether a window's decoding is kept, retried at a higher
//! temperature or skipped as silence (OpenAI `decode_with_fallback` and `transcribe`), and
//! the ranking of sampled candidates.

use std::io::Write;

use super::options::DecodeOptions;

/// UTF-8 bytes of `text` over its zlib-compressed bytes: high for repetitive text.
pub fn compression_ratio(text: &str) -> f64 {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    z.write_all(bytes).expect("zlib into memory");
    let compressed = z.finish().expect("zlib into memory");
    bytes.len() as f64 / compressed.len() as f64
}

/// What the checks say of one decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it.
    Accept,
    /// Too repetitive or too unlikely: try the next temperature.
    Retry,
}

/// Whether text of this compression ratio repeats itself: above the threshold (`None`: never).
pub fn is_repetitive(options: &DecodeOptions, compression_ratio: f64) -> bool {
    options
        .compression_ratio_threshold
        .is_some_and(|t| compression_ratio > f64::from(t))
}

/// Whether a decoding passes: not too repetitive, not too unlikely — unless the window looks
/// like silence, where a low probability is expected and retrying does not help.
pub fn verdict(
    options: &DecodeOptions,
    compression_ratio: f64,
    avg_logprob: f64,
    no_speech_prob: f64,
) -> Verdict {
    let repetitive = is_repetitive(options, compression_ratio);
    let unlikely = options
        .logprob_threshold
        .is_some_and(|t| avg_logprob < f64::from(t));
    let silence = options
        .no_speech_threshold
        .is_some_and(|t| no_speech_prob > f64::from(t))
        && unlikely;
    if (repetitive || unlikely) && !silence {
        Verdict::Retry
    } else {
        Verdict::Accept
    }
}

/// Whether the window is skipped as silence: `<|nospeech|>` above its threshold, unless the
/// text is likely enough anyway.
pub fn is_silence(options: &DecodeOptions, no_speech_prob: f64, avg_logprob: f64) -> bool {
    let Some(threshold) = options.no_speech_threshold else {
        return false;
    };
    let confident = options
        .logprob_threshold
        .is_some_and(|t| avg_logprob > f64::from(t));
    no_speech_prob > f64::from(threshold) && !confident
}

/// Ranking score of a candidate: its summed log-probability over its length, or over
/// ((5 + length) / 6)^α with a length penalty α (Google NMT).
pub fn candidate_score(sum_logprob: f64, length: usize, length_penalty: Option<f32>) -> f64 {
    let length = length as f64;
    let penalty = match length_penalty {
        None => length,
        Some(alpha) => ((5.0 + length) / 6.0).powf(f64::from(alpha)),
    };
    sum_logprob / penalty.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_compresses_well() {
        let plain = compression_ratio(
            "And so my fellow Americans, ask not what your country can do for you.",
        );
        let looped = compression_ratio(&"thank you. ".repeat(40));
        assert!(plain < 1.5, "{plain}");
        assert!(looped > 2.4, "{looped}");
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn verdicts_follow_the_thresholds() {
        let o = DecodeOptions::default();
        assert_eq!(verdict(&o, 1.2, -0.3, 0.01), Verdict::Accept);
        assert_eq!(verdict(&o, 3.0, -0.3, 0.01), Verdict::Retry, "repetitive");
        assert_eq!(verdict(&o, 1.2, -1.5, 0.01), Verdict::Retry, "unlikely");
        // Unlikely but silent: retrying would not help.
        assert_eq!(verdict(&o, 1.2, -1.5, 0.9), Verdict::Accept);
        // Repetitive and silent-looking but likely: still repetitive.
        assert_eq!(verdict(&o, 3.0, -0.3, 0.9), Verdict::Retry);
        let off = DecodeOptions {
            compression_ratio_threshold: None,
            logprob_threshold: None,
            ..DecodeOptions::default()
        };
        assert_eq!(verdict(&off, 9.0, -9.0, 0.0), Verdict::Accept);
    }

    #[test]
    fn silence_needs_no_speech_and_low_confidence() {
        let o = DecodeOptions::default();
        assert!(is_silence(&o, 0.9, -1.2));
        assert!(!is_silence(&o, 0.9, -0.5), "confident text is kept");
        assert!(!is_silence(&o, 0.3, -1.2));
        let off = DecodeOptions {
            no_speech_threshold: None,
            ..DecodeOptions::default()
        };
        assert!(!is_silence(&off, 1.0, -5.0));
    }

    #[test]
    fn ranking_divides_by_length_or_penalty() {
        assert_eq!(candidate_score(-10.0, 5, None), -2.0);
        let alpha = candidate_score(-10.0, 7, Some(1.0));
        assert!((alpha - -10.0 / 2.0).abs() < 1e-12);
        // Longer candidates with the same total are preferred.
        assert!(candidate_score(-10.0, 10, None) > candidate_score(-10.0, 5, None));
    }
}
