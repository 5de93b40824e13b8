//! Sample-rate conversion of a stream that arrives in pieces, equal to [`super::resample`] of
//! the whole recording: the same rubato resampler is fed the same chunks (input is buffered
//! up to a chunk), so only a chunk of input and a few output samples are ever held.

use rubato::{Resampler, SincFixedIn};

use super::resample::{check_rates, lag_of, new_resampler, CHUNK, MIN_CHUNK};
use crate::{Error, Result};

/// Output samples held back until the end, when the exact output length is known. The
/// resampler never runs ahead of `round(input * ratio)` by more than its lag plus one sample;
/// this is a margin over that, checked in `finish`.
const HOLD_BACK: usize = 256;

/// Streaming counterpart of [`super::resample`]: `push` pieces of mono input, then `finish`;
/// the concatenated output equals `resample` of the concatenated input.
pub struct StreamResampler {
    ratio: f64,
    /// None when the rates are equal: samples pass straight through.
    state: Option<SincState>,
    /// Input samples pushed so far.
    consumed: usize,
    /// Output samples handed out so far.
    emitted: usize,
}

struct SincState {
    /// Built on the first full chunk, or at `finish` for an input shorter than one chunk
    /// (whose chunk size then follows the input's length, as `resample` does).
    resampler: Option<SincFixedIn<f32>>,
    /// Input not yet handed to rubato (less than one chunk).
    input: Vec<f32>,
    /// Output not yet handed out: the lag still to drop, then the held-back tail.
    output: Vec<f32>,
    /// Leading output samples still to drop (see `resample`).
    lag_left: usize,
}

impl StreamResampler {
    pub fn new(from_rate: u32, to_rate: u32) -> Result<Self> {
        let ratio = check_rates(from_rate, to_rate)?;
        let state = (from_rate != to_rate).then(|| SincState {
            resampler: None,
            input: Vec::with_capacity(CHUNK),
            output: Vec::new(),
            lag_left: lag_of(ratio),
        });
        Ok(Self {
            ratio,
            state,
            consumed: 0,
            emitted: 0,
        })
    }

    /// Resamples `input` (finite samples), appending what is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        self.consumed += input.len();
        let Some(state) = &mut self.state else {
            out.extend_from_slice(input);
            self.emitted += input.len();
            return Ok(());
        };
        let mut rest = input;
        while !rest.is_empty() {
            let take = (CHUNK - state.input.len()).min(rest.len());
            state.input.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if state.input.len() == CHUNK {
                if state.resampler.is_none() {
                    state.resampler = Some(new_resampler(self.ratio, CHUNK)?);
                }
                let r = state.resampler.as_mut().expect("built above");
                let produced = r.process(&[&state.input], None).map_err(failed)?;
                state.output.extend_from_slice(&produced[0]);
                state.input.clear();
            }
        }
        state.drop_lag();
        let ready = state.output.len().saturating_sub(HOLD_BACK);
        out.extend_from_slice(&state.output[..ready]);
        state.output.drain(..ready);
        self.emitted += ready;
        Ok(())
    }

    /// Flushes the resampler, appending the rest of the output to `out`: in all
    /// `round(input * to_rate / from_rate)` samples.
    pub fn finish(mut self, out: &mut Vec<f32>) -> Result<()> {
        let Some(state) = &mut self.state else {
            return Ok(());
        };
        if self.consumed == 0 {
            return Ok(());
        }
        let expected = (self.consumed as f64 * self.ratio).round() as usize;
        let mut r = match state.resampler.take() {
            Some(r) => r,
            None => new_resampler(self.ratio, self.consumed.clamp(MIN_CHUNK, CHUNK))?,
        };
        if !state.input.is_empty() {
            let produced = r
                .process_partial(Some(&[&state.input]), None)
                .map_err(failed)?;
            state.output.extend_from_slice(&produced[0]);
            state.input.clear();
        }
        state.drop_lag();
        while self.emitted + state.output.len() < expected {
            let flushed = r.process_partial::<&[f32]>(None, None).map_err(failed)?;
            if flushed[0].is_empty() {
                // Cannot happen within the supported ratios, but never loop forever.
                return Err(Error::Audio(
                    "resampling failed: the resampler stopped producing output".into(),
                ));
            }
            state.output.extend_from_slice(&flushed[0]);
            state.drop_lag();
        }
        if self.emitted > expected {
            return Err(Error::Audio(format!(
                "resampling failed: {} samples were handed out before the end, more than the \
                 {expected} the input makes (an internal error)",
                self.emitted
            )));
        }
        out.extend_from_slice(&state.output[..expected - self.emitted]);
        Ok(())
    }
}

impl SincState {
    fn drop_lag(&mut self) {
        let drop = self.lag_left.min(self.output.len());
        self.output.drain(..drop);
        self.lag_left -= drop;
    }
}

fn failed(e: rubato::ResampleError) -> Error {
    Error::Audio(format!("resampling failed: {e}"))
}
