// Included snippet: the entry point `main` of an elementwise kernel: one invocation per
// element i < element_count(), 256 per workgroup, calling the kernel's `fn element(i: u32)`
// (the kernel also provides `fn element_count() -> u32`).

#include lib/grid.wgsl

@compute @workgroup_size(256, 1, 1)
fn main(wg: Workgroup, @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = thread_index(wg, lid);
    if (i < element_count()) {
        element(i);
    }
}
