//! Kernel sources and their variants. A kernel is a WGSL file from `shaders/runtime/` or
//! `shaders/train/` plus a set of defines; `#if NAME`, `#else` and `#endif` lines select the
//! parts a variant needs, so one file serves e.g. f32 and packed-f16 weights without copies of
//! the kernel body. `#include lib/NAME.wgsl` pulls in a snippet of the shader library
//! ([`SNIPPETS`], `shaders/lib/`); see docs/shaders.md.

/// One compiled form of a shader file.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// Path under `shaders/`, e.g. `runtime/matmul.wgsl`.
    pub file: &'static str,
    pub source: &'static str,
    pub defines: Vec<&'static str>,
    pub entry: &'static str,
    /// Layout of the Rust struct the kernel's dispatches pass as its uniform `Params`.
    pub params: ParamsLayout,
}

impl Kernel {
    /// Entry point `entry` of `source` (the text of `shaders/{file}`), dispatched with a
    /// uniform of type `P`.
    /// A `const fn`, so that a module with one kernel can hold it as a constant.
    pub const fn new<P: Params>(
        file: &'static str,
        source: &'static str,
        entry: &'static str,
    ) -> Kernel {
        Kernel {
            file,
            source,
            defines: Vec::new(),
            entry,
            params: P::LAYOUT,
        }
    }

    /// Adds a define when `on` is true.
    pub fn define_if(mut self, name: &'static str, on: bool) -> Kernel {
        if on {
            self.defines.push(name);
        }
        self
    }

    /// Cache key: file, entry point and defines.
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.file, self.entry, self.defines.join(","))
    }

    /// The WGSL text of this variant.
    pub fn code(&self) -> String {
        preprocess(self.source, &self.defines)
    }

    /// The library snippets this variant includes, directly or through other snippets.
    pub fn includes(&self) -> Vec<&'static str> {
        let mut seen = Vec::new();
        expand(
            self.file,
            self.source,
            &self.defines,
            &mut seen,
            &mut String::new(),
        );
        seen
    }
}

/// The `GELU_TANH` form of every kernel with a fused GELU (the `GELU` define), in which
/// `gelu.wgsl` computes the tanh approximation instead of Whisper's exact erf form. Production
/// code never dispatches these; they exist so that tests can compare the whole model with a
/// reference that approximates GELU (candle-transformers' Whisper), see `with_tanh_gelu`.
pub fn tanh_gelu_variants(kernels: &[Kernel]) -> Vec<Kernel> {
    kernels
        .iter()
        .filter(|k| k.defines.contains(&"GELU"))
        .map(|k| k.clone().define_if("GELU_TANH", true))
        .collect()
}

#[cfg(feature = "parity-tanh-gelu")]
thread_local! {
    static TANH_GELU: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every fused GELU dispatched from this thread in the tanh form (`GELU_TANH`)
/// instead of Whisper's exact erf form. Only for tests that hold the model to
/// candle-transformers' Whisper, whose GELU is the tanh approximation: both then compute the
/// same function. The feature `parity-tanh-gelu` exists only for the crate's own tests (its
/// dev-dependency on itself turns it on); production builds have no such switch.
#[cfg(feature = "parity-tanh-gelu")]
pub fn with_tanh_gelu<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            TANH_GELU.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(TANH_GELU.with(|t| t.replace(true)));
    f()
}

/// The kernel to compile for `kernel` on this thread: its `GELU_TANH` form inside
/// [`with_tanh_gelu`], else itself.
#[cfg(feature = "parity-tanh-gelu")]
pub(crate) fn dispatched_variant(kernel: &Kernel) -> std::borrow::Cow<'_, Kernel> {
    if TANH_GELU.with(|t| t.get()) && kernel.defines.contains(&"GELU") {
        std::borrow::Cow::Owned(kernel.clone().define_if("GELU_TANH", true))
    } else {
        std::borrow::Cow::Borrowed(kernel)
    }
}

/// The layout of a Rust uniform struct: its fields as (name, type, byte offset), in
/// declaration order.
#[derive(Clone, Copy, Debug)]
pub struct ParamsLayout {
    pub name: &'static str,
    pub size: usize,
    pub fields: &'static [(&'static str, &'static str, usize)],
}

/// A `#[repr(C)]` struct passed to kernels as their uniform; implemented by `params_struct!`.
pub trait Params: bytemuck::Pod {
    const LAYOUT: ParamsLayout;
}

/// Defines a kernel's uniform struct, `#[repr(C)]` and `Pod`, and implements [`Params`] for
/// it, so that its fields can be checked against the WGSL `struct Params` (tests/shaders.rs).
#[macro_export]
macro_rules! params_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident: $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, ::bytemuck::Pod, ::bytemuck::Zeroable)]
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }

        impl $crate::gpu::shader::Params for $name {
            const LAYOUT: $crate::gpu::shader::ParamsLayout = $crate::gpu::shader::ParamsLayout {
                name: stringify!($name),
                size: ::std::mem::size_of::<$name>(),
                fields: &[$((
                    stringify!($field),
                    stringify!($ty),
                    ::std::mem::offset_of!($name, $field),
                )),*],
            };
        }
    };
}

/// The shader library: snippets kernels pull in with `#include NAME`, by their path under
/// `shaders/`. Each is included at most once per kernel.
pub const SNIPPETS: &[(&str, &str)] = &[
    (
        "lib/argmax_partials.wgsl",
        include_str!("../../shaders/lib/argmax_partials.wgsl"),
    ),
    (
        "lib/clsr_linear_io.wgsl",
        include_str!("../../shaders/lib/clsr_linear_io.wgsl"),
    ),
    ("lib/f16.wgsl", include_str!("../../shaders/lib/f16.wgsl")),
    (
        "lib/few_rows.wgsl",
        include_str!("../../shaders/lib/few_rows.wgsl"),
    ),
    ("lib/gelu.wgsl", include_str!("../../shaders/lib/gelu.wgsl")),
    (
        "lib/gemm_io.wgsl",
        include_str!("../../shaders/lib/gemm_io.wgsl"),
    ),
    ("lib/grid.wgsl", include_str!("../../shaders/lib/grid.wgsl")),
    (
        "lib/head_dim.wgsl",
        include_str!("../../shaders/lib/head_dim.wgsl"),
    ),
    (
        "lib/layer_norm.wgsl",
        include_str!("../../shaders/lib/layer_norm.wgsl"),
    ),
    (
        "lib/map_io.wgsl",
        include_str!("../../shaders/lib/map_io.wgsl"),
    ),
    (
        "lib/reduce.wgsl",
        include_str!("../../shaders/lib/reduce.wgsl"),
    ),
    ("lib/rng.wgsl", include_str!("../../shaders/lib/rng.wgsl")),
    (
        "lib/row_kernel.wgsl",
        include_str!("../../shaders/lib/row_kernel.wgsl"),
    ),
    (
        "lib/thread_kernel.wgsl",
        include_str!("../../shaders/lib/thread_kernel.wgsl"),
    ),
    ("lib/tile.wgsl", include_str!("../../shaders/lib/tile.wgsl")),
    (
        "lib/tile_store.wgsl",
        include_str!("../../shaders/lib/tile_store.wgsl"),
    ),
    (
        "lib/walk_matmul.wgsl",
        include_str!("../../shaders/lib/walk_matmul.wgsl"),
    ),
    (
        "lib/wide_rows.wgsl",
        include_str!("../../shaders/lib/wide_rows.wgsl"),
    ),
    (
        "lib/wide_tile.wgsl",
        include_str!("../../shaders/lib/wide_tile.wgsl"),
    ),
    (
        "lib/wide_units.wgsl",
        include_str!("../../shaders/lib/wide_units.wgsl"),
    ),
];

/// Expands `#include` lines and keeps the lines whose enclosing `#if` conditions hold.
/// `#if !NAME` negates. Includes inside an inactive branch are not read.
pub fn preprocess(source: &str, defines: &[&str]) -> String {
    let mut out = String::with_capacity(source.len());
    expand("<source>", source, defines, &mut Vec::new(), &mut out);
    out
}

/// Appends the active lines of `source` (named `file` in messages) to `out`, expanding the
/// includes not yet in `seen` recursively.
fn expand(
    file: &str,
    source: &str,
    defines: &[&str],
    seen: &mut Vec<&'static str>,
    out: &mut String,
) {
    // Each entry: (this branch is active, some enclosing branch is inactive).
    let mut stack: Vec<(bool, bool)> = Vec::new();
    let active = |stack: &Vec<(bool, bool)>| stack.last().is_none_or(|&(on, off)| on && !off);
    for line in source.lines() {
        let trimmed = line.trim_start();
        if let Some(cond) = trimmed.strip_prefix("#if ") {
            let cond = cond.trim();
            let holds = match cond.strip_prefix('!') {
                Some(name) => !defines.contains(&name.trim()),
                None => defines.contains(&cond),
            };
            let outer_off = !active(&stack);
            stack.push((holds, outer_off));
        } else if trimmed.starts_with("#else") {
            let top = stack
                .last_mut()
                .unwrap_or_else(|| panic!("{file}: #else without #if"));
            top.0 = !top.0;
        } else if trimmed.starts_with("#endif") {
            stack
                .pop()
                .unwrap_or_else(|| panic!("{file}: #endif without #if"));
        } else if !active(&stack) {
            continue;
        } else if let Some(name) = trimmed.strip_prefix("#include ") {
            let name = name.trim();
            let &(name, text) = SNIPPETS
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{file}: unknown shader include {name}"));
            if !seen.contains(&name) {
                seen.push(name);
                expand(name, text, defines, seen, out);
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(stack.is_empty(), "{file}: unterminated #if");
}

#[cfg(test)]
mod tests {
    use super::preprocess;

    #[test]
    fn selects_branches() {
        let src = "a\n#if X\nb\n#if !Y\nc\n#else\nd\n#endif\n#else\ne\n#endif\nf\n";
        assert_eq!(preprocess(src, &["X"]), "a\nb\nc\nf\n");
        assert_eq!(preprocess(src, &["X", "Y"]), "a\nb\nd\nf\n");
        assert_eq!(preprocess(src, &[]), "a\ne\nf\n");
    }

    #[test]
    fn includes_once_and_only_where_active() {
        // lib/layer_norm.wgsl includes lib/reduce.wgsl itself.
        let src = "#include lib/layer_norm.wgsl\n#include lib/reduce.wgsl\n";
        let code = preprocess(src, &[]);
        assert_eq!(code.matches("fn workgroup_sum(").count(), 1);
        assert!(code.contains("fn row_stats("));
        let src = "#if GELU\n#include lib/gelu.wgsl\n#endif\n";
        assert!(preprocess(src, &["GELU"]).contains("fn gelu("));
        assert!(!preprocess(src, &[]).contains("fn gelu("));
    }

    #[test]
    #[should_panic(expected = "unknown shader include lib/nope.wgsl")]
    fn unknown_include_panics() {
        preprocess("#include lib/nope.wgsl\n", &[]);
    }
}
