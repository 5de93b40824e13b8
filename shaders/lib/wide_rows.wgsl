// Included snippet: a few-row product's weight rows read 16 bytes at a time (weight buffers
// are padded to 16 bytes): V elements per `vec4<Packed>` unit (8 packed halves with F16, or
// 4 f32). Included by lib/gemm_io.wgsl (WIDE_B) and lib/clsr_linear_io.wgsl's users (WALK);
// the kernel provides `Acc` (its rows' accumulator, e.g. lib/few_rows.wgsl's) and
// `fn x_at(base: u32, t: u32) -> Acc`, the activations of those rows at k = t (or, with
// WIDE_A, `x4_at` below).
// lib/wide_units.wgsl gives V, the elements per unit.

#include lib/wide_units.wgsl

// `acc` plus one 16-byte unit of a weight row (its elements k = t ... t + V − 1) times the
// activations, added one k at a time (each step can be one fused multiply-add, so the sum
// rounds as a plain walk along K does, as the tiled matmul's does).
#if WIDE_A
// Rows whose activations start on 16-byte boundaries: the kernel provides
// `fn x4_at(base: u32, t: u32) -> array<Acc, 4>`, the activations at k = t ... t + 3 (t a
// multiple of 4) read 16 bytes per row at a time, instead of one load per k and row. The
// products and their order are those of the form below.
fn unit_fma(acc: Acc, w: vec4<Packed>, base: u32, t: u32) -> Acc {
    var s = acc;
    let x0 = x4_at(base, t);
#if F16
    let x1 = x4_at(base, t + 4u);
    let h0 = unpack2x16float(w.x);
    let h1 = unpack2x16float(w.y);
    let h2 = unpack2x16float(w.z);
    let h3 = unpack2x16float(w.w);
    s += h0.x * x0[0];
    s += h0.y * x0[1];
    s += h1.x * x0[2];
    s += h1.y * x0[3];
    s += h2.x * x1[0];
    s += h2.y * x1[1];
    s += h3.x * x1[2];
    s += h3.y * x1[3];
#else
    s += w.x * x0[0];
    s += w.y * x0[1];
    s += w.z * x0[2];
    s += w.w * x0[3];
#endif
    return s;
}
#else
fn unit_fma(acc: Acc, w: vec4<Packed>, base: u32, t: u32) -> Acc {
    var s = acc;
#if F16
    let h0 = unpack2x16float(w.x);
    let h1 = unpack2x16float(w.y);
    let h2 = unpack2x16float(w.z);
    let h3 = unpack2x16float(w.w);
    s += h0.x * x_at(base, t);
    s += h0.y * x_at(base, t + 1u);
    s += h1.x * x_at(base, t + 2u);
    s += h1.y * x_at(base, t + 3u);
    s += h2.x * x_at(base, t + 4u);
    s += h2.y * x_at(base, t + 5u);
    s += h3.x * x_at(base, t + 6u);
    s += h3.y * x_at(base, t + 7u);
#else
    s += w.x * x_at(base, t);
    s += w.y * x_at(base, t + 1u);
    s += w.z * x_at(base, t + 2u);
    s += w.w * x_at(base, t + 3u);
#endif
    return s;
}
#endif
