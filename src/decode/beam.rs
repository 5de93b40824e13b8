//! Beam search bookkeeping, as OpenAI's `BeamSearchDecoder` does it. The decoder runs every
//! live hypothesis as one batch per step and the GPU lists each one's best `beam_size + 1`
//! next tokens ([`crate::ops::token_pick::top_tokens`]); this module decides which
//! continuations live on, which are finished, and which sequence wins.
//!
//! Per step: every (hypothesis, candidate token) pair is scored by its summed
//! log-probability; the pairs are ranked (ties keep their listing order); those ending in EOT
//! join the finished list, the best `beam_size` others become the next hypotheses. Decoding
//! stops when `round(beam_size × patience)` sequences have finished; at the end, when fewer
//! than `beam_size` finished, the best live ones are counted as finished too. The winner is
//! the finished sequence with the best [`candidate_score`] (length-normalised).

use super::fallback::candidate_score;
use crate::ops::token_pick::NO_TOKEN;
use crate::{Error, Result};

/// Beam search settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeamOptions {
    /// Hypotheses kept per step (1: the same choice as greedy decoding).
    pub beam_size: usize,
    /// Finished sequences to wait for, as a multiple of `beam_size` (1.0: OpenAI's default).
    pub patience: f32,
}

impl BeamOptions {
    /// Finished sequences that end the search.
    pub fn max_candidates(&self) -> usize {
        (self.beam_size as f32 * self.patience).round() as usize
    }

    /// Rejects settings that cannot search (no beams, no candidates).
    pub fn check(&self) -> Result<()> {
        if self.beam_size == 0 {
            return Err(Error::InvalidInput(
                "beam size must be at least 1 (1 is greedy decoding)".into(),
            ));
        }
        if !self.patience.is_finite() || self.patience <= 0.0 || self.max_candidates() == 0 {
            return Err(Error::InvalidInput(format!(
                "patience {} with beam size {} waits for no finished sequence: use a \
                 larger patience (1 is the default)",
                self.patience, self.beam_size
            )));
        }
        Ok(())
    }
}

/// A sequence of generated tokens (EOT not included) and its summed log-probability
/// (EOT's included once finished).
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    pub tokens: Vec<u32>,
    pub sum_logprob: f64,
}

/// What the decoder runs next: hypothesis b continues old hypothesis `sources[b]` with
/// `tokens[b]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeamStep {
    pub sources: Vec<u32>,
    pub tokens: Vec<u32>,
}

/// The state of one window's beam search.
pub struct BeamSearch {
    options: BeamOptions,
    eot: u32,
    live: Vec<Hypothesis>,
    finished: Vec<Hypothesis>,
}

impl BeamSearch {
    /// Starts from one empty hypothesis (the prompt, decoded once).
    pub fn new(options: BeamOptions, eot: u32) -> Result<BeamSearch> {
        options.check()?;
        Ok(BeamSearch {
            options,
            eot,
            live: vec![Hypothesis {
                tokens: Vec::new(),
                sum_logprob: 0.0,
            }],
            finished: Vec::new(),
        })
    }

    /// The hypotheses the decoder holds, in beam order.
    pub fn live(&self) -> &[Hypothesis] {
        &self.live
    }

    /// Token candidates each live hypothesis needs listed: one more than the beam size, so
    /// that a hypothesis whose best token is EOT still leaves `beam_size` to continue.
    pub fn candidates_per_beam(&self) -> usize {
        self.options.beam_size + 1
    }

    /// Whether enough sequences have finished (or none can go on).
    pub fn is_done(&self) -> bool {
        self.finished.len() >= self.options.max_candidates() || self.live.is_empty()
    }

    /// Advances by one token. `candidates[b]` lists live hypothesis b's best tokens with
    /// their log-probabilities, best first ([`NO_TOKEN`] entries are ignored).
    pub fn update(&mut self, candidates: &[Vec<(u32, f32)>]) -> BeamStep {
        assert_eq!(
            candidates.len(),
            self.live.len(),
            "candidates per live beam"
        );
        let mut scored: Vec<(f64, usize, u32)> = Vec::new();
        for (beam, list) in candidates.iter().enumerate() {
            let base = self.live[beam].sum_logprob;
            for &(token, logprob) in list.iter().filter(|c| c.0 != NO_TOKEN) {
                scored.push((base + f64::from(logprob), beam, token));
            }
        }
        // Best first; a stable sort keeps equal scores in listing order.
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut next = Vec::new();
        let mut step = BeamStep {
            sources: Vec::new(),
            tokens: Vec::new(),
        };
        let mut newly_finished = Vec::new();
        for (score, beam, token) in scored {
            let mut tokens = self.live[beam].tokens.clone();
            if token == self.eot {
                newly_finished.push(Hypothesis {
                    tokens,
                    sum_logprob: score,
                });
                continue;
            }
            tokens.push(token);
            next.push(Hypothesis {
                tokens,
                sum_logprob: score,
            });
            step.sources.push(beam as u32);
            step.tokens.push(token);
            if next.len() == self.options.beam_size {
                break;
            }
        }
        let room = self
            .options
            .max_candidates()
            .saturating_sub(self.finished.len());
        self.finished.extend(newly_finished.into_iter().take(room));
        self.live = next;
        step
    }

    /// The finished sequences, topped up with the best live ones when fewer than
    /// `beam_size` finished, and the index of the winner under `length_penalty`.
    pub fn finish(mut self, length_penalty: Option<f32>) -> (Vec<Hypothesis>, usize) {
        if self.finished.len() < self.options.beam_size {
            let mut live = std::mem::take(&mut self.live);
            live.sort_by(|a, b| b.sum_logprob.total_cmp(&a.sum_logprob));
            let missing = self.options.beam_size - self.finished.len();
            self.finished.extend(live.into_iter().take(missing));
        }
        let mut best = 0;
        let mut best_score = f64::NEG_INFINITY;
        for (i, h) in self.finished.iter().enumerate() {
            let score = candidate_score(h.sum_logprob, h.tokens.len(), length_penalty);
            if score > best_score {
                best = i;
                best_score = score;
            }
        }
        (self.finished, best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EOT: u32 = 99;

    fn search(beam_size: usize, patience: f32) -> BeamSearch {
        BeamSearch::new(
            BeamOptions {
                beam_size,
                patience,
            },
            EOT,
        )
        .unwrap()
    }

    fn ln(p: f64) -> f32 {
        p.ln() as f32
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = |beam_size, patience| {
            BeamOptions {
                beam_size,
                patience,
            }
            .check()
            .unwrap_err()
            .to_string()
        };
        assert!(bad(0, 1.0).contains("at least 1"));
        assert!(bad(2, 0.0).contains("patience"));
        assert!(bad(2, f32::NAN).contains("patience"));
        assert!(bad(1, 0.4).contains("patience"), "rounds to no candidate");
    }

    #[test]
    fn a_step_keeps_the_best_continuations_and_sets_eot_aside() {
        let mut s = search(2, 1.0);
        // From the empty prompt: tokens 5 (0.5), EOT (0.3), 7 (0.2).
        let step = s.update(&[vec![(5, ln(0.5)), (EOT, ln(0.3)), (7, ln(0.2))]]);
        assert_eq!(step.sources, [0, 0]);
        assert_eq!(step.tokens, [5, 7]);
        assert_eq!(s.finished.len(), 1);
        assert!(s.finished[0].tokens.is_empty());
        assert!(!s.is_done(), "one of two finished");
        // Beam 0 = [5] (log 0.5), beam 1 = [7] (log 0.2). Scores: [5,1]: .5*.9=.45,
        // [5,EOT]: .05, [7,EOT]: .2*.8=.16, [7,3]: .2*.2=.04, [5,2]: .5*.05.
        let step = s.update(&[
            vec![(1, ln(0.9)), (EOT, ln(0.1)), (2, ln(0.05))],
            vec![(EOT, ln(0.8)), (3, ln(0.2)), (4, ln(0.0001))],
        ]);
        assert_eq!(step.sources, [0, 1]);
        assert_eq!(step.tokens, [1, 3]);
        // [7, EOT] (.16) finished before [5, EOT] (.05); only one more was room.
        assert_eq!(s.finished.len(), 2);
        assert_eq!(s.finished[1].tokens, [7]);
        assert!((s.finished[1].sum_logprob - (0.2f64 * 0.8).ln()).abs() < 1e-6);
        assert!(s.is_done());
        assert_eq!(s.live()[0].tokens, [5, 1]);
        assert_eq!(s.live()[1].tokens, [7, 3]);
    }

    #[test]
    fn patience_waits_for_more_finished_sequences() {
        let mut s = search(1, 2.0);
        s.update(&[vec![(EOT, ln(0.6)), (4, ln(0.4))]]);
        assert!(!s.is_done(), "patience 2 waits for a second sequence");
        s.update(&[vec![(EOT, ln(0.7)), (6, ln(0.3))]]);
        assert!(s.is_done());
        let (finished, best) = s.finish(None);
        assert_eq!(finished.len(), 2);
        // Empty sequence: log .6 / max(0, tiny) is hugely negative; [4]: log(.4·.7) / 1.
        assert_eq!(finished[best].tokens, [4]);
    }

    #[test]
    fn unfinished_searches_count_their_best_live_beams() {
        let mut s = search(2, 1.0);
        s.update(&[vec![(5, ln(0.6)), (6, ln(0.3)), (EOT, ln(0.1))]]);
        let (finished, best) = s.finish(None);
        // Nothing finished: the two live beams stand in, best score first.
        assert_eq!(finished.len(), 2);
        assert_eq!(finished[0].tokens, [5]);
        assert_eq!(finished[1].tokens, [6]);
        assert_eq!(best, 0);
    }

    #[test]
    fn ranking_applies_the_length_penalty() {
        // Finished: [1] at -1.0 (-1 per token) and [1, 2, 3, 4] at -3.0 (-0.75 per token).
        let finished = || {
            let mut s = search(2, 1.0);
            s.finished = vec![
                Hypothesis {
                    tokens: vec![1],
                    sum_logprob: -1.0,
                },
                Hypothesis {
                    tokens: vec![1, 2, 3, 4],
                    sum_logprob: -3.0,
                },
            ];
            s
        };
        // Per token, the longer one wins.
        assert_eq!(finished().finish(None).1, 1);
        // α = 0: no normalisation, the shorter (more likely) one wins.
        assert_eq!(finished().finish(Some(0.0)).1, 0);
    }

    #[test]
    fn beam_one_follows_the_best_token_like_greedy() {
        let mut s = search(1, 1.0);
        let step = s.update(&[vec![(3, ln(0.5)), (EOT, ln(0.4))]]);
        assert_eq!(step.tokens, [3]);
        assert!(
            s.finished.is_empty(),
            "EOT ranked after the kept beam is not reached"
        );
        let step = s.update(&[vec![(EOT, ln(0.9)), (8, ln(0.1))]]);
        assert_eq!(step.tokens, [8]);
        assert!(s.is_done());
        let (finished, best) = s.finish(None);
        assert_eq!(finished[best].tokens, [3]);
    }
}
