//! The decoder's attention sub-layers in the layout of the one-dispatch step kernel
//! (`ops::attention_step`): the layer norm's gamma and beta with the projection biases in one
//! f32 table, and for self-attention the query, key and value weights concatenated into one
//! [3d, d] weight, so the kernel stays within six storage bindings; and the FFN layer norm's
//! gamma and beta as one f32 table, which a step's fc1 GEMV applies as it reads its rows
//! (`ops::matmul::linear_normed`). Built once at load from the checkpoint's tensors, holding
//! exactly the values the general path's weights hold.

use super::weights::WeightFile;
use crate::gpu::{DType, Gpu, Weight};
use crate::ops::attention_step::StepProjection;
use crate::Result;

/// One attention sub-layer's step weights.
pub struct StepAttention {
    /// `[q; k; v]` [3d, d] (self-attention); `None` for cross-attention, whose query weight
    /// is the sub-layer's own `q` Linear.
    pub qkv: Option<Weight>,
    /// f32 `[gamma | beta | biases]`: the q bias, then (self-attention) zeros for k, which
    /// has no bias in Whisper, and the v bias.
    pub norm_bias: Weight,
    pub heads: usize,
}

impl StepAttention {
    /// Loads the sub-layer `names.1` (e.g. `model.decoder.layers.0.self_attn`) with its
    /// layer norm `names.0`. The concatenated weight is f16 when all three projections are.
    pub fn load(
        gpu: &Gpu,
        file: &WeightFile,
        names: (&str, &str),
        d: usize,
        heads: usize,
        self_attention: bool,
    ) -> Result<StepAttention> {
        let (norm, attn) = names;
        let vec = |name: String| file.host_f32(&name, &[d]);
        let mut table = vec(format!("{norm}.weight"))?;
        table.extend(vec(format!("{norm}.bias"))?);
        table.extend(vec(format!("{attn}.q_proj.bias"))?);
        let qkv = if self_attention {
            table.extend(std::iter::repeat_n(0.0, d));
            table.extend(vec(format!("{attn}.v_proj.bias"))?);
            let mut all_f16 = true;
            let mut w = Vec::with_capacity(3 * d * d);
            for part in ["q_proj", "k_proj", "v_proj"] {
                let name = format!("{attn}.{part}.weight");
                all_f16 &= file.gpu_dtype(&name, &[d, d])? == DType::F16;
                w.extend(file.host_f32(&name, &[d, d])?);
            }
            let dtype = if all_f16 { DType::F16 } else { DType::F32 };
            Some(gpu.weight_f32(&w, &[3 * d, d], dtype)?)
        } else {
            None
        };
        let norm_bias = gpu.weight_f32(&table, &[table.len()], DType::F32)?;
        Ok(StepAttention {
            qkv,
            norm_bias,
            heads,
        })
    }

    /// The kernel's view, with `q` the sub-layer's query weight (used for cross-attention).
    pub fn projection<'a>(&'a self, q: &'a Weight) -> StepProjection<'a> {
        StepProjection {
            weight: self.qkv.as_ref().unwrap_or(q),
            norm_bias: &self.norm_bias,
            heads: self.heads,
        }
    }
}

/// f32 `[gamma | beta]` of the layer norm `name` (e.g. `model.decoder.layers.0.final_layer_norm`).
pub fn norm_table(gpu: &Gpu, file: &WeightFile, name: &str, d: usize) -> Result<Weight> {
    let mut table = file.host_f32(&format!("{name}.weight"), &[d])?;
    table.extend(file.host_f32(&format!("{name}.bias"), &[d])?);
    gpu.weight_f32(&table, &[2 * d], DType::F32)
}

/// A decoder block's two attention sub-layers and its FFN layer norm, for steps.
pub struct StepWeights {
    pub self_attn: StepAttention,
    pub cross: StepAttention,
    /// The FFN layer norm's f32 `[gamma | beta]`.
    pub ffn_norm: Weight,
}
