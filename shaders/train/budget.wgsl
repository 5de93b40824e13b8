// Training: the CLSR gate budget L_g = |Σg/N − b| from the masked gate sum (sums[0], see
// train_reduce.wgsl), and its derivative coefficient dL_g/dg = sign(Σg/N − b)/N that every
// layer's gate backward reads, so no value goes through the host. out = (L_g, coefficient).

struct Params {
    count: f32, budget: f32, scale: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sums: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(1, 1, 1)
fn main() {
    let diff = sums[0] / p.count - p.budget;
    out[0] = abs(diff) * p.scale;
    out[1] = sign(diff) * p.scale / p.count;
}
