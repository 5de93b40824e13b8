//! The optimisation loop: deterministic batches, per-step randomness (gate noise schedule,
//! skip-gate, dropout seeds) derived from (seed, step), gradient accumulation over the
//! examples of a batch, and AdamW. Everything a step draws is a function of the seed and
//! the step number, so a run resumed from a checkpoint continues exactly.

use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr::model::{LayerId, WhisperNetwork};
use whisper_clsr::pack::{Expert, ExpertLayer, ExpertPack, Part};
use whisper_clsr::{Error, Result};

use crate::clsr::{gate_noise_alpha, trainable, TrainMode};
use crate::expert_layers::ExpertLayers;
use crate::frozen_cache::FrozenCache;
use crate::loss::topk_logits::TopKTensors;
use crate::optim::{AdamW, AdamWConfig, Param};
use crate::profile::mark;
use crate::rng::{pcg_hash, rng_uniform, Draw};
use crate::student::{
    example_losses, frozen_encoder, slot, teacher_forward, EncoderInput, Example, Objective, Pass,
    TeacherRun, Trainable,
};
use crate::teacher_file::TopKTeacher;

/// Stream of the skip-gate draws (one per layer); layers use streams 4·layer + 0..3.
const SKIP_STREAM: u32 = 0xffff_fff0;

/// Settings of a run.
#[derive(Clone, Copy, Debug)]
pub struct TrainConfig {
    pub objective: Objective,
    pub optim: AdamWConfig,
    /// Examples per optimizer step (accumulated one at a time).
    pub batch: usize,
    /// Skip-gate probability s.
    pub skip_prob: f32,
    pub gate_dropout: f32,
    pub expert_dropout: f32,
    pub seed: u32,
    /// The layers whose experts train (the others keep the frozen FFN).
    pub expert_layers: ExpertLayers,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            objective: Objective::default(),
            optim: AdamWConfig::default(),
            batch: 16,
            skip_prob: 0.2,
            gate_dropout: 0.1,
            expert_dropout: 0.3,
            seed: 0,
            expert_layers: ExpertLayers::All,
        }
    }
}

/// Example indices of step `step` (counted from 0) of a run with `seed` and `batch` over `n`
/// examples: epochs are seeded permutations of 0..n, so the order is known ahead (the
/// background decoder follows it, docs/training.md).
pub fn batch_indices(seed: u32, batch: usize, step: u64, n: usize) -> Vec<usize> {
    assert!(n > 0, "no training examples");
    (0..batch)
        .map(|i| {
            let pos = step as usize * batch + i;
            let perm = permutation(n, pcg_hash(seed.wrapping_add(pcg_hash((pos / n) as u32))));
            perm[pos % n]
        })
        .collect()
}

/// The model input of one example: a log-mel spectrogram [n_mels, 3000] or, for tests,
/// the encoder input directly ([frames, d]).
#[derive(Clone, Debug, PartialEq)]
pub enum Audio {
    Mel(Vec<f32>),
    Encoded(Vec<f32>),
}

/// One training example ready for the GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    pub student: Audio,
    /// The teacher's input when it differs from the student's (encoder inputs of another
    /// width); `None` means the same mel.
    pub teacher: Option<Audio>,
    pub tokens: Vec<u32>,
    pub targets: Vec<u32>,
}

/// What one optimizer step measured (loss terms are weighted, batch means).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepMetrics {
    /// Steps completed after this one.
    pub step: u64,
    pub loss: f64,
    pub ce: f64,
    pub js: f64,
    pub gate_loss: f64,
    pub gate_ratio: f64,
    /// Per trained layer (encoder, then decoder), the mean soft gate.
    pub layer_gate_ratio: Vec<f64>,
    pub lr: f64,
    /// Global gradient norm before clipping (of the batch-mean gradient).
    pub grad_norm: f64,
    /// Target tokens in the batch.
    pub tokens: usize,
    /// The loss or gradient was not finite (NaN, ∞), so the parameters were left as they
    /// were; the step still counts, so the run moves on to the next batch.
    pub skipped: bool,
    /// Steps skipped so far in the run, this one included.
    pub skipped_steps: u64,
}

impl StepMetrics {
    /// Adds `weight` × one example's loss tensor (read back) and counts its target tokens.
    fn add_example(
        &mut self,
        gpu: &Gpu,
        losses: &Tensor,
        ex: &Prepared,
        weight: f64,
    ) -> Result<()> {
        let v = pollster::block_on(gpu.read(losses))?;
        self.ce += weight * v[slot::CE] as f64;
        self.js += weight * v[slot::JS] as f64;
        self.gate_loss += weight * v[slot::BUDGET] as f64;
        self.gate_ratio += weight * v[slot::GATE_RATIO] as f64;
        let layers = &v[slot::COUNT..];
        self.layer_gate_ratio.resize(layers.len(), 0.0);
        for (sum, r) in self.layer_gate_ratio.iter_mut().zip(layers) {
            *sum += weight * *r as f64;
        }
        self.tokens += ex
            .targets
            .iter()
            .filter(|&&t| t != crate::loss::vocab::IGNORE)
            .count();
        Ok(())
    }
}

/// Trainable state: the experts of the trained layers and the optimizer.
pub struct Trainer {
    pub config: TrainConfig,
    /// One per trained layer, in `layers`' order (encoder layers, then decoder layers).
    pub experts: Vec<Expert<Param>>,
    /// The trained layers (`config.expert_layers` of the model).
    pub layers: Vec<LayerId>,
    /// The model's encoder depth: a layer's random streams are numbered over all layers,
    /// so a decoder layer draws the same with or without encoder experts.
    model_encoder_layers: usize,
    pub opt: AdamW,
    /// Steps not applied because their loss or gradient was not finite.
    pub skipped_steps: u64,
    /// With decoder-only experts, the frozen encoder's output by example index (empty
    /// until given room, e.g. `FrozenCache::new(bytes)`); filled by steps given ids.
    pub encoder_cache: FrozenCache,
}

/// The encoder input of `audio` for `model`: the stem's output of a mel, or the given
/// encoder input.
pub fn upload_input(gpu: &Gpu, model: &WhisperNetwork, audio: &Audio) -> Result<Tensor> {
    let c = &model.config;
    match audio {
        Audio::Mel(mel) => {
            let t = gpu.upload(mel, &[c.num_mel_bins, 2 * c.max_source_positions])?;
            model.encoder.stem(gpu, &t)
        }
        Audio::Encoded(x) => {
            let frames = x.len() / c.d_model;
            let t = gpu.upload(x, &[frames, c.d_model])?;
            Ok(t)
        }
    }
}

impl Trainer {
    /// Starts from a pack (e.g. [`ExpertPack::init_from_base`]) covering the layers
    /// `config.expert_layers` trains.
    pub fn new(
        gpu: &Gpu,
        model: &WhisperNetwork,
        pack: &ExpertPack,
        config: TrainConfig,
    ) -> Result<Trainer> {
        let c = &model.config;
        let layers = config.expert_layers.layers(c);
        let mut experts = Vec::new();
        for &LayerId { part, index } in &layers {
            let l = pack.layer(part, index).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "the initial pack has no {} layer {index}",
                    part.name()
                ))
            })?;
            experts.push(trainable(gpu, &l.expert)?);
        }
        gpu.flush();
        Ok(Trainer {
            config,
            experts,
            layers,
            model_encoder_layers: c.encoder_layers,
            opt: AdamW::new(config.optim),
            skipped_steps: 0,
            encoder_cache: FrozenCache::new(0),
        })
    }

    /// Random stream index of each trained layer (encoder layers, then decoder layers,
    /// counted over the whole model).
    fn streams(&self) -> impl Iterator<Item = u32> + '_ {
        self.layers.iter().map(|l| match l.part {
            Part::Encoder => l.index as u32,
            Part::Decoder => (self.model_encoder_layers + l.index) as u32,
        })
    }

    /// Optimizer steps taken.
    pub fn step_count(&self) -> u64 {
        self.opt.step
    }

    /// Seed of micro-batch `micro` of the current step.
    fn micro_seed(&self, micro: usize) -> u32 {
        pcg_hash(self.config.seed ^ pcg_hash(self.opt.step as u32 ^ pcg_hash(micro as u32)))
    }

    /// Per-layer training modes of one forward.
    pub fn modes(&self, micro: usize) -> Vec<TrainMode> {
        let seed = self.micro_seed(micro);
        let alpha = gate_noise_alpha(self.opt.step, self.config.optim.total_steps);
        self.streams()
            .map(|layer| TrainMode {
                alpha,
                gate_dropout: self.config.gate_dropout,
                expert_dropout: self.config.expert_dropout,
                skip: rng_uniform(
                    Draw {
                        seed,
                        stream: SKIP_STREAM,
                    },
                    layer,
                ) < self.config.skip_prob,
                seed,
                layer,
            })
            .collect()
    }

    /// Example indices of the current step: epochs are seeded permutations of 0..n.
    pub fn batch_indices(&self, n: usize) -> Vec<usize> {
        batch_indices(self.config.seed, self.config.batch, self.opt.step, n)
    }

    /// One optimizer step over `batch` (gradients of the examples are summed, then
    /// averaged by the optimizer). With `cache`, the teacher's outputs are kept in (and
    /// taken from) it, keyed by the examples' indices `ids` (same order as `batch`); the
    /// trainer's `encoder_cache` is keyed by the same ids.
    pub fn step(
        &mut self,
        gpu: &Gpu,
        model: &WhisperNetwork,
        teacher: Option<&WhisperNetwork>,
        batch: &[&Prepared],
        mut cache: Option<(&[usize], &mut FrozenCache)>,
    ) -> Result<StepMetrics> {
        if let Some((ids, _)) = &cache {
            if ids.len() != batch.len() {
                return Err(Error::InvalidInput(format!(
                    "{} example ids for a batch of {}",
                    ids.len(),
                    batch.len()
                )));
            }
        }
        let ids = cache.as_ref().map(|(ids, _)| *ids);
        self.step_with(gpu, model, batch, ids, |gpu, micro, ex| match teacher {
            Some(t) => {
                let keyed = cache.as_mut().map(|(ids, c)| (ids[micro], &mut **c));
                Ok(Some(teacher_run(gpu, t, ex, keyed)?))
            }
            None => Ok(None),
        })
    }

    /// [`Trainer::step`] with the teacher's top-k log-probabilities cached by `teach`
    /// instead of a live teacher; `ids` are the examples' indices (same order as `batch`).
    pub fn step_topk(
        &mut self,
        gpu: &Gpu,
        model: &WhisperNetwork,
        teacher: &TopKTeacher,
        batch: &[&Prepared],
        ids: &[usize],
    ) -> Result<StepMetrics> {
        if ids.len() != batch.len() {
            return Err(Error::InvalidInput(format!(
                "{} example ids for a batch of {}",
                ids.len(),
                batch.len()
            )));
        }
        self.step_with(gpu, model, batch, Some(ids), |gpu, micro, ex| {
            let rows = teacher.example(ids[micro], &ex.targets)?;
            Ok(Some(TeacherRun::TopK(TopKTensors::upload(gpu, &rows)?)))
        })
    }

    /// One optimizer step over `batch`, the teacher of example `micro` given by `teacher`;
    /// `ids` key the frozen encoder's outputs in `encoder_cache`.
    fn step_with<'t>(
        &mut self,
        gpu: &Gpu,
        model: &WhisperNetwork,
        batch: &[&Prepared],
        ids: Option<&[usize]>,
        mut teacher: impl FnMut(&Gpu, usize, &Prepared) -> Result<Option<TeacherRun<'t>>>,
    ) -> Result<StepMetrics> {
        let mut m = StepMetrics {
            lr: self.config.optim.lr_at(self.opt.step) as f64,
            ..StepMetrics::default()
        };
        for (micro, ex) in batch.iter().enumerate() {
            let modes = self.modes(micro);
            let keyed = ids.map(|ids| (ids[micro], &mut self.encoder_cache));
            let x = encoder_side(gpu, model, self.config.expert_layers, &ex.student, keyed)?;
            let losses = self.losses(gpu, model, ex, &x, &modes, Pass::Train, |gpu| {
                teacher(gpu, micro, ex)
            })?;
            m.add_example(gpu, &losses, ex, 1.0 / batch.len() as f64)?;
        }
        m.loss = m.ce + m.js + m.gate_loss;
        let params: Vec<&Param> = self.experts.iter().flat_map(|e| e.values()).collect();
        // The norm is read before the update so that one bad batch (a NaN in the input, an
        // overflow) cannot write NaN into every parameter and moment.
        let norm_sq = AdamW::grad_norm_sq(gpu, &params);
        let norm = pollster::block_on(gpu.read(&norm_sq))?[0] as f64;
        m.grad_norm = norm.sqrt() / batch.len() as f64;
        if m.loss.is_finite() && norm.is_finite() {
            self.opt.apply(gpu, &params, batch.len(), &norm_sq);
        } else {
            self.opt.skip(gpu, &params);
            self.skipped_steps += 1;
            m.skipped = true;
        }
        mark(gpu, "optimizer (AdamW)");
        m.step = self.opt.step;
        m.skipped_steps = self.skipped_steps;
        Ok(m)
    }

    /// Mean losses over `examples` with the current experts, without gradients: soft gates
    /// without noise, no dropout, no skip-gate.
    pub fn evaluate(
        &self,
        gpu: &Gpu,
        model: &WhisperNetwork,
        teacher: Option<&WhisperNetwork>,
        examples: &[Prepared],
    ) -> Result<StepMetrics> {
        let modes: Vec<TrainMode> = self.streams().map(TrainMode::evaluation).collect();
        let mut m = StepMetrics {
            step: self.opt.step,
            ..StepMetrics::default()
        };
        let k = 1.0 / examples.len().max(1) as f64;
        for ex in examples {
            let x = encoder_side(gpu, model, self.config.expert_layers, &ex.student, None)?;
            let losses = self.losses(gpu, model, ex, &x, &modes, Pass::Evaluate, |gpu| {
                teacher.map(|t| teacher_run(gpu, t, ex, None)).transpose()
            })?;
            m.add_example(gpu, &losses, ex, k)?;
        }
        m.loss = m.ce + m.js + m.gate_loss;
        Ok(m)
    }

    /// Row losses of one example with the experts' `modes`, from its [`encoder_side`] `x`;
    /// `teacher` gives the teacher's outputs for it (live, from the in-memory cache, or from
    /// a top-k teacher file), run after the student's stem so that the profile's marks stay
    /// in forward order.
    #[allow(clippy::too_many_arguments)]
    fn losses<'t>(
        &self,
        gpu: &Gpu,
        model: &WhisperNetwork,
        ex: &Prepared,
        x: &Tensor,
        modes: &[TrainMode],
        pass: Pass,
        teacher: impl FnOnce(&Gpu) -> Result<Option<TeacherRun<'t>>>,
    ) -> Result<Tensor> {
        let t_run = teacher(gpu)?;
        let example = Example {
            encoder: if self.config.expert_layers.covers(Part::Encoder) {
                EncoderInput::Stem(x)
            } else {
                EncoderInput::Frozen(x)
            },
            tokens: &ex.tokens,
            targets: &ex.targets,
        };
        let trainable = Trainable {
            experts: &self.experts,
            modes,
            layers: self.config.expert_layers,
        };
        example_losses(
            gpu,
            model,
            trainable,
            t_run.as_ref(),
            &example,
            &self.config.objective,
            pass,
        )
    }

    /// The current experts as a pack's layers (host f32), encoder layers then decoder.
    pub fn pack_layers(&self, gpu: &Gpu) -> Result<Vec<ExpertLayer>> {
        self.layers
            .iter()
            .zip(&self.experts)
            .map(|(l, e)| {
                Ok(ExpertLayer {
                    part: l.part,
                    index: l.index,
                    expert: e.try_map(|_, p| read_weight(gpu, &p.value))?,
                })
            })
            .collect()
    }
}

/// Where the student's encoder side starts for `audio`: the stem's output when encoder
/// layers train; otherwise the frozen encoder's output, from `cache` when kept there, else
/// the stem and the frozen encoder (whose result the cache then keeps, room permitting).
fn encoder_side(
    gpu: &Gpu,
    model: &WhisperNetwork,
    layers: ExpertLayers,
    audio: &Audio,
    mut cache: Option<(usize, &mut FrozenCache)>,
) -> Result<Tensor> {
    if layers.covers(Part::Encoder) {
        let x = upload_input(gpu, model, audio)?;
        mark(gpu, "stem (conv, positions)");
        return Ok(x);
    }
    if let Some((id, c)) = &mut cache {
        if let Some((values, shape)) = c.get(*id) {
            return gpu.upload(values, &shape);
        }
    }
    let x = upload_input(gpu, model, audio)?;
    mark(gpu, "stem (conv, positions)");
    let out = frozen_encoder(gpu, model, x);
    mark(gpu, "frozen encoder");
    if let Some((id, c)) = cache {
        let shape = [out.shape()[0], out.shape()[1]];
        if c.has_room(shape[0] * shape[1]) {
            c.insert(id, pollster::block_on(gpu.read(&out))?, shape);
        }
    }
    Ok(out)
}

/// The teacher's outputs for `ex`: from the cache when kept there, else a teacher forward
/// (whose result the cache then keeps, room permitting).
fn teacher_run<'a>(
    gpu: &Gpu,
    t: &'a WhisperNetwork,
    ex: &Prepared,
    cache: Option<(usize, &mut FrozenCache)>,
) -> Result<TeacherRun<'a>> {
    match cache {
        Some((id, c)) => {
            if let Some((values, shape)) = c.get(id) {
                let hidden = gpu.upload(values, &shape)?;
                return Ok(TeacherRun::Live { model: t, hidden });
            }
            let run = teacher_forward_input(gpu, t, ex)?;
            if let TeacherRun::Live { hidden, .. } = &run {
                let shape = [hidden.shape()[0], hidden.shape()[1]];
                if c.has_room(shape[0] * shape[1]) {
                    let values = pollster::block_on(gpu.read(hidden))?;
                    c.insert(id, values, shape);
                }
            }
            Ok(run)
        }
        None => teacher_forward_input(gpu, t, ex),
    }
}

fn teacher_forward_input<'a>(
    gpu: &Gpu,
    t: &'a WhisperNetwork,
    ex: &Prepared,
) -> Result<TeacherRun<'a>> {
    let tx = upload_input(gpu, t, ex.teacher.as_ref().unwrap_or(&ex.student))?;
    mark(gpu, "stem (conv, positions)");
    teacher_forward(gpu, t, &tx, &ex.tokens)
}

/// Reads a weight's f32 values.
pub fn read_weight(gpu: &Gpu, w: &whisper_clsr::gpu::Weight) -> Result<Vec<f32>> {
    let t = gpu.tensor(w.shape());
    gpu.copy(w.buffer(), 0, t.buffer(), 0, (w.len() * 4) as u64);
    pollster::block_on(gpu.read(&t))
}

/// A permutation of 0..n (Fisher–Yates on the counter RNG).
pub fn permutation(n: usize, seed: u32) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (crate::rng::rng_u32(Draw { seed, stream: 0 }, i as u32) as usize) % (i + 1);
        p.swap(i, j);
    }
    p
}
