//! The `whisper-clsr-train train` CLI end to end on tiny random models and synthetic WAV
//! files (helpers in `support/cli_run.rs`): metrics.jsonl, the exported pack, and a run
//! killed mid-way and resumed that reproduces the uninterrupted run's metrics.

mod support;

use support::cli_run::{metrics, setup, train_command, training_lines, validation_lines};
use whisper_clsr::pack::ExpertPack;

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
    let trained = training_lines(&whole);
    assert_eq!(trained.len(), steps as usize);
    for (i, m) in trained.iter().enumerate() {
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
    // The validation set is scored once, at the end, and those experts are the best.
    let validated = validation_lines(&whole);
    assert_eq!(validated.len(), 1, "{validated:?}");
    assert_eq!(validated[0]["step"], steps);
    assert_eq!(pack.meta.training["best_valid_step"], steps);
    assert_eq!(pack.meta.training["experts"], "best");

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
    let m = training_lines(&out_dir);
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
