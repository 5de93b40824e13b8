//! The teacher's next-token distribution reduced to its k most likely tokens, as `teach`
//! stores it (docs/training.md, "A teacher cache"): the top-k log-probabilities at
//! temperature τ and the log of the mass of every other token (the tail), computed in f64
//! from the teacher's f32 logits. Training spreads the tail evenly over the V − k other
//! tokens, which gives a distribution p̃ over the whole vocabulary (exactly the teacher's
//! when k = V), and the JS term is JS(p̃ ‖ q).

/// Log-probabilities below this (in nats) are taken as this: a tail that underflows f64
/// still gets a finite logit, whose probability is 0 in f32.
pub const LOG_PROB_FLOOR: f64 = -1.0e4;

/// One row of the teacher's distribution reduced to its top k.
#[derive(Clone, Debug, PartialEq)]
pub struct TopK {
    /// Token ids, most likely first (ties: lower id first).
    pub ids: Vec<u32>,
    /// log p of each id, at temperature τ.
    pub log_probs: Vec<f32>,
    /// log of the summed probability of every other token (−∞ when k = V).
    pub log_tail: f32,
}

/// log Σ exp(x) in f64 (−∞ for no values).
fn log_sum_exp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// The top `k` (at most the vocabulary) of the softmax of `logits / tau`, and the tail.
pub fn top_k(logits: &[f32], tau: f64, k: usize) -> TopK {
    let v = logits.len();
    let k = k.min(v);
    let scaled: Vec<f64> = logits.iter().map(|&z| z as f64 / tau).collect();
    let lse = log_sum_exp(scaled.iter().copied());
    let mut order: Vec<u32> = (0..v as u32).collect();
    let better = |a: &u32, b: &u32| {
        scaled[*b as usize]
            .total_cmp(&scaled[*a as usize])
            .then(a.cmp(b))
    };
    if k < v && k > 0 {
        order.select_nth_unstable_by(k - 1, better);
    }
    let (top, tail) = order.split_at_mut(k);
    top.sort_unstable_by(better);
    TopK {
        ids: top.to_vec(),
        log_probs: top
            .iter()
            .map(|&i| (scaled[i as usize] - lse) as f32)
            .collect(),
        log_tail: log_sum_exp(tail.iter().map(|&i| scaled[i as usize] - lse)) as f32,
    }
}

/// log p̃ of each token outside the top k: the tail's mass spread evenly over the V − k of
/// them, floored at [`LOG_PROB_FLOOR`]; 0 when k = V (no such token).
pub fn tail_log_prob(log_tail: f32, vocab: usize, k: usize) -> f64 {
    if k >= vocab {
        return 0.0;
    }
    (log_tail as f64 - ((vocab - k) as f64).ln()).max(LOG_PROB_FLOOR)
}

/// One example's cached teacher rows laid out for the GPU: a row per decoder position
/// (positions without a target get no top-k entry, id `u32::MAX`, and a tail of 0; the
/// losses skip them). `logits` hold τ·log p and `tail` τ·log p̃ of a tail token, so the JS
/// kernel's softmax(logits / τ) is p̃.
#[derive(Clone, Debug, PartialEq)]
pub struct TopKExample {
    pub vocab: usize,
    pub k: usize,
    /// [positions, k]
    pub ids: Vec<u32>,
    /// [positions, k]
    pub logits: Vec<f32>,
    /// `[positions]`
    pub tail: Vec<f32>,
}
