//! AdamW on the GPU (`train/adamw.wgsl`) with warm-up then linear decay, global-norm
//! gradient clipping and gradient accumulation. Trainable tensors are f32 [`Param`]s:
//! value (a runtime `Weight`, so forward kernels read it directly), gradient and moments.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{DType, Gpu, Tensor, Weight};
use whisper_clsr::Result;

use crate::elementwise::fill;
use crate::kernel::{threads_grid, u};
use crate::reduce::{sum_into, Term};

const SOURCE: &str = include_str!("../../shaders/train/adamw.wgsl");

const KERNEL: Kernel = Kernel::new::<Params>("train/adamw.wgsl", SOURCE, "main");

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![KERNEL]
}

/// One trainable tensor and its optimizer state, all f32 on the GPU.
pub struct Param {
    pub value: Weight,
    /// Sum of the gradients of the micro-batches since the last step.
    pub grad: Tensor,
    pub m: Tensor,
    pub v: Tensor,
}

impl Param {
    /// A parameter holding `data`, with zero gradient and moments.
    pub fn new(gpu: &Gpu, data: &[f32], shape: &[usize]) -> Result<Param> {
        let value = gpu.weight_f32(data, shape, DType::F32)?;
        let zeros = || {
            let t = gpu.tensor(shape);
            fill(gpu, &t, 0.0);
            t
        };
        Ok(Param {
            value,
            grad: zeros(),
            m: zeros(),
            v: zeros(),
        })
    }

    pub fn len(&self) -> usize {
        self.value.len()
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

/// Optimizer settings (defaults: the DistilWhisper reference: lr 1e-4, β₂ 0.98, no decay,
/// clipping at 1.0, 10% warm-up).
#[derive(Clone, Copy, Debug)]
pub struct AdamWConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Clip the global gradient norm to this (≤ 0: no clipping).
    pub max_grad_norm: f32,
    pub warmup_steps: u64,
    pub total_steps: u64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            warmup_steps: 0,
            total_steps: 1,
        }
    }
}

impl AdamWConfig {
    /// Learning rate of optimizer step `step` (0-based): linear warm-up to `lr` over
    /// `warmup_steps` (step 0 already moves, at lr/warmup), then linear decay to 0 at
    /// `total_steps`.
    pub fn lr_at(&self, step: u64) -> f32 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f32 / self.warmup_steps as f32;
        }
        let left = self.total_steps.saturating_sub(step) as f32;
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f32;
        self.lr * (left / span).clamp(0.0, 1.0)
    }
}

whisper_clsr::params_struct! {
    struct Params {
        n: u32,
        _pad0: [u32; 3],
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        bc1: f32,
        bc2: f32,
        grad_scale: f32,
        max_norm: f32,
        _pad1: [u32; 3],
    }
}

/// AdamW over a fixed list of parameters.
pub struct AdamW {
    pub config: AdamWConfig,
    /// Optimizer steps taken.
    pub step: u64,
}

impl AdamW {
    pub fn new(config: AdamWConfig) -> AdamW {
        AdamW { config, step: 0 }
    }

    /// Σ grad² over every parameter, as a one-element tensor (two-pass reductions).
    pub fn grad_norm_sq(gpu: &Gpu, params: &[&Param]) -> Tensor {
        let out = gpu.tensor(&[1]);
        fill(gpu, &out, 0.0);
        for p in params {
            sum_into(
                gpu,
                p.grad.buffer(),
                p.len(),
                Term::Square,
                &out,
                0,
                1.0,
                true,
            );
        }
        out
    }

    /// One update from gradients summed over `micro_batches` micro-batches; zeroes the
    /// gradients. Returns Σ grad² before clipping (of the summed gradients).
    pub fn update(&mut self, gpu: &Gpu, params: &[&Param], micro_batches: usize) -> Tensor {
        let norm_sq = Self::grad_norm_sq(gpu, params);
        self.apply(gpu, params, micro_batches, &norm_sq);
        norm_sq
    }

    /// Ends a step without updating anything (its gradients were not finite): zeroes the
    /// gradients and counts the step, so the schedule and the batch order go on.
    pub fn skip(&mut self, gpu: &Gpu, params: &[&Param]) {
        for p in params {
            fill(gpu, &p.grad, 0.0);
        }
        self.step += 1;
    }

    /// [`AdamW::update`] with Σ grad² already computed by [`AdamW::grad_norm_sq`].
    pub fn apply(&mut self, gpu: &Gpu, params: &[&Param], micro_batches: usize, norm_sq: &Tensor) {
        assert!(
            micro_batches > 0,
            "an optimizer step needs at least one micro-batch"
        );
        let c = &self.config;
        let t = (self.step + 1) as i32;
        for p in params {
            let params = Params {
                n: u(p.len()),
                _pad0: [0; 3],
                lr: c.lr_at(self.step),
                beta1: c.beta1,
                beta2: c.beta2,
                eps: c.eps,
                weight_decay: c.weight_decay,
                bc1: 1.0 - c.beta1.powi(t),
                bc2: 1.0 - c.beta2.powi(t),
                grad_scale: 1.0 / micro_batches as f32,
                max_norm: c.max_grad_norm,
                _pad1: [0; 3],
            };
            gpu.dispatch(
                &KERNEL,
                bytemuck::bytes_of(&params),
                &[
                    (1, p.value.buffer()),
                    (2, p.grad.buffer()),
                    (3, p.m.buffer()),
                    (4, p.v.buffer()),
                    (5, norm_sq.buffer()),
                ],
                threads_grid(p.len(), 256),
            );
        }
        self.step += 1;
    }
}
