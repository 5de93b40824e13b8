//! Decoding one 30 s window: the prompt through the decoder, then one token per step chosen on
//! the GPU (suppression, timestamp rules, argmax or a seeded sample), until EOT or the length
//! limit. Only the chosen id and its log-probability are read back each step.
//!
//! Beam search ([`decode_window_beams`]) decodes the prompt once, then runs all hypotheses as
//! one batch per step; the GPU lists each hypothesis's best tokens under the same filters and
//! the KV cache is reordered on the GPU to follow the survivors ([`super::beam`]).

use super::beam::{BeamOptions, BeamSearch};
use super::suppress::SuppressMasks;
use super::timestamps::timestamp_filter;
use super::tokenizer::WhisperTokenizer;
use crate::gpu::{Gpu, Tensor};
use crate::model::{Decoder, DecoderState, GreedyPick, StepLogits};
use crate::ops::token_pick::{
    new_history, pick_token, pick_token_tracked, token_probability, top_tokens, Pick,
};
use crate::{Error, Result};

/// How to decode one window.
#[derive(Clone, Copy, Debug)]
pub struct WindowOptions {
    /// Timestamp tokens and their rules (otherwise the prompt ends in `<|notimestamps|>`).
    pub timestamps: bool,
    /// Latest first timestamp, in timestamp steps (OpenAI: 1.0 s = 50 steps).
    pub max_initial_timestamp: Option<u32>,
    /// 0: greedy; above: sampling from softmax(logits / temperature).
    pub temperature: f32,
    /// RNG seed for sampling (the same seed draws the same tokens).
    pub seed: u32,
    /// Most tokens to generate (EOT not counted).
    pub sample_len: usize,
}

/// What one decoding of a window produced.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowDecoding {
    /// Generated tokens, timestamps included, without EOT.
    pub tokens: Vec<u32>,
    /// Sum of the chosen tokens' log-probabilities, EOT's included.
    pub sum_logprob: f64,
    /// Probability of `<|nospeech|>` at the `<|startoftranscript|>` position.
    pub no_speech_prob: Option<f32>,
}

impl WindowDecoding {
    /// OpenAI's average log-probability: the sum over (tokens + 1), counting EOT.
    pub fn avg_logprob(&self) -> f64 {
        self.sum_logprob / (self.tokens.len() + 1) as f64
    }
}

/// Decodes after `prompt`, whose `<|startoftranscript|>` sits at `sot_index`; the state's
/// cache is reset first. `on_token` sees each generated token as it is chosen; an error it
/// returns stops decoding and is returned.
#[allow(clippy::too_many_arguments)]
pub async fn decode_window(
    gpu: &Gpu,
    decoder: &Decoder,
    state: &mut DecoderState<'_>,
    prompt: &[u32],
    sot_index: usize,
    masks: &SuppressMasks,
    tok: &WhisperTokenizer,
    options: &WindowOptions,
    on_token: &mut dyn FnMut(u32) -> Result<()>,
) -> Result<WindowDecoding> {
    let started = start_window(gpu, decoder, state, prompt, sot_index, tok, options)?;
    let steps = Steps {
        gpu,
        decoder,
        masks,
        tok,
        options,
    };
    // The prompt's logits: one product per window, left without partials.
    let logits = StepLogits {
        logits: started.logits,
        partials: None,
    };
    let (tokens, sum_logprob) = if decoder.overlapped_steps {
        steps
            .overlapped(state, logits, started.sample_len, on_token)
            .await?
    } else {
        steps
            .one_by_one(state, logits, started.sample_len, on_token)
            .await?
    };
    Ok(WindowDecoding {
        tokens,
        sum_logprob,
        no_speech_prob: read_no_speech(gpu, started.no_speech).await?,
    })
}

/// What a window's token-by-token decoding needs.
struct Steps<'a> {
    gpu: &'a Gpu,
    decoder: &'a Decoder,
    masks: &'a SuppressMasks,
    tok: &'a WhisperTokenizer,
    options: &'a WindowOptions,
}

impl Steps<'_> {
    /// The pick of step `step` (`sampled`: the tokens before it, for the host's timestamp
    /// rules).
    fn pick(&self, sampled: &[u32], step: u32) -> Pick {
        let o = self.options;
        let vocab = self.decoder.vocab_size() as u32;
        Pick {
            ts_begin: self.tok.timestamp_begin,
            eot: self.tok.eot,
            timestamps: o.timestamps.then(|| {
                timestamp_filter(
                    sampled,
                    self.tok.timestamp_begin,
                    vocab,
                    o.max_initial_timestamp,
                )
            }),
            temperature: o.temperature,
            seed: o.seed,
            step,
        }
    }

    /// What a step's logits product leaves for a greedy pick under `mask` (nothing when
    /// sampling).
    fn greedy<'m>(&self, mask: &'m Tensor) -> Option<GreedyPick<'m>> {
        (self.options.temperature == 0.0).then_some(GreedyPick {
            mask,
            eot: self.tok.eot,
        })
    }

    /// Up to `sample_len` tokens after `logits`, each read back before the next step is
    /// recorded. Returns the tokens and the sum of their log-probabilities (EOT's included).
    async fn one_by_one(
        &self,
        state: &mut DecoderState<'_>,
        mut logits: StepLogits,
        sample_len: usize,
        on_token: &mut dyn FnMut(u32) -> Result<()>,
    ) -> Result<(Vec<u32>, f64)> {
        let (gpu, tok) = (self.gpu, self.tok);
        let picked = gpu.tensor(&[2]);
        let mut tokens = Vec::new();
        let mut sum_logprob = 0.0f64;
        while tokens.len() < sample_len {
            let pick = self.pick(&tokens, tokens.len() as u32);
            let mask = self
                .masks
                .for_step(tokens.is_empty(), self.options.timestamps);
            pick_token(
                gpu,
                &logits.logits,
                0,
                mask,
                &pick,
                logits.partials.as_ref(),
                &picked,
            );
            let read = gpu.read_u32(&picked).await?;
            let (token, logprob) = (read[0], f32::from_bits(read[1]));
            sum_logprob += f64::from(logprob);
            if token == tok.eot {
                break;
            }
            on_token(token)?;
            tokens.push(token);
            if tokens.len() < sample_len {
                let next_mask = self.masks.for_step(false, self.options.timestamps);
                logits = self
                    .decoder
                    .step_with(gpu, state, &[token], self.greedy(next_mask))?;
            }
        }
        Ok((tokens, sum_logprob))
    }

    /// [`Self::one_by_one`]'s tokens, with each step recorded and submitted before the
    /// previous pick is read back: the step embeds the id the pick wrote on the GPU, and the
    /// GPU keeps the timestamp rules' history, so the GPU computes step t + 1 while the host
    /// waits for token t. The step after EOT is computed and dropped.
    async fn overlapped(
        &self,
        state: &mut DecoderState<'_>,
        logits: StepLogits,
        sample_len: usize,
        on_token: &mut dyn FnMut(u32) -> Result<()>,
    ) -> Result<(Vec<u32>, f64)> {
        let (gpu, decoder, tok) = (self.gpu, self.decoder, self.tok);
        let timestamps = self.options.timestamps;
        let mut tokens = Vec::new();
        let mut sum_logprob = 0.0f64;
        if sample_len == 0 {
            return Ok((tokens, sum_logprob));
        }
        let history = new_history(gpu)?;
        // Every step's pick gets the first step's host filter: the kernel derives the rest.
        let pick = |step| self.pick(&[], step);
        let mut picked = gpu.tensor(&[2]);
        let first_mask = self.masks.for_step(true, timestamps);
        let partials = logits.partials.as_ref();
        pick_token_tracked(
            gpu,
            &logits.logits,
            first_mask,
            &pick(0),
            partials,
            &history,
            &picked,
        );
        drop(logits);
        let mut pending = gpu.start_read(&picked)?;
        loop {
            let next = if tokens.len() + 1 < sample_len {
                let mask = self.masks.for_step(false, timestamps);
                let logits = decoder.step_picked(gpu, state, &picked, self.greedy(mask))?;
                let next_picked = gpu.tensor(&[2]);
                let step = tokens.len() as u32 + 1;
                let partials = logits.partials.as_ref();
                pick_token_tracked(
                    gpu,
                    &logits.logits,
                    mask,
                    &pick(step),
                    partials,
                    &history,
                    &next_picked,
                );
                let read = gpu.start_read(&next_picked)?;
                Some((next_picked, read))
            } else {
                None
            };
            let read = gpu.finish_read_u32(pending).await?;
            let (token, logprob) = (read[0], f32::from_bits(read[1]));
            sum_logprob += f64::from(logprob);
            if token == tok.eot {
                if next.is_some() {
                    state.len -= 1; // the dropped step's position
                }
                break;
            }
            on_token(token)?;
            tokens.push(token);
            let Some((next_picked, read)) = next else {
                break;
            };
            picked = next_picked;
            pending = read;
        }
        Ok((tokens, sum_logprob))
    }
}

/// A window's prompt run through the decoder.
struct StartedWindow {
    /// Logits after the prompt's last token [1, vocab].
    logits: Tensor,
    /// `<|nospeech|>`'s probability at `<|startoftranscript|>` (one f32), when the
    /// vocabulary has the token.
    no_speech: Option<Tensor>,
    /// Most tokens to generate: the options' limit within the decoder's room.
    sample_len: usize,
}

/// Resets the state and decodes `prompt`: up to `<|startoftranscript|>` first, so the
/// no-speech probability can be read at that position, then the rest.
fn start_window(
    gpu: &Gpu,
    decoder: &Decoder,
    state: &mut DecoderState<'_>,
    prompt: &[u32],
    sot_index: usize,
    tok: &WhisperTokenizer,
    options: &WindowOptions,
) -> Result<StartedWindow> {
    if sot_index >= prompt.len() || prompt[sot_index] != tok.sot {
        return Err(Error::InvalidInput(
            "a window prompt must hold <|startoftranscript|> at its sot index".into(),
        ));
    }
    state.reset();
    let vocab = decoder.vocab_size();
    let room = decoder.max_positions().saturating_sub(prompt.len());
    let (head, tail) = prompt.split_at(sot_index + 1);
    let mut logits = decoder.step(gpu, state, head)?;
    let no_speech = match tok.no_speech {
        Some(id) if (id as usize) < vocab => {
            let out = gpu.tensor(&[1]);
            token_probability(gpu, &logits, 0, vocab, id, &out, 0);
            Some(out)
        }
        _ => None,
    };
    if !tail.is_empty() {
        logits = decoder.step(gpu, state, tail)?;
    }
    Ok(StartedWindow {
        logits,
        no_speech,
        sample_len: options.sample_len.min(room),
    })
}

async fn read_no_speech(gpu: &Gpu, no_speech: Option<Tensor>) -> Result<Option<f32>> {
    Ok(match no_speech {
        Some(out) => Some(gpu.read(&out).await?[0]),
        None => None,
    })
}

/// Beam search over one window (temperature 0): like [`decode_window`], but `beam`'s
/// hypotheses are decoded side by side and the winner under `length_penalty` is returned.
/// `on_token` sees the winner's tokens once the search is over.
#[allow(clippy::too_many_arguments)]
pub async fn decode_window_beams(
    gpu: &Gpu,
    decoder: &Decoder,
    state: &mut DecoderState<'_>,
    prompt: &[u32],
    sot_index: usize,
    masks: &SuppressMasks,
    tok: &WhisperTokenizer,
    options: &WindowOptions,
    beam: BeamOptions,
    length_penalty: Option<f32>,
    on_token: &mut dyn FnMut(u32) -> Result<()>,
) -> Result<WindowDecoding> {
    let mut search = BeamSearch::new(beam, tok.eot)?;
    let started = start_window(gpu, decoder, state, prompt, sot_index, tok, options)?;
    let (mut logits, sample_len) = (started.logits, started.sample_len);
    let vocab = decoder.vocab_size();
    let k = search.candidates_per_beam();
    let listed = gpu.tensor(&[beam.beam_size * 2 * k]);
    for generated in 0..sample_len {
        let live = search.live();
        for (b, hypothesis) in live.iter().enumerate() {
            let pick = Pick {
                ts_begin: tok.timestamp_begin,
                eot: tok.eot,
                timestamps: options.timestamps.then(|| {
                    timestamp_filter(
                        &hypothesis.tokens,
                        tok.timestamp_begin,
                        vocab as u32,
                        options.max_initial_timestamp,
                    )
                }),
                temperature: 0.0,
                seed: 0,
                step: 0,
            };
            let mask = masks.for_step(hypothesis.tokens.is_empty(), options.timestamps);
            top_tokens(gpu, &logits, b * vocab, mask, &pick, k, &listed, b * 2 * k);
        }
        let read = gpu.read_u32(&listed).await?;
        let candidates: Vec<Vec<(u32, f32)>> = (0..live.len())
            .map(|b| {
                read[b * 2 * k..(b + 1) * 2 * k]
                    .chunks(2)
                    .map(|c| (c[0], f32::from_bits(c[1])))
                    .collect()
            })
            .collect();
        let step = search.update(&candidates);
        if search.is_done() || generated + 1 == sample_len {
            break;
        }
        decoder.reorder_beams(gpu, state, &step.sources)?;
        logits = decoder.step_beams(gpu, state, &step.tokens)?;
    }
    let (mut finished, best) = search.finish(length_penalty);
    let winner = finished.swap_remove(best);
    for &token in &winner.tokens {
        on_token(token)?;
    }
    Ok(WindowDecoding {
        tokens: winner.tokens,
        sum_logprob: winner.sum_logprob,
        no_speech_prob: read_no_speech(gpu, started.no_speech).await?,
    })
}
