//! Every training kernel variant parses and validates with naga and its uniform matches the
//! Rust `Params` struct it is dispatched with; every file of `shaders/train/` is dispatched by
//! code the trainer runs, and every snippet of `shaders/lib/` is included by some kernel of
//! the runtime or the trainer.

use whisper_clsr_test_kit::shader_checks;

use std::collections::HashSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn every_training_shader_variant_validates() {
    let kernels = whisper_clsr_train::all_kernels();
    assert!(
        kernels.len() >= 30,
        "expected all variants, got {}",
        kernels.len()
    );
    for kernel in &kernels {
        shader_checks::validate(kernel);
    }
}

#[test]
fn every_training_shader_file_is_used() {
    let kernels = whisper_clsr_train::all_kernels();
    shader_checks::check_sources_match_files(root(), &kernels);
    shader_checks::check_files_used(root(), "train", &kernels);
    for kernel in &kernels {
        assert!(
            kernel.file.starts_with("train/"),
            "{}: training kernels live in shaders/train/",
            kernel.key()
        );
    }
}

#[test]
fn every_library_snippet_is_included() {
    let mut kernels = whisper_clsr::ops::all_kernels();
    kernels.extend(whisper_clsr_train::all_kernels());
    let included: HashSet<&str> = kernels.iter().flat_map(|k| k.includes()).collect();
    for file in shader_checks::shader_files(root(), "lib") {
        assert!(
            included.contains(file.as_str()),
            "shaders/{file} is included by no kernel"
        );
    }
}
