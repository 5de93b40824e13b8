//! Training losses on the GPU: cross-entropy with label smoothing and Jensen–Shannon
//! distillation over vocabulary chunks with an online log-sum-exp (against a live teacher's
//! logits or a cached teacher's top-k rebuilt per chunk), and the CLSR gate budget.

pub mod budget;
pub mod topk_logits;
pub mod vocab;

use whisper_clsr::gpu::shader::Kernel;

pub(crate) fn kernels() -> Vec<Kernel> {
    let mut all = vocab::kernels();
    all.extend(budget::kernels());
    all.extend(topk_logits::kernels());
    all
}
