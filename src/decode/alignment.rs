//! Word timestamps from cross-attention (OpenAI `timing.py`): the attention of a few
//! "alignment heads" over the audio frames, for one teacher-forced pass of a window's text,
//! is standardised, median-filtered and averaged; dynamic time warping through it assigns each
//! token a frame; words start where their first token's frames begin. Pure CPU code; the GPU
//! pass that produces the attention lives in `transcribe.rs`.

use super::longform::Word;
use super::timestamps::TIME_PRECISION;

/// Median filter width along time.
const MEDIAN_WIDTH: usize = 7;
/// Punctuation merged into the following word.
pub const PREPEND_PUNCTUATIONS: &str = "\"'“¿([{-";
/// Punctuation merged into the preceding word.
pub const APPEND_PUNCTUATIONS: &str = "\"'.。,，!！?？:：”)]}、";

/// The cost matrix DTW runs on: `[rows, frames]` (rows = text tokens + EOT), from per-head
/// attention probabilities `[tokens, kv_frames]` over the whole teacher-forced sequence.
///
/// Each head's rows are renormalised over the first `frames` audio positions (= softmax of
/// the scores cut to the audio, as OpenAI computes it), standardised per frame over the
/// tokens, median-filtered along time; heads are averaged, and the rows of the
/// start-of-transcript sequence (`skip` rows) and the last one (EOT's own row) dropped.
pub fn alignment_matrix(
    heads: &[Vec<f32>],
    tokens: usize,
    kv_frames: usize,
    frames: usize,
    skip: usize,
) -> Vec<f32> {
    assert!(frames <= kv_frames && skip < tokens);
    let mut sum = vec![0.0f32; tokens * frames];
    for weights in heads {
        let mut w = vec![0.0f32; tokens * frames];
        for t in 0..tokens {
            let row = &weights[t * kv_frames..t * kv_frames + frames];
            let total: f32 = row.iter().sum();
            for (dst, &v) in w[t * frames..(t + 1) * frames].iter_mut().zip(row) {
                *dst = v / total.max(f32::MIN_POSITIVE);
            }
        }
        for f in 0..frames {
            let mean = (0..tokens).map(|t| w[t * frames + f]).sum::<f32>() / tokens as f32;
            let var = (0..tokens)
                .map(|t| (w[t * frames + f] - mean).powi(2))
                .sum::<f32>()
                / tokens as f32;
            // Where every token attends alike (one frame, or weights that underflowed) the
            // deviation is 0: standardised values are 0 there, not 0/0 = NaN, which would
            // take the DTW path off the matrix.
            let std = var.sqrt();
            for t in 0..tokens {
                let centred = w[t * frames + f] - mean;
                w[t * frames + f] = if std > 0.0 { centred / std } else { 0.0 };
            }
        }
        for t in 0..tokens {
            let filtered = median_filter(&w[t * frames..(t + 1) * frames], MEDIAN_WIDTH);
            for (s, v) in sum[t * frames..(t + 1) * frames].iter_mut().zip(filtered) {
                *s += v;
            }
        }
    }
    let n = heads.len().max(1) as f32;
    sum[skip * frames..(tokens - 1) * frames]
        .iter()
        .map(|v| v / n)
        .collect()
}

/// Median over a sliding window of odd `width`, the signal reflect-padded at both ends
/// (torch `F.pad(mode="reflect")`); signals shorter than the half-width are returned as is.
pub fn median_filter(x: &[f32], width: usize) -> Vec<f32> {
    let half = width / 2;
    if x.len() <= half {
        return x.to_vec();
    }
    let at = |i: isize| -> f32 {
        let n = x.len() as isize;
        let j = if i < 0 {
            -i
        } else if i >= n {
            2 * (n - 1) - i
        } else {
            i
        };
        x[j as usize]
    };
    let mut window = vec![0.0f32; width];
    (0..x.len() as isize)
        .map(|i| {
            for (k, w) in window.iter_mut().enumerate() {
                *w = at(i + k as isize - half as isize);
            }
            window.sort_by(f32::total_cmp);
            window[half]
        })
        .collect()
}

/// Dynamic time warping through `cost` `[n, m]` from (0, 0) to (n-1, m-1) with diagonal,
/// down and right steps, ties broken as OpenAI's `dtw_cpu` does. Returns the path as (row,
/// column) index lists. Where the path runs along the matrix's edge (non-finite costs can
/// send it there), OpenAI's index −1 is clamped to 0, so every row and column is on it.
pub fn dtw(cost: &[f32], n: usize, m: usize) -> (Vec<usize>, Vec<usize>) {
    let w = m + 1;
    let mut acc = vec![f32::INFINITY; (n + 1) * w];
    let mut trace = vec![-1i8; (n + 1) * w];
    acc[0] = 0.0;
    for j in 1..=m {
        for i in 1..=n {
            let c0 = acc[(i - 1) * w + j - 1];
            let c1 = acc[(i - 1) * w + j];
            let c2 = acc[i * w + j - 1];
            let (c, t) = if c0 < c1 && c0 < c2 {
                (c0, 0)
            } else if c1 < c0 && c1 < c2 {
                (c1, 1)
            } else {
                (c2, 2)
            };
            acc[i * w + j] = cost[(i - 1) * m + j - 1] + c;
            trace[i * w + j] = t;
        }
    }
    trace[..=m].fill(2);
    for i in 0..=n {
        trace[i * w] = 1;
    }
    let (mut i, mut j) = (n, m);
    let (mut rows, mut cols) = (Vec::new(), Vec::new());
    while i > 0 || j > 0 {
        rows.push(i.saturating_sub(1));
        cols.push(j.saturating_sub(1));
        match trace[i * w + j] {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    rows.reverse();
    cols.reverse();
    (rows, cols)
}

/// A word as the aligner sees it: its text, its tokens, times relative to the window, and
/// the mean probability of its tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct WordTiming {
    pub word: String,
    pub tokens: Vec<u32>,
    pub start: f64,
    pub end: f64,
    pub probability: f64,
}

/// Word start/end times from the DTW path over `[text tokens + EOT]` rows. `word_tokens`
/// groups the text tokens into words (EOT last, as its own group); `token_probs` has one
/// probability per text token.
pub fn word_timings(
    words: &[(String, Vec<u32>)],
    rows: &[usize],
    cols: &[usize],
    token_probs: &[f64],
) -> Vec<WordTiming> {
    if words.len() <= 1 {
        return Vec::new();
    }
    // Frame at each point where the path moves to a new token row.
    let jump_times: Vec<f64> = (0..rows.len())
        .filter(|&k| k == 0 || rows[k] != rows[k - 1])
        .map(|k| cols[k] as f64 * TIME_PRECISION)
        .collect();
    let mut boundaries = vec![0usize];
    for (_, tokens) in &words[..words.len() - 1] {
        boundaries.push(boundaries.last().unwrap() + tokens.len());
    }
    let at = |i: usize| jump_times[i.min(jump_times.len() - 1)];
    words[..words.len() - 1]
        .iter()
        .enumerate()
        .map(|(w, (word, tokens))| {
            let (i, j) = (boundaries[w], boundaries[w + 1]);
            let probs = &token_probs[i.min(token_probs.len())..j.min(token_probs.len())];
            WordTiming {
                word: word.clone(),
                tokens: tokens.clone(),
                start: at(i),
                end: at(j),
                probability: if probs.is_empty() {
                    0.0
                } else {
                    probs.iter().sum::<f64>() / probs.len() as f64
                },
            }
        })
        .collect()
}

/// Merges leading punctuation words into the next word and trailing ones into the previous
/// (OpenAI `merge_punctuations`); merged-away entries keep empty text and no tokens.
pub fn merge_punctuations(alignment: &mut [WordTiming]) {
    let n = alignment.len();
    if n < 2 {
        return;
    }
    // Prepend: walk backwards.
    let mut i = n as isize - 2;
    let mut j = n as isize - 1;
    while i >= 0 {
        let (iu, ju) = (i as usize, j as usize);
        let previous = alignment[iu].word.clone();
        // `contains` is Python's substring `in`, as in the reference (an empty string is in
        // every string).
        if previous.starts_with(' ') && PREPEND_PUNCTUATIONS.contains(previous.trim()) {
            let tokens = std::mem::take(&mut alignment[iu].tokens);
            alignment[ju].word = previous + &alignment[ju].word;
            alignment[ju].tokens.splice(0..0, tokens);
            alignment[iu].word.clear();
        } else {
            j = i;
        }
        i -= 1;
    }
    // Append: walk forwards.
    let (mut i, mut j) = (0usize, 1usize);
    while j < n {
        let following = alignment[j].word.clone();
        if !alignment[i].word.ends_with(' ') && APPEND_PUNCTUATIONS.contains(following.as_str()) {
            let tokens = std::mem::take(&mut alignment[j].tokens);
            alignment[i].word.push_str(&following);
            alignment[i].tokens.extend(tokens);
            alignment[j].word.clear();
        } else {
            i = j;
        }
        j += 1;
    }
}

/// The median of the non-zero word durations, capped at 0.7 s (OpenAI's constant), used to
/// clip implausibly long words.
pub fn median_word_duration(alignment: &[WordTiming]) -> f64 {
    let mut d: Vec<f64> = alignment
        .iter()
        .map(|w| w.end - w.start)
        .filter(|&d| d != 0.0)
        .collect();
    if d.is_empty() {
        return 0.0;
    }
    d.sort_by(f64::total_cmp);
    let m = d.len();
    let median = if m % 2 == 1 {
        d[m / 2]
    } else {
        (d[m / 2 - 1] + d[m / 2]) / 2.0
    };
    median.min(0.7)
}

/// Clips words longer than twice the median duration at sentence boundaries (OpenAI's
/// "truncate long words" step), before punctuation is merged.
pub fn clip_long_words(alignment: &mut [WordTiming], median: f64) {
    let max = median * 2.0;
    if median == 0.0 {
        return;
    }
    const SENTENCE_END: &str = ".。!！?？";
    for i in 1..alignment.len() {
        if alignment[i].end - alignment[i].start > max {
            if SENTENCE_END.contains(alignment[i].word.as_str()) {
                alignment[i].end = alignment[i].start + max;
            } else if SENTENCE_END.contains(alignment[i - 1].word.as_str()) {
                alignment[i].start = alignment[i].end - max;
            }
        }
    }
}

/// Rounds to hundredths of a second as OpenAI's output does.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Distributes aligned words over the window's segments (by token count) and reconciles
/// word and segment times (OpenAI `add_word_timestamps`' last loop). `segments` are (start,
/// end, text-token count) and are updated in place; returns each segment's words.
pub fn assign_words(
    alignment: &[WordTiming],
    segments: &mut [(f64, f64, usize)],
    time_offset: f64,
    median: f64,
    last_speech: &mut f64,
) -> Vec<Vec<Word>> {
    let max = median * 2.0;
    let mut index = 0;
    let mut out = Vec::with_capacity(segments.len());
    for segment in segments.iter_mut() {
        let mut saved = 0;
        let mut words: Vec<Word> = Vec::new();
        while index < alignment.len() && saved < segment.2 {
            let timing = &alignment[index];
            if !timing.word.is_empty() {
                words.push(Word {
                    word: timing.word.clone(),
                    start: round2(time_offset + timing.start),
                    end: round2(time_offset + timing.end),
                    probability: timing.probability,
                });
            }
            saved += timing.tokens.len();
            index += 1;
        }
        if !words.is_empty() {
            let first_long = words[0].end - words[0].start > max;
            let pair_long = words.len() > 1 && words[1].end - words[0].start > max * 2.0;
            if words[0].end - *last_speech > median * 4.0 && (first_long || pair_long) {
                if words.len() > 1 && words[1].end - words[1].start > max {
                    let boundary = (words[1].end / 2.0).max(words[1].end - max);
                    words[0].end = boundary;
                    words[1].start = boundary;
                }
                words[0].start = (words[0].end - max).max(0.0);
            }
            if segment.0 < words[0].end && segment.0 - 0.5 > words[0].start {
                words[0].start = (words[0].end - median).min(segment.0).max(0.0);
            } else {
                segment.0 = words[0].start;
            }
            let last = words.len() - 1;
            if segment.1 > words[last].start && segment.1 + 0.5 < words[last].end {
                words[last].end = (words[last].start + median).max(segment.1);
            } else {
                segment.1 = words[last].end;
            }
            *last_speech = segment.1;
        }
        out.push(words);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_filter_reflects_at_the_edges() {
        let x = [5.0, 1.0, 9.0, 3.0, 7.0];
        // width 3, reflect: [1,5,1] → 1; [5,1,9] → 5; [1,9,3] → 3; [9,3,7] → 7; [3,7,3] → 3
        assert_eq!(median_filter(&x, 3), vec![1.0, 5.0, 3.0, 7.0, 3.0]);
        assert_eq!(median_filter(&[2.0], 7), vec![2.0]);
    }

    #[test]
    fn dtw_follows_the_cheap_diagonal() {
        // A 3×5 cost with a clear low path: row 0 on columns 0-1, row 1 on 2-3, row 2 on 4.
        let mut cost = vec![1.0f32; 15];
        for &(i, j) in &[(0, 0), (0, 1), (1, 2), (1, 3), (2, 4)] {
            cost[i * 5 + j] = -1.0;
        }
        let (rows, cols) = dtw(&cost, 3, 5);
        assert_eq!(rows, vec![0, 0, 1, 1, 2]);
        assert_eq!(cols, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn words_start_where_their_first_token_jumps_in() {
        let words = vec![
            (" And".to_string(), vec![1]),
            (" so".to_string(), vec![2, 3]),
            ("<|endoftext|>".to_string(), vec![9]),
        ];
        // Path rows (tokens 0..3 incl. EOT) over frames 0..7.
        let rows = vec![0, 0, 1, 1, 2, 2, 3, 3];
        let cols = vec![0, 1, 2, 3, 4, 5, 6, 7];
        let w = word_timings(&words, &rows, &cols, &[0.9, 0.5, 0.7]);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].start, w[0].end), (0.0, 2.0 * TIME_PRECISION));
        assert_eq!(
            (w[1].start, w[1].end),
            (2.0 * TIME_PRECISION, 6.0 * TIME_PRECISION)
        );
        assert!((w[1].probability - 0.6).abs() < 1e-12);
    }

    fn timing(word: &str) -> WordTiming {
        WordTiming {
            word: word.into(),
            tokens: vec![0],
            start: 0.0,
            end: 0.0,
            probability: 1.0,
        }
    }

    #[test]
    fn punctuation_joins_its_neighbours() {
        let mut a: Vec<WordTiming> = [" \"", "Hello", ",", " world", "!", "\""]
            .iter()
            .map(|w| timing(w))
            .collect();
        merge_punctuations(&mut a);
        let words: Vec<&str> = a.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(words, vec!["", " \"Hello,", "", " world!\"", "", ""]);
        assert_eq!(a[1].tokens.len(), 3);
    }

    #[test]
    fn standardised_matrix_drops_the_prompt_and_eot_rows() {
        // 4 tokens (1 prompt row, 2 text rows, EOT), 3 audio frames of 5 attended.
        let head: Vec<f32> = (0..20).map(|i| 1.0 + (i % 7) as f32).collect();
        let m = alignment_matrix(&[head], 4, 5, 3, 1);
        assert_eq!(m.len(), 2 * 3);
        assert!(m.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn one_frame_or_equal_attention_standardises_to_zero_not_nan() {
        // One audio frame: every token's renormalised weight is 1, the deviation 0. A short
        // buffer in live transcription gave this; the NaNs sent DTW off the matrix (a panic).
        let head = vec![0.5f32; 4 * 2];
        let m = alignment_matrix(&[head], 4, 2, 1, 1);
        assert_eq!(m, vec![0.0, 0.0]);
        // Weights that underflowed to 0 over the audio frames: the same.
        let head = vec![0.0f32; 4 * 3];
        assert!(alignment_matrix(&[head], 4, 3, 3, 1)
            .iter()
            .all(|&v| v == 0.0));
    }

    #[test]
    fn dtw_through_non_finite_costs_stays_on_the_matrix() {
        for (n, m) in [(3, 5), (5, 2), (1, 4), (4, 1)] {
            for bad in [f32::NAN, f32::INFINITY] {
                let (rows, cols) = dtw(&vec![bad; n * m], n, m);
                assert_eq!((rows[0], cols[0]), (0, 0), "{n}×{m} {bad}");
                assert_eq!(
                    (*rows.last().unwrap(), *cols.last().unwrap()),
                    (n - 1, m - 1)
                );
                assert!(
                    rows.windows(2).all(|r| r[1] >= r[0]) && cols.windows(2).all(|c| c[1] >= c[0])
                );
                let covered: std::collections::BTreeSet<_> = rows.iter().collect();
                assert_eq!(covered.len(), n, "every row on the path: {rows:?}");
            }
        }
    }
}
