//! The `whisper-clsr` command line end to end: transcripts, JSON output, and clear errors
//! with a non-zero exit for bad input.

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whisper-clsr"))
        .args(args)
        .env(
            "WGPU_BACKEND",
            std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "vulkan".into()),
        )
        .output()
        .expect("run whisper-clsr")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn json_output_has_the_documented_fields() {
    let model = support::model_dir("whisper-tiny.en");
    let (wav, reference) = support::jfk();
    let out = cli(&[
        "transcribe",
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json",
        wav.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "transcribe failed: {}", stderr(&out));
    let line = String::from_utf8(out.stdout.clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(v["file"], wav.display().to_string());
    assert_eq!(v["text"].as_str().unwrap(), reference);
    assert_eq!(v["language"], "en");
    let tokens = v["tokens"].as_array().unwrap();
    assert!(
        tokens.len() > 10 && tokens.iter().all(|t| t.as_u64().unwrap() < 50256),
        "text tokens only: {tokens:?}"
    );
    for key in [
        "load_ms",
        "mel_ms",
        "encoder_ms",
        "decoder_ms",
        "tokens_per_s",
        "rtf",
    ] {
        assert!(v["timings"][key].as_f64().unwrap() > 0.0, "timings.{key}");
    }
    assert!(!v["device"].as_str().unwrap().is_empty());
    assert!(stderr(&out).contains("device:"), "progress goes to stderr");
}

#[test]
fn truncated_weights_fail_with_a_clear_message() {
    let model = support::model_dir("whisper-tiny.en");
    let dir = scratch("truncated");
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(model.join(name), dir.join(name)).unwrap();
    }
    let weights = std::fs::read(model.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &weights[..weights.len() / 2]).unwrap();
    let (wav, _) = support::jfk();
    let out = cli(&[
        "transcribe",
        "--model",
        dir.to_str().unwrap(),
        wav.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("model.safetensors") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn missing_model_files_are_named() {
    let dir = scratch("empty-model");
    let (wav, _) = support::jfk();
    let out = cli(&[
        "transcribe",
        "--model",
        dir.to_str().unwrap(),
        wav.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("config.json not found") && err.contains("Hugging Face layout"),
        "{err}"
    );
}

#[test]
fn bad_audio_fails_with_a_clear_message_and_nonzero_exit() {
    let model = support::model_dir("whisper-tiny.en");
    let dir = scratch("audio");
    // No samples at all.
    let empty = dir.join("empty.wav");
    support::write_wav(&empty, &[], 16000, 1);
    // A WAV whose format tag (0x1234) names no codec anyone supports.
    let odd = dir.join("odd-format.wav");
    let mut bytes = Vec::new();
    support::write_wav(&odd, &[0.1; 1600], 16000, 1);
    bytes.extend(std::fs::read(&odd).unwrap());
    bytes[20..22].copy_from_slice(&0x1234u16.to_le_bytes());
    std::fs::write(&odd, bytes).unwrap();
    // Not audio.
    let text = dir.join("notes.mp3");
    std::fs::write(&text, "this is not audio").unwrap();
    for (file, expect) in [(&empty, "empty"), (&odd, "audio"), (&text, "audio")] {
        let out = cli(&[
            "transcribe",
            "--model",
            model.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "{} should fail", file.display());
        let err = stderr(&out);
        assert!(
            err.contains(&file.display().to_string()) && err.to_lowercase().contains(expect),
            "{err}"
        );
    }
    let missing = Path::new("/nonexistent/clip.wav");
    let out = cli(&[
        "transcribe",
        "--model",
        model.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("clip.wav"), "{}", stderr(&out));
}
