// Included snippet: a weight (or other B operand) bound as 16-byte units, `vec4<Packed>`
// (lib/f16.wgsl): V elements per unit, 8 packed halves with F16 or 4 f32. Buffers read this
// way are padded to 16 bytes.

#if F16
const V = 8u;
#else
const V = 4u;
#endif

// Element i of a weight bound as 16-byte units.
fn wide_at(unit: vec4<Packed>, i: u32) -> f32 {
    return unpack_at(unit[packed_index(i) & 3u], i);
}
