//! Next-token choice on the GPU (`token_pick.wgsl`): suppress mask, timestamp rules, then
//! argmax or a seeded sample; writes the id and its log-probability, 8 bytes to read back.
//! Beam search reads the k best ids of each beam's row instead ([`top_tokens`]).
//! A greedy step's logits product can leave argmax partials of the text ids
//! ([`ArgmaxPartials`]), so that the pick reads only the special and timestamp logits.

use bytemuck::Zeroable;

use super::u;
use crate::gpu::shader::Kernel;
use crate::gpu::{Gpu, Tensor};
use crate::Result;

const SOURCE: &str = include_str!("../../shaders/runtime/token_pick.wgsl");

crate::params_struct! {
    struct Params {
        n: u32,
        offset: u32,
        ts_begin: u32,
        eot: u32,
        flags: u32,
        ts_min: u32,
        ts_max: u32,
        seed: u32,
        step: u32,
        wanted: u32,
        temperature: f32,
        out_index: u32,
        k: u32,
        partials: u32,
        _pad: [u32; 2],
    }
}

const TIMESTAMPS: u32 = 1;
const FIRST: u32 = 2;
const NO_TS: u32 = 4;
const NO_TEXT: u32 = 8;

fn pick_kernel(history: bool, partials: bool) -> Kernel {
    Kernel::new::<Params>("runtime/token_pick.wgsl", SOURCE, "main")
        .define_if("HISTORY", history)
        .define_if("PARTIALS", partials)
}

fn top_k_kernel() -> Kernel {
    Kernel::new::<Params>("runtime/token_pick.wgsl", SOURCE, "top_k")
}

fn probability_kernel() -> Kernel {
    Kernel::new::<Params>("runtime/token_pick.wgsl", SOURCE, "probability")
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![
        pick_kernel(false, false),
        pick_kernel(false, true),
        pick_kernel(true, false),
        pick_kernel(true, true),
        top_k_kernel(),
        probability_kernel(),
    ]
}

/// The timestamp rules for one step, derived by the host from the tokens sampled so far
/// (see [`crate::decode::timestamps::timestamp_filter`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimestampFilter {
    /// First sampled position: only timestamps, none above `max`.
    pub first: bool,
    /// The last two sampled tokens were timestamps (or the only one was): no timestamp next.
    pub no_timestamp: bool,
    /// The last token was a timestamp after text: no text token (ids below EOT) next.
    pub no_text: bool,
    /// Lowest allowed timestamp id (timestamps never decrease; segments are non-empty).
    pub min: u32,
    /// Highest allowed timestamp id.
    pub max: u32,
}

/// How to choose one token.
#[derive(Clone, Copy, Debug)]
pub struct Pick {
    /// Vocabulary ids `< ts_begin` are text and special tokens, the rest timestamps.
    pub ts_begin: u32,
    pub eot: u32,
    /// `None`: no timestamp rules (the mask must then suppress the timestamp ids).
    pub timestamps: Option<TimestampFilter>,
    /// 0: argmax; above: sample from softmax(logits / temperature).
    pub temperature: f32,
    /// RNG seed and stream position (the step); the same pair draws the same noise.
    pub seed: u32,
    pub step: u32,
}

/// Argmax partials a greedy step's logits product left for its pick
/// ([`crate::ops::matmul::ArgmaxOut`]): `count` `[max, id, sum of exp(v − max)]` triples
/// over the ids below EOT under the pick's mask.
pub struct ArgmaxPartials {
    pub tensor: Tensor,
    pub count: usize,
}

impl ArgmaxPartials {
    /// Room for `count` partials.
    pub fn new(gpu: &Gpu, count: usize) -> ArgmaxPartials {
        ArgmaxPartials {
            tensor: gpu.tensor(&[3 * count]),
            count,
        }
    }
}

/// Records the `main` entry (`history`: with binding 4) with `partials`, if any, as binding 5
/// and their count in the parameters.
fn dispatch_pick<'a>(
    gpu: &Gpu,
    mut params: Params,
    mut buffers: Vec<(u32, &'a wgpu::Buffer)>,
    history: bool,
    partials: Option<&'a ArgmaxPartials>,
    pick: &Pick,
) {
    if let Some(partials) = partials {
        assert!(
            pick.temperature == 0.0,
            "argmax partials serve greedy picks only"
        );
        params.partials = u(partials.count);
        buffers.push((5, partials.tensor.buffer()));
    }
    gpu.dispatch(
        &pick_kernel(history, partials.is_some()),
        bytemuck::bytes_of(&params),
        &buffers,
        [1, 1, 1],
    );
}

/// The filter fields of the kernel's parameters for `pick` over `logits[offset .. offset + n]`.
fn filter_params(pick: &Pick, n: usize, offset: usize) -> Params {
    let ts = pick.timestamps.unwrap_or_default();
    let flags = pick.timestamps.map_or(0, |t| {
        TIMESTAMPS
            | if t.first { FIRST } else { 0 }
            | if t.no_timestamp { NO_TS } else { 0 }
            | if t.no_text { NO_TEXT } else { 0 }
    });
    Params {
        n: u(n),
        offset: u(offset),
        ts_begin: pick.ts_begin,
        eot: pick.eot,
        flags,
        ts_min: ts.min,
        ts_max: ts.max,
        seed: pick.seed,
        step: pick.step,
        temperature: pick.temperature,
        ..Params::zeroed()
    }
}

/// Chooses a token from `logits[offset .. offset + mask.len()]` and writes `[id, bits of its
/// log-probability]` into `out` (two u32). With `partials` (greedy picks only, `offset` 0)
/// the ids below EOT come from the argmax partials the logits' product left under `mask`.
pub fn pick_token(
    gpu: &Gpu,
    logits: &Tensor,
    offset: usize,
    mask: &Tensor,
    pick: &Pick,
    partials: Option<&ArgmaxPartials>,
    out: &Tensor,
) {
    let n = mask.len();
    assert!(
        offset + n <= logits.len(),
        "pick past the end of the logits"
    );
    assert!(out.len() >= 2, "pick writes two values");
    assert!(
        partials.is_none() || offset == 0,
        "argmax partials cover logits at offset 0"
    );
    let buffers = vec![(1, logits.buffer()), (2, mask.buffer()), (3, out.buffer())];
    let params = filter_params(pick, n, offset);
    dispatch_pick(gpu, params, buffers, false, partials, pick);
}

/// An empty pick history for [`pick_token_tracked`]: nothing picked yet.
pub fn new_history(gpu: &Gpu) -> Result<Tensor> {
    gpu.upload_u32(&[0, 0, 0, NO_TOKEN], &[4])
}

/// [`pick_token`] with the timestamp rules derived on the GPU from `history` (what this
/// window picked so far, [`new_history`]), which the pick then joins: a decode loop can record
/// the next step before it reads this one's id. `pick.timestamps` says only whether the rules
/// apply and bounds the first pick (give the first step's filter). `partials` as for
/// [`pick_token`].
pub fn pick_token_tracked(
    gpu: &Gpu,
    logits: &Tensor,
    mask: &Tensor,
    pick: &Pick,
    partials: Option<&ArgmaxPartials>,
    history: &Tensor,
    out: &Tensor,
) {
    let n = mask.len();
    assert!(n <= logits.len(), "pick past the end of the logits");
    assert!(
        out.len() >= 2 && history.len() == 4,
        "pick and history sizes"
    );
    let buffers = vec![
        (1, logits.buffer()),
        (2, mask.buffer()),
        (3, out.buffer()),
        (4, history.buffer()),
    ];
    let params = filter_params(pick, n, 0);
    dispatch_pick(gpu, params, buffers, true, partials, pick);
}

/// Id marking "no further allowed id" in [`top_tokens`]' output.
pub const NO_TOKEN: u32 = u32::MAX;

/// Writes the `k` most likely ids of `logits[offset .. offset + mask.len()]` under the
/// filters of `pick` (its temperature is ignored), best first with ties to the lowest id, as
/// `[id, bits of its log-probability]` pairs into `out[out_index ..]`; a row with fewer than
/// `k` allowed ids ends in [`NO_TOKEN`].
#[allow(clippy::too_many_arguments)] // a kernel wrapper: one row of logits in, k pairs out
pub fn top_tokens(
    gpu: &Gpu,
    logits: &Tensor,
    offset: usize,
    mask: &Tensor,
    pick: &Pick,
    k: usize,
    out: &Tensor,
    out_index: usize,
) {
    let n = mask.len();
    assert!(
        offset + n <= logits.len(),
        "top-k past the end of the logits"
    );
    assert!(k >= 1, "top-k of at least one id");
    assert!(out_index + 2 * k <= out.len(), "top-k written past the end");
    let params = Params {
        k: u(k),
        out_index: u(out_index),
        ..filter_params(pick, n, offset)
    };
    gpu.dispatch(
        &top_k_kernel(),
        bytemuck::bytes_of(&params),
        &[(1, logits.buffer()), (2, mask.buffer()), (3, out.buffer())],
        [1, 1, 1],
    );
}

/// Writes softmax(`logits[offset .. offset + n]`)`[target]` into `out[out_index]` (f32).
pub fn token_probability(
    gpu: &Gpu,
    logits: &Tensor,
    offset: usize,
    n: usize,
    target: u32,
    out: &Tensor,
    out_index: usize,
) {
    assert!(
        offset + n <= logits.len(),
        "probability past the end of the logits"
    );
    assert!((target as usize) < n, "target outside the row");
    assert!(out_index < out.len(), "probability written past the end");
    let params = Params {
        n: u(n),
        offset: u(offset),
        wanted: target,
        out_index: u(out_index),
        ..Params::zeroed()
    };
    gpu.dispatch(
        &probability_kernel(),
        bytemuck::bytes_of(&params),
        &[(1, logits.buffer()), (3, out.buffer())],
        [1, 1, 1],
    );
}

/// The CPU twin of the Gumbel noise the kernel draws for id `i` (for tests and references).
pub fn gumbel_noise(seed: u32, step: u32, i: u32) -> f32 {
    fn pcg(v: u32) -> u32 {
        let s = v.wrapping_mul(747796405).wrapping_add(2891336453);
        let w = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277803737);
        (w >> 22) ^ w
    }
    let h = pcg(i ^ pcg(step ^ pcg(seed)));
    let u = ((h >> 8) as f32 + 0.5) / 16_777_216.0;
    -(-u.ln()).ln()
}
