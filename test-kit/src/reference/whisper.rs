//! A whole Whisper in f64, op by op from [`super::ops`], on the tensors of a model directory
//! in Hugging Face layout (`config.json`, `model.safetensors` in f32, f16 or bf16). It shares
//! no code with the runtime, so agreement with it is evidence, not tautology.

use std::collections::HashMap;
use std::path::Path;

use super::clsr::Ffn;
use super::ops::{
    add, attention, conv1d, gelu, gelu_tanh, layer_norm, linear, log_softmax, transpose, AttnMask,
};

/// What computes a block's feed-forward output (without the residual) from its normed input
/// z: `(block, z, the model's FFN)`, blocks numbered encoder layers first, then decoder
/// layers. [`F64Whisper::shared_ffn`] is the plain model's.
pub type FfnHook<'h> = dyn FnMut(usize, &[f64], &Ffn<&[f64]>) -> Vec<f64> + 'h;

pub struct F64Whisper {
    tensors: HashMap<String, (Vec<usize>, Vec<f64>)>,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_heads: usize,
    pub decoder_heads: usize,
    pub n_mels: usize,
    pub vocab: usize,
    /// The tanh approximation of GELU (as candle's Whisper) instead of the exact erf form.
    pub tanh_gelu: bool,
    /// The decoder's cross-attention keys and values rounded to f16 before use, as the
    /// runtime stores them (`Decoder::cross_kv_f16`).
    pub cross_kv_f16: bool,
}

impl F64Whisper {
    /// Loads every tensor of `dir`.
    pub fn load(dir: &Path) -> Self {
        Self::load_where(dir, |_| true)
    }

    /// Loads only the encoder's tensors (enough for [`encoder`](Self::encoder)).
    pub fn load_encoder(dir: &Path) -> Self {
        Self::load_where(dir, |name| name.starts_with("model.encoder."))
    }

    fn load_where(dir: &Path, keep: impl Fn(&str) -> bool) -> Self {
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let count = |key: &str| {
            config[key]
                .as_u64()
                .unwrap_or_else(|| panic!("config.json: {key}")) as usize
        };
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let tensors = file
            .tensors()
            .into_iter()
            .filter(|(name, _)| keep(name))
            .map(|(name, view)| {
                let data = view.data();
                let values: Vec<f64> = match view.dtype() {
                    safetensors::Dtype::F32 => data
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                        .collect(),
                    safetensors::Dtype::F16 => data
                        .chunks_exact(2)
                        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f64())
                        .collect(),
                    safetensors::Dtype::BF16 => data
                        .chunks_exact(2)
                        .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f64())
                        .collect(),
                    other => panic!("{name}: unsupported dtype {other:?}"),
                };
                (name, (view.shape().to_vec(), values))
            })
            .collect();
        F64Whisper {
            tensors,
            d_model: count("d_model"),
            encoder_layers: count("encoder_layers"),
            decoder_layers: count("decoder_layers"),
            encoder_heads: count("encoder_attention_heads"),
            decoder_heads: count("decoder_attention_heads"),
            n_mels: count("num_mel_bins"),
            vocab: count("vocab_size"),
            tanh_gelu: false,
            cross_kv_f16: false,
        }
    }

    /// A tensor's values (row-major), as stored but in f64.
    pub fn tensor(&self, name: &str) -> &[f64] {
        &self
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("missing tensor {name}"))
            .1
    }

    fn act(&self) -> fn(f64) -> f64 {
        if self.tanh_gelu {
            gelu_tanh
        } else {
            gelu
        }
    }

    /// Layer norm `{prefix}.weight`, `{prefix}.bias`.
    pub fn layer_norm(&self, prefix: &str, x: &[f64]) -> Vec<f64> {
        layer_norm(
            x,
            self.tensor(&format!("{prefix}.weight")),
            self.tensor(&format!("{prefix}.bias")),
        )
    }

    /// Linear `{prefix}.weight` (`[out, in]`), plus `{prefix}.bias` where the model has one.
    pub fn linear(&self, prefix: &str, x: &[f64]) -> Vec<f64> {
        let (shape, w) = &self.tensors[&format!("{prefix}.weight")];
        let bias = self.tensors.get(&format!("{prefix}.bias"));
        linear(x, w, bias.map(|b| &b.1[..]), shape[0])
    }

    /// Multi-head attention block `prefix` (q/k/v/out projections) of queries from xq over
    /// keys and values from xkv, those rounded to f16 first when `kv_f16`.
    pub fn attention(
        &self,
        prefix: &str,
        xq: &[f64],
        xkv: &[f64],
        heads: usize,
        mask: AttnMask,
        kv_f16: bool,
    ) -> Vec<f64> {
        let round = |x: Vec<f64>| match kv_f16 {
            true => x.iter().map(|&v| half::f16::from_f64(v).to_f64()).collect(),
            false => x,
        };
        let q = self.linear(&format!("{prefix}.q_proj"), xq);
        let k = round(self.linear(&format!("{prefix}.k_proj"), xkv));
        let v = round(self.linear(&format!("{prefix}.v_proj"), xkv));
        let a = attention(&q, &k, &v, heads, self.d_model, mask);
        self.linear(&format!("{prefix}.out_proj"), &a)
    }

    /// Layer `prefix`'s own feed-forward network.
    pub fn ffn(&self, prefix: &str) -> Ffn<&[f64]> {
        Ffn {
            fc1: self.tensor(&format!("{prefix}.fc1.weight")),
            fc1_bias: self.tensor(&format!("{prefix}.fc1.bias")),
            fc2: self.tensor(&format!("{prefix}.fc2.weight")),
            fc2_bias: self.tensor(&format!("{prefix}.fc2.bias")),
        }
    }

    /// The FFN hook of the plain model: each layer's own FFN.
    pub fn shared_ffn(&self) -> impl FnMut(usize, &[f64], &Ffn<&[f64]>) -> Vec<f64> + '_ {
        let act = self.act();
        move |_, z, f| f.forward_with(z, act, |_| {})
    }

    /// The encoder's input to its first layer: two GELU convolutions of a log-mel
    /// `[n_mels, frames]` (f32, as the runtime takes it) plus the positional embedding.
    pub fn encoder_stem(&self, mel: &[f32]) -> Vec<f64> {
        let e = "model.encoder";
        let d = self.d_model;
        let mel: Vec<f64> = mel.iter().map(|&v| v as f64).collect();
        let conv = |x: &[f64], cin: usize, name: &str, stride: usize| {
            let mut y = conv1d(
                x,
                cin,
                self.tensor(&format!("{e}.{name}.weight")),
                self.tensor(&format!("{e}.{name}.bias")),
                stride,
            );
            y.iter_mut().for_each(|v| *v = self.act()(*v));
            y
        };
        let x = conv(&mel, self.n_mels, "conv1", 1); // [frames, d]
        let frames = x.len() / d;
        let x = conv(&transpose(&x, frames, d), d, "conv2", 2);
        let pos = self.tensor(&format!("{e}.embed_positions.weight"));
        add(&x, &pos[..x.len()])
    }

    /// The encoder layers and final layer norm on `x` `[frames, d]` (the stem's output),
    /// with the feed-forward blocks computed by `ffn`.
    pub fn encoder_layers(&self, x: &[f64], ffn: &mut FfnHook) -> Vec<f64> {
        let mut x = x.to_vec();
        for i in 0..self.encoder_layers {
            let p = format!("model.encoder.layers.{i}");
            let h = self.layer_norm(&format!("{p}.self_attn_layer_norm"), &x);
            let a = self.attention(
                &format!("{p}.self_attn"),
                &h,
                &h,
                self.encoder_heads,
                AttnMask::Full,
                false,
            );
            x = add(&x, &a);
            let z = self.layer_norm(&format!("{p}.final_layer_norm"), &x);
            x = add(&x, &ffn(i, &z, &self.ffn(&p)));
        }
        self.layer_norm("model.encoder.layer_norm", &x)
    }

    /// The encoder output `[frames / 2, d]` of a log-mel `[n_mels, frames]`.
    pub fn encoder(&self, mel: &[f32]) -> Vec<f64> {
        self.encoder_layers(&self.encoder_stem(mel), &mut self.shared_ffn())
    }

    /// The decoder's hidden states after its final layer norm, `[tokens, d]`, for `tokens`
    /// from position 0 over the encoder output `enc`.
    pub fn decoder(&self, enc: &[f64], tokens: &[u32], ffn: &mut FfnHook) -> Vec<f64> {
        let d = self.d_model;
        let emb = self.tensor("model.decoder.embed_tokens.weight");
        let pos = self.tensor("model.decoder.embed_positions.weight");
        let mut x: Vec<f64> = tokens
            .iter()
            .enumerate()
            .flat_map(|(i, &t)| (0..d).map(move |j| emb[t as usize * d + j] + pos[i * d + j]))
            .collect();
        for i in 0..self.decoder_layers {
            let p = format!("model.decoder.layers.{i}");
            let h = self.layer_norm(&format!("{p}.self_attn_layer_norm"), &x);
            let causal = AttnMask::Causal { past: 0 };
            x = add(
                &x,
                &self.attention(
                    &format!("{p}.self_attn"),
                    &h,
                    &h,
                    self.decoder_heads,
                    causal,
                    false,
                ),
            );
            let h = self.layer_norm(&format!("{p}.encoder_attn_layer_norm"), &x);
            x = add(
                &x,
                &self.attention(
                    &format!("{p}.encoder_attn"),
                    &h,
                    enc,
                    self.decoder_heads,
                    AttnMask::Full,
                    self.cross_kv_f16,
                ),
            );
            let z = self.layer_norm(&format!("{p}.final_layer_norm"), &x);
            x = add(&x, &ffn(self.encoder_layers + i, &z, &self.ffn(&p)));
        }
        self.layer_norm("model.decoder.layer_norm", &x)
    }

    /// Logits `[rows, vocab]` of decoder hidden states (the output projection is the token
    /// embedding).
    pub fn logits(&self, hidden: &[f64]) -> Vec<f64> {
        linear(
            hidden,
            self.tensor("model.decoder.embed_tokens.weight"),
            None,
            self.vocab,
        )
    }

    /// Log-probabilities at temperature τ, a row per hidden state.
    pub fn log_probs(&self, hidden: &[f64], tau: f64) -> Vec<Vec<f64>> {
        self.logits(hidden)
            .chunks(self.vocab)
            .map(|z| log_softmax(&z.iter().map(|v| v / tau).collect::<Vec<_>>()))
            .collect()
    }
}
