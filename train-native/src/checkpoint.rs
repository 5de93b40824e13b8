//! Atomic checkpoints of a run: every trainable tensor with its AdamW moments (f32
//! safetensors) and, in the metadata, the optimizer step. Together with the run's seed and
//! settings this is everything a step depends on (batches and randomness are functions
//! of seed and step), so a resumed run continues exactly where the checkpoint was taken.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, View};
use whisper_clsr::gpu::{Gpu, Tensor};
use whisper_clsr::{Error, Result};

use crate::trainer::{read_weight, Trainer};

/// Metadata key holding the checkpoint's JSON description.
const META_KEY: &str = "whisper_clsr_train";
const FORMAT: u32 = 1;
const PARAM_NAMES: [&str; 7] = [
    "fc1",
    "fc1_bias",
    "fc2",
    "fc2_bias",
    "gate_in",
    "gate_in_bias",
    "gate_out",
];

struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn read_tensor(gpu: &Gpu, t: &Tensor) -> Result<Vec<f32>> {
    pollster::block_on(gpu.read(t))
}

/// Writes `trainer`'s state to `path` (through a temporary file and a rename).
pub fn save(gpu: &Gpu, trainer: &Trainer, path: &Path, extra: serde_json::Value) -> Result<()> {
    save_with(gpu, trainer, path, extra, &mut |file, bytes| {
        file.write_all(bytes)
    })
}

/// [`save`] writing the file's bytes through `write` (see [`write_atomically`]).
pub fn save_with(
    gpu: &Gpu,
    trainer: &Trainer,
    path: &Path,
    extra: serde_json::Value,
    write: &mut WriteBytes,
) -> Result<()> {
    let mut views: Vec<(String, F32View)> = Vec::new();
    for (l, e) in trainer.experts.iter().enumerate() {
        for (name, p) in PARAM_NAMES.iter().zip(e.values()) {
            let shape = p.value.shape().to_vec();
            for (what, data) in [
                ("value", read_weight(gpu, &p.value)?),
                ("m", read_tensor(gpu, &p.m)?),
                ("v", read_tensor(gpu, &p.v)?),
            ] {
                views.push((
                    format!("layers.{l}.{name}.{what}"),
                    F32View {
                        shape: shape.clone(),
                        bytes: bytemuck::cast_slice(&data).to_vec(),
                    },
                ));
            }
        }
    }
    let meta = serde_json::json!({
        "format": FORMAT,
        "step": trainer.opt.step,
        "skipped_steps": trainer.skipped_steps,
        "seed": trainer.config.seed,
        "layers": trainer.experts.len(),
        "expert_layers": trainer.config.expert_layers.name(),
        "run": extra,
    });
    let info = HashMap::from([(META_KEY.to_string(), meta.to_string())]);
    let bytes = safetensors::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), Some(info))
        .map_err(|e| Error::InvalidInput(format!("checkpoint could not be serialised: {e}")))?;
    write_atomically(path, &bytes, write)
}

/// How the checkpoint's bytes reach its temporary file; tests inject a failing one (a full
/// disk) through [`write_atomically`].
pub type WriteBytes<'a> = dyn FnMut(&mut std::fs::File, &[u8]) -> std::io::Result<()> + 'a;

/// Writes `bytes` to a temporary file next to `path`, syncs it and renames it over `path`,
/// so `path` always holds a whole checkpoint: if anything fails (a full disk), the
/// temporary file is removed, the previous checkpoint is left as it was, and the error
/// says so.
pub fn write_atomically(path: &Path, bytes: &[u8], write: &mut WriteBytes) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut file| {
            write(&mut file, bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    let Err(e) = written else {
        return Ok(());
    };
    let _ = std::fs::remove_file(&tmp);
    let previous = if path.exists() {
        format!(
            "the previous checkpoint {} is intact and a rerun resumes from it",
            path.display()
        )
    } else {
        "no earlier checkpoint exists".to_string()
    };
    Err(Error::InvalidInput(format!(
        "writing checkpoint {} failed ({e}); {previous}; free disk space and run again",
        path.display()
    )))
}

/// Restores a checkpoint written by [`save`] into `trainer` (same model and layer shapes);
/// returns the run metadata stored with it.
pub fn load(gpu: &Gpu, trainer: &mut Trainer, path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |what: String| Error::InvalidInput(format!("{}: {what}", path.display()));
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("not a checkpoint ({e})")))?;
    let meta: serde_json::Value = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| bad("no checkpoint metadata".into()))?;
    if meta["format"] != FORMAT {
        return Err(bad(format!(
            "unsupported checkpoint format {}",
            meta["format"]
        )));
    }
    // Checkpoints from before decoder-only experts trained every layer.
    let trained = meta["expert_layers"].as_str().unwrap_or("all");
    let wanted = trainer.config.expert_layers.name();
    if trained != wanted {
        return Err(bad(format!(
            "its experts sit in {trained} layers, but this run trains {wanted} layers; \
             resume with --expert-layers {trained}, or start over in another --out"
        )));
    }
    if meta["layers"] != trainer.experts.len() {
        return Err(bad(format!(
            "checkpoint has {} layers, the model {}",
            meta["layers"],
            trainer.experts.len()
        )));
    }
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("unreadable ({e})")))?;
    // Pending work must not overwrite what is restored (queue writes land before the next
    // submission).
    gpu.flush();
    for (l, e) in trainer.experts.iter().enumerate() {
        for (name, p) in PARAM_NAMES.iter().zip(e.values()) {
            for (what, buffer) in [
                ("value", p.value.buffer()),
                ("m", p.m.buffer()),
                ("v", p.v.buffer()),
            ] {
                let key = format!("layers.{l}.{name}.{what}");
                let t = tensors
                    .tensor(&key)
                    .map_err(|_| bad(format!("missing {key}")))?;
                if t.dtype() != Dtype::F32 || t.shape() != p.value.shape() {
                    return Err(bad(format!(
                        "{key}: {:?} {:?}, expected F32 {:?}",
                        t.dtype(),
                        t.shape(),
                        p.value.shape()
                    )));
                }
                gpu.queue.write_buffer(buffer, 0, t.data());
            }
            crate::elementwise::fill(gpu, &p.grad, 0.0);
        }
    }
    gpu.flush();
    trainer.opt.step = meta["step"].as_u64().ok_or_else(|| bad("no step".into()))?;
    // Absent in checkpoints written before steps could be skipped.
    trainer.skipped_steps = meta["skipped_steps"].as_u64().unwrap_or(0);
    Ok(meta["run"].clone())
}
