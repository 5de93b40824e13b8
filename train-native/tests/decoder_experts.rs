//! Decoder-only experts (`--expert-layers decoder`): the encoder stays frozen, its output is
//! computed once per clip and kept, and only decoder layers train and are exported.
//! - their gradients are the full model's decoder-expert gradients where the two models
//!   compute the same function (encoder experts that are copies of the frozen FFN), and the
//!   full model's are proven against an f64 reference in `student.rs`;
//! - a run with the frozen encoder's outputs cached computes exactly what a run without;
//! - the pack covers the decoder only and the runtime loads it; a checkpoint of one choice
//!   of layers is refused by a run of the other, naming the fix.

mod support;

use rand::Rng;

use support::{short_run, synthetic, tiny_runtime, tiny_setup, train_steps, TinySetup};
use whisper_clsr::pack::{ExpertPack, Part};
use whisper_clsr_test_kit::*;
use whisper_clsr_train::checkpoint;
use whisper_clsr_train::clsr::TrainMode;
use whisper_clsr_train::expert_layers::ExpertLayers;
use whisper_clsr_train::export::to_pack;
use whisper_clsr_train::frozen_cache::FrozenCache;
use whisper_clsr_train::student::{
    example_losses, frozen_encoder, EncoderInput, Example, Objective, Pass, Trainable,
};
use whisper_clsr_train::trainer::{upload_input, Prepared, TrainConfig, Trainer};

fn decoder_only(config: TrainConfig) -> TrainConfig {
    TrainConfig {
        expert_layers: ExpertLayers::Decoder,
        ..config
    }
}

#[test]
fn decoder_gradients_equal_the_full_models_where_the_encoder_experts_change_nothing() {
    let TinySetup {
        gpu,
        dir,
        model,
        mut pack,
        ..
    } = tiny_setup("decoder-grads", 301);
    let c = model.config.clone();
    // Decoder experts away from their copy of the frozen FFN (so that gates and experts
    // get non-trivial gradients); encoder experts left as copies, so the full model's
    // encoder computes the frozen encoder's function.
    let mut rg = rng(302);
    for l in pack.layers.iter_mut().filter(|l| l.part == Part::Decoder) {
        for v in l.expert.fc1.iter_mut().chain(l.expert.gate_out.iter_mut()) {
            *v += 0.05 * rg.random_range(-1.0f32..1.0);
        }
    }
    let ex = &synthetic(&mut rng(303), 1, 12, c.d_model)[0];
    // Cross-entropy only: the budget counts encoder gates too in the full model.
    let obj = Objective {
        budget_weight: 0.0,
        ..Objective::default()
    };
    let grads = |layers: ExpertLayers| {
        let trainer = Trainer::new(
            &gpu,
            &model,
            &pack,
            TrainConfig {
                expert_layers: layers,
                ..TrainConfig::default()
            },
        )
        .unwrap();
        let modes: Vec<TrainMode> = (0..trainer.experts.len() as u32)
            .map(TrainMode::evaluation)
            .collect();
        let x = upload_input(&gpu, &model, &ex.student).unwrap();
        let frozen;
        let encoder = match layers {
            ExpertLayers::All => EncoderInput::Stem(&x),
            ExpertLayers::Decoder => {
                frozen = frozen_encoder(&gpu, &model, x);
                EncoderInput::Frozen(&frozen)
            }
        };
        let example = Example {
            encoder,
            tokens: &ex.tokens,
            targets: &ex.targets,
        };
        let trainable = Trainable {
            experts: &trainer.experts,
            modes: &modes,
            layers,
        };
        let losses =
            example_losses(&gpu, &model, trainable, None, &example, &obj, Pass::Train).unwrap();
        let ce = read(&gpu, &losses)[0];
        // The decoder experts' gradients, layer by layer.
        let decoder: Vec<Vec<f32>> = trainer
            .layers
            .iter()
            .zip(&trainer.experts)
            .filter(|(l, _)| l.part == Part::Decoder)
            .flat_map(|(_, e)| e.values().map(|p| read(&gpu, &p.grad)))
            .collect();
        (ce, decoder, trainer.experts.len())
    };
    let (ce_all, want, all_layers) = grads(ExpertLayers::All);
    let (ce_dec, got, dec_layers) = grads(ExpertLayers::Decoder);
    assert_eq!(all_layers, c.encoder_layers + c.decoder_layers);
    assert_eq!(dec_layers, c.decoder_layers);
    assert!(
        (ce_all - ce_dec).abs() <= 1e-5 * ce_all.abs(),
        "CE {ce_all} (all layers) against {ce_dec} (decoder only)"
    );
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            scale > 0.0,
            "parameter {i}: the full model's gradient is zero"
        );
        let diff = g
            .iter()
            .zip(w)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            diff <= 1e-4 * scale,
            "parameter {i}: gradients differ by {diff} (largest {scale})"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cached_encoder_outputs_reproduce_uncached_steps_and_the_pack_covers_the_decoder() {
    let TinySetup {
        gpu,
        dir,
        file,
        model,
        pack,
    } = tiny_setup("decoder-cache", 311);
    let c = model.config.clone();
    let config = decoder_only(short_run(7));
    let data = synthetic(&mut rng(312), 3, 10, c.d_model);
    let run = |cache_bytes: usize| {
        let mut trainer = Trainer::new(&gpu, &model, &pack, config).unwrap();
        trainer.encoder_cache = FrozenCache::new(cache_bytes);
        let metrics: Vec<_> = (0..4)
            .map(|_| {
                let idx = trainer.batch_indices(data.len());
                let batch: Vec<&Prepared> = idx.iter().map(|&i| &data[i]).collect();
                let mut teacher_cache = FrozenCache::new(0);
                trainer
                    .step(&gpu, &model, None, &batch, Some((&idx, &mut teacher_cache)))
                    .unwrap()
            })
            .collect();
        (trainer, metrics)
    };
    let (_, want) = run(0);
    let (trainer, got) = run(1 << 20);
    assert!(
        trainer.encoder_cache.hits >= 5,
        "only {} cache hits in 8 lookups of 3 clips",
        trainer.encoder_cache.hits
    );
    assert_eq!(got, want, "cached encoder outputs change the run");
    for m in &got {
        assert_eq!(m.layer_gate_ratio.len(), c.decoder_layers, "{m:?}");
        assert!(m.ce.is_finite() && m.grad_norm > 0.0, "{m:?}");
    }

    let out = to_pack(&gpu, &trainer, &model, &file, "ca", serde_json::json!({})).unwrap();
    assert!(out.meta.encoder_layers.is_empty());
    assert_eq!(
        out.meta.decoder_layers,
        (0..c.decoder_layers).collect::<Vec<_>>()
    );
    let trained: Vec<_> = pack
        .layers
        .iter()
        .filter(|l| l.part == Part::Decoder)
        .collect();
    assert!(
        out.layers
            .iter()
            .zip(&trained)
            .all(|(a, b)| a.expert != b.expert),
        "every decoder expert trained"
    );
    let path = dir.join("ca.pack.safetensors");
    out.write_atomic(&path, whisper_clsr::gpu::DType::F32)
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        ExpertPack::from_bytes(&bytes, "decoder").unwrap().layers,
        out.layers
    );
    tiny_runtime(&dir)
        .add_expert_pack(&bytes, "decoder")
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_checkpoint_of_other_expert_layers_is_refused() {
    let TinySetup {
        gpu,
        dir,
        model,
        pack,
        ..
    } = tiny_setup("decoder-ckpt", 321);
    let data = synthetic(&mut rng(322), 2, 10, model.config.d_model);
    let mut decoder = Trainer::new(&gpu, &model, &pack, decoder_only(short_run(1))).unwrap();
    train_steps(&mut decoder, &gpu, &model, &data, 1);
    let path = dir.join("checkpoint.safetensors");
    checkpoint::save(&gpu, &decoder, &path, serde_json::json!({})).unwrap();

    let mut all = Trainer::new(&gpu, &model, &pack, short_run(1)).unwrap();
    let e = checkpoint::load(&gpu, &mut all, &path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("decoder layers") && e.contains("--expert-layers decoder"),
        "{e}"
    );
    // The same choice resumes.
    let mut again = Trainer::new(&gpu, &model, &pack, decoder_only(short_run(1))).unwrap();
    checkpoint::load(&gpu, &mut again, &path).unwrap();
    assert_eq!(again.step_count(), 1);
    std::fs::remove_dir_all(&dir).ok();
}
