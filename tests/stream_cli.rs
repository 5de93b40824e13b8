//! `whisper-clsr stream` end to end on lavapipe: jfk.wav plus 2 s of silence with
//! whisper-tiny.en on the simulated clock. Commits only grow, every commit comes after its
//! audio, and the committed words are the offline transcript's of the same audio; an
//! expert pack routes the live decodings; bad input is refused clearly.

use whisper_clsr_test_kit as kit;

use std::process::Command;

use serde_json::Value;

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_whisper-clsr"));
    c.env(
        "WGPU_BACKEND",
        std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "vulkan".into()),
    );
    c
}

fn vad_weights() -> std::path::PathBuf {
    let path = kit::model_dir_any("silero-vad").join("silero_vad.onnx");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-models.sh first",
        path.display()
    );
    path
}

/// Runs `command`, which must succeed (`what` names it in the failure): its stdout and stderr.
fn run_ok(command: &mut Command, what: &str) -> (String, String) {
    let out = command.output().expect("run whisper-clsr");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// The events a `stream --format json` run printed, one JSON object per line.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// The text of `commits`, one after the other.
fn text_of(commits: &[&Value]) -> String {
    commits
        .iter()
        .map(|c| format!("{} ", c["text"].as_str().unwrap()))
        .collect()
}

/// The CLI's offline transcript of `samples` (written to a WAV file), as words.
fn offline_words(model: &std::path::Path, samples: &[f32], name: &str) -> String {
    let wav = std::env::temp_dir().join(format!("stream-cli-{}-{name}.wav", std::process::id()));
    kit::fixtures::write_wav(&wav, samples, 16_000, 1);
    let (text, _) = run_ok(
        cli()
            .args(["transcribe", "--model", model.to_str().unwrap()])
            .args(["--format", "text"])
            .arg(&wav),
        "transcribe",
    );
    std::fs::remove_file(&wav).ok();
    kit::words(&text)
}

// Four tiny.en decodings and two offline transcriptions: about a minute on lavapipe since
// the decoder's steps take the general path there (3–4 minutes before). The reference is
// the offline CLI on the same audio. jfk.wav's first utterance (up to the pause after
// "Americans") is all the stream has heard when it is committed, and tiny.en hears that
// stretch alone as "and so am i fellow americans" where the whole file gives "and so my
// fellow americans"; so that utterance is compared with the offline transcript of its own
// audio, and everything after it, heard with the committed text as prompt, with the
// whole file's.
#[test]
fn streaming_jfk_commits_the_offline_words() {
    let model = kit::model_dir("whisper-tiny.en");
    let (wav, _) = kit::fixtures::jfk();
    let mut samples = whisper_clsr::audio::load_audio_file(&wav).unwrap();
    let whole = offline_words(&model, &samples, "whole");
    samples.extend(vec![0.0f32; 2 * 16_000]);
    let pcm: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let raw = std::env::temp_dir().join(format!("stream-cli-{}.f32", std::process::id()));
    std::fs::write(&raw, &pcm).unwrap();

    // Raw PCM on stdin; a 3 s update interval keeps it to a few decodings on lavapipe.
    let (stdout, stderr) = run_ok(
        cli()
            .args(["stream", "--model", model.to_str().unwrap()])
            .args(["--vad", vad_weights().to_str().unwrap()])
            .args(["--input", "-", "--clock", "simulated", "--format", "json"])
            .args(["--update-interval", "3"])
            .stdin(std::fs::File::open(&raw).unwrap()),
        "stream",
    );
    std::fs::remove_file(&raw).ok();
    let events = events(&stdout);
    let commits: Vec<_> = events.iter().filter(|e| e["type"] == "commit").collect();
    assert!(commits.len() >= 2, "commits while speaking: {events:#?}");
    let mut last_end = 0.0;
    for c in &commits {
        let (start, end) = (c["start"].as_f64().unwrap(), c["end"].as_f64().unwrap());
        let emitted_at = c["emitted_at"].as_f64().unwrap();
        assert!(emitted_at >= end, "commit before its audio: {c}");
        assert!(
            start >= last_end - 1e-6,
            "commit overlaps the previous: {c}"
        );
        last_end = end;
    }
    let first_commit = commits[0]["emitted_at"].as_f64().unwrap();
    assert!(first_commit < 11.0, "nothing committed while speaking");

    // The first commit is the first utterance, flushed at its end: the audio it heard is
    // up to where the stream stood then.
    let heard = (first_commit * 16_000.0) as usize;
    let first_alone = offline_words(&model, &samples[..heard], "first");
    assert_eq!(kit::words(&text_of(&commits[..1])), first_alone, "{stderr}");
    let whole_words: Vec<&str> = whole.split(' ').collect();
    let rest = kit::words(&text_of(&commits[1..]));
    let rest_words: Vec<&str> = rest.split(' ').collect();
    assert!(
        rest_words.len() >= whole_words.len() / 2,
        "{rest} / {whole}"
    );
    assert_eq!(
        rest_words,
        whole_words[whole_words.len() - rest_words.len()..],
        "after the first utterance the stream commits the whole file's words\n{stderr}"
    );
}

/// `--expert`: the paper's initial pack (every gate open, each expert a copy of the base
/// model's feed-forward layer, so the text is the base model's) routes every live decoding
/// as `transcribe --expert` routes its windows; each event names the language and the
/// expert. jfk.wav's last phrase and 1.5 s of silence: a few tiny.en decodings.
#[test]
fn an_expert_pack_routes_the_live_decodings() {
    let model = kit::model_dir("whisper-tiny.en");
    let dir = kit::fixtures::scratch_dir("stream-cli-expert");
    let pack = dir.join("en.safetensors");
    run_ok(
        cli()
            .args(["pack", "init", "--model", model.to_str().unwrap()])
            .args(["--language", "english", "--out", pack.to_str().unwrap()]),
        "pack init",
    );
    let (mut samples, phrase) = kit::fixtures::jfk_phrase();
    samples.extend(vec![0.0f32; 24_000]);
    let wav = dir.join("phrase.wav");
    kit::fixtures::write_wav(&wav, &samples, 16_000, 1);

    let (stdout, stderr) = run_ok(
        cli()
            .args(["stream", "--model", model.to_str().unwrap()])
            .args(["--vad", vad_weights().to_str().unwrap()])
            .args(["--expert", pack.to_str().unwrap()])
            .args(["--input", wav.to_str().unwrap()])
            .args(["--clock", "simulated", "--format", "json"]),
        "stream",
    );
    assert!(
        stderr.contains("expert pack") && stderr.contains("language en"),
        "{stderr}"
    );
    let events = events(&stdout);
    assert!(!events.is_empty(), "{stderr}");
    for event in &events {
        assert_eq!(event["language"], "en", "{event}");
        assert_eq!(event["expert"], "en", "{event}");
    }
    let commits: Vec<_> = events.iter().filter(|e| e["type"] == "commit").collect();
    assert_eq!(kit::words(&text_of(&commits)), phrase, "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_a_clear_error() {
    let model = kit::model_dir("whisper-tiny.en");
    let run = |args: &[&str]| {
        let out = cli()
            .args(["stream", "--model", model.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let vad = vad_weights();
    let vad = vad.to_str().unwrap();
    let err = run(&["--vad", vad, "--input", "/nonexistent/a.wav"]);
    assert!(err.contains("no such file"), "{err}");
    let err = run(&["--vad", "/nonexistent/silero_vad.onnx", "--input", "-"]);
    assert!(err.contains("scripts/fetch-models.sh"), "{err}");
    let err = run(&["--vad", vad, "--update-interval", "0"]);
    assert!(err.contains("update interval"), "{err}");
    let err = run(&["--vad", vad, "--beam-size", "0"]);
    assert!(err.contains("--beam-size"), "{err}");
    let err = run(&["--vad", vad, "--stats-every", "0"]);
    assert!(err.contains("--stats-every 0"), "{err}");
    let err = run(&["--vad", vad, "--expert", "/nonexistent/en.safetensors"]);
    assert!(
        err.contains("--expert /nonexistent/en.safetensors: no such file"),
        "{err}"
    );

    // Stdin that ends inside a sample is not raw f32 PCM.
    let mut child = cli()
        .args(["stream", "--model", model.to_str().unwrap(), "--vad", vad])
        .args(["--input", "-", "--clock", "simulated"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"abcdef").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("2 stray bytes"), "{err}");
}

/// A live producer writing into the pipe is never held up: stdin is drained on its own
/// thread while the model loads and updates run, instead of one pipe's worth (about 1 s)
/// per step of the real-time loop. Eight seconds of silence (no update runs) are written
/// at once; the write completes long before eight seconds, and all of it is transcribed.
#[test]
fn stdin_is_drained_while_the_stream_is_busy() {
    use std::io::Write;
    let model = kit::model_dir("whisper-tiny.en");
    let seconds = 8;
    let mut child = cli()
        .args(["stream", "--model", model.to_str().unwrap()])
        .args(["--vad", vad_weights().to_str().unwrap(), "--input", "-"])
        .args(["--clock", "realtime"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pcm: Vec<u8> = vec![0.0f32; 16_000 * seconds]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let started = std::time::Instant::now();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&pcm).unwrap();
    drop(stdin);
    let wrote = started.elapsed().as_secs_f64();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{seconds}.0 s of audio")),
        "all the audio fed: {stderr}"
    );
    // Read one pipe's worth per real-time step, the write took the model's load plus
    // seven seconds.
    assert!(
        wrote < 3.0,
        "writing {seconds} s of PCM took {wrote:.1} s: stdin is not drained\n{stderr}"
    );
}
