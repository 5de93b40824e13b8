//! Evaluation and training data as a JSONL manifest: one `{"audio": path, "text": str,
//! "language": code}` object per line. Relative audio paths are relative to the manifest;
//! `language` may be left out where the caller gives one (or detects it).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// One manifest line.
/// Other fields (durations, speaker ids) are ignored.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ManifestEntry {
    pub audio: PathBuf,
    /// The reference transcript.
    pub text: String,
    #[serde(default)]
    pub language: Option<String>,
}

/// Reads a manifest; blank lines are skipped, errors name the file and line.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestEntry>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut entry: ManifestEntry = serde_json::from_str(line).map_err(|err| {
            Error::InvalidInput(format!(
                "{}:{}: not a manifest entry {{\"audio\", \"text\", \"language\"}}: {err}",
                path.display(),
                i + 1
            ))
        })?;
        if entry.audio.is_relative() {
            entry.audio = base.join(&entry.audio);
        }
        out.push(entry);
    }
    if out.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{} lists no utterances",
            path.display()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("whisper-clsr-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn entries_resolve_relative_paths_and_skip_blank_lines() {
        let path = manifest(
            "ok.jsonl",
            "{\"audio\": \"a.wav\", \"text\": \"hello\", \"language\": \"en\"}\n\n\
             {\"audio\": \"/abs/b.wav\", \"text\": \"world\"}\n",
        );
        let entries = read_manifest(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].audio, path.parent().unwrap().join("a.wav"));
        assert_eq!(entries[0].language.as_deref(), Some("en"));
        assert_eq!(entries[1].audio, PathBuf::from("/abs/b.wav"));
        assert_eq!(entries[1].language, None);
    }

    #[test]
    fn bad_lines_and_empty_manifests_are_named() {
        let path = manifest(
            "bad.jsonl",
            "{\"audio\": \"a.wav\", \"text\": \"x\"}\n{\"text\": 1}\n",
        );
        let err = read_manifest(&path).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl:2"), "{err}");
        let empty = manifest("empty.jsonl", "\n\n");
        let err = read_manifest(&empty).unwrap_err().to_string();
        assert!(err.contains("no utterances"), "{err}");
    }
}
