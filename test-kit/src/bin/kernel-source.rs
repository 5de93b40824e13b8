//! Prints the WGSL of one kernel variant as the runtime compiles it (includes and `#if`s
//! resolved), so that tests outside Rust can run the same code, e.g. the browser kernel tests
//! (tests/e2e/kernels.test.mjs):
//!
//!   kernel-source runtime/flash_attention.wgsl HEAD_DIM_64 ROWS_2

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((file, defines)) = args.split_first() else {
        eprintln!(
            "usage: kernel-source FILE [DEFINE...]  (FILE under shaders/, e.g. runtime/gemv.wgsl)"
        );
        return ExitCode::from(2);
    };
    let mut wanted: Vec<&str> = defines.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    let kernels = whisper_clsr::ops::all_kernels();
    let found = kernels.iter().find(|k| {
        let mut have = k.defines.clone();
        have.sort_unstable();
        k.file == file && have == wanted
    });
    match found {
        Some(kernel) => {
            print!("{}", kernel.code());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("kernel-source: no variant of {file} with defines {wanted:?}; its variants:");
            for k in kernels.iter().filter(|k| k.file == file) {
                eprintln!("  {}", k.defines.join(" "));
            }
            ExitCode::from(2)
        }
    }
}
