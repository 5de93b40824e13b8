//! Checkpoints: a run saved after some steps and resumed in a fresh trainer reproduces the
//! uninterrupted run's metrics exactly (same batches, dropout masks, skip-gates, noise).

mod support;

use support::tiny::{synthetic, tiny_model};
use support::*;
use whisper_clsr::model::WhisperNetwork;
use whisper_clsr::pack::ExpertPack;
use whisper_clsr_train::checkpoint;
use whisper_clsr_train::optim::AdamWConfig;
use whisper_clsr_train::trainer::{Prepared, StepMetrics, TrainConfig, Trainer};

fn run(
    trainer: &mut Trainer,
    gpu: &whisper_clsr::gpu::Gpu,
    model: &WhisperNetwork,
    data: &[Prepared],
    steps: usize,
) -> Vec<StepMetrics> {
    (0..steps)
        .map(|_| {
            let idx = trainer.batch_indices(data.len());
            let batch: Vec<&Prepared> = idx.iter().map(|&i| &data[i]).collect();
            trainer.step(gpu, model, None, &batch).unwrap()
        })
        .collect()
}

#[test]
fn resumed_run_reproduces_the_uninterrupted_run() {
    let gpu = gpu();
    let dir = std::env::temp_dir().join(format!("train-resume-{}", std::process::id()));
    let (c, file) = tiny_model(&dir, 81);
    let model = WhisperNetwork::load(&gpu, c.clone(), &file).unwrap();
    let pack = ExpertPack::init_from_base(&c, &file, "ca").unwrap();
    let config = TrainConfig {
        optim: AdamWConfig {
            lr: 3e-3,
            warmup_steps: 1,
            total_steps: 4,
            ..AdamWConfig::default()
        },
        batch: 2,
        seed: 9,
        // Every source of randomness on: dropout, skip-gate (often), gate noise.
        skip_prob: 0.5,
        ..TrainConfig::default()
    };
    let data = synthetic(&mut rng(82), 3, 10, 64);

    let mut whole = Trainer::new(&gpu, &model, &pack, config).unwrap();
    let want = run(&mut whole, &gpu, &model, &data, 4);

    let mut first = Trainer::new(&gpu, &model, &pack, config).unwrap();
    let mut got = run(&mut first, &gpu, &model, &data, 2);
    let path = dir.join("checkpoint.safetensors");
    checkpoint::save(&gpu, &first, &path, serde_json::json!({"note": "test"})).unwrap();
    // Training on after the save must not affect the resumed run.
    run(&mut first, &gpu, &model, &data, 1);
    drop(first);

    let mut resumed = Trainer::new(&gpu, &model, &pack, config).unwrap();
    let meta = checkpoint::load(&gpu, &mut resumed, &path).unwrap();
    assert_eq!(meta["note"], "test");
    assert_eq!(resumed.step_count(), 2);
    got.extend(run(&mut resumed, &gpu, &model, &data, 2));
    assert_eq!(
        got, want,
        "resumed metrics differ from the uninterrupted run"
    );
    assert!(want.windows(2).any(|w| w[0].loss != w[1].loss));

    // A checkpoint of another shape is refused with a clear error.
    std::fs::write(&path, b"not a checkpoint").unwrap();
    let err = checkpoint::load(&gpu, &mut resumed, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("checkpoint"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
