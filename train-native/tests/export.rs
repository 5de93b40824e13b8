//! Export: the trained experts become an expert pack in the runtime's format, which the
//! runtime loads (fingerprint check included) and whose values are the trained ones.

mod support;

use support::{synthetic, tiny_runtime, tiny_setup, TinySetup};
use whisper_clsr::pack::ExpertPack;
use whisper_clsr_test_kit::*;
use whisper_clsr_train::export::{to_pack, write_pack};
use whisper_clsr_train::optim::AdamWConfig;
use whisper_clsr_train::trainer::{Prepared, TrainConfig, Trainer};

#[test]
fn exported_pack_loads_in_the_runtime() {
    let TinySetup {
        gpu,
        dir,
        file,
        model,
        pack,
    } = tiny_setup("export", 91);
    let config = TrainConfig {
        optim: AdamWConfig {
            lr: 1e-2,
            total_steps: 2,
            ..AdamWConfig::default()
        },
        batch: 1,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&gpu, &model, &pack, config).unwrap();
    let data = synthetic(&mut rng(92), 1, 10, 64);
    let batch: Vec<&Prepared> = data.iter().collect();
    trainer.step(&gpu, &model, None, &batch, None).unwrap();

    let out = to_pack(
        &gpu,
        &trainer,
        &model,
        &file,
        "ca",
        serde_json::json!({"steps": 1}),
    )
    .unwrap();
    assert_ne!(out.layers, pack.layers, "training changed the experts");
    let path = dir.join("ca.pack.safetensors");
    write_pack(&out, &path, false).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let back = ExpertPack::from_bytes(&bytes, "exported").unwrap();
    assert_eq!(back.layers, out.layers, "f32 pack round trip");
    assert_eq!(back.meta.training["steps"], 1);

    // The runtime accepts it for this base model.
    let mut whisper = tiny_runtime(&dir);
    let meta = whisper.add_expert_pack(&bytes, "exported").unwrap();
    assert_eq!(meta.language, "ca");
    std::fs::remove_dir_all(&dir).ok();
}
