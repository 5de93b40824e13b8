// Training: elementwise helpers. fill: y = value. axpy: y += alpha·x.

struct Params {
    n: u32, _pad0: u32, _pad1: u32, value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;

fn index(wid: vec3<u32>, groups: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.x + wid.y * groups.x) * 256u + lid.x;
}

@compute @workgroup_size(256, 1, 1)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, groups, lid);
    if (i < p.n) {
        y[i] = p.value;
    }
}

@compute @workgroup_size(256, 1, 1)
fn axpy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, groups, lid);
    if (i < p.n) {
        y[i] += p.value * x[i];
    }
}
