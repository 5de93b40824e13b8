//! The shared test assets: `$WHISPER_CLSR_FIXTURES`, or `../shared/fixtures` beside the
//! repository, holding jfk.wav and its transcript jfk.txt.

use std::path::PathBuf;

/// The fixtures directory; panics with where it was looked for when it is missing.
pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("WHISPER_CLSR_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    assert!(
        dir.join("jfk.wav").is_file(),
        "test fixtures not found: {} has no jfk.wav (set WHISPER_CLSR_FIXTURES to the folder \
         holding jfk.wav and jfk.txt)",
        dir.display()
    );
    dir
}

/// The shared test clip and its reference transcript.
pub fn jfk() -> (PathBuf, String) {
    let dir = fixtures_dir();
    let text = std::fs::read_to_string(dir.join("jfk.txt"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("jfk.txt").display()));
    (dir.join("jfk.wav"), text.trim().to_string())
}
