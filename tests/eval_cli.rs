//! `whisper-clsr normalize` and `whisper-clsr wer` end to end: outputs worked out by hand,
//! and clear errors with a non-zero exit for bad input. No GPU involved.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn cli(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_whisper-clsr"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run whisper-clsr");
    let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    // A command that fails on its arguments exits without reading its input.
    if let Err(e) = written {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {e}"
        );
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `text` to a file in a directory of this test process.
fn file(test: &str, name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-eval-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn wer(reference: &Path, hypothesis: &Path, options: &[&str]) -> Output {
    let paths = [reference.to_str().unwrap(), hypothesis.to_str().unwrap()];
    cli(&[&["wer"], &paths[..], options].concat(), "")
}

#[test]
fn normalize_english_reads_stdin_line_by_line() {
    // Two of openai/whisper's own test_normalizer.py cases.
    let out = cli(
        &["normalize", "--normalizer", "english"],
        "Mr. Park visited Assoc. Prof. Kim Jr.\ntwo dollars and seventy cents\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "mister park visited associate professor kim junior\n$2.70\n"
    );
}

#[test]
fn normalize_basic_and_its_options() {
    let out = cli(
        &["normalize", "--normalizer", "basic"],
        "[Music] Ça va, (laughs) très bien!\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Brackets go, punctuation becomes spaces, the accents stay; upstream does not trim.
    assert_eq!(stdout(&out), " ça va très bien \n");

    let out = cli(
        &["normalize", "--normalizer", "basic", "--remove-diacritics"],
        "Très bien\n",
    );
    assert_eq!(stdout(&out), "tres bien\n");

    let out = cli(&["normalize", "--split-letters"], "abc\n");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--normalizer basic only"),
        "{}",
        stderr(&out)
    );
}

/// Reference and hypothesis of the hand-checked examples.
const REFERENCE: &str = "The cat sat on the mat.\nTwo dollars and seventy cents\n";
const HYPOTHESIS: &str = "the cat sat on a mat\n$2.70\n";

#[test]
fn wer_json_english_normalizer() {
    let reference = file("json", "ref.txt", REFERENCE);
    let hypothesis = file("json", "hyp.txt", HYPOTHESIS);
    let out = wer(&reference, &hypothesis, &["--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON line");
    // Normalised: "the cat sat on the mat" / "the cat sat on a mat" (one substitution) and
    // "$2.70" / "$2.70". 1 error in 7 reference words.
    assert_eq!(v["hits"], 6);
    assert_eq!(v["substitutions"], 1);
    assert_eq!(v["deletions"], 0);
    assert_eq!(v["insertions"], 0);
    assert!(
        (v["wer"].as_f64().unwrap() - 1.0 / 7.0).abs() < 1e-12,
        "{v}"
    );
    // Characters: "the" → "a" is 3 edits; 22 + 5 reference characters.
    assert!(
        (v["cer"].as_f64().unwrap() - 3.0 / 27.0).abs() < 1e-12,
        "{v}"
    );
    assert_eq!(v["unit"], "words");
    assert_eq!(v["lines"], 2);
}

#[test]
fn wer_text_without_normalization() {
    let reference = file("text", "ref.txt", REFERENCE);
    let hypothesis = file("text", "hyp.txt", HYPOTHESIS);
    let out = wer(&reference, &hypothesis, &["--normalizer", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Case and punctuation count: line 1 has 3 substitutions (The, the → a, mat.), line 2
    // one substitution and 4 deletions: 8 errors in 11 words.
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "WER 72.73%  11 reference words: 3 hits, 4 substitutions, 4 deletions, 0 insertions"
        ),
        "{text}"
    );
    assert!(text.contains("\nCER "), "{text}");
}

#[test]
fn wer_counts_characters_for_languages_without_spaces() {
    let reference = file("chars", "ref.txt", "我们今天去公园\n");
    let hypothesis = file("chars", "hyp.txt", "我们明天去公园\n");
    let out = wer(
        &reference,
        &hypothesis,
        &["--language", "zh", "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    // 今 → 明: one substituted character out of seven.
    assert_eq!(v["unit"], "characters");
    assert_eq!(v["substitutions"], 1);
    assert!(
        (v["wer"].as_f64().unwrap() - 1.0 / 7.0).abs() < 1e-12,
        "{v}"
    );
}

#[test]
fn wer_missing_file_is_a_clear_error() {
    let reference = file("missing", "ref.txt", REFERENCE);
    let missing = reference.with_file_name("no-such-file.txt");
    let out = wer(&reference, &missing, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("no-such-file.txt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn wer_mismatched_line_counts_name_both() {
    let reference = file("lines", "ref.txt", REFERENCE);
    let hypothesis = file("lines", "hyp.txt", "the cat sat on a mat\n");
    let out = wer(&reference, &hypothesis, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("ref.txt has 2 lines") && err.contains("hyp.txt has 1"),
        "{err}"
    );
}

#[test]
fn wer_unknown_language_is_a_clear_error() {
    let reference = file("language", "ref.txt", REFERENCE);
    let out = wer(&reference, &reference, &["--language", "klingon"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown language \"klingon\""),
        "{}",
        stderr(&out)
    );
}
