//! Band-limited sample-rate conversion with rubato's windowed-sinc resampler.

use rubato::{
    Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

use crate::{Error, Result};

/// Input frames handed to rubato per call; large enough to amortise per-call overhead.
pub(super) const CHUNK: usize = 4096;
/// Smallest chunk: must exceed the sinc length plus one output step at MAX_RATIO downsampling.
pub(super) const MIN_CHUNK: usize = 1024;
/// Largest supported rate ratio either way (1 MHz -> 16 kHz is 62.5).
const MAX_RATIO: f64 = 64.0;
/// Sinc filter length: long enough for a steep anti-aliasing cut well above speech content.
const SINC_LEN: usize = 256;

/// Band-limited resampling (rubato, sinc) of mono samples; identity when rates are equal.
/// NaN/inf input samples are taken as silence (0.0).
///
/// The output holds `round(len * to_rate / from_rate)` samples and is time-aligned with the input
/// to within one output sample.
pub fn resample(samples: &[f32], from_rate: u32, to_rate: u32) -> Result<Vec<f32>> {
    let ratio = check_rates(from_rate, to_rate)?;
    // NaN/inf would smear over the whole sinc window; they are taken as silence.
    let samples = &*super::finite_samples(samples);
    if from_rate == to_rate || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let expected = (samples.len() as f64 * ratio).round() as usize;
    // A short input gets a short chunk: rubato pads a partial chunk to full length, which with a
    // large upsampling ratio would generate (and discard) a big output. Not below MIN_CHUNK, or
    // rubato's filter never fits inside a chunk and it emits nothing.
    let chunk = samples.len().clamp(MIN_CHUNK, CHUNK);
    let mut resampler = new_resampler(ratio, chunk)?;
    // rubato 0.16's SincFixedIn starts with its filter centred on input sample 0 (initial index
    // -sinc_len/2), so there is no filter delay to drop: output k is the input at time
    // (k + 1 - ratio) output samples. `output_delay()` does not describe this (measured; see
    // tests/audio.rs), so it is not used. Upsampling lags by ratio - 1 samples: drop the whole ones.
    let lag = lag_of(ratio);
    let mut out = Vec::with_capacity(expected + lag);
    run(&mut resampler, samples, chunk, lag + expected, &mut out)?;
    out.drain(..lag.min(out.len()));
    out.truncate(expected);
    Ok(out)
}

/// The output/input rate ratio, or an error naming the rates when they cannot be converted.
pub(super) fn check_rates(from_rate: u32, to_rate: u32) -> Result<f64> {
    if from_rate == 0 || to_rate == 0 {
        return Err(Error::InvalidInput(format!(
            "cannot resample from {from_rate} Hz to {to_rate} Hz: sample rates must be positive"
        )));
    }
    let ratio = to_rate as f64 / from_rate as f64;
    if !(1.0 / MAX_RATIO..=MAX_RATIO).contains(&ratio) {
        return Err(Error::InvalidInput(format!(
            "cannot resample from {from_rate} Hz to {to_rate} Hz: the rates may differ by at \
             most a factor of {MAX_RATIO}"
        )));
    }
    Ok(ratio)
}

/// Whole output samples the resampler lags behind its input (see [`resample`]).
pub(super) fn lag_of(ratio: f64) -> usize {
    (ratio - 1.0).round().max(0.0) as usize
}

pub(super) fn new_resampler(ratio: f64, chunk: usize) -> Result<SincFixedIn<f32>> {
    let window = WindowFunction::BlackmanHarris2;
    let params = SincInterpolationParameters {
        sinc_len: SINC_LEN,
        f_cutoff: rubato::calculate_cutoff(SINC_LEN, window),
        oversampling_factor: 256,
        interpolation: SincInterpolationType::Cubic,
        window,
    };
    SincFixedIn::new(ratio, 1.0, params, chunk, 1)
        .map_err(|e| Error::Audio(format!("cannot build a resampler for ratio {ratio}: {e}")))
}

/// Feeds all input, then zeros, until `wanted` output samples exist (the tail of the signal is
/// still inside the filter after the last real chunk).
fn run(
    r: &mut SincFixedIn<f32>,
    samples: &[f32],
    chunk: usize,
    wanted: usize,
    out: &mut Vec<f32>,
) -> Result<()> {
    let err = |e: rubato::ResampleError| Error::Audio(format!("resampling failed: {e}"));
    let mut chunks = samples.chunks_exact(chunk);
    for c in chunks.by_ref() {
        out.extend_from_slice(&r.process(&[c], None).map_err(err)?[0]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        out.extend_from_slice(&r.process_partial(Some(&[rest]), None).map_err(err)?[0]);
    }
    while out.len() < wanted {
        let flushed = r.process_partial::<&[f32]>(None, None).map_err(err)?;
        if flushed[0].is_empty() {
            // Cannot happen within MAX_RATIO and MIN_CHUNK, but never loop forever.
            return Err(Error::Audio(
                "resampling failed: the resampler stopped producing output".into(),
            ));
        }
        out.extend_from_slice(&flushed[0]);
    }
    Ok(())
}
