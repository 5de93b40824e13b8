// Included snippet: parameters and bindings 0-6 shared by the routed CLSR Linear kernels
// (clsr_gemv.wgsl, clsr_matmul.wgsl): input a, shared and expert weight/bias (f32, or f16
// packed two per u32 with F16), output c. Binding 7 (how rows are routed) is each kernel's own.

#include lib/f16.wgsl

struct Params {
    rows: u32, n: u32, k: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if WIDE_A
// clsr_gemv.wgsl's walk over aligned rows reads the activations 16 bytes at a time too.
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> a: array<f32>;
#endif
#if WALK
// clsr_gemv.wgsl's form for CPU drivers reads the weights 16 bytes at a time.
@group(0) @binding(2) var<storage, read> w_shared: array<vec4<Packed>>;
#else
@group(0) @binding(2) var<storage, read> w_shared: array<Packed>;
#endif
@group(0) @binding(3) var<storage, read> b_shared: array<Packed>;
#if WALK
@group(0) @binding(4) var<storage, read> w_expert: array<vec4<Packed>>;
#else
@group(0) @binding(4) var<storage, read> w_expert: array<Packed>;
#endif
@group(0) @binding(5) var<storage, read> b_expert: array<Packed>;
@group(0) @binding(6) var<storage, read_write> c: array<f32>;

fn bias_of(from_expert: bool, i: u32) -> f32 {
    if (from_expert) {
        return unpack_at(b_expert[packed_index(i)], i);
    }
    return unpack_at(b_shared[packed_index(i)], i);
}
