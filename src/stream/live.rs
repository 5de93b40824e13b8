//! [`LiveTranscriber`]: the live transcription policy. Audio arrives in blocks; a speech
//! detector opens and closes utterances; while one is open, its buffer (the utterance less
//! the committed sentences trimmed from it) is re-transcribed every `update_interval`
//! seconds of audio and [`LocalAgreement`] decides which words are final. Committed words
//! are emitted once and never revised; the rest of the latest hypothesis is emitted as a
//! partial. When the utterance ends, its audio is transcribed a last time and everything
//! left is committed.
//!
//! The detector and the recogniser are traits so that the policy runs, and is tested, without
//! a GPU or model weights: [`VoiceActivity`] and a Whisper model are the real ones.
//! Only audio inside an utterance is ever passed to the recogniser.

use std::collections::HashMap;
use std::future::Future;

use serde::Serialize;

use super::agreement::{AgreementOptions, HypothesisSegment, LocalAgreement, TimedToken};
use super::hypothesis::{Recognition, RecognizedWord};
use crate::vad::{VadEvent, VoiceActivity, SAMPLE_RATE};
use crate::{Error, Result};

/// Decides where speech is: [`VadEvent`]s with sample positions counted from the first
/// pushed sample.
pub trait SpeechDetector {
    fn push(&mut self, samples: &[f32]) -> Result<Vec<VadEvent>>;
    /// End of the stream: closes an open utterance.
    fn finish(&mut self) -> Result<Vec<VadEvent>>;
    /// Whether an utterance is open and its speech paused: the utterance either goes on
    /// after the pause or closes when the pause lasts long enough.
    fn in_pause(&self) -> bool;
}

impl SpeechDetector for VoiceActivity {
    fn push(&mut self, samples: &[f32]) -> Result<Vec<VadEvent>> {
        VoiceActivity::push(self, samples)
    }
    fn finish(&mut self) -> Result<Vec<VadEvent>> {
        VoiceActivity::finish(self)
    }
    fn in_pause(&self) -> bool {
        VoiceActivity::in_pause(self)
    }
}

/// Transcribes a buffer of 16 kHz audio; times in the result are seconds from the start of
/// `audio`. `prompt` is text said just before the buffer (empty before anything was
/// committed). A recogniser that returns only segments can write `Ok(segments.into())`.
///
/// Asynchronous because the browser may not block on the GPU: the wasm bindings await
/// Whisper there, the CLI drives the same policy with `pollster::block_on`. Implement it with
/// `async fn recognize(...)`.
pub trait Recognizer {
    fn recognize(
        &mut self,
        audio: &[f32],
        prompt: &str,
    ) -> impl Future<Output = Result<Recognition>>;
}

/// Tuning of [`LiveTranscriber`].
#[derive(Debug, Clone, PartialEq)]
pub struct LiveOptions {
    /// Seconds of new audio between two transcriptions of the buffer.
    pub update_interval: f64,
    /// Seconds of audio an utterance must hold (its pre-roll included) before its first
    /// transcription, if that is later than `update_interval`. Under a second of speech
    /// Whisper mostly guesses ("As long as..." for "ask not"): such partials only flicker,
    /// and an utterance shorter than this is decoded once, when it ends.
    pub first_update: f64,
    /// Seconds of audio the buffer keeps before it is trimmed at the end of a committed
    /// segment: Whisper hears a word better with the speech before it than from a cut just
    /// ahead of it. Past `max_buffer` the buffer is cut all the same.
    pub trim_after: f64,
    /// Longest pause, in seconds (from the end of one utterance to the start of the next,
    /// pre-roll and post-roll included), across which the next utterance's buffer keeps the
    /// previous one's: its words are committed, and heard again as context for the new
    /// speech, as within an utterance, until the buffer holds `trim_after` seconds. 0 starts
    /// every utterance's buffer afresh (the earlier text is then only its prompt).
    pub carry_pause: f64,
    /// Tentative words that end less than this many seconds before the end of the decoded
    /// audio are left out of the partial: most are cut off by the buffer's end, and the
    /// next update writes them otherwise ("self-tune." for the start of "self-too cruel").
    /// They are shown by the update after, and committed as any other.
    pub partial_holdback: f64,
    /// Longest buffer, in seconds: Whisper sees at most 30 s, and long buffers make every
    /// update slow. A longer buffer is cut after its last committed word, or, when nothing
    /// in it was agreed on, its latest hypothesis is committed as it is and it is emptied.
    pub max_buffer: f64,
    pub agreement: AgreementOptions,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            update_interval: 1.0,
            first_update: 1.5,
            trim_after: 10.0,
            carry_pause: 0.0,
            partial_holdback: 0.1,
            max_buffer: 20.0,
            agreement: AgreementOptions::default(),
        }
    }
}

impl LiveOptions {
    pub fn validate(&self) -> Result<()> {
        let u = self.update_interval;
        if !(u.is_finite() && u >= 0.1) {
            return Err(Error::InvalidInput(format!(
                "update interval must be at least 0.1 s, got {u}"
            )));
        }
        let m = self.max_buffer;
        if !(m.is_finite() && m >= u && m <= 30.0) {
            return Err(Error::InvalidInput(format!(
                "maximum buffer must lie between the update interval ({u} s) and 30 s, got {m}"
            )));
        }
        let f = self.first_update;
        if !(f.is_finite() && (0.0..=m).contains(&f)) {
            return Err(Error::InvalidInput(format!(
                "first update must lie between 0 and the maximum buffer ({m} s), got {f}"
            )));
        }
        let t = self.trim_after;
        if !(t.is_finite() && t >= 0.0) {
            return Err(Error::InvalidInput(format!(
                "trim after must be 0 s or more, got {t}"
            )));
        }
        let c = self.carry_pause;
        if !(c.is_finite() && c >= 0.0) {
            return Err(Error::InvalidInput(format!(
                "carry pause must be 0 s or more, got {c}"
            )));
        }
        let h = self.partial_holdback;
        if !(h.is_finite() && h >= 0.0) {
            return Err(Error::InvalidInput(format!(
                "partial holdback must be 0 s or more, got {h}"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveEventKind {
    /// The tentative rest of the latest hypothesis; replaced by the next partial.
    Partial,
    /// Words that are final; commits only ever append.
    Commit,
}

/// What the transcriber reports. Times are seconds of stream audio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveEvent {
    #[serde(rename = "type")]
    pub kind: LiveEventKind,
    pub text: String,
    /// Start of the first word.
    pub start: f64,
    /// End of the last word.
    pub end: f64,
    /// Audio consumed when the event was emitted.
    pub emitted_at: f64,
    pub words: Vec<RecognizedWord>,
    /// The language of the decoding the event comes from (given, or detected on every
    /// update when none was given); `null` when the recogniser does not say.
    pub language: Option<String>,
    /// The language of the expert pack that decoding was routed through; `null` for the
    /// plain base model.
    pub expert: Option<String>,
}

/// Audio kept while no utterance is open: the detector reports an utterance's start up to
/// its pre-roll plus its minimum speech length in the past.
const HISTORY_SECONDS: f64 = 5.0;

/// Longest prompt, in characters, cut at a word boundary: the committed text just before the
/// buffer. Whisper conditions on it as on previous text in long-form decoding; without it, a
/// short utterance after a pause is heard without context (jfk.wav's "ask not" alone came
/// back as "Not!").
const PROMPT_CHARS: usize = 200;

fn seconds(samples: u64) -> f64 {
    samples as f64 / f64::from(SAMPLE_RATE)
}

fn samples_at(seconds: f64) -> u64 {
    (seconds.max(0.0) * f64::from(SAMPLE_RATE)).round() as u64
}

/// The open utterance.
#[derive(Debug, Clone)]
struct Utterance {
    /// Stream sample where the utterance starts (its pre-roll included).
    start: u64,
    /// Stream sample where the buffer starts: the utterance's start, or earlier when it
    /// carries the previous utterance's audio, or later once trimmed.
    buffer_start: u64,
    /// Stream sample up to which the buffer was last transcribed.
    decoded_until: u64,
}

/// What is left of an utterance once it closed: where its buffer started and where it ended.
#[derive(Debug, Clone, Copy)]
struct ClosedUtterance {
    buffer_start: u64,
    end: u64,
}

/// The prompt for a buffer starting at `before` seconds: the committed words that end by
/// then (earlier utterances, then the current one's trimmed words; those still in the
/// buffer are heard again), the last [`PROMPT_CHARS`] of their text, from a word's start.
fn prompt_before(committed: &[RecognizedWord], before: f64) -> String {
    let mut words = Vec::new();
    let mut chars = 0;
    for word in committed.iter().rev().skip_while(|w| w.end > before) {
        if chars > PROMPT_CHARS {
            break;
        }
        chars += word.text.len();
        words.push(word.text.as_str());
    }
    let text: String = words.into_iter().rev().collect();
    let text = text.trim();
    if text.len() <= PROMPT_CHARS {
        return text.to_string();
    }
    let mut from = text.len() - PROMPT_CHARS;
    while !text.is_char_boundary(from) {
        from += 1;
    }
    match text[from..].find(' ') {
        Some(space) => text[from + space..].trim_start().to_string(),
        None => text[from..].to_string(),
    }
}

/// Words ↔ the integer ids [`LocalAgreement`] compares. The id is that of the word's key
/// (lower case, letters, digits and apostrophes): two hypotheses that write the same word
/// with another case or punctuation ("so..." then "so", "And" then "and") agree on it, as
/// Whisper changes both while audio arrives without changing what was said. What is shown
/// and committed is the latest hypothesis' own written form.
#[derive(Debug, Default)]
struct Vocabulary {
    ids: HashMap<String, u32>,
    keys: Vec<String>,
    /// The tokens of the latest hypothesis with their written forms.
    latest: Vec<(TimedToken, String)>,
}

/// Letters, digits and apostrophes: what a word is made of, punctuation aside.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '\'' | '’')
}

/// What two written words must share to count as the same word. A token of punctuation
/// alone ("-", "...") is its own key.
fn word_key(text: &str) -> String {
    let key: String = text
        .chars()
        .filter(|&c| is_word_char(c))
        .flat_map(char::to_lowercase)
        .collect();
    if key.is_empty() {
        text.trim().to_string()
    } else {
        key
    }
}

/// A partial's words with the punctuation after its last word left out, and punctuation
/// alone there dropped: Whisper ends the audio it was given with a full stop, which the next
/// update mostly turns into a comma once the sentence goes on ("fuel." then "fuel,"). Left
/// out, the shown text only grows: the commit adds the punctuation the sentence settled on.
fn without_final_punctuation(mut words: Vec<RecognizedWord>) -> Vec<RecognizedWord> {
    while let Some(last) = words.last_mut() {
        let kept = last.text.trim_end_matches(|c: char| !is_word_char(c));
        if kept.trim().is_empty() {
            words.pop();
        } else {
            last.text.truncate(kept.len());
            break;
        }
    }
    words
}

impl Vocabulary {
    /// Starts the tokens of a new hypothesis: [`Vocabulary::word`] now writes its forms.
    fn start_hypothesis(&mut self) {
        self.latest.clear();
    }

    /// The token of one word of the latest hypothesis.
    fn token(&mut self, text: &str, start: f64, end: f64) -> TimedToken {
        let key = word_key(text);
        let id = match self.ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.keys.len() as u32;
                self.ids.insert(key.clone(), id);
                self.keys.push(key);
                id
            }
        };
        let token = TimedToken { id, start, end };
        self.latest.push((token.clone(), text.to_string()));
        token
    }

    /// A token of the latest hypothesis as the word it wrote.
    fn word(&self, token: &TimedToken) -> RecognizedWord {
        let text = match self.latest.iter().find(|(t, _)| t == token) {
            Some((_, text)) => text.clone(),
            // Every token the agreement returns comes from the latest hypothesis.
            None => format!(" {}", self.keys[token.id as usize]),
        };
        RecognizedWord {
            text,
            start: token.start,
            end: token.end,
        }
    }
}

/// Live transcription of one stream.
pub struct LiveTranscriber<D, R> {
    detector: D,
    recognizer: R,
    options: LiveOptions,
    agreement: LocalAgreement,
    vocabulary: Vocabulary,
    /// Recent audio; `audio[0]` is stream sample `audio_start`.
    audio: Vec<f32>,
    audio_start: u64,
    consumed: u64,
    utterance: Option<Utterance>,
    /// The last utterance once it closed, while the next one may still carry its audio.
    previous: Option<ClosedUtterance>,
    committed: Vec<RecognizedWord>,
    /// The latest decoding's language and expert, reported with the events it causes.
    language: Option<String>,
    expert: Option<String>,
    decodes: usize,
    decoded_seconds: f64,
}

impl<D: SpeechDetector, R: Recognizer> LiveTranscriber<D, R> {
    pub fn new(detector: D, recognizer: R, options: LiveOptions) -> Result<Self> {
        options.validate()?;
        Ok(LiveTranscriber {
            detector,
            recognizer,
            agreement: LocalAgreement::new(options.agreement.clone()),
            options,
            vocabulary: Vocabulary::default(),
            audio: Vec::new(),
            audio_start: 0,
            consumed: 0,
            utterance: None,
            previous: None,
            committed: Vec::new(),
            language: None,
            expert: None,
            decodes: 0,
            decoded_seconds: 0.0,
        })
    }

    /// Feeds the next block of 16 kHz audio; returns the events it caused.
    pub async fn push(&mut self, samples: &[f32]) -> Result<Vec<LiveEvent>> {
        // The detector checks the samples (finite) before anything is stored.
        let vad_events = self.detector.push(samples)?;
        self.audio.extend_from_slice(samples);
        self.consumed += samples.len() as u64;
        let mut events = Vec::new();
        for event in vad_events {
            self.on_vad(event, &mut events).await?;
        }
        // No update in a pause: Whisper writes words into silence at the end of a buffer
        // ("fuel. 1. 1."). The pause is decoded with the speech after it, or the utterance
        // closes and its last transcription ends with it.
        if let (Some(u), false) = (&self.utterance, self.detector.in_pause()) {
            let due = self.consumed - u.decoded_until >= samples_at(self.options.update_interval)
                && self.consumed - u.start >= samples_at(self.options.first_update);
            if due {
                self.update(self.consumed, &mut events).await?;
            }
        }
        self.forget_old_audio();
        Ok(events)
    }

    /// Ends the stream: closes and finalises an open utterance.
    pub async fn finish(&mut self) -> Result<Vec<LiveEvent>> {
        let mut events = Vec::new();
        for event in self.detector.finish()? {
            self.on_vad(event, &mut events).await?;
        }
        // A detector that did not close the utterance: close it at the end of the audio.
        if self.utterance.is_some() {
            self.end_utterance(self.consumed, &mut events).await?;
        }
        Ok(events)
    }

    /// Every committed word so far, in order.
    pub fn committed(&self) -> &[RecognizedWord] {
        &self.committed
    }

    /// The committed text.
    pub fn text(&self) -> String {
        let text: String = self.committed.iter().map(|w| w.text.as_str()).collect();
        text.trim().to_string()
    }

    /// How many times the recogniser ran, and on how many seconds of audio in all.
    pub fn decodes(&self) -> (usize, f64) {
        (self.decodes, self.decoded_seconds)
    }

    /// Seconds of audio consumed.
    pub fn position(&self) -> f64 {
        seconds(self.consumed)
    }

    pub fn recognizer(&self) -> &R {
        &self.recognizer
    }

    async fn on_vad(&mut self, event: VadEvent, events: &mut Vec<LiveEvent>) -> Result<()> {
        match event {
            VadEvent::SpeechStart { start } => {
                if self.utterance.is_some() {
                    // Never happens with the segmenter; finalise rather than mix utterances.
                    self.end_utterance(start.min(self.consumed), events).await?;
                }
                let start = start.max(self.audio_start);
                let buffer_start = match self.carried(start) {
                    // The agreement goes on: the carried words are committed, and a new
                    // hypothesis' repeat of them is recognised as such.
                    Some(carried) => carried,
                    None => {
                        self.agreement.reset();
                        start
                    }
                };
                self.previous = None;
                self.utterance = Some(Utterance {
                    start,
                    buffer_start,
                    decoded_until: start,
                });
            }
            VadEvent::SpeechEnd(segment) => {
                if self.utterance.is_some() {
                    self.end_utterance(segment.end.min(self.consumed), events)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Where the buffer of an utterance starting at stream sample `start` begins when it
    /// carries the previous utterance's audio: after a pause of at most `carry_pause`.
    fn carried(&self, start: u64) -> Option<u64> {
        let previous = self.previous?;
        let pause = start.saturating_sub(previous.end);
        let carry = self.options.carry_pause > 0.0
            && pause <= samples_at(self.options.carry_pause)
            && previous.buffer_start >= self.audio_start
            && previous.buffer_start < start;
        carry.then_some(previous.buffer_start)
    }

    /// Transcribes the buffer up to stream sample `end` and applies the hypothesis.
    async fn update(&mut self, end: u64, events: &mut Vec<LiveEvent>) -> Result<()> {
        let Some(u) = &mut self.utterance else {
            return Ok(());
        };
        let start = u.buffer_start.min(end);
        u.decoded_until = end;
        if end - start < samples_at(0.1) {
            // Too little audio to say anything about.
            return Ok(());
        }
        let lo = (start - self.audio_start) as usize;
        let hi = (end - self.audio_start) as usize;
        let prompt = prompt_before(
            &self.committed,
            seconds(start) + self.options.agreement.time_tolerance,
        );
        let Recognition {
            segments: hypothesis,
            language,
            expert,
        } = self
            .recognizer
            .recognize(&self.audio[lo..hi], &prompt)
            .await?;
        (self.language, self.expert) = (language, expert);
        self.decodes += 1;
        self.decoded_seconds += seconds(end - start);

        let (offset, limit) = (seconds(start), seconds(end));
        // Whisper's times are buffer-relative and may overshoot the audio it was given.
        let clamp = |t: f64| (t + offset).clamp(offset, limit);
        self.vocabulary.start_hypothesis();
        let segments: Vec<HypothesisSegment> = hypothesis
            .iter()
            .map(|s| HypothesisSegment {
                start: clamp(s.start),
                end: clamp(s.end),
                tokens: s
                    .words
                    .iter()
                    .map(|w| {
                        let (start, end) = (clamp(w.start), clamp(w.end).max(clamp(w.start)));
                        self.vocabulary.token(&w.text, start, end)
                    })
                    .collect(),
            })
            .collect();
        let fresh = self.agreement.update(&segments).to_vec();
        self.commit(&fresh, events);
        let committed_end = self.committed.last().map(|w| samples_at(w.end));
        let held = seconds(end) - self.buffer_start_seconds();
        let too_long = held > self.options.max_buffer;
        let cut_after_words = committed_end.filter(|&c| c > start && c <= end);
        let cut = match (too_long, cut_after_words) {
            (false, _) if held <= self.options.trim_after => None,
            (false, _) => self.agreement.trim_point().map(samples_at),
            // Too long without a committed segment: cut after the last committed word.
            (true, Some(c)) => Some(c.max(self.agreement.trim_point().map_or(0, samples_at))),
            // Nothing agreed in the whole buffer: take the latest hypothesis as it is.
            (true, None) => {
                let flushed = self.agreement.flush();
                self.commit(&flushed, events);
                let last = self.committed.last().map(|w| samples_at(w.end));
                Some(last.filter(|&c| c > start).unwrap_or(end))
            }
        };
        let shown_until = limit - self.options.partial_holdback;
        let mut tentative = self.agreement.tentative();
        while let [rest @ .., last] = tentative {
            if last.end <= shown_until {
                break;
            }
            tentative = rest;
        }
        let tentative: Vec<_> = tentative.iter().map(|t| self.vocabulary.word(t)).collect();
        events.extend(self.event(LiveEventKind::Partial, without_final_punctuation(tentative)));
        if let Some(cut) = cut {
            self.trim(cut.min(end));
        }
        Ok(())
    }

    /// Last transcription of the utterance ending at stream sample `end`, then everything
    /// left is committed.
    async fn end_utterance(&mut self, end: u64, events: &mut Vec<LiveEvent>) -> Result<()> {
        let Some(u) = &self.utterance else {
            return Ok(());
        };
        // The detector closes an utterance only after `min_silence` of silence, so the
        // latest update may have decoded past its end (when it came before the detector
        // heard the pause); Whisper writes words into such trailing silence, and the flush
        // would commit them. The last transcription covers the utterance exactly.
        if u.decoded_until != end {
            self.update(end, events).await?;
        }
        let flushed = self.agreement.flush();
        self.commit(&flushed, events);
        self.previous = self.utterance.take().map(|u| ClosedUtterance {
            buffer_start: u.buffer_start,
            end,
        });
        Ok(())
    }

    fn buffer_start_seconds(&self) -> f64 {
        self.utterance
            .as_ref()
            .map_or(0.0, |u| seconds(u.buffer_start))
    }

    /// Moves the buffer start to stream sample `cut`; committed words before it join the
    /// prompt, since their audio is no longer in the buffer.
    fn trim(&mut self, cut: u64) {
        let Some(u) = &mut self.utterance else {
            return;
        };
        if cut > u.buffer_start {
            u.buffer_start = cut;
            self.agreement.forget_before(seconds(cut));
        }
    }

    /// Commits the words of `tokens`. Their times never go back before the last committed
    /// word's end: consecutive hypotheses place a word a few tens of milliseconds apart.
    fn commit(&mut self, tokens: &[TimedToken], events: &mut Vec<LiveEvent>) {
        let mut after = self.committed.last().map_or(0.0, |w| w.end);
        let words: Vec<_> = tokens
            .iter()
            .map(|t| {
                let mut word = self.vocabulary.word(t);
                word.start = word.start.max(after);
                word.end = word.end.max(word.start);
                after = word.end;
                word
            })
            .collect();
        self.committed.extend(words.iter().cloned());
        events.extend(self.event(LiveEventKind::Commit, words));
    }

    fn event(&self, kind: LiveEventKind, words: Vec<RecognizedWord>) -> Option<LiveEvent> {
        let (first, last) = (words.first()?, words.last()?);
        let text: String = words.iter().map(|w| w.text.as_str()).collect();
        Some(LiveEvent {
            kind,
            text: text.trim().to_string(),
            start: first.start,
            end: last.end,
            emitted_at: seconds(self.consumed),
            words,
            language: self.language.clone(),
            expert: self.expert.clone(),
        })
    }

    /// Drops audio no longer needed: before the buffer in an utterance; outside one, all
    /// but the last few seconds, and the previous utterance's buffer while the next one
    /// may still carry it.
    fn forget_old_audio(&mut self) {
        let recent = self.consumed.saturating_sub(samples_at(HISTORY_SECONDS));
        let carry_window = samples_at(self.options.carry_pause + HISTORY_SECONDS);
        let keep_from = match (&self.utterance, self.previous) {
            (Some(u), _) => u.buffer_start,
            (None, Some(p))
                if self.options.carry_pause > 0.0
                    && self.consumed.saturating_sub(p.end) <= carry_window =>
            {
                p.buffer_start.min(recent)
            }
            (None, _) => recent,
        };
        if keep_from > self.audio_start {
            let drop = ((keep_from - self.audio_start) as usize).min(self.audio.len());
            self.audio.drain(..drop);
            self.audio_start += drop as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words of `text`, one second each, from second 0.
    fn spoken(text: &str) -> Vec<RecognizedWord> {
        text.split(' ')
            .enumerate()
            .map(|(k, word)| RecognizedWord {
                text: format!(" {word}"),
                start: k as f64,
                end: k as f64 + 1.0,
            })
            .collect()
    }

    #[test]
    fn words_agree_whatever_their_case_and_punctuation() {
        for (a, b) in [
            (" so...", " so"),
            (" And", " and"),
            (" Americans,", " americans."),
            (" don't", " Don't!"),
            (" co-operation", " cooperation"),
        ] {
            assert_eq!(word_key(a), word_key(b), "{a:?} {b:?}");
        }
        for (a, b) in [(" so", " sew"), (" it's", " its"), (" -", " ...")] {
            assert_ne!(word_key(a), word_key(b), "{a:?} {b:?}");
        }
        assert_eq!(word_key(" ..."), "...");

        // The written form is the latest hypothesis' own.
        let mut vocabulary = Vocabulary::default();
        vocabulary.start_hypothesis();
        let first = vocabulary.token(" so...", 0.5, 1.0);
        vocabulary.start_hypothesis();
        let second = vocabulary.token(" So", 0.5, 0.9);
        assert_eq!(first.id, second.id);
        assert_eq!(vocabulary.word(&second).text, " So");
    }

    #[test]
    fn a_partial_never_ends_in_punctuation() {
        let words = |texts: &[&str]| -> Vec<RecognizedWord> {
            texts
                .iter()
                .enumerate()
                .map(|(k, text)| RecognizedWord {
                    text: text.to_string(),
                    start: k as f64,
                    end: k as f64 + 1.0,
                })
                .collect()
        };
        let texts = |words: Vec<RecognizedWord>| -> Vec<String> {
            words.into_iter().map(|w| w.text).collect()
        };
        for (given, shown) in [
            (
                &[" self", "-substantial", " fuel."][..],
                &[" self", "-substantial", " fuel"][..],
            ),
            (
                &[" Thy", " self,", " thy", " foe..."],
                &[" Thy", " self,", " thy", " foe"],
            ),
            (&[" cruel", " -"], &[" cruel"]),
            (&[" is", " it?\""], &[" is", " it"]),
            (&[" the", " Americans'"], &[" the", " Americans'"]),
            (&[" don't"], &[" don't"]),
            (&[" 1."], &[" 1"]),
            (&[" ...", " -"], &[]),
            (&[], &[]),
        ] {
            assert_eq!(texts(without_final_punctuation(words(given))), shown);
        }
        // Times stay those of the words kept.
        let kept = without_final_punctuation(words(&[" so", " ..."]));
        assert_eq!((kept[0].start, kept[0].end), (0.0, 1.0));
    }

    #[test]
    fn the_prompt_is_the_committed_text_before_the_buffer_cut_at_a_word_start() {
        let said = spoken("And so ask not");
        assert_eq!(prompt_before(&[], 10.0), "");
        assert_eq!(prompt_before(&said, 0.5), "");
        assert_eq!(prompt_before(&said, 2.0), "And so");
        assert_eq!(prompt_before(&said, 10.0), "And so ask not");
        // 60 words of 4 characters + spaces: only whole words of the last 200 characters.
        let long: Vec<String> = (100..160).map(|k| format!("é{k}")).collect();
        let prompt = prompt_before(&spoken(&format!("{} end", long.join(" "))), 100.0);
        assert!(prompt.len() <= PROMPT_CHARS, "{prompt}");
        assert!(prompt.ends_with("é159 end"), "{prompt}");
        let first = prompt.split(' ').next().unwrap();
        assert!(
            long.iter().any(|w| w == first),
            "cut inside a word: {prompt}"
        );
        assert!(prompt.len() > PROMPT_CHARS - 6, "{prompt}");
    }
}
