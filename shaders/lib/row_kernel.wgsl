// Included snippet: the entry point `main` of a kernel that gives each row one workgroup of
// WG invocations (the kernel declares `const WG: u32` and `Params` with `rows`, and provides
// `fn row(r: u32, lane: u32)`). The row index is uniform over the workgroup, so `row` may
// use barriers and the reductions of lib/reduce.wgsl.

#include lib/grid.wgsl

@compute @workgroup_size(WG, 1, 1)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = workgroup_index(wg);
    if (r < p.rows) {
        row(r, lid.x);
    }
}
