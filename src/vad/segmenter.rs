//! Turns per-chunk speech probabilities into utterances: hysteresis thresholds, a minimum
//! speech length before an utterance opens, pre-roll so leading syllables are kept, and a
//! minimum silence before it closes. Pure logic on probabilities; positions are in samples.

use super::{CHUNK, SAMPLE_RATE};
use crate::{Error, Result};

/// Tuning of [`Segmenter`] (and [`super::VoiceActivity`]).
#[derive(Debug, Clone, PartialEq)]
pub struct VadOptions {
    /// A chunk with P(speech) at or above this counts as speech.
    pub threshold: f32,
    /// Inside an utterance a chunk counts as silence only below this; `None` means
    /// `threshold − 0.15` (at least 0.01), as Silero's own tools do.
    pub neg_threshold: Option<f32>,
    /// Speech must last this long (without a pause of `onset_gap_ms`) before an utterance
    /// opens; shorter blips such as clicks are ignored.
    pub min_speech_ms: u32,
    /// Before an utterance opens, a dip below the negative threshold shorter than this does
    /// not restart the count: soft onsets dip between syllables (jfk.wav's "ask" is 190 ms
    /// of speech, 64 ms below, then "not"), and restarting lost them to the pre-roll.
    /// Silero's own tools split speech at 100 ms of silence.
    pub onset_gap_ms: u32,
    /// Silence needed to close an utterance.
    pub min_silence_ms: u32,
    /// Audio kept before the first speech chunk, so leading syllables are not cut.
    pub pre_roll_ms: u32,
    /// Audio kept after the last speech chunk (never more than the silence that closed it).
    pub post_roll_ms: u32,
}

impl Default for VadOptions {
    fn default() -> Self {
        VadOptions {
            threshold: 0.5,
            neg_threshold: None,
            min_speech_ms: 250,
            onset_gap_ms: 100,
            min_silence_ms: 500,
            pre_roll_ms: 300,
            post_roll_ms: 100,
        }
    }
}

impl VadOptions {
    fn neg(&self) -> f32 {
        self.neg_threshold
            .unwrap_or((self.threshold - 0.15).max(0.01))
    }

    /// Checks that the thresholds make sense.
    pub fn validate(&self) -> Result<()> {
        let t = self.threshold;
        if !(t > 0.0 && t < 1.0) {
            return Err(Error::InvalidInput(format!(
                "VAD threshold must lie strictly between 0 and 1, got {t}"
            )));
        }
        let n = self.neg();
        if !(n > 0.0 && n <= t) {
            return Err(Error::InvalidInput(format!(
                "VAD negative threshold must lie in (0, threshold = {t}], got {n}"
            )));
        }
        Ok(())
    }
}

/// A stretch of speech, in samples from the start of the stream: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechSegment {
    pub start: u64,
    pub end: u64,
}

impl SpeechSegment {
    pub fn start_seconds(&self) -> f64 {
        self.start as f64 / f64::from(SAMPLE_RATE)
    }
    pub fn end_seconds(&self) -> f64 {
        self.end as f64 / f64::from(SAMPLE_RATE)
    }
}

/// What the segmenter reports as audio goes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// An utterance opened; it starts at sample `start` (pre-roll included), which may lie
    /// before the chunk that triggered it.
    SpeechStart { start: u64 },
    /// The open utterance closed.
    SpeechEnd(SpeechSegment),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Silence,
    /// Speech began at `since` but has not yet lasted `min_speech_ms`; `silence_since` is
    /// set while below the negative threshold.
    Candidate {
        since: u64,
        silence_since: Option<u64>,
    },
    /// Inside an utterance; `silence_since` is set while below the negative threshold.
    Speech {
        start: u64,
        silence_since: Option<u64>,
    },
}

/// The utterance state machine over consecutive 512-sample chunks.
#[derive(Debug, Clone)]
pub struct Segmenter {
    options: VadOptions,
    neg: f32,
    state: State,
    /// Samples consumed so far (the start of the next chunk).
    position: u64,
    /// End of the last closed utterance; a new one never starts before it.
    last_end: u64,
}

fn ms_to_samples(ms: u32) -> u64 {
    u64::from(ms) * u64::from(SAMPLE_RATE) / 1000
}

impl Segmenter {
    pub fn new(options: VadOptions) -> Result<Self> {
        options.validate()?;
        Ok(Segmenter {
            neg: options.neg(),
            options,
            state: State::Silence,
            position: 0,
            last_end: 0,
        })
    }

    pub fn options(&self) -> &VadOptions {
        &self.options
    }

    /// Whether an utterance is open.
    pub fn in_speech(&self) -> bool {
        matches!(self.state, State::Speech { .. })
    }

    /// Whether an utterance is open and a chunk below the negative threshold came after its
    /// latest speech chunk: a pause, which closes the utterance if it lasts
    /// `min_silence_ms`.
    pub fn in_pause(&self) -> bool {
        matches!(
            self.state,
            State::Speech {
                silence_since: Some(_),
                ..
            }
        )
    }

    /// Samples consumed so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn reset(&mut self) {
        self.state = State::Silence;
        self.position = 0;
        self.last_end = 0;
    }

    /// Advances by one 512-sample chunk whose speech probability is `p`.
    pub fn push(&mut self, p: f32) -> Option<VadEvent> {
        let chunk_start = self.position;
        self.position += CHUNK as u64;
        let now = self.position;
        let speech = p >= self.options.threshold;
        let silent = p < self.neg;
        match self.state {
            State::Silence if speech => {
                self.state = State::Candidate {
                    since: chunk_start,
                    silence_since: None,
                };
                self.open_if_long_enough(now)
            }
            State::Silence => None,
            State::Candidate {
                since,
                silence_since,
            } if silent => {
                let silence_since = silence_since.unwrap_or(chunk_start);
                self.state = if now - silence_since >= ms_to_samples(self.options.onset_gap_ms) {
                    State::Silence
                } else {
                    State::Candidate {
                        since,
                        silence_since: Some(silence_since),
                    }
                };
                None
            }
            State::Candidate { since, .. } => {
                self.state = State::Candidate {
                    since,
                    silence_since: None,
                };
                self.open_if_long_enough(now)
            }
            State::Speech { start, .. } if speech => {
                self.state = State::Speech {
                    start,
                    silence_since: None,
                };
                None
            }
            State::Speech {
                start,
                silence_since,
            } => {
                let since = match (silence_since, silent) {
                    (Some(since), _) => since,
                    (None, true) => chunk_start,
                    (None, false) => return None,
                };
                if now - since >= ms_to_samples(self.options.min_silence_ms) {
                    Some(self.close(start, since, now))
                } else {
                    self.state = State::Speech {
                        start,
                        silence_since: Some(since),
                    };
                    None
                }
            }
        }
    }

    /// Ends the stream: closes an open utterance at the end of the audio (`total_samples`,
    /// which may be less than the samples consumed when the last chunk was padded).
    pub fn finish(&mut self, total_samples: u64) -> Option<VadEvent> {
        let end = total_samples.min(self.position);
        let event = match self.state {
            State::Speech {
                start,
                silence_since,
            } => Some(self.close(start, silence_since.unwrap_or(end).min(end), end)),
            _ => None,
        };
        self.state = State::Silence;
        event
    }

    fn open_if_long_enough(&mut self, now: u64) -> Option<VadEvent> {
        let State::Candidate { since, .. } = self.state else {
            return None;
        };
        if now - since < ms_to_samples(self.options.min_speech_ms).max(1) {
            return None;
        }
        let start = since
            .saturating_sub(ms_to_samples(self.options.pre_roll_ms))
            .max(self.last_end);
        self.state = State::Speech {
            start,
            silence_since: None,
        };
        Some(VadEvent::SpeechStart { start })
    }

    fn close(&mut self, start: u64, silence_since: u64, limit: u64) -> VadEvent {
        let end = (silence_since + ms_to_samples(self.options.post_roll_ms)).min(limit);
        self.state = State::Silence;
        self.last_end = end;
        VadEvent::SpeechEnd(SpeechSegment { start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: u64 = CHUNK as u64;

    fn run(probs: &[f32], options: VadOptions) -> Vec<(usize, VadEvent)> {
        let mut s = Segmenter::new(options).unwrap();
        let mut events: Vec<_> = probs
            .iter()
            .enumerate()
            .filter_map(|(i, &p)| s.push(p).map(|e| (i, e)))
            .collect();
        let total = s.position();
        events.extend(s.finish(total).map(|e| (probs.len(), e)));
        events
    }

    #[test]
    fn opens_with_pre_roll_and_closes_after_min_silence() {
        // 20 chunks silence, 30 speech, 40 silence. 32 ms chunks: 250 ms = 8 chunks,
        // 500 ms = 16 chunks (8000 samples = 15.6 chunks), pre-roll 300 ms = 4800 samples.
        let mut probs = vec![0.01; 20];
        probs.extend(vec![0.9; 30]);
        probs.extend(vec![0.02; 40]);
        let events = run(&probs, VadOptions::default());
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            events[0],
            (
                27,
                VadEvent::SpeechStart {
                    start: 20 * C - 4800
                }
            )
        );
        let (at, VadEvent::SpeechEnd(seg)) = events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(at, 50 + 15, "closes once 500 ms of silence have passed");
        assert_eq!(
            seg,
            SpeechSegment {
                start: 20 * C - 4800,
                end: 50 * C + 1600
            }
        );
    }

    #[test]
    fn a_pause_is_silence_inside_an_open_utterance() {
        let mut s = Segmenter::new(VadOptions::default()).unwrap();
        let mut pauses = Vec::new();
        // Silence, 10 chunks of speech (opens after 8), 5 below the negative threshold,
        // speech, then silence until the utterance closes (16 chunks).
        let probs = [
            vec![0.0; 3],
            vec![0.9; 10],
            vec![0.1; 5],
            vec![0.9; 3],
            vec![0.1; 16],
        ];
        for p in probs.concat() {
            s.push(p);
            pauses.push(s.in_pause());
        }
        let expected = [
            vec![false; 13],
            vec![true; 5],
            vec![false; 3],
            vec![true; 15],
            vec![false],
        ];
        assert_eq!(pauses, expected.concat());
        // Between the thresholds is neither speech nor silence: a pause goes on.
        let mut s = Segmenter::new(VadOptions::default()).unwrap();
        for p in [0.9; 10].into_iter().chain([0.1, 0.4]) {
            s.push(p);
        }
        assert!(s.in_pause());
    }

    #[test]
    fn hysteresis_and_short_blips() {
        let mut probs = vec![0.9; 3]; // a 96 ms click: shorter than min_speech
        probs.extend(vec![0.0; 10]);
        probs.extend(vec![0.9; 10]); // speech...
        probs.extend(vec![0.4; 40]); // ...then between thresholds: still speech
        probs.extend(vec![0.1; 5]); // a short pause does not close it
        probs.extend(vec![0.9; 5]);
        let events = run(&probs, VadOptions::default());
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(events[0].1, VadEvent::SpeechStart { start } if start == 13 * C - 4800));
        // Still open at the end: finish closes it at the end of the audio.
        assert_eq!(
            events[1],
            (
                probs.len(),
                VadEvent::SpeechEnd(SpeechSegment {
                    start: 13 * C - 4800,
                    end: probs.len() as u64 * C
                })
            )
        );
    }

    #[test]
    fn a_soft_onset_that_dips_briefly_is_not_lost() {
        // 190 ms of speech, a 64 ms dip below the negative threshold, speech again: the
        // utterance starts before the first syllable. With no gap allowed, the dip restarts
        // the count and the first syllable falls outside the pre-roll.
        let mut probs = vec![0.0; 20];
        probs.extend(vec![0.55; 6]);
        probs.extend(vec![0.25; 2]);
        probs.extend(vec![0.8; 20]);
        probs.extend(vec![0.0; 20]);
        let start_of = |options| match run(&probs, options)[0] {
            (_, VadEvent::SpeechStart { start }) => start,
            other => panic!("{other:?}"),
        };
        assert_eq!(start_of(VadOptions::default()), 20 * C - 4800);
        let strict = VadOptions {
            onset_gap_ms: 0,
            ..VadOptions::default()
        };
        assert_eq!(start_of(strict), 28 * C - 4800);
    }

    #[test]
    fn next_utterance_never_overlaps_the_previous() {
        let opts = VadOptions {
            min_silence_ms: 100,
            post_roll_ms: 100,
            ..VadOptions::default()
        };
        let mut probs = vec![0.9; 10];
        probs.extend(vec![0.0; 5]);
        probs.extend(vec![0.9; 10]);
        let events = run(&probs, opts);
        let ends: Vec<_> = events
            .iter()
            .filter_map(|(_, e)| match e {
                VadEvent::SpeechEnd(s) => Some(*s),
                _ => None,
            })
            .collect();
        assert_eq!(ends.len(), 2, "{events:?}");
        assert_eq!(ends[1].start, ends[0].end);
    }

    #[test]
    fn rejects_bad_thresholds() {
        for (t, n) in [
            (0.0, None),
            (1.0, None),
            (0.5, Some(0.6)),
            (f32::NAN, None),
            (0.5, Some(0.0)),
        ] {
            let opts = VadOptions {
                threshold: t,
                neg_threshold: n,
                ..VadOptions::default()
            };
            assert!(Segmenter::new(opts).is_err(), "threshold {t} neg {n:?}");
        }
    }
}
