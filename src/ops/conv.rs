//! Kernel-3, padding-1 convolution with fused bias and GELU, as Whisper's stem uses:
//! an im2col gather (`im2col.wgsl`) followed by one tiled matmul.

use super::matmul::{linear_into, Layout};
use super::{elementwise_grid, u};
use crate::gpu::shader::Kernel;
use crate::gpu::{Gpu, Tensor, Weight};

const SOURCE: &str = include_str!("../../shaders/runtime/im2col.wgsl");

crate::params_struct! {
    struct Params {
        channels: u32,
        t_in: u32,
        t_out: u32,
        stride: u32,
        channel_stride: u32,
        time_stride: u32,
        _pad: [u32; 2],
    }
}

fn kernel() -> Kernel {
    Kernel::new::<Params>("runtime/im2col.wgsl", SOURCE, "main")
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel()]
}

/// How the convolution input is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvInput {
    /// [channels, time], e.g. the log-mel spectrogram.
    ChannelMajor,
    /// [time, channels], e.g. the previous layer's output.
    TimeMajor,
}

/// Output length of a k=3, pad=1 convolution.
pub fn conv_out_len(t_in: usize, stride: usize) -> usize {
    (t_in + 2 - 3) / stride + 1
}

/// `GELU(conv1d(x, weight[out, in, 3], bias, stride, pad 1))`, returned time-major [t_out, out].
/// `x` holds `channels × t_in` values laid out as `layout` says.
#[allow(clippy::too_many_arguments)] // a kernel wrapper: input, its layout and shape, weights
pub fn conv1d_gelu(
    gpu: &Gpu,
    x: &Tensor,
    layout: ConvInput,
    channels: usize,
    t_in: usize,
    weight: &Weight,
    bias: &Weight,
    stride: usize,
) -> Tensor {
    let out_channels = weight.shape()[0];
    assert_eq!(
        weight.shape()[1..],
        [channels, 3],
        "conv weight must be [out, {channels}, 3]"
    );
    let t_out = conv_out_len(t_in, stride);
    let (channel_stride, time_stride) = match layout {
        ConvInput::ChannelMajor => (t_in, 1),
        ConvInput::TimeMajor => (1, channels),
    };
    let cols = gpu.tensor(&[t_out, channels * 3]);
    let params = Params {
        channels: u(channels),
        t_in: u(t_in),
        t_out: u(t_out),
        stride: u(stride),
        channel_stride: u(channel_stride),
        time_stride: u(time_stride),
        _pad: [0; 2],
    };
    gpu.dispatch(
        &kernel(),
        bytemuck::bytes_of(&params),
        &[(1, x.buffer()), (2, cols.buffer())],
        elementwise_grid(t_out * channels * 3),
    );
    // The [out, in, 3] weight is a [out, in*3] matrix matching the gathered columns.
    let out = gpu.tensor(&[t_out, out_channels]);
    linear_into(
        gpu,
        &cols,
        weight,
        Some(bias),
        true,
        None,
        &out,
        Layout::dense(t_out, out_channels),
    );
    out
}
