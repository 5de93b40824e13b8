//! `whisper-clsr pack import-distilwhisper`: the paper's released experts into a pack, with
//! progress on stderr.

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use whisper_clsr::convert::torch::TorchCheckpoint;
use whisper_clsr::gpu::DType;
use whisper_clsr::pack::ExpertPack;

use crate::pack::{read_base, Storage};

pub fn run(
    checkpoint: &Path,
    model: &Path,
    language: Option<&str>,
    out: &Path,
    storage: Storage,
) -> Result<(), String> {
    eprintln!("reading {} ...", model.display());
    let (config, file) = read_base(model)?;
    let dtype = storage.resolve(&config, &file)?;
    eprintln!("reading {} ...", checkpoint.display());
    let mut source = TorchCheckpoint::open(checkpoint).map_err(|e| e.to_string())?;

    let bar = ProgressBar::no_length();
    if bar.is_hidden() {
        bar.finish_and_clear();
    } else {
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} [{eta} left]")
                .expect("static template"),
        );
    }
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let pack =
        ExpertPack::import_distilwhisper(&mut source, &config, &file, language, &mut progress);
    bar.finish_and_clear();
    let pack = pack.map_err(|e| e.to_string())?;
    pack.write_atomic(out, dtype).map_err(|e| e.to_string())?;
    eprintln!(
        "wrote {} (language {}, {} encoder + {} decoder layers, {} parameters, {}, base {})",
        out.display(),
        pack.meta.language,
        pack.meta.encoder_layers.len(),
        pack.meta.decoder_layers.len(),
        pack.parameter_count(),
        match dtype {
            DType::F16 => "f16",
            DType::F32 => "f32",
        },
        pack.meta.base_fingerprint
    );
    Ok(())
}
