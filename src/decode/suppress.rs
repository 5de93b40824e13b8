//! Which tokens decoding may never pick, as additive masks (0 or a large negative) kept on
//! the GPU for the token-pick kernel: one pair (first position, later positions) without
//! timestamps, one with timestamp tokens left to the timestamp rules.

use super::tokenizer::WhisperTokenizer;
use crate::gpu::{Gpu, Tensor};
use crate::model::WhisperConfig;
use crate::Result;

/// Whisper's non-speech symbol tokens for the multilingual v2 vocabulary (generation
/// config), used when a checkpoint ships no list of its own.
const MULTILINGUAL_SUPPRESS: &[u32] = &[
    1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 359,
    503, 522, 542, 873, 893, 902, 918, 922, 931, 1350, 1853, 1982, 2460, 2627, 3246, 3253, 3268,
    3536, 3846, 3961, 4183, 4667, 6585, 6647, 7273, 9061, 9383, 10428, 10929, 11938, 12033, 12331,
    12562, 13793, 14157, 14635, 15265, 15618, 16553, 16604, 18362, 18956, 20075, 21675, 22520,
    26130, 26161, 26435, 28279, 29464, 31650, 32302, 32470, 36865, 42863, 47425, 49870, 50254,
    50258, 50358, 50359, 50360, 50361, 50362,
];
const MULTILINGUAL_VOCAB: usize = 51865;
/// Logit offset that removes a token from the pick.
const SUPPRESSED: f32 = -1e30;

/// The token ids to suppress always and at the first sampled position. With `timestamps`,
/// the timestamp ids stay allowed (the timestamp rules govern them); every other special
/// token but EOT is suppressed either way.
pub fn suppress_lists(
    config: &WhisperConfig,
    tok: &WhisperTokenizer,
    timestamps: bool,
) -> (Vec<u32>, Vec<u32>) {
    let mut always = if !config.suppress_tokens.is_empty() {
        config.suppress_tokens.clone()
    } else if config.vocab_size == MULTILINGUAL_VOCAB {
        MULTILINGUAL_SUPPRESS.to_vec()
    } else {
        Vec::new()
    };
    // Every special token but EOT is off limits: task, language and prompt tokens all sit
    // above EOT, timestamps above them.
    let specials_end = if timestamps {
        tok.timestamp_begin.min(config.vocab_size as u32)
    } else {
        config.vocab_size as u32
    };
    always.retain(|&t| t < tok.timestamp_begin || !timestamps);
    always.extend((tok.eot + 1)..specials_end);
    let mut begin = if config.begin_suppress_tokens.is_empty() {
        vec![tok.eot]
    } else {
        config.begin_suppress_tokens.clone()
    };
    // Begin suppression also includes the plain-space token (220 in GPT-2 vocabularies).
    if !begin.contains(&220) && 220_usize < config.vocab_size {
        begin.push(220);
    }
    begin.extend(always.iter().copied());
    (always, begin)
}

/// Additive masks over the vocabulary, on the GPU.
pub struct SuppressMasks {
    pub always: Tensor,
    pub first: Tensor,
    /// The same with timestamp ids allowed.
    pub always_ts: Tensor,
    pub first_ts: Tensor,
    pub always_ids: Vec<u32>,
    pub first_ids: Vec<u32>,
}

impl SuppressMasks {
    pub fn new(gpu: &Gpu, config: &WhisperConfig, tok: &WhisperTokenizer) -> Result<SuppressMasks> {
        SuppressMasks::build(gpu, config, tok, false)
    }

    /// The same masks with end-of-text suppressed at every position too, so decoding runs to
    /// its length limit: the benchmark option [`super::DecodeOptions::suppress_eot`].
    pub fn without_eot(
        gpu: &Gpu,
        config: &WhisperConfig,
        tok: &WhisperTokenizer,
    ) -> Result<SuppressMasks> {
        SuppressMasks::build(gpu, config, tok, true)
    }

    fn build(
        gpu: &Gpu,
        config: &WhisperConfig,
        tok: &WhisperTokenizer,
        suppress_eot: bool,
    ) -> Result<SuppressMasks> {
        let lists = |timestamps: bool| {
            let (mut always, mut first) = suppress_lists(config, tok, timestamps);
            if suppress_eot {
                always.push(tok.eot);
                first.push(tok.eot);
            }
            (always, first)
        };
        let (always_ids, first_ids) = lists(false);
        let (always_ts_ids, first_ts_ids) = lists(true);
        let mask = |ids: &[u32]| {
            let mut m = vec![0.0f32; config.vocab_size];
            for &id in ids {
                if let Some(v) = m.get_mut(id as usize) {
                    *v = SUPPRESSED;
                }
            }
            gpu.upload(&m, &[config.vocab_size])
        };
        Ok(SuppressMasks {
            always: mask(&always_ids)?,
            first: mask(&first_ids)?,
            always_ts: mask(&always_ts_ids)?,
            first_ts: mask(&first_ts_ids)?,
            always_ids,
            first_ids,
        })
    }
}

impl SuppressMasks {
    /// The mask for a step: the first sampled position or a later one, with or without
    /// timestamp tokens.
    pub fn for_step(&self, first: bool, timestamps: bool) -> &Tensor {
        match (first, timestamps) {
            (true, false) => &self.first,
            (false, false) => &self.always,
            (true, true) => &self.first_ts,
            (false, true) => &self.always_ts,
        }
    }
}
