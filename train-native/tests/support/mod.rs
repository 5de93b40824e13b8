//! What only the trainer's tests share, on top of the workspace's test kit
//! (`whisper-clsr-test-kit`, docs/testing.md): a tiny random Whisper loaded for training,
//! synthetic utterances, and the training mode's randomness for the kit's f64 CLSR block.
#![allow(dead_code)]

pub mod cli_run;

use rand::Rng;
use whisper_clsr::gpu::Gpu;
use whisper_clsr::model::{WeightFile, WhisperConfig, WhisperNetwork};
use whisper_clsr::pack::Expert;
use whisper_clsr::pack::ExpertPack;
use whisper_clsr_test_kit::random_model::{write_random_model, TinyConfig};
use whisper_clsr_test_kit::reference::{ClsrExpert, Regularisation};
use whisper_clsr_test_kit::{f32s, gpu, random, rng};
use whisper_clsr_train::clsr::{trainable, TrainMode};
use whisper_clsr_train::loss::vocab::IGNORE;
use whisper_clsr_train::optim::AdamWConfig;
use whisper_clsr_train::optim::Param;
use whisper_clsr_train::rng::{dropout_keeps, rng_normal};
use whisper_clsr_train::trainer::{Audio, Prepared, StepMetrics, TrainConfig, Trainer};

/// Writes a tiny model (d_model 64, one head, 2 + 2 layers, the multilingual vocabulary,
/// f16 weights) into `dir` and reads it back.
pub fn tiny_model(dir: &std::path::Path, seed: u64) -> (WhisperConfig, WeightFile) {
    let cfg = TinyConfig {
        d_model: 64,
        heads: 1,
        encoder_layers: 2,
        decoder_layers: 2,
        vocab: 51865,
        n_mels: 80,
        target_positions: 16,
    };
    write_random_model(dir, &cfg, safetensors::Dtype::F16, &mut rng(seed));
    let c = WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let file = WeightFile::new(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        "tiny",
    )
    .unwrap();
    (c, file)
}

/// A tiny model (see [`tiny_model`]) in a fresh temporary folder, on a fresh GPU device,
/// and a Catalan expert pack initialised from it.
pub struct TinySetup {
    pub gpu: Gpu,
    pub dir: std::path::PathBuf,
    pub file: WeightFile,
    pub model: WhisperNetwork,
    pub pack: ExpertPack,
}

/// [`TinySetup`] in `$TMPDIR/train-{name}-{pid}`.
pub fn tiny_setup(name: &str, seed: u64) -> TinySetup {
    let gpu = gpu();
    let dir = std::env::temp_dir().join(format!("train-{name}-{}", std::process::id()));
    let (c, file) = tiny_model(&dir, seed);
    let model = WhisperNetwork::load(&gpu, c.clone(), &file).unwrap();
    let pack = ExpertPack::init_from_base(&c, &file, "ca").unwrap();
    TinySetup {
        gpu,
        dir,
        file,
        model,
        pack,
    }
}

/// The runtime loaded with the tiny model written in `dir` ([`tiny_setup`]) and
/// whisper-base's tokenizer (the tiny model's multilingual vocabulary), to load exported
/// packs into. scripts/setup.sh always fetches that tokenizer, so a missing one is a set-up
/// error, not a reason to skip the check.
pub fn tiny_runtime(dir: &std::path::Path) -> whisper_clsr::Whisper {
    let tokenizer = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/whisper-base/tokenizer.json");
    assert!(
        tokenizer.exists(),
        "{} is missing: run scripts/fetch-models.sh first",
        tokenizer.display()
    );
    whisper_clsr::Whisper::from_bytes(
        gpu(),
        &std::fs::read(dir.join("config.json")).unwrap(),
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        &std::fs::read(&tokenizer).unwrap(),
    )
    .unwrap()
}

/// `count` utterances: random encoder inputs [frames, d], an English prompt, five random
/// text tokens and EOT.
pub fn synthetic(rg: &mut impl Rng, count: usize, frames: usize, d: usize) -> Vec<Prepared> {
    (0..count)
        .map(|_| {
            let text: Vec<u32> = (0..5).map(|_| rg.random_range(200..20000)).collect();
            let mut tokens = vec![50258, 50259, 50359, 50363];
            tokens.extend(&text);
            let mut targets = vec![IGNORE; 3];
            targets.extend(&text);
            targets.push(50257);
            Prepared {
                student: Audio::Encoded(random(rg, frames * d)),
                teacher: None,
                tokens,
                targets,
            }
        })
        .collect()
}

/// `steps` steps of `trainer` without a teacher, each on the trainer's next seeded batch of
/// `data`.
pub fn train_steps(
    trainer: &mut Trainer,
    gpu: &Gpu,
    model: &WhisperNetwork,
    data: &[Prepared],
    steps: usize,
) -> Vec<StepMetrics> {
    (0..steps)
        .map(|_| {
            let idx = trainer.batch_indices(data.len());
            let batch: Vec<&Prepared> = idx.iter().map(|&i| &data[i]).collect();
            trainer.step(gpu, model, None, &batch, None).unwrap()
        })
        .collect()
}

/// A four-step run (lr 3e-3 after one warm-up step) in batches of two.
pub fn short_run(seed: u32) -> TrainConfig {
    TrainConfig {
        optim: AdamWConfig {
            lr: 3e-3,
            warmup_steps: 1,
            total_steps: 4,
            ..AdamWConfig::default()
        },
        batch: 2,
        seed,
        ..TrainConfig::default()
    }
}

/// A trainable expert (width d, FFN width `ffn`, `gate` gate units) holding the f64
/// reference expert's values rounded to f32.
pub fn upload_expert(
    gpu: &Gpu,
    e: &ClsrExpert,
    d: usize,
    ffn: usize,
    gate: usize,
) -> Expert<Param> {
    let t = e.tensors().map(|v| f32s(v));
    let [fc1, fc1_bias, fc2, fc2_bias, gate_in, gate_in_bias, gate_out] = t;
    let values = Expert {
        fc1,
        fc1_bias,
        fc2,
        fc2_bias,
        gate_in,
        gate_in_bias,
        gate_out,
    };
    assert_eq!(values.dims(), (d, ffn, gate));
    trainable(gpu, &values).unwrap()
}

/// A training mode's randomness (the trainer's counter-based RNG, mirrored on the CPU) for
/// the kit's f64 CLSR block.
pub struct Mode<'a>(pub &'a TrainMode);

impl Regularisation for Mode<'_> {
    fn gate_dropout(&self) -> f64 {
        self.0.gate_dropout as f64
    }
    fn gate_keeps(&self, i: usize) -> bool {
        dropout_keeps(self.0.gate_dropout_draw(), i as u32, self.0.gate_dropout)
    }
    fn expert_dropout(&self) -> f64 {
        self.0.expert_dropout as f64
    }
    fn expert_keeps(&self, i: usize) -> bool {
        dropout_keeps(
            self.0.expert_dropout_draw(),
            i as u32,
            self.0.expert_dropout,
        )
    }
    fn noise(&self, row: usize) -> f64 {
        self.0.alpha as f64 * rng_normal(self.0.noise_draw(), row as u32)
    }
    fn skip(&self) -> bool {
        self.0.skip
    }
}
