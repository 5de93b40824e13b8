//! Transcription of a recording of any length, as OpenAI's `transcribe()` does it: the
//! whole file's log-mel once, then 30 s windows walked by `seek`; each window decoded with
//! temperature fallback, skipped when it is silence, split into timestamped segments, and
//! its text passed on as the next window's prompt. The language is detected once, on the
//! first window, and its expert pack (if loaded) routes every window.

use web_time::Instant;

use crate::audio::{self, LongMel, N_FRAMES};
use crate::decode::alignment::{
    alignment_matrix, assign_words, clip_long_words, dtw, median_word_duration, merge_punctuations,
    word_timings,
};
use crate::decode::fallback::{candidate_score, compression_ratio, is_silence, verdict, Verdict};
use crate::decode::longform::{frames_to_seconds, split_window, window_prompt, Segment, Word};
use crate::decode::suppress::SuppressMasks;
use crate::decode::timestamps::TIME_PRECISION;
use crate::decode::window::{decode_window, decode_window_beams, WindowDecoding, WindowOptions};
use crate::decode::{detect_language, languages::normalize_language, DecodeOptions};
use crate::model::{DecoderState, Route};
use crate::ops::clsr::GateCounts;
use crate::ops::token_pick::token_probability;
use crate::whisper::{ms, Timings, TranscribeOptions, Transcript};
use crate::{Error, Result, Whisper};

/// What a transcription reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// A token was generated (a later retry at a higher temperature may replace it).
    Token(u32),
    /// The window's decoding failed the checks; its tokens so far are discarded and it is
    /// decoded again at this temperature.
    Retry { temperature: f32 },
    /// A segment is final.
    Segment(&'a Segment),
    /// Seconds of audio done out of the total.
    Progress { done: f64, total: f64 },
}

/// The decoding of one window that passed the checks (or the last one tried).
struct Decoded {
    result: WindowDecoding,
    temperature: f32,
    compression_ratio: f64,
}

/// A different seed per window, temperature and candidate, all from the user's seed.
fn sample_seed(seed: u64, window: usize, temperature: usize, candidate: usize) -> u32 {
    let mut x = seed
        ^ (window as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ ((temperature as u64) << 32)
        ^ ((candidate as u64) << 48);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)) as u32
}

fn check_options(o: &DecodeOptions) -> Result<()> {
    let bad = |msg: String| Err(Error::InvalidInput(msg));
    if o.temperatures.is_empty() {
        return bad("at least one temperature is needed (e.g. 0)".into());
    }
    if let Some(t) = o.temperatures.iter().find(|t| !t.is_finite() || **t < 0.0) {
        return bad(format!("temperature {t} is invalid: use values ≥ 0"));
    }
    if o.best_of == 0 {
        return bad("best-of must be at least 1".into());
    }
    o.beam().check()?;
    if o.max_new_tokens == 0 {
        return bad("max tokens must be at least 1".into());
    }
    if let Some(t) = o
        .max_initial_timestamp
        .filter(|t| !t.is_finite() || *t < 0.0)
    {
        return bad(format!(
            "max initial timestamp {t} is invalid: use seconds ≥ 0"
        ));
    }
    Ok(())
}

impl Whisper {
    /// Transcribes 16 kHz mono samples of any length. `on_event` sees tokens, retries,
    /// finished segments and progress as they happen; an error it returns stops the
    /// transcription (within one decoder step) and is returned, e.g. to cancel.
    pub async fn transcribe(
        &self,
        samples: &[f32],
        options: &TranscribeOptions,
        on_event: &mut dyn FnMut(Event<'_>) -> Result<()>,
    ) -> Result<Transcript> {
        if samples.is_empty() {
            return Err(Error::Audio("the audio is empty".into()));
        }
        check_options(&options.decode)?;
        let started = Instant::now();
        let mel = audio::long_mel(samples, self.config().num_mel_bins)?;
        let mel_ms = ms(started);
        self.transcribe_mel(&mel, mel_ms, options, on_event).await
    }

    /// [`Whisper::transcribe`] of a recording whose log-mel is already computed, e.g. by the
    /// streaming front-end [`audio::load_long_mel`]; `mel_ms` is the time that took (for the
    /// timings). Windows of digital silence ([`audio::LongMel::is_silent`]) are skipped
    /// without running the model.
    pub async fn transcribe_mel(
        &self,
        mel: &LongMel,
        mel_ms: f64,
        options: &TranscribeOptions,
        on_event: &mut dyn FnMut(Event<'_>) -> Result<()>,
    ) -> Result<Transcript> {
        let n_mels = self.config().num_mel_bins;
        if mel.n_mels() != n_mels {
            return Err(Error::InvalidInput(format!(
                "the spectrogram has {} mel bands but the model expects {n_mels}: compute it \
                 with the model's num_mel_bins",
                mel.n_mels()
            )));
        }
        let opts = &options.decode;
        check_options(opts)?;
        if opts.word_timestamps && !opts.timestamps {
            return Err(Error::InvalidInput(
                "word timestamps need segment timestamps; do not turn timestamps off".into(),
            ));
        }
        let content_frames = mel.content_frames();
        let duration = mel.duration_seconds();

        let given = match &options.language {
            Some(code) => Some(
                normalize_language(code)
                    .ok_or_else(|| Error::InvalidInput(format!("unknown language '{code}'")))?,
            ),
            None => None,
        };
        let tok = &self.tokenizer;
        let decoder = &self.model.decoder;
        // The benchmark option: masks that never let EOT through, made for this call only.
        let forced_masks = if opts.suppress_eot {
            Some(SuppressMasks::without_eot(&self.gpu, self.config(), tok)?)
        } else {
            None
        };
        let masks = forced_masks.as_ref().unwrap_or(&self.masks);
        let slots = self.model.encoder.blocks.len() + decoder.blocks.len();
        let counts = GateCounts::new(&self.gpu, slots)?;
        let route_for = |language: &str| {
            self.experts_for(language).map(|experts| Route {
                experts,
                counts: &counts,
            })
        };

        // Tokens of every finished segment, after the initial prompt; the prompt of a window
        // is what came since the last reset.
        let mut all_tokens = match &opts.initial_prompt {
            Some(text) if !text.trim().is_empty() => tok.encode(&format!(" {}", text.trim()))?,
            _ => Vec::new(),
        };
        let mut prompt_reset_since = 0;
        let mut language = given;
        let mut route = given.and_then(route_for);
        let mut segments: Vec<Segment> = Vec::new();
        let (mut encoder_ms, mut decoder_ms, mut generated) = (0.0, 0.0, 0usize);
        // Seconds done once `seek` frames are: the whole duration at the end (the last frame
        // covers the final partial hop).
        let progress = |seek: usize| Event::Progress {
            done: if seek >= content_frames {
                duration
            } else {
                frames_to_seconds(seek).min(duration)
            },
            total: duration,
        };
        let mut seek = 0;
        let mut window_index = 0;
        // End of the last speech, for word timestamps.
        let mut last_speech = 0.0;
        // Frames to transcribe: all of them, or those of the first window.
        let last_frame = if opts.first_window_only {
            content_frames.min(N_FRAMES)
        } else {
            content_frames
        };
        while seek < last_frame {
            let window_frames = (content_frames - seek).min(N_FRAMES);
            if mel.is_silent(seek, window_frames) {
                // Nothing but digital silence: no speech, and the model would only hallucinate.
                seek += window_frames;
                on_event(progress(seek))?;
                continue;
            }
            let time_offset = frames_to_seconds(seek);
            let window = mel.window(seek, window_frames);

            let t = Instant::now();
            let mut encoded = self.encode_routed(&window, route)?;
            self.gpu.read_range(&encoded, 0, 1).await?; // wait for the encoder
            encoder_ms += ms(t);
            let t = Instant::now();
            let mut state = decoder.start(&self.gpu, &encoded, route);
            let code = match language {
                Some(code) => code,
                None => {
                    // First window without a given language: detect it with the plain model,
                    // then encode again through its expert pack when one is loaded and has
                    // encoder experts; otherwise the encoder output and the cross-attention
                    // keys and values stay.
                    let (code, _) = detect_language(&self.gpu, decoder, &mut state, tok).await?;
                    language = Some(code);
                    route = route_for(code);
                    if route.is_some_and(|r| r.experts.routes_encoder()) {
                        let te = Instant::now();
                        encoded = self.encode_routed(&window, route)?;
                        self.gpu.read_range(&encoded, 0, 1).await?;
                        encoder_ms += ms(te);
                        state = decoder.start(&self.gpu, &encoded, route);
                    } else {
                        state.reroute(route);
                    }
                    code
                }
            };
            let sot_sequence = tok.sot_sequence(Some(code), options.task)?;
            let (prompt, sot_index) = window_prompt(
                tok.sot_prev,
                &all_tokens[prompt_reset_since..],
                &sot_sequence,
                (!opts.timestamps).then_some(tok.no_timestamps),
                decoder.max_positions(),
            );
            let room = decoder.max_positions().saturating_sub(prompt.len());
            if opts.suppress_eot && opts.max_new_tokens > room {
                return Err(Error::InvalidInput(format!(
                    "{} forced decoder tokens do not fit: the decoder has {} positions and the \
                     prompt takes {}, which leaves room for {room}",
                    opts.max_new_tokens,
                    decoder.max_positions(),
                    prompt.len()
                )));
            }
            let decoded = self
                .decode_with_fallback(
                    &mut state,
                    &prompt,
                    sot_index,
                    opts,
                    masks,
                    window_index,
                    on_event,
                )
                .await?;
            decoder_ms += ms(t);
            generated += decoded.result.tokens.len();
            window_index += 1;

            let avg_logprob = decoded.result.avg_logprob();
            let no_speech_prob = decoded.result.no_speech_prob.map_or(0.0, f64::from);
            if is_silence(opts, no_speech_prob, avg_logprob)
                || self.likely_silence_without_words(
                    opts,
                    no_speech_prob,
                    &decoded.result.tokens,
                )?
            {
                seek += window_frames;
                on_event(progress(seek))?;
                continue;
            }
            let split = split_window(
                &decoded.result.tokens,
                tok.timestamp_begin,
                time_offset,
                window_frames,
            );
            let mut times: Vec<(f64, f64, usize)> = split
                .pieces
                .iter()
                .map(|p| {
                    (
                        p.start,
                        p.end,
                        p.tokens.iter().filter(|&&t| t < tok.eot).count(),
                    )
                })
                .collect();
            let mut words = vec![None; split.pieces.len()];
            let mut advance = split.advance.max(1);
            if opts.word_timestamps {
                let text_tokens: Vec<u32> = split
                    .pieces
                    .iter()
                    .flat_map(|p| p.tokens.iter().copied())
                    .filter(|&t| t < tok.eot)
                    .collect();
                let t = Instant::now();
                let found = self
                    .align_words(
                        &mut state,
                        &text_tokens,
                        &sot_sequence,
                        code,
                        window_frames,
                        time_offset,
                        &mut times,
                        &mut last_speech,
                    )
                    .await?;
                decoder_ms += ms(t);
                words = found.into_iter().map(Some).collect();
                // Resume after the last word rather than the last timestamp.
                let last_end = words
                    .iter()
                    .rev()
                    .find_map(|w: &Option<Vec<Word>>| w.as_ref().and_then(|w| w.last()))
                    .map(|w| w.end);
                if let (false, Some(end)) = (split.single_timestamp_ending, last_end) {
                    if end > time_offset {
                        advance = ((end * 100.0).round() as usize).saturating_sub(seek).max(1);
                    }
                }
            }
            for ((piece, (start, end, _)), words) in split.pieces.into_iter().zip(times).zip(words)
            {
                let text = tok.decode(&piece.tokens)?;
                // Zero-length or empty segments carry nothing worth keeping.
                if start == end || text.trim().is_empty() {
                    continue;
                }
                all_tokens.extend_from_slice(&piece.tokens);
                segments.push(Segment {
                    id: segments.len(),
                    seek,
                    start,
                    end,
                    text,
                    tokens: piece.tokens,
                    temperature: decoded.temperature,
                    avg_logprob,
                    compression_ratio: decoded.compression_ratio,
                    no_speech_prob,
                    words,
                });
                on_event(Event::Segment(&segments[segments.len() - 1]))?;
            }
            // A window decoded at a high temperature is a poor prompt for the next one.
            if !opts.condition_on_previous_text || decoded.temperature > 0.5 {
                prompt_reset_since = all_tokens.len();
            }
            // Pairs of timestamps always advance; the guard keeps a broken model from looping.
            seek = if opts.first_window_only {
                last_frame
            } else {
                seek + advance
            };
            on_event(progress(seek))?;
        }

        let gate_stats = match route {
            Some(route) => Some(self.gate_stats(route.experts, &counts).await?),
            None => None,
        };
        let text: String = segments.iter().map(|s| s.text.as_str()).collect();
        let tokens = segments
            .iter()
            .flat_map(|s| s.tokens.iter().copied())
            .filter(|&t| t < tok.eot)
            .collect();
        let language = language.unwrap_or("en");
        Ok(Transcript {
            text: text.trim().to_string(),
            language: language.to_string(),
            language_detected: given.is_none() && !tok.is_english_only(),
            expert: route.map(|r| r.experts.language.clone()),
            gate_stats,
            timings: Timings {
                load_ms: 0.0,
                mel_ms,
                encoder_ms,
                decoder_ms,
                tokens_per_s: generated as f64 / (decoder_ms / 1e3).max(1e-9),
                rtf: (mel_ms + encoder_ms + decoder_ms) / 1e3 / duration,
            },
            tokens,
            segments,
            duration,
            device: self.gpu.describe(),
        })
    }

    /// Beyond OpenAI's rule: a window the model finds likely silent (`<|nospeech|>` above the
    /// threshold) whose text has no letter or digit is silence however confident the text is.
    /// On room noise tiny.en writes " . . ." with high probability, segment after segment,
    /// and conditioned on it the next window does the same (docs/transcription.md).
    fn likely_silence_without_words(
        &self,
        opts: &DecodeOptions,
        no_speech_prob: f64,
        tokens: &[u32],
    ) -> Result<bool> {
        let likely_silent = opts
            .no_speech_threshold
            .is_some_and(|t| no_speech_prob > f64::from(t));
        if !likely_silent {
            return Ok(false);
        }
        let text: Vec<u32> = tokens
            .iter()
            .copied()
            .filter(|&t| t < self.tokenizer.eot)
            .collect();
        Ok(!self
            .tokenizer
            .decode(&text)?
            .chars()
            .any(char::is_alphanumeric))
    }

    /// Decodes one window at each temperature in turn until a decoding passes the checks
    /// (not repetitive, likely enough, or silence); greedy or beam search at 0, best of
    /// `best_of` samples above. Returns the passing decoding, or the last one tried.
    #[allow(clippy::too_many_arguments)]
    async fn decode_with_fallback(
        &self,
        state: &mut DecoderState<'_>,
        prompt: &[u32],
        sot_index: usize,
        opts: &DecodeOptions,
        masks: &SuppressMasks,
        window: usize,
        on_event: &mut dyn FnMut(Event<'_>) -> Result<()>,
    ) -> Result<Decoded> {
        let tok = &self.tokenizer;
        let max_initial_timestamp = opts
            .max_initial_timestamp
            .map(|s| (f64::from(s) / TIME_PRECISION).round() as u32);
        let mut last = None;
        for (ti, &temperature) in opts.temperatures.iter().enumerate() {
            if ti > 0 {
                on_event(Event::Retry { temperature })?;
            }
            let candidates = if temperature > 0.0 { opts.best_of } else { 1 };
            let mut best: Option<(f64, WindowDecoding)> = None;
            for candidate in 0..candidates {
                let window_options = WindowOptions {
                    timestamps: opts.timestamps,
                    max_initial_timestamp,
                    temperature,
                    seed: sample_seed(opts.seed, window, ti, candidate),
                    sample_len: opts.max_new_tokens,
                };
                let mut on_token = |t: u32| on_event(Event::Token(t));
                let (gpu, decoder) = (&self.gpu, &self.model.decoder);
                let result = if temperature == 0.0 && opts.beam_size > 1 {
                    decode_window_beams(
                        gpu,
                        decoder,
                        state,
                        prompt,
                        sot_index,
                        masks,
                        tok,
                        &window_options,
                        opts.beam(),
                        opts.length_penalty,
                        &mut on_token,
                    )
                    .await?
                } else {
                    decode_window(
                        gpu,
                        decoder,
                        state,
                        prompt,
                        sot_index,
                        masks,
                        tok,
                        &window_options,
                        &mut on_token,
                    )
                    .await?
                };
                let score =
                    candidate_score(result.sum_logprob, result.tokens.len(), opts.length_penalty);
                if best.as_ref().is_none_or(|(s, _)| score > *s) {
                    best = Some((score, result));
                }
            }
            let (_, result) = best.expect("at least one candidate");
            let text = tok.decode(&result.tokens)?;
            let ratio = compression_ratio(&text);
            let no_speech = result.no_speech_prob.map_or(0.0, f64::from);
            let passed = verdict(opts, ratio, result.avg_logprob(), no_speech) == Verdict::Accept;
            last = Some(Decoded {
                result,
                temperature,
                compression_ratio: ratio,
            });
            if passed {
                break;
            }
        }
        Ok(last.expect("at least one temperature"))
    }

    /// Word timestamps of one window (OpenAI `find_alignment` + `add_word_timestamps`): one
    /// teacher-forced pass of `[sot sequence, <|notimestamps|>, text, EOT]` keeping the
    /// alignment heads' cross-attention, DTW through it, words assigned to the segments
    /// (`times`: start, end and text-token count of each, updated in place).
    #[allow(clippy::too_many_arguments)]
    async fn align_words(
        &self,
        state: &mut DecoderState<'_>,
        text_tokens: &[u32],
        sot_sequence: &[u32],
        language: &str,
        window_frames: usize,
        time_offset: f64,
        times: &mut [(f64, f64, usize)],
        last_speech: &mut f64,
    ) -> Result<Vec<Vec<Word>>> {
        if text_tokens.is_empty() {
            return Ok(vec![Vec::new(); times.len()]);
        }
        let tok = &self.tokenizer;
        let decoder = &self.model.decoder;
        let mut sequence = sot_sequence.to_vec();
        sequence.push(tok.no_timestamps);
        sequence.extend_from_slice(text_tokens);
        sequence.push(tok.eot);
        if sequence.len() > decoder.max_positions() {
            return Ok(vec![Vec::new(); times.len()]);
        }
        state.reset();
        let heads = &self.alignment_heads;
        let (hidden, kept) =
            decoder.step_keeping_cross_attention(&self.gpu, state, &sequence, heads)?;
        let probs = self.gpu.tensor(&[text_tokens.len()]);
        for (i, &token) in text_tokens.iter().enumerate() {
            let logits = decoder.logits_of_row(&self.gpu, &hidden, sot_sequence.len() + i);
            token_probability(&self.gpu, &logits, 0, tok.eot as usize, token, &probs, i);
        }
        let mut attention = Vec::with_capacity(kept.len());
        for t in &kept {
            attention.push(self.gpu.read(t).await?);
        }
        let token_probs: Vec<f64> = self
            .gpu
            .read(&probs)
            .await?
            .into_iter()
            .map(f64::from)
            .collect();

        let kv_frames = kept[0].shape()[1];
        let frames = (window_frames / 2).clamp(1, kv_frames);
        let matrix = alignment_matrix(
            &attention,
            sequence.len(),
            kv_frames,
            frames,
            sot_sequence.len(),
        );
        let rows = sequence.len() - sot_sequence.len() - 1;
        let negated: Vec<f32> = matrix.iter().map(|v| -v).collect();
        let (path_rows, path_cols) = dtw(&negated, rows, frames);
        let mut with_eot = text_tokens.to_vec();
        with_eot.push(tok.eot);
        let words = tok.split_to_words(&with_eot, language)?;
        let mut alignment = word_timings(&words, &path_rows, &path_cols, &token_probs);
        let median = median_word_duration(&alignment);
        clip_long_words(&mut alignment, median);
        merge_punctuations(&mut alignment);
        Ok(assign_words(
            &alignment,
            times,
            time_offset,
            median,
            last_speech,
        ))
    }
}
