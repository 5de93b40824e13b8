//! The trainer's CLI on tiny random models and synthetic WAV files, for the CLI tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use whisper_clsr_test_kit::random_model::{write_random_model, TinyConfig};
use whisper_clsr_test_kit::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_whisper-clsr-train");

/// `seconds` of a sine at `freq` Hz (amplitude 8000 of 16-bit), 16 kHz mono.
pub fn write_wav(path: &Path, freq: f32, seconds: f32) {
    let samples: Vec<f32> = (0..(16000.0 * seconds) as usize)
        .map(|i| (i as f32 / 16000.0 * freq * std::f32::consts::TAU).sin() * 8000.0 / 32767.0)
        .collect();
    fixtures::write_wav(path, &samples, 16_000, 1);
}

/// A tiny random student (d 64) and teacher (d 128) with whisper-base's tokenizer, two
/// sine-wave clips `a.wav` and `b.wav`, and `train.jsonl` naming both in Catalan.
pub fn setup(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (student, teacher) = write_models(
        root,
        [&tiny(64, 1, 1, 80), &tiny(128, 2, 1, 80)],
        safetensors::Dtype::F16,
        [101, 102],
    );
    let manifest = write_clips(root, [1.0, 0.7], ["Bon dia a tothom.", "Gràcies."]);
    (student, teacher, manifest)
}

/// A tiny model's shape: width `d`, `heads` heads, one encoder layer, `decoder_layers`
/// decoder layers, `n_mels` mel bins, the multilingual vocabulary and 32 positions.
pub fn tiny(d: usize, heads: usize, decoder_layers: usize, n_mels: usize) -> TinyConfig {
    TinyConfig {
        d_model: d,
        heads,
        encoder_layers: 1,
        decoder_layers,
        vocab: 51865,
        n_mels,
        target_positions: 32,
    }
}

/// A random student and teacher of the `shapes` in `root/student` and `root/teacher`
/// (weights in `dtype`, drawn from the `seeds`), each with whisper-base's tokenizer.
pub fn write_models(
    root: &Path,
    shapes: [&TinyConfig; 2],
    dtype: safetensors::Dtype,
    seeds: [u64; 2],
) -> (PathBuf, PathBuf) {
    let tokenizer =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/whisper-base/tokenizer.json");
    assert!(
        tokenizer.exists(),
        "{} is missing: run scripts/fetch-models.sh first",
        tokenizer.display()
    );
    let dirs = [root.join("student"), root.join("teacher")];
    for ((dir, shape), seed) in dirs.iter().zip(shapes).zip(seeds) {
        write_random_model(dir, shape, dtype, &mut rng(seed));
        std::fs::copy(&tokenizer, dir.join("tokenizer.json")).unwrap();
    }
    let [student, teacher] = dirs;
    (student, teacher)
}

/// Two sine-wave clips, `a.wav` (440 Hz) and `b.wav` (660 Hz), `seconds` long, and
/// `train.jsonl` naming them in Catalan with the `texts`.
pub fn write_clips(root: &Path, seconds: [f32; 2], texts: [&str; 2]) -> PathBuf {
    write_wav(&root.join("a.wav"), 440.0, seconds[0]);
    write_wav(&root.join("b.wav"), 660.0, seconds[1]);
    let manifest = root.join("train.jsonl");
    let [a, b] = texts;
    std::fs::write(
        &manifest,
        format!(
            "{{\"audio\": \"a.wav\", \"text\": \"{a}\", \"language\": \"ca\"}}\n\
             {{\"audio\": \"b.wav\", \"text\": \"{b}\", \"language\": \"ca\"}}\n"
        ),
    )
    .unwrap();
    manifest
}

/// `train` in ca with a checkpoint every step and seed 3, then `options`: `steps` steps of
/// `student` on `train`, validated on `valid`, written to `out`.
fn train_base(
    student: &Path,
    train: &Path,
    valid: &Path,
    out: &Path,
    steps: u32,
    options: &[&str],
) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["train", "--language", "ca", "--checkpoint-every", "1"])
        .args(["--seed", "3"])
        .args(options)
        .arg("--steps")
        .arg(steps.to_string())
        .arg("--student")
        .arg(student)
        .arg("--train")
        .arg(train)
        .arg("--valid")
        .arg(valid)
        .arg("--out")
        .arg(out)
        .env(
            "WGPU_BACKEND",
            std::env::var("WGPU_BACKEND").unwrap_or("vulkan".into()),
        );
    cmd
}

/// `train` of the tiny models in ca, batch 2, lr 1e-3, a checkpoint every step, seed 3, the
/// training manifest also as validation set.
pub fn train_command(
    student: &Path,
    teacher: &Path,
    manifest: &Path,
    out: &Path,
    steps: u32,
) -> Command {
    let options = ["--batch", "2", "--lr", "1e-3"];
    let mut cmd = train_base(student, manifest, manifest, out, steps, &options);
    cmd.arg("--teacher").arg(teacher);
    cmd
}

/// metrics.jsonl without the timing and memory fields (training and validation lines).
pub fn metrics(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for timing in [
                "tokens_per_s",
                "step_seconds",
                "activation_bytes",
                "val_seconds",
            ] {
                v.as_object_mut().unwrap().remove(timing);
            }
            v
        })
        .collect()
}

/// The training lines of [`metrics`] (those with a loss).
pub fn training_lines(out: &Path) -> Vec<serde_json::Value> {
    metrics(out)
        .into_iter()
        .filter(|m| m.get("loss").is_some())
        .collect()
}

/// The validation lines of [`metrics`] (those with a `val_wer`).
pub fn validation_lines(out: &Path) -> Vec<serde_json::Value> {
    metrics(out)
        .into_iter()
        .filter(|m| m.get("val_wer").is_some())
        .collect()
}

/// The `training` object of an exported pack's metadata.
pub fn pack_training(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pack = whisper_clsr::pack::ExpertPack::from_bytes(&bytes, "exported").unwrap();
    pack.meta.training
}

/// `train` of the tiny student alone (no teacher) in ca: batch 1, seed 3, a checkpoint
/// every step, no warm-up, validation on `valid`; the caller adds `--lr`, `--eval-every`, …
pub fn student_only_command(
    student: &Path,
    train: &Path,
    valid: &Path,
    out: &Path,
    steps: u32,
) -> Command {
    let options = ["--batch", "1", "--warmup-ratio", "0"];
    train_base(student, train, valid, out, steps, &options)
}

/// Runs `cmd`, which must fail, and returns its stderr.
pub fn fail(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{cmd:?} must fail: {stderr}");
    stderr
}

/// Runs `cmd` and returns its stderr, failing the test with it when the command fails.
pub fn succeed(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    stderr
}

/// The step a checkpoint file holds (from its metadata).
pub fn checkpoint_step(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta: serde_json::Value = serde_json::from_str(
        header
            .metadata()
            .as_ref()
            .and_then(|m| m.get("whisper_clsr_train"))
            .unwrap(),
    )
    .unwrap();
    meta["step"].as_u64().unwrap()
}

/// An MP3 of a sine tone at 16 kHz, encoded by `lame` (installed by `scripts/setup.sh test`).
pub fn write_mp3(path: &Path, freq: f32, seconds: f32) {
    let wav = path.with_extension("src.wav");
    write_wav(&wav, freq, seconds);
    let out = Command::new("lame")
        .args(["--quiet", "-b", "32"])
        .arg(&wav)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("lame could not run ({e}): run scripts/setup.sh test"));
    assert!(
        out.status.success(),
        "lame failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(wav).unwrap();
}
