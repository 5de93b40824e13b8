//! The `whisper-clsr-train train` CLI end to end on tiny random models and synthetic WAV
//! files (helpers in `support/cli_run.rs`): metrics.jsonl, the exported pack, and a run
//! killed mid-way and resumed that reproduces the uninterrupted run's metrics.

mod support;

use std::path::Path;
use std::process::Command;

use support::cli_run::{
    fail, metrics, setup, student_only_command, succeed, train_command, training_lines,
    validation_lines, write_mp3, write_wav, BIN,
};
use whisper_clsr::pack::ExpertPack;
use whisper_clsr_test_kit::scratch_dir;

#[test]
fn train_cli_writes_metrics_and_pack_and_resumes_exactly_after_a_kill() {
    let root = scratch_dir("train-cli");
    let (student, teacher, manifest) = setup(&root);
    let steps = 2;

    let whole = root.join("whole");
    succeed(&mut train_command(
        &student, &teacher, &manifest, &whole, steps,
    ));
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
    let stderr = succeed(&mut train_command(
        &student, &teacher, &manifest, &killed, steps,
    ));
    assert!(stderr.contains("resumed from"), "{stderr}");
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
    let bad = root.join("bad.jsonl");
    let stderr = fail(&mut train_command(
        &student,
        &teacher,
        &bad,
        &root.join("bad"),
        1,
    ));
    assert!(stderr.contains("single-language"), "{stderr}");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn missing_and_corrupt_clips_are_skipped_and_counted_or_refused_with_strict() {
    let root = scratch_dir("train-cli-clips");
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
    let stderr = succeed(&mut train_command(
        &student, &teacher, &manifest, &out_dir, 1,
    ));
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

    assert_strict_refuses(&student, &teacher, &manifest, &root, "missing.wav");
    std::fs::remove_dir_all(&root).ok();
}

/// `--strict` refuses the training data `data` and names `clip`, a clip it cannot use.
fn assert_strict_refuses(student: &Path, teacher: &Path, data: &Path, root: &Path, clip: &str) {
    let mut cmd = train_command(student, teacher, data, &root.join("strict"), 1);
    let stderr = fail(cmd.arg("--strict"));
    assert!(
        stderr.contains(clip) && stderr.contains("--strict"),
        "{stderr}"
    );
}

/// scripts/cluster/train-one.sh, what each Slurm array task and Kubernetes Indexed Job pod
/// runs: the task index picks the language, the run lives on the shared storage and a task
/// started again resumes it; bad indices and missing corpora are named.
#[test]
fn cluster_task_script_trains_the_indexed_language_and_resumes() {
    let root = scratch_dir("train-cli-cluster");
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

/// A Common Voice release `ca/` (header row, quotes inside sentences, mp3 clips made by
/// lame): `cv:DIR` trains on train.tsv and validates on dev.tsv. In the middle of train.tsv
/// a clip that is not there and one that is not an mp3 are skipped and counted (refused with
/// --strict), a clip over --max-duration and a transcript longer than the tiny decoder's 32
/// positions are dropped and counted, each reason on one line with the file.
#[test]
fn common_voice_release_trains_with_bad_and_long_clips_left_out_and_counted() {
    let root = scratch_dir("train-cli-cv");
    let (student, teacher, _) = setup(&root);
    let release = root.join("cv").join("ca");
    std::fs::create_dir_all(release.join("clips")).unwrap();
    write_mp3(&release.join("clips/a.mp3"), 440.0, 0.5);
    write_mp3(&release.join("clips/b.mp3"), 660.0, 0.6);
    write_mp3(&release.join("clips/long.mp3"), 550.0, 1.5);
    std::fs::write(
        release.join("clips/broken.mp3"),
        b"ID3 but then nothing audio",
    )
    .unwrap();
    let header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\n";
    let row = |clip: &str, text: &str| format!("c\t{clip}\t{text}\t2\t0\t\t\t\tca\n");
    let long_text = "una frase molt llarga que no cap en les trenta-dues posicions del \
                     descodificador petit de la prova, de cap manera";
    let train = [
        row("a.mp3", "Diu \"bon dia\" a tothom."),
        row("missing.mp3", "Res."),
        row("broken.mp3", "Res."),
        row("long.mp3", "Massa llarg."),
        row("b.mp3", "Gràcies."),
        row("a.mp3", long_text),
    ]
    .concat();
    std::fs::write(release.join("train.tsv"), format!("{header}{train}")).unwrap();
    std::fs::write(
        release.join("dev.tsv"),
        format!("{header}{}", row("b.mp3", "Gràcies.")),
    )
    .unwrap();
    let spec = std::path::PathBuf::from(format!("cv:{}", release.display()));
    let out_dir = root.join("run");
    let stderr = String::from_utf8_lossy(
        &train_command(&student, &teacher, &spec, &out_dir, 1)
            .args(["--max-duration", "1"])
            .output()
            .unwrap()
            .stderr,
    )
    .into_owned();
    let m = training_lines(&out_dir);
    assert_eq!(m.len(), 1, "{stderr}");
    assert_eq!(m[0]["skipped_clips"], 2, "{}", m[0]);
    for (summary, clip) in [
        (
            "skipped 2 of 6 clips whose audio could not be loaded",
            "missing.mp3",
        ),
        ("dropped 1 of 6 clips longer than 1 s", "long.mp3"),
        (
            "dropped 1 of 6 clips whose transcript needs more than",
            "a.mp3",
        ),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(summary) && l.contains(clip) && l.contains("train")),
            "no '{summary}' line naming {clip}: {stderr}"
        );
    }
    assert!(
        stderr.contains("2 training examples, 1 validation"),
        "{stderr}"
    );
    assert_eq!(validation_lines(&out_dir).len(), 1, "{stderr}");

    assert_strict_refuses(&student, &teacher, &spec, &root, "missing.mp3");
    std::fs::remove_dir_all(&root).ok();
}

/// FLEURS (`LANG/SPLIT.tsv` without a header, wav clips under `audio/SPLIT/`) trains from the
/// bare train.tsv (layout detected) with `fleurs:DIR` as validation (its dev.tsv); a Common
/// Voice TSV without its `sentence` column, or a bare directory, is refused by name.
#[test]
fn fleurs_release_trains_and_unusable_corpora_are_named() {
    let root = scratch_dir("train-cli-fleurs");
    let (student, _, _) = setup(&root);
    let release = root.join("fleurs").join("ca_es");
    for split in ["train", "dev"] {
        std::fs::create_dir_all(release.join("audio").join(split)).unwrap();
    }
    write_wav(&release.join("audio/train/1.wav"), 440.0, 0.5);
    write_wav(&release.join("audio/train/2.wav"), 660.0, 0.4);
    write_wav(&release.join("audio/dev/3.wav"), 550.0, 0.4);
    let row = |id: u32, text: &str| {
        format!(
            "{id}\t{id}.wav\t{text}\t{}\tx\t8000\tFEMALE\n",
            text.to_lowercase()
        )
    };
    std::fs::write(
        release.join("train.tsv"),
        [row(1, "Bon dia."), row(2, "Gràcies.")].concat(),
    )
    .unwrap();
    std::fs::write(release.join("dev.tsv"), row(3, "Adéu.")).unwrap();
    let valid = std::path::PathBuf::from(format!("fleurs:{}", release.display()));
    let out_dir = root.join("run");
    let stderr = succeed(&mut student_only_command(
        &student,
        &release.join("train.tsv"),
        &valid,
        &out_dir,
        1,
    ));
    assert!(
        stderr.contains("2 training examples, 1 validation"),
        "{stderr}"
    );
    assert_eq!(training_lines(&out_dir).len(), 1, "{stderr}");

    let bad = root.join("bad.tsv");
    std::fs::write(&bad, "client_id\tpath\ttext\nc\t1.wav\tBon dia.\n").unwrap();
    for (corpus, expected) in [
        (bad.clone(), vec!["'sentence'", "bad.tsv"]),
        (release.clone(), vec!["cv:", "fleurs:"]),
    ] {
        let stderr = fail(&mut student_only_command(
            &student,
            &corpus,
            &valid,
            &root.join("bad"),
            1,
        ));
        for e in expected {
            assert!(stderr.contains(e), "{e} not in: {stderr}");
        }
    }
    std::fs::remove_dir_all(&root).ok();
}
