//! Training faults: a NaN loss skips its step (parameters untouched, counted in the
//! metrics) and a checkpoint write that fails half-way (a full disk) leaves the previous
//! checkpoint intact and resumable. Missing and corrupt clips: `tests/cli.rs`.

mod support;

use support::{short_run, synthetic, tiny_setup, TinySetup};
use whisper_clsr_test_kit::*;
use whisper_clsr_train::checkpoint;
use whisper_clsr_train::trainer::{read_weight, Audio, Prepared, Trainer};

fn step(
    trainer: &mut Trainer,
    gpu: &whisper_clsr::gpu::Gpu,
    model: &whisper_clsr::model::WhisperNetwork,
    data: &[Prepared],
) -> whisper_clsr_train::trainer::StepMetrics {
    let batch: Vec<&Prepared> = data.iter().collect();
    trainer.step(gpu, model, None, &batch, None).unwrap()
}

/// Every parameter value, bit for bit.
fn values(gpu: &whisper_clsr::gpu::Gpu, trainer: &Trainer) -> Vec<Vec<u32>> {
    trainer
        .experts
        .iter()
        .flat_map(|e| e.values())
        .map(|p| {
            read_weight(gpu, &p.value)
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect()
        })
        .collect()
}

#[test]
fn a_nan_loss_skips_the_step_and_counts_it() {
    let TinySetup {
        gpu,
        dir,
        model,
        pack,
        ..
    } = tiny_setup("nan-step", 91);
    let clean = synthetic(&mut rng(92), 2, 10, 64);
    let mut poisoned = clean.clone();
    let Audio::Encoded(x) = &mut poisoned[1].student else {
        unreachable!("synthetic examples are encoder inputs")
    };
    x[17] = f32::NAN;

    let mut trainer = Trainer::new(&gpu, &model, &pack, short_run(5)).unwrap();
    let before = values(&gpu, &trainer);
    let m = step(&mut trainer, &gpu, &model, &poisoned);
    assert!(
        !m.loss.is_finite(),
        "the poisoned batch's loss is {}",
        m.loss
    );
    assert!(m.skipped && m.skipped_steps == 1, "{m:?}");
    assert_eq!(m.step, 1, "a skipped step still counts");
    assert_eq!(
        values(&gpu, &trainer),
        before,
        "a skipped step changed parameters"
    );
    for p in trainer.experts.iter().flat_map(|e| e.values()) {
        assert!(
            read(&gpu, &p.grad).iter().all(|&g| g == 0.0),
            "gradients not cleared"
        );
        assert!(
            read(&gpu, &p.m).iter().all(|g| g.is_finite()),
            "NaN reached a moment"
        );
    }

    // Training goes on normally with the next (clean) batch.
    let m = step(&mut trainer, &gpu, &model, &clean);
    assert!(
        m.loss.is_finite() && m.grad_norm.is_finite() && !m.skipped,
        "{m:?}"
    );
    assert_eq!((m.step, m.skipped_steps), (2, 1));
    let after = values(&gpu, &trainer);
    assert_ne!(after, before, "the clean step must update");
    assert!(after
        .iter()
        .flatten()
        .all(|&b| f32::from_bits(b).is_finite()));

    // The count survives a checkpoint.
    let path = dir.join("checkpoint.safetensors");
    checkpoint::save(&gpu, &trainer, &path, serde_json::json!({})).unwrap();
    let mut resumed = Trainer::new(&gpu, &model, &pack, short_run(5)).unwrap();
    checkpoint::load(&gpu, &mut resumed, &path).unwrap();
    assert_eq!(resumed.skipped_steps, 1);
    std::fs::remove_dir_all(&dir).ok();
}

/// A writer that stores half the bytes, then fails the way a full disk does.
fn full_disk(file: &mut std::fs::File, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    file.write_all(&bytes[..bytes.len() / 2])?;
    Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
}

#[test]
fn a_full_disk_while_checkpointing_keeps_the_previous_checkpoint() {
    let TinySetup {
        gpu,
        dir,
        model,
        pack,
        ..
    } = tiny_setup("full-disk", 93);
    let data = synthetic(&mut rng(94), 2, 10, 64);
    let path = dir.join("checkpoint.safetensors");
    let mut trainer = Trainer::new(&gpu, &model, &pack, short_run(6)).unwrap();

    // No checkpoint yet: the error says nothing was kept.
    let err = checkpoint::save_with(&gpu, &trainer, &path, serde_json::json!({}), &mut full_disk)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no earlier checkpoint") && err.contains("checkpoint.safetensors"),
        "{err}"
    );
    assert!(!path.exists());

    step(&mut trainer, &gpu, &model, &data);
    checkpoint::save(&gpu, &trainer, &path, serde_json::json!({"at": 1})).unwrap();
    let saved = std::fs::read(&path).unwrap();
    let values_at_1 = values(&gpu, &trainer);

    step(&mut trainer, &gpu, &model, &data);
    let err = checkpoint::save_with(
        &gpu,
        &trainer,
        &path,
        serde_json::json!({"at": 2}),
        &mut full_disk,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("writing checkpoint")
            && err.contains("previous checkpoint")
            && err.contains("intact")
            && err.contains(&std::io::Error::from(std::io::ErrorKind::StorageFull).to_string()),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        saved,
        "the previous checkpoint changed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // It resumes: the state of step 1.
    let mut resumed = Trainer::new(&gpu, &model, &pack, short_run(6)).unwrap();
    let meta = checkpoint::load(&gpu, &mut resumed, &path).unwrap();
    assert_eq!((meta["at"].as_u64(), resumed.step_count()), (Some(1), 1));
    assert_eq!(values(&gpu, &resumed), values_at_1);
    std::fs::remove_dir_all(&dir).ok();
}
