//! One layer's language expert — its FFN and its gate — as one type for every place it
//! lives: host values in a pack (`Expert<Vec<f32>>`), frozen weights on the GPU for
//! inference (`Expert<Weight>`), trainable parameters in the trainer (`Expert<Param>`).
//! The seven tensors, their names in a pack and their shapes are defined once here.

use crate::gpu::{DType, Gpu, Weight};
use crate::Result;

/// The seven tensors of an expert, in pack-file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpertTensor {
    /// Expert FFN input projection [ffn, d].
    Fc1,
    /// `[ffn]`
    Fc1Bias,
    /// Expert FFN output projection [d, ffn].
    Fc2,
    /// `[d]`
    Fc2Bias,
    /// Gate MLP input W_in [gate, d].
    GateIn,
    /// b_in `[gate]`
    GateInBias,
    /// Gate MLP output w_out [1, gate] (no bias).
    GateOut,
}

impl ExpertTensor {
    pub const ALL: [ExpertTensor; 7] = [
        ExpertTensor::Fc1,
        ExpertTensor::Fc1Bias,
        ExpertTensor::Fc2,
        ExpertTensor::Fc2Bias,
        ExpertTensor::GateIn,
        ExpertTensor::GateInBias,
        ExpertTensor::GateOut,
    ];

    /// Name inside a pack, after the layer prefix `{part}.layers.{i}.`.
    pub fn name(self) -> &'static str {
        match self {
            ExpertTensor::Fc1 => "expert.fc1.weight",
            ExpertTensor::Fc1Bias => "expert.fc1.bias",
            ExpertTensor::Fc2 => "expert.fc2.weight",
            ExpertTensor::Fc2Bias => "expert.fc2.bias",
            ExpertTensor::GateIn => "gate.in.weight",
            ExpertTensor::GateInBias => "gate.in.bias",
            ExpertTensor::GateOut => "gate.out.weight",
        }
    }

    /// Shape for an expert of model width `d`, FFN width `ffn` and gate width `gate`.
    pub fn shape(self, (d, ffn, gate): (usize, usize, usize)) -> Vec<usize> {
        match self {
            ExpertTensor::Fc1 => vec![ffn, d],
            ExpertTensor::Fc1Bias => vec![ffn],
            ExpertTensor::Fc2 => vec![d, ffn],
            ExpertTensor::Fc2Bias => vec![d],
            ExpertTensor::GateIn => vec![gate, d],
            ExpertTensor::GateInBias => vec![gate],
            ExpertTensor::GateOut => vec![1, gate],
        }
    }
}

/// One layer's language expert FFN and gate; `T` is what holds each tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Expert<T> {
    pub fc1: T,
    pub fc1_bias: T,
    pub fc2: T,
    pub fc2_bias: T,
    pub gate_in: T,
    pub gate_in_bias: T,
    pub gate_out: T,
}

impl<T> Expert<T> {
    /// Builds an expert tensor by tensor, in [`ExpertTensor::ALL`] order.
    pub fn try_from_fn<E>(
        mut make: impl FnMut(ExpertTensor) -> std::result::Result<T, E>,
    ) -> std::result::Result<Expert<T>, E> {
        Ok(Expert {
            fc1: make(ExpertTensor::Fc1)?,
            fc1_bias: make(ExpertTensor::Fc1Bias)?,
            fc2: make(ExpertTensor::Fc2)?,
            fc2_bias: make(ExpertTensor::Fc2Bias)?,
            gate_in: make(ExpertTensor::GateIn)?,
            gate_in_bias: make(ExpertTensor::GateInBias)?,
            gate_out: make(ExpertTensor::GateOut)?,
        })
    }

    /// The same expert held another way (upload, download, convert).
    pub fn try_map<U, E>(
        &self,
        mut convert: impl FnMut(ExpertTensor, &T) -> std::result::Result<U, E>,
    ) -> std::result::Result<Expert<U>, E> {
        Expert::try_from_fn(|t| convert(t, self.get(t)))
    }

    pub fn get(&self, tensor: ExpertTensor) -> &T {
        match tensor {
            ExpertTensor::Fc1 => &self.fc1,
            ExpertTensor::Fc1Bias => &self.fc1_bias,
            ExpertTensor::Fc2 => &self.fc2,
            ExpertTensor::Fc2Bias => &self.fc2_bias,
            ExpertTensor::GateIn => &self.gate_in,
            ExpertTensor::GateInBias => &self.gate_in_bias,
            ExpertTensor::GateOut => &self.gate_out,
        }
    }

    /// Every tensor, in [`ExpertTensor::ALL`] order.
    pub fn values(&self) -> [&T; 7] {
        ExpertTensor::ALL.map(|t| self.get(t))
    }

    /// Every tensor with its name, in [`ExpertTensor::ALL`] order.
    pub fn tensors(&self) -> [(ExpertTensor, &T); 7] {
        ExpertTensor::ALL.map(|t| (t, self.get(t)))
    }
}

impl Expert<Vec<f32>> {
    /// (d_model, ffn_dim, gate_dim), read off the bias lengths.
    pub fn dims(&self) -> (usize, usize, usize) {
        (
            self.fc2_bias.len(),
            self.fc1_bias.len(),
            self.gate_in_bias.len(),
        )
    }
}

impl Expert<Weight> {
    /// Uploads host values stored as `dtype`. Pass the storage type of the base model's FFN
    /// weights: the routed kernels read expert and shared weights with one type.
    pub fn upload(gpu: &Gpu, host: &Expert<Vec<f32>>, dtype: DType) -> Result<Expert<Weight>> {
        let dims = host.dims();
        host.try_map(|t, values| gpu.weight_f32(values, &t.shape(dims), dtype))
    }
}
