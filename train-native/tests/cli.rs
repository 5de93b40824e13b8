//! The `whisper-clsr-train train` CLI end to end on tiny random models and synthetic WAV
//! files: metrics.jsonl, the exported pack, and a run killed mid-way and resumed that
//! reproduces the uninterrupted run's metrics.

use std::path::{Path, PathBuf};
use std::process::Command;

use whisper_clsr::pack::ExpertPack;
use whisper_clsr_test_kit::random_model::{write_random_model, TinyConfig};
use whisper_clsr_test_kit::*;

const BIN: &str = env!("CARGO_BIN_EXE_whisper-clsr-train");

fn write_wav(path: &Path, freq: f32, seconds: f32) {
    let n = (16000.0 * seconds) as usize;
    let data: Vec<u8> = (0..n)
        .flat_map(|i| {
            (((i as f32 / 16000.0 * freq * std::f32::consts::TAU).sin() * 8000.0) as i16)
                .to_le_bytes()
        })
        .collect();
    let mut b = Vec::new();
    b.extend(b"RIFF");
    b.extend((36 + data.len() as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(16000u32.to_le_bytes());
    b.extend(32000u32.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(16u16.to_le_bytes());
    b.extend(b"data");
    b.extend((data.len() as u32).to_le_bytes());
    b.extend(data);
    std::fs::write(path, b).unwrap();
}

fn setup(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let tokenizer =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/whisper-base/tokenizer.json");
    assert!(
        tokenizer.exists(),
        "{} is missing: run scripts/fetch-models.sh first",
        tokenizer.display()
    );
    let (student, teacher) = (root.join("student"), root.join("teacher"));
    let cfg = |d, heads| TinyConfig {
        d_model: d,
        heads,
        encoder_layers: 1,
        decoder_layers: 1,
        vocab: 51865,
        n_mels: 80,
        target_positions: 32,
    };
    write_random_model(
        &student,
        &cfg(64, 1),
        safetensors::Dtype::F16,
        &mut rng(101),
    );
    write_random_model(
        &teacher,
        &cfg(128, 2),
        safetensors::Dtype::F16,
        &mut rng(102),
    );
    for dir in [&student, &teacher] {
        std::fs::copy(&tokenizer, dir.join("tokenizer.json")).unwrap();
    }
    write_wav(&root.join("a.wav"), 440.0, 1.0);
    write_wav(&root.join("b.wav"), 660.0, 0.7);
    let manifest = root.join("train.jsonl");
    std::fs::write(
        &manifest,
        "{\"audio\": \"a.wav\", \"text\": \"Bon dia a tothom.\", \"language\": \"ca\"}\n\
         {\"audio\": \"b.wav\", \"text\": \"Gràcies.\", \"language\": \"ca\"}\n",
    )
    .unwrap();
    (student, teacher, manifest)
}

fn train_command(
    student: &Path,
    teacher: &Path,
    manifest: &Path,
    out: &Path,
    steps: u32,
) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "train",
        "--language",
        "ca",
        "--batch",
        "2",
        "--lr",
        "1e-3",
        "--checkpoint-every",
        "1",
        "--seed",
        "3",
    ])
    .arg("--steps")
    .arg(steps.to_string())
    .arg("--student")
    .arg(student)
    .arg("--teacher")
    .arg(teacher)
    .arg("--train")
    .arg(manifest)
    .arg("--valid")
    .arg(manifest)
    .arg("--out")
    .arg(out)
    .env(
        "WGPU_BACKEND",
        std::env::var("WGPU_BACKEND").unwrap_or("vulkan".into()),
    );
    cmd
}

/// metrics.jsonl without the timing and memory fields.
fn metrics(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for timing in ["tokens_per_s", "step_seconds", "activation_bytes"] {
                v.as_object_mut().unwrap().remove(timing);
            }
            v
        })
        .collect()
}

#[test]
fn train_cli_writes_metrics_and_pack_and_resumes_exactly_after_a_kill() {
    let root = std::env::temp_dir().join(format!("train-cli-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let (student, teacher, manifest) = setup(&root);
    let steps = 2;

    let whole = root.join("whole");
    let out = train_command(&student, &teacher, &manifest, &whole, steps)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "train failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = metrics(&whole);
    assert_eq!(want.len(), steps as usize);
    for (i, m) in want.iter().enumerate() {
        assert_eq!(m["step"], i as u64 + 1);
        for key in ["loss", "ce", "gate_loss", "js", "gate_ratio", "lr"] {
            assert!(m[key].as_f64().is_some_and(f64::is_finite), "{key} in {m}");
        }
        assert!(
            m["js"].as_f64().unwrap() > 0.0,
            "the teacher's JS term is on"
        );
    }
    let pack = std::fs::read(whole.join("ca.pack.safetensors")).unwrap();
    let pack = ExpertPack::from_bytes(&pack, "exported").unwrap();
    assert_eq!(pack.meta.language, "ca");
    assert_eq!(pack.layers.len(), 2);

    // Kill a run once it has checkpointed its first step, then run it again to the end.
    let killed = root.join("killed");
    let mut child = train_command(&student, &teacher, &manifest, &killed, steps)
        .spawn()
        .unwrap();
    let checkpoint = killed.join("checkpoint.safetensors");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !checkpoint.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never wrote a checkpoint"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = train_command(&student, &teacher, &manifest, &killed, steps)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resumed from"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        metrics(&killed),
        want,
        "killed + resumed run differs from the uninterrupted one"
    );

    // A manifest in another language is refused with a clear message.
    std::fs::write(
        root.join("bad.jsonl"),
        "{\"audio\": \"a.wav\", \"text\": \"x\", \"language\": \"en\"}\n",
    )
    .unwrap();
    let out = train_command(
        &student,
        &teacher,
        &root.join("bad.jsonl"),
        &root.join("bad"),
        1,
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("single-language"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn missing_and_corrupt_clips_are_skipped_and_counted_or_refused_with_strict() {
    let root = std::env::temp_dir().join(format!("train-cli-clips-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let (student, teacher, _) = setup(&root);
    // Mid-manifest: a file that is not there and one that is not audio.
    std::fs::write(
        root.join("corrupt.wav"),
        b"RIFF\x10\0\0\0WAVEjunk-not-a-wav-file",
    )
    .unwrap();
    let manifest = root.join("holes.jsonl");
    std::fs::write(
        &manifest,
        "{\"audio\": \"a.wav\", \"text\": \"Bon dia.\", \"language\": \"ca\"}\n\
         {\"audio\": \"missing.wav\", \"text\": \"Res.\", \"language\": \"ca\"}\n\
         {\"audio\": \"corrupt.wav\", \"text\": \"Res.\", \"language\": \"ca\"}\n\
         {\"audio\": \"b.wav\", \"text\": \"Gràcies.\", \"language\": \"ca\"}\n",
    )
    .unwrap();
    let out_dir = root.join("holes");
    let out = train_command(&student, &teacher, &manifest, &out_dir, 1)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "train failed: {stderr}");
    for clip in ["missing.wav", "corrupt.wav"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("skipped") && l.contains(clip)),
            "{clip} not reported: {stderr}"
        );
    }
    assert!(stderr.contains("skipped 2 of 4 clips"), "{stderr}");
    let m = metrics(&out_dir);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["skipped_clips"], 2, "{}", m[0]);
    assert_eq!(m[0]["skipped_steps"], 0, "{}", m[0]);

    let out = train_command(&student, &teacher, &manifest, &root.join("strict"), 1)
        .arg("--strict")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "--strict must refuse the manifest");
    assert!(
        stderr.contains("missing.wav") && stderr.contains("--strict"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&root).ok();
}

/// scripts/cluster/train-one.sh, what each Slurm array task and Kubernetes Indexed Job pod
/// runs: the task index picks the language, the run lives on the shared storage and a task
/// started again resumes it; bad indices and missing corpora are named.
#[test]
fn cluster_task_script_trains_the_indexed_language_and_resumes() {
    let root = std::env::temp_dir().join(format!("train-cli-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let (student, teacher, manifest) = setup(&root);
    let shared = root.join("shared");
    let corpus = shared.join("corpora/ca");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::create_dir_all(shared.join("models")).unwrap();
    std::os::unix::fs::symlink(&student, shared.join("models/student")).unwrap();
    std::os::unix::fs::symlink(&teacher, shared.join("models/teacher")).unwrap();
    for file in ["a.wav", "b.wav"] {
        std::fs::copy(root.join(file), corpus.join(file)).unwrap();
    }
    std::fs::copy(&manifest, corpus.join("train.jsonl")).unwrap();
    std::fs::write(
        shared.join("languages.txt"),
        "# one expert per line\nca\n\nde  # no corpus yet\n",
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cluster/train-one.sh");
    let task = |scheduler_variable: &str, index: &str| {
        let out = Command::new("bash")
            .arg(&script)
            .args([
                "--steps", "1", "--batch", "2", "--lr", "1e-3", "--seed", "3",
            ])
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("WHISPER_CLSR_TASK_INDEX")
            .env(scheduler_variable, index)
            .env("WHISPER_CLSR_SHARED", &shared)
            .env("WHISPER_CLSR_TRAIN", BIN)
            .env(
                "WGPU_BACKEND",
                std::env::var("WGPU_BACKEND").unwrap_or("vulkan".into()),
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };

    let (code, stderr) = task("SLURM_ARRAY_TASK_ID", "0");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("task 0: ca"), "{stderr}");
    let run = shared.join("runs/ca");
    let pack = ExpertPack::from_bytes(
        &std::fs::read(run.join("ca.pack.safetensors")).unwrap(),
        "pack",
    )
    .unwrap();
    assert_eq!(pack.meta.language, "ca");
    assert_eq!(metrics(&run).len(), 1);

    // Started again (a requeued or rescheduled task): it resumes the run, not a new one.
    let (code, stderr) = task("JOB_COMPLETION_INDEX", "0");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("resumed from"), "{stderr}");
    assert_eq!(metrics(&run).len(), 1);

    let (code, stderr) = task("JOB_COMPLETION_INDEX", "1");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("corpora/de/train.jsonl is missing"),
        "{stderr}"
    );
    let (code, stderr) = task("WHISPER_CLSR_TASK_INDEX", "2");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("task 2 has no language"), "{stderr}");
    std::fs::remove_dir_all(&root).ok();
}
