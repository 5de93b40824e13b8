//! The long-form walk of OpenAI `transcribe()`: a `seek` position (in mel frames) moves
//! through the file window by window; each window's tokens split into segments at pairs of
//! timestamps, and the last timestamp says how far the next window starts. Pure arithmetic,
//! no GPU.

use serde::Serialize;

use super::timestamps::{INPUT_STRIDE, TIME_PRECISION};
use crate::audio::{HOP_LENGTH, SAMPLE_RATE};

/// One stretch of transcribed speech.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Segment {
    pub id: usize,
    /// Mel frame where the window this segment came from started.
    pub seek: usize,
    /// Seconds from the start of the audio.
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// The segment's tokens, timestamp tokens included.
    pub tokens: Vec<u32>,
    /// Temperature of the decoding the segment comes from.
    pub temperature: f32,
    pub avg_logprob: f64,
    pub compression_ratio: f64,
    pub no_speech_prob: f64,
    /// Per-word times, when word timestamps were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<Word>>,
}

/// One word with its times and the probability of its tokens.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Word {
    pub word: String,
    pub start: f64,
    pub end: f64,
    pub probability: f64,
}

/// A piece of a window's tokens with its times, before it becomes a [`Segment`].
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub start: f64,
    pub end: f64,
    pub tokens: Vec<u32>,
}

/// How a window's tokens split, and how many mel frames `seek` advances.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowSplit {
    pub pieces: Vec<Piece>,
    pub advance: usize,
    /// The tokens ended in one timestamp after text: the speech ran to the window's end.
    pub single_timestamp_ending: bool,
}

/// Seconds of `frames` mel frames.
pub fn frames_to_seconds(frames: usize) -> f64 {
    (frames * HOP_LENGTH) as f64 / f64::from(SAMPLE_RATE)
}

/// Splits a window's generated `tokens` (EOT excluded) into pieces at each pair of
/// consecutive timestamps. `time_offset` is the window's start in seconds and `window_frames`
/// the mel frames of real audio it holds (≤ 3000).
///
/// - With pairs: one piece per pair-delimited stretch. If the tokens end in a single
///   timestamp (the speech ran to the window's end), the rest is a piece too and `seek`
///   advances a whole window; otherwise it advances to the last closing timestamp, so the
///   unfinished speech after it is decoded again in the next window.
/// - Without pairs: one piece for the whole window, ending at its last timestamp if there is
///   one beyond `<|0.00|>`, and `seek` advances a whole window.
pub fn split_window(
    tokens: &[u32],
    ts_begin: u32,
    time_offset: f64,
    window_frames: usize,
) -> WindowSplit {
    let is_ts = |t: u32| t >= ts_begin;
    let time_of = |t: u32| time_offset + f64::from(t - ts_begin) * TIME_PRECISION;
    let single_timestamp_ending =
        tokens.len() >= 2 && !is_ts(tokens[tokens.len() - 2]) && is_ts(tokens[tokens.len() - 1]);
    // Indices i where tokens[i - 1] and tokens[i] are both timestamps.
    let mut slices: Vec<usize> = (1..tokens.len())
        .filter(|&i| is_ts(tokens[i - 1]) && is_ts(tokens[i]))
        .collect();
    if slices.is_empty() {
        let duration = match tokens.iter().rev().find(|&&t| is_ts(t)) {
            Some(&last) if last != ts_begin => f64::from(last - ts_begin) * TIME_PRECISION,
            _ => frames_to_seconds(window_frames),
        };
        return WindowSplit {
            pieces: vec![Piece {
                start: time_offset,
                end: time_offset + duration,
                tokens: tokens.to_vec(),
            }],
            advance: window_frames,
            single_timestamp_ending,
        };
    }
    if single_timestamp_ending {
        slices.push(tokens.len());
    }
    let mut pieces = Vec::with_capacity(slices.len());
    let mut last = 0;
    for &slice in &slices {
        let piece = &tokens[last..slice];
        pieces.push(Piece {
            start: time_of(piece[0]),
            end: time_of(piece[piece.len() - 1]),
            tokens: piece.to_vec(),
        });
        last = slice;
    }
    let advance = if single_timestamp_ending {
        window_frames
    } else {
        (tokens[last - 1] - ts_begin) as usize * INPUT_STRIDE
    };
    WindowSplit {
        pieces,
        advance,
        single_timestamp_ending,
    }
}

/// The decoder prompt of a window: `<|startofprev|>` and the last `n_ctx / 2 - 1` previous
/// tokens (when there are any), the start-of-transcript sequence, and `<|notimestamps|>`
/// without timestamps. Returns the prompt and the index of `<|startoftranscript|>`.
pub fn window_prompt(
    sot_prev: Option<u32>,
    previous: &[u32],
    sot_sequence: &[u32],
    no_timestamps: Option<u32>,
    n_ctx: usize,
) -> (Vec<u32>, usize) {
    let mut prompt = Vec::new();
    if let (Some(prev), false) = (sot_prev, previous.is_empty()) {
        let keep = (n_ctx / 2).saturating_sub(1);
        prompt.push(prev);
        prompt.extend_from_slice(&previous[previous.len().saturating_sub(keep)..]);
    }
    let sot_index = prompt.len();
    prompt.extend_from_slice(sot_sequence);
    prompt.extend(no_timestamps);
    (prompt, sot_index)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u32 = 1000;

    fn ts(seconds: f64) -> u32 {
        TS + (seconds / TIME_PRECISION).round() as u32
    }

    #[test]
    fn pairs_split_and_seek_to_the_last_closing_timestamp() {
        // <0.00> a b <2.00><2.40> c <5.00><5.00> d   (unfinished last segment)
        let tokens = [ts(0.0), 1, 2, ts(2.0), ts(2.4), 3, ts(5.0), ts(5.0), 4];
        let split = split_window(&tokens, TS, 30.0, 3000);
        assert_eq!(split.pieces.len(), 2);
        assert_eq!(split.pieces[0].tokens, vec![ts(0.0), 1, 2, ts(2.0)]);
        assert!((split.pieces[0].start - 30.0).abs() < 1e-9);
        assert!((split.pieces[0].end - 32.0).abs() < 1e-9);
        assert_eq!(split.pieces[1].tokens, vec![ts(2.4), 3, ts(5.0)]);
        assert!((split.pieces[1].start - 32.4).abs() < 1e-9);
        assert!((split.pieces[1].end - 35.0).abs() < 1e-9);
        // The text after <5.00> is decoded again: seek moves 5 s = 500 frames.
        assert_eq!(split.advance, 500);
    }

    #[test]
    fn a_single_timestamp_ending_takes_the_whole_window() {
        let tokens = [ts(0.0), 1, ts(3.0), ts(3.5), 2, ts(9.0)];
        let split = split_window(&tokens, TS, 0.0, 1200);
        assert_eq!(split.pieces.len(), 2);
        assert_eq!(split.pieces[1].tokens, vec![ts(3.5), 2, ts(9.0)]);
        assert!((split.pieces[1].end - 9.0).abs() < 1e-9);
        assert_eq!(split.advance, 1200);
    }

    #[test]
    fn without_pairs_one_segment_for_the_window() {
        let tokens = [ts(0.0), 1, 2, ts(4.2)];
        let split = split_window(&tokens, TS, 10.0, 3000);
        assert_eq!(split.pieces.len(), 1);
        assert!((split.pieces[0].start - 10.0).abs() < 1e-9);
        assert!((split.pieces[0].end - 14.2).abs() < 1e-9);
        assert_eq!(split.advance, 3000);
        // No timestamps at all (timestamps off): the window's length.
        let split = split_window(&[1, 2, 3], TS, 0.0, 1100);
        assert!((split.pieces[0].end - 11.0).abs() < 1e-9);
        assert_eq!(split.advance, 1100);
        // Only <|0.00|>: the window's length too.
        let split = split_window(&[ts(0.0), 5], TS, 0.0, 3000);
        assert!((split.pieces[0].end - 30.0).abs() < 1e-9);
    }

    #[test]
    fn prompts_keep_the_last_previous_tokens() {
        let sot_seq = [7, 8, 9];
        let (p, i) = window_prompt(Some(5), &[], &sot_seq, Some(6), 448);
        assert_eq!((p, i), (vec![7, 8, 9, 6], 0));
        let previous: Vec<u32> = (0..300).map(|t| t + 100).collect();
        let (p, i) = window_prompt(Some(5), &previous, &sot_seq, None, 448);
        assert_eq!(i, 224);
        assert_eq!(p[0], 5);
        assert_eq!(p[1], 100 + 300 - 223);
        assert_eq!(&p[224..], &sot_seq);
    }
}
