//! Writes the test kit's tiny random-weight Whisper (config.json, model.safetensors,
//! tokenizer.json) into a folder, for runs of the command line that exercise the pipeline's
//! machinery over long stretches without a real model's cost (scripts/bench-stream-hour.sh
//! `--tiny-random`):
//!
//! ```text
//! tiny-whisper DIR [SEED]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, seed) = match args.as_slice() {
        [dir] => (dir, Ok(0)),
        [dir, seed] => (dir, seed.parse::<u64>()),
        _ => {
            eprintln!("usage: tiny-whisper DIR [SEED]  (writes a tiny random-weight Whisper)");
            return ExitCode::from(2);
        }
    };
    let Ok(seed) = seed else {
        eprintln!("tiny-whisper: SEED must be a non-negative integer");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    whisper_clsr_test_kit::tiny_whisper::write(&dir, seed);
    eprintln!("tiny-whisper: wrote {}", dir.display());
    ExitCode::SUCCESS
}
