//! Checkpoints: a run saved after some steps and resumed in a fresh trainer reproduces the
//! uninterrupted run's metrics exactly (same batches, dropout masks, skip-gates, noise).

mod support;

use support::{short_run, synthetic, tiny_setup, train_steps, TinySetup};
use whisper_clsr_test_kit::*;
use whisper_clsr_train::checkpoint;
use whisper_clsr_train::trainer::{TrainConfig, Trainer};

#[test]
fn resumed_run_reproduces_the_uninterrupted_run() {
    let TinySetup {
        gpu,
        dir,
        model,
        pack,
        ..
    } = tiny_setup("resume", 81);
    let config = TrainConfig {
        // Every source of randomness on: dropout, skip-gate (often), gate noise.
        skip_prob: 0.5,
        ..short_run(9)
    };
    let data = synthetic(&mut rng(82), 3, 10, 64);

    let mut whole = Trainer::new(&gpu, &model, &pack, config).unwrap();
    let want = train_steps(&mut whole, &gpu, &model, &data, 4);

    let mut first = Trainer::new(&gpu, &model, &pack, config).unwrap();
    let mut got = train_steps(&mut first, &gpu, &model, &data, 2);
    let path = dir.join("checkpoint.safetensors");
    checkpoint::save(&gpu, &first, &path, serde_json::json!({"note": "test"})).unwrap();
    // Training on after the save must not affect the resumed run.
    train_steps(&mut first, &gpu, &model, &data, 1);
    drop(first);

    let mut resumed = Trainer::new(&gpu, &model, &pack, config).unwrap();
    let meta = checkpoint::load(&gpu, &mut resumed, &path).unwrap();
    assert_eq!(meta["note"], "test");
    assert_eq!(resumed.step_count(), 2);
    got.extend(train_steps(&mut resumed, &gpu, &model, &data, 2));
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
