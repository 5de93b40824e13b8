//! Validation by WER during training, end to end on the CLI with a tiny random student
//! (helpers in `support/cli_run.rs`): best-checkpoint selection, the two exported packs,
//! patience, and a run killed mid-way that keeps its best when resumed.
//!
//! The validation WER is controlled: a probe run records what the runtime transcribes
//! with the experts of every step; a validation reference is then set to one step's
//! transcript, so that step scores WER 0 (nothing can beat it) and the last step, whose
//! transcript is checked to differ, scores worse.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::cli_run::{
    checkpoint_step, metrics, pack_training, setup, student_only_command, succeed, training_lines,
    validation_lines,
};
use whisper_clsr::decode::DecodeOptions;
use whisper_clsr::eval::TextNormalizer;
use whisper_clsr::{TranscribeOptions, Whisper};

const STEPS: u32 = 4;
/// Large enough that every step changes what the random model transcribes.
const LR: &str = "0.02";

struct Probe {
    root: PathBuf,
    student: PathBuf,
    train: PathBuf,
    /// The runtime's transcript of a.wav with the experts after step 1, 2, …, STEPS.
    transcripts: Vec<String>,
}

fn normalized(text: &str) -> String {
    TextNormalizer::basic(false, false).normalize(text)
}

fn probe() -> &'static Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    PROBE.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("train-validation-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let (student, _, train) = setup(&root);
        let valid = reference_manifest(&root, "probe", "bon dia");
        let out = root.join("probe");
        succeed(
            student_only_command(&student, &train, &valid, &out, STEPS).args([
                "--lr",
                LR,
                "--eval-every",
                "1",
            ]),
        );
        let lines = std::fs::read_to_string(out.join("valid_utterances.jsonl")).unwrap();
        let transcripts: Vec<String> = lines
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["hypothesis"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(transcripts.len(), STEPS as usize, "{lines}");
        Probe {
            root,
            student,
            train,
            transcripts,
        }
    })
}

/// Removes the shared folder once both tests are done with it.
fn done(p: &Probe) {
    static FINISHED: AtomicUsize = AtomicUsize::new(0);
    if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 == 2 {
        std::fs::remove_dir_all(&p.root).ok();
    }
}

/// A validation manifest of a.wav whose reference is `text`.
fn reference_manifest(root: &Path, name: &str, text: &str) -> PathBuf {
    let path = root.join(format!("{name}.jsonl"));
    let line = serde_json::json!({"audio": "a.wav", "text": text, "language": "ca"});
    std::fs::write(&path, format!("{line}\n")).unwrap();
    path
}

/// What the runtime transcribes from a.wav with `pack` loaded (greedy and untimestamped, as
/// validation does).
fn transcribe_with(student: &Path, pack: &Path, root: &Path) -> String {
    let mut whisper = Whisper::load_dir(whisper_clsr_test_kit::gpu(), student).unwrap();
    whisper
        .add_expert_pack(&std::fs::read(pack).unwrap(), "pack")
        .unwrap();
    let samples = whisper_clsr::audio::load_audio_file(&root.join("a.wav")).unwrap();
    let options = TranscribeOptions {
        language: Some("ca".into()),
        decode: DecodeOptions {
            temperatures: vec![0.0],
            timestamps: false,
            ..DecodeOptions::default()
        },
        ..TranscribeOptions::default()
    };
    let t = pollster::block_on(whisper.transcribe(&samples, &options, &mut |_| Ok(()))).unwrap();
    assert_eq!(t.expert.as_deref(), Some("ca"));
    t.text
}

#[test]
fn the_pack_holds_the_lowest_wer_experts_not_the_last_and_a_killed_run_keeps_them() {
    let p = probe();
    let last = normalized(&p.transcripts[STEPS as usize - 1]);
    // The earliest step whose transcript scores below the last step's against itself
    // (early enough that the killed run below still has a step to resume).
    let best = (1..STEPS as usize - 1)
        .find(|&s| {
            let t = normalized(&p.transcripts[s - 1]);
            !t.is_empty() && t != last
        })
        .unwrap_or_else(|| {
            panic!(
                "the probe's transcripts do not change, so no step is better than the last: {:?}",
                p.transcripts
            )
        }) as u64;
    let valid = reference_manifest(&p.root, "best", &p.transcripts[best as usize - 1]);
    let command = |out: &Path| {
        let mut cmd = student_only_command(&p.student, &p.train, &valid, out, STEPS);
        cmd.args(["--lr", LR, "--eval-every", "1", "--patience", "100"]);
        cmd
    };

    let whole = p.root.join("best-run");
    succeed(&mut command(&whole));
    let evals = validation_lines(&whole);
    assert_eq!(evals.len(), STEPS as usize, "{evals:?}");
    assert_eq!(evals[best as usize - 1]["val_wer"], 0.0, "{evals:?}");
    let final_eval = evals.last().unwrap();
    assert!(
        final_eval["val_wer"].as_f64().unwrap() > 0.0,
        "{final_eval}"
    );
    assert_eq!(final_eval["best_step"], best, "{final_eval}");
    assert_eq!(final_eval["best_val_wer"], 0.0, "{final_eval}");
    assert_eq!(final_eval["evals_without_improvement"], STEPS as u64 - best);
    assert_eq!(
        checkpoint_step(&whole.join("best/checkpoint.safetensors")),
        best
    );
    assert_eq!(
        checkpoint_step(&whole.join("checkpoint.safetensors")),
        STEPS as u64
    );

    let best_pack = whole.join("ca.pack.safetensors");
    let last_pack = whole.join("ca.last.pack.safetensors");
    let t = pack_training(&best_pack);
    assert_eq!(t["experts"], "best", "{t}");
    assert_eq!(t["experts_step"], best, "{t}");
    assert_eq!(t["best_valid_step"], best, "{t}");
    assert_eq!(t["best_valid_wer"], 0.0, "{t}");
    assert_eq!(t["steps"], STEPS, "{t}");
    assert_eq!(t["steps_run"], STEPS, "{t}");
    assert_eq!(t["seed"], 3, "{t}");
    assert_eq!(t["stopped_early"], false, "{t}");
    assert_eq!(t["teacher"], serde_json::Value::Null, "{t}");
    for (key, path) in [
        ("base_model", &p.student),
        ("data", &p.train),
        ("valid_data", &valid),
    ] {
        assert_eq!(t[key], path.display().to_string(), "{key} in {t}");
    }
    let t = pack_training(&last_pack);
    assert_eq!(
        (&t["experts"], &t["experts_step"]),
        (&"last".into(), &STEPS.into()),
        "{t}"
    );
    // The files hold those steps' experts: the runtime transcribes with them what the
    // validation did at those steps.
    assert_eq!(
        transcribe_with(&p.student, &best_pack, &p.root),
        p.transcripts[best as usize - 1]
    );
    assert_eq!(
        transcribe_with(&p.student, &last_pack, &p.root),
        p.transcripts[STEPS as usize - 1]
    );

    // Killed after the evaluation following the best one, then run again: the resumed run
    // keeps the best experts and the patience counter (they are in every logged line).
    let killed = p.root.join("killed-run");
    let mut child = command(&killed).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let past_best = || {
        std::fs::read_to_string(killed.join("metrics.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|v| v.get("val_wer").is_some() && v["step"].as_u64() > Some(best))
    };
    while !past_best() {
        assert!(
            Instant::now() < deadline,
            "the run never evaluated past step {best}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        training_lines(&killed).len() < STEPS as usize,
        "the run finished before it was killed; nothing was resumed"
    );
    let stderr = succeed(&mut command(&killed));
    assert!(stderr.contains("resumed from"), "{stderr}");
    assert_eq!(metrics(&killed), metrics(&whole));
    assert_eq!(
        checkpoint_step(&killed.join("best/checkpoint.safetensors")),
        best
    );
    assert_eq!(
        pack_training(&killed.join("ca.pack.safetensors"))["experts_step"],
        best
    );
    done(p);
}

#[test]
fn patience_stops_after_k_evaluations_without_improvement_and_stays_stopped() {
    let p = probe();
    // Step 1's own transcript as the reference: WER 0 there, which no later step can beat.
    let valid = reference_manifest(&p.root, "patience", &p.transcripts[0]);
    let out = p.root.join("patience-run");
    let command = || {
        let mut cmd = student_only_command(&p.student, &p.train, &valid, &out, STEPS);
        cmd.args(["--lr", LR, "--eval-every", "1", "--patience", "1"]);
        cmd
    };
    let stderr = succeed(&mut command());
    assert!(
        stderr.contains(&format!(
            "stopped early at step 2 of {STEPS}: 1 evaluation(s) in a row without a lower validation WER"
        )),
        "{stderr}"
    );
    assert_eq!(training_lines(&out).len(), 2);
    let evals = validation_lines(&out);
    assert_eq!(evals.len(), 2);
    assert_eq!(evals[0]["val_wer"], 0.0);
    let t = pack_training(&out.join("ca.pack.safetensors"));
    assert_eq!(t["stopped_early"], true, "{t}");
    assert_eq!(t["steps_run"], 2, "{t}");
    assert_eq!(t["experts_step"], 1, "{t}");
    assert_eq!(
        pack_training(&out.join("ca.last.pack.safetensors"))["experts_step"],
        2
    );
    // Run again: the checkpoint says the run stopped, so it does not train on.
    let stderr = succeed(&mut command());
    assert!(stderr.contains("stopped early at step 2"), "{stderr}");
    assert_eq!(training_lines(&out).len(), 2);

    // --patience without a validation set is refused with the fix.
    let out = std::process::Command::new(support::cli_run::BIN)
        .args([
            "train",
            "--language",
            "ca",
            "--patience",
            "2",
            "--steps",
            "1",
        ])
        .arg("--student")
        .arg(&p.student)
        .arg("--train")
        .arg(&p.train)
        .arg("--out")
        .arg(p.root.join("no-valid"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--valid"), "{stderr}");
    done(p);
}
