//! Whisper's feed-forward block and the CLSR block around it, in f64: the shared FFN, the
//! language expert, the gate, and the training mode's soft, noisy, dropped-out gate.

use super::ops::{dropout, gelu, linear};

/// One feed-forward network: fc2·act(fc1·z + b1) + b2, weights `[ffn, d]` and `[d, ffn]`.
/// `T` is the storage: `Vec<f64>` for values a test owns (and perturbs), `&[f64]` for a
/// model's tensors.
#[derive(Clone, Debug)]
pub struct Ffn<T = Vec<f64>> {
    pub fc1: T,
    pub fc1_bias: T,
    pub fc2: T,
    pub fc2_bias: T,
}

impl<T: AsRef<[f64]>> Ffn<T> {
    /// The FFN of rows z `[rows, d]` with the exact GELU.
    pub fn forward(&self, z: &[f64]) -> Vec<f64> {
        self.forward_with(z, gelu, |_| {})
    }

    /// The FFN with activation `act`, and `hidden` applied to the activated hidden layer
    /// `[rows, ffn]` before fc2 (e.g. dropout).
    pub fn forward_with(
        &self,
        z: &[f64],
        act: fn(f64) -> f64,
        hidden: impl FnOnce(&mut [f64]),
    ) -> Vec<f64> {
        let (f, d) = (self.fc1_bias.as_ref().len(), self.fc2_bias.as_ref().len());
        let mut h = linear(z, self.fc1.as_ref(), Some(self.fc1_bias.as_ref()), f);
        h.iter_mut().for_each(|v| *v = act(*v));
        hidden(&mut h);
        linear(&h, self.fc2.as_ref(), Some(self.fc2_bias.as_ref()), d)
    }
}

/// A CLSR language expert: its FFN and its gate G(z) = w_out·ReLU(W_in·z + b_in).
#[derive(Clone, Debug)]
pub struct ClsrExpert<T = Vec<f64>> {
    pub ffn: Ffn<T>,
    pub gate_in: T,
    pub gate_in_bias: T,
    pub gate_out: T,
}

impl<T> ClsrExpert<T> {
    /// The tensors' names, in the order of [`tensors_mut`](Self::tensors_mut) (the trainer's
    /// parameter order).
    pub const NAMES: [&'static str; 7] = [
        "fc1",
        "fc1_bias",
        "fc2",
        "fc2_bias",
        "gate_in",
        "gate_in_bias",
        "gate_out",
    ];

    /// The seven tensors, in [`NAMES`](Self::NAMES) order.
    pub fn tensors(&self) -> [&T; 7] {
        let f = &self.ffn;
        [
            &f.fc1,
            &f.fc1_bias,
            &f.fc2,
            &f.fc2_bias,
            &self.gate_in,
            &self.gate_in_bias,
            &self.gate_out,
        ]
    }

    /// The seven tensors, mutable, in [`NAMES`](Self::NAMES) order.
    pub fn tensors_mut(&mut self) -> [&mut T; 7] {
        let Ffn {
            fc1,
            fc1_bias,
            fc2,
            fc2_bias,
        } = &mut self.ffn;
        [
            fc1,
            fc1_bias,
            fc2,
            fc2_bias,
            &mut self.gate_in,
            &mut self.gate_in_bias,
            &mut self.gate_out,
        ]
    }

    /// Builds an expert from its seven tensors in [`NAMES`](Self::NAMES) order.
    pub fn from_tensors(
        [fc1, fc1_bias, fc2, fc2_bias, gate_in, gate_in_bias, gate_out]: [T; 7],
    ) -> Self {
        ClsrExpert {
            ffn: Ffn {
                fc1,
                fc1_bias,
                fc2,
                fc2_bias,
            },
            gate_in,
            gate_in_bias,
            gate_out,
        }
    }
}

impl<T: AsRef<[f64]>> ClsrExpert<T> {
    /// The gate's logit G for each row of z `[rows, d]`.
    pub fn gate_logits(&self, z: &[f64]) -> Vec<f64> {
        let units = self.gate_in_bias.as_ref().len();
        let a = linear(
            z,
            self.gate_in.as_ref(),
            Some(self.gate_in_bias.as_ref()),
            units,
        );
        a.chunks(units)
            .map(|row| {
                row.iter()
                    .zip(self.gate_out.as_ref())
                    .map(|(&v, &w)| v.max(0.0) * w)
                    .sum()
            })
            .collect()
    }
}

/// The inference block without the residual: g·FFN_lang(z) + (1 − g)·FFN_shared(z) with the
/// hard gate g = 1[G(z) ≥ 0]. Returns (output `[rows, d]`, gates).
pub fn clsr_ffn<A: AsRef<[f64]>, B: AsRef<[f64]>>(
    z: &[f64],
    shared: &Ffn<A>,
    expert: &ClsrExpert<B>,
) -> (Vec<f64>, Vec<f64>) {
    let gates: Vec<f64> = expert
        .gate_logits(z)
        .iter()
        .map(|&g| if g >= 0.0 { 1.0 } else { 0.0 })
        .collect();
    (
        mix(&gates, &expert.ffn.forward(z), &shared.forward(z)),
        gates,
    )
}

fn mix(gates: &[f64], expert: &[f64], shared: &[f64]) -> Vec<f64> {
    let d = expert.len() / gates.len();
    (0..expert.len())
        .map(|i| {
            let g = gates[i / d];
            g * expert[i] + (1.0 - g) * shared[i]
        })
        .collect()
}

/// The randomness of one training-mode CLSR block: which gate-input and expert-hidden entries
/// survive dropout, the gate noise, and whether the block skips its expert.
pub trait Regularisation {
    fn gate_dropout(&self) -> f64;
    /// Whether entry i of the gate's input `[rows, d]` survives dropout.
    fn gate_keeps(&self, i: usize) -> bool;
    fn expert_dropout(&self) -> f64;
    /// Whether entry i of the expert's hidden layer `[rows, ffn]` survives dropout.
    fn expert_keeps(&self, i: usize) -> bool;
    /// What is added to row r's gate logit (α times a standard normal draw).
    fn noise(&self, row: usize) -> f64;
    /// Skip-gate: the block's output is the shared FFN's alone (the gates still count).
    fn skip(&self) -> bool;
}

/// The training-mode block without the residual: g·FFN_lang(z) + (1 − g)·FFN_shared(z) with
/// the soft gate g = σ(G(dropout(z)) + noise) and dropout on the expert's hidden layer
/// (g = 0 in the mix under skip-gate). Returns (output `[rows, d]`, gates g).
pub fn clsr_train<A: AsRef<[f64]>, B: AsRef<[f64]>>(
    z: &[f64],
    shared: &Ffn<A>,
    expert: &ClsrExpert<B>,
    reg: &impl Regularisation,
) -> (Vec<f64>, Vec<f64>) {
    let mut zg = z.to_vec();
    dropout(&mut zg, reg.gate_dropout(), |i| reg.gate_keeps(i));
    let gates: Vec<f64> = expert
        .gate_logits(&zg)
        .iter()
        .enumerate()
        .map(|(r, &g)| 1.0 / (1.0 + (-(g + reg.noise(r))).exp()))
        .collect();
    let ys = shared.forward(z);
    let ye = expert.ffn.forward_with(z, gelu, |h| {
        dropout(h, reg.expert_dropout(), |i| reg.expert_keeps(i))
    });
    let mixed: Vec<f64> = if reg.skip() {
        vec![0.0; gates.len()]
    } else {
        gates.clone()
    };
    (mix(&mixed, &ye, &ys), gates)
}
