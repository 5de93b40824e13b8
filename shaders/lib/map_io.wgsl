// Included snippet: the bindings of a kernel that maps one f32 array into another: `x` at
// binding 1 (read) and `y` at binding 2 (written). The kernel's own bindings start at 3.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
