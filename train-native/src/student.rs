//! Whole-model training step on the GPU: a frozen Whisper whose every FFN is a CLSR block
//! with trainable experts (the student), an optional frozen teacher run with the same
//! kernels on the same inputs, the objective `ce·CE + budget·L_g + js·JS` over vocabulary
//! chunks, and the explicit backward through every frozen layer down to the encoder input.
//! Weight gradients exist only for the experts and gates (`Expert<Param>`); they are
//! accumulated, so several examples can be summed before an optimizer step. Experts sit in
//! every layer or, with [`ExpertLayers::Decoder`], in the decoder's only; then the encoder
//! is frozen and an example may bring its output instead of running it.
//!
//! The convolutional stem has no trainable parameters and needs no gradient: a step starts
//! from its output plus positions (`Encoder::stem`); decoder embeddings likewise.

use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr::model::layers::{AttentionWeights, FeedForward};
use whisper_clsr::model::{Block, BlockTape, Dense, FfnStrategy, LayerId, WhisperNetwork};
use whisper_clsr::ops::attention::AttentionShape;
use whisper_clsr::ops::embedding::ChunkedTable;
use whisper_clsr::ops::matmul::{gemm, Epilogue, Gemm, Layout, Rhs};
use whisper_clsr::pack::{Expert, Part};
use whisper_clsr::{Error, Result};

use crate::backward::attention::{attention_backward, AttentionTape};
use crate::backward::layer_norm::layer_norm_backward;
use crate::backward::linear::{grad_input, grad_input_long};
use crate::clsr::{clsr_backward, clsr_forward, ClsrSaved, TrainMode};
use crate::elementwise::fill;
use crate::expert_layers::ExpertLayers;
use crate::loss::budget::budget_loss;
use crate::loss::topk_logits::TopKTensors;
use crate::loss::vocab::{CrossEntropy, JensenShannon, LossSpec, IGNORE};
use crate::optim::Param;
use crate::profile::mark;
use crate::reduce::{sum_into, Term};

/// Vocabulary columns per logits chunk.
pub const VOCAB_CHUNK: usize = 8192;

/// Where the student's encoder side of an example starts.
#[derive(Clone, Copy)]
pub enum EncoderInput<'a> {
    /// The encoder input [frames, d] (the stem's output, `Encoder::stem`): the encoder runs.
    Stem(&'a Tensor),
    /// The frozen encoder's output [frames, d] (after its final LN, [`frozen_encoder`]):
    /// only when no encoder layer trains.
    Frozen(&'a Tensor),
}

impl EncoderInput<'_> {
    fn tensor(&self) -> &Tensor {
        match self {
            EncoderInput::Stem(t) | EncoderInput::Frozen(t) => t,
        }
    }
}

/// The trainable side of a student forward: one expert and one mode per covered layer, in
/// [`ExpertLayers::layers`]' order.
#[derive(Clone, Copy)]
pub struct Trainable<'a> {
    pub experts: &'a [Expert<Param>],
    pub modes: &'a [TrainMode],
    pub layers: ExpertLayers,
}

/// One teacher-forced example.
pub struct Example<'a> {
    pub encoder: EncoderInput<'a>,
    /// Decoder input ids (prompt + text).
    pub tokens: &'a [u32],
    /// Next-token target per position; [`IGNORE`] where no loss is taken.
    pub targets: &'a [u32],
}

/// Weights and settings of the objective (defaults from docs/training.md: CE + L_g + 2·JS,
/// smoothing 0.1, τ 1, budget 0.5).
#[derive(Clone, Copy, Debug)]
pub struct Objective {
    pub ce: f32,
    pub budget_weight: f32,
    pub js: f32,
    pub smoothing: f32,
    pub tau: f32,
    /// Target mean gate b.
    pub budget: f32,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            ce: 1.0,
            budget_weight: 1.0,
            js: 2.0,
            smoothing: 0.1,
            tau: 1.0,
            budget: 0.5,
        }
    }
}

/// Slots of the loss tensor a step returns (weighted terms; total = ce + js + budget).
pub mod slot {
    pub const CE: usize = 0;
    pub const JS: usize = 1;
    pub const BUDGET: usize = 2;
    /// Mean soft gate Σg/N.
    pub const GATE_RATIO: usize = 3;
    /// The fixed slots; after them, one per layer (encoder, then decoder): that layer's
    /// mean soft gate.
    pub const COUNT: usize = 4;

    /// The slot of layer `l`'s mean soft gate (layers numbered encoder first).
    pub const fn layer_gate(l: usize) -> usize {
        COUNT + l
    }
}

/// Activations one CLSR layer's backward needs: the block's tape and the CLSR FFN's.
struct LayerSaved {
    block: BlockTape,
    clsr: ClsrSaved,
}

/// Activations of a training forward, and the hidden states before/after the final LNs.
/// The encoder's are kept only when its layers train.
pub struct Forward {
    enc: Vec<LayerSaved>,
    dec: Vec<LayerSaved>,
    /// Each decoder layer's cross-attention keys and values [frames, d].
    cross: Vec<(Tensor, Tensor)>,
    enc_pre_ln: Option<Tensor>,
    pub enc_out: Tensor,
    dec_pre_ln: Tensor,
    /// [S, d] decoder output after its final LN (the logits are this · tokensᵀ).
    pub hidden: Tensor,
}

fn heads_shape(a: &AttentionWeights, q_len: usize, kv_len: usize, d: usize) -> AttentionShape {
    AttentionShape {
        heads: a.heads,
        head_dim: d / a.heads,
        q_len,
        kv_len,
        beams: 1,
    }
}

/// The blocks' FFN strategy in training: in a layer with an expert each FFN is a
/// training-mode CLSR block whose saved activations are kept; elsewhere (and without
/// experts: the teacher) the frozen FFN runs. Marks the profile around the encoder FFNs.
struct TrainingFfn<'a> {
    experts: Option<Trainable<'a>>,
    encoder_layers: usize,
    saved: Vec<ClsrSaved>,
}

impl TrainingFfn<'_> {
    fn labels(&self) -> [&'static str; 3] {
        if self.experts.is_some() {
            [
                "student fwd: encoder attention",
                "student fwd: encoder CLSR FFN",
                "student fwd: decoder",
            ]
        } else {
            [
                "teacher fwd: encoder attention",
                "teacher fwd: encoder FFN",
                "teacher fwd: decoder",
            ]
        }
    }
}

impl FfnStrategy for TrainingFfn<'_> {
    fn forward(
        &mut self,
        gpu: &Gpu,
        layer: LayerId,
        ffn: &FeedForward,
        z: &Tensor,
        residual: &Tensor,
    ) -> Tensor {
        let [attention, ffn_label, _] = self.labels();
        let encoder = layer.part == Part::Encoder;
        if encoder {
            mark(gpu, attention);
        }
        let trained = self
            .experts
            .and_then(|t| Some((t, t.layers.slot(self.encoder_layers, layer)?)));
        let out = match trained {
            Some((t, slot)) => {
                let (out, saved) = clsr_forward(
                    gpu,
                    z,
                    residual,
                    ffn.shared(),
                    &t.experts[slot],
                    &t.modes[slot],
                );
                self.saved.push(saved);
                out
            }
            None => Dense.forward(gpu, layer, ffn, z, residual),
        };
        if encoder {
            mark(gpu, ffn_label);
        }
        out
    }
}

/// The frozen encoder's output (after its final LN) for the encoder input `x` ([frames,
/// d], the stem's output): what a student without encoder experts cross-attends to.
pub fn frozen_encoder(gpu: &Gpu, model: &WhisperNetwork, x: Tensor) -> Tensor {
    let (pre_ln, _) = model.encoder.forward_blocks(gpu, x, &mut Dense, false);
    model.encoder.ln_post.forward(gpu, &pre_ln)
}

/// Forward of the encoder blocks and the teacher-forced decoder, on the runtime's own block
/// code. With `experts` the FFNs of the covered layers are training-mode CLSR blocks and
/// activations are kept; without, the frozen model runs (the teacher).
pub fn forward(
    gpu: &Gpu,
    model: &WhisperNetwork,
    input: EncoderInput,
    tokens: &[u32],
    experts: Option<Trainable>,
) -> Result<Forward> {
    let c = &model.config;
    let d = c.d_model;
    let trains_encoder = experts.is_some_and(|t| t.layers.covers(Part::Encoder));
    if let Some(t) = experts {
        let layers = t.layers.layers(c).len();
        if t.experts.len() != layers || t.modes.len() != layers {
            return Err(Error::InvalidInput(format!(
                "{layers} CLSR layers need as many experts and modes ({} and {} given)",
                t.experts.len(),
                t.modes.len()
            )));
        }
    }
    if trains_encoder && matches!(input, EncoderInput::Frozen(_)) {
        return Err(Error::InvalidInput(
            "the encoder's experts train: the example must bring the encoder input, not the \
             frozen encoder's output"
                .into(),
        ));
    }
    let enc_input = input.tensor();
    let frames = enc_input.shape()[0];
    if enc_input.shape() != [frames, d] || frames > c.max_source_positions {
        return Err(Error::InvalidInput(format!(
            "encoder input must be [≤ {}, {d}], got {:?}",
            c.max_source_positions,
            enc_input.shape()
        )));
    }
    let s = tokens.len();
    if s == 0 || s > c.max_target_positions {
        return Err(Error::InvalidInput(format!(
            "a training example needs 1..={} decoder tokens, got {s}",
            c.max_target_positions
        )));
    }

    let record = experts.is_some();
    let mut ffn = TrainingFfn {
        experts,
        encoder_layers: c.encoder_layers,
        saved: Vec::new(),
    };
    // The blocks take their input by value: the caller keeps its tensor.
    let x = gpu.tensor(&[frames, d]);
    gpu.copy(
        enc_input.buffer(),
        0,
        x.buffer(),
        0,
        (frames * d * 4) as u64,
    );
    let (enc_pre_ln, enc_out, enc_tapes) = match input {
        EncoderInput::Frozen(_) => (None, x, Vec::new()),
        EncoderInput::Stem(_) => {
            let (pre_ln, tapes) = model
                .encoder
                .forward_blocks(gpu, x, &mut ffn, trains_encoder);
            let out = model.encoder.ln_post.forward(gpu, &pre_ln);
            (trains_encoder.then_some(pre_ln), out, tapes)
        }
    };
    let cross = model.decoder.cross_kv(gpu, &enc_out);
    let (dec_pre_ln, dec_tapes) = model
        .decoder
        .forward_teacher_forced(gpu, tokens, &cross, &mut ffn, record)?;
    let hidden = model.decoder.ln.forward(gpu, &dec_pre_ln);
    mark(gpu, ffn.labels()[2]);

    let mut saved = ffn.saved.into_iter();
    let mut pair = |block| LayerSaved {
        block,
        clsr: saved.next().expect("one CLSR record per recorded block"),
    };
    let enc = enc_tapes.into_iter().map(&mut pair).collect();
    let dec = dec_tapes.into_iter().map(&mut pair).collect();
    Ok(Forward {
        enc,
        dec,
        cross,
        enc_pre_ln,
        enc_out,
        dec_pre_ln,
        hidden,
    })
}

/// Where a vocabulary range lies: (table chunk, row offset inside it).
fn table_part(table: &ChunkedTable, v0: usize, vc: usize) -> (&whisper_clsr::gpu::Weight, usize) {
    let (start, w) = table
        .chunks
        .iter()
        .rev()
        .find(|(start, _)| *start <= v0)
        .expect("vocabulary chunk in the table");
    assert!(
        v0 + vc <= start + w.shape()[0],
        "logit chunk straddles table chunks"
    );
    (w, v0 - start)
}

/// Rows up to which the logits projection runs as groups of ≤ 4 rows on the runtime's
/// GEMV kernel (which reads each weight once per group) instead of the 64-row tiled kernel.
const GEMV_ROWS: usize = 16;

/// Logits chunk `hidden · table[v0..v0+vc]ᵀ` → [S, vc].
pub fn logits_chunk(
    gpu: &Gpu,
    hidden: &Tensor,
    table: &ChunkedTable,
    v0: usize,
    vc: usize,
) -> Tensor {
    let (s, d) = (hidden.shape()[0], hidden.shape()[1]);
    let (w, row) = table_part(table, v0, vc);
    let out = gpu.tensor(&[s, vc]);
    let group = if s <= GEMV_ROWS { 4 } else { s };
    let mut r0 = 0;
    while r0 < s {
        let m = group.min(s - r0);
        let g = Gemm {
            m,
            n: vc,
            k: d,
            batch: 1,
            a: Layout {
                offset: r0 * d,
                row_stride: d,
                batch_stride: 0,
            },
            b: Layout {
                offset: row * d,
                row_stride: d,
                batch_stride: 0,
            },
            c: Layout {
                offset: r0 * vc,
                row_stride: vc,
                batch_stride: 0,
            },
            trans_b: true,
            alpha: 1.0,
        };
        gemm(gpu, hidden, Rhs::Weight(w), &out, &g, &Epilogue::default());
        r0 += m;
    }
    out
}

/// Vocabulary chunks that never straddle the table's own chunks.
pub fn vocab_chunks(table: &ChunkedTable, size: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (start, w) in &table.chunks {
        let rows = w.shape()[0];
        let mut v = 0;
        while v < rows {
            let n = size.min(rows - v);
            out.push((start + v, n));
            v += n;
        }
    }
    out
}

/// The frozen teacher's part of a step: where its logits come from.
pub enum TeacherRun<'a> {
    /// A live teacher: its decoder output after the final LN, [S, d_teacher]; the logits
    /// are projected onto its own token table.
    Live {
        model: &'a WhisperNetwork,
        hidden: Tensor,
    },
    /// Top-k log-probabilities cached by `teach`, rebuilt into logits per chunk.
    TopK(TopKTensors),
}

impl TeacherRun<'_> {
    /// The teacher's vocabulary size.
    fn vocab(&self) -> usize {
        match self {
            TeacherRun::Live { model, .. } => model.config.vocab_size,
            TeacherRun::TopK(t) => t.vocab,
        }
    }

    /// Teacher logits for vocabulary columns `v0..v0 + vc`, [S, vc].
    fn logits_chunk(&self, gpu: &Gpu, v0: usize, vc: usize) -> Tensor {
        match self {
            TeacherRun::Live { model, hidden } => {
                logits_chunk(gpu, hidden, &model.decoder.tokens, v0, vc)
            }
            TeacherRun::TopK(t) => t.chunk(gpu, v0, vc),
        }
    }
}

/// Runs the frozen teacher on an example.
pub fn teacher_forward<'a>(
    gpu: &Gpu,
    teacher: &'a WhisperNetwork,
    enc_input: &Tensor,
    tokens: &[u32],
) -> Result<TeacherRun<'a>> {
    let f = forward(gpu, teacher, EncoderInput::Stem(enc_input), tokens, None)?;
    Ok(TeacherRun::Live {
        model: teacher,
        hidden: f.hidden,
    })
}

/// What [`example_losses`] computes besides the losses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Backward too: the expert gradients of the example are accumulated.
    Train,
    /// No gradient (validation). Pass modes without noise, dropout or skip-gate
    /// ([`TrainMode::evaluation`]).
    Evaluate,
}

/// Forward of one example and, for [`Pass::Train`], its backward; returns the loss tensor
/// ([`slot::COUNT`] values and one per layer, see [`slot`]) without reading it back.
#[allow(clippy::too_many_arguments)]
pub fn example_losses(
    gpu: &Gpu,
    model: &WhisperNetwork,
    trainable: Trainable,
    teacher: Option<&TeacherRun>,
    ex: &Example,
    obj: &Objective,
    pass: Pass,
) -> Result<Tensor> {
    let c = &model.config;
    let s = ex.tokens.len();
    if ex.targets.len() != s {
        return Err(Error::InvalidInput(
            "targets and tokens differ in length".into(),
        ));
    }
    if let Some(t) = teacher {
        if t.vocab() != c.vocab_size {
            return Err(Error::InvalidInput(format!(
                "teacher vocabulary {} differs from the student's {}: they must share the tokenizer",
                t.vocab(),
                c.vocab_size
            )));
        }
        if let TeacherRun::TopK(t) = t {
            if t.rows() != s {
                return Err(Error::InvalidInput(format!(
                    "the cached teacher has {} positions for an example of {s} tokens",
                    t.rows()
                )));
            }
        }
    }
    let f = forward(gpu, model, ex.encoder, ex.tokens, Some(trainable))?;
    let frames = ex.encoder.tensor().shape()[0];
    let losses = gpu.tensor(&[slot::layer_gate(f.enc.len() + f.dec.len())]);
    fill(gpu, &losses, 0.0);

    // Gate budget over every gate of every layer.
    let enc_mask = gpu.tensor(&[frames]);
    fill(gpu, &enc_mask, 1.0);
    let dec_mask = gpu.tensor(&[s]);
    fill(gpu, &dec_mask, 1.0);
    let gate_sum = gpu.tensor(&[1]);
    fill(gpu, &gate_sum, 0.0);
    let layers = f
        .enc
        .iter()
        .map(|l| (l, frames, &enc_mask))
        .chain(f.dec.iter().map(|l| (l, s, &dec_mask)));
    for (index, (l, rows, mask)) in layers.enumerate() {
        // Into the sum over every gate, and this layer's mean gate into its own slot.
        for (out, at, scale, accumulate) in [
            (&gate_sum, 0, 1.0, true),
            (&losses, slot::layer_gate(index), 1.0 / rows as f32, false),
        ] {
            sum_into(
                gpu,
                l.clsr.gates.buffer(),
                rows,
                Term::Weighted(mask),
                out,
                at,
                scale,
                accumulate,
            );
        }
    }
    let gate_count = f.enc.len() * frames + f.dec.len() * s;
    let budget = budget_loss(gpu, &gate_sum, gate_count, obj.budget, obj.budget_weight);
    sum_into(
        gpu,
        budget.buffer(),
        1,
        Term::Plain,
        &losses,
        slot::BUDGET,
        1.0,
        false,
    );
    sum_into(
        gpu,
        gate_sum.buffer(),
        1,
        Term::Plain,
        &losses,
        slot::GATE_RATIO,
        1.0 / gate_count as f32,
        false,
    );

    // CE and JS over vocabulary chunks.
    let targets = gpu.upload_u32(ex.targets, &[s])?;
    let count = ex.targets.iter().filter(|&&t| t != IGNORE).count();
    let spec = |scale| LossSpec {
        rows: s,
        vocab: c.vocab_size,
        count,
        scale,
    };
    let table = &model.decoder.tokens;
    let chunks = vocab_chunks(table, VOCAB_CHUNK);
    let ce = CrossEntropy::new(gpu, spec(obj.ce), obj.smoothing);
    let js = teacher.map(|_| JensenShannon::new(gpu, spec(obj.js), obj.tau));
    // Each chunk's logits are computed once and kept for the later passes: one token row
    // of the full vocabulary is ~200 KB, so a decoder sequence's logits are small; no
    // binding ever covers more than one chunk.
    let z: Vec<Tensor> = chunks
        .iter()
        .map(|&(v0, vc)| logits_chunk(gpu, &f.hidden, table, v0, vc))
        .collect();
    let zt: Vec<Tensor> = match teacher {
        Some(t) => chunks
            .iter()
            .map(|&(v0, vc)| t.logits_chunk(gpu, v0, vc))
            .collect(),
        None => Vec::new(),
    };
    for (i, &(v0, _)) in chunks.iter().enumerate() {
        ce.add_chunk(gpu, &z[i], v0, &targets);
        if let Some(js) = &js {
            js.add_lse_chunk(gpu, &z[i], &zt[i], v0);
        }
    }
    if let Some(js) = &js {
        for (i, &(v0, _)) in chunks.iter().enumerate() {
            js.add_value_chunk(gpu, &z[i], &zt[i], v0);
        }
        sum_into(
            gpu,
            js.finish(gpu, &targets).buffer(),
            s,
            Term::Plain,
            &losses,
            slot::JS,
            1.0,
            false,
        );
    }
    sum_into(
        gpu,
        ce.finish(gpu, &targets).buffer(),
        s,
        Term::Plain,
        &losses,
        slot::CE,
        1.0,
        false,
    );
    mark(gpu, "loss: budget, logits, CE, JS");
    if pass == Pass::Evaluate {
        return Ok(losses);
    }
    let dhidden = gpu.tensor(&[s, c.d_model]);
    fill(gpu, &dhidden, 0.0);
    for (i, &(v0, vc)) in chunks.iter().enumerate() {
        let dz = gpu.tensor(&[s, vc]);
        ce.grad_chunk(gpu, &z[i], v0, &targets, &dz, false);
        if let Some(js) = &js {
            js.grad_chunk(gpu, &z[i], &zt[i], v0, &targets, &dz, true);
        }
        let (w, row) = table_part(table, v0, vc);
        grad_input_long(gpu, &dz, w, row, &dhidden, true);
    }
    mark(gpu, "bwd: logits");

    backward(
        gpu,
        model,
        trainable,
        &f,
        &dhidden,
        &budget,
        (&enc_mask, &dec_mask),
    );
    gpu.flush();
    Ok(losses)
}

/// Backward of [`forward`] from the gradient of its decoder output; accumulates the
/// experts' gradients. It stops at the lowest trained layer's FFN: nothing below it
/// trains (with decoder-only experts, the encoder gets no gradient at all).
pub fn backward(
    gpu: &Gpu,
    model: &WhisperNetwork,
    trainable: Trainable,
    f: &Forward,
    dhidden: &Tensor,
    budget: &Tensor,
    (enc_mask, dec_mask): (&Tensor, &Tensor),
) {
    let Trainable { experts, modes, .. } = trainable;
    let d = model.config.d_model;
    let s = dhidden.shape()[0];
    let frames = f.enc_out.shape()[0];
    let mut dx = layer_norm_backward(gpu, &f.dec_pre_ln, &model.decoder.ln.gamma, dhidden, None);
    // The encoder output's gradient, needed only when encoder layers train.
    let mut d_enc = f.enc_pre_ln.as_ref().map(|_| {
        let t = gpu.tensor(&[frames, d]);
        fill(gpu, &t, 0.0);
        t
    });
    let blocks = model.decoder.blocks.iter().zip(&f.dec).zip(&f.cross);
    for (i, ((block, sv), (kc, vc))) in blocks.enumerate().rev() {
        let idx = f.enc.len() + i;
        let tape = &sv.block;
        let Some(dz) = clsr_backward(
            gpu,
            &dx,
            &tape.z,
            &sv.clsr,
            block.ffn.shared(),
            &experts[idx],
            &modes[idx],
            budget,
            dec_mask,
            // Below the lowest decoder layer, only the encoder's experts need a gradient.
            i > 0 || d_enc.is_some(),
        ) else {
            break;
        };
        let dx_mid = layer_norm_backward(gpu, &tape.x_mid, &block.ffn_ln.gamma, &dz, Some(&dx));
        // Cross-attention: queries from the decoder, keys/values from the encoder output.
        let cross = block.cross.as_ref().expect("decoder blocks cross-attend");
        let ct = tape
            .cross_attn
            .as_ref()
            .expect("decoder tapes keep cross-attention");
        let dac = grad_input(gpu, &dx_mid, &cross.attn.out.weight, None);
        let cross_tape = AttentionTape {
            q: &ct.q,
            k: kc,
            v: vc,
            o: &ct.attn,
        };
        let g = attention_backward(
            gpu,
            cross_tape,
            &dac,
            heads_shape(&cross.attn, s, frames, d),
            None,
        );
        let dh2 = grad_input(gpu, &g.dq, &cross.attn.q.weight, None);
        if let Some(acc) = d_enc {
            let acc = grad_input(gpu, &g.dk, &cross.attn.k.weight, Some(&acc));
            d_enc = Some(grad_input(gpu, &g.dv, &cross.attn.v.weight, Some(&acc)));
        }
        let dx_self = layer_norm_backward(gpu, &ct.x_in, &cross.ln.gamma, &dh2, Some(&dx_mid));
        // Causal self-attention.
        dx = self_attention_backward(gpu, block, tape, &dx_self, Some(0));
    }
    mark(gpu, "bwd: decoder layers");
    // dx now reaches the (frozen) embeddings: no gradient is needed there.
    let (Some(enc_pre_ln), Some(d_enc)) = (&f.enc_pre_ln, &d_enc) else {
        return;
    };
    let mut dx = layer_norm_backward(gpu, enc_pre_ln, &model.encoder.ln_post.gamma, d_enc, None);
    for (i, (block, sv)) in model.encoder.blocks.iter().zip(&f.enc).enumerate().rev() {
        let tape = &sv.block;
        // Below the lowest layer nothing trains: its input gradient is not computed.
        let Some(dz) = clsr_backward(
            gpu,
            &dx,
            &tape.z,
            &sv.clsr,
            block.ffn.shared(),
            &experts[i],
            &modes[i],
            budget,
            enc_mask,
            i > 0,
        ) else {
            mark(gpu, "bwd: encoder CLSR FFN");
            break;
        };
        let dx_mid = layer_norm_backward(gpu, &tape.x_mid, &block.ffn_ln.gamma, &dz, Some(&dx));
        mark(gpu, "bwd: encoder CLSR FFN");
        dx = self_attention_backward(gpu, block, tape, &dx_mid, None);
        mark(gpu, "bwd: encoder attention");
    }
}

/// Backward of a block's self-attention sub-layer from the gradient of its output `dout`
/// (which is also the residual's): returns the gradient of the block input.
fn self_attention_backward(
    gpu: &Gpu,
    block: &Block,
    tape: &BlockTape,
    dout: &Tensor,
    causal_past: Option<usize>,
) -> Tensor {
    let (a, t) = (&block.self_attn, &tape.self_attn);
    let (rows, d) = (dout.shape()[0], dout.shape()[1]);
    let da = grad_input(gpu, dout, &a.out.weight, None);
    let attention = AttentionTape {
        q: &t.q,
        k: &tape.self_k,
        v: &tape.self_v,
        o: &t.attn,
    };
    let g = attention_backward(
        gpu,
        attention,
        &da,
        heads_shape(a, rows, rows, d),
        causal_past,
    );
    // q, k and v are projections of the same layer-norm output.
    let dh = grad_input(gpu, &g.dq, &a.q.weight, None);
    let dh = grad_input(gpu, &g.dk, &a.k.weight, Some(&dh));
    let dh = grad_input(gpu, &g.dv, &a.v.weight, Some(&dh));
    layer_norm_backward(gpu, &t.x_in, &block.self_ln.gamma, &dh, Some(dout))
}
