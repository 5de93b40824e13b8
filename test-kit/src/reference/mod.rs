//! f64 references: what the f32 kernels are compared with. Their own rounding is far below
//! f32's, so a disagreement beyond the tolerance is the kernel's.
//!
//! - [`ops`]: linear, layer norm, GELU, softmax, attention, convolution and their backward
//!   passes, on plain row-major slices.
//! - [`clsr`]: the FFN block, the CLSR expert and gate (inference and training mode).
//! - [`loss`]: label-smoothed cross-entropy and Jensen–Shannon on log-probabilities.
//! - [`whisper`]: a whole Whisper built from the above, on a model directory's tensors.

pub mod clsr;
pub mod loss;
pub mod ops;
pub mod whisper;

pub use clsr::{clsr_ffn, clsr_train, ClsrExpert, Ffn, Regularisation};
pub use loss::{jensen_shannon, smoothed_cross_entropy};
pub use ops::*;
pub use whisper::F64Whisper;
