//! The `whisper-clsr` command line end to end: transcripts, JSON output, and clear errors
//! with a non-zero exit for bad input.

use whisper_clsr_test_kit as kit;

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

/// `whisper-clsr pack inspect PACK --model MODEL`'s report; it must succeed.
fn pack_inspect(pack: &str, model: &str) -> String {
    let out = cli(&["pack", "inspect", pack, "--model", model]);
    assert!(
        out.status.success(),
        "pack inspect failed: {}",
        stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `transcribe` with `args`, expects it to fail, and returns its stderr.
fn transcribe_fails(args: &[&str]) -> String {
    let out = cli(&[&["transcribe"], args].concat());
    assert!(!out.status.success(), "transcribe {args:?} succeeded");
    stderr(&out)
}

/// jfk.wav's last phrase ([`kit::fixtures::jfk_phrase`]) as a WAV file in `dir`, its
/// length in seconds, and its words: for tests whose subject is not accuracy.
fn jfk_phrase_wav(dir: &Path) -> (std::path::PathBuf, f64, String) {
    let (samples, words) = kit::fixtures::jfk_phrase();
    let wav = dir.join("jfk-phrase.wav");
    kit::write_wav(&wav, &samples, 16_000, 1);
    (wav, samples.len() as f64 / 16_000.0, words)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn json_output_has_the_documented_fields() {
    let model = kit::model_dir("whisper-tiny.en");
    let (wav, seconds, reference) = jfk_phrase_wav(&scratch("json"));
    let out = cli(&[
        "transcribe",
        "--model",
        model.to_str().unwrap(),
        "--format",
        "json",
        "--word-timestamps",
        wav.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "transcribe failed: {}", stderr(&out));
    let line = String::from_utf8(out.stdout.clone()).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(v["file"], wav.display().to_string());
    assert!(
        (v["duration"].as_f64().unwrap() - seconds).abs() < 0.1,
        "duration"
    );
    let segments = v["segments"].as_array().expect("segments");
    assert!(!segments.is_empty());
    let mut joined = String::new();
    for (i, s) in segments.iter().enumerate() {
        assert_eq!(s["id"], i);
        for key in [
            "start",
            "end",
            "temperature",
            "avg_logprob",
            "compression_ratio",
            "no_speech_prob",
        ] {
            assert!(s[key].is_number(), "segments[{i}].{key}: {s}");
        }
        assert!(s["start"].as_f64() < s["end"].as_f64());
        let words = s["words"].as_array().expect("words with --word-timestamps");
        for w in words {
            assert!(w["start"].as_f64() <= w["end"].as_f64(), "{w}");
            assert!(
                (0.0..=1.0).contains(&w["probability"].as_f64().unwrap()),
                "{w}"
            );
        }
        let text: String = words.iter().map(|w| w["word"].as_str().unwrap()).collect();
        assert_eq!(kit::words(&text), kit::words(s["text"].as_str().unwrap()));
        joined.push_str(s["text"].as_str().unwrap());
    }
    assert_eq!(kit::words(&joined), kit::words(v["text"].as_str().unwrap()));
    assert!(
        stderr(&out).contains(" --> "),
        "finished segments are printed on stderr"
    );
    assert_eq!(kit::words(v["text"].as_str().unwrap()), reference);
    assert_eq!(v["language"], "en");
    // An English-only model is English without detecting anything.
    assert_eq!(v["language_detected"], false);
    let tokens = v["tokens"].as_array().unwrap();
    assert!(
        tokens.len() >= 8 && tokens.iter().all(|t| t.as_u64().unwrap() < 50256),
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
    let err = stderr(&out);
    assert!(err.contains("device:"), "progress goes to stderr");
    // A CPU device (lavapipe in CI) is named as such, with what to expect.
    let on_cpu = v["device"].as_str().unwrap().ends_with(", Cpu)");
    assert_eq!(
        err.contains("software device running on the CPU"),
        on_cpu,
        "{err}"
    );
    assert_eq!(v["expert"], serde_json::Value::Null);
    assert_eq!(v["gate_stats"], serde_json::Value::Null);
}

/// `pack init` → `pack inspect --model` → `transcribe --expert --gate-stats`: the paper's
/// initial pack opens every gate and leaves the transcript as it was.
#[test]
fn pack_init_inspect_and_transcribe_with_the_expert() {
    let model = kit::model_dir("whisper-tiny.en");
    let model = model.to_str().unwrap();
    let pack = scratch("pack").join("en.safetensors");
    let pack = pack.to_str().unwrap();
    let out = cli(&[
        "pack",
        "init",
        "--model",
        model,
        "--language",
        "english",
        "--out",
        pack,
    ]);
    assert!(out.status.success(), "pack init failed: {}", stderr(&out));

    let text = pack_inspect(pack, model);
    for expected in [
        "language        en (english)",
        "d_model 384 · ffn 1536 · gate 64",
        "encoder layers  [0, 1, 2, 3]",
        "decoder.layers.3.gate.out.weight",
        "[1, 64]",
        "fits ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let (wav, _, reference) = jfk_phrase_wav(&scratch("pack"));
    let out = cli(&[
        "transcribe",
        "--model",
        model,
        "--expert",
        pack,
        "--gate-stats",
        "--format",
        "json",
        wav.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "transcribe failed: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(kit::words(v["text"].as_str().unwrap()), reference);
    assert_eq!(v["expert"], "en");
    for part in ["encoder", "decoder"] {
        let fractions = v["gate_stats"][part].as_array().unwrap();
        assert_eq!(fractions.len(), 4, "{part}: {fractions:?}");
        assert!(
            fractions.iter().all(|f| f.as_f64() == Some(1.0)),
            "{part}: {fractions:?}"
        );
    }
    let err = stderr(&out);
    assert!(
        err.contains("expert pack") && err.contains("gate stats"),
        "{err}"
    );
    assert!(
        err.contains("encoder  0 |") && err.contains("100.0%"),
        "{err}"
    );
}

#[test]
fn pack_import_distilwhisper_writes_a_pack_that_fits_its_base() {
    use kit::torch_checkpoint::{distilwhisper_experts, Checkpoint, Container, Storage};
    let dir = scratch("import");
    let model = dir.join("tiny");
    kit::tiny_whisper::write(&model, 91);
    let dims = (32, 128, 64);
    let mut entries = distilwhisper_experts(&mut kit::rng(92), "catalan", dims, (1, 1));
    let checkpoint = dir.join("expert.catalan.bin");
    let ck = Checkpoint::save(&entries, Container::StateDict, Storage::Float);
    std::fs::write(&checkpoint, ck.to_bytes()).unwrap();
    let pack = dir.join("ca.safetensors");
    let (model, checkpoint_arg, pack_arg) = (
        model.to_str().unwrap(),
        checkpoint.to_str().unwrap(),
        pack.to_str().unwrap(),
    );
    let args = [
        "pack",
        "import-distilwhisper",
        checkpoint_arg,
        "--model",
        model,
        "--out",
        pack_arg,
    ];
    let out = cli(&args);
    assert!(out.status.success(), "import failed: {}", stderr(&out));
    assert!(
        stderr(&out).contains("language ca, 1 encoder + 1 decoder layers"),
        "{}",
        stderr(&out)
    );

    let text = pack_inspect(pack_arg, model);
    for expected in [
        "language        ca (catalan)",
        "gate 64",
        "expert.catalan.bin",
        "fits ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // Two languages in one checkpoint: --language is needed.
    entries.extend(distilwhisper_experts(
        &mut kit::rng(93),
        "tamil",
        dims,
        (1, 1),
    ));
    let ck = Checkpoint::save(&entries, Container::Dict, Storage::Float);
    std::fs::write(&checkpoint, ck.to_bytes()).unwrap();
    let out = cli(&args);
    assert!(!out.status.success(), "two languages without --language");
    assert!(
        stderr(&out).contains("catalan, tamil") && stderr(&out).contains("--language"),
        "{}",
        stderr(&out)
    );
    let out = cli(&[&args[..], &["--language", "ta"]].concat());
    assert!(
        out.status.success(),
        "import --language ta failed: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("language ta"), "{}", stderr(&out));

    // A corrupt checkpoint: a clear error naming it, no pack written.
    std::fs::write(&checkpoint, &ck.to_bytes()[..300]).unwrap();
    std::fs::remove_file(&pack).unwrap();
    let out = cli(&args);
    assert!(!out.status.success(), "a truncated checkpoint");
    assert!(
        stderr(&out).contains(checkpoint_arg) && stderr(&out).contains("truncated"),
        "{}",
        stderr(&out)
    );
    assert!(!pack.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_pack_for_another_model_is_refused() {
    let tiny = kit::model_dir("whisper-tiny.en");
    let pack = scratch("other-pack").join("ca.safetensors");
    let out = cli(&[
        "pack",
        "init",
        "--model",
        kit::model_dir("whisper-base").to_str().unwrap(),
        "--language",
        "ca",
        "--out",
        pack.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "pack init failed: {}", stderr(&out));
    let (wav, _) = kit::fixtures::jfk();
    let out = cli(&[
        "transcribe",
        "--model",
        tiny.to_str().unwrap(),
        "--expert",
        pack.to_str().unwrap(),
        wav.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("ca.safetensors") && err.contains("different base model"),
        "{err}"
    );
    let out = cli(&[
        "pack",
        "inspect",
        pack.to_str().unwrap(),
        "--model",
        tiny.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("different base model"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn truncated_weights_fail_with_a_clear_message() {
    let model = kit::model_dir("whisper-tiny.en");
    let dir = scratch("truncated");
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(model.join(name), dir.join(name)).unwrap();
    }
    let weights = std::fs::read(model.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &weights[..weights.len() / 2]).unwrap();
    let (wav, _) = kit::fixtures::jfk();
    let err = transcribe_fails(&["--model", dir.to_str().unwrap(), wav.to_str().unwrap()]);
    assert!(
        err.contains("model.safetensors") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn bad_decoding_options_are_refused_before_loading() {
    for (args, want) in [
        (vec!["--temperature", "-1"], "--temperature -1"),
        (vec!["--best-of", "0"], "--best-of must be at least 1"),
        (vec!["--max-tokens", "0"], "--max-tokens must be at least 1"),
        (vec!["--beam-size", "0"], "--beam-size must be at least 1"),
        (
            vec!["--beam-size", "3", "--patience", "0"],
            "patience 0 with beam size 3",
        ),
        (
            vec!["--temperature-increment-on-fallback", "-0.5"],
            "fallback",
        ),
        (
            vec!["--without-timestamps", "--word-timestamps"],
            "cannot be used with",
        ),
        (
            vec!["--expert", "/nonexistent/en.safetensors"],
            "--expert /nonexistent/en.safetensors: no such file",
        ),
    ] {
        let mut all = vec!["--model", "no-such-model"];
        all.extend(args.iter().copied());
        all.push("a.wav");
        let err = transcribe_fails(&all);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            !err.contains("loading"),
            "{args:?} is refused before the model loads: {err}"
        );
    }
}

#[test]
fn word_timestamps_without_alignment_heads_fall_back_with_a_note() {
    // tiny.en without its generation_config.json (as some model directories come).
    let model = kit::model_dir("whisper-tiny.en");
    let bare = scratch("no-alignment-heads");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        let _ = std::fs::remove_file(bare.join(f));
        std::os::unix::fs::symlink(model.join(f), bare.join(f)).unwrap();
    }
    let err = transcribe_fails(&[
        "--model",
        bare.to_str().unwrap(),
        "--word-timestamps",
        "no-such-audio.wav",
    ]);
    assert!(err.contains("names no alignment heads"), "{err}");
    assert!(err.contains("no-such-audio.wav"), "{err}");
}

#[test]
fn missing_model_files_are_named() {
    let dir = scratch("empty-model");
    let (wav, _) = kit::fixtures::jfk();
    let err = transcribe_fails(&["--model", dir.to_str().unwrap(), wav.to_str().unwrap()]);
    assert!(
        err.contains("config.json not found") && err.contains("Hugging Face layout"),
        "{err}"
    );
}

#[test]
fn bad_audio_fails_with_a_clear_message_and_nonzero_exit() {
    let model = kit::model_dir("whisper-tiny.en");
    let dir = scratch("audio");
    // No samples at all.
    let empty = dir.join("empty.wav");
    kit::write_wav(&empty, &[], 16000, 1);
    // A WAV whose format tag (0x1234) names no codec anyone supports.
    let odd = dir.join("odd-format.wav");
    let mut bytes = Vec::new();
    kit::write_wav(&odd, &[0.1; 1600], 16000, 1);
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

/// `whisper-clsr eval` of tiny.en on `data`, with `extra` arguments.
fn eval_tiny(data: &str, extra: &[&str]) -> Output {
    let model = kit::model_dir("whisper-tiny.en");
    let mut args = vec!["eval", "--model", model.to_str().unwrap(), "--data", data];
    args.extend_from_slice(extra);
    cli(&args)
}

/// Word-level Levenshtein distance, written out here as the hand computation the eval
/// command's WER is checked against.
fn word_edits(reference: &str, hypothesis: &str) -> usize {
    let r: Vec<&str> = reference.split_whitespace().collect();
    let h: Vec<&str> = hypothesis.split_whitespace().collect();
    let mut row: Vec<usize> = (0..=h.len()).collect();
    for i in 1..=r.len() {
        let mut diagonal = row[0];
        row[0] = i;
        for j in 1..=h.len() {
            let above = row[j];
            row[j] = (diagonal + usize::from(r[i - 1] != h[j - 1]))
                .min(above + 1)
                .min(row[j - 1] + 1);
            diagonal = above;
        }
    }
    row[h.len()]
}

#[test]
fn eval_scores_a_small_corpus_like_a_hand_computation() {
    let dir = scratch("eval-corpus");
    let sentences = [("one.wav", "The quick brown fox jumps over the lazy dog.")];
    for (name, text) in sentences {
        let status = Command::new("espeak-ng")
            .args(["-v", "en-us", "-s", "150", "-w"])
            .arg(dir.join(name))
            .arg(text)
            .status()
            .expect("espeak-ng is installed (scripts/setup.sh)");
        assert!(status.success(), "espeak-ng {name}");
    }
    let (jfk, _, jfk_words) = jfk_phrase_wav(&dir);
    let line = |audio: &str, text: &str| {
        serde_json::json!({"audio": audio, "text": text, "language": "en"}).to_string()
    };
    let manifest = dir.join("test.jsonl");
    let lines = [
        line("one.wav", sentences[0].1),
        line("missing.wav", "never read"),
        line(
            jfk.to_str().unwrap(),
            "Ask what you can do for your country.",
        ),
    ];
    std::fs::write(&manifest, lines.join("\n")).unwrap();
    let out_dir = dir.join("out");
    let out = eval_tiny(
        manifest.to_str().unwrap(),
        &["--out", out_dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "eval failed: {}", stderr(&out));
    assert!(
        stderr(&out).contains("skipped:") && stderr(&out).contains("missing.wav"),
        "the missing clip is named: {}",
        stderr(&out)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the summary on stdout");
    assert_eq!(summary, printed);
    assert_eq!(summary["utterances"], 2);
    assert_eq!(summary["skipped"], 1);
    assert_eq!(summary["timestamps"], true, "timestamps by default");

    let scored: Vec<serde_json::Value> = std::fs::read_to_string(out_dir.join("utterances.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(scored.len(), 2);
    // The normaliser's output for the references, worked out by hand.
    let by_hand = [
        "the quick brown fox jumps over the lazy dog",
        "ask what you can do for your country",
    ];
    assert_eq!(by_hand[1], jfk_words, "jfk.txt's last phrase");
    let (mut errors, mut words) = (0, 0);
    for (u, want) in scored.iter().zip(by_hand) {
        let reference = u["reference_normalized"].as_str().unwrap();
        let hypothesis = u["hypothesis_normalized"].as_str().unwrap();
        assert_eq!(reference, want);
        assert!(!hypothesis.is_empty(), "{u}");
        let edits = word_edits(reference, hypothesis);
        let w = &u["words"];
        let counted = ["substitutions", "deletions", "insertions"]
            .iter()
            .map(|k| w[k].as_u64().unwrap() as usize)
            .sum::<usize>();
        assert_eq!(counted, edits, "{u}");
        errors += edits;
        words += reference.split_whitespace().count();
    }
    // tiny.en gets jfk.wav's last phrase right word for word.
    assert_eq!(scored[1]["wer"], 0.0, "{}", scored[1]);
    let wer = summary["wer"].as_f64().unwrap();
    assert!(
        (wer - errors as f64 / words as f64).abs() < 1e-12,
        "corpus WER {wer} vs {errors}/{words}"
    );
    assert!(
        wer < 0.3,
        "espeak-ng English is intelligible to tiny.en: WER {wer}"
    );
    assert!(summary["rtf"].as_f64().unwrap() > 0.0);

    // --strict stops at the unreadable clip; a corpus of only unreadable clips is an error.
    let only_missing = dir.join("missing.jsonl");
    std::fs::write(&only_missing, line("missing.wav", "x")).unwrap();
    for strict in [true, false] {
        let flags: &[&str] = if strict { &["--strict"] } else { &[] };
        let out = eval_tiny(only_missing.to_str().unwrap(), flags);
        assert!(!out.status.success());
        let err = stderr(&out);
        let want = if strict {
            "missing.wav"
        } else {
            "no utterance"
        };
        assert!(err.contains(want), "strict {strict}: {err}");
    }
}

/// `eval --data cv:DIR` on a Common Voice release (header row, `locale`, mp3 clips made by
/// lame): the test split is read, a clip that is not there and one that is not an mp3 are
/// skipped and named (refused with --strict), and the score is the hand computation's.
#[test]
fn eval_reads_a_common_voice_release() {
    let dir = scratch("eval-common-voice");
    let release = dir.join("en");
    std::fs::create_dir_all(release.join("clips")).unwrap();
    let sentence = "The quick brown fox jumps over the lazy dog.";
    let wav = dir.join("one.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(sentence)
        .status()
        .expect("espeak-ng is installed (scripts/setup.sh)");
    assert!(status.success(), "espeak-ng");
    let lame = Command::new("lame")
        .args(["--quiet", "-b", "64"])
        .arg(&wav)
        .arg(release.join("clips/one.mp3"))
        .status()
        .expect("lame is installed (scripts/setup.sh test)");
    assert!(lame.success(), "lame");
    std::fs::write(release.join("clips/broken.mp3"), b"not an mp3 at all").unwrap();
    let header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\n";
    let row = |clip: &str, text: &str| format!("c\t{clip}\t{text}\t2\t0\t\t\t\ten\n");
    std::fs::write(
        release.join("test.tsv"),
        format!(
            "{header}{}{}{}",
            row("missing.mp3", "Never read."),
            row("one.mp3", sentence),
            row("broken.mp3", "Never decoded.")
        ),
    )
    .unwrap();
    // Another split's TSV, which a test-split evaluation must not read.
    std::fs::write(
        release.join("train.tsv"),
        format!("{header}{}", row("absent.mp3", "Not this split.")),
    )
    .unwrap();
    let spec = format!("cv:{}", release.display());
    let out_dir = dir.join("out");
    // Untimestamped decoding, as the trainer's validation scores.
    let out = eval_tiny(
        &spec,
        &["--out", out_dir.to_str().unwrap(), "--without-timestamps"],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "eval failed: {err}");
    for clip in ["missing.mp3", "broken.mp3"] {
        assert!(err.contains(clip), "{clip} is named: {err}");
    }
    assert!(
        !err.contains("absent.mp3"),
        "only the test split is read: {err}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["utterances"], 1);
    assert_eq!(summary["skipped"], 2);
    assert_eq!(summary["timestamps"], false);
    let scored: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(out_dir.join("utterances.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(scored["language"], "en", "from the locale column");
    let reference = scored["reference_normalized"].as_str().unwrap();
    assert_eq!(reference, "the quick brown fox jumps over the lazy dog");
    let hypothesis = scored["hypothesis_normalized"].as_str().unwrap();
    let edits = word_edits(reference, hypothesis);
    let wer = summary["wer"].as_f64().unwrap();
    assert!(
        (wer - edits as f64 / 9.0).abs() < 1e-12,
        "WER {wer} vs {edits} edits of 9 words ({hypothesis:?})"
    );
    // The mp3 was decoded into speech, not noise: most words come through (espeak's voice
    // costs tiny.en a few, e.g. "the quick round fark jump over the lazy dog").
    assert!(edits <= 4, "tiny.en understands the mp3: {hypothesis:?}");

    let strict = eval_tiny(&spec, &["--strict"]);
    assert!(!strict.status.success());
    assert!(
        stderr(&strict).contains("missing.mp3"),
        "{}",
        stderr(&strict)
    );
}
