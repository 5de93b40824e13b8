//! Every kernel variant the runtime can dispatch parses and validates with naga, its uniform
//! matches the Rust `Params` struct it is dispatched with, and every file of
//! `shaders/runtime/` and `shaders/lib/` is used.

use whisper_clsr_test_kit::shader_checks;

use std::path::Path;

use whisper_clsr::gpu::shader::SNIPPETS;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shader_variant_validates() {
    let kernels = whisper_clsr::ops::all_kernels();
    assert!(
        kernels.len() > 40,
        "expected all variants, got {}",
        kernels.len()
    );
    for kernel in &kernels {
        shader_checks::validate(kernel);
    }
}

#[test]
fn every_shader_file_is_used() {
    let kernels = whisper_clsr::ops::all_kernels();
    shader_checks::check_sources_match_files(root(), &kernels);
    shader_checks::check_files_used(root(), "runtime", &kernels);
    for kernel in &kernels {
        assert!(
            kernel.file.starts_with("runtime/"),
            "{}: runtime kernels live in shaders/runtime/",
            kernel.key()
        );
    }
}

#[test]
fn the_library_is_the_snippet_list() {
    // The trainer's test checks that each snippet is included by some kernel.
    let files = shader_checks::shader_files(root(), "lib");
    let names: Vec<&str> = SNIPPETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, files, "SNIPPETS lists shaders/lib/, sorted");
    for (name, text) in SNIPPETS {
        let file = std::fs::read_to_string(root().join("shaders").join(name)).unwrap();
        assert_eq!(*text, file, "{name}");
    }
}

#[test]
fn a_loop_var_without_initializer_is_refused() {
    let declared_in_loop = "fn f() -> f32 {\n    var total = 0.0;\n    for (var i = 0u; i < 4u; i++) {\n        var acc: f32;\n        acc += 1.0;\n        total += acc;\n    }\n    return total;\n}\n";
    let refused = std::panic::catch_unwind(|| {
        shader_checks::check_loop_vars_initialised("example", declared_in_loop)
    });
    assert!(refused.is_err(), "a loop's `var acc: f32;` must be refused");
    // The same with an initializer, or outside the loop, is fine.
    shader_checks::check_loop_vars_initialised(
        "example",
        &declared_in_loop.replace("var acc: f32;", "var acc = 0.0;"),
    );
    shader_checks::check_loop_vars_initialised("example", "fn g() {\n    var acc: f32;\n}\n");
}
