// Training: AdamW step for one f32 parameter tensor, with global-norm gradient clipping and
// gradient accumulation. grad holds the sum over micro-batches; grad_scale = 1/micro-batches.
// norm_sq[0] is Σ grad² over all trainable tensors (train_reduce.wgsl), so the clip factor is
// min(1, max_norm / ‖grad·grad_scale‖) (no clipping when max_norm ≤ 0). bc1/bc2 are the bias
// corrections 1 − β₁ᵗ, 1 − β₂ᵗ. Decoupled decay as PyTorch: p ← p·(1 − lr·wd) − lr·m̂/(√v̂ + eps).
// The gradient is zeroed for the next accumulation.

struct Params {
    n: u32, _pad0: u32, _pad1: u32, _pad2: u32,
    lr: f32, beta1: f32, beta2: f32, eps: f32,
    weight_decay: f32, bc1: f32, bc2: f32, grad_scale: f32,
    max_norm: f32, _pad3: u32, _pad4: u32, _pad5: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> norm_sq: array<f32>;

#include lib/thread_kernel.wgsl

fn element_count() -> u32 {
    return p.n;
}

fn element(i: u32) {
    var clip = 1.0;
    if (p.max_norm > 0.0) {
        let norm = sqrt(norm_sq[0]) * p.grad_scale;
        clip = min(1.0, p.max_norm / (norm + 1e-6));
    }
    let g = grad[i] * p.grad_scale * clip;
    let m1 = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let v1 = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = m1;
    v[i] = v1;
    let update = (m1 / p.bc1) / (sqrt(v1 / p.bc2) + p.eps);
    param[i] = param[i] * (1.0 - p.lr * p.weight_decay) - p.lr * update;
    grad[i] = 0.0;
}
