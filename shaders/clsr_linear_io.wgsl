// Included snippet: parameters and bindings 0-6 shared by the routed CLSR Linear kernels
// (clsr_gemv.wgsl, clsr_matmul.wgsl): input a, shared and expert weight/bias (f32, or f16
// packed two per u32 with F16), output c. Binding 7 (how rows are routed) is each kernel's own.

struct Params {
    rows: u32, n: u32, k: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
#if F16
@group(0) @binding(2) var<storage, read> w_shared: array<u32>;
@group(0) @binding(3) var<storage, read> b_shared: array<u32>;
@group(0) @binding(4) var<storage, read> w_expert: array<u32>;
@group(0) @binding(5) var<storage, read> b_expert: array<u32>;
#else
@group(0) @binding(2) var<storage, read> w_shared: array<f32>;
@group(0) @binding(3) var<storage, read> b_shared: array<f32>;
@group(0) @binding(4) var<storage, read> w_expert: array<f32>;
@group(0) @binding(5) var<storage, read> b_expert: array<f32>;
#endif
@group(0) @binding(6) var<storage, read_write> c: array<f32>;
