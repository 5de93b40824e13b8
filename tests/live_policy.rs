//! The live transcription policy with scripted hypotheses: no GPU, no model weights. The
//! detector is the real utterance segmenter fed with a probability derived from the audio's
//! level; the recogniser either "reads" words encoded in the audio or replays a script. The
//! policy is async (the browser awaits the GPU); these recognisers finish at once.

use whisper_clsr::stream::{
    LiveEvent, LiveEventKind, LiveOptions, LiveTranscriber, Recognition, RecognizedSegment,
    RecognizedWord, Recognizer, SpeechDetector,
};
use whisper_clsr::vad::{Segmenter, VadEvent, VadOptions, CHUNK};
use whisper_clsr::Result;

use pollster::block_on;

const RATE: usize = 16_000;
/// Each word of the synthetic speech is this many samples of one constant level.
const WORD: usize = RATE / 2;

/// Speech where the level is at least 0.5: P(speech) is the chunk's mean level.
struct LevelDetector {
    segmenter: Segmenter,
    pending: Vec<f32>,
    received: u64,
}

impl LevelDetector {
    fn new() -> Self {
        LevelDetector {
            segmenter: Segmenter::new(VadOptions::default()).unwrap(),
            pending: Vec::new(),
            received: 0,
        }
    }
}

impl SpeechDetector for LevelDetector {
    fn push(&mut self, samples: &[f32]) -> Result<Vec<VadEvent>> {
        self.received += samples.len() as u64;
        self.pending.extend_from_slice(samples);
        let mut events = Vec::new();
        while self.pending.len() >= CHUNK {
            let chunk: Vec<f32> = self.pending.drain(..CHUNK).collect();
            let p = chunk.iter().map(|s| s.abs()).sum::<f32>() / CHUNK as f32;
            events.extend(self.segmenter.push(p.min(1.0)));
        }
        Ok(events)
    }
    fn finish(&mut self) -> Result<Vec<VadEvent>> {
        Ok(self.segmenter.finish(self.received).into_iter().collect())
    }
    fn in_pause(&self) -> bool {
        self.segmenter.in_pause()
    }
}

/// Word k is `WORD` samples at level 0.6 + 0.01·k; silence is 0. Reads the buffer as a
/// recogniser would: one word per run of one level, the last run guessed wrongly ("w3x"
/// for "w3") while it is shorter than a word (the way Whisper's newest word changes as audio
/// arrives).
#[derive(Default)]
struct LevelReader {
    /// (length, silent samples) of every buffer decoded.
    calls: Vec<(usize, usize)>,
}

fn word_level(k: usize) -> f32 {
    0.6 + 0.01 * k as f32
}

impl Recognizer for LevelReader {
    async fn recognize(&mut self, audio: &[f32], _prompt: &str) -> Result<Recognition> {
        let silent = audio.iter().filter(|s| **s == 0.0).count();
        self.calls.push((audio.len(), silent));
        let mut words = Vec::new();
        let mut i = 0;
        while i < audio.len() {
            let level = audio[i];
            let run = audio[i..].iter().take_while(|s| **s == level).count();
            if level > 0.0 {
                let k = ((level - 0.6) / 0.01).round() as usize;
                let text = if run < WORD && i + run == audio.len() {
                    format!(" w{k}x")
                } else {
                    format!(" w{k}")
                };
                words.push(RecognizedWord {
                    text,
                    start: i as f64 / RATE as f64,
                    end: (i + run) as f64 / RATE as f64,
                });
            }
            i += run;
        }
        let segments: Vec<_> = words
            .chunks(3)
            .map(|w| RecognizedSegment {
                start: w[0].start,
                end: w[w.len() - 1].end,
                words: w.to_vec(),
            })
            .collect();
        Ok(segments.into())
    }
}

fn silence(seconds: f64) -> Vec<f32> {
    vec![0.0; (seconds * RATE as f64) as usize]
}

fn speech(first_word: usize, words: usize) -> Vec<f32> {
    (first_word..first_word + words)
        .flat_map(|k| vec![word_level(k); WORD])
        .collect()
}

/// Feeds `audio` in 0.1 s blocks; returns all events and the transcriber.
fn run<R: Recognizer>(
    audio: &[f32],
    recognizer: R,
    options: LiveOptions,
) -> (Vec<LiveEvent>, LiveTranscriber<LevelDetector, R>) {
    let mut live = LiveTranscriber::new(LevelDetector::new(), recognizer, options).unwrap();
    let mut events = Vec::new();
    for block in audio.chunks(RATE / 10) {
        events.extend(block_on(live.push(block)).unwrap());
    }
    events.extend(block_on(live.finish()).unwrap());
    (events, live)
}

fn commits(events: &[LiveEvent]) -> Vec<&LiveEvent> {
    events
        .iter()
        .filter(|e| e.kind == LiveEventKind::Commit)
        .collect()
}

fn words_of(events: &[&LiveEvent]) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| e.words.iter().map(|w| w.text.trim().to_string()))
        .collect()
}

#[test]
fn commits_only_grow_and_end_of_speech_flushes() {
    let mut audio = silence(1.0);
    audio.extend(speech(0, 8)); // 4 s
    audio.extend(silence(1.5));
    let (events, live) = run(&audio, LevelReader::default(), LiveOptions::default());

    let commits = commits(&events);
    let expected: Vec<String> = (0..8).map(|k| format!("w{k}")).collect();
    assert_eq!(words_of(&commits), expected, "{events:#?}");
    assert_eq!(live.text(), "w0 w1 w2 w3 w4 w5 w6 w7");
    // Committed words never come back: each commit starts where the previous one ended.
    for pair in commits.windows(2) {
        assert!(pair[1].start >= pair[0].end - 1e-9, "{pair:#?}");
        assert!(pair[1].emitted_at >= pair[0].emitted_at);
    }
    for c in &commits {
        assert!(c.emitted_at >= c.end, "emitted before its audio: {c:?}");
    }
    // Words were committed while speech went on, and the rest when it ended (speech ends
    // at 5 s; the detector needs 0.5 s of silence to say so).
    assert!(commits[0].emitted_at < 5.0, "{commits:#?}");
    let last = commits.last().unwrap();
    assert!(last.emitted_at >= 5.0, "flush at end of speech: {last:?}");
    assert!(last.words.iter().any(|w| w.text == " w7"));
    assert!(!live.text().contains('x'), "a guess was committed");
    // The unstable newest word ends at the buffer's end: partials leave it out, unless
    // nothing is held back.
    assert!(events.iter().all(|e| !e.text.contains('x')), "{events:#?}");
    let options = LiveOptions {
        partial_holdback: 0.0,
        ..LiveOptions::default()
    };
    let (events, live) = run(&audio, LevelReader::default(), options);
    assert!(events
        .iter()
        .any(|e| e.kind == LiveEventKind::Partial && e.text.ends_with('x')));
    assert_eq!(live.text(), "w0 w1 w2 w3 w4 w5 w6 w7");
}

/// [`LevelReader`] that, like Whisper, writes a word (" 1.") into trailing silence longer
/// than the detector's post-roll.
#[derive(Default)]
struct TrailingSilenceWriter {
    reader: LevelReader,
    /// Trailing silence of every buffer decoded, in seconds.
    trailing: Vec<f64>,
}

impl Recognizer for TrailingSilenceWriter {
    async fn recognize(&mut self, audio: &[f32], prompt: &str) -> Result<Recognition> {
        let mut recognition = self.reader.recognize(audio, prompt).await?;
        let silent = audio.iter().rev().take_while(|s| **s == 0.0).count();
        let trailing = silent as f64 / RATE as f64;
        self.trailing.push(trailing);
        let end = audio.len() as f64 / RATE as f64;
        if trailing > POST_ROLL {
            recognition.segments.push(RecognizedSegment {
                start: end - trailing + 0.02,
                end,
                words: vec![RecognizedWord {
                    text: " 1.".to_string(),
                    start: end - trailing + 0.02,
                    end,
                }],
            });
        }
        Ok(recognition)
    }
}

/// The detector's post-roll (0.1 s) after the last speech chunk, which may hold the first
/// samples of silence.
const POST_ROLL: f64 = 0.1 + CHUNK as f64 / RATE as f64;

#[test]
fn silence_after_the_speech_is_never_decoded() {
    // Speech ends at 5 s; an update would be due at 5.2 s, but the detector hears a pause
    // then, and closes the utterance at 5.5 s with its end at 5.09 s (0.1 s of post-roll).
    // A recogniser that writes a word into trailing silence longer than that writes none.
    let (events, live) = run(
        &one_utterance(),
        TrailingSilenceWriter::default(),
        LiveOptions::default(),
    );
    assert!(events.iter().all(|e| !e.text.contains("1.")), "{events:#?}");
    assert_eq!(live.text(), "w0 w1 w2 w3 w4 w5 w6 w7");
    let trailing = &live.recognizer().trailing;
    assert!(trailing.len() >= 3, "{trailing:?}");
    assert!(trailing.iter().all(|&t| t <= POST_ROLL), "{trailing:?}");

    // A pause shorter than the detector's 0.5 s goes into the next update with the speech
    // after it: nothing is written into it either.
    let mut audio = silence(1.0);
    audio.extend(speech(0, 4));
    audio.extend(silence(0.4));
    audio.extend(speech(4, 4));
    audio.extend(silence(1.0));
    let (events, live) = run(
        &audio,
        TrailingSilenceWriter::default(),
        LiveOptions::default(),
    );
    assert!(events.iter().all(|e| !e.text.contains("1.")), "{events:#?}");
    assert_eq!(live.text(), "w0 w1 w2 w3 w4 w5 w6 w7");
    let trailing = &live.recognizer().trailing;
    assert!(trailing.iter().all(|&t| t <= POST_ROLL), "{trailing:?}");
}

#[test]
fn non_speech_never_reaches_the_recognizer() {
    // Quiet noise and silence only: no utterance opens, nothing is decoded.
    let noise: Vec<f32> = (0..RATE * 6)
        .map(|i| if i % 7 < 3 { 0.2 } else { -0.2 })
        .collect();
    let (events, live) = run(&noise, LevelReader::default(), LiveOptions::default());
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(live.decodes().0, 0);

    // Two 2 s utterances 3 s apart: every decoded buffer lies within one utterance, so it is
    // at most 2 s plus the pre-roll (0.3 s) and the silence before the end is detected
    // (0.5 s), and holds no more silence than those.
    let mut audio = silence(2.0);
    audio.extend(speech(0, 4));
    audio.extend(silence(3.0));
    audio.extend(speech(4, 4));
    audio.extend(silence(2.0));
    let (events, live) = run(&audio, LevelReader::default(), LiveOptions::default());
    let (decodes, _) = live.decodes();
    assert!(decodes >= 4, "{decodes}");
    for &(len, silent) in &live.recognizer().calls {
        assert!(len as f64 <= 2.9 * RATE as f64, "buffer of {len} samples");
        assert!(
            silent as f64 <= 0.85 * RATE as f64,
            "{silent} silent of {len}"
        );
    }
    let expected: Vec<String> = (0..8).map(|k| format!("w{k}")).collect();
    assert_eq!(words_of(&commits(&events)), expected);
}

#[test]
fn an_utterance_is_first_transcribed_when_it_holds_a_second_and_a_half() {
    // A 1 s utterance (0.3 s pre-roll, 1 s of speech): decoded once, when it ends. A 4 s
    // one: its first decoding sees at least 1.5 s of audio, later ones come every second.
    let mut audio = silence(1.0);
    audio.extend(speech(0, 2));
    audio.extend(silence(2.0));
    audio.extend(speech(2, 8));
    audio.extend(silence(1.0));
    let (events, live) = run(&audio, LevelReader::default(), LiveOptions::default());
    let calls = &live.recognizer().calls;
    let expected: Vec<String> = (0..10).map(|k| format!("w{k}")).collect();
    assert_eq!(words_of(&commits(&events)), expected);
    let speech_len = |&(len, silent): &(usize, usize)| (len - silent) as f64 / RATE as f64;
    assert!((speech_len(&calls[0]) - 1.0).abs() < 0.01, "{calls:?}");
    assert!(calls[1].0 as f64 >= 1.5 * RATE as f64, "{calls:?}");
    assert!(calls[1].0 as f64 <= 1.6 * RATE as f64, "{calls:?}");
    // Then one a second (the buffer is not trimmed before its first segment is committed),
    // and a last one at the end.
    assert_eq!(calls[2].0 - calls[1].0, RATE, "{calls:?}");
    assert!(calls.len() >= 4, "{calls:?}");

    // With `first_update` 0 the first decoding comes after `update_interval`, as before.
    let options = LiveOptions {
        first_update: 0.0,
        ..LiveOptions::default()
    };
    let (_, live) = run(&audio, LevelReader::default(), options);
    let calls = &live.recognizer().calls;
    assert!(calls[0].0 as f64 <= 1.1 * RATE as f64, "{calls:?}");
}

/// Replays fixed hypotheses (buffer-relative), one per call, then repeats the last.
struct Script {
    hypotheses: Vec<Vec<(&'static str, f64, f64)>>,
    next: usize,
    prompts: Vec<String>,
}

impl Script {
    fn new(hypotheses: Vec<Vec<(&'static str, f64, f64)>>) -> Self {
        Script {
            hypotheses,
            next: 0,
            prompts: Vec::new(),
        }
    }
}

/// 1 s of silence, 4 s of speech (8 words; the utterance opens at 0.7 s with its 0.3 s
/// pre-roll), 1 s of silence.
fn one_utterance() -> Vec<f32> {
    let mut audio = silence(1.0);
    audio.extend(speech(0, 8));
    audio.extend(silence(1.0));
    audio
}

/// 1 s of silence, words w0–w2, 1.5 s of silence (the detector closes the utterance), words
/// w3–w4, 1.5 s of silence.
fn two_utterances() -> Vec<f32> {
    let mut audio = silence(1.0);
    audio.extend(speech(0, 3));
    audio.extend(silence(1.5));
    audio.extend(speech(3, 2));
    audio.extend(silence(1.5));
    audio
}

impl Recognizer for Script {
    async fn recognize(&mut self, _audio: &[f32], prompt: &str) -> Result<Recognition> {
        self.prompts.push(prompt.to_string());
        let h = &self.hypotheses[self.next.min(self.hypotheses.len() - 1)];
        self.next += 1;
        let words: Vec<RecognizedWord> = h
            .iter()
            .map(|&(text, start, end)| RecognizedWord {
                text: text.to_string(),
                start,
                end,
            })
            .collect();
        Ok(match (words.first(), words.last()) {
            (Some(first), Some(last)) => vec![RecognizedSegment {
                start: first.start,
                end: last.end,
                words,
            }],
            _ => Vec::new(),
        }
        .into())
    }
}

#[test]
fn disagreeing_hypotheses_commit_only_the_agreed_prefix() {
    // Speech from 0.7 s (1 s silence, 0.3 s pre-roll) for 4 s; updates every 1 s.
    let audio = one_utterance();
    let script = Script::new(vec![
        vec![(" And", 0.0, 0.4), (" so", 0.4, 0.8)],
        vec![(" And", 0.0, 0.4), (" sew", 0.4, 0.8), (" my", 0.8, 1.2)],
        vec![
            (" And", 0.0, 0.4),
            (" so", 0.4, 0.8),
            (" my", 0.8, 1.2),
            (" fellow", 1.2, 1.8),
        ],
        vec![
            (" And", 0.0, 0.4),
            (" so", 0.4, 0.8),
            (" my", 0.8, 1.2),
            (" fellow", 1.2, 1.8),
            (" Americans", 1.8, 2.6),
        ],
    ]);
    let (events, live) = run(&audio, script, LiveOptions::default());
    let commits = commits(&events);
    // "And" agrees at once, at the second update (the first when the utterance holds 1.5 s,
    // at 2.2 s; the second at 3.2 s); "so"/"sew" disagree until both agree on "so my fellow".
    assert_eq!(commits[0].text, "And", "{events:#?}");
    assert!(commits[0].emitted_at < 3.5, "{events:#?}");
    assert_eq!(live.text(), "And so my fellow Americans");
    assert!(events
        .iter()
        .any(|e| e.kind == LiveEventKind::Partial && e.text.starts_with("sew")));
    // No prompt while the buffer still holds every committed word.
    assert!(live.recognizer().prompts.iter().all(|p| p.is_empty()));
}

#[test]
fn committed_word_times_never_go_back() {
    // Consecutive hypotheses place a word a few tens of milliseconds apart: "so" is
    // committed ending at 0.8 s of the buffer, and the hypothesis that agrees on "my" starts
    // it at 0.77 s.
    let script = Script::new(vec![
        vec![(" And", 0.0, 0.4), (" so", 0.4, 0.8)],
        vec![(" And", 0.0, 0.4), (" so", 0.4, 0.8), (" my", 0.82, 1.2)],
        vec![
            (" And", 0.0, 0.4),
            (" so", 0.4, 0.75),
            (" my", 0.77, 1.2),
            (" fellow", 1.2, 1.8),
        ],
    ]);
    let (events, live) = run(&one_utterance(), script, LiveOptions::default());
    assert_eq!(live.text(), "And so my fellow");
    for pair in live.committed().windows(2) {
        assert!(pair[1].start >= pair[0].end, "{events:#?}");
        assert!(pair[1].end >= pair[1].start, "{events:#?}");
    }
}

#[test]
fn case_and_punctuation_changes_are_not_disagreements() {
    // Whisper ends a cut-off buffer with "..." and changes case and punctuation as audio
    // arrives; the words are the same, so they are committed with the newer form.
    let audio = one_utterance();
    let script = Script::new(vec![
        vec![(" and", 0.0, 0.4), (" so...", 0.4, 0.8)],
        vec![(" And", 0.0, 0.4), (" so", 0.4, 0.8), (" my", 0.8, 1.2)],
        vec![
            (" And", 0.0, 0.4),
            (" so", 0.4, 0.8),
            (" my", 0.8, 1.2),
            (" fellow", 1.2, 1.8),
            (" Americans.", 1.8, 2.6),
        ],
    ]);
    let (events, live) = run(&audio, script, LiveOptions::default());
    let commits = commits(&events);
    assert_eq!(commits[0].text, "And so", "{events:#?}");
    assert_eq!(live.text(), "And so my fellow Americans.");
}

#[test]
fn partials_leave_out_the_punctuation_after_their_last_word() {
    // Whisper ends what it heard with a full stop, and writes a comma once the sentence goes
    // on: shown without it, the partial text only grows.
    let script = Script::new(vec![
        vec![(" Thy", 0.0, 0.4), (" fuel.", 0.4, 0.9)],
        vec![
            (" Thy", 0.0, 0.4),
            (" fuel,", 0.4, 0.9),
            (" making", 1.0, 1.5),
            (" a...", 1.5, 1.7),
        ],
        vec![
            (" Thy", 0.0, 0.4),
            (" fuel,", 0.4, 0.9),
            (" making", 1.0, 1.5),
            (" a", 1.5, 1.7),
            (" famine.", 1.7, 2.4),
        ],
    ]);
    let (events, live) = run(&one_utterance(), script, LiveOptions::default());
    let partials: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == LiveEventKind::Partial)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(partials[..2], ["Thy fuel", "making a"], "{events:#?}");
    assert!(
        partials.iter().all(|p| p.ends_with(char::is_alphanumeric)),
        "{events:#?}"
    );
    // Commits keep the punctuation the sentence settled on.
    assert_eq!(commits(&events)[0].text, "Thy fuel,", "{events:#?}");
    assert_eq!(live.text(), "Thy fuel, making a famine.");
}

/// Reads the words like [`LevelReader`] but returns them as one segment (so no segment is
/// ever entirely committed) ending in a word that changes on every call.
#[derive(Default)]
struct Restless {
    reader: LevelReader,
}

impl Recognizer for Restless {
    async fn recognize(&mut self, audio: &[f32], prompt: &str) -> Result<Recognition> {
        let mut words: Vec<RecognizedWord> = self
            .reader
            .recognize(audio, prompt)
            .await?
            .segments
            .into_iter()
            .flat_map(|s| s.words)
            .collect();
        let end = audio.len() as f64 / RATE as f64;
        words.push(RecognizedWord {
            text: format!(" x{}", self.reader.calls.len()),
            start: end,
            end,
        });
        Ok(vec![RecognizedSegment {
            start: words[0].start,
            end,
            words,
        }]
        .into())
    }
}

/// Reads like [`LevelReader`] and keeps the prompt of every call.
#[derive(Default)]
struct PromptRecorder {
    reader: LevelReader,
    prompts: Vec<String>,
}

impl Recognizer for PromptRecorder {
    async fn recognize(&mut self, audio: &[f32], prompt: &str) -> Result<Recognition> {
        self.prompts.push(prompt.to_string());
        self.reader.recognize(audio, prompt).await
    }
}

#[test]
fn an_utterance_after_a_pause_is_prompted_with_what_was_committed_before() {
    let audio = two_utterances();
    // The second utterance starts afresh: its buffer does not carry the first one's audio.
    let options = LiveOptions {
        carry_pause: 0.0,
        ..LiveOptions::default()
    };
    let (_, live) = run(&audio, PromptRecorder::default(), options);
    assert_eq!(live.text(), "w0 w1 w2 w3 w4");
    let prompts = &live.recognizer().prompts;
    // The first utterance starts without context; every decoding of the second one is
    // conditioned on the first one's text.
    assert_eq!(prompts.first().map(String::as_str), Some(""), "{prompts:?}");
    let second: Vec<_> = prompts.iter().filter(|p| !p.is_empty()).collect();
    assert!(!second.is_empty(), "{prompts:?}");
    assert!(
        second.iter().all(|p| p.starts_with("w0 w1 w2")),
        "{prompts:?}"
    );
    let calls_in_first = prompts.iter().take_while(|p| p.is_empty()).count();
    assert_eq!(calls_in_first + second.len(), prompts.len(), "{prompts:?}");
}

#[test]
fn an_utterance_after_a_short_pause_carries_the_previous_one_in_its_buffer() {
    // Two utterances (1.5 s and 2 s of speech) with `pause` seconds of silence between them.
    // The first closes at 2.6 s (0.1 s post-roll), the second opens 0.3 s before its speech.
    let two_utterances = |pause: f64| {
        let mut audio = silence(1.0);
        audio.extend(speech(0, 3));
        audio.extend(silence(pause));
        audio.extend(speech(3, 4));
        audio.extend(silence(1.5));
        audio
    };
    let carry = |carry_pause: f64| LiveOptions {
        carry_pause,
        ..LiveOptions::default()
    };
    let expected: Vec<String> = (0..7).map(|k| format!("w{k}")).collect();
    let second_utterance = |live: &LiveTranscriber<LevelDetector, PromptRecorder>| {
        let recorder = live.recognizer();
        let first = recorder.prompts.iter().take_while(|p| p.is_empty()).count();
        let lengths: Vec<f64> = recorder.reader.calls[first..]
            .iter()
            .map(|&(len, _)| len as f64 / RATE as f64)
            .collect();
        (recorder.prompts[first..].to_vec(), lengths)
    };

    // A pause of 1.5 s (1.1 s between the utterances) with `carry_pause` 2 s: the second
    // utterance's buffer starts where the first one's did (0.7 s), its words are heard again
    // and not committed twice, and they are not in the prompt.
    let (events, live) = run(&two_utterances(1.5), PromptRecorder::default(), carry(2.0));
    assert_eq!(words_of(&commits(&events)), expected, "{events:#?}");
    let prompts = &live.recognizer().prompts;
    assert!(prompts.iter().all(|p| p.is_empty()), "{prompts:?}");
    let calls = &live.recognizer().reader.calls;
    let last = calls.last().unwrap().0 as f64 / RATE as f64;
    // From 0.7 s to the second utterance's end, 4.0 + 2.0 + 0.1 s.
    assert!((last - 5.4).abs() < 0.05, "{calls:?}");
    for c in commits(&events).windows(2) {
        assert!(c[1].start >= c[0].end - 1e-9, "{c:#?}");
    }

    // A pause longer than `carry_pause`, or `carry_pause` 0: the second utterance's buffer
    // holds its own audio only, and its prompt is the first one's text.
    for (pause, carry_pause) in [(3.0, 2.0), (1.5, 0.0)] {
        let (events, live) = run(
            &two_utterances(pause),
            PromptRecorder::default(),
            carry(carry_pause),
        );
        assert_eq!(words_of(&commits(&events)), expected, "{events:#?}");
        let (prompts, lengths) = second_utterance(&live);
        assert!(!prompts.is_empty());
        assert!(prompts.iter().all(|p| p == "w0 w1 w2"), "{prompts:?}");
        assert!(lengths.iter().all(|&l| l <= 2.45), "{lengths:?}");
    }
}

#[test]
fn a_long_utterance_is_cut_at_the_maximum_buffer() {
    // 12 s of speech, maximum buffer 4 s: without a committed segment the buffer would grow
    // to the whole utterance.
    let mut audio = silence(0.5);
    audio.extend(speech(0, 24));
    audio.extend(silence(1.0));
    let options = LiveOptions {
        max_buffer: 4.0,
        ..LiveOptions::default()
    };
    let (events, live) = run(&audio, Restless::default(), options);
    for &(len, _) in &live.recognizer().reader.calls {
        assert!(len as f64 <= 5.1 * RATE as f64, "buffer of {len} samples");
    }
    let commits = commits(&events);
    for pair in commits.windows(2) {
        assert!(pair[1].start >= pair[0].end - 1e-9, "{pair:#?}");
    }
    let words = words_of(&commits);
    let expected: Vec<String> = (0..24).map(|k| format!("w{k}")).collect();
    let spoken: Vec<String> = words
        .iter()
        .filter(|w| w.starts_with('w'))
        .cloned()
        .collect();
    assert_eq!(spoken, expected, "{words:?}");
}

#[test]
fn the_buffer_keeps_ten_seconds_before_it_is_trimmed_after_a_committed_segment() {
    // 16 s of speech read in segments of three words (1.5 s): each segment is committed a
    // decoding or two after it is heard, but the buffer keeps the speech before it (Whisper
    // hears a word better with what was said before) until it holds `trim_after` (10 s).
    let mut audio = silence(0.5);
    audio.extend(speech(0, 32));
    audio.extend(silence(1.0));
    let expected: Vec<String> = (0..32).map(|k| format!("w{k}")).collect();
    let seconds = |calls: &[(usize, usize)]| -> Vec<f64> {
        calls
            .iter()
            .map(|&(len, _)| len as f64 / RATE as f64)
            .collect()
    };

    let (events, live) = run(&audio, LevelReader::default(), LiveOptions::default());
    assert_eq!(words_of(&commits(&events)), expected);
    let lengths = seconds(&live.recognizer().calls);
    let first_trim = lengths
        .windows(2)
        .position(|pair| pair[1] < pair[0])
        .unwrap_or_else(|| panic!("never trimmed: {lengths:?}"));
    assert!(lengths[first_trim] > 10.0, "trimmed early: {lengths:?}");
    assert!(lengths.iter().all(|&l| l < 12.0), "{lengths:?}");

    // `trim_after: 0` trims after every committed segment: the buffer stays short.
    let options = LiveOptions {
        trim_after: 0.0,
        ..LiveOptions::default()
    };
    let (events, live) = run(&audio, LevelReader::default(), options);
    assert_eq!(words_of(&commits(&events)), expected);
    let lengths = seconds(&live.recognizer().calls);
    assert!(lengths.iter().all(|&l| l < 5.0), "{lengths:?}");
}

#[test]
fn bad_options_and_audio_are_errors() {
    for (update_interval, max_buffer) in [(0.0, 20.0), (f64::NAN, 20.0), (2.0, 1.0), (1.0, 31.0)] {
        let options = LiveOptions {
            update_interval,
            max_buffer,
            ..LiveOptions::default()
        };
        assert!(
            LiveTranscriber::new(LevelDetector::new(), LevelReader::default(), options).is_err(),
            "{update_interval} {max_buffer}"
        );
    }
    // The error names the option.
    let refused = |options: LiveOptions, name: &str| {
        let error = LiveTranscriber::new(LevelDetector::new(), LevelReader::default(), options)
            .err()
            .map(|e| e.to_string());
        assert!(
            error.as_deref().is_some_and(|e| e.contains(name)),
            "{name}: {error:?}"
        );
    };
    for first_update in [-0.5, f64::INFINITY, 21.0] {
        let options = LiveOptions {
            first_update,
            ..LiveOptions::default()
        };
        refused(options, "first update");
    }
    for trim_after in [-1.0, f64::NAN] {
        let options = LiveOptions {
            trim_after,
            ..LiveOptions::default()
        };
        refused(options, "trim after");
    }
    for carry_pause in [-0.5, f64::NAN] {
        let options = LiveOptions {
            carry_pause,
            ..LiveOptions::default()
        };
        refused(options, "carry pause");
    }
    for partial_holdback in [-0.1, f64::INFINITY] {
        let options = LiveOptions {
            partial_holdback,
            ..LiveOptions::default()
        };
        refused(options, "partial holdback");
    }
}

/// Reads like [`LevelReader`] and says which language each buffer is in, as auto-detection
/// does on every update: Catalan (routed through a Catalan expert pack) while the buffer
/// starts with one of the first three words, Spanish (no pack) after.
#[derive(Default)]
struct LanguageReporter {
    reader: LevelReader,
}

impl Recognizer for LanguageReporter {
    async fn recognize(&mut self, audio: &[f32], prompt: &str) -> Result<Recognition> {
        let segments = self.reader.recognize(audio, prompt).await?.segments;
        let catalan = segments
            .first()
            .and_then(|s| s.words.first())
            .is_some_and(|w| ["w0", "w1", "w2"].contains(&w.text.trim()));
        let (language, expert) = if catalan {
            ("ca", Some("ca"))
        } else {
            ("es", None)
        };
        Ok(Recognition {
            segments,
            language: Some(language.into()),
            expert: expert.map(String::from),
        })
    }
}

#[test]
fn events_say_the_language_and_expert_of_the_decoding_they_come_from() {
    let audio = two_utterances();
    let (events, _) = run(&audio, LanguageReporter::default(), LiveOptions::default());
    let commits = commits(&events);
    assert_eq!(words_of(&commits), ["w0", "w1", "w2", "w3", "w4"]);
    for event in &events {
        let first = event.words[0].text.trim();
        let (language, expert) = if ["w0", "w1", "w2"].contains(&first) {
            ("ca", Some("ca"))
        } else {
            ("es", None)
        };
        assert_eq!(event.language.as_deref(), Some(language), "{event:?}");
        assert_eq!(event.expert.as_deref(), expert, "{event:?}");
    }
    // In JSON: always both fields, null for no expert.
    let last = serde_json::to_value(commits.last().unwrap()).unwrap();
    assert_eq!(last["language"], "es");
    assert_eq!(last["expert"], serde_json::Value::Null);
}
