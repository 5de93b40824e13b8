//! Peak memory of the audio front-end alone (no model, no GPU) on one file: the streaming one
//! (`audio::load_long_mel`, what the CLI uses) or the whole-buffer one it replaced
//! (`audio::load_audio` then `LogMel::compute_full`). Prints the peak RSS (VmHWM, Linux).
//!
//!   cargo run --release --example front_end_memory -- stream|whole FILE
//!
//! scripts/bench-long-audio.sh measures the whole CLI; this isolates the front-end.

use std::path::Path;
use std::time::Instant;

use whisper_clsr::audio::{load_audio, load_long_mel, LogMel};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, file) = match args.as_slice() {
        [_, mode, file] => (mode.as_str(), Path::new(file)),
        _ => {
            eprintln!("usage: front_end_memory stream|whole FILE");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let (frames, seconds) = match mode {
        "stream" => {
            let m = load_long_mel(file, 80).expect("decode").mel;
            (m.frames(), m.duration_seconds())
        }
        "whole" => {
            let a = load_audio(file).expect("decode");
            let (_, frames) = LogMel::new(80).unwrap().compute_full(&a.samples).unwrap();
            (frames, a.samples.len() as f64 / 16_000.0)
        }
        other => {
            eprintln!("unknown mode {other}: use stream or whole");
            std::process::exit(2);
        }
    };
    println!(
        "{mode}: {seconds:.0} s of audio, {frames} frames, {:.1} s, peak RSS {:.0} MiB",
        started.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}
