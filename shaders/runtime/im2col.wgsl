// The gather half of a kernel-3 convolution with padding 1: for output time t and input
// channel ch, y[t, ch*3 + j] = x[ch, t*stride + j − 1] (zero outside): y is the column matrix. The product with
// the [out, in*3] weight is then one tiled matmul (with bias and GELU fused), which is how
// the Whisper stem's convolutions run. The input is addressed by strides so both the
// channel-major log-mel [n_mels, frames] and a time-major activation [frames, d] work.

struct Params {
    channels: u32, t_in: u32, t_out: u32, stride: u32,
    channel_stride: u32, time_stride: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

#include lib/map_io.wgsl
#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.t_out * p.channels * 3u;
}

fn element(i: u32) {
    let width = p.channels * 3u;
    let t = i / width;
    let ch = (i % width) / 3u;
    let j = i % 3u;
    let src = i32(t * p.stride + j) - 1;
    var v = 0.0;
    if (src >= 0 && u32(src) < p.t_in) {
        v = x[ch * p.channel_stride + u32(src) * p.time_stride];
    }
    y[i] = v;
}
