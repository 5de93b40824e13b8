//! Silero VAD's 16 kHz weights, read from the published `silero_vad.onnx`.

use std::path::Path;

use super::onnx::{graph_tensors, GraphTensors, Tensor};
use super::{FFT_BINS, HIDDEN, WINDOW};
use crate::{Error, Result};

/// One 1-D convolution: weight `[out, in, kernel]` and bias `[out]`.
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    pub out_channels: usize,
    pub in_channels: usize,
    pub kernel: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// The 16 kHz Silero VAD network (v5 layout; v6 shares it).
#[derive(Debug, Clone)]
pub struct SileroWeights {
    /// STFT as a convolution: `[2 * FFT_BINS, WINDOW]`, real rows then imaginary rows.
    pub(crate) stft_basis: Vec<f32>,
    /// Encoder convolutions (kernel 3, padding 1; strides 1, 2, 2, 1), each followed by ReLU.
    pub(crate) encoder: [Conv; 4],
    /// LSTM cell, PyTorch gate order (input, forget, cell, output): `[4 * HIDDEN, HIDDEN]`.
    pub(crate) weight_ih: Vec<f32>,
    pub(crate) weight_hh: Vec<f32>,
    /// `bias_ih + bias_hh`, `[4 * HIDDEN]`.
    pub(crate) bias: Vec<f32>,
    /// Output projection (1×1 convolution to one channel).
    pub(crate) out_weight: Vec<f32>,
    pub(crate) out_bias: f32,
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::Model(format!("silero VAD weights: {what}"))
}

fn take(graph: &GraphTensors, suffix: &str, dims: &[usize]) -> Result<Vec<f32>> {
    let tensor: &Tensor = graph
        .find(suffix)
        .ok_or_else(|| bad(format!("the 16 kHz branch has no tensor named *{suffix}")))?;
    if tensor.dims != dims {
        return Err(bad(format!(
            "{suffix} has shape {:?}, expected {dims:?}",
            tensor.dims
        )));
    }
    Ok(tensor.data.clone())
}

fn conv(graph: &GraphTensors, index: usize, out: usize, inp: usize) -> Result<Conv> {
    let prefix = format!("encoder.{index}.reparam_conv");
    Ok(Conv {
        out_channels: out,
        in_channels: inp,
        kernel: 3,
        weight: take(graph, &format!("{prefix}.weight"), &[out, inp, 3])?,
        bias: take(graph, &format!("{prefix}.bias"), &[out])?,
    })
}

impl SileroWeights {
    /// Reads `silero_vad.onnx` (as shipped in the `silero-vad` PyPI wheel, v5 or later).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_onnx_bytes(&bytes).map_err(|e| match e {
            Error::Model(msg) => Error::Model(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Parses the bytes of `silero_vad.onnx` and takes the 16 kHz branch's weights.
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Self> {
        let graphs = graph_tensors(bytes)?;
        let basis_dims = [2 * FFT_BINS, 1, WINDOW];
        let graph = graphs
            .iter()
            .find(|g| {
                g.find("stft.forward_basis_buffer")
                    .is_some_and(|t| t.dims == basis_dims)
            })
            .ok_or_else(|| {
                bad(format!(
                    "no 16 kHz Silero VAD network found (no stft.forward_basis_buffer of shape \
                     {basis_dims:?}); expected silero_vad.onnx from the silero-vad package, v5 or \
                     later"
                ))
            })?;
        let bias_ih = take(graph, "decoder.rnn.bias_ih", &[4 * HIDDEN])?;
        let bias_hh = take(graph, "decoder.rnn.bias_hh", &[4 * HIDDEN])?;
        let out_bias = take(graph, "decoder.decoder.2.bias", &[1])?[0];
        let weights = SileroWeights {
            stft_basis: take(graph, "stft.forward_basis_buffer", &basis_dims)?,
            encoder: [
                conv(graph, 0, 128, FFT_BINS)?,
                conv(graph, 1, 64, 128)?,
                conv(graph, 2, 64, 64)?,
                conv(graph, 3, HIDDEN, 64)?,
            ],
            weight_ih: take(graph, "decoder.rnn.weight_ih", &[4 * HIDDEN, HIDDEN])?,
            weight_hh: take(graph, "decoder.rnn.weight_hh", &[4 * HIDDEN, HIDDEN])?,
            bias: bias_ih.iter().zip(&bias_hh).map(|(a, b)| a + b).collect(),
            out_weight: take(graph, "decoder.decoder.2.weight", &[1, HIDDEN, 1])?,
            out_bias,
        };
        weights.check_finite()?;
        Ok(weights)
    }

    fn check_finite(&self) -> Result<()> {
        let all = [
            &self.stft_basis,
            &self.weight_ih,
            &self.weight_hh,
            &self.bias,
        ]
        .into_iter()
        .chain(self.encoder.iter().flat_map(|c| [&c.weight, &c.bias]))
        .chain([&self.out_weight]);
        for values in all {
            if values.iter().any(|v| !v.is_finite()) {
                return Err(bad("a weight is NaN or infinite (corrupt file?)"));
            }
        }
        if !self.out_bias.is_finite() {
            return Err(bad("the output bias is NaN or infinite (corrupt file?)"));
        }
        Ok(())
    }
}
