//! Every training kernel variant parses and validates with naga, and every
//! `shaders/train_*.wgsl` file is dispatched (or included) by the trainer.

fn validate(name: &str, code: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(code)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(code)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        // unpack2x16float is core WGSL; naga files it under this capability.
        naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32,
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    module
}

#[test]
fn every_training_shader_variant_validates() {
    let kernels = whisper_clsr_train::all_kernels();
    assert!(
        kernels.len() >= 30,
        "expected all variants, got {}",
        kernels.len()
    );
    for kernel in kernels {
        let module = validate(&kernel.key(), &kernel.code());
        assert!(
            module.entry_points.iter().any(|e| e.name == kernel.entry),
            "{}: no entry point {}",
            kernel.key(),
            kernel.entry
        );
    }
    validate("train_rng.wgsl", whisper_clsr_train::rng::RNG_SOURCE);
}

#[test]
fn every_training_shader_file_is_used() {
    let used: std::collections::HashSet<&str> = whisper_clsr_train::all_kernels()
        .iter()
        .map(|k| k.file)
        .collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shaders");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        // The RNG snippet is prepended to the kernels that draw numbers.
        if !name.starts_with("train_") || name == "train_rng.wgsl" {
            continue;
        }
        assert!(
            used.contains(name.as_str()),
            "shaders/{name} is not dispatched by the trainer"
        );
    }
}
