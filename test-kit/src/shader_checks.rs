//! Checks shared by the runtime's and the trainer's shader tests (tests/shaders.rs,
//! train-native/tests/shaders.rs): naga validation, uniform layouts against the Rust `Params`
//! structs, and that every shader file is reached from code that runs outside tests.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use whisper_clsr::gpu::shader::Kernel;

/// Parses and validates the kernel's code, checks that its entry point exists and that its
/// uniform matches the Rust struct it declares.
pub fn validate(kernel: &Kernel) -> naga::Module {
    let key = kernel.key();
    let code = kernel.code();
    let module = naga::front::wgsl::parse_str(&code)
        .unwrap_or_else(|e| panic!("{key}: {}", e.emit_to_string(&code)));
    // unpack2x16float is core WGSL; naga files it under this capability. SUBGROUP: the
    // `SUBGROUPS` variants, dispatched only where the device has the feature; f16 values
    // likewise only in `F16_TILE` variants, only with shader-f16.
    let mut capabilities =
        naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32 | naga::valid::Capabilities::SUBGROUP;
    if kernel.defines.contains(&"F16_TILE") {
        capabilities |= naga::valid::Capabilities::SHADER_FLOAT16;
    }
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    assert!(
        module.entry_points.iter().any(|e| e.name == kernel.entry),
        "{key}: no entry point {}",
        kernel.entry
    );
    check_params(kernel, &module);
    check_loop_vars_initialised(&key, &code);
    module
}

/// Every `var` declared inside a loop has an initializer. WGSL zero-initialises a `var`
/// without one each time its declaration runs, and naga does, but Tint (Chromium's compiler)
/// zeroes it once per invocation: an accumulator declared that way inside a loop carried the
/// previous iteration's value in the browser only (docs/kernels.md, "Browser pitfalls").
pub fn check_loop_vars_initialised(key: &str, code: &str) {
    // One entry per open brace: whether it opened a loop's body.
    let mut blocks: Vec<bool> = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let text = line.split("//").next().unwrap_or("").trim();
        let declaration = text
            .strip_prefix("var ")
            .filter(|rest| !rest.contains('=') && rest.ends_with(';'));
        if let Some(declaration) = declaration {
            assert!(
                !blocks.contains(&true),
                "{key}, line {}: `var {declaration}` inside a loop has no initializer; write \
             `var name = type();` (Tint zeroes it only once per invocation)",
                n + 1
            );
        }
        let opens_loop = ["for ", "for(", "while ", "while(", "loop ", "loop{"]
            .iter()
            .any(|k| text.starts_with(k));
        for c in text.chars() {
            match c {
                '{' => blocks.push(opens_loop),
                '}' => {
                    blocks.pop();
                }
                _ => {}
            }
        }
    }
}

/// The WGSL uniform struct and the Rust struct the kernel was built with have the same
/// size and the same fields (name, type, offset) in the same order; padding (names starting
/// with `_`) is held only by the size.
pub fn check_params(kernel: &Kernel, module: &naga::Module) {
    let key = kernel.key();
    let uniforms: Vec<&naga::GlobalVariable> = module
        .global_variables
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v.space == naga::AddressSpace::Uniform)
        .collect();
    let rust = kernel.params;
    let [var] = uniforms.as_slice() else {
        panic!(
            "{key}: {} uniforms in WGSL for the Rust {}, not one",
            uniforms.len(),
            rust.name
        );
    };
    let ty = &module.types[var.ty];
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        panic!("{key}: the uniform is not a struct");
    };
    let wgsl: Vec<(String, String, usize)> = members
        .iter()
        .map(|m| {
            let name = m.name.clone().unwrap_or_default();
            (name, type_name(module, m.ty), m.offset as usize)
        })
        .filter(|(name, _, _)| !name.starts_with('_'))
        .collect();
    let rust_fields: Vec<(String, String, usize)> = rust
        .fields
        .iter()
        .filter(|(name, _, _)| !name.starts_with('_'))
        .map(|&(name, ty, offset)| (name.to_string(), ty.to_string(), offset))
        .collect();
    assert_eq!(
        rust_fields, wgsl,
        "{key}: fields of the Rust {} (left) and the WGSL uniform (right) differ",
        rust.name
    );
    assert_eq!(
        rust.size, *span as usize,
        "{key}: the Rust {} has {} bytes, the WGSL uniform {span}",
        rust.name, rust.size
    );
}

fn type_name(module: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
    match &module.types[ty].inner {
        naga::TypeInner::Scalar(s) => match s.kind {
            naga::ScalarKind::Uint => format!("u{}", s.width * 8),
            naga::ScalarKind::Sint => format!("i{}", s.width * 8),
            naga::ScalarKind::Float => format!("f{}", s.width * 8),
            other => format!("{other:?}"),
        },
        other => format!("{other:?}"),
    }
}

/// The shader files under `shaders/<dir>`, as `dir/name.wgsl`.
pub fn shader_files(root: &Path, dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root.join("shaders").join(dir))
        .unwrap_or_else(|e| panic!("shaders/{dir}: {e}"))
        .map(|e| format!("{dir}/{}", e.unwrap().file_name().into_string().unwrap()))
        .collect();
    files.sort();
    files
}

/// Every kernel's source is the file it names.
pub fn check_sources_match_files(root: &Path, kernels: &[Kernel]) {
    for kernel in kernels {
        let path = root.join("shaders").join(kernel.file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", kernel.key()));
        assert!(
            text == kernel.source,
            "{}: the source is not shaders/{}",
            kernel.key(),
            kernel.file
        );
    }
}

/// Every file under `shaders/<dir>` is the file of a registered kernel, and its Rust wrapper
/// runs outside tests (see [`check_reached`]).
pub fn check_files_used(root: &Path, dir: &str, kernels: &[Kernel]) {
    let registered: HashSet<&str> = kernels.iter().map(|k| k.file).collect();
    let sources = non_test_sources(root);
    for file in shader_files(root, dir) {
        assert!(
            registered.contains(file.as_str()),
            "shaders/{file} is not the file of any registered kernel"
        );
        check_reached(&file, &sources);
    }
}

/// Rust sources of the runtime and the trainer (`src/`, `train-native/src/`, binaries
/// included) without comments and `#[cfg(test)]` items: the code that runs outside tests.
pub fn non_test_sources(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for dir in ["src", "train-native/src"] {
        collect_rust(&root.join(dir), &mut out);
    }
    out.into_iter()
        .map(|(path, text)| (path, strip_tests(&strip_comments(&text))))
        .collect()
}

fn collect_rust(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rust(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
}

/// Drops `//` comments (those at a line start or after white space, so not `https://`).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            let cut = line
                .match_indices("//")
                .find(|&(i, _)| i == 0 || line[..i].ends_with([' ', '\t']))
                .map_or(line.len(), |(i, _)| i);
            &line[..cut]
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Drops every item marked `#[cfg(test)]`: up to its `;`, or through its braced body.
fn strip_tests(text: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let end = match (item.find(';'), item.find('{')) {
            (Some(semi), brace) if brace.is_none_or(|b| semi < b) => semi + 1,
            (_, Some(open)) => {
                let mut depth = 0;
                let close = item[open..]
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '{' => 1,
                            '}' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map(|(i, _)| open + i)
                    .expect("unbalanced braces after #[cfg(test)]");
                close + 1
            }
            _ => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Whether `word` stands in `text` as a whole identifier other than where a `fn` defines it.
fn mentions(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident) && !text[..i].ends_with("fn ")
    })
}

fn defined_fns(text: &str) -> Vec<&str> {
    text.match_indices("fn ")
        .filter(|&(i, _)| i == 0 || !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, _)| {
            let name = &text[i + 3..];
            let len = name
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            &name[..len]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Shader `file` (`runtime/…` or `train/…`) is loaded by non-test code that builds a
/// `Kernel` of it, and that code is reached: some other non-test source calls a function of
/// the loading module (one whose name no other module defines; `kernels()`, the list tests
/// validate, does not count). A wrapper that only tests call fails here.
pub fn check_reached(file: &str, sources: &[(PathBuf, String)]) {
    let loads = format!("shaders/{file}\")");
    let owners: Vec<&(PathBuf, String)> = sources
        .iter()
        .filter(|(_, text)| text.contains(&loads))
        .collect();
    assert!(
        !owners.is_empty(),
        "shaders/{file} is not include_str!-ed by any non-test code"
    );
    for (path, text) in &owners {
        let named = format!("\"{file}\"");
        assert!(
            text.lines()
                .any(|line| line.contains("Kernel::new") && line.contains(&named)),
            "{}: loads shaders/{file} but builds no Kernel named after it",
            path.display()
        );
        let unique: Vec<&str> = defined_fns(text)
            .into_iter()
            .filter(|&name| name != "kernels")
            .filter(|&name| {
                !sources
                    .iter()
                    .any(|(p, t)| p != path && defined_fns(t).contains(&name))
            })
            .collect();
        let reached = sources
            .iter()
            .filter(|(p, _)| p != path)
            .any(|(_, t)| unique.iter().any(|name| mentions(t, name)));
        assert!(
            reached,
            "shaders/{file}: no non-test code outside {} calls its wrappers ({unique:?})",
            path.display()
        );
    }
}
