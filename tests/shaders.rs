//! Every kernel variant the runtime can dispatch parses and validates with naga.

#[test]
fn every_shader_variant_validates() {
    let kernels = whisper_clsr::ops::all_kernels();
    assert!(
        kernels.len() > 40,
        "expected all variants, got {}",
        kernels.len()
    );
    for kernel in kernels {
        let code = kernel.code();
        let module = naga::front::wgsl::parse_str(&code)
            .unwrap_or_else(|e| panic!("{}: {}", kernel.key(), e.emit_to_string(&code)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(), // unpack2x16float is core WGSL; naga files it under this capability.
            naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32,
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {e:?}", kernel.key()));
        assert!(
            module.entry_points.iter().any(|e| e.name == kernel.entry),
            "{}: no entry point {}",
            kernel.key(),
            kernel.entry
        );
    }
}

#[test]
fn every_shader_file_is_used() {
    let used: std::collections::HashSet<&str> = whisper_clsr::ops::all_kernels()
        .iter()
        .map(|k| k.file)
        .collect();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        // Snippets are included into kernels rather than dispatched on their own.
        if whisper_clsr::gpu::shader::SNIPPETS
            .iter()
            .any(|(snippet, _)| *snippet == name)
        {
            continue;
        }
        // Training kernels are dispatched by train-native, which validates them itself.
        if name.starts_with("train_") {
            continue;
        }
        assert!(
            used.contains(name.as_str()),
            "shaders/{name} is not dispatched by any op"
        );
    }
}
