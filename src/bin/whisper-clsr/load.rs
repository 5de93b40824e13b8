//! Loading a model and its expert packs for the commands that transcribe, with what it does
//! on stderr.

use std::path::{Path, PathBuf};

use whisper_clsr::gpu::{Gpu, GpuOptions};
use whisper_clsr::Whisper;

/// Opens the GPU and loads `model` with the expert packs `experts`; returns the model and
/// the milliseconds it took. A missing pack is refused before anything loads.
pub fn load_whisper(model: &Path, experts: &[PathBuf]) -> Result<(Whisper, f64), String> {
    if let Some(missing) = experts.iter().find(|p| !p.is_file()) {
        return Err(format!("--expert {}: no such file", missing.display()));
    }
    let started = std::time::Instant::now();
    eprintln!("loading {} ...", model.display());
    let gpu = pollster::block_on(Gpu::new(GpuOptions::default())).map_err(|e| e.to_string())?;
    eprintln!("device: {}", gpu.describe());
    if gpu.is_cpu() {
        eprintln!(
            "note: this is a software device running on the CPU, far slower than a GPU \
             (about a minute per 30 s of audio for whisper-base); if the machine has a GPU, \
             install its Vulkan driver"
        );
    }
    let mut whisper = Whisper::load_dir(gpu, model).map_err(|e| e.to_string())?;
    for path in experts {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = whisper
            .add_expert_pack(&bytes, &path.display().to_string())
            .map_err(|e| e.to_string())?;
        eprintln!(
            "expert pack {}: language {}, {} encoder + {} decoder layers",
            path.display(),
            meta.language,
            meta.encoder_layers.len(),
            meta.decoder_layers.len()
        );
    }
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    eprintln!("model loaded in {load_ms:.0} ms");
    Ok((whisper, load_ms))
}
