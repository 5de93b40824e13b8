//! Vocabulary-sized losses over logit chunks (`train/loss.wgsl`). Callers project hidden
//! states onto one vocabulary chunk at a time (full logits for a batch exceed binding
//! limits) and feed each chunk to the passes below; per-row state carries an online
//! log-sum-exp between chunks.
//!
//! Cross-entropy (label smoothing ε): pass 1 `CrossEntropy::add_chunk` over all chunks,
//! then `finish` (row losses) and `grad_chunk` per chunk (dL/dz).
//! Jensen–Shannon at temperature τ against teacher logits: pass 1 `add_lse_chunk`, pass 2
//! `add_value_chunk`, then `finish` and `grad_chunk` per chunk. The value is
//! τ²·(½KL(p‖m) + ½KL(q‖m)) averaged over non-padding rows.
//! Targets are u32 token ids per row; [`IGNORE`] marks padding.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};

use crate::kernel::{rows_grid, u};

const SOURCE: &str = include_str!("../../../shaders/train/loss.wgsl");
/// Target id of padding rows.
pub const IGNORE: u32 = u32::MAX;

whisper_clsr::params_struct! {
    struct Params {
        rows: u32,
        vc: u32,
        v0: u32,
        vocab: u32,
        smoothing: f32,
        inv_count: f32,
        inv_tau: f32,
        scale: f32,
        accumulate: u32,
        _pad: [u32; 3],
    }
}

/// The kernel of one pass; the pass is a define of `train/loss.wgsl`.
fn kernel(pass: &'static str) -> Kernel {
    Kernel::new::<Params>("train/loss.wgsl", SOURCE, "main").define_if(pass, true)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    [
        "CE_INIT",
        "CE_CHUNK",
        "CE_FINISH",
        "CE_GRAD",
        "JS_INIT",
        "JS_LSE_CHUNK",
        "JS_VALUE_CHUNK",
        "JS_FINISH",
        "JS_GRAD",
    ]
    .into_iter()
    .map(kernel)
    .collect()
}

/// What every pass of one loss shares.
#[derive(Clone, Copy, Debug)]
pub struct LossSpec {
    /// Token rows (padding included).
    pub rows: usize,
    /// Full vocabulary size.
    pub vocab: usize,
    /// Non-padding rows: the loss is their mean.
    pub count: usize,
    /// Factor on the loss and its gradient (the term's weight in the objective).
    pub scale: f32,
}

impl LossSpec {
    /// Dispatches `pass` with `p` over one workgroup per token row.
    fn run(&self, gpu: &Gpu, pass: &'static str, p: &Params, buffers: &[(u32, &wgpu::Buffer)]) {
        gpu.dispatch(
            &kernel(pass),
            bytemuck::bytes_of(p),
            buffers,
            rows_grid(self.rows),
        );
    }

    /// Row losses [rows] of the finishing `pass` from a loss's final `state`.
    fn row_losses(
        &self,
        gpu: &Gpu,
        pass: &'static str,
        p: &Params,
        targets: &Tensor,
        state: &Tensor,
    ) -> Tensor {
        let loss = gpu.tensor(&[self.rows]);
        let buffers = [
            (2, targets.buffer()),
            (6, loss.buffer()),
            (7, state.buffer()),
        ];
        self.run(gpu, pass, p, &buffers);
        loss
    }

    /// Dispatches the gradient `pass` of the logit chunk `z` (with `teacher`, the teacher's
    /// chunk, for JS) into `dz` from a loss's final `state`.
    #[allow(clippy::too_many_arguments)]
    fn grad(
        &self,
        gpu: &Gpu,
        pass: &'static str,
        p: &Params,
        z: &Tensor,
        teacher: Option<&Tensor>,
        targets: &Tensor,
        dz: &Tensor,
        state: &Tensor,
    ) {
        let mut buffers = vec![(1, z.buffer()), (2, targets.buffer())];
        buffers.extend(teacher.map(|zt| (4, zt.buffer())));
        buffers.extend([(5, dz.buffer()), (7, state.buffer())]);
        self.run(gpu, pass, p, &buffers);
    }

    fn params(&self, chunk: Option<(&Tensor, usize)>) -> Params {
        let vc = chunk.map_or(0, |(z, _)| z.shape()[1]);
        if let Some((z, v0)) = chunk {
            assert_eq!(z.shape()[0], self.rows, "logit chunk rows");
            assert!(v0 + vc <= self.vocab, "logit chunk past the vocabulary");
        }
        Params {
            rows: u(self.rows),
            vc: u(vc),
            v0: u(chunk.map_or(0, |(_, v0)| v0)),
            vocab: u(self.vocab),
            smoothing: 0.0,
            inv_count: 1.0 / self.count.max(1) as f32,
            inv_tau: 1.0,
            scale: self.scale,
            accumulate: 0,
            _pad: [0; 3],
        }
    }
}

/// Cross-entropy with label smoothing, in passes over vocabulary chunks.
pub struct CrossEntropy {
    spec: LossSpec,
    smoothing: f32,
    state: Tensor,
}

impl CrossEntropy {
    pub fn new(gpu: &Gpu, spec: LossSpec, smoothing: f32) -> CrossEntropy {
        let state = gpu.tensor(&[spec.rows, 4]);
        let p = spec.params(None);
        spec.run(gpu, "CE_INIT", &p, &[(3, state.buffer())]);
        CrossEntropy {
            spec,
            smoothing,
            state,
        }
    }

    fn params(&self, chunk: Option<(&Tensor, usize)>) -> Params {
        let mut p = self.spec.params(chunk);
        p.smoothing = self.smoothing;
        p
    }

    /// Pass 1: logits `z` [rows, vc] for vocabulary columns `v0..v0 + vc`.
    pub fn add_chunk(&self, gpu: &Gpu, z: &Tensor, v0: usize, targets: &Tensor) {
        self.spec.run(
            gpu,
            "CE_CHUNK",
            &self.params(Some((z, v0))),
            &[
                (1, z.buffer()),
                (2, targets.buffer()),
                (3, self.state.buffer()),
            ],
        );
    }

    /// Row losses `[rows]` (scaled, divided by the count; their sum is the loss).
    pub fn finish(&self, gpu: &Gpu, targets: &Tensor) -> Tensor {
        let p = self.params(None);
        self.spec
            .row_losses(gpu, "CE_FINISH", &p, targets, &self.state)
    }

    /// dLoss/dz for one chunk into `dz` [rows, vc] (added when `accumulate`).
    pub fn grad_chunk(
        &self,
        gpu: &Gpu,
        z: &Tensor,
        v0: usize,
        targets: &Tensor,
        dz: &Tensor,
        accumulate: bool,
    ) {
        assert_eq!(dz.shape(), z.shape(), "ce grad: dz shape");
        let mut p = self.params(Some((z, v0)));
        p.accumulate = accumulate as u32;
        self.spec
            .grad(gpu, "CE_GRAD", &p, z, None, targets, dz, &self.state);
    }
}

/// Jensen–Shannon divergence between teacher and student next-token distributions.
pub struct JensenShannon {
    spec: LossSpec,
    tau: f32,
    state: Tensor,
}

impl JensenShannon {
    pub fn new(gpu: &Gpu, spec: LossSpec, tau: f32) -> JensenShannon {
        assert!(tau > 0.0, "JS temperature must be positive");
        let state = gpu.tensor(&[spec.rows, 8]);
        spec.run(gpu, "JS_INIT", &spec.params(None), &[(3, state.buffer())]);
        JensenShannon { spec, tau, state }
    }

    fn params(&self, chunk: Option<(&Tensor, usize)>) -> Params {
        let mut p = self.spec.params(chunk);
        p.inv_tau = 1.0 / self.tau;
        p
    }

    fn pass(&self, gpu: &Gpu, pass: &'static str, z: &Tensor, zt: &Tensor, v0: usize) {
        assert_eq!(
            z.shape(),
            zt.shape(),
            "JS: student and teacher chunk shapes"
        );
        self.spec.run(
            gpu,
            pass,
            &self.params(Some((z, v0))),
            &[(1, z.buffer()), (3, self.state.buffer()), (4, zt.buffer())],
        );
    }

    /// Pass 1: student `z` and teacher `zt` logits for columns `v0..`.
    pub fn add_lse_chunk(&self, gpu: &Gpu, z: &Tensor, zt: &Tensor, v0: usize) {
        self.pass(gpu, "JS_LSE_CHUNK", z, zt, v0);
    }

    /// Pass 2, after every chunk went through pass 1.
    pub fn add_value_chunk(&self, gpu: &Gpu, z: &Tensor, zt: &Tensor, v0: usize) {
        self.pass(gpu, "JS_VALUE_CHUNK", z, zt, v0);
    }

    /// Row losses `[rows]`: τ²·JS_r·scale/count (0 for padding).
    pub fn finish(&self, gpu: &Gpu, targets: &Tensor) -> Tensor {
        let mut p = self.params(None);
        p.scale *= self.tau * self.tau;
        self.spec
            .row_losses(gpu, "JS_FINISH", &p, targets, &self.state)
    }

    /// dLoss/dz (student) for one chunk into `dz` (added when `accumulate`).
    #[allow(clippy::too_many_arguments)]
    pub fn grad_chunk(
        &self,
        gpu: &Gpu,
        z: &Tensor,
        zt: &Tensor,
        v0: usize,
        targets: &Tensor,
        dz: &Tensor,
        accumulate: bool,
    ) {
        assert_eq!(dz.shape(), z.shape(), "JS grad: dz shape");
        let mut p = self.params(Some((z, v0)));
        p.scale *= self.tau * self.tau;
        p.accumulate = accumulate as u32;
        self.spec
            .grad(gpu, "JS_GRAD", &p, z, Some(zt), targets, dz, &self.state);
    }
}
