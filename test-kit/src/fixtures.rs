//! The test assets: converted models under the workspace's `models/` (or
//! `$WHISPER_CLSR_MODELS`), the shared clip `jfk.wav` with its transcript
//! (`$WHISPER_CLSR_FIXTURES`, or `shared/fixtures` beside the repository), WAV writing and
//! transcript normalisation.

use std::path::{Path, PathBuf};

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-kit sits in the workspace")
        .to_path_buf()
}

/// A directory of this test process, `$TMPDIR/{name}-{pid}`, created (with its parents)
/// if missing; tests remove it when they pass.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// The fixtures directory; panics with where it was looked for when it is missing.
pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("WHISPER_CLSR_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/fixtures"));
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

/// Where jfk.wav's last phrase, "ask what you can do for your country", starts (s).
pub const JFK_PHRASE_START: f64 = 7.9;

/// jfk.wav's last phrase, "ask what you can do for your country" (from
/// [`JFK_PHRASE_START`] to its end, 3.1 s), as 16 kHz samples, and its words (the last
/// eight of jfk.txt, as [`words`] gives them). Tests whose subject is not accuracy transcribe
/// it instead of the whole clip: the same encoder pass, about a third of the decoder steps
/// (as `jfkPhrase()` in tests/e2e/wav-edit.mjs).
pub fn jfk_phrase() -> (Vec<f32>, String) {
    let (wav, text) = jfk();
    let samples = whisper_clsr::audio::load_audio_file(&wav)
        .unwrap_or_else(|e| panic!("{}: {e}", wav.display()));
    let start = (JFK_PHRASE_START * 16_000.0).round() as usize;
    assert!(
        samples.len() > start,
        "jfk.wav is shorter than {JFK_PHRASE_START} s"
    );
    let all = words(&text);
    let last: Vec<&str> = all.split_whitespace().collect();
    let phrase = last[last.len().saturating_sub(8)..].join(" ");
    (samples[start..].to_vec(), phrase)
}

/// The models folder: `$WHISPER_CLSR_MODELS`, else `models/` in the workspace.
pub fn models_root() -> PathBuf {
    std::env::var_os("WHISPER_CLSR_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("models"))
}

/// A converted test model under the models folder.
pub fn model_dir(name: &str) -> PathBuf {
    let dir = model_dir_any(name);
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: run scripts/fetch-models.sh first",
        dir.display()
    );
    dir
}

/// A directory under the models folder, whatever layout it holds (e.g. the CTranslate2
/// original `whisper-tiny.en-ct2`).
pub fn model_dir_any(name: &str) -> PathBuf {
    let dir = models_root().join(name);
    assert!(
        dir.is_dir(),
        "{} is missing: run scripts/fetch-models.sh first",
        dir.display()
    );
    dir
}

/// Writes a 16-bit PCM WAV.
pub fn write_wav(path: &Path, samples: &[f32], rate: u32, channels: u16) {
    let data: Vec<u8> = samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}

/// Lowercase words without punctuation, for transcripts that differ only in commas.
pub fn words(text: &str) -> String {
    let kept: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}
