//! The layers a transformer block is made of — Linear, LayerNorm, the attention
//! projections and the feed-forward block — each with its weights and forward pass.

use super::weights::WeightFile;
use crate::gpu::{DType, Gpu, Tensor, Weight};
use crate::ops::clsr::SharedFfn;
use crate::ops::layer_norm::layer_norm;
use crate::ops::matmul::{folds_norm, linear, linear_into, linear_normed, Layout};
use crate::Result;

/// `y = x·Wᵀ + b`.
pub struct Linear {
    pub weight: Weight,
    pub bias: Option<Weight>,
}

impl Linear {
    /// Loads `{prefix}.weight` `[out, in]` and, if `with_bias`, `{prefix}.bias` `[out]`.
    pub fn load(
        gpu: &Gpu,
        file: &WeightFile,
        prefix: &str,
        out: usize,
        inp: usize,
        with_bias: bool,
    ) -> Result<Linear> {
        let w_name = format!("{prefix}.weight");
        let b_name = format!("{prefix}.bias");
        let mut dtype = file.gpu_dtype(&w_name, &[out, inp])?;
        if with_bias && file.gpu_dtype(&b_name, &[out])? != dtype {
            dtype = DType::F32;
        }
        let weight = file.load_as(gpu, &w_name, &[out, inp], dtype)?;
        let bias = if with_bias {
            Some(file.load_as(gpu, &b_name, &[out], dtype)?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    pub fn forward(&self, gpu: &Gpu, x: &Tensor) -> Tensor {
        linear(gpu, x, &self.weight, self.bias.as_ref(), false, None)
    }

    /// `x·Wᵀ + b + residual`.
    pub fn forward_residual(&self, gpu: &Gpu, x: &Tensor, residual: &Tensor) -> Tensor {
        linear(
            gpu,
            x,
            &self.weight,
            self.bias.as_ref(),
            false,
            Some(residual),
        )
    }

    /// Writes the output rows into `out` starting at row `first_row` (a KV cache).
    pub fn forward_into_rows(&self, gpu: &Gpu, x: &Tensor, out: &Tensor, first_row: usize) {
        let n = self.weight.shape()[0];
        let layout = Layout {
            offset: first_row * n,
            row_stride: n,
            batch_stride: 0,
        };
        linear_into(
            gpu,
            x,
            &self.weight,
            self.bias.as_ref(),
            false,
            None,
            out,
            layout,
        );
    }
}

pub struct LayerNorm {
    pub gamma: Weight,
    pub beta: Weight,
}

impl LayerNorm {
    pub fn load(gpu: &Gpu, file: &WeightFile, prefix: &str, dim: usize) -> Result<LayerNorm> {
        let g_name = format!("{prefix}.weight");
        let b_name = format!("{prefix}.bias");
        let gamma_dtype = file.gpu_dtype(&g_name, &[dim])?;
        let dtype = if gamma_dtype == file.gpu_dtype(&b_name, &[dim])? {
            gamma_dtype
        } else {
            DType::F32
        };
        Ok(LayerNorm {
            gamma: file.load_as(gpu, &g_name, &[dim], dtype)?,
            beta: file.load_as(gpu, &b_name, &[dim], dtype)?,
        })
    }

    pub fn forward(&self, gpu: &Gpu, x: &Tensor) -> Tensor {
        layer_norm(gpu, x, &self.gamma, &self.beta)
    }
}

/// Query/key/value/output projections of one attention block (k has no bias in Whisper).
pub struct AttentionWeights {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out: Linear,
    pub heads: usize,
}

impl AttentionWeights {
    pub fn load(
        gpu: &Gpu,
        file: &WeightFile,
        prefix: &str,
        d: usize,
        heads: usize,
    ) -> Result<AttentionWeights> {
        Ok(AttentionWeights {
            q: Linear::load(gpu, file, &format!("{prefix}.q_proj"), d, d, true)?,
            k: Linear::load(gpu, file, &format!("{prefix}.k_proj"), d, d, false)?,
            v: Linear::load(gpu, file, &format!("{prefix}.v_proj"), d, d, true)?,
            out: Linear::load(gpu, file, &format!("{prefix}.out_proj"), d, d, true)?,
            heads,
        })
    }
}

/// fc2(GELU(fc1(x))).
pub struct FeedForward {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl FeedForward {
    pub fn load(
        gpu: &Gpu,
        file: &WeightFile,
        prefix: &str,
        d: usize,
        ffn: usize,
    ) -> Result<FeedForward> {
        Ok(FeedForward {
            fc1: Linear::load(gpu, file, &format!("{prefix}.fc1"), ffn, d, true)?,
            fc2: Linear::load(gpu, file, &format!("{prefix}.fc2"), d, ffn, true)?,
        })
    }

    /// The weights as the CLSR kernels take them (Whisper's FFN layers always have biases;
    /// the loader requires them).
    pub fn shared(&self) -> SharedFfn<'_> {
        fn bias(l: &Linear) -> &Weight {
            l.bias.as_ref().expect("FFN layers are loaded with biases")
        }
        SharedFfn {
            fc1: &self.fc1.weight,
            fc1_bias: bias(&self.fc1),
            fc2: &self.fc2.weight,
            fc2_bias: bias(&self.fc2),
        }
    }

    /// `residual + fc2(GELU(fc1(x)))`.
    pub fn forward_residual(&self, gpu: &Gpu, x: &Tensor, residual: &Tensor) -> Tensor {
        let h = linear(gpu, x, &self.fc1.weight, self.fc1.bias.as_ref(), true, None);
        self.fc2.forward_residual(gpu, &h, residual)
    }

    /// `x + fc2(GELU(fc1(LN(x))))` with `ln` given also as its f32 `[gamma | beta]` table
    /// `norm`: for the few rows of a decoder step on a GPU fc1 applies the norm as it reads
    /// them ([`folds_norm`]), otherwise the norm is a dispatch of its own.
    pub fn forward_normed_residual(
        &self,
        gpu: &Gpu,
        ln: &LayerNorm,
        norm: &Weight,
        x: &Tensor,
    ) -> Tensor {
        if !folds_norm(gpu, x.shape()[0]) {
            return self.forward_residual(gpu, &ln.forward(gpu, x), x);
        }
        let (fc1, bias) = (&self.fc1.weight, self.fc1.bias.as_ref());
        let h = linear_normed(gpu, x, norm, fc1, bias, true);
        self.fc2.forward_residual(gpu, &h, x)
    }
}
