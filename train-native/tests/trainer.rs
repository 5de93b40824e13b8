//! The training loop on a tiny random Whisper: it overfits a handful of synthetic
//! utterances (the loss falls by an order of magnitude), batches are deterministic
//! permutations, and per-step randomness follows the schedule.

mod support;

use support::{short_run, synthetic, tiny_model, tiny_setup, train_steps, TinySetup};
use whisper_clsr::model::WhisperNetwork;
use whisper_clsr::pack::ExpertPack;
use whisper_clsr_test_kit::*;
use whisper_clsr_train::optim::AdamWConfig;
use whisper_clsr_train::student::Objective;
use whisper_clsr_train::trainer::{permutation, Prepared, TrainConfig, Trainer};

#[test]
fn tiny_model_overfits_synthetic_utterances() {
    let TinySetup {
        gpu,
        dir,
        model,
        pack,
        ..
    } = tiny_setup("overfit", 71);
    let steps = 24;
    let config = TrainConfig {
        // Label smoothing puts a floor of ≈ 1.4 nats under the CE over 51865 tokens; without
        // it the CE of memorised targets goes to 0, which is what this test measures.
        objective: Objective {
            smoothing: 0.0,
            ..Objective::default()
        },
        optim: AdamWConfig {
            lr: 1e-2,
            warmup_steps: 3,
            total_steps: steps,
            ..AdamWConfig::default()
        },
        batch: 3,
        seed: 5,
        // Overfitting is the point here: the regularisers (dropout, skip-gate) are off; the
        // gate noise schedule and the budget stay.
        skip_prob: 0.0,
        gate_dropout: 0.0,
        expert_dropout: 0.0,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&gpu, &model, &pack, config).unwrap();
    let data = synthetic(&mut rng(72), 3, 12, 64);
    let start = std::time::Instant::now();
    let history = train_steps(&mut trainer, &gpu, &model, &data, steps as usize);
    for m in &history {
        assert!(m.loss.is_finite(), "loss {m:?}");
    }
    let first = history[0].ce;
    let last = history.iter().rev().take(3).map(|m| m.ce).sum::<f64>() / 3.0;
    eprintln!(
        "{steps} steps in {:?}: CE {first:.3} → {last:.3}",
        start.elapsed()
    );
    for m in history.iter().step_by(5) {
        eprintln!("{m:?}");
    }
    assert!(last * 10.0 < first, "CE fell only from {first} to {last}");
    // Evaluation (no noise, dropout or skip-gate) sees the memorised data too, and leaves
    // no gradient behind.
    let eval = trainer.evaluate(&gpu, &model, None, &data).unwrap();
    assert!(
        eval.ce * 10.0 < first,
        "evaluation CE {} vs initial {first}",
        eval.ce
    );
    for e in &trainer.experts {
        for p in e.values() {
            assert!(
                read(&gpu, &p.grad).iter().all(|&g| g == 0.0),
                "evaluation left gradients"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn batches_are_seeded_permutations() {
    let p = permutation(10, 3);
    let mut s = p.clone();
    s.sort_unstable();
    assert_eq!(s, (0..10).collect::<Vec<_>>());
    assert_ne!(p, permutation(10, 4));
    assert_eq!(p, permutation(10, 3));
}

#[test]
fn teacher_cache_reproduces_uncached_steps() {
    use whisper_clsr_train::frozen_cache::FrozenCache;
    let gpu = gpu();
    let dir = std::env::temp_dir().join(format!("train-tcache-{}", std::process::id()));
    let (c, file) = tiny_model(&dir.join("student"), 73);
    let (tc, tfile) = tiny_model(&dir.join("teacher"), 74);
    let model = WhisperNetwork::load(&gpu, c.clone(), &file).unwrap();
    let teacher = WhisperNetwork::load(&gpu, tc, &tfile).unwrap();
    let pack = ExpertPack::init_from_base(&c, &file, "ca").unwrap();
    let config = short_run(3);
    let data = synthetic(&mut rng(75), 3, 10, 64);
    let run = |cache: Option<&mut FrozenCache>| {
        let mut trainer = Trainer::new(&gpu, &model, &pack, config).unwrap();
        let mut cache = cache;
        (0..4)
            .map(|_| {
                let idx = trainer.batch_indices(data.len());
                let batch: Vec<&Prepared> = idx.iter().map(|&i| &data[i]).collect();
                let keyed = cache.as_mut().map(|c| (idx.as_slice(), &mut **c));
                trainer
                    .step(&gpu, &model, Some(&teacher), &batch, keyed)
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    let want = run(None);
    let mut cache = FrozenCache::new(1 << 20);
    let got = run(Some(&mut cache));
    assert!(
        cache.hits >= 5,
        "only {} cache hits in 8 lookups",
        cache.hits
    );
    assert!(
        want.iter().all(|m| m.js > 0.0),
        "the teacher takes part: {want:?}"
    );
    assert_eq!(got, want, "cached teacher outputs change the run");
    // A cache without room keeps nothing and changes nothing.
    let mut full = FrozenCache::new(0);
    assert_eq!(run(Some(&mut full)), want);
    assert_eq!((full.hits, full.bytes()), (0, 0));
    std::fs::remove_dir_all(&dir).ok();
}
