//! Kernel sources and their variants. A kernel is a WGSL file from `shaders/` plus a set of
//! defines; `#if NAME`, `#else` and `#endif` lines select the parts a variant needs, so one
//! file serves e.g. f32 and packed-f16 weights without copies of the kernel body.

/// One compiled form of a shader file.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// File name under `shaders/`, e.g. `matmul.wgsl`.
    pub file: &'static str,
    pub source: &'static str,
    pub defines: Vec<&'static str>,
    pub entry: &'static str,
}

impl Kernel {
    pub fn new(file: &'static str, source: &'static str, entry: &'static str) -> Kernel {
        Kernel {
            file,
            source,
            defines: Vec::new(),
            entry,
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
        preprocess(&expand_includes(self.source), &self.defines)
    }
}

/// The `GELU_TANH` form of every kernel with a fused GELU (the `GELU` define), in which
/// `gelu.wgsl` computes the tanh approximation instead of Whisper's exact erf form. Production
/// code never dispatches these; they exist so that tests can compare the whole model with a
/// reference that approximates GELU (candle-transformers' Whisper), see [`with_tanh_gelu`].
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

/// Snippets shaders may pull in with `#include NAME`.
pub const SNIPPETS: &[(&str, &str)] = &[
    ("gelu.wgsl", include_str!("../../shaders/gelu.wgsl")),
    (
        "clsr_linear_io.wgsl",
        include_str!("../../shaders/clsr_linear_io.wgsl"),
    ),
];

fn expand_includes(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        match line.trim_start().strip_prefix("#include ") {
            Some(name) => {
                let name = name.trim();
                let (_, text) = SNIPPETS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap_or_else(|| panic!("unknown shader include {name}"));
                out.push_str(text);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Keeps the lines whose enclosing `#if` conditions hold. `#if !NAME` negates.
pub fn preprocess(source: &str, defines: &[&str]) -> String {
    let mut out = String::with_capacity(source.len());
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
            let top = stack.last_mut().expect("#else without #if");
            top.0 = !top.0;
        } else if trimmed.starts_with("#endif") {
            stack.pop().expect("#endif without #if");
        } else if active(&stack) {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(stack.is_empty(), "unterminated #if in shader");
    out
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
}
