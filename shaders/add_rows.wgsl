// Positional add in place: x[t, :] += table[first_row + t, :] for a weight table (f32 or
// f16 packed), e.g. the encoder's sinusoidal positions after the stem.

struct Params {
    rows: u32, cols: u32, first_row: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
#if F16
@group(0) @binding(2) var<storage, read> table: array<u32>;
#else
@group(0) @binding(2) var<storage, read> table: array<f32>;
#endif

fn load_table(i: u32) -> f32 {
#if F16
    let pair = unpack2x16float(table[i >> 1u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
#else
    return table[i];
#endif
}

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let i = (wid.x + wid.y * groups.x) * 256u + lid.x;
    if (i >= p.rows * p.cols) {
        return;
    }
    x[i] += load_table(p.first_row * p.cols + i);
}
