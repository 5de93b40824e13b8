//! A cached teacher's logits, one vocabulary chunk at a time (`train/topk_logits.wgsl`):
//! its top-k log-probabilities scattered over the chunk, every other column the tail's
//! share (`crate::teacher_topk`). The chunks feed the JS passes of [`super::vocab`]
//! unchanged, in place of a live teacher's logits.

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr::Result;

use crate::kernel::{threads_grid, u};
use crate::teacher_topk::TopKExample;

const SOURCE: &str = include_str!("../../../shaders/train/topk_logits.wgsl");

whisper_clsr::params_struct! {
    struct Params {
        rows: u32,
        vc: u32,
        v0: u32,
        k: u32,
    }
}

fn kernel(pass: &'static str) -> Kernel {
    Kernel::new::<Params>("train/topk_logits.wgsl", SOURCE, "main").define_if(pass, true)
}

pub(crate) fn kernels() -> Vec<Kernel> {
    vec![kernel("FILL"), kernel("SCATTER")]
}

/// One example's cached teacher rows on the GPU.
pub struct TopKTensors {
    pub vocab: usize,
    k: usize,
    rows: usize,
    ids: Tensor,
    top: Tensor,
    tail: Tensor,
}

impl TopKTensors {
    pub fn upload(gpu: &Gpu, ex: &TopKExample) -> Result<TopKTensors> {
        let rows = ex.tail.len();
        Ok(TopKTensors {
            vocab: ex.vocab,
            k: ex.k,
            rows,
            ids: gpu.upload_u32(&ex.ids, &[rows, ex.k])?,
            top: gpu.upload(&ex.logits, &[rows, ex.k])?,
            tail: gpu.upload(&ex.tail, &[rows])?,
        })
    }

    /// Decoder positions (rows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Teacher logits for columns `v0..v0 + vc`, [rows, vc].
    pub fn chunk(&self, gpu: &Gpu, v0: usize, vc: usize) -> Tensor {
        assert!(v0 + vc <= self.vocab, "teacher chunk past the vocabulary");
        let out = gpu.tensor(&[self.rows, vc]);
        let p = Params {
            rows: u(self.rows),
            vc: u(vc),
            v0: u(v0),
            k: u(self.k),
        };
        gpu.dispatch(
            &kernel("FILL"),
            bytemuck::bytes_of(&p),
            &[(3, self.tail.buffer()), (4, out.buffer())],
            threads_grid(self.rows * vc, 256),
        );
        gpu.dispatch(
            &kernel("SCATTER"),
            bytemuck::bytes_of(&p),
            &[
                (1, self.ids.buffer()),
                (2, self.top.buffer()),
                (4, out.buffer()),
            ],
            threads_grid(self.rows * self.k, 256),
        );
        out
    }
}
